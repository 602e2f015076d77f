import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as wait } from 'node:timers/promises';
import { AppServer, COMPONENT_SECRET, startPushHerald, summaryOf } from '../helpers/app-server.js';
import { herald } from '../helpers/cli.js';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const PUSH = 'urn:xmpp:push:0';
const SECRET = COMPONENT_SECRET;

function enable(c: TestClient, jid: string, node: string, secret?: string, ...extra: Element[]): Promise<Element> {
  const form =
    secret === undefined
      ? null
      : xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
          xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/pubsub#publish-options')),
          xml('field', { var: 'secret' }, xml('value', {}, secret)));
  const el = xml('enable', { xmlns: PUSH, jid, node });
  if (form) el.append(form);
  for (const e of extra) el.append(e);
  return c.iq(xml('iq', { type: 'set' }, el));
}
const disable = (c: TestClient, jid: string, node?: string): Promise<Element> =>
  c.iq(xml('iq', { type: 'set' }, xml('disable', node === undefined ? { xmlns: PUSH, jid } : { xmlns: PUSH, jid, node })));
const chat = (to: string, id: string, body = `hello ${id}`): Element => xml('message', { to, type: 'chat', id }, xml('body', {}, body));
const nodeOf = (p: Element): string | undefined => p.getChild('pubsub')?.getChild('publish')?.attrs.node as string | undefined;

const startHerald = (env: Record<string, string> = {}): ReturnType<typeof startPushHerald> =>
  startPushHerald(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'appserver'], env);

/** A fresh Herald for one test, cleaned up whatever the test does. */
async function withHerald(env: Record<string, string>, body: (h: HeraldProcess, componentPort: number) => Promise<void>): Promise<void> {
  const { h, componentPort } = await startHerald(env);
  try {
    await body(h, componentPort);
  } finally {
    await h.cleanup();
  }
}

/** bob enables push at push.localhost under `node`, then goes offline. */
async function bobEnablesAndLeaves(h: HeraldProcess, node: string): Promise<void> {
  const bob = await TestClient.connect(h, 'bob', 'bob-pass');
  await enable(bob, 'push.localhost', node);
  await bob.stop();
}

