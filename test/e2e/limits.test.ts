import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { RawConnection, STREAM_OPEN } from '../helpers/raw.js';
import { streamErrorOf, TestClient, xml } from '../helpers/xmpp.js';

/** Every bad-input case closes only the offending stream; these two keep talking throughout. */
async function bystandersStillTalk(alice: TestClient, bob: TestClient, id: string): Promise<void> {
  await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id }, xml('body', {}, 'still here?')));
  await bob.waitFor((el) => el.is('message') && el.attrs.id === id);
}

describe('limits and bad input', () => {
  let h: HeraldProcess;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_LIMITS_MAX_STANZA_BYTES: '65536' } });
    for (const u of ['alice', 'bob', 'mallory', 'trent']) await h.addUser(u, `${u}-pass`);
    alice = await TestClient.connect(h, 'alice', 'alice-pass');
    bob = await TestClient.connect(h, 'bob', 'bob-pass');
    await bob.send(xml('presence'));
  });
  after(async () => {
    await alice.stop();
    await bob.stop();
    await h.cleanup();
  });

  it('closes a stream that sends an oversize stanza with policy-violation', async () => {
    const mallory = await TestClient.connect(h, 'mallory', 'mallory-pass');
    const error = streamErrorOf(mallory);
    await mallory.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'x'.repeat(70_000)))).catch(() => undefined);
    assert.equal(await error, 'policy-violation');
    await bystandersStillTalk(alice, bob, 'after-oversize');
    assert.equal((await bob.collect((el) => (el.getChildText('body') ?? '').length > 1000, 100)).length, 0);
  });

  it('closes a stream that declares an entity with restricted-xml', async () => {
    const mallory = await TestClient.connect(h, 'mallory', 'mallory-pass');
    const error = streamErrorOf(mallory);
    mallory.xmpp.write("<!ENTITY lol 'lol'>").catch(() => undefined);
    assert.equal(await error, 'restricted-xml');
    await bystandersStillTalk(alice, bob, 'after-entity');
  });

  it('refuses a DTD with billion-laughs entities before the stream, without expanding them', async () => {
    const raw = await RawConnection.connect(h.c2sPort);
    const lol = "<!ENTITY lol0 'lol'>" + Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} '${`&lol${i};`.repeat(10)}'>`).join('');
    raw.write(`<?xml version='1.0'?><!DOCTYPE stream:stream [${lol}]>${STREAM_OPEN().replace("<?xml version='1.0'?>", '')}`);
    await raw.waitFor(/<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await raw.waitClosed();
    await bystandersStillTalk(alice, bob, 'after-dtd');
  });

  it('closes a stream with comments or processing instructions with restricted-xml', async () => {
    for (const bad of ['<!-- hidden -->', '<?evil instruction?>']) {
      const mallory = await TestClient.connect(h, 'mallory', 'mallory-pass');
      const error = streamErrorOf(mallory);
      mallory.xmpp.write(bad).catch(() => undefined);
      assert.equal(await error, 'restricted-xml', bad);
    }
  });

  it('closes a stream with malformed XML with not-well-formed', async () => {
    const mallory = await TestClient.connect(h, 'mallory', 'mallory-pass');
    const error = streamErrorOf(mallory);
    mallory.xmpp.write("<message to='bob@localhost'><body>x</bdy></message>").catch(() => undefined);
    assert.equal(await error, 'not-well-formed');
    await bystandersStillTalk(alice, bob, 'after-malformed');
  });

  it('answers a stanza that hits a storage failure with wait/internal-server-error (a storage thread: drops it for a resend), and keeps running', async () => {
    // A trigger makes the offline store fail the way a full disk or a corrupt page would.
    const store = h.openStore();
    store.db.exec("CREATE TRIGGER fail_offline BEFORE INSERT ON offline BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;");
    const threaded = process.env.HERALD_STORAGE_THREAD !== 'false'; // storage.thread is on by default
    // With a storage thread a failed write is known only at the turn's commit, after the
    // handler ran: the input is rolled back, the connection dropped unanswered, and the
    // client's stream management sends the stanza again (docs/ARCHITECTURE.md).
    const trent = threaded ? await TestClient.connect(h, 'trent', 'trent-pass', { reconnect: true }) : null;
    try {
      if (trent) {
        await trent.send(xml('message', { to: 'mallory@localhost', type: 'chat', id: 'store-fail' }, xml('body', {}, 'hello')));
        await h.waitForLog('storage failed while handling input');
      } else {
        await alice.send(xml('message', { to: 'mallory@localhost', type: 'chat', id: 'store-fail' }, xml('body', {}, 'hello')));
        const err = await alice.waitFor((el) => el.attrs.id === 'store-fail' && el.attrs.type === 'error');
        const e = err.getChild('error');
        assert.equal(e?.attrs.type, 'wait');
        assert.ok(e?.getChild('internal-server-error', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
      }
    } finally {
      store.db.exec('DROP TRIGGER fail_offline');
      store.close();
    }
    await bystandersStillTalk(alice, bob, 'after-storage-failure');
    // With storage healthy again the same message is stored (resent by trent's client, if threaded).
    await alice.send(xml('message', { to: 'mallory@localhost', type: 'chat', id: 'store-ok' }, xml('body', {}, 'hello again')));
    const mallory = await TestClient.connect(h, 'mallory', 'mallory-pass');
    await mallory.send(xml('presence'));
    await mallory.waitFor((el) => el.attrs.id === 'store-ok');
    if (trent) {
      await mallory.waitFor((el) => el.attrs.id === 'store-fail', 15_000);
      await mallory.collect(() => false, 300);
      assert.equal(mallory.messages().filter((m) => m.attrs.id === 'store-fail').length, 1);
      await trent.stop();
    }
    await mallory.stop();
  });
});

describe('failures outside any client input', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_SM_RESUME_TIMEOUT: '1' } });
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('a storage failure when a hibernated session times out is logged; the server keeps running', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { presence: true });
    await bob.waitFor((el) => el.is('presence') && el.attrs.from === bob.jid); // stream management is on by then
    bob.cut();
    await h.waitForLog('hibernating');
    // Ending the session stores its resumption tombstone; make that fail as a full disk would.
    const store = h.openStore();
    store.db.exec("CREATE TRIGGER fail_tombstone BEFORE INSERT ON sm_tombstones BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;");
    try {
      await h.waitForLog('background work failed');
    } finally {
      store.db.exec('DROP TRIGGER fail_tombstone');
      store.close();
    }
    // bob can log in again, and messages flow.
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const bobAgain = await TestClient.connect(h, 'bob', 'bob-pass', { presence: true });
    try {
      await bystandersStillTalk(alice, bobAgain, 'after-timer-failure');
    } finally {
      await alice.stop();
      await bobAgain.stop();
    }
  });
});
