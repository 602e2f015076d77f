import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { readSimpleStanzas } from '../../src/xml/simple-stanza.js';
import { StreamParser, type StreamParserLimits } from '../../src/xml/stream-parser.js';
import { Element, type XmlNode } from '../../src/xml/element.js';
import { rng } from '../helpers/rng.js';

const CLIENT = 'jabber:client';
const COMPONENT = 'jabber:component:accept';
const LIMIT = 100_000;

/** The tree as plain data, so deepEqual also compares each node's namespace and kind. */
function shape(n: XmlNode): unknown {
  return typeof n === 'string' ? n : { name: n.name, ns: n.ns, attrs: { ...n.attrs }, children: n.children.map(shape) };
}

const one = (s: string, ns = CLIENT): Element | undefined => {
  const r = readSimpleStanzas(s, ns, LIMIT, 32);
  return r.used === s.length && r.stanzas.length === 1 ? r.stanzas[0] : undefined;
};

describe('readSimpleStanzas', () => {
  test("an app server's iq result on a component stream becomes a jabber:client stanza", () => {
    const el = one("<iq type='result' id='p1' to='localhost' from=\"push.localhost\"/>", COMPONENT);
    assert.deepEqual(shape(el as Element), { name: 'iq', ns: CLIENT, attrs: { type: 'result', id: 'p1', to: 'localhost', from: 'push.localhost' }, children: [] });
  });

  test('children keep the namespace in scope, text is decoded, xml:lang is an attribute and xmlns is not', () => {
    const el = one(
      "<message xml:lang='en' to='a@b'><body>5 &lt; 6 &amp;&amp; \u{1F600} caf\u00e9</body>\n<x xmlns='jabber:x:data' type='form'><field var='a'/></x></message>",
      COMPONENT,
    );
    assert.deepEqual(shape(el as Element), {
      name: 'message',
      ns: CLIENT,
      attrs: { 'xml:lang': 'en', to: 'a@b' },
      children: [
        { name: 'body', ns: COMPONENT, attrs: {}, children: ['5 < 6 && \u{1F600} caf\u00e9'] },
        '\n',
        { name: 'x', ns: 'jabber:x:data', attrs: { type: 'form' }, children: [{ name: 'field', ns: 'jabber:x:data', attrs: { var: 'a' }, children: [] }] },
      ],
    });
  });

  test('reads several stanzas and the whitespace between them, and stops at the first it leaves to saxes', () => {
    const s = "<r xmlns='urn:xmpp:sm:3'/>\n <a xmlns='urn:xmpp:sm:3' h='3'/>  <message><body>&#65;</body></message><presence/>";
    const r = readSimpleStanzas(s, CLIENT, LIMIT, 32);
    assert.deepEqual(r.stanzas.map((e) => e.name), ['r', 'a']);
    assert.equal(s.slice(r.used).startsWith('<message>'), true);
  });

  const declined: [string, string][] = [
    ['a character reference', '<message><body>&#65;</body></message>'],
    ['an unknown entity', '<message><body>&nbsp;</body></message>'],
    ['CDATA', '<message><body><![CDATA[x]]></body></message>'],
    ['a comment', '<message><!-- x --></message>'],
    ['a processing instruction', '<message><?x y?></message>'],
    ['a prefixed element', "<p:message xmlns:p='jabber:client'/>"],
    ['a prefixed attribute', "<message xmlns:p='urn:x' p:a='1'/>"],
    ['xml:space', "<message xml:space='preserve'/>"],
    ['a carriage return in text', '<message><body>a\r\nb</body></message>'],
    ['a tab in an attribute value', "<message id='a\tb'/>"],
    ['an entity in an attribute value', "<message id='a&amp;b'/>"],
    ['a non-ASCII attribute value', "<message to='caf\u00e9@localhost'/>"],
    ['a control character', '<message><body>a\u0001b</body></message>'],
    ['an unpaired surrogate', '<message><body>a\ud800b</body></message>'],
    ['U+FFFE', '<message><body>a\ufffeb</body></message>'],
    [']]> in text', '<message><body>a]]>b</body></message>'],
    ['a duplicate attribute', "<message id='1' id='2'/>"],
    ['xmlns twice', "<message xmlns='a' xmlns='b'/>"],
    ['an empty default namespace', "<message><x xmlns=''/></message>"],
    ['a reserved namespace', "<message xmlns='http://www.w3.org/2000/xmlns/'/>"],
    ['attributes without space between them', "<message id='1'to='a'/>"],
    ['a mismatched end tag', '<message><body>x</bod></message>'],
    ['an end tag of the same length but another name', '<message><body>x</bodx></message>'],
    ['an unquoted value', '<message id=1/>'],
    ['an element cut off by the end of the chunk', "<message to='a'><body>hel"],
    ['a tag cut off by the end of the chunk', "<message to='a"],
    ['text at the top level', 'hello <presence/>'],
  ];
  for (const [what, s] of declined) {
    test(`leaves ${what} to saxes`, () => {
      const r = readSimpleStanzas(s, CLIENT, LIMIT, 32);
      assert.deepEqual([r.stanzas.length, r.used], [0, s.search(/\S/)]);
    });
  }

  test('leaves a stanza over the size or depth limit to saxes, which then reports it', () => {
    const s = "<message id='x'><a><b><c/></b></a></message>";
    assert.equal(readSimpleStanzas(s, CLIENT, s.length, 4).stanzas.length, 1);
    assert.equal(readSimpleStanzas(s, CLIENT, s.length - 1, 4).stanzas.length, 0);
    assert.equal(readSimpleStanzas(s, CLIENT, s.length, 3).stanzas.length, 0);
  });
});