describe('XEP-0357 push to an app server component', () => {
  let h: HeraldProcess;
  let app: AppServer;
  let alice: TestClient;
  before(async () => {
    const started = await startHerald();
    h = started.h;
    app = await AppServer.start(started.componentPort, 'push.localhost', SECRET);
    alice = await TestClient.connect(h, 'alice', 'alice-pass');
  });
  after(async () => {
    await alice.stop();
    await app.stop();
    await h.cleanup();
  });

  it('advertises urn:xmpp:push:0 on the account and refuses bad enables', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      const info = await bob.iq(xml('iq', { type: 'get', to: 'bob@localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var);
      assert.ok(features?.includes(PUSH));
      assert.ok(features?.includes('tigase:push:encrypt:0'));
      const missing = await bob.askError(xml('iq', { type: 'set' }, xml('enable', { xmlns: PUSH, node: 'x' })));
      assert.deepEqual([missing.condition, missing.text], ['bad-request', 'Missing jid']);
      for (const own of ['bob@localhost', bob.jid]) {
        const r = await bob.askError(xml('iq', { type: 'set' }, xml('enable', { xmlns: PUSH, jid: own, node: 'x' })));
        assert.deepEqual([r.condition, r.text], ['bad-request', 'JID must be different from ours']);
      }
      const badKey = await bob.askError(
        xml('iq', { type: 'set' }, xml('enable', { xmlns: PUSH, jid: 'push.localhost', node: 'x' }, xml('encrypt', { xmlns: 'tigase:push:encrypt:0', alg: 'aes-128-gcm' }, 'c2hvcnQ='))),
      );
      assert.deepEqual([badKey.condition, badKey.text], ['bad-request', 'Invalid encryption key']);
      const servers = await bob.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
      assert.ok(servers.getChild('query')?.getChildren('item').some((i) => i.attrs.jid === 'push.localhost'), 'the component is listed');
    } finally {
      await bob.stop();
    }
  });

  it('offline: publishes exactly what mod_cloud_notify publishes, with the publish-options echoed', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    await enable(bob, 'push.localhost', 'bob-node', 's3cr3t');
    await bob.stop(); // a clean close: no session left
    const before = app.publishes.length;
    await alice.send(chat('bob@localhost', 'off1'));
    await app.received(before + 1);
    await wait(300);
    assert.equal(app.publishes.length, before + 1, 'one push for one message (archived + offline deduplicated)');
    const p = app.publishes[before] as Element;
    assert.equal(p.attrs.from, 'localhost');
    assert.equal(p.attrs.to, 'push.localhost');
    assert.equal(p.attrs.type, 'set');
    assert.equal(nodeOf(p), 'bob-node');
    assert.deepEqual(summaryOf(p), {
      FORM_TYPE: 'urn:xmpp:push:summary',
      'message-count': '1',
      'pending-subscription-count': undefined,
      'last-message-sender': undefined,
      'last-message-body': 'New Message!',
    });
    const form = p.getChild('pubsub')?.getChild('publish')?.getChild('item')?.getChild('notification')?.getChild('x');
    assert.equal(form?.attrs.type, 'form');
    const options = p.getChild('pubsub')?.getChild('publish-options')?.getChild('x');
    assert.equal(options?.getChildren('field').find((f) => f.attrs.var === 'secret')?.getChildText('value'), 's3cr3t');
  });

  it('hibernated (cut socket): one push for the message that arrives while the connection is gone', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass', { presence: true });
    await carol.waitFor((el) => el.is('presence') && el.attrs.from === carol.jid);
    await enable(carol, 'push.localhost', 'carol-node');
    await wait(300);
    carol.cut();
    await wait(300);
    const before = app.publishes.length;
    await alice.send(chat('carol@localhost', 'hib1'));
    await app.received(before + 1);
    await wait(1500);
    const mine = app.publishes.slice(before).filter((p) => nodeOf(p) === 'carol-node');
    // One important push for the message. @xmpp/client does not count IQ results in its
    // XEP-0198 h (its IQ caller consumes them first), so the result of its own enable IQ is
    // still unacknowledged when the connection dies: that may add one unimportant push, as
    // the batching rule allows (at most one important and one unimportant).
    const important = mine.filter((p) => summaryOf(p)['last-message-body'] === 'New Message!');
    const unimportant = mine.filter((p) => summaryOf(p)['last-message-body'] === undefined);
    assert.equal(important.length, 1);
    assert.ok(unimportant.length <= 1);
    assert.equal(important.length + unimportant.length, mine.length);
  });

  it('ack delay: a connected client that stops acknowledging gets a push', async () => {
    const dave = await TestClient.connect(h, 'dave', 'dave-pass', { presence: true });
    try {
      await dave.waitFor((el) => el.is('presence') && el.attrs.from === dave.jid);
      await enable(dave, 'push.localhost', 'dave-node');
      await wait(400);
      dave.suppressAcks();
      const before = app.publishes.length;
      await alice.send(chat('dave@localhost', 'ack1'));
      await dave.waitFor((el) => el.attrs.id === 'ack1');
      await app.received(before + 1, 5000);
      assert.equal(nodeOf(app.publishes[before] as Element), 'dave-node');
    } finally {
      await dave.stop();
    }
  });

  it('disable a node, then a whole service: no more pushes', async () => {
    const erin = await TestClient.connect(h, 'erin', 'erin-pass');
    await enable(erin, 'push.localhost', 'e1');
    await enable(erin, 'push.localhost', 'e2');
    await disable(erin, 'push.localhost', 'e1');
    await erin.stop();
    let before = app.publishes.length;
    await alice.send(chat('erin@localhost', 'dis1'));
    await app.received(before + 1);
    await wait(300);
    assert.deepEqual(app.publishes.slice(before).map(nodeOf), ['e2']);
    const again = await TestClient.connect(h, 'erin', 'erin-pass');
    await enable(again, 'push.localhost', 'e3');
    await disable(again, 'push.localhost');
    await again.stop();
    before = app.publishes.length;
    await alice.send(chat('erin@localhost', 'dis2'));
    await wait(800);
    assert.equal(app.publishes.length, before);
  });

  it('important vs unimportant: a typing notification to a hibernating session pushes without a body', async () => {
    const frank = await TestClient.connect(h, 'frank', 'frank-pass', { presence: true });
    await frank.waitFor((el) => el.is('presence') && el.attrs.from === frank.jid);
    await enable(frank, 'push.localhost', 'frank-node');
    await wait(300);
    frank.cut();
    await wait(300);
    const before = app.publishes.length;
    await alice.send(xml('message', { to: 'frank@localhost', type: 'chat', id: 'typing' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await app.received(before + 1);
    assert.equal(summaryOf(app.publishes[before] as Element)['last-message-body'], undefined);
  });

  it('a wait error is retried until it succeeds; the push arrives once accepted', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    await enable(bob, 'push.localhost', 'retry-node');
    await disable(bob, 'push.localhost', 'bob-node');
    await bob.stop();
    const before = app.publishes.length;
    app.answerNext({ type: 'wait', condition: 'resource-constraint' }, { type: 'wait', condition: 'internal-server-error' });
    await alice.send(chat('bob@localhost', 'retry1'));
    await app.received(before + 3, 10_000);
    await wait(800);
    const attempts = app.publishes.slice(before);
    assert.equal(attempts.length, 3, 'two refusals, then the accepted one, and nothing after');
    assert.ok(attempts.every((p) => nodeOf(p) === 'retry-node'));
    const metrics = await (await fetch(`http://127.0.0.1:${h.httpPort}/metrics`)).text();
    assert.match(metrics, /herald_push_retries_total\{frontend="xep0357"\} [1-9]/);
    // The push for an offline user's message is recorded under its first trigger, 'archived'.
    assert.match(metrics, /herald_pushes_total\{frontend="xep0357",reason="archived",outcome="sent",condition=""\} [1-9]/);
    assert.match(metrics, /herald_push_outbox_depth 0/);
  });

  it('16 permanent errors in a row remove the registration', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass', { resource: 'other' });
    await enable(carol, 'push.localhost', 'doomed');
    await disable(carol, 'push.localhost', 'carol-node');
    await carol.stop();
    await wait(200);
    const hibernating = h.openStore();
    try {
      // Only 'doomed' may remain for carol (her cut session still hibernates).
      assert.deepEqual(hibernating.pushRegistrations.forUser('localhost', 'carol').map((r) => r.node), ['doomed']);
    } finally {
      hibernating.close();
    }
    app.defaultAnswer = { type: 'cancel', condition: 'item-not-found' };
    const before = app.publishes.length;
    try {
      for (let i = 0; i < 16; i++) {
        await alice.send(chat('carol@localhost', `err${i}`));
        await app.received(before + i + 1);
      }
      await wait(300);
      const store = h.openStore();
      try {
        assert.deepEqual(store.pushRegistrations.forUser('localhost', 'carol'), []);
      } finally {
        store.close();
      }
      await alice.send(chat('carol@localhost', 'err-after'));
      await wait(600);
      assert.equal(app.publishes.length, before + 16);
    } finally {
      app.defaultAnswer = 'ok';
    }
  });

  it('Tigase encrypted push: the payload decrypts with the device key, with a high-priority tag', async () => {
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const erin = await TestClient.connect(h, 'erin', 'erin-pass', { resource: 'siskin' });
    await enable(erin, 'push.localhost', 'enc', undefined, xml('encrypt', { xmlns: 'tigase:push:encrypt:0', alg: 'aes-128-gcm' }, key.toString('base64')));
    await erin.stop();
    const before = app.publishes.length;
    await alice.send(chat('erin@localhost', 'enc1', 'für dich'));
    await app.received(before + 1);
    const notification = app.publishes[before]?.getChild('pubsub')?.getChild('publish')?.getChild('item')?.getChild('notification', PUSH);
    assert.equal(notification?.getChild('x', 'jabber:x:data'), undefined, 'no clear summary form');
    assert.equal(notification?.getChildText('priority', 'tigase:push:priority:0'), 'high');
    const enc = notification?.getChild('encrypted', 'tigase:push:encrypt:0') as Element;
    const data = Buffer.from(enc.text(), 'base64');
    const d = createDecipheriv('aes-128-gcm', key, Buffer.from(enc.attrs.iv as string, 'base64'));
    d.setAuthTag(data.subarray(data.length - 16));
    const payload = JSON.parse(Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]).toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(payload, { unread: 1, sender: 'alice@localhost', type: 'chat', message: 'für dich' });
  });

  it('max_devices: a sixth registration evicts the oldest', async () => {
    const dave = await TestClient.connect(h, 'dave', 'dave-pass', { resource: 'devices' });
    await disable(dave, 'push.localhost');
    for (let i = 1; i <= 6; i++) await enable(dave, 'push.localhost', `d${i}`);
    await dave.stop();
    await wait(1200); // the earlier dave session's queue settles
    const before = app.publishes.length;
    await alice.send(chat('dave@localhost', 'dev1'));
    await app.received(before + 5);
    await wait(400);
    assert.deepEqual(app.publishes.slice(before).map(nodeOf).sort(), ['d2', 'd3', 'd4', 'd5', 'd6']);
  });
});

