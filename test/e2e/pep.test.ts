import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const PUBSUB = 'http://jabber.org/protocol/pubsub';
const EVENT = 'http://jabber.org/protocol/pubsub#event';
const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
const AVATAR_META = 'urn:xmpp:avatar:metadata';
const NICK = 'http://jabber.org/protocol/nick';

/**
 * Makes the client answer disco#info for its caps node; returns the <c/> to put
 * in presence and a promise for the moment the server has the answer.
 */
function advertiseCaps(c: TestClient, features: string[]): { caps: Element; known: Promise<void> } {
  const identity = { category: 'client', type: 'phone', name: 'Test' };
  const all = ['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info', ...features].sort();
  // XEP-0115 §5.1, computed here independently of the server.
  const ver = createHash('sha1').update(`${identity.category}/${identity.type}//${identity.name}<${all.map((f) => f + '<').join('')}`).digest('base64');
  const callee = (c.xmpp as unknown as { iqCallee: { get(ns: string, name: string, h: (ctx: { element: Element }) => Element): void } }).iqCallee;
  let answered: () => void = () => undefined;
  const asked = new Promise<void>((resolve) => (answered = resolve));
  callee.get('http://jabber.org/protocol/disco#info', 'query', (ctx) => {
    setImmediate(answered);
    return xml('query', { xmlns: 'http://jabber.org/protocol/disco#info', node: ctx.element.attrs.node }, xml('identity', identity), ...all.map((v) => xml('feature', { var: v })));
  });
  // The answer and a later ping travel on one connection, so the pong means the server read the answer.
  const known = asked.then(() => c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))).then(() => undefined);
  return { caps: xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'https://herald.test/client', ver }), known };
}

async function befriend(a: TestClient, aJid: string, b: TestClient, bJid: string): Promise<void> {
  for (const [from, fromJid, to, toJid] of [[a, aJid, b, bJid], [b, bJid, a, aJid]] as const) {
    await from.send(xml('presence', { to: toJid, type: 'subscribe' }));
    await to.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe' && el.attrs.from === fromJid);
    await to.send(xml('presence', { to: fromJid, type: 'subscribed' }));
  }
  await a.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  await b.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
}

function publishIq(node: string, id: string, payload: Element, access?: string): Element {
  const pubsub = xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node }, xml('item', { id }, payload)));
  if (access) {
    pubsub.append(
      xml('publish-options', {}, xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, `${PUBSUB}#publish-options`)),
        xml('field', { var: 'pubsub#access_model' }, xml('value', {}, access)))),
    );
  }
  return xml('iq', { type: 'set' }, pubsub);
}
const publish = (c: TestClient, node: string, id: string, payload: Element, access?: string): Promise<Element> => c.iq(publishIq(node, id, payload, access));
const eventItem = (el: Element, node: string): Element | undefined => {
  const items = el.getChild('event', EVENT)?.getChild('items');
  return items?.attrs.node === node ? items.getChild('item') : undefined;
};

describe('personal eventing (XEP-0163)', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob', 'carol']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('publishes OMEMO device lists, avatars and nicknames to contacts that want them, and keeps them', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'a' });
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'b1' });
    const carol = await TestClient.connect(h, 'carol', 'carol-pass');
    try {
      for (const c of [alice, bob, carol]) {
        await c.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })));
        await c.send(xml('presence'));
      }
      await befriend(alice, 'alice@localhost', bob, 'bob@localhost');
      const { caps, known } = advertiseCaps(bob, [`${DEVICELIST}+notify`, `${AVATAR_META}+notify`]);
      await bob.send(xml('presence', {}, caps));
      await known;

      const devices = xml('list', { xmlns: 'eu.siacs.conversations.axolotl' }, xml('device', { id: '1234' }));
      const r = await publish(alice, DEVICELIST, 'current', devices, 'open');
      assert.equal(r.getChild('pubsub', PUBSUB)?.getChild('publish')?.getChild('item')?.attrs.id, 'current');
      const ev = await bob.waitFor((el) => eventItem(el, DEVICELIST) !== undefined);
      assert.equal(ev.attrs.from, 'alice@localhost');
      assert.equal(eventItem(ev, DEVICELIST)?.getChild('list')?.getChild('device')?.attrs.id, '1234');

      await publish(alice, AVATAR_META, 'sha1hash', xml('metadata', { xmlns: AVATAR_META }, xml('info', { id: 'sha1hash', bytes: '100', type: 'image/png' })));
      await bob.waitFor((el) => eventItem(el, AVATAR_META) !== undefined);
      // Bob did not ask for nicknames, so none arrive.
      await publish(alice, NICK, 'current', xml('nick', { xmlns: NICK }, 'Alice'));
      assert.equal((await bob.collect((el) => eventItem(el, NICK) !== undefined, 300)).length, 0);

      // An existing node keeps its access model: a publish asking for another one fails its precondition.
      const conflict = await alice.askError(publishIq(DEVICELIST, 'current', devices, 'presence'));
      assert.equal(conflict.condition, 'conflict');
      assert.ok(conflict.error.getChild('precondition-not-met', 'http://jabber.org/protocol/pubsub#errors'));

      // Access: carol (no subscription) reads the open device list but not the presence-only avatar.
      const open = await carol.iq(xml('iq', { type: 'get', to: 'alice@localhost' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: DEVICELIST }))));
      assert.equal(open.getChild('pubsub')?.getChild('items')?.getChild('item')?.attrs.id, 'current');
      const denied = await carol.askError(xml('iq', { type: 'get', to: 'alice@localhost' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: AVATAR_META }))));
      assert.equal(denied.condition, 'not-authorized');

      // A second resource of bob's gets the newest items as soon as its caps are known.
      const bob2 = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'b2' });
      try {
        // Same features, same hash: the server knows them already and asks nothing.
        await bob2.send(xml('presence', {}, advertiseCaps(bob2, [`${DEVICELIST}+notify`, `${AVATAR_META}+notify`]).caps));
        await bob2.waitFor((el) => eventItem(el, DEVICELIST) !== undefined);
        await bob2.waitFor((el) => eventItem(el, AVATAR_META) !== undefined);
      } finally {
        await bob2.stop();
      }
    } finally {
      await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
    }

    // Items are stored: after a restart they are still there.
    h = await h.restart();
    const reader = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      const items = await reader.iq(xml('iq', { type: 'get', to: 'alice@localhost' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: AVATAR_META }))));
      assert.equal(items.getChild('pubsub')?.getChild('items')?.getChild('item')?.getChild('metadata')?.getChild('info')?.attrs.type, 'image/png');
    } finally {
      await reader.stop();
    }
  });
});