// ---- StreamParser with the fast path against saxes alone, on random streams ----

// Each pool: what the fast path takes, then (after the bar) what it must leave to saxes, picked about one time in thirty.
const NAMES = [['message', 'iq', 'presence', 'body', 'x', 'a', 'r', 'query', 'item', 'b-c', 'x.y', '_u'], ['p:q', 'stream:error', 'caf\u00e9']] as const;
const ATTR_NAMES = [['id', 'to', 'from', 'type', 'h', 'xml:lang', 'xmlns'], ['xmlns', 'xmlns:p', 'p:a', 'xml:space', 'id']] as const;
const VALUES = [
  ['1', 'result', 'juliet@localhost/balcony', 'jabber:client', 'urn:xmpp:sm:3', 'a b', 'x>y', "it's", 'say "hi"'],
  ['', 'a&amp;b', 'a&#65;', 'caf\u00e9', '\u{1F600}', 'a\tb', 'a\nb', 'a\rb', 'http://www.w3.org/XML/1998/namespace', 'a<b'],
] as const;
const TEXTS = [
  ['hello', ' ', '\n  ', '&amp;', '&lt;&gt;&apos;&quot;', ']]&gt;', ']]', '\u{1F600}', 'caf\u00e9', '>'],
  ['&bogus;', '&#x41;', ']]>', '\ud800', '\u0001', '\r\n', '<![CDATA[x]]>', '<!-- c -->', '<?pi x?>', '\ufffe'],
] as const;

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

const pool = <T>(r: () => number, p: readonly [readonly T[], readonly T[]]): T => pick(r, r() < 0.97 ? p[0] : p[1]);

function randomElement(r: () => number, depth: number): string {
  const name = pool(r, NAMES);
  let s = `<${name}`;
  const attrs = Math.floor(r() * 4);
  for (let i = 0; i < attrs; i++) {
    const q = r() < 0.7 ? "'" : '"';
    let v: string = pool(r, VALUES);
    if (v.includes(q)) v = v.split(q).join(q === "'" ? '&apos;' : '&quot;');
    s += `${r() < 0.9 ? ' ' : '\n'}${pool(r, ATTR_NAMES)}${r() < 0.9 ? '=' : ' = '}${q}${v}${q}`;
  }
  if (depth > 4 || r() < 0.35) return `${s}${r() < 0.9 ? '/>' : ' />'}`;
  s += '>';
  const children = Math.floor(r() * 4);
  for (let i = 0; i < children; i++) s += r() < 0.5 ? pool(r, TEXTS) : randomElement(r, depth + 1);
  return `${s}</${name}${r() < 0.9 ? '' : ' '}>`;
}

