import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSelfSignedCert } from '../../src/net/selfsigned-cert.js';
import { HeraldProcess } from '../helpers/herald.js';
import { pair, scenario, scriptReached, serverAuthLog, serverLog, slixmppVersion, user, type Json } from '../helpers/slixmpp.js';

/**
 * Interop: slixmpp (Debian's python3-slixmpp, a client written by others)
 * drives a real Herald through the core scenarios. Each scenario is a
 * Python script in ./slixmpp/ (run through ../helpers/slixmpp.ts) that
 * prints one JSON line of what slixmpp observed; the assertions here are
 * on those observations.
 */

describe('slixmpp interop: environment', () => {
  it('/usr/bin/python3 imports slixmpp', async () => {
    const version = await slixmppVersion();
    assert.match(version, /^1\.\d+/, `slixmpp ${version}`);
  });
});

describe('slixmpp interop: SASL login', { timeout: 120_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    await h.addUser('alice', 'alice-pass');
  });
  after(() => h.cleanup());

  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
    it(`logs in with ${mech} over verified STARTTLS`, async () => {
      const [o, serverSide] = await serverAuthLog(h, () => scenario(h, 'login.py', [...user('alice'), '--mech', mech, '--resource', 'interop']));
      assert.equal(o.jid, 'alice@localhost/interop');
      assert.equal(o.forced_mechanism, mech);
      assert.deepEqual(o.auth_sent, [mech], 'the <auth mechanism=.../> slixmpp sent');
      assert.equal(o.mechanism, mech, "the mechanism slixmpp's SASL plugin finished with");
      assert.deepEqual(o.offered_mechanisms, ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
      assert.deepEqual(o.tls, { version: o.tls.version, server_hostname: 'localhost', verified: true });
      assert.equal(o.roster_fetched, true);
      assert.deepEqual(
        serverSide.map((l) => [l.user, l.mechanism]),
        [['alice@localhost', mech]],
        'Herald logged the same mechanism',
      );
    });
  }

  it('picks SCRAM-SHA-256 by itself when nothing is forced', async () => {
    const o = await scenario(h, 'login.py', user('alice'));
    assert.equal(o.mechanism, 'SCRAM-SHA-256');
    assert.match(o.jid as string, /^alice@localhost\/.+/, 'a resource is generated when none is asked for');
  });

  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
    it(`reports not-authorized for a wrong password with ${mech}`, async () => {
      const o = await scenario(h, 'login.py', ['--user', 'alice', '--password', 'not-her-password', '--mech', mech, '--expect', 'failure']);
      assert.equal(o.failure, 'not-authorized');
      assert.deepEqual(o.sasl_failures, ['not-authorized']);
      assert.deepEqual(o.auth_sent, [mech]);
      assert.equal(o.jid, null);
    });
  }

  it('reports not-authorized for an unknown user, as for a wrong password', async () => {
    const o = await scenario(h, 'login.py', ['--user', 'nobody', '--password', 'whatever-pass', '--mech', 'SCRAM-SHA-256', '--expect', 'failure']);
    assert.equal(o.failure, 'not-authorized');
    assert.equal(o.jid, null);
  });

  it('refuses a certificate from another CA before sending credentials (verification is on)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-otherca-'));
    try {
      const other = join(dir, 'other-ca.pem');
      writeFileSync(other, generateSelfSignedCert(['localhost']).cert);
      const o = await scenario(h, 'login.py', [...user('alice'), '--expect', 'tls-failure'], { ca: other });
      assert.match(o.tls_error as string, /CERTIFICATE_VERIFY_FAILED/);
      assert.deepEqual(o.auth_sent, []);
      assert.equal(o.jid, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('slixmpp interop: TLS name check', { timeout: 60_000 }, () => {
  // The test certificate (trusted here) names localhost and herald.test, not this domain.
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ domain: 'elsewhere.test' });
    await h.addUser('alice', 'alice-pass');
  });
  after(() => h.cleanup());

  it('refuses a trusted certificate issued for another name', async () => {
    const o = await scenario(h, 'login.py', [...user('alice'), '--expect', 'tls-failure']);
    assert.match(o.tls_error as string, /CERTIFICATE_VERIFY_FAILED|hostname|match/i);
    assert.deepEqual(o.auth_sent, []);
  });
});

