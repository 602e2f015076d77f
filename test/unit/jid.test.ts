import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Jid, mustParseJid, normalizeDomain, normalizeLocal, normalizeResource, parseJid } from '../../src/jid.js';

function parts(s: string): [string, string, string] | null {
  const j = parseJid(s);
  return j ? [j.local, j.domain, j.resource] : null;
}

describe('parseJid: RFC 7622 §3.5 valid examples', () => {
  const valid: [string, [string, string, string]][] = [
    ['juliet@example.com', ['juliet', 'example.com', '']],
    ['juliet@example.com/foo', ['juliet', 'example.com', 'foo']],
    ['juliet@example.com/foo bar', ['juliet', 'example.com', 'foo bar']],
    ['juliet@example.com/foo@bar', ['juliet', 'example.com', 'foo@bar']],
    ['foo\\20bar@example.com', ['foo\\20bar', 'example.com', '']],
    ['fussball@example.com', ['fussball', 'example.com', '']],
    ['fu\u00dfball@example.com', ['fu\u00dfball', 'example.com', '']],
    ['\u03c0@example.com', ['\u03c0', 'example.com', '']],
    ['\u03a3@example.com/foo', ['\u03c3', 'example.com', 'foo']],
    ['\u03c3@example.com/foo', ['\u03c3', 'example.com', 'foo']],
    ['king@example.com/\u265a', ['king', 'example.com', '\u265a']],
    ['example.com', ['', 'example.com', '']],
    ['example.com/foobar', ['', 'example.com', 'foobar']],
    ['a.example.com/b@example.net', ['', 'a.example.com', 'b@example.net']],
  ];
  for (const [input, expected] of valid) {
    test(JSON.stringify(input), () => {
      assert.deepEqual(parts(input), expected);
    });
  }

  test('toString() of each valid example parses back to an equal JID', () => {
    for (const [input] of valid) {
      const j = mustParseJid(input);
      const again = parseJid(j.toString());
      assert.ok(again, input);
      assert.ok(again.equals(j), input);
    }
  });
});

describe('parseJid: invalid JIDs', () => {
  const invalid: [string, string][] = [
    ['@example.com', 'empty localpart'],
    ['@example.com/', 'empty localpart and resourcepart (RFC 7622 example)'],
    ['juliet@', 'empty domainpart (RFC 7622 example)'],
    ['juliet@example.com/', 'empty resourcepart'],
    ['example.com/', 'empty resourcepart on a domain JID'],
    ['/foobar', 'no domainpart (RFC 7622 example)'],
    ['ju"liet@example.com', 'quotation mark in localpart'],
    ['"juliet"@example.com', 'quotation marks in localpart (RFC 7622 example)'],
    ['foo bar@example.com', 'space in localpart (RFC 7622 example)'],
    ["ju'liet@example.com", 'apostrophe in localpart'],
    ['ju<liet@example.com', '< in localpart'],
    ['ju:liet@example.com', ': in localpart'],
    ['juliet@exa mple.com', 'space in domainpart'],
    ['juliet@exa_mple.com!', 'illegal ASCII in domainpart'],
    ['juliet@example..com', 'empty label in domainpart'],
    ['juliet@example.com/a\u0007b', 'control character in resourcepart'],
    ['', 'empty string'],
    ['.', 'only a dot'],
  ];
  for (const [input, why] of invalid) {
    test(`${JSON.stringify(input)} (${why})`, () => {
      assert.equal(parseJid(input), null);
      assert.throws(() => mustParseJid(input), /invalid JID/);
    });
  }

  test('a localpart longer than 1023 bytes is refused; 1023 bytes is accepted', () => {
    assert.ok(parseJid('a'.repeat(1023) + '@example.com'));
    assert.equal(parseJid('a'.repeat(1024) + '@example.com'), null);
    // counted in UTF-8 bytes, not characters: 512 × 'é' is 1024 bytes
    assert.equal(parseJid('\u00e9'.repeat(512) + '@example.com'), null);
    assert.ok(parseJid('\u00e9'.repeat(511) + '@example.com'));
  });

  test('a resourcepart longer than 1023 bytes is refused', () => {
    assert.ok(parseJid('juliet@example.com/' + 'r'.repeat(1023)));
    assert.equal(parseJid('juliet@example.com/' + 'r'.repeat(1024)), null);
  });

  test('a domain label longer than 63 characters is refused', () => {
    assert.ok(parseJid('juliet@' + 'a'.repeat(63) + '.com'));
    assert.equal(parseJid('juliet@' + 'a'.repeat(64) + '.com'), null);
  });

  for (const [input, why] of [
    ['henry\u2163@example.com', 'ROMAN NUMERAL FOUR is a compatibility character PRECIS disallows'],
    ['\u265a@example.com', 'BLACK CHESS KING is a symbol the IdentifierClass disallows'],
  ] as const) {
    test(
      `${JSON.stringify(input)} is refused (RFC 7622 §3.5: ${why})`,
      () => {
        assert.equal(parseJid(input), null);
      },
    );
  }
});

