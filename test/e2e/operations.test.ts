import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { herald } from '../helpers/cli.js';
import { HeraldProcess } from '../helpers/herald.js';
import { trustCertificate } from '../helpers/test-cert.js';
import { streamErrorOf, TestClient } from '../helpers/xmpp.js';

describe('command line', () => {
  let dir: string;
  let env: Record<string, string>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
    env = { HERALD_SERVER_DATA_DIR: dir };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('adduser, passwd and deluser manage accounts that can log in', async () => {
    const created = await herald(['adduser', 'zoe@localhost', 'first-pass'], env);
    assert.equal(created.code, 0, created.stderr);
    const dup = await herald(['adduser', 'zoe@localhost', 'other'], env);
    assert.equal(dup.code, 1);
    assert.match(dup.stdout, /already exists/);
    // The password can come from standard input when it is not an argument.
    assert.equal((await herald(['passwd', 'zoe@localhost'], env, 'second-pass\n')).code, 0);

    const h = await HeraldProcess.start({ dataDir: dir });
    try {
      await assert.rejects(TestClient.connect(h, 'zoe', 'first-pass'), (e: { condition?: string }) => e.condition === 'not-authorized');
      const c = await TestClient.connect(h, 'zoe', 'second-pass');
      assert.equal(c.jid, 'zoe@localhost/test');
      await c.stop();
      assert.equal((await herald(['deluser', 'zoe@localhost'], env)).code, 0);
      await assert.rejects(TestClient.connect(h, 'zoe', 'second-pass'), (e: { condition?: string }) => e.condition === 'not-authorized');
    } finally {
      await h.stop();
    }
    const gone = await herald(['deluser', 'zoe@localhost'], env);
    assert.equal(gone.code, 1);
  });

  it('stores no password in clear', async () => {
    assert.equal((await herald(['adduser', 'yann@localhost', 'very-secret-password'], env)).code, 0);
    for (const f of ['herald.sqlite', 'herald.sqlite-wal']) {
      const p = join(dir, f);
      if (existsSync(p)) assert.ok(!readFileSync(p).includes('very-secret-password'), f);
    }
  });

  it('refuses a JID outside the configured domains', async () => {
    const r = await herald(['adduser', 'x@elsewhere.example', 'pw'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not one of this server's domains/);
  });

  it('check names every bad option', async () => {
    const file = join(dir, 'bad.toml');
    writeFileSync(file, '[c2s]\nport = "x"\nnonsense = 1\n[log]\nlevel = "loud"\n');
    const r = await herald(['--config', file, 'check'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /c2s\.port/);
    assert.match(r.stderr, /nonsense/);
    assert.match(r.stderr, /log\.level/);
    const envBad = await herald(['check'], { HERALD_C2S_PORT: 'seventy' });
    assert.equal(envBad.code, 2);
    assert.match(envBad.stderr, /c2s\.port: HERALD_C2S_PORT="seventy" is not a valid number/);
    const ok = await herald(['check'], { HERALD_SERVER_DOMAINS: 'a.test,b.test' });
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /a\.test, b\.test/);
  });
});

describe('running server', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_TLS_CERT: '', HERALD_TLS_KEY: '' } });
    await h.addUser('alice', 'alice-pass');
  });
  after(() => h.cleanup());

  it('generates a self-signed certificate for its domains on first start, and clients can verify it', async () => {
    const certPath = join(h.dataDir, 'tls', 'selfsigned.crt');
    assert.ok(existsSync(certPath));
    trustCertificate(readFileSync(certPath, 'utf8'));
    const c = await TestClient.connect(h, 'alice', 'alice-pass', { transport: 'tls' });
    assert.equal(c.jid, 'alice@localhost/test');
    await c.stop();
  });

  it('answers /health on the HTTP port', async () => {
    const c = await TestClient.connect(h, 'alice', 'alice-pass');
    try {
      const res = await fetch(`http://127.0.0.1:${h.httpPort}/health`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { status: string; sessions: number };
      assert.equal(body.status, 'ok');
      assert.equal(body.sessions, 1);
    } finally {
      await c.stop();
    }
    assert.equal((await fetch(`http://127.0.0.1:${h.httpPort}/nope`)).status, 404);
  });

  it('on SIGTERM closes every stream with system-shutdown and exits 0', async () => {
    const a = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'a' });
    const b = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'b', transport: 'ws' });
    const errors = [streamErrorOf(a), streamErrorOf(b)];
    assert.equal(await h.stop('SIGTERM'), 0);
    assert.deepEqual(await Promise.all(errors), ['system-shutdown', 'system-shutdown']);
    assert.ok(h.output.some((l) => l.includes('"msg":"stopped"')));
  });
});