describe('slixmpp interop: roster, presence and messages', { timeout: 120_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('subscribes both ways through the roster API; both rosters end in both; presence flows', async () => {
    const o = await scenario(h, 'roster.py', pair('alice', 'bob'));
    assert.equal(o.user.jid, 'alice@localhost/laptop');
    assert.equal(o.contact.jid, 'bob@localhost/phone');
    assert.deepEqual(o.initial_server_rosters, [{}, {}]);
    assert.equal(o.contact_got_request_from, 'alice@localhost', 'a subscription request comes from the bare JID');
    assert.deepEqual(o.after_first_approval, {
      user: { subscription: 'to', pending_out: false },
      contact: { subscription: 'from', pending_out: false },
    });
    assert.ok(
      (o.presence_after_approval as Json[]).some((p) => p.from === 'bob@localhost/phone'),
      `alice saw bob's presence after approval: ${JSON.stringify(o.presence_after_approval)}`,
    );
    assert.equal(o.user_got_request_from, 'bob@localhost');
    assert.deepEqual(o.user_client_roster, { subscription: 'both', pending_out: false });
    assert.deepEqual(o.contact_client_roster, { subscription: 'both', pending_out: false });
    assert.deepEqual(o.user_server_roster, { 'bob@localhost': { subscription: 'both', ask: null } });
    assert.deepEqual(o.contact_server_roster, { 'alice@localhost': { subscription: 'both', ask: null } });
    assert.deepEqual(o.presence_after_change, { from: 'bob@localhost/phone', show: 'away', status: 'out for lunch ☕' });
    assert.deepEqual(o.user_sees_contact_resources, ['phone']);
  });

  it('delivers chat between two online users with non-ASCII bodies intact, from the full JID', async () => {
    const o = await scenario(h, 'chat.py', pair('carol', 'dave'));
    const sent = o.sent as Json[];
    const got = o.received_by_contact as Json[];
    assert.deepEqual(
      got.map((m) => [m.id, m.body, m.from, m.type]),
      sent.map((m) => [m.id, m.body, 'carol@localhost/laptop', 'chat']),
    );
    assert.deepEqual(got.map((m) => m.to), ['dave@localhost', 'dave@localhost/phone', 'dave@localhost']);
    assert.ok(sent.some((m) => /[^\u0000-\u00ff]/u.test(m.body) && /[\u{10000}-\u{10ffff}]/u.test(m.body)), 'bodies beyond the BMP were tested');
    assert.deepEqual(o.received_by_user, [
      { id: 'chat-reply', from: 'dave@localhost/phone', to: 'carol@localhost/laptop', type: 'chat', body: 'Привет! 👋 ça va?' },
    ]);
  });

  it('stores messages for an offline user and delivers them once, in order, with XEP-0203 delay', async () => {
    const o = await scenario(h, 'offline.py', pair('erin', 'frank'));
    assert.equal(o.before_presence, 0, 'nothing is delivered before initial presence');
    const first = o.first_login as Json[];
    assert.deepEqual(
      first.map((m) => [m.id, m.body, m.from]),
      [
        ['offline-1', 'first — één', 'erin@localhost/desk'],
        ['offline-2', 'second — 二', 'erin@localhost/desk'],
        ['offline-3', 'third — ③ 🎉', 'erin@localhost/desk'],
      ],
    );
    const [sentAfter, sentBefore] = (o.sent_window as string[]).map((s) => Date.parse(s));
    for (const m of first) {
      assert.equal(m.delay_from, 'localhost', `delay from on ${m.id}`);
      const stamp = Date.parse(m.delay_stamp as string);
      assert.ok(stamp >= sentAfter - 1000 && stamp <= sentBefore + 1000, `delay stamp ${m.delay_stamp} within ${o.sent_window}`);
    }
    assert.deepEqual(o.second_login, [], 'a second login gets none');
  });
});

