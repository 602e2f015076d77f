import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { Server } from '../../src/server.js';
import { freePort } from './ports.js';
import { TEST_CERT } from './test-cert.js';

/**
 * Herald inside the test process, for tests that must observe internal
 * events (the push trigger) while real clients drive it over real sockets.
 */
export class InProcessHerald {
  private constructor(
    readonly server: Server,
    readonly dataDir: string,
    readonly domain: string,
    readonly c2sPort: number,
    readonly tlsPort: number,
    readonly httpPort: number,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<InProcessHerald> {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-inproc-'));
    const [c2s, tls, http] = [await freePort(), await freePort(), await freePort()];
    const { config } = loadConfig({
      env: {
        HERALD_SERVER_DATA_DIR: dataDir,
        HERALD_SERVER_LISTEN: '127.0.0.1',
        HERALD_C2S_PORT: String(c2s),
        HERALD_C2S_DIRECT_TLS_PORT: String(tls),
        HERALD_HTTP_PORT: String(http),
        HERALD_TLS_CERT: TEST_CERT.certPath,
        HERALD_TLS_KEY: TEST_CERT.keyPath,
        HERALD_LIMITS_CONNECTIONS_PER_IP_PER_MINUTE: '100000',
        ...env,
      },
    });
    const server = new Server(config, createLogger(process.env.HERALD_TEST_LOG ?? 'silent'));
    await server.start();
    return new InProcessHerald(server, dataDir, 'localhost', c2s, tls, http);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.httpPort}/xmpp-websocket`;
  }

  async addUser(username: string, password: string): Promise<void> {
    this.server.ctx.store.accounts.create(this.domain, username, await deriveCredentials(password, 4096));
  }

  async stop(): Promise<void> {
    await this.server.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
