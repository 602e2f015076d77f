import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as wait } from 'node:timers/promises';
import { COMPONENT_SECRET, PUSH_SERVICE, startPushHerald } from '../helpers/app-server.js';
import { HeraldProcess } from '../helpers/herald.js';
import { freePort } from '../helpers/ports.js';
import { pair, PythonService, scenario, scriptReached, serverLog, user, type Json } from '../helpers/slixmpp.js';

/**
 * Interop: XEP-0357 push with slixmpp on both ends. The app server is
 * slixmpp's ComponentXMPP (./slixmpp/push_app.py) attached to Herald's
 * XEP-0114 component port as push.localhost; the users are slixmpp
 * clients sending the enable/disable IQs by hand (slixmpp has no XEP-0357
 * plugin). The app server prints one JSON line per publish it receives;
 * the assertions here are on those lines and on what the clients observed.
 */

const SERVICE = PUSH_SERVICE;
const PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';

/** The summary form of an important stanza with Herald's default privacy: the dummy body, no sender. */
const IMPORTANT_SUMMARY = {
  type: 'form',
  fields: {
    FORM_TYPE: ['urn:xmpp:push:summary'],
    'message-count': ['1'],
    'pending-subscription-count': [],
    'last-message-sender': [],
    'last-message-body': ['New Message!'],
  },
};
const UNIMPORTANT_SUMMARY = { type: 'form', fields: { ...IMPORTANT_SUMMARY.fields, 'last-message-body': [] } };

const publishOptions = (secret: string): Json => ({ type: 'submit', fields: { FORM_TYPE: [PUBLISH_OPTIONS], secret: [secret] } });
const isImportant = (p: Json): boolean => JSON.stringify(p.summary?.fields?.['last-message-body']) === '["New Message!"]';

/** push_app.py: the slixmpp app server, connected and handshaken as push.localhost. */
class SlixmppAppServer {
  private constructor(readonly service: PythonService) {}

  static async start(componentPort: number, extra: string[] = []): Promise<SlixmppAppServer> {
    const args = ['--host', '127.0.0.1', '--port', String(componentPort), '--component', SERVICE, '--secret', COMPONENT_SECRET, '--timeout', '300', ...extra];
    const service = await PythonService.start('push_app.py', args, (l) => l.event === 'ready');
    assert.equal(service.lines.find((l) => l.event === 'ready')?.jid, SERVICE);
    return new SlixmppAppServer(service);
  }

  /** Every publish received so far, in order. */
  get publishes(): Json[] {
    return this.service.lines.filter((l) => l.event === 'publish');
  }

  forNode(node: string, from = 0): Json[] {
    return this.publishes.slice(from).filter((p) => p.node === node);
  }

  /** Waits until `n` publishes (since index `from`) satisfy `match`. */
  received(n: number, match: (p: Json) => boolean, from = 0, timeoutMs = 10_000): Promise<void> {
    return this.service.waitFor(() => this.publishes.slice(from).filter(match).length >= n, timeoutMs, `${n} publish(es) of the kind awaited`);
  }

  context(): string {
    return this.service.context();
  }

  /** Stops it and checks that it stayed connected and reported the same publishes in its last line. */
  async stop(): Promise<void> {
    const streamed = this.publishes;
    const last = await this.service.stop();
    assert.deepEqual(last.stream_errors, []);
    assert.deepEqual(last.publishes, streamed, 'the last line repeats every publish');
  }

  kill(): void {
    this.service.kill();
  }
}

