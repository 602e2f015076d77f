import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const ROSTER = 'jabber:iq:roster';
const isRosterPush = (jid: string, sub: string) => (el: Element) =>
  el.is('iq') && el.attrs.type === 'set' && el.getChild('query', ROSTER)?.getChild('item')?.attrs.jid === jid &&
  el.getChild('query', ROSTER)?.getChild('item')?.attrs.subscription === sub;

async function rosterOf(c: TestClient): Promise<Record<string, string>> {
  const r = await c.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
  const out: Record<string, string> = {};
  for (const item of r.getChild('query', ROSTER)?.getChildren('item') ?? []) {
    out[item.attrs.jid as string] = (item.attrs.subscription as string) + (item.attrs.ask ? '+ask' : '');
  }
  return out;
}

describe('instant messaging between two users', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('subscribes both ways, with roster pushes and presence', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'phone' });
    try {
      assert.deepEqual(await rosterOf(alice), {});
      assert.deepEqual(await rosterOf(bob), {});
      await alice.send(xml('presence'));
      await bob.send(xml('presence'));

      await alice.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, xml('item', { jid: 'bob@localhost', name: 'Bob' }, xml('group', {}, 'Friends')))));
      await alice.waitFor(isRosterPush('bob@localhost', 'none'), 5000, 'roster push for the new item');

      await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
      const req = await bob.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe', 5000, 'subscription request');
      assert.equal(req.attrs.from, 'alice@localhost');

      await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
      await alice.waitFor(isRosterPush('bob@localhost', 'to'), 5000, 'roster push subscription=to');
      // Having approved, bob's current presence reaches alice.
      await alice.waitFor((el) => el.is('presence') && el.attrs.from === 'bob@localhost/phone' && !el.attrs.type, 5000, "bob's presence");
      await bob.waitFor(isRosterPush('alice@localhost', 'from'), 5000, 'roster push subscription=from');

      await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
      await alice.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe' && el.attrs.from === 'bob@localhost');
      await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }));
      await bob.waitFor(isRosterPush('alice@localhost', 'both'), 5000, 'roster push subscription=both for bob');
      await alice.waitFor(isRosterPush('bob@localhost', 'both'), 5000, 'roster push subscription=both for alice');

      assert.deepEqual(await rosterOf(alice), { 'bob@localhost': 'both' });
      assert.deepEqual(await rosterOf(bob), { 'alice@localhost': 'both' });

      // A presence change reaches the contact; going offline sends unavailable.
      await alice.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'lunch')));
      const away = await bob.waitFor((el) => el.is('presence') && el.getChildText('show') === 'away');
      assert.equal(away.attrs.from, 'alice@localhost/laptop');
      assert.equal(away.getChildText('status'), 'lunch');
      await alice.stop();
      await bob.waitFor((el) => el.is('presence') && el.attrs.type === 'unavailable' && el.attrs.from === 'alice@localhost/laptop');
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it('keeps a subscription request for an offline user and shows it at next login', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass');
    await carol.send(xml('presence', { to: 'dave@localhost', type: 'subscribe' }, xml('status', {}, 'it is me, Carol & co')));
    await new Promise((r) => setTimeout(r, 200));
    await carol.stop();
    const dave = await TestClient.connect(h, 'dave', 'dave-pass');
    try {
      await dave.send(xml('presence'));
      const req = await dave.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe');
      assert.equal(req.attrs.from, 'carol@localhost');
      assert.equal(req.getChildText('status'), 'it is me, Carol & co');
    } finally {
      await dave.stop();
    }
  });

  it('removing a contact cancels both subscriptions', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'phone' });
    try {
      assert.equal((await rosterOf(bob))['alice@localhost'], 'both');
      assert.equal((await rosterOf(alice))['bob@localhost'], 'both');
      await alice.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, xml('item', { jid: 'bob@localhost', subscription: 'remove' }))));
      await alice.waitFor(isRosterPush('bob@localhost', 'remove'));
      await bob.waitFor(isRosterPush('alice@localhost', 'none'), 5000, "bob's item drops to none");
      assert.deepEqual(await rosterOf(alice), {});
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it('delivers chat between two online users, to the bare JID and to a full JID', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'phone' });
    try {
      await alice.send(xml('presence'));
      await bob.send(xml('presence'));
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'Hello Bob — ☕ 😀')));
      const m = await bob.waitFor((el) => el.is('message') && el.attrs.id === 'm1');
      assert.equal(m.attrs.from, 'alice@localhost/laptop');
      assert.equal(m.getChildText('body'), 'Hello Bob — ☕ 😀');
      await bob.send(xml('message', { to: 'alice@localhost/laptop', type: 'chat', id: 'm2' }, xml('body', {}, 'Hi <Alice> & "you"')));
      const r = await alice.waitFor((el) => el.is('message') && el.attrs.id === 'm2');
      assert.equal(r.getChildText('body'), 'Hi <Alice> & "you"');
      assert.equal(r.attrs.from, 'bob@localhost/phone');
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it('sends a message to the bare JID to the highest-priority resource only, never to a negative one', async () => {
    const high = await TestClient.connect(h, 'erin', 'erin-pass', { resource: 'high' });
    const low = await TestClient.connect(h, 'erin', 'erin-pass', { resource: 'low' });
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
    try {
      await high.send(xml('presence', {}, xml('priority', {}, '5')));
      await low.send(xml('presence', {}, xml('priority', {}, '-1')));
      await new Promise((r) => setTimeout(r, 100));
      await alice.send(xml('message', { to: 'erin@localhost', type: 'chat', id: 'p1' }, xml('body', {}, 'who gets this?')));
      await high.waitFor((el) => el.is('message') && el.attrs.id === 'p1');
      assert.equal((await low.collect((el) => el.is('message') && el.attrs.id === 'p1')).length, 0);
      // Headlines go to every non-negative resource, here only 'high'.
      await alice.send(xml('message', { to: 'erin@localhost', type: 'headline', id: 'h1' }, xml('body', {}, 'news')));
      await high.waitFor((el) => el.is('message') && el.attrs.id === 'h1');
      assert.equal((await low.collect((el) => el.attrs.id === 'h1')).length, 0);
    } finally {
      await Promise.all([high.stop(), low.stop(), alice.stop()]);
    }
  });

  it('bounces with the right errors: unknown user, malformed JID, remote domain', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    try {
      const cases: [string, string][] = [
        ['nobody@localhost', 'service-unavailable'],
        ['bad@@jid', 'jid-malformed'],
        ['someone@remote.example', 'remote-server-not-found'],
      ];
      for (const [to, condition] of cases) {
        const id = `err-${condition}`;
        await alice.send(xml('message', { to, type: 'chat', id }, xml('body', {}, 'x')));
        const err = await alice.waitFor((el) => el.is('message') && el.attrs.id === id && el.attrs.type === 'error', 5000, condition);
        assert.ok(err.getChild('error')?.getChild(condition, 'urn:ietf:params:xml:ns:xmpp-stanzas'), err.toString());
      }
      const iqErr = await alice.askError(xml('iq', { type: 'get', to: 'nobody@localhost' }, xml('query', { xmlns: 'jabber:iq:version' })));
      assert.equal(iqErr.condition, 'service-unavailable');
    } finally {
      await alice.stop();
    }
  });

  it('answers disco#info for the server and the account, ping and version', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    try {
      const server = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      const q = server.getChild('query') as Element;
      assert.ok(q.getChildren('identity').some((i) => i.attrs.category === 'server' && i.attrs.type === 'im'));
      const features = q.getChildren('feature').map((f) => f.attrs.var);
      for (const f of ['urn:xmpp:ping', 'jabber:iq:version', 'msgoffline', 'http://jabber.org/protocol/disco#info']) assert.ok(features.includes(f), f);
      const account = await alice.iq(xml('iq', { type: 'get', to: 'alice@localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      assert.ok(account.getChild('query')?.getChildren('identity').some((i) => i.attrs.category === 'account' && i.attrs.type === 'registered'));
      const version = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'jabber:iq:version' })));
      assert.equal(version.getChild('query')?.getChildText('name'), 'Herald');
      const ping = await alice.iq(xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      assert.equal(ping.attrs.type, 'result');
    } finally {
      await alice.stop();
    }
  });
});

