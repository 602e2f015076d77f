import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { SqliteStore } from '../../src/storage/sqlite/store.js';
import { freePort } from './ports.js';
import { TEST_CERT } from './test-cert.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface HeraldOptions {
  /** Reuse a data directory (to test restarts); a fresh temporary one otherwise. */
  dataDir?: string;
  /** Listen on these ports (to restart where clients will reconnect); free ones otherwise. */
  ports?: { c2s: number; tls: number; http: number };
  domain?: string;
  env?: Record<string, string>;
  /** TOML written to <data dir>/herald.toml and passed with --config (for tables env cannot express). */
  toml?: string;
}

/**
 * A real Herald process on free loopback ports with its own data directory,
 * started through the CLI exactly as an operator would (`herald start`).
 */
export class HeraldProcess {
  readonly output: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly domain: string,
    readonly c2sPort: number,
    readonly tlsPort: number,
    readonly httpPort: number,
    private ownsDir: boolean,
    private readonly options: HeraldOptions,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const collect = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) if (line !== '') this.output.push(line);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  static async start(opts: HeraldOptions = {}): Promise<HeraldProcess> {
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'herald-test-'));
    const domain = opts.domain ?? 'localhost';
    const { c2s, tls, http } = opts.ports ?? { c2s: await freePort(), tls: await freePort(), http: await freePort() };
    const args = ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli.ts'), 'start'];
    if (opts.toml !== undefined) {
      writeFileSync(join(dataDir, 'herald.toml'), opts.toml);
      args.push('--config', join(dataDir, 'herald.toml'));
    }
    const child = spawn(process.execPath, args, {
      cwd: dataDir,
      env: {
        ...process.env,
        HERALD_SERVER_DOMAINS: domain,
        HERALD_SERVER_DATA_DIR: dataDir,
        HERALD_SERVER_LISTEN: '127.0.0.1',
        HERALD_C2S_PORT: String(c2s),
        HERALD_C2S_DIRECT_TLS_PORT: String(tls),
        HERALD_HTTP_PORT: String(http),
        HERALD_LOG_LEVEL: 'info',
        HERALD_TLS_CERT: TEST_CERT.certPath,
        HERALD_TLS_KEY: TEST_CERT.keyPath,
        // Test rigs open many connections from one address.
        HERALD_LIMITS_CONNECTIONS_PER_IP_PER_MINUTE: '100000',
        HERALD_LIMITS_AUTH_FAILURES_PER_IP_PER_MINUTE: '100000',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const h = new HeraldProcess(child, dataDir, domain, c2s, tls, http, opts.dataDir === undefined, opts);
    await h.waitForLog('Herald started', 20_000);
    return h;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.httpPort}/xmpp-websocket`;
  }

  async waitForLog(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.output.some((l) => l.includes(text))) return;
      if (this.child.exitCode !== null) throw new Error(`herald exited (${this.child.exitCode}):\n${this.output.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for "${text}" in herald output:\n${this.output.slice(-30).join('\n')}`);
  }

  /** Creates accounts straight in storage (the CLI path is tested on its own). */
  async addUser(username: string, password: string): Promise<void> {
    const creds = await deriveCredentials(password, 4096);
    const store = new SqliteStore(join(this.dataDir, 'herald.sqlite'));
    try {
      store.accounts.create(this.domain, username, creds);
    } finally {
      store.close();
    }
  }

  /** Opens the server's database read-write beside the running server (WAL allows it). */
  openStore(): SqliteStore {
    return new SqliteStore(join(this.dataDir, 'herald.sqlite'));
  }

  /** Stops with a signal and waits for the process to exit; returns its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /**
   * Stops this process gracefully and starts a new one on the same ports and
   * data; the returned process owns the data directory from then on.
   */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<HeraldProcess> {
    await this.stop(signal);
    const next = await HeraldProcess.start({
      ...this.options,
      dataDir: this.dataDir,
      ports: { c2s: this.c2sPort, tls: this.tlsPort, http: this.httpPort },
    });
    next.ownsDir = this.ownsDir;
    this.ownsDir = false;
    return next;
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