describe('slixmpp interop: XEP-0357 push to a slixmpp app server (XEP-0114 component)', { timeout: 180_000 }, () => {
  let h: HeraldProcess;
  let app: SlixmppAppServer;
  before(async () => {
    const started = await startPushHerald(['alice', 'bob', 'carol', 'dave', 'erin']);
    h = started.h;
    app = await SlixmppAppServer.start(started.componentPort);
  });
  after(async () => {
    app?.kill();
    await h?.cleanup();
  });

  it('offline: one publish per message (3), with the node, the summary form with the dummy body and the publish-options secret', async () => {
    const before = app.publishes.length;
    const o = await scenario(h, 'push_offline.py', [...pair('bob', 'alice'), '--service', SERVICE, '--node', 'bob-offline', '--secret', 's3cr3t ✓', '--count', '3']);
    assert.equal(o.push_advertised, true, 'the account advertises urn:xmpp:push:0');
    assert.deepEqual(o.enable, { type: 'result' });
    const store = h.openStore();
    try {
      const regs = store.pushRegistrations.forUser('localhost', 'bob');
      assert.deepEqual(
        regs.map((r) => [r.frontend, r.service, r.node, r.resource]),
        [['xep0357', SERVICE, 'bob-offline', 'phone']],
      );
    } finally {
      store.close();
    }
    await app.received(3, (p) => p.node === 'bob-offline', before);
    await wait(1000); // a fourth (duplicate) publish would be here by now
    const got = app.publishes.slice(before);
    assert.equal(got.length, 3, `exactly one publish per message:\n${app.context()}`);
    for (const p of got) {
      assert.equal(p.from, 'localhost');
      assert.equal(p.to, SERVICE);
      assert.equal(p.node, 'bob-offline');
      assert.equal(p.items, 1);
      assert.equal(p.notification, true);
      assert.deepEqual(p.summary, IMPORTANT_SUMMARY);
      assert.deepEqual(p.publish_options, publishOptions('s3cr3t ✓'));
      assert.equal(p.answer, 'result');
      assert.ok(p.t >= o.t_user_gone, `published after bob left: ${p.t} < ${o.t_user_gone}`);
    }
  });

  it('hibernation: one publish with the dummy body for the message to a cut XEP-0198 session, which then resumes and gets it once', async (t) => {
    const sync = mkdtempSync(join(tmpdir(), 'herald-push-sync-'));
    const before = app.publishes.length;
    let atReturn = 0;
    try {
      const [o, log] = await serverLog(h, ['hibernating', 'session resumed'], async () => {
        const run = scenario(h, 'push_hibernate.py', [
          ...pair('carol', 'alice'), '--service', SERVICE, '--node', 'carol-hib', '--secret', 'hib-secret', '--sync', sync, '--timeout', '30',
        ]);
        run.catch(() => undefined); // awaited below; a failure before `away` is reported by scriptReached
        await scriptReached(join(sync, 'away'), run, 30_000);
        await app.received(1, (p) => p.node === 'carol-hib' && isImportant(p), before);
        await wait(1500); // the batch window is 1 s: anything else for this batch is here by now
        atReturn = app.publishes.length;
        writeFileSync(join(sync, 'return'), '');
        return run;
      });
      await wait(500);
      const mine = app.forNode('carol-hib', before);
      const whileAway = mine.slice(0, atReturn - before);
      const important = whileAway.filter(isImportant);
      const unimportant = whileAway.filter((p) => !isImportant(p));
      t.diagnostic(`stanzas unacknowledged by slixmpp at the cut (Herald's log): ${log[0]?.unacked}; unimportant publishes: ${unimportant.length}`);
      assert.equal(app.publishes.length - before, mine.length, `only carol's node was published to:\n${app.context()}`);
      assert.equal(important.length, 1, `one important publish for hib-1:\n${app.context()}`);
      assert.ok(unimportant.length <= 1, `at most one unimportant publish (stanzas not yet acknowledged at the cut):\n${app.context()}`);
      for (const p of unimportant) assert.deepEqual(p.summary, UNIMPORTANT_SUMMARY);
      const [p] = important as [Json];
      assert.deepEqual(p.summary, IMPORTANT_SUMMARY);
      assert.deepEqual(p.publish_options, publishOptions('hib-secret'));
      assert.deepEqual([p.from, p.to, p.answer], ['localhost', SERVICE, 'result']);
      assert.ok(p.t > o.t_cut, 'published while the session hibernated');
      assert.ok(whileAway.every((q) => q.t > o.t_cut && q.t < o.t_reconnect), JSON.stringify(whileAway));
      assert.deepEqual(mine.slice(whileAway.length), [], 'nothing published once the session resumed');
      assert.deepEqual(o.enable, { type: 'result' });
      assert.equal(o.received_while_away, 0);
      assert.equal(o.reconnection.resumed, true, JSON.stringify(o.reconnection));
      assert.deepEqual(
        (o.received as Json[]).map((m) => [m.id, m.from]),
        [['hib-1', 'alice@localhost/desk']],
        'the message arrives once, on the resumed stream',
      );
      assert.deepEqual(log.map((l) => l.msg), ['hibernating', 'session resumed'], `Herald's view: ${JSON.stringify(log)}`);
    } finally {
      rmSync(sync, { recursive: true, force: true });
    }
  });

  it('disable: after <disable node/> only the other node is published to; after <disable/> without a node, nothing', async () => {
    const before = app.publishes.length;
    const o = await scenario(h, 'push_disable.py', [...pair('dave', 'alice'), '--service', SERVICE, '--node-prefix', 'dave', '--settle', '1.5']);
    await wait(500);
    assert.deepEqual(
      (o.answers as Json[]).map((a) => [a.verb, a.node, a.type]),
      [
        ['enable', 'dave-1', 'result'],
        ['enable', 'dave-2', 'result'],
        ['disable', 'dave-1', 'result'],
        ['enable', 'dave-3', 'result'],
        ['disable', null, 'result'],
      ],
    );
    const got = app.publishes.slice(before);
    assert.deepEqual(got.map((p) => p.node), ['dave-2'], `dis-1 reaches dave-2 only, dis-2 nothing:\n${app.context()}`);
    const [p] = got as [Json];
    assert.deepEqual(p.summary, IMPORTANT_SUMMARY);
    assert.equal(p.publish_options, null, 'enabled without a publish-options form');
    assert.ok(p.t < o.t_disabled_all, `the publish is for dis-1 (${p.t} < ${o.t_disabled_all})`);
    const store = h.openStore();
    try {
      assert.deepEqual(store.pushRegistrations.forUser('localhost', 'dave'), []);
    } finally {
      store.close();
    }
  });

  it('refuses an enable without a jid (bad-request, "Missing jid") and one naming the user itself (bad-request)', async () => {
    const before = app.publishes.length;
    const o = await scenario(h, 'push_enable_errors.py', user('erin'));
    assert.deepEqual(o.missing_jid, { type: 'error', error_type: 'modify', condition: 'bad-request', text: 'Missing jid' });
    for (const own of ['own_bare', 'own_full']) {
      assert.equal(o[own].type, 'error', `${own}: ${JSON.stringify(o[own])}`);
      assert.equal(o[own].condition, 'bad-request', `${own}: ${JSON.stringify(o[own])}`);
      assert.equal(o[own].error_type, 'modify');
    }
    assert.equal(o.push_advertised_after, true);
    const store = h.openStore();
    try {
      assert.deepEqual(store.pushRegistrations.forUser('localhost', 'erin'), [], 'nothing registered');
    } finally {
      store.close();
    }
    assert.equal(app.publishes.length, before);
  });

  it('the app server stayed connected throughout and stops cleanly', async () => {
    await app.stop();
  });
});