describe('offline messages', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob', 'carol']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('stores a chat message for an offline user and delivers it with a delay stamp at next login', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const before = Date.now();
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'o1' }, xml('body', {}, 'are you there?')));
    // A typing notification alone is not worth storing.
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'o2' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await new Promise((r) => setTimeout(r, 200));
    await alice.stop();
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      assert.equal(bob.messages().length, 0, 'nothing before initial presence');
      await bob.send(xml('presence'));
      const m = await bob.waitFor((el) => el.is('message') && el.attrs.id === 'o1');
      assert.equal(m.getChildText('body'), 'are you there?');
      assert.equal(m.attrs.from, 'alice@localhost/test');
      const delay = m.getChild('delay', 'urn:xmpp:delay');
      assert.ok(delay, 'delay stamp');
      assert.equal(delay.attrs.from, 'localhost');
      const stamp = Date.parse(delay.attrs.stamp as string);
      assert.ok(stamp >= before - 1000 && stamp <= Date.now(), `stamp ${delay.attrs.stamp}`);
      assert.equal((await bob.collect((el) => el.attrs.id === 'o2')).length, 0);
    } finally {
      await bob.stop();
    }
    // Delivered once: a second login finds nothing.
    const again = await TestClient.connect(h, 'bob', 'bob-pass');
    await again.send(xml('presence'));
    assert.equal((await again.collect((el) => el.is('message'), 400)).length, 0);
    await again.stop();
  });

  it('keeps offline messages across a Herald restart', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    for (let i = 0; i < 5; i++) await alice.send(xml('message', { to: 'carol@localhost', type: 'chat', id: `r${i}` }, xml('body', {}, `msg ${i}`)));
    await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    await alice.stop();
    assert.equal(await h.stop('SIGTERM'), 0);
    h = await HeraldProcess.start({ dataDir: h.dataDir });
    const carol = await TestClient.connect(h, 'carol', 'carol-pass');
    try {
      await carol.send(xml('presence'));
      await carol.waitFor((el) => el.attrs.id === 'r4');
      const ids = carol.messages().map((m) => m.attrs.id);
      assert.deepEqual(ids, ['r0', 'r1', 'r2', 'r3', 'r4']);
      assert.ok(carol.messages().every((m) => m.getChild('delay', 'urn:xmpp:delay')));
    } finally {
      await carol.stop();
    }
  });
});
