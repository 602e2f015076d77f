import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { test } from 'node:test';
import { StanzaError } from '../../src/core/errors.js';
import { classify } from '../../src/core/importance.js';
import { stanzaKey, unwrapCarbon } from '../../src/push/dedup.js';
import { parseTigaseOptions, tigaseEncrypted, tigaseFilter } from '../../src/push/tigase.js';
import { publishText } from '../../src/push/xep0357-payload.js';
import { outcomeOfAnswer } from '../../src/push/xep0357.js';
import { parseElement } from '../../src/xml/parse-element.js';

const el = (xml: string) => parseElement(xml);
const privacy = { withBody: false, withSender: false, importantBody: 'New Message!' };
const fields = (pubsub: string) =>
  Object.fromEntries(
    el(pubsub)
      .getChild('publish')!
      .getChild('item')!
      .getChild('notification')!
      .getChild('x')!
      .getChildren('field')
      .map((f) => [f.attrs.var, f.getChildText('value') ?? null]),
  );

test('summary form: dummy body for important, none for unimportant, real ones only when allowed', () => {
  const msg = el("<message xmlns='jabber:client' from='alice@x/phone' type='chat'><body>secret</body></message>");
  const important = publishText({ node: 'n' }, msg, classify(msg), privacy);
  assert.deepEqual(fields(important), {
    FORM_TYPE: 'urn:xmpp:push:summary',
    'message-count': '1',
    'pending-subscription-count': null,
    'last-message-sender': null,
    'last-message-body': 'New Message!',
  });
  assert.ok(!important.includes('secret'));
  const typing = el("<message xmlns='jabber:client' from='alice@x/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
  assert.equal(fields(publishText({ node: 'n' }, typing, classify(typing), privacy))['last-message-body'], null);
  const open = fields(publishText({ node: 'n' }, msg, classify(msg), { withBody: true, withSender: true, importantBody: 'x' }));
  assert.equal(open['last-message-body'], 'secret');
  assert.equal(open['last-message-sender'], 'alice@x/phone');
  // An empty important_body really disables the dummy body.
  assert.equal(fields(publishText({ node: 'n' }, msg, classify(msg), { ...privacy, importantBody: '' }))['last-message-body'], null);
});

test('publish-options are replayed verbatim after the publish', () => {
  const options = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s</value></field></x>";
  const p = el(publishText({ node: 'n', publishOptions: options }, null, { important: false, priority: 'low', reason: 'test' }, privacy));
  assert.equal(p.elements().map((c) => c.name).join(','), 'publish,publish-options');
  assert.equal(p.getChild('publish-options')?.firstElement()?.toString(''), options);
});

test('the publish text, byte for byte: what mod_cloud_notify sends, escaped where the data needs it', () => {
  const msg = el(`<message xmlns='jabber:client' from="o'hara@x/p&amp;1" type='chat'><body>a &lt;b&gt; &amp; 'c'</body></message>`);
  const text = publishText({ node: "n'1" }, msg, classify(msg), { withBody: true, withSender: true, importantBody: 'x' });
  assert.equal(
    text,
    "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n&apos;1'><item><notification xmlns='urn:xmpp:push:0'>" +
      "<x xmlns='jabber:x:data' type='form'>" +
      "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:push:summary</value></field>" +
      "<field var='message-count' type='text-single'><value>1</value></field>" +
      "<field var='pending-subscription-count' type='text-single'/>" +
      "<field var='last-message-sender' type='jid-single'><value>o'hara@x/p&amp;1</value></field>" +
      "<field var='last-message-body' type='text-single'><value>a &lt;b&gt; &amp; 'c'</value></field>" +
      '</x></notification></item></publish></pubsub>',
  );
  // And it is the XML it says: the values come back as they were.
  assert.deepEqual(fields(text), {
    FORM_TYPE: 'urn:xmpp:push:summary',
    'message-count': '1',
    'pending-subscription-count': null,
    'last-message-sender': "o'hara@x/p&1",
    'last-message-body': "a <b> & 'c'",
  });
});

test('Tigase: enable options are validated like the original', () => {
  const enable = (inner: string) => el(`<enable xmlns='urn:xmpp:push:0' jid='p' node='n'>${inner}</enable>`);
  assert.throws(() => parseTigaseOptions(enable("<encrypt xmlns='tigase:push:encrypt:0' alg='aes-256-gcm'>AAAAAAAAAAAAAAAAAAAAAA==</encrypt>")), (e: StanzaError) => e.condition === 'feature-not-implemented');
  assert.throws(() => parseTigaseOptions(enable("<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>c2hvcnQ=</encrypt>")), (e: StanzaError) => e.condition === 'bad-request');
  const o = parseTigaseOptions(
    enable(
      "<encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm'>AAECAwQFBgcICQoLDA0ODw==</encrypt><ignore-unknown xmlns='tigase:push:filter:ignore-unknown:0'/>" +
        "<muted xmlns='tigase:push:filter:muted:0'><item jid='Spam@X'/><item jid='@@'/></muted>" +
        "<groupchat xmlns='tigase:push:filter:groupchat:0'><room jid='room@muc' allow='mentioned' nick='bob'/></groupchat>",
    ),
  );
  assert.deepEqual(o, {
    encryption: { alg: 'aes-128-gcm', key: 'AAECAwQFBgcICQoLDA0ODw==' },
    ignoreUnknown: true,
    muted: ['spam@x'],
    groupchat: { 'room@muc': { allow: 'mentioned', nick: 'bob' } },
  });
});

test('Tigase filters: unknown senders, muted chats, group chat mentions', () => {
  const opts = { ignoreUnknown: true, muted: ['spam@x'], groupchat: { 'room@muc': { allow: 'mentioned', nick: 'bob' }, 'quiet@muc': { allow: 'never' } } };
  const chat = (from: string) => el(`<message xmlns='jabber:client' from='${from}' type='chat'><body>x</body></message>`);
  assert.deepEqual(tigaseFilter(opts, chat('alice@x/p'), 'bob@x', false), [false, 'unknown sender']);
  assert.deepEqual(tigaseFilter(opts, chat('spam@x/p'), 'bob@x', true), [false, 'muted']);
  assert.deepEqual(tigaseFilter(opts, chat('alice@x/p'), 'bob@x', true), [true, 'passes filters']);
  const gc = (room: string, ref = '') => el(`<message xmlns='jabber:client' from='${room}/carol' type='groupchat'><body>hi</body>${ref}</message>`);
  assert.deepEqual(tigaseFilter(opts, gc('quiet@muc'), 'bob@x', true), [false, 'group chat: never']);
  assert.deepEqual(tigaseFilter(opts, gc('room@muc'), 'bob@x', true), [false, 'group chat: not mentioned']);
  const mention = "<reference xmlns='urn:xmpp:reference:0' type='mention' uri='xmpp:room@muc/bob'/>";
  assert.deepEqual(tigaseFilter(opts, gc('room@muc', mention), 'bob@x', true), [true, 'passes filters']);
});

test('Tigase encryption: AES-128-GCM with a real tag, 255-byte body, calls as voip', () => {
  const key = Buffer.alloc(16, 7).toString('base64');
  const iv = Buffer.alloc(12, 1);
  const decrypt = (encrypted: ReturnType<typeof tigaseEncrypted>): Record<string, unknown> => {
    const data = Buffer.from(encrypted.text(), 'base64');
    const d = createDecipheriv('aes-128-gcm', Buffer.from(key, 'base64'), Buffer.from(encrypted.attrs.iv as string, 'base64'));
    d.setAuthTag(data.subarray(data.length - 16));
    return JSON.parse(Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]).toString('utf8')) as Record<string, unknown>;
  };
  const long = 'é'.repeat(200); // 400 bytes
  const msg = el(`<message xmlns='jabber:client' from='alice@x/phone' type='chat'><body>${long}</body></message>`);
  const plain = decrypt(tigaseEncrypted(key, msg, classify(msg), iv));
  assert.equal(plain.sender, 'alice@x');
  assert.equal(plain.type, 'chat');
  assert.equal(Buffer.byteLength(plain.message as string), 254, 'cut at 255 bytes without splitting a character');
  const omemo = el("<message xmlns='jabber:client' from='alice@x/phone' type='chat'><body>fallback</body><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>");
  assert.equal(decrypt(tigaseEncrypted(key, omemo, classify(omemo))).message, 'You have received an encrypted message');
  const propose = el(
    "<message xmlns='jabber:client' from='alice@x/phone'><propose xmlns='urn:xmpp:jingle-message:0' id='c1'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/></propose></message>",
  );
  const enc = tigaseEncrypted(key, propose, classify(propose));
  assert.equal(enc.attrs.type, 'voip');
  assert.deepEqual(decrypt(enc), { unread: 1, type: 'call', sender: 'alice@x/phone', sid: 'c1', media: ['audio', 'video'] });
});

