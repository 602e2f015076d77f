import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { StreamParser, type StreamHeader, type StreamErrorCondition, type StreamParserLimits } from '../../src/xml/stream-parser.js';
import { Element, x } from '../../src/xml/element.js';
import { parseElement } from '../../src/xml/parse-element.js';
import { rng } from '../helpers/rng.js';

// ---- helpers ------------------------------------------------------------------

type Event =
  | { type: 'open'; header: StreamHeader }
  | { type: 'stanza'; el: Element }
  | { type: 'close' }
  | { type: 'error'; condition: StreamErrorCondition; text: string };

const BIG: StreamParserLimits = { maxStanzaChars: 1_000_000, maxDepth: 64 };

function harness(limits: StreamParserLimits = BIG, framing: 'stream' | 'websocket' = 'stream') {
  const events: Event[] = [];
  const parser = new StreamParser(
    {
      streamOpen: (header) => events.push({ type: 'open', header }),
      stanza: (el) => events.push({ type: 'stanza', el }),
      streamClose: () => events.push({ type: 'close' }),
      error: (condition, text) => events.push({ type: 'error', condition, text }),
    },
    limits,
    framing,
  );
  const stanzas = (): Element[] => events.flatMap((e) => (e.type === 'stanza' ? [e.el] : []));
  const errors = (): { condition: StreamErrorCondition; text: string }[] =>
    events.flatMap((e) => (e.type === 'error' ? [{ condition: e.condition, text: e.text }] : []));
  return { parser, events, stanzas, errors };
}

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const FOOTER = '</stream:stream>';

const BODY_TEXT = 'Caf\u00e9 costs 5\u20ac \u{1F600} & <more> "quoted" \'apos\'';

const STANZAS = [
  "<message to='juliet@localhost' type='chat' id='m1'>" +
    '<body>Caf\u00e9 costs 5\u20ac \u{1F600} &amp; &lt;more&gt; "quoted" \'apos\'</body>' +
    "<x xmlns='jabber:x:data' type='form'><field var='a'><value>1</value></field></x>" +
    '</message>',
  "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
  '<presence/>',
  "<message id='m2'><p:foo xmlns:p='urn:x'><bar/></p:foo><![CDATA[a<b&c]]></message>",
];

const STREAM = HEADER + '\n' + STANZAS.join('\n  \t\r\n') + '\n' + FOOTER;

/** Feeds `chunks` into a fresh parser and returns a comparable transcript. */
function transcript(chunks: (Buffer | string)[], limits: StreamParserLimits = BIG): unknown[] {
  const h = harness(limits);
  for (const c of chunks) h.parser.write(c);
  return h.events.map((e) => (e.type === 'stanza' ? { type: 'stanza', xml: e.el.toString('jabber:client'), el: e.el } : e));
}