describe('slixmpp interop: in-band registration (XEP-0077)', { timeout: 120_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_REGISTRATION_OPEN: 'true' } });
  });
  after(() => h.cleanup());

  it('registers a new account and logs in with it on the same stream', async () => {
    const o = await scenario(h, 'register.py', ['--user', 'newbie', '--password', 'newbie-secret-1']);
    assert.equal(o.register_feature_advertised, true);
    assert.deepEqual(o.form_fields, ['password', 'username']);
    assert.equal(o.result, 'success');
    assert.match(o.jid as string, /^newbie@localhost\//);
  });

  it('logs in with the registered account on a new connection', async () => {
    const o = await scenario(h, 'login.py', ['--user', 'newbie', '--password', 'newbie-secret-1', '--mech', 'SCRAM-SHA-1']);
    assert.match(o.jid as string, /^newbie@localhost\//);
    assert.equal(o.mechanism, 'SCRAM-SHA-1');
  });

  it('answers conflict when the name is taken, and keeps the old password', async () => {
    const o = await scenario(h, 'register.py', ['--user', 'newbie', '--password', 'another-secret-2', '--expect', 'conflict']);
    assert.equal(o.result, 'error');
    assert.equal(o.error_condition, 'conflict');
    assert.equal(o.error_type, 'cancel');
    assert.equal(o.jid, null);
    const stillOld = await scenario(h, 'login.py', ['--user', 'newbie', '--password', 'newbie-secret-1']);
    assert.match(stillOld.jid as string, /^newbie@localhost\//);
    const notNew = await scenario(h, 'login.py', ['--user', 'newbie', '--password', 'another-secret-2', '--mech', 'SCRAM-SHA-256', '--expect', 'failure']);
    assert.equal(notNew.failure, 'not-authorized');
  });
});

describe('slixmpp interop: registration closed', { timeout: 60_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
  });
  after(() => h.cleanup());

  it('does not advertise in-band registration, so slixmpp cannot register', async () => {
    const o = await scenario(h, 'register.py', ['--user', 'newbie', '--password', 'newbie-secret-1', '--expect', 'unavailable']);
    assert.equal(o.register_feature_advertised, false);
    assert.equal(o.result, undefined);
    assert.equal(o.jid, null);
  });
});

describe('slixmpp interop: stream management (XEP-0198) plugin', { timeout: 60_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    await h.addUser('alice', 'alice-pass');
  });
  after(() => h.cleanup());

  it('logs in and exchanges stanzas with xep_0198 loaded, enabling SM only if Herald advertises urn:xmpp:sm:3', async (t) => {
    const o = await scenario(h, 'sm.py', user('alice'));
    t.diagnostic(`Herald advertised urn:xmpp:sm:3: ${o.sm_advertised}; slixmpp sent ${JSON.stringify(o.sm_nonzas_sent)}; enabled: ${o.sm_enabled}`);
    assert.equal(o.jid, 'alice@localhost/sm');
    assert.equal(o.echo, 'echo ✓');
    const features = o.features_seen as string[][];
    assert.ok(features.at(-1)?.includes('{urn:ietf:params:xml:ns:xmpp-bind}bind'), JSON.stringify(features));
    if (o.sm_advertised) {
      // Herald offers SM: slixmpp enables it and Herald answers an ack request.
      assert.ok(features.at(-1)?.includes('{urn:xmpp:sm:3}sm'), 'SM is offered after authentication');
      assert.ok((o.sm_nonzas_sent as string[]).includes('enable'), JSON.stringify(o.sm_nonzas_sent));
      assert.equal(o.sm_enabled, true);
      assert.ok((o.acked_h as number) >= 3, `h=${o.acked_h}`);
    } else {
      // Herald without XEP-0198: nothing advertised, so slixmpp must not try.
      assert.ok(!features.flat().includes('{urn:xmpp:sm:3}sm'));
      assert.deepEqual(o.sm_nonzas_sent, [], 'slixmpp sent no SM nonza to a server that did not offer SM');
      assert.equal(o.sm_enabled, false);
      assert.equal(o.acked_h, 0);
    }
  });
});


const sentIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `sm-${String(i + 1).padStart(2, '0')}`);

