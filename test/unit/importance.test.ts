import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify } from '../../src/core/importance.js';
import { parseElement } from '../../src/xml/parse-element.js';

const cases: [string, boolean, string, string][] = [
  ["<message type='chat'><body>hi</body></message>", true, 'normal', 'body'],
  ["<message type='chat'><body>   </body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", false, 'low', 'chat state'],
  ["<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", false, 'low', 'chat state'],
  ["<message><received xmlns='urn:xmpp:receipts' id='x'/></message>", false, 'low', 'receipt or marker'],
  ["<message><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>", false, 'low', 'receipt or marker'],
  ["<message type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/></encrypted></message>", true, 'normal', 'encrypted'],
  ["<message type='chat'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/></encrypted></message>", true, 'normal', 'encrypted'],
  ["<message type='chat'><x xmlns='jabber:x:encrypted'>AAAA</x></message>", true, 'normal', 'encrypted'],
  ["<message type='chat'><openpgp xmlns='urn:xmpp:openpgp:0'>AAAA</openpgp></message>", true, 'normal', 'encrypted'],
  ["<message><propose xmlns='urn:xmpp:jingle-message:0' id='c1'/></message>", true, 'high', 'call proposal'],
  ["<message><retract xmlns='urn:xmpp:jingle-message:0' id='c1'/></message>", true, 'high', 'call retraction'],
  ["<message type='groupchat'><subject>Room topic</subject></message>", true, 'normal', 'groupchat subject'],
  ["<message type='chat'><subject>topic</subject></message>", false, 'low', 'no payload'],
  ["<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x></message>", true, 'normal', 'invite'],
  ["<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>", true, 'normal', 'invite'],
  ["<message type='headline'><body>news</body></message>", false, 'low', 'headline'],
  ["<message type='error'><body>x</body></message>", false, 'low', 'error'],
  ["<message type='chat'><body>fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='1'/></message>", false, 'low', 'correction'],
  ["<presence/>", false, 'low', 'presence'],
  ["<presence type='subscribe'/>", false, 'low', 'presence'],
  ["<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>", false, 'low', 'iq'],
  [
    "<message><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>mine</body></message></forwarded></sent></message>",
    false, 'low', 'own outgoing carbon',
  ],
  [
    "<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>theirs</body></message></forwarded></received></message>",
    true, 'normal', 'body',
  ],
  [
    "<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/></message></forwarded></received></message>",
    false, 'low', 'chat state',
  ],
];

for (const [xml, important, priority, reason] of cases) {
  test(`classify ${xml.slice(0, 90)}`, () => {
    const v = classify(parseElement(`<wrapper xmlns='jabber:client'>${xml}</wrapper>`).firstElement()!);
    assert.deepEqual(v, { important, priority, reason });
  });
}
