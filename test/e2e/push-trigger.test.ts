import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { PushTriggerEvent } from '../../src/core/events.js';
import { InProcessHerald } from '../helpers/in-process.js';
import { TestClient, xml } from '../helpers/xmpp.js';

/**
 * The push trigger's contract: for each situation, the exact sequence of
 * reasons (with the stanza each one is about) that a push protocol sees.
 */
describe('push trigger', () => {
  let h: InProcessHerald;
  let events: PushTriggerEvent[] = [];
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];

  before(async () => {
    h = await InProcessHerald.start({ HERALD_SM_MAX_ACK_DELAY: '1', HERALD_SM_RESUME_TIMEOUT: '60' });
    for (const u of users) await h.addUser(u, `${u}-pass`);
    h.server.ctx.bus.on('push/trigger', (e) => {
      events.push(e);
    });
  });
  after(() => h.stop());
  beforeEach(() => {
    events = [];
  });

  /** Reasons for one user, as `reason:stanza-id`. */
  const seen = (user: string): string[] => events.filter((e) => e.username === user).map((e) => `${e.reason}:${e.stanza.attrs.id ?? e.stanza.name}`);
  const until = async (pred: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(pred(), what);
  };
  const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const chat = (to: string, id: string) => xml('message', { to, type: 'chat', id }, xml('body', {}, `text ${id}`));

  it('message to an offline user: archived, then offline', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    await alice.send(chat('bob@localhost', 'o1'));
    await until(() => seen('bob').length >= 2, 'two triggers');
    await settle();
    assert.deepEqual(seen('bob'), ['archived:o1', 'offline:o1']);
    const offline = events.find((e) => e.reason === 'offline');
    assert.equal(offline?.session, null);
    assert.deepEqual(offline?.importance, { important: true, priority: 'normal', reason: 'body' });
    assert.ok(events.find((e) => e.reason === 'archived')?.archiveId);
    assert.deepEqual(seen('alice'), [], 'never for the sender');
    await alice.stop();
  });

  it('message while the only session hibernates: archived, then hibernated', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass', { presence: true });
    await carol.waitFor((el) => el.is('presence') && el.attrs.from === carol.jid);
    await settle(200);
    carol.cut();
    await until(() => h.server.ctx.sessions.forUser('carol@localhost').every((s) => s.state === 'hibernating'), 'hibernating');
    events = [];
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    await alice.send(chat('carol@localhost', 'h1'));
    await until(() => seen('carol').length >= 2, 'two triggers');
    await settle();
    assert.deepEqual(seen('carol'), ['archived:h1', 'hibernated:h1']);
    assert.equal(events.find((e) => e.reason === 'hibernated')?.session?.username, 'carol');
    await alice.stop();
  });

  it('a stanza left unacknowledged when the connection dies: hibernated at hibernation start', async () => {
    const dave = await TestClient.connect(h, 'dave', 'dave-pass', { presence: true });
    await dave.waitFor((el) => el.is('presence') && el.attrs.from === dave.jid);
    await settle(400); // everything so far acknowledged
    dave.suppressAcks();
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    await alice.send(chat('dave@localhost', 'u1'));
    await dave.waitFor((el) => el.attrs.id === 'u1');
    dave.cut();
    await until(() => seen('dave').length >= 1, 'a trigger');
    await settle();
    // Delivered live (so neither archived nor offline), but never acknowledged.
    assert.deepEqual(seen('dave'), ['hibernated:u1']);
    await alice.stop();
  });

  it('a live session that does not acknowledge in time: ack-delayed', async () => {
    const erin = await TestClient.connect(h, 'erin', 'erin-pass', { presence: true });
    await erin.waitFor((el) => el.is('presence') && el.attrs.from === erin.jid);
    await settle(400);
    erin.suppressAcks();
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    await alice.send(chat('erin@localhost', 'd1'));
    await erin.waitFor((el) => el.attrs.id === 'd1');
    await until(() => seen('erin').length >= 1, 'ack-delayed after sm.max_ack_delay');
    await settle();
    assert.deepEqual(seen('erin'), ['ack-delayed:d1']);
    assert.equal(events[0]?.session?.jid.toString(), erin.jid);
    await alice.stop();
    await erin.stop();
  });

  it('a user with one live and one hibernated session: hibernated only', async () => {
    const phone = await TestClient.connect(h, 'frank', 'frank-pass', { resource: 'phone', presence: true });
    const desktop = await TestClient.connect(h, 'frank', 'frank-pass', { resource: 'desktop', presence: true });
    await phone.waitFor((el) => el.is('presence') && el.attrs.from === phone.jid);
    await desktop.waitFor((el) => el.is('presence') && el.attrs.from === desktop.jid);
    await settle(400);
    phone.cut();
    await until(() => h.server.ctx.sessions.forUser('frank@localhost').some((s) => s.state === 'hibernating'), 'phone hibernating');
    events = [];
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    await alice.send(chat('frank@localhost', 'l1'));
    await desktop.waitFor((el) => el.attrs.id === 'l1');
    await until(() => seen('frank').length >= 1, 'a trigger');
    await settle();
    assert.deepEqual(seen('frank'), ['hibernated:l1']);
    assert.equal(events.find((e) => e.username === 'frank')?.session?.jid.resource, 'phone');
    await alice.stop();
    await desktop.stop();
  });
});