describe('slixmpp interop: stream management resumption (XEP-0198)', { timeout: 120_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob', 'carol', 'dave']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('resumes a session whose TCP connection was cut; the 10 messages sent meanwhile arrive once each', async () => {
    const [o, log] = await serverLog(h, ['hibernating', 'session resumed'], () =>
      scenario(h, 'sm_resume.py', [...pair('bob', 'alice'), '--count', '10']),
    );
    assert.deepEqual(o.enabled, { id: o.before_cut.sm_id, resume: true, max: '300' }, 'resumable for the default 300 s');
    assert.equal(o.after_cut.sm_id, o.before_cut.sm_id, 'slixmpp kept the SM id through the disconnection');
    assert.equal(o.received_while_away, 0);
    assert.equal(o.reconnection.resumed, true, JSON.stringify(o.reconnection));
    assert.equal(o.reconnection.resumed_previd, o.before_cut.sm_id);
    assert.equal(o.reconnection.resumed_h, o.before_cut.sent, "<resumed h/> counts everything bob sent before the cut");
    assert.equal(o.jid_after, o.jid_before);
    assert.equal(o.jid_before, 'bob@localhost/phone');
    assert.deepEqual(o.session_starts, ['bob@localhost/phone'], 'no new session: session_start fired only once');
    const got = o.received as Json[];
    assert.deepEqual(
      got.map((m) => m.id),
      sentIds(10),
      'each message once, in order',
    );
    assert.ok(got.every((m) => m.from === 'alice@localhost/desk'));
    assert.ok(got.every((m) => m.delayed), 'resent stanzas carry a XEP-0203 delay');
    assert.ok(got.every((m) => m.delay_text === ''), `resent from the session's queue, not from offline storage: ${JSON.stringify(got)}`);
    assert.equal(o.echo, 'still here ✓');
    assert.equal(o.after_reconnect.sm_id, o.before_cut.sm_id, 'the same SM session goes on');
    assert.equal(o.after_reconnect.enabled_in, true);
    assert.deepEqual(
      log.map((l) => l.msg),
      ['hibernating', 'session resumed'],
      `Herald's view: ${JSON.stringify(log)}`,
    );
    assert.equal(log[0]?.unacked, 0, 'bob had acknowledged everything when his connection went');
  });

  /**
   * Runs sm_resume.py expecting <failed/>: `whileAway` runs once the script's
   * user is away with the messages sent, and must leave a Herald that has
   * ended the hibernating session; then the script reconnects.
   */
  async function resumptionFails(user: string, contact: string, whileAway: () => Promise<void>): Promise<Json> {
    const sync = mkdtempSync(join(tmpdir(), 'herald-sm-sync-'));
    try {
      const run = scenario(h, 'sm_resume.py', [...pair(user, contact), '--count', '10', '--sync', sync, '--expect', 'failed', '--timeout', '30']);
      run.catch(() => undefined); // awaited below; a failure before `away` is reported by scriptReached
      await scriptReached(join(sync, 'away'), run, 30_000);
      await whileAway();
      writeFileSync(join(sync, 'return'), '');
      const o = await run;
      assert.equal(o.received_while_away, 0);
      assert.deepEqual(o.reconnection, {
        resumed: false,
        failed_h: o.before_cut.sent,
        failed_conditions: ['item-not-found'],
      });
      assert.equal(o.jid_after, `${user}@localhost/phone`);
      assert.deepEqual(o.session_starts, [`${user}@localhost/phone`, `${user}@localhost/phone`], 'a new session after <failed/>');
      assert.notEqual(o.after_reconnect.sm_id, o.before_cut.sm_id, 'SM enabled afresh on the new session');
      const got = o.received as Json[];
      assert.deepEqual(got.map((m) => m.id), sentIds(10), 'each message once, in order');
      assert.ok(got.every((m) => m.delayed && m.from === `${contact}@localhost/desk`), JSON.stringify(got));
      assert.ok(got.every((m) => m.delay_text === 'Offline Storage'), `delivered from offline storage: ${JSON.stringify(got)}`);
      assert.equal(o.echo, 'still here ✓');
      return o;
    } finally {
      rmSync(sync, { recursive: true, force: true });
    }
  }

  it('after a graceful restart resumption fails (<failed h/>) and the messages come from offline storage, none lost', async () => {
    await resumptionFails('dave', 'carol', async () => {
      h = await h.restart();
    });
  });

  it('after the resumption timeout (HERALD_SM_RESUME_TIMEOUT=2) resumption fails and the messages come from offline storage', async () => {
    const old = h;
    h = await HeraldProcess.start({ env: { HERALD_SM_RESUME_TIMEOUT: '2' } });
    try {
      for (const u of ['erin', 'frank']) await h.addUser(u, `${u}-pass`);
      const from = h.output.length;
      const o = await resumptionFails('frank', 'erin', () => h.waitForLog('resumption timed out', 10_000));
      assert.equal(o.enabled.max, '2', '<enabled max/> tells the configured timeout');
      const timedOut = h.output.slice(from).filter((l) => l.includes('resumption timed out'));
      assert.equal(timedOut.length, 1, timedOut.join('\n'));
    } finally {
      await h.cleanup();
      h = old;
    }
  });
});