describe('XEP-0357 privacy options and durability', () => {
  it('with_body and with_sender put the real body and sender in the summary', async () => {
    const { h, componentPort } = await startHerald({ HERALD_PUSH_WITH_BODY: 'true', HERALD_PUSH_WITH_SENDER: 'true' });
    const app = await AppServer.start(componentPort, 'push.localhost', SECRET);
    try {
      await bobEnablesAndLeaves(h, 'n');
      const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
      await alice.send(chat('bob@localhost', 'b1', 'the real text'));
      await app.received(1);
      const s = summaryOf(app.publishes[0] as Element);
      assert.equal(s['last-message-body'], 'the real text');
      assert.equal(s['last-message-sender'], 'alice@localhost/laptop');
      await alice.stop();
    } finally {
      await app.stop();
      await h.cleanup();
    }
  });

  it('an app server that is an ordinary account, on a full JID', async () => {
    const { h } = await startHerald();
    const appserver = await TestClient.connect(h, 'appserver', 'appserver-pass', { resource: 'pushd' });
    const got: Element[] = [];
    (appserver.xmpp as unknown as { iqCallee: { set(ns: string, name: string, f: (ctx: { stanza: Element }) => boolean): void } }).iqCallee.set(
      'http://jabber.org/protocol/pubsub',
      'pubsub',
      (ctx) => {
        got.push(ctx.stanza);
        return true;
      },
    );
    try {
      const bob = await TestClient.connect(h, 'bob', 'bob-pass');
      await enable(bob, 'appserver@localhost/pushd', 'acct-node');
      await bob.stop();
      const alice = await TestClient.connect(h, 'alice', 'alice-pass');
      await alice.send(chat('bob@localhost', 'acct1'));
      for (let i = 0; i < 100 && got.length === 0; i++) await wait(50);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.attrs.from, 'localhost');
      assert.equal(nodeOf(got[0] as Element), 'acct-node');
      await alice.stop();
    } finally {
      await appserver.stop();
      await h.cleanup();
    }
  });

  it('a push accepted but not yet delivered survives SIGKILL and arrives once after restart', async () => {
    const started = await startHerald();
    let h = started.h;
    try {
      await bobEnablesAndLeaves(h, 'durable');
      // The app server is not connected: the push waits in the outbox (no route yet).
      const alice = await TestClient.connect(h, 'alice', 'alice-pass');
      await alice.send(chat('bob@localhost', 'k1'));
      await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      await alice.stop();
      await wait(200);
      await h.stop('SIGKILL');
      h = await h.restart();
      const app = await AppServer.start(started.componentPort, 'push.localhost', SECRET);
      try {
        await app.received(1, 15_000);
        await wait(1500);
        assert.equal(app.publishes.length, 1);
        assert.equal(nodeOf(app.publishes[0] as Element), 'durable');
      } finally {
        await app.stop();
      }
    } finally {
      await h.cleanup();
    }
  });

  it('an app server that connects late gets the pushes that waited for it at once, not after their back-off', async () => {
    await withHerald({ HERALD_PUSH_RETRY_BASE_DELAY: '120' }, async (h, componentPort) => {
      await bobEnablesAndLeaves(h, 'late');
      const alice = await TestClient.connect(h, 'alice', 'alice-pass');
      await alice.send(chat('bob@localhost', 'l1'));
      await alice.send(chat('bob@localhost', 'l2'));
      await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      await alice.stop();
      await wait(500); // both attempts have failed for want of a route; the next is 90-150 s away
      const app = await AppServer.start(componentPort, 'push.localhost', SECRET);
      try {
        await app.received(2, 10_000);
        await wait(500);
        assert.deepEqual(app.publishes.map(nodeOf), ['late', 'late']);
      } finally {
        await app.stop();
      }
    });
  });

  it('a backlog larger than the in-flight window drains completely, each push once, when the app server comes back', async () => {
    await withHerald({ HERALD_PUSH_WITH_BODY: 'true', HERALD_PUSH_RETRY_BASE_DELAY: '120' }, async (h, componentPort) => {
      await bobEnablesAndLeaves(h, 'backlog');
      const alice = await TestClient.connect(h, 'alice', 'alice-pass');
      const n = 2500; // more than two scans' worth of the worker's 1,000-entry window
      for (let i = 0; i < n; i++) void alice.send(chat('bob@localhost', `b${i}`, `m${i}`));
      await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      await alice.stop();
      await wait(1000); // every first attempt has failed for want of a route
      const app = await AppServer.start(componentPort, 'push.localhost', SECRET);
      try {
        await app.received(n, 30_000);
        await wait(1000);
        const bodies = app.publishes.map((p) => summaryOf(p)['last-message-body']);
        assert.equal(bodies.length, n);
        assert.equal(new Set(bodies).size, n);
      } finally {
        await app.stop();
      }
    });
  });

  it('a failure while handling a component stream is logged, not fatal: the server and the component carry on', async () => {
    await withHerald({}, async (h, componentPort) => {
      // On connect, Herald looks for pushes that waited for this component; make that read fail.
      const store = h.openStore();
      store.db.exec('ALTER TABLE push_outbox RENAME TO push_outbox_away');
      let app: AppServer;
      try {
        // Raced with the log line, which fails at once if Herald exits: a dead server never answers the handshake.
        const started = AppServer.start(componentPort, 'push.localhost', SECRET);
        await Promise.race([started, h.waitForLog('failed to handle an element from the component').then(() => started)]);
        app = await started;
        await h.waitForLog('failed to handle an element from the component');
      } finally {
        store.db.exec('ALTER TABLE push_outbox_away RENAME TO push_outbox');
        store.close();
      }
      try {
        await bobEnablesAndLeaves(h, 'after-failure');
        const alice = await TestClient.connect(h, 'alice', 'alice-pass');
        await alice.send(chat('bob@localhost', 'f1'));
        await app.received(1, 10_000);
        await alice.stop();
        assert.equal(nodeOf(app.publishes[0] as Element), 'after-failure');
      } finally {
        await app.stop();
      }
    });
  });

  it('when recording a delivered push fails, the push is not sent again while storage recovers', async () => {
    await withHerald({}, async (h, componentPort) => {
      const app = await AppServer.start(componentPort, 'push.localhost', SECRET);
      try {
        await bobEnablesAndLeaves(h, 'once');
        const store = h.openStore();
        store.db.exec("CREATE TRIGGER fail_settle BEFORE UPDATE ON push_outbox BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;");
        try {
          const alice = await TestClient.connect(h, 'alice', 'alice-pass');
          await alice.send(chat('bob@localhost', 'o1'));
          await app.received(1);
          await alice.stop();
          await h.waitForLog('outbox update failed');
          await wait(2500); // the outbox is scanned every second meanwhile
          assert.equal(app.publishes.length, 1);
        } finally {
          store.db.exec('DROP TRIGGER fail_settle');
          store.close();
        }
        await wait(6000); // the outcome is recorded on the next try
        assert.equal(app.publishes.length, 1);
        const after = h.openStore();
        try {
          assert.equal(after.pushOutbox.pendingCount(), 0);
        } finally {
          after.close();
        }
      } finally {
        await app.stop();
      }
    });
  });

  it('herald push list, test and disable work on the running server', async () => {
    const { h, componentPort } = await startHerald();
    const app = await AppServer.start(componentPort, 'push.localhost', SECRET);
    const env = { HERALD_SERVER_DATA_DIR: h.dataDir };
    try {
      const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'phone' });
      await enable(bob, 'push.localhost', 'cli-node', 'sekrit');
      await bob.stop();
      const list = await herald(['push', 'list', 'bob@localhost'], env);
      assert.equal(list.code, 0);
      assert.match(list.stdout, /xep0357 push\.localhost node=cli-node resource=phone/);
      const test = await herald(['push', 'test', 'bob@localhost'], env);
      assert.equal(test.code, 0, test.stdout + test.stderr);
      assert.match(test.stdout, /cli-node.*: sent/);
      await app.received(1);
      const p = app.publishes[0] as Element;
      assert.equal(nodeOf(p), 'cli-node');
      assert.equal(summaryOf(p)['last-message-body'], undefined, 'a test push carries no message');
      const off = await herald(['push', 'disable', 'bob@localhost', 'push.localhost'], env);
      assert.equal(off.code, 0);
      const empty = await herald(['push', 'list', 'bob@localhost'], env);
      assert.match(empty.stdout, /no push registrations/);
    } finally {
      await app.stop();
      await h.cleanup();
    }
  });

  it('a push-enabled session stays resumable past sm.resume_timeout until its first important push', async () => {
    const { h, componentPort } = await startHerald({ HERALD_SM_RESUME_TIMEOUT: '1', HERALD_PUSH_MAX_HIBERNATION_TIMEOUT: '60' });
    const app = await AppServer.start(componentPort, 'push.localhost', SECRET);
    try {
      const bob = await TestClient.connect(h, 'bob', 'bob-pass', { reconnect: true, presence: true });
      await bob.waitFor((el) => el.is('presence') && el.attrs.from === bob.jid);
      await enable(bob, 'push.localhost', 'long');
      await wait(300);
      bob.xmpp.reconnect.stop();
      bob.cut();
      await wait(2500); // longer than sm.resume_timeout
      const resumed = bob.resumed();
      await bob.xmpp.reconnect.reconnect();
      await resumed; // still resumable: the phone could be woken by push

      bob.xmpp.reconnect.stop();
      bob.cut();
      await wait(300);
      const alice = await TestClient.connect(h, 'alice', 'alice-pass');
      await alice.send(chat('bob@localhost', 'wake'));
      await app.received(1);
      await wait(2500); // the important push went out: back to sm.resume_timeout, which has now passed
      const online = bob.online();
      await bob.xmpp.reconnect.reconnect();
      await online;
      assert.ok(h.output.some((l) => l.includes('resumption timed out')));
      await alice.stop();
      await bob.stop();
    } finally {
      await app.stop();
      await h.cleanup();
    }
  });
});