describe('parseJid: normalisation', () => {
  test('local and domain parts are case-folded, the resource is not', () => {
    const j = mustParseJid('JuLiEt@Example.COM/Balcony');
    assert.equal(j.local, 'juliet');
    assert.equal(j.domain, 'example.com');
    assert.equal(j.resource, 'Balcony');
    assert.equal(j.toString(), 'juliet@example.com/Balcony');
    assert.ok(j.equals(mustParseJid('juliet@example.com/Balcony')));
    assert.ok(!j.equals(mustParseJid('juliet@example.com/balcony')));
  });

  test('a trailing dot in the domain is removed', () => {
    assert.deepEqual(parts('juliet@example.com./r'), ['juliet', 'example.com', 'r']);
    assert.deepEqual(parts('example.com.'), ['', 'example.com', '']);
    assert.ok(mustParseJid('juliet@example.com.').equals(mustParseJid('juliet@example.com')));
  });

  test('width and compatibility forms in the localpart are folded (NFKC)', () => {
    // FULLWIDTH LATIN SMALL LETTER J..  → ASCII
    assert.equal(mustParseJid('\uff4a\uff55\uff4c\uff49\uff45\uff54@example.com').local, 'juliet');
  });

  test('the resource is NFC-normalised: composed and decomposed forms are equal', () => {
    const composed = mustParseJid('juliet@example.com/caf\u00e9');
    const decomposed = mustParseJid('juliet@example.com/cafe\u0301');
    assert.ok(composed.equals(decomposed));
    assert.equal(decomposed.resource, 'caf\u00e9');
  });

  test('internationalised domains are kept in Unicode and lower-cased', () => {
    const j = mustParseJid('juliet@M\u00dcNCHEN.example');
    assert.equal(j.domain, 'm\u00fcnchen.example');
  });

  test('IPv6 literals are accepted as domains', () => {
    assert.equal(mustParseJid('juliet@[::1]/r').domain, '[::1]');
  });

  test('the normalisers on their own', () => {
    assert.equal(normalizeLocal('ROMEO'), 'romeo');
    assert.equal(normalizeLocal(''), null);
    assert.equal(normalizeLocal('a@b'), null);
    assert.equal(normalizeLocal('a/b'), null);
    assert.equal(normalizeDomain('EXAMPLE.com.'), 'example.com');
    assert.equal(normalizeDomain(''), null);
    assert.equal(normalizeDomain('.'), null);
    assert.equal(normalizeDomain('a/b'), null);
    assert.equal(normalizeResource('Res'), 'Res');
    assert.equal(normalizeResource(''), null);
    assert.equal(normalizeResource('a\nb'), null);
  });
});

describe('Jid', () => {
  test('bare() drops the resource and is cached; a bare JID is its own bare', () => {
    const full = mustParseJid('juliet@example.com/balcony');
    const bare = full.bare();
    assert.equal(bare.toString(), 'juliet@example.com');
    assert.equal(bare.resource, '');
    assert.equal(bare.isBare, true);
    assert.equal(full.isBare, false);
    assert.equal(full.bare(), bare);
    assert.equal(bare.bare(), bare);
    assert.equal(full.bareString, 'juliet@example.com');
  });

  test('toString() for each shape', () => {
    assert.equal(new Jid('juliet', 'example.com', '').toString(), 'juliet@example.com');
    assert.equal(new Jid('juliet', 'example.com', 'r').toString(), 'juliet@example.com/r');
    assert.equal(new Jid('', 'example.com', '').toString(), 'example.com');
    assert.equal(new Jid('', 'example.com', 'r/s').toString(), 'example.com/r/s');
    assert.equal(`${mustParseJid('a.example.com/b@example.net')}`, 'a.example.com/b@example.net');
  });

  test('isDomain', () => {
    assert.equal(mustParseJid('example.com').isDomain, true);
    assert.equal(mustParseJid('example.com/r').isDomain, false);
    assert.equal(mustParseJid('a@example.com').isDomain, false);
  });

  test('equals() compares all three parts', () => {
    const a = mustParseJid('juliet@example.com/r');
    assert.ok(a.equals(mustParseJid('JULIET@EXAMPLE.COM/r')));
    assert.ok(!a.equals(mustParseJid('juliet@example.com/R')));
    assert.ok(!a.equals(mustParseJid('juliet@example.com')));
    assert.ok(!a.equals(mustParseJid('romeo@example.com/r')));
    assert.ok(!a.equals(mustParseJid('juliet@example.net/r')));
    assert.ok(!a.equals(null));
    assert.ok(!a.equals(undefined));
    assert.ok(!mustParseJid('example.com').equals(mustParseJid('example.com/r')));
  });

  test('withResource() replaces the resource', () => {
    const j = mustParseJid('juliet@example.com/a').withResource('b');
    assert.equal(j.toString(), 'juliet@example.com/b');
    assert.equal(j.bare().toString(), 'juliet@example.com');
  });

  test('the resource may contain slashes: only the first one separates it', () => {
    assert.deepEqual(parts('juliet@example.com/a/b'), ['juliet', 'example.com', 'a/b']);
  });
});