function splitRandomly(buf: Buffer, seed: number, maxChunk: number): Buffer[] {
  const rand = rng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(rand() * maxChunk);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

// ---- full streams ---------------------------------------------------------------

describe('StreamParser: a classic stream', () => {
  test('header, stanzas and footer are reported in order', () => {
    const h = harness();
    assert.equal(h.parser.write(STREAM), true);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['open', 'stanza', 'stanza', 'stanza', 'stanza', 'close'],
    );
    const open = h.events[0];
    assert.ok(open?.type === 'open');
    assert.deepEqual(open.header, {
      name: 'stream',
      ns: 'http://etherx.jabber.org/streams',
      attrs: { to: 'localhost', version: '1.0' },
      contentNs: 'jabber:client',
    });
    assert.equal(h.errors().length, 0);
    assert.equal(h.parser.hasFailed, false);
  });

  test('stanza structure, attributes, text and entities', () => {
    const h = harness();
    h.parser.write(STREAM);
    const [msg, iq, presence, msg2] = h.stanzas();
    assert.ok(msg && iq && presence && msg2);

    assert.equal(msg.name, 'message');
    assert.equal(msg.ns, 'jabber:client');
    assert.deepEqual(msg.attrs, { to: 'juliet@localhost', type: 'chat', id: 'm1' });
    assert.equal(msg.getChildText('body'), BODY_TEXT);

    const body = msg.getChild('body');
    assert.ok(body);
    assert.equal(body.ns, 'jabber:client', 'unprefixed child inherits the stream default namespace');

    const form = msg.getChild('x', 'jabber:x:data');
    assert.ok(form, 'x with its own xmlns is found by that namespace');
    assert.equal(form.attr('type'), 'form');
    const field = form.getChild('field', 'jabber:x:data');
    assert.ok(field, 'descendants of x inherit jabber:x:data');
    assert.equal(field.getChildText('value', 'jabber:x:data'), '1');

    assert.equal(iq.ns, 'jabber:client');
    assert.equal(iq.getChild('ping')?.ns, 'urn:xmpp:ping');

    assert.equal(presence.name, 'presence');
    assert.equal(presence.children.length, 0);

    const foo = msg2.firstElement();
    assert.ok(foo);
    assert.equal(foo.name, 'foo', 'the prefix is not part of the local name');
    assert.equal(foo.ns, 'urn:x');
    const bar = foo.firstElement();
    assert.ok(bar);
    assert.equal(bar.name, 'bar');
    assert.equal(bar.ns, 'jabber:client', 'an unprefixed child of a prefixed element stays in the default namespace');
    assert.equal(msg2.text(), 'a<b&c', 'CDATA content is text');
  });

  test('top-level stanzas in jabber:server are reported as jabber:client', () => {
    const h = harness();
    h.parser.write(HEADER + "<message xmlns='jabber:server' id='s'/><presence xmlns='urn:other'/>");
    const [a, b] = h.stanzas();
    assert.equal(a?.ns, 'jabber:client');
    assert.equal(b?.ns, 'urn:other', 'a foreign top-level namespace is kept as is');
  });

  test('the stream header without an XML declaration is accepted', () => {
    const h = harness();
    h.parser.write(HEADER.replace("<?xml version='1.0'?>", '') + '<presence/>');
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['open', 'stanza'],
    );
  });

  test('writes after the stream closed are ignored', () => {
    const h = harness();
    h.parser.write(HEADER + FOOTER);
    assert.equal(h.parser.write('<presence/>'), true);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['open', 'close'],
    );
  });
});

// ---- chunking -------------------------------------------------------------------

describe('StreamParser: chunking', () => {
  const whole = transcript([STREAM]);
  const bytes = Buffer.from(STREAM, 'utf8');

  test('the reference transcript is complete', () => {
    assert.equal(whole.length, 6);
    assert.ok(!whole.some((e) => (e as { type: string }).type === 'error'));
  });

  test('one byte at a time gives the same result', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    assert.deepEqual(transcript(chunks), whole);
  });

  test('split in two at every byte offset gives the same result', () => {
    for (let k = 0; k <= bytes.length; k++) {
      assert.deepEqual(transcript([bytes.subarray(0, k), bytes.subarray(k)]), whole, `split at byte ${k}`);
    }
  });

  test('random chunk sizes give the same result', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const chunks = splitRandomly(bytes, seed, 1 + (seed % 17));
      assert.deepEqual(transcript(chunks), whole, `seed ${seed}`);
    }
  });

  test('string chunks (already decoded) give the same result', () => {
    const rand = rng(7);
    const chunks: string[] = [];
    let i = 0;
    while (i < STREAM.length) {
      const n = 1 + Math.floor(rand() * 9);
      chunks.push(STREAM.slice(i, i + n));
      i += n;
    }
    assert.deepEqual(transcript(chunks), whole);
  });

  for (const ch of ['\u00e9', '\u20ac', '\u{1F600}']) {
    test(`multi-byte character ${JSON.stringify(ch)} split across Buffers is decoded`, () => {
      const prefix = Buffer.from(HEADER + '<message><body>a', 'utf8');
      const enc = Buffer.from(ch, 'utf8');
      const suffix = Buffer.from('b</body></message>', 'utf8');
      assert.ok(enc.length >= 2);
      for (let cut = 1; cut < enc.length; cut++) {
        const h = harness();
        h.parser.write(Buffer.concat([prefix, enc.subarray(0, cut)]));
        h.parser.write(enc.subarray(cut));
        h.parser.write(suffix);
        assert.equal(h.errors().length, 0);
        assert.equal(h.stanzas()[0]?.getChildText('body'), 'a' + ch + 'b', `cut after byte ${cut}`);
      }
      // and each byte on its own
      const h = harness();
      h.parser.write(prefix);
      for (const b of enc) h.parser.write(Buffer.from([b]));
      h.parser.write(suffix);
      assert.equal(h.stanzas()[0]?.getChildText('body'), 'a' + ch + 'b');
    });
  }

  test('multi-byte characters in attribute values split across Buffers', () => {
    const bytes2 = Buffer.from(HEADER + "<message to='\u{1F600}\u20ac@localhost'/>", 'utf8');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes2.length; i++) chunks.push(bytes2.subarray(i, i + 1));
    const h = harness();
    for (const c of chunks) h.parser.write(c);
    assert.equal(h.stanzas()[0]?.attr('to'), '\u{1F600}\u20ac@localhost');
  });
});

