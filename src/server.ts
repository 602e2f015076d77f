import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config } from './config/schema.js';
import { EventBus } from './core/bus.js';
import { ClientSession } from './core/c2s-session.js';
import { ComponentSession } from './core/component-session.js';
import type { ServerContext } from './core/context.js';
import { DiscoRegistry } from './core/disco-registry.js';
import type { EventMap } from './core/events.js';
import { Router } from './core/router.js';
import { SessionRegistry } from './core/sessions.js';
import { StreamFeatures } from './core/stream-features.js';
import { MODULES } from './modules/index.js';
import { HttpRouter, sendJson } from './net/http.js';
import { PerMinuteLimiter } from './net/rate-limit.js';
import { TcpTransport } from './net/tcp.js';
import { TlsContexts } from './net/tls-contexts.js';
import { createXmppWebSocketServer, WebSocketTransport } from './net/websocket.js';
import type { Transport } from './net/transport.js';
import { Checkpointer } from './storage/sqlite/checkpointer.js';
import { SqliteStore } from './storage/sqlite/store.js';

export function storagePath(config: Config): string {
  return config.storage.path !== '' ? config.storage.path : join(config.server.data_dir, 'herald.sqlite');
}

/** The composition root: storage, modules, listeners; and an orderly stop. */
export class Server {
  readonly ctx: ServerContext;
  readonly http: HttpRouter;
  private readonly store: SqliteStore;
  private readonly connections: PerMinuteLimiter;
  private readonly listeners: net.Server[] = [];
  private closeWebSockets: (() => void) | null = null;
  private checkpointer: Checkpointer | null = null;
  private readonly startedAt = Date.now();
  /** Told when the server cannot go on (its storage thread died); the CLI stops the process, non-zero. */
  onFatal: (reason: string) => void = () => undefined;

  constructor(
    readonly config: Config,
    readonly log: Logger,
  ) {
    this.store = new SqliteStore(storagePath(config), {
      storageThread: config.storage.thread,
      // Nothing can be stored any more: stopping lets a supervisor start a healthy process, and
      // nothing acknowledged is lost (acknowledgements wait for commits, which now all fail).
      onStorageLost: (reason) => {
        log.fatal({ reason }, 'the storage thread is gone; stopping');
        this.onFatal(reason);
      },
    });
    // Everything stored in one event-loop turn shares one commit; output waits for it (whenDurable).
    // A failed commit is already handled where it matters: waiting connections are dropped unsent.
    if (config.storage.group_commit) this.store.enableGroupCommit((e) => log.error({ err: e }, 'group commit failed'));
    const bus = new EventBus<EventMap>();
    const sessions = new SessionRegistry();
    const hosts = new Set(config.server.domains);
    this.http = new HttpRouter(log);
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics, prefix: 'herald_' });
    this.ctx = {
      http: this.http,
      metrics,
      config,
      hosts,
      store: this.store,
      sessions,
      bus,
      log,
      router: new Router(hosts, sessions, bus, log),
      streamFeatures: new StreamFeatures(),
      disco: new DiscoRegistry(),
      authFailures: new PerMinuteLimiter(config.limits.auth_failures_per_ip_per_minute),
      saslSaltKey: randomBytes(32),
      preAuthIq: null,
      shutdownHooks: [],
    };
    this.connections = new PerMinuteLimiter(config.limits.connections_per_ip_per_minute);
    for (const m of MODULES) m.install(this.ctx);
  }

  async start(): Promise<void> {
    const { config } = this;
    const contexts = new TlsContexts(config, this.log);
    const host = config.server.listen === '' ? undefined : config.server.listen;
    if (config.c2s.port !== 0) {
      const srv = net.createServer((socket) => this.accept(new TcpTransport(socket, contexts)));
      await this.listen(srv, config.c2s.port, host, 'c2s (STARTTLS)');
    }
    if (config.c2s.direct_tls_port !== 0) {
      const srv = tls.createServer(
        { ...contexts.fallbackPair, SNICallback: contexts.sniCallback, ALPNProtocols: ['xmpp-client'] },
        (socket) => this.accept(new TcpTransport(socket, contexts)),
      );
      srv.on('tlsClientError', (err) => this.log.debug({ err }, 'TLS handshake failed'));
      await this.listen(srv, config.c2s.direct_tls_port, host, 'c2s (direct TLS)');
    }
    if (config.components.port !== 0 && config.component.length > 0) {
      const srv = net.createServer((socket) => new ComponentSession(this.ctx, socket));
      await this.listen(srv, config.components.port, host, 'components (XEP-0114)');
    }
    if (config.http.port !== 0) {
      this.http.route('/health', (_req, res) =>
        sendJson(res, 200, { status: 'ok', sessions: this.ctx.sessions.size, uptime_s: Math.round((Date.now() - this.startedAt) / 1000) }),
      );
      const ws = createXmppWebSocketServer(config.limits.max_stanza_bytes, (socket, req) => {
        const ip = req.socket.remoteAddress ?? 'unknown';
        this.accept(new WebSocketTransport(socket, ip, config.http.websocket_secure, req.socket));
      });
      this.closeWebSockets = ws.close;
      this.http.route('/metrics', async (_req, res) => {
        const body = await this.ctx.metrics.metrics();
        res.writeHead(200, { 'content-type': this.ctx.metrics.contentType });
        res.end(body);
      });
      this.http.upgrade('/xmpp-websocket', ws.handleUpgrade);
      await this.listen(this.http.server, config.http.port, host, 'http');
    }
    if (storagePath(config) !== ':memory:') {
      this.checkpointer = new Checkpointer(storagePath(config), config.storage.checkpoint_interval_ms, (message) => this.log.warn({ message }, 'checkpoint failed'));
    }
    this.log.info({ domains: config.server.domains }, 'Herald started');
  }

  private accept(transport: Transport): void {
    const session = new ClientSession(this.ctx, transport);
    if (!this.connections.hit(transport.remoteAddress)) session.streamError('policy-violation', 'too many connections from your address');
  }

  private listen(srv: net.Server, port: number, host: string | undefined, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.log.error({ err }, `${what} listener error`));
        this.listeners.push(srv);
        this.log.info({ port, host: host ?? '*' }, `listening for ${what}`);
        resolve();
      });
    });
  }

  /** Closes every stream with system-shutdown, then storage; nothing stored is left half-written. */
  async stop(): Promise<void> {
    this.log.info('shutting down');
    for (const l of this.listeners) l.close();
    await Promise.race([Promise.all(this.ctx.shutdownHooks.map((h) => h())), new Promise((r) => setTimeout(r, 2000))]);
    for (const s of [...this.ctx.sessions.all()]) s.streamError('system-shutdown', 'the server is restarting');
    this.closeWebSockets?.();
    this.ctx.router.iq.clear();
    await this.checkpointer?.stop();
    this.ctx.authFailures.stop();
    this.connections.stop();
    // Give the kernel a moment to flush the closing stream elements.
    await new Promise((r) => setTimeout(r, 100));
    this.store.close();
    this.log.info('stopped');
  }
}
