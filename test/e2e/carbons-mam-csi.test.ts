import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const CARBONS = 'urn:xmpp:carbons:2';
const MAM = 'urn:xmpp:mam:2';
const enableCarbons = (c: TestClient): Promise<Element> => c.iq(xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS })));
const forwarded = (el: Element, kind: 'sent' | 'received'): Element | undefined =>
  el.getChild(kind, CARBONS)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');

describe('message carbons (XEP-0280)', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('copies received and sent messages to the other resources, honouring private and no-copy', async () => {
    const phone = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'phone' });
    const desktop = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'desktop' });
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      for (const c of [phone, desktop, bob]) await c.send(xml('presence'));
      await enableCarbons(phone);
      await enableCarbons(desktop);
      const disco = await phone.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      assert.ok(disco.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === CARBONS));

      // Bob writes to alice's phone: the desktop gets a received carbon, the phone only the message.
      await bob.send(xml('message', { to: 'alice@localhost/phone', type: 'chat', id: 'c1' }, xml('body', {}, 'to your phone')));
      await phone.waitFor((el) => el.attrs.id === 'c1');
      const rc = await desktop.waitFor((el) => forwarded(el, 'received')?.attrs.id === 'c1');
      assert.equal(rc.attrs.from, 'alice@localhost');
      assert.equal(forwarded(rc, 'received')?.getChildText('body'), 'to your phone');
      assert.equal((await phone.collect((el) => !!el.getChild('received', CARBONS), 200)).length, 0);

      // Alice writes from the desktop: the phone gets a sent carbon.
      await desktop.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'c2' }, xml('body', {}, 'from desktop')));
      await bob.waitFor((el) => el.attrs.id === 'c2');
      const sc = await phone.waitFor((el) => forwarded(el, 'sent')?.attrs.id === 'c2');
      assert.equal(forwarded(sc, 'sent')?.attrs.from, 'alice@localhost/desktop');
      assert.equal((await desktop.collect((el) => !!el.getChild('sent', CARBONS), 200)).length, 0);

      // <private/> and <no-copy/> keep a message off the other devices.
      await desktop.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'c3' }, xml('body', {}, 'p'), xml('private', { xmlns: CARBONS })));
      await bob.send(xml('message', { to: 'alice@localhost/phone', type: 'chat', id: 'c4' }, xml('body', {}, 'n'), xml('no-copy', { xmlns: 'urn:xmpp:hints' })));
      await bob.waitFor((el) => el.attrs.id === 'c3');
      await phone.waitFor((el) => el.attrs.id === 'c4');
      const leaked = [...(await phone.collect(() => true, 300)), ...desktop.received].filter(
        (el) => ['c3', 'c4'].includes((forwarded(el, 'sent') ?? forwarded(el, 'received'))?.attrs.id as string),
      );
      assert.deepEqual(leaked.map((el) => el.toString()), []);

      // Typing notifications travel as carbons too (they belong to the conversation); headlines do not.
      await bob.send(xml('message', { to: 'alice@localhost/phone', type: 'chat', id: 'c5' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
      await desktop.waitFor((el) => forwarded(el, 'received')?.attrs.id === 'c5');
    } finally {
      await Promise.all([phone.stop(), desktop.stop(), bob.stop()]);
    }
  });
});