// ---- limits ---------------------------------------------------------------------

describe('StreamParser: limits', () => {
  test('a stanza over maxStanzaChars in one chunk is a policy-violation', () => {
    const h = harness({ maxStanzaChars: 100, maxDepth: 10 });
    h.parser.write(HEADER);
    assert.equal(h.parser.write(`<message><body>${'a'.repeat(200)}</body></message><presence/>`), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(h.stanzas().length, 0);
    assert.equal(h.parser.hasFailed, true);
  });

  const feedByChar = (limit: number, stanza: string) => {
    const h = harness({ maxStanzaChars: limit, maxDepth: 10 });
    for (const ch of HEADER.replace("<?xml version='1.0'?>", '')) h.parser.write(ch);
    for (const ch of stanza) h.parser.write(ch);
    return h;
  };
  const LONG = `<message><body>${'a'.repeat(200)}</body></message>`;

  test('a stanza one character over the limit is refused when fed one character at a time', () => {
    assert.ok(LONG.length > HEADER.length, 'the header counts toward the limit too');
    const over = feedByChar(LONG.length - 1, LONG);
    assert.deepEqual(over.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(over.stanzas().length, 0);
  });

  test(
    'a stanza of exactly maxStanzaChars is accepted',
    () => {
      const ok = feedByChar(LONG.length, LONG);
      assert.equal(ok.errors().length, 0);
      assert.equal(ok.stanzas().length, 1);
    },
  );

  test('a stanza one character over the limit is refused when it arrives in one chunk', () => {
    const h = harness({ maxStanzaChars: LONG.length - 1, maxDepth: 10 });
    for (const ch of HEADER) h.parser.write(ch);
    assert.equal(h.parser.write(LONG), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(h.stanzas().length, 0);
  });

  test('the limit applies per stanza, not to the whole stream', () => {
    const h = harness({ maxStanzaChars: 200, maxDepth: 10 });
    for (const ch of HEADER) h.parser.write(ch);
    const stanza = `<message><body>${'a'.repeat(150)}</body></message>`;
    assert.ok(stanza.length <= 200);
    for (let i = 0; i < 30; i++) assert.equal(h.parser.write(stanza), true);
    assert.equal(h.errors().length, 0);
    assert.equal(h.stanzas().length, 30);
  });

  test(
    'a chunk holding several small stanzas, longer than maxStanzaChars in total, is accepted',
    () => {
      const h = harness({ maxStanzaChars: 200, maxDepth: 10 });
      for (const ch of HEADER) h.parser.write(ch);
      const stanza = `<message><body>${'a'.repeat(150)}</body></message>`;
      assert.ok(stanza.length <= 200);
      assert.equal(h.parser.write(stanza.repeat(10)), true);
      assert.equal(h.errors().length, 0);
      assert.equal(h.stanzas().length, 10);
    },
  );

  test(
    'a stream header and a stanza that are each under the limit are accepted in one chunk',
    () => {
      const h = harness({ maxStanzaChars: 150, maxDepth: 10 });
      assert.ok(HEADER.length < 150 && HEADER.length + "<presence id='a'/>".length > 150);
      h.parser.write(HEADER + "<presence id='a'/>");
      assert.equal(h.errors().length, 0);
      assert.equal(h.stanzas().length, 1);
    },
  );

  test('a stanza streamed in small chunks that never closes is cut off', () => {
    const h = harness({ maxStanzaChars: 1000, maxDepth: 10 });
    h.parser.write(HEADER + '<message><body>');
    let writes = 0;
    while (h.parser.write('aaaaaaaaaa')) {
      writes++;
      assert.ok(writes < 1000, 'the limit must trigger');
    }
    assert.ok(writes * 10 <= 1000 + 10, 'cut off close to the limit');
    assert.deepEqual(h.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(h.stanzas().length, 0);
    assert.equal(h.parser.write('</body></message>'), false);
    assert.equal(h.events.length, 2); // open + error
  });

  test('an attribute value that grows without end is cut off', () => {
    const h = harness({ maxStanzaChars: 500, maxDepth: 10 });
    h.parser.write(HEADER + "<message to='");
    let writes = 0;
    while (h.parser.write(Buffer.from('x'.repeat(7)))) {
      writes++;
      assert.ok(writes < 1000, 'the limit must trigger');
    }
    assert.deepEqual(h.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(h.stanzas().length, 0);
  });

  test('a stream header that grows without end is cut off', () => {
    const h = harness({ maxStanzaChars: 500, maxDepth: 10 });
    h.parser.write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='");
    let writes = 0;
    while (h.parser.write('x'.repeat(13))) {
      writes++;
      assert.ok(writes < 1000, 'the limit must trigger');
    }
    assert.deepEqual(h.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(h.events.filter((e) => e.type === 'open').length, 0);
  });

  test('whitespace keepalives between stanzas do not accumulate toward the limit', () => {
    const limit = 200;
    const h = harness({ maxStanzaChars: limit, maxDepth: 10 });
    h.parser.write(HEADER);
    let spaces = 0;
    for (let round = 0; round < 40; round++) {
      // ten single-space keepalives, then a small stanza
      for (let k = 0; k < 10; k++) {
        assert.equal(h.parser.write(k % 2 ? ' ' : Buffer.from('\n')), true);
        spaces++;
      }
      assert.equal(h.parser.write("<presence id='p'/>"), true);
    }
    assert.ok(spaces > limit);
    assert.equal(h.errors().length, 0);
    assert.equal(h.stanzas().length, 40);
  });

  test(
    'an idle stream with only whitespace keepalives (more than the limit in total) is not cut off',
    () => {
      const limit = 200;
      const h = harness({ maxStanzaChars: limit, maxDepth: 10 });
      for (const ch of HEADER + '<presence/>') h.parser.write(ch);
      for (let k = 0; k < limit * 2; k++) h.parser.write(' ');
      h.parser.write('<presence/>');
      assert.equal(h.errors().length, 0);
      assert.equal(h.stanzas().length, 2);
    },
  );

  test('nesting deeper than maxDepth is a policy-violation', () => {
    const nest = (levels: number): string => {
      // levels counts the stanza element itself as level 1
      let open = '<message>';
      let close = '</message>';
      for (let i = 1; i < levels; i++) {
        open += `<e${i}>`;
        close = `</e${i}>` + close;
      }
      return open + close;
    };
    const ok = harness({ maxStanzaChars: 100_000, maxDepth: 5 });
    ok.parser.write(HEADER + nest(5));
    assert.equal(ok.errors().length, 0);
    assert.equal(ok.stanzas().length, 1);

    const deep = harness({ maxStanzaChars: 100_000, maxDepth: 5 });
    assert.equal(deep.parser.write(HEADER + nest(6) + '<presence/>'), false);
    assert.deepEqual(deep.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(deep.stanzas().length, 0);

    // streamed one tag at a time
    const streamed = harness({ maxStanzaChars: 1_000_000, maxDepth: 5 });
    streamed.parser.write(HEADER);
    for (let i = 0; i < 100 && streamed.parser.write('<a>'); i++);
    assert.deepEqual(streamed.errors().map((e) => e.condition), ['policy-violation']);
  });
});

// ---- restricted XML and well-formedness -----------------------------------------------

describe('StreamParser: restricted XML and errors', () => {
  const billionLaughs =
    "<?xml version='1.0'?><!DOCTYPE lolz [" +
    "<!ENTITY lol 'lol'>" +
    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>" +
    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>" +
    ']>' +
    HEADER.replace("<?xml version='1.0'?>", '') +
    '<message><body>&lol2;</body></message><presence/>';

  test('a DOCTYPE with entity declarations is restricted-xml and nothing follows', () => {
    const h = harness();
    assert.equal(h.parser.write(billionLaughs), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
    assert.equal(h.events.length, 1, 'no stream open and no stanza after the DTD');
    assert.equal(h.parser.write('<presence/>'), false);
    assert.equal(h.events.length, 1);
  });

  test('a DOCTYPE fed one byte at a time is rejected the same way', () => {
    const h = harness();
    for (const b of Buffer.from(billionLaughs)) h.parser.write(Buffer.from([b]));
    assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
    assert.equal(h.events.length, 1);
  });

  const feedings: [string, (t: string) => string[]][] = [
    ['in one chunk', (t) => [HEADER + t]],
    ['after the header', (t) => [HEADER, t]],
    ['one character at a time', (t) => [HEADER, ...t]],
  ];

  for (const [how, chunks] of feedings) {
    test(`a DOCTYPE inside the stream is restricted-xml and emits nothing (${how})`, () => {
      const h = harness();
      for (const c of chunks("<!DOCTYPE x [<!ENTITY a 'b'>]><message>&a;</message>")) h.parser.write(c);
      assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
      assert.equal(h.stanzas().length, 0);
    });
  }

  for (const decl of ["<!ENTITY a 'b'>", '<!ELEMENT a ANY>']) {
    test(`${decl} between stanzas in one chunk is restricted-xml`, () => {
      const h = harness();
      h.parser.write(HEADER);
      assert.equal(h.parser.write(decl + '<presence/>'), false);
      assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
      assert.equal(h.stanzas().length, 0);
    });

    test(
      `${decl} between stanzas fed one character at a time is restricted-xml too`,
      () => {
        const h = harness();
        h.parser.write(HEADER);
        for (const ch of decl + '<presence/>') h.parser.write(ch);
        assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
      },
    );
  }

  test(
    'a malformed stanza is not-well-formed even when the same chunk has "<!DOCTYPE" inside CDATA',
    () => {
      const h = harness();
      h.parser.write(HEADER);
      h.parser.write('<message><![CDATA[<!DOCTYPE is just text here]]></message><a></b>');
      assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    },
  );

  const restricted: [string, string][] = [
    ['a comment between stanzas', '<!-- comment --><presence/>'],
    ['a comment inside a stanza', '<message><!-- comment --><body>x</body></message>'],
    ['a processing instruction between stanzas', '<?pi?><presence/>'],
    ['a processing instruction inside a stanza', "<message><?pi data='1'?></message>"],
  ];
  for (const [what, input] of restricted) {
    test(`${what} is restricted-xml`, () => {
      const h = harness();
      h.parser.write(HEADER);
      assert.equal(h.parser.write(input), false);
      assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
      assert.equal(h.stanzas().length, 0);
    });
  }

  test('a comment before the stream header is restricted-xml', () => {
    const h = harness();
    h.parser.write('<!-- hi -->' + HEADER);
    assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
    assert.equal(h.events.length, 1);
  });

  const malformed: [string, string][] = [
    ['mismatched tags', '<a></b>'],
    ['an undefined entity', '<message><body>&foo;</body></message>'],
    ['non-whitespace text between stanzas', 'hello<presence/>'],
    ['an unquoted attribute', '<message to=x/>'],
    ['a duplicate attribute', "<message to='a' to='b'/>"],
    ['an unbound prefix', '<message><q:x/></message>'],
    ['a raw ampersand', '<message><body>1 & 2;</body></message>'],
  ];
  for (const [what, input] of malformed) {
    test(`${what} is not-well-formed`, () => {
      const h = harness();
      h.parser.write(HEADER);
      assert.equal(h.parser.write(input), false);
      assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    });
  }

  test('text before the stream header is not-well-formed', () => {
    const h = harness();
    h.parser.write('hello' + HEADER);
    assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    assert.equal(h.events.length, 1);
  });

  test('only one error is reported and nothing is emitted after it', () => {
    const h = harness();
    h.parser.write(HEADER + '<presence/>');
    assert.equal(h.parser.write("<message><body>&foo;</body></message><presence id='after'/><!-- x --></stream:stream>"), false);
    assert.equal(h.parser.write("<presence id='later'/>"), false);
    assert.equal(h.parser.write('&bar;<<<'), false);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['open', 'stanza', 'error'],
    );
    assert.equal(h.errors()[0]?.condition, 'not-well-formed');
  });

  test(
    'a stanza closed by a mismatched end tag is not emitted',
    () => {
      const h = harness();
      h.parser.write(HEADER);
      h.parser.write("<message to='bob@localhost'><body>hi</body></wrong>");
      assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
      assert.equal(h.stanzas().length, 0);
    },
  );
});

// ---- WebSocket framing ----------------------------------------------------------------

describe('StreamParser: WebSocket framing (RFC 7395)', () => {
  const OPEN = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
  const CLOSE = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";

  test('open, stanza, close', () => {
    const h = harness(BIG, 'websocket');
    assert.equal(h.parser.writeMessage(OPEN), true);
    assert.equal(h.parser.writeMessage(Buffer.from("<message xmlns='jabber:client' to='juliet@localhost'><body>hi \u20ac</body></message>")), true);
    assert.equal(h.parser.writeMessage("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"), true);
    assert.equal(h.parser.writeMessage(CLOSE), true);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['open', 'stanza', 'stanza', 'close'],
    );
    const open = h.events[0];
    assert.ok(open?.type === 'open');
    assert.equal(open.header.name, 'open');
    assert.equal(open.header.ns, 'urn:ietf:params:xml:ns:xmpp-framing');
    assert.deepEqual(open.header.attrs, { to: 'localhost', version: '1.0' });
    assert.equal(open.header.contentNs, 'jabber:client');

    const [msg, iq] = h.stanzas();
    assert.equal(msg?.name, 'message');
    assert.equal(msg?.ns, 'jabber:client');
    assert.equal(msg?.attr('to'), 'juliet@localhost');
    assert.equal(msg?.getChildText('body'), 'hi \u20ac');
    assert.equal(iq?.ns, 'jabber:client', 'a stanza without xmlns is in jabber:client');
    assert.equal(iq?.getChild('ping')?.ns, 'urn:xmpp:ping');
  });

  test('a stream restart (a second <open/>) is reported again', () => {
    const h = harness(BIG, 'websocket');
    h.parser.writeMessage(OPEN);
    h.parser.writeMessage('<presence/>');
    h.parser.writeMessage(OPEN);
    h.parser.writeMessage('<presence/>');
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['open', 'stanza', 'open', 'stanza'],
    );
  });

  test('an element named open in another namespace is a stanza', () => {
    const h = harness(BIG, 'websocket');
    h.parser.writeMessage("<open xmlns='urn:other'/>");
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['stanza'],
    );
  });

  test('a message with two elements is not-well-formed', () => {
    const h = harness(BIG, 'websocket');
    h.parser.writeMessage(OPEN);
    assert.equal(h.parser.writeMessage('<presence/><presence/>'), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    assert.equal(h.parser.writeMessage('<presence/>'), false);
    assert.equal(h.errors().length, 1);
  });

  test('a message with half an element is not-well-formed', () => {
    const h = harness(BIG, 'websocket');
    h.parser.writeMessage(OPEN);
    assert.equal(h.parser.writeMessage("<message to='a@localhost'><body>hi"), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    assert.equal(h.parser.writeMessage('</body></message>'), false);
    assert.equal(h.stanzas().length, 0);
  });

  test(
    'a message that ends inside an opening tag is not-well-formed',
    () => {
      const h = harness(BIG, 'websocket');
      assert.equal(h.parser.writeMessage("<message to='a@localhost'"), false);
      assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    },
  );

  test(
    'a message holding only text is not-well-formed',
    () => {
      const h = harness(BIG, 'websocket');
      assert.equal(h.parser.writeMessage('hello'), false);
      assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    },
  );

  test('text-only message is refused at the latest with the next message', () => {
    const h = harness(BIG, 'websocket');
    h.parser.writeMessage('hello');
    assert.equal(h.parser.writeMessage('<presence/>'), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['not-well-formed']);
    assert.equal(h.stanzas().length, 0);
  });

  test('restricted XML in a message is refused', () => {
    const h = harness(BIG, 'websocket');
    assert.equal(h.parser.writeMessage('<message><!-- c --></message>'), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['restricted-xml']);
  });

  test('the stanza size limit applies to each message', () => {
    const h = harness({ maxStanzaChars: 100, maxDepth: 10 }, 'websocket');
    for (let i = 0; i < 10; i++) assert.equal(h.parser.writeMessage(`<message><body>${'a'.repeat(60)}</body></message>`), true);
    assert.equal(h.parser.writeMessage(`<message><body>${'a'.repeat(200)}</body></message>`), false);
    assert.deepEqual(h.errors().map((e) => e.condition), ['policy-violation']);
    assert.equal(h.stanzas().length, 10);
  });
});

// ---- Element serialisation ----------------------------------------------------------

describe('Element', () => {
  test('x() builds elements: xmlns sets ns, undefined attributes are dropped, children are flattened and inherit ns', () => {
    const el = x(
      'message',
      { xmlns: 'jabber:client', to: 'juliet@localhost', id: undefined, type: 'chat' },
      x('body', null, 'hi'),
      null,
      false,
      undefined,
      [x('thread', {}, 't1'), ['tail']],
      x('x', { xmlns: 'jabber:x:data' }, x('field', { var: 'f' })),
    );
    assert.equal(el.name, 'message');
    assert.equal(el.ns, 'jabber:client');
    assert.deepEqual(el.attrs, { to: 'juliet@localhost', type: 'chat' });
    assert.equal(el.children.length, 4);
    assert.equal(el.getChild('body')?.ns, 'jabber:client');
    assert.equal(el.getChild('thread')?.ns, 'jabber:client');
    assert.equal(el.children[2], 'tail');
    assert.equal(el.getChild('x')?.ns, 'jabber:x:data');
    assert.equal(el.getChild('x')?.getChild('field')?.ns, 'jabber:x:data');
  });

  test('toString(scopeNs) only emits xmlns where the namespace changes', () => {
    const el = x(
      'iq',
      { xmlns: 'jabber:client', type: 'result', id: '1' },
      x('query', { xmlns: 'jabber:iq:roster' }, x('item', { jid: 'a@b' }, x('group', null, 'G'))),
      x('extra', null),
    );
    assert.equal(
      el.toString('jabber:client'),
      "<iq type='result' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>G</group></item></query><extra/></iq>",
    );
    assert.equal(
      el.toString(),
      "<iq xmlns='jabber:client' type='result' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>G</group></item></query><extra/></iq>",
    );
    assert.equal(el.toString('jabber:iq:roster').startsWith("<iq xmlns='jabber:client'"), true);
  });

  test('an element without ns takes the scope it is written in', () => {
    const el = new Element('presence');
    assert.equal(el.toString('jabber:client'), '<presence/>');
    assert.equal(el.toString(), '<presence/>');
  });

  test('text and attribute values are escaped', () => {
    const nasty = `a & b < c > d ' e " f`;
    const el = x('message', { xmlns: 'jabber:client', id: nasty }, x('body', null, nasty));
    assert.equal(
      el.toString('jabber:client'),
      "<message id='a &amp; b &lt; c &gt; d &apos; e &quot; f'><body>a &amp; b &lt; c &gt; d ' e \" f</body></message>",
    );
    const back = parseElement(el.toString());
    assert.equal(back.attr('id'), nasty);
    assert.equal(back.getChildText('body'), nasty);
  });

  test('parse(serialize(el)) has the same structure', () => {
    const el = x(
      'message',
      { xmlns: 'jabber:client', from: 'romeo@localhost/balcony', to: 'juliet@localhost', type: 'chat', id: 'k&<>\'"' },
      x('body', null, 'Wherefore art thou? \u{1F600} & <tags> "q" \'a\''),
      x('x', { xmlns: 'jabber:x:data', type: 'submit' }, x('field', { var: 'FORM_TYPE' }, x('value', null, 'urn:x:y'))),
      x('request', { xmlns: 'urn:xmpp:receipts' }),
      x('store', { xmlns: 'urn:xmpp:hints' }),
      x('mixed', { xmlns: 'urn:m' }, 'before', x('inner', null, 'in'), 'after'),
    );
    for (const scope of ['', 'jabber:client']) {
      const back = parseElement(el.toString(scope));
      assert.deepEqual(back, el);
      assert.equal(back.toString(scope), el.toString(scope));
    }
  });

  test('a top-level element in another namespace round-trips', () => {
    const el = x('open', { xmlns: 'urn:custom', a: '1' }, x('child', { xmlns: 'jabber:client' }));
    const back = parseElement(el.toString());
    assert.deepEqual(back, el);
  });

  test(
    'a child in no namespace (xmlns=\'\') keeps that meaning through a round-trip',
    () => {
      const parsed = parseElement("<message xmlns='jabber:client'><body xmlns=''>x</body></message>");
      assert.equal(parsed.getChild('body')?.ns, '');
      const again = parseElement(parsed.toString());
      assert.equal(again.getChild('body')?.ns, '', `serialised as ${parsed.toString()}`);
    },
  );

  test('parseElement throws on garbage and on two elements', () => {
    assert.throws(() => parseElement('<a>'), /does not parse/);
    assert.throws(() => parseElement('<a/><b/>'), /does not parse/);
    assert.throws(() => parseElement('not xml'), /does not parse/);
  });
});