const MUTATIONS = ['<', '>', '/', "'", '"', '&', ' ', ':', '=', 'a', 'y', '\r', '<!DOCTYPE x>'];

function mutate(r: () => number, s: string): string {
  const at = Math.floor(r() * (s.length + 1));
  const kind = r();
  if (kind < 0.25) return s.slice(0, at) + s.slice(at + 1);
  if (kind < 0.5) return s.slice(0, at) + pick(r, MUTATIONS) + s.slice(at);
  if (kind < 0.7) return s.slice(0, at) + pick(r, MUTATIONS) + s.slice(at + 1);
  const ends = [...s.matchAll(/<\/[a-z]/g)].map((m) => (m.index as number) + 2);
  if (kind < 0.85 && ends.length > 0) {
    // An end tag as long as its start tag but another name.
    const i = pick(r, ends);
    return s.slice(0, i) + (s[i] === 'y' ? 'z' : 'y') + s.slice(i + 1);
  }
  return s.slice(0, at);
}

/** Random cut points, never inside a surrogate pair (a string chunk is always whole characters). */
function chunks(r: () => number, s: string): string[] {
  const out: string[] = [];
  let from = 0;
  while (from < s.length) {
    let to = r() < 0.3 ? s.length : Math.min(s.length, from + 1 + Math.floor(r() * 200));
    const c = s.charCodeAt(to - 1);
    if (to < s.length && c >= 0xd800 && c <= 0xdbff) to++;
    out.push(s.slice(from, to));
    from = to;
  }
  return out;
}

function run(input: string[], limits: StreamParserLimits, fast: boolean): unknown[] {
  const events: unknown[] = [];
  const p = new StreamParser(
    {
      streamOpen: (h) => events.push(['open', h]),
      stanza: (el) => events.push(['stanza', shape(el)]),
      streamClose: () => events.push(['close']),
      // The condition, not saxes' text: its line and column count only what saxes saw.
      error: (condition) => events.push(['error', condition]),
    },
    limits,
    'stream',
    fast,
  );
  for (const c of input) if (!p.write(c)) break;
  return events;
}

describe('StreamParser with the fast path', () => {
  test('hands out exactly what saxes alone does, errors included, on 4,000 random streams', () => {
    let fastTaken = 0;
    let leftToSaxes = 0;
    let failed = 0;
    for (let seed = 1; seed <= 4000; seed++) {
      const r = rng(seed);
      const header =
        r() < 0.5
          ? "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
          : "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='push.localhost'>";
      const stanzas = Array.from({ length: 1 + Math.floor(r() * 6) }, () => randomElement(r, 1));
      for (const s of stanzas) {
        if (readSimpleStanzas(s, 'jabber:client', LIMIT, 32).stanzas.length === 1) fastTaken++;
        else leftToSaxes++;
      }
      let body = stanzas.map((s) => s + pick(r, ['', '', ' ', '\n'])).join('');
      if (r() < 0.4) for (let k = Math.floor(r() * 3); k >= 0; k--) body = mutate(r, body);
      if (r() < 0.3) body += '</stream:stream>';
      const limits = r() < 0.3 ? { maxStanzaChars: 20 + Math.floor(r() * 300), maxDepth: 1 + Math.floor(r() * 5) } : { maxStanzaChars: LIMIT, maxDepth: 32 };
      const input = chunks(r, header + body);
      const withFast = run(input, limits, true);
      const saxesOnly = run(input, limits, false);
      assert.deepEqual(withFast, saxesOnly, `seed ${seed}: ${JSON.stringify(input)}`);
      if (saxesOnly.some((e) => (e as unknown[])[0] === 'error')) failed++;
    }
    // Both paths, and errors, really were exercised.
    assert.ok(fastTaken > 2000 && leftToSaxes > 2000 && failed > 1000, `fast ${fastTaken}, saxes ${leftToSaxes}, failed ${failed}`);
  });
});