test('dedup keys: archive id first (also through carbons), then sender and id', () => {
  const archived = el("<message xmlns='jabber:client' from='a@x/r' id='m1'><body>b</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@x' id='ARCH'/></message>");
  assert.equal(stanzaKey(archived, 'bob@x'), 'sid:ARCH');
  const carbon = el(
    "<message xmlns='jabber:client' from='bob@x'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
      "<message xmlns='jabber:client' from='a@x/r' id='m1'><body>b</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@x' id='ARCH'/></message></forwarded></received></message>",
  );
  assert.equal(unwrapCarbon(carbon).attrs.id, 'm1');
  assert.equal(stanzaKey(carbon, 'bob@x'), 'sid:ARCH');
  assert.equal(stanzaKey(archived, 'someone-else@x'), 'id:message:a@x/r:m1');
  const anonymous = el("<presence xmlns='jabber:client' from='a@x/r'/>");
  assert.equal(stanzaKey(anonymous, 'bob@x'), stanzaKey(anonymous, 'bob@x'), 'stable for one object');
  assert.notEqual(stanzaKey(anonymous, 'bob@x'), stanzaKey(el("<presence xmlns='jabber:client' from='a@x/r'/>"), 'bob@x'));
});

test('answers from the app server: what is temporary and what counts as an error', () => {
  const answer = (type: string, condition: string) =>
    el(`<iq xmlns='jabber:client' type='error'><error type='${type}'><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
  assert.deepEqual(outcomeOfAnswer(el("<iq xmlns='jabber:client' type='result'/>")), { ok: true });
  assert.deepEqual(outcomeOfAnswer(null), { ok: false, temporary: true, condition: 'remote-server-timeout' });
  assert.deepEqual(outcomeOfAnswer(answer('wait', 'internal-server-error')), { ok: false, temporary: true, condition: 'internal-server-error' });
  assert.deepEqual(outcomeOfAnswer(answer('cancel', 'resource-constraint')), { ok: false, temporary: true, condition: 'resource-constraint' });
  assert.deepEqual(outcomeOfAnswer(answer('cancel', 'recipient-unavailable')), { ok: false, temporary: true, condition: 'recipient-unavailable' });
  assert.deepEqual(outcomeOfAnswer(answer('cancel', 'item-not-found')), { ok: false, temporary: false, condition: 'item-not-found' });
  assert.deepEqual(outcomeOfAnswer(answer('auth', 'forbidden')), { ok: false, temporary: false, condition: 'forbidden' });
});
