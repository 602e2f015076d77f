import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { generateSelfSignedCert } from '../../src/net/selfsigned-cert.js';
import { HeraldProcess } from '../helpers/herald.js';
import { TEST_CERT } from '../helpers/test-cert.js';

/**
 * Interop: slixmpp (Debian's python3-slixmpp, a client written by others)
 * drives a real Herald through the core scenarios. Each scenario is a
 * Python script in ./slixmpp/ that prints one JSON line of what slixmpp
 * observed; the assertions here are on those observations.
 */

const PYTHON = '/usr/bin/python3';
const SCRIPTS = fileURLToPath(new URL('./slixmpp/', import.meta.url));
const INSTALL_HINT =
  'slixmpp is not importable by /usr/bin/python3. Install Debian\'s package: ' +
  '`sudo apt-get install python3-slixmpp` (the interop suite must not be skipped; .ci/run installs it).';

// Observations are whatever JSON a script printed; the assertions give them their shape.
type Json = Record<string, any>;

interface PyResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The environment for /usr/bin/python3: nothing from a pyenv or virtualenv that could shadow Debian's modules. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1' };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONUSERBASE', 'VIRTUAL_ENV']) delete env[k];
  return env;
}

function python(args: string[], timeoutMs: number): Promise<PyResult> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { env: pythonEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string | null }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr: e && typeof e.code === 'string' ? `${e.message}\n${stderr}` : stderr,
      });
    });
  });
}

let slixmppCheck: Promise<string> | undefined;

/** slixmpp's version, or a failure telling how to install it (never a skip). */
function slixmppVersion(): Promise<string> {
  slixmppCheck ??= python(['-c', 'import slixmpp; print(slixmpp.__version__)'], 20_000).then((r) => {
    if (r.code !== 0) throw new Error(`${INSTALL_HINT}\n${r.stderr.trim()}`);
    return r.stdout.trim();
  });
  return slixmppCheck;
}

interface RunOptions {
  /** Expected exit code of the script; 0 unless a test looks at a failure on purpose. */
  code?: number;
  ca?: string;
}

/** Runs one scenario script against `h` and returns its JSON observations after checking its exit code. */
async function scenario(h: HeraldProcess, script: string, args: string[], opts: RunOptions = {}): Promise<Json> {
  await slixmppVersion();
  const argv = [
    join(SCRIPTS, script),
    '--host', '127.0.0.1',
    '--port', String(h.c2sPort),
    '--domain', h.domain,
    '--ca', opts.ca ?? TEST_CERT.certPath,
    ...args,
  ];
  // The scripts give up by themselves after 20 s (a hard alarm at 25 s); this is the backstop.
  const r = await python(argv, 40_000);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  let observed: Json | undefined;
  try {
    observed = last === undefined ? undefined : (JSON.parse(last) as Json);
  } catch {
    observed = undefined;
  }
  const context = `${script} ${args.join(' ')}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr:\n${r.stderr.split('\n').slice(-60).join('\n')}`;
  assert.ok(observed, `no JSON line on stdout from ${context}`);
  assert.equal(r.code, opts.code ?? 0, `unexpected exit code from ${context}\nherald:\n${h.output.slice(-15).join('\n')}`);
  assert.equal(observed.ok, (opts.code ?? 0) === 0, context);
  return observed;
}

/** Herald's own "authenticated" log lines written while `fn` ran: the mechanism as the server saw it. */
async function serverAuthLog<T>(h: HeraldProcess, fn: () => Promise<T>): Promise<[T, Json[]]> {
  const from = h.output.length;
  const result = await fn();
  await new Promise((r) => setTimeout(r, 100)); // log lines arrive through a pipe
  const lines = h.output
    .slice(from)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json)
    .filter((l) => l.msg === 'authenticated');
  return [result, lines];
}

const user = (name: string): string[] => ['--user', name, '--password', `${name}-pass`];
const pair = (a: string, b: string): string[] => [...user(a), '--contact', b, '--contact-password', `${b}-pass`];

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