describe('slixmpp interop: XEP-0357 retry after a wait error from the app server', { timeout: 60_000 }, () => {
  let h: HeraldProcess;
  let app: SlixmppAppServer;
  before(async () => {
    const started = await startPushHerald(['alice', 'bob']);
    h = started.h;
    app = await SlixmppAppServer.start(started.componentPort, ['--fail-first', '1', '--error-type', 'wait', '--error-condition', 'resource-constraint']);
  });
  after(async () => {
    app?.kill();
    await h?.cleanup();
  });

  it('publishes again after <error type="wait"><resource-constraint/></error>; the second publish is accepted and nothing follows', async () => {
    const o = await scenario(h, 'push_offline.py', [...pair('bob', 'alice'), '--service', SERVICE, '--node', 'bob-retry', '--secret', 'retry-secret', '--count', '1']);
    assert.deepEqual(o.enable, { type: 'result' });
    await app.received(2, () => true);
    await wait(1500); // with a 0.05 s base delay a further retry would be here by now
    const got = app.publishes;
    assert.deepEqual(
      got.map((p) => [p.seq, p.node, p.answer]),
      [
        [1, 'bob-retry', 'error wait/resource-constraint'],
        [2, 'bob-retry', 'result'],
      ],
      app.context(),
    );
    for (const p of got) {
      assert.deepEqual(p.summary, IMPORTANT_SUMMARY);
      assert.deepEqual(p.publish_options, publishOptions('retry-secret'));
    }
    assert.notEqual(got[0]?.id, got[1]?.id, 'the retry is a new IQ');
    assert.ok((got[1]?.t as number) > (got[0]?.t as number));
    await app.stop();
  });
});