describe('slixmpp interop: message carbons (XEP-0280)', { timeout: 60_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('copies received and sent messages to the other carbons-enabled resource, and nothing more', async () => {
    const o = await scenario(h, 'carbons.py', pair('alice', 'bob'));
    const none = { direct: [], carbon_received: [], carbon_sent: [] };
    assert.equal(o.carbons_enabled, true);

    const toPhone = { id: 'to-phone', from: 'bob@localhost/desk', to: 'alice@localhost/phone', body: 'to your phone 📱' };
    assert.deepEqual(o.to_phone, {
      phone: { ...none, direct: [toPhone] },
      laptop: { ...none, carbon_received: [{ wrapper_from: 'alice@localhost', wrapper_to: 'alice@localhost/laptop', ...toPhone }] },
      contact: none,
    });

    const fromPhone = { id: 'from-phone', from: 'alice@localhost/phone', to: 'bob@localhost', body: 'sent from my phone ✓' };
    assert.deepEqual(o.from_phone, {
      phone: none,
      laptop: { ...none, carbon_sent: [{ wrapper_from: 'alice@localhost', wrapper_to: 'alice@localhost/laptop', ...fromPhone }] },
      contact: { ...none, direct: [fromPhone] },
    });

    // To the bare JID: Herald delivers to both resources (same priority), so neither needs a carbon.
    const toBare = { id: 'to-bare', from: 'bob@localhost/desk', to: 'alice@localhost', body: 'to all of you 👥' };
    assert.deepEqual(o.to_bare, {
      phone: { ...none, direct: [toBare] },
      laptop: { ...none, direct: [toBare] },
      contact: none,
    });

    assert.deepEqual(o.private, {
      phone: none,
      laptop: none,
      contact: { ...none, direct: [{ id: 'private', from: 'alice@localhost/phone', to: 'bob@localhost', body: 'not for my other devices 🔒' }] },
    });
  });
});

describe('slixmpp interop: message archive (XEP-0313, XEP-0359)', { timeout: 60_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('marks a live message with <stanza-id by=bob@localhost> and pages the archive of 121 messages by 50 to a complete end', async () => {
    const o = await scenario(h, 'mam.py', [...pair('bob', 'alice'), '--count', '120', '--page', '50']);
    assert.equal(o.live.stanza_id_count, 1);
    assert.equal(o.live.stanza_id.by, 'bob@localhost');
    assert.match(o.live.stanza_id.id as string, /^.+$/);
    assert.equal(o.live_received, 121);

    const pages = o.pages as Json[];
    assert.deepEqual(
      pages.map((p) => [p.results, p.complete]),
      [
        [50, null],
        [50, null],
        [21, 'true'],
      ],
      'three pages, the last one complete (slixmpp stops there or after an empty page)',
    );
    const archived = o.archived as Json[];
    const ids = ['mam-live', ...Array.from({ length: 120 }, (_, i) => `mam-${String(i + 1).padStart(3, '0')}`)];
    assert.deepEqual(archived.map((a) => a.id), ids, 'oldest first, each once');
    assert.equal(new Set(archived.map((a) => a.archive_id)).size, 121, 'archive ids are distinct');
    assert.equal(archived[0]?.archive_id, o.live.stanza_id.id, "the live stanza-id is the message's archive id");
    for (const [i, p] of pages.entries()) {
      const slice = archived.slice(i * 50, i * 50 + p.results);
      assert.equal(p.first, slice[0]?.archive_id, `RSM first of page ${i + 1}`);
      assert.equal(p.last, slice.at(-1)?.archive_id, `RSM last of page ${i + 1}`);
    }
    assert.ok(archived.every((a) => a.from === 'alice@localhost/desk' && a.delay), 'forwarded with the original from and a delay');
  });
});

describe('slixmpp interop: client state indication (XEP-0352)', { timeout: 60_000 }, () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('holds a chat state while inactive and releases it just before the next message with a body', async () => {
    const o = await scenario(h, 'csi.py', [...pair('bob', 'alice'), '--hold-ms', '500']);
    assert.equal(o.csi_offered, true);
    assert.deepEqual(o.during_hold, [], 'nothing arrives for 500 ms');
    const after = o.after_body as Json[];
    assert.deepEqual(
      after.map((m) => [m.id, m.chat_state, m.body]),
      [
        ['csi-state', 'composing', null],
        ['csi-body', 'active', 'a body wakes you up ⏰'],
      ],
    );
    assert.ok(after.every((m) => (m.ms_after_send as number) < 450), `released at once: ${JSON.stringify(after)}`);
    const active = o.after_active as Json[];
    assert.deepEqual(active.map((m) => [m.id, m.chat_state]), [['csi-active', 'paused']], 'once active, chat states flow');
    assert.ok((active[0]?.ms_after_send as number) < 450, JSON.stringify(active));
  });
});