describe('message archive (XEP-0313)', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob', 'carol']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  async function page(c: TestClient, queryid: string, opts: { with?: string; max?: number; after?: string; before?: string; afterId?: string }) {
    const fields = [xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM))];
    if (opts.with) fields.push(xml('field', { var: 'with' }, xml('value', {}, opts.with)));
    if (opts.afterId) fields.push(xml('field', { var: 'after-id' }, xml('value', {}, opts.afterId)));
    const set = xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, String(opts.max ?? 50)));
    if (opts.after) set.append(xml('after', {}, opts.after));
    if (opts.before !== undefined) set.append(xml('before', {}, opts.before));
    const fin = await c.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: MAM, queryid }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...fields), set)), 10_000);
    const results = c.received.filter((el) => el.getChild('result', MAM)?.attrs.queryid === queryid);
    return { fin: fin.getChild('fin', MAM) as Element, results };
  }
  const bodyOf = (r: Element): string =>
    r.getChild('result', MAM)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message')?.getChildText('body') ?? '';

  it('archives both directions with a stanza-id and pages 250 messages once each, in order', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      await bob.send(xml('presence'));
      // Two connections are not ordered with each other: alice's part must arrive before bob answers.
      for (let i = 0; i < 200; i++) await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: `m${i}` }, xml('body', {}, `message ${i}`)));
      const last = await bob.waitFor((el) => el.attrs.id === 'm199', 10_000);
      for (let i = 200; i < 250; i++) await bob.send(xml('message', { to: 'alice@localhost', type: 'chat', id: `m${i}` }, xml('body', {}, `message ${i}`)));
      await bob.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      const sid = last.getChild('stanza-id', 'urn:xmpp:sid:0');
      assert.equal(sid?.attrs.by, 'bob@localhost');
      // A chat state alone is not archived.
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' })));
      await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));

      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const p = await page(alice, `q${pages}`, after === undefined ? { with: 'bob@localhost', max: 40 } : { with: 'bob@localhost', max: 40, after });
        pages++;
        seen.push(...p.results.map(bodyOf));
        const complete = p.fin.attrs.complete === 'true';
        after = p.fin.getChild('set')?.getChildText('last') ?? undefined;
        if (complete) break;
        assert.ok(pages < 20, 'paging did not end');
      }
      assert.equal(pages, 7);
      assert.deepEqual(seen, Array.from({ length: 250 }, (_, i) => `message ${i}`));

      // The last page, asked for with an empty <before/>, in chronological order.
      const tail = await page(alice, 'tail', { max: 3, before: '' });
      assert.deepEqual(tail.results.map(bodyOf), ['message 247', 'message 248', 'message 249']);
      assert.notEqual(tail.fin.attrs.complete, 'true');
      // after-id (the extended form field) and item-not-found for an unknown id.
      const firstId = (await page(alice, 'first', { max: 1 })).results[0]?.getChild('result', MAM)?.attrs.id as string;
      const next = await page(alice, 'next', { max: 1, afterId: firstId });
      assert.deepEqual(next.results.map(bodyOf), ['message 1']);
      const bad = await alice.askError(
        xml('iq', { type: 'set' }, xml('query', { xmlns: MAM, queryid: 'bad' }, xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('after', {}, 'no-such-id')))),
      );
      assert.equal(bad.condition, 'item-not-found');
      // Bob's archive holds the same conversation, from his side.
      const bobs = await page(bob, 'b', { max: 5 });
      assert.deepEqual(bobs.results.map(bodyOf), ['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it('respects preferences: never archiving for a contact', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass');
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'prefs' });
    try {
      const r = await carol.iq(xml('iq', { type: 'set' }, xml('prefs', { xmlns: MAM, default: 'always' }, xml('always'), xml('never', {}, xml('jid', {}, 'alice@localhost')))));
      assert.equal(r.getChild('prefs', MAM)?.getChild('never')?.getChildText('jid'), 'alice@localhost');
      await alice.send(xml('message', { to: 'carol@localhost', type: 'chat', id: 'secret' }, xml('body', {}, 'not for the archive')));
      await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      const p = await page(carol, 'p', {});
      assert.equal(p.results.length, 0);
    } finally {
      await carol.stop();
      await alice.stop();
    }
  });
});

describe('client state indication (XEP-0352)', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('holds a typing notification while inactive but delivers a body at once, then flushes in order', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      await bob.send(xml('presence'));
      await bob.send(xml('inactive', { xmlns: 'urn:xmpp:csi:0' }));
      await new Promise((r) => setTimeout(r, 100));
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'typing' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
      assert.equal((await bob.collect((el) => el.attrs.id === 'typing', 400)).length, 0, 'the typing notification is held');
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'body' }, xml('body', {}, 'wake up')));
      await bob.waitFor((el) => el.attrs.id === 'body');
      // The held notification is released first, so the order is kept.
      const order = bob.messages().map((m) => m.attrs.id);
      assert.deepEqual(order.slice(-2), ['typing', 'body']);
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'paused' }, xml('paused', { xmlns: 'http://jabber.org/protocol/chatstates' })));
      assert.equal((await bob.collect((el) => el.attrs.id === 'paused', 300)).length, 0);
      await bob.send(xml('active', { xmlns: 'urn:xmpp:csi:0' }));
      await bob.waitFor((el) => el.attrs.id === 'paused');
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });
});
