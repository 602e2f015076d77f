import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const idsOf = (c: TestClient, prefix: string): string[] =>
  c.messages().map((m) => m.attrs.id as string).filter((id) => id?.startsWith(prefix));
const chat = (to: string, id: string): Element => xml('message', { to, type: 'chat', id }, xml('body', {}, `body of ${id}`));

describe('stream management (XEP-0198)', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_SM_RESUME_TIMEOUT: '60' } });
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('a client whose connection is cut resumes and gets every message exactly once', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { reconnect: true, presence: true });
    try {
      await bob.waitFor((el) => el.is('presence') && el.attrs.from === bob.jid);
      for (let i = 0; i < 3; i++) await alice.send(chat('bob@localhost', `a${i}`));
      await bob.waitFor((el) => el.attrs.id === 'a2');
      const resumed = bob.resumed();
      bob.cut();
      // While bob's connection is gone these go into his hibernating session.
      for (let i = 3; i < 10; i++) await alice.send(chat('bob@localhost', `a${i}`));
      await resumed;
      await bob.waitFor((el) => el.attrs.id === 'a9');
      await bob.collect(() => false, 300);
      assert.deepEqual(idsOf(bob, 'a'), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
      // Messages that waited are marked with when they were meant to arrive.
      const late = bob.messages().find((m) => m.attrs.id === 'a5');
      assert.ok(late?.getChild('delay', 'urn:xmpp:delay'), late?.toString());
      // The resumed session is the same one: presence kept, nobody saw it go away.
      assert.equal(alice.received.filter((el) => el.is('presence') && el.attrs.type === 'unavailable').length, 0);
      await alice.send(chat('bob@localhost', 'after'));
      await bob.waitFor((el) => el.attrs.id === 'after');
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it('a resumption with an unknown id fails with item-not-found', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass', { reconnect: true, presence: true });
    try {
      const sm = (carol.xmpp as unknown as { streamManagement: { id: string } }).streamManagement;
      for (let i = 0; i < 100 && sm.id === ''; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(sm.id.length > 10, 'resumption id');
      sm.id = 'not-a-session-id';
      const online = carol.online();
      carol.cut();
      await online; // resumption failed, so the client bound a new session
      assert.equal(carol.jid, 'carol@localhost/test');
    } finally {
      await carol.stop();
    }
  });

  it('a stanza whose commit failed is not counted as handled: the resuming client sends it again, and it is stored once', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { reconnect: true });
    // A deferred foreign key is only checked at COMMIT, so the message is handled, counted and
    // written, and then its whole transaction fails, as a full disk would make it.
    const store = h.openStore();
    store.db.exec(`CREATE TABLE fail_parent (id INTEGER PRIMARY KEY);
      CREATE TABLE fail_child (p INTEGER REFERENCES fail_parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER fail_commit AFTER INSERT ON offline BEGIN INSERT INTO fail_child VALUES (1); END;`);
    try {
      const resumed = alice.resumed(15_000);
      await alice.send(chat('erin@localhost', 'rolled-back'));
      await h.waitForLog('group commit failed');
      store.db.exec('DROP TRIGGER fail_commit; DROP TABLE fail_child; DROP TABLE fail_parent;');
      // The connection was dropped with its output unsent; the client resumes and resends
      // what the server's h does not cover (it may take more than one try while the trigger lived).
      await resumed;
      const erin = await TestClient.connect(h, 'erin', 'erin-pass');
      try {
        await erin.send(xml('presence'));
        await erin.waitFor((el) => el.attrs.id === 'rolled-back', 15_000);
        await erin.collect(() => false, 300);
        assert.deepEqual(idsOf(erin, 'rolled-back'), ['rolled-back']);
      } finally {
        await erin.stop();
      }
    } finally {
      store.close();
      await alice.stop();
    }
  });

  it('after a graceful restart resumption fails, and the queued messages come from offline storage', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const dave = await TestClient.connect(h, 'dave', 'dave-pass', { reconnect: true, presence: true });
    try {
      await dave.waitFor((el) => el.is('presence') && el.attrs.from === dave.jid);
      // r0 is acknowledged before the cut: the server asks right after sending it, the client
      // answers as it reads the request, and the ping below follows that answer on the stream.
      const askedAfterR0 = new Promise<void>((resolve) => {
        dave.xmpp.on('nonza', (el: Element) => {
          if (el.is('r', 'urn:xmpp:sm:3') && idsOf(dave, 'r').includes('r0')) resolve();
        });
      });
      await alice.send(chat('dave@localhost', 'r0'));
      await dave.waitFor((el) => el.attrs.id === 'r0');
      const sm = (dave.xmpp as unknown as { streamManagement: { outbound: number; outbound_q: unknown[] } }).streamManagement;
      await askedAfterR0;
      await dave.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      // What the client sent since enabling; the server must report having handled exactly that.
      const sent = sm.outbound + sm.outbound_q.length;
      assert.ok(sent >= 1);
      dave.xmpp.reconnect.stop();
      dave.cut();
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 1; i < 6; i++) await alice.send(chat('dave@localhost', `r${i}`));
      await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      await alice.stop();
      h = await h.restart();
      const failedH = new Promise<string | undefined>((resolve) => {
        dave.xmpp.on('nonza', (el: Element) => {
          if (el.is('failed', 'urn:xmpp:sm:3')) resolve(el.attrs.h as string | undefined);
        });
      });
      const online = dave.online(15_000);
      await dave.xmpp.reconnect.reconnect();
      await online;
      // The server remembers how much it had handled from the old session.
      assert.equal(await failedH, String(sent));
      await dave.waitFor((el) => el.attrs.id === 'r5', 5000);
      await dave.collect(() => false, 300);
      assert.deepEqual(idsOf(dave, 'r'), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
      for (const m of dave.messages().filter((m) => m.attrs.id !== 'r0')) assert.ok(m.getChild('delay', 'urn:xmpp:delay'));
    } finally {
      await dave.stop();
    }
  });
});
