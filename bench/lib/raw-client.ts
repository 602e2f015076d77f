/**
 * A deliberately tiny XMPP client for load generation: plain TCP, SASL PLAIN,
 * resource binding, initial presence, then chat messages in and out. It
 * parses only what it needs: stream features, the SASL outcome, the bind
 * result and, once bound, the bodies of incoming <message/> stanzas, found
 * by scanning for `</message>`. The bench controls all traffic, so messages
 * never nest (no carbons, no MAM results) and the scan is exact.
 */
import net from 'node:net';

export type FailureKind = 'connect' | 'auth' | 'protocol' | 'timeout' | 'closed';

export class BenchError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  host: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  resource: string;
  /** How long each negotiation step may take. */
  timeoutMs?: number;
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const FEATURES = /<stream:features\b[^>]*?(?:\/>|>[\s\S]*?<\/stream:features>)/;
const SASL_OUTCOME = /<(success|failure)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;
const BIND_RESULT = /<iq\b[^>]*?\bid=['"]bind1['"][^>]*?(?:\/>|>[\s\S]*?<\/iq>)/;
const MESSAGE_END = '</message>';

interface Waiter {
  pattern: RegExp;
  what: string;
  resolve: (match: string) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class RawClient {
  /** The full JID the server bound. */
  jid = '';
  /** Each incoming <message/>: its body (as sent on the wire, still escaped) and whether it is an error bounce. */
  onMessage: (body: string, isError: boolean) => void = () => undefined;
  /** After a chunk of input was scanned: the moment to write any replies in one go. */
  onChunk: () => void = () => undefined;
  /** The server ended the connection (not after our own close()). */
  onClose: (reason: string) => void = () => undefined;

  private buf = '';
  private ready = false;
  private closing = false;
  private streamError = '';
  private waiter: Waiter | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly o: ClientOptions,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => undefined); // reported through 'close'
    socket.on('close', () => this.closed());
  }

  /** Connects, authenticates with SASL PLAIN, binds `resource` and sends initial presence. */
  static async open(o: ClientOptions): Promise<RawClient> {
    const socket = await connect(o.host, o.port, o.timeoutMs ?? 15_000);
    const client = new RawClient(socket, o);
    try {
      await client.negotiate();
    } catch (e) {
      socket.destroy();
      throw e;
    }
    return client;
  }

  get account(): string {
    return `${this.o.username}@${this.o.domain}`;
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** Closes our stream and waits (briefly) for the server to close the connection. */
  close(): Promise<void> {
    this.closing = true;
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), 3000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end('</stream:stream>');
    });
  }

  // ---- negotiation --------------------------------------------------------------

  private async negotiate(): Promise<void> {
    const { domain, username, password, resource } = this.o;
    const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;
    this.write(header);
    let features = await this.expect(FEATURES, 'stream features');
    if (!/<mechanism>PLAIN<\/mechanism>/.test(features)) {
      const offered = [...features.matchAll(/<mechanism>([^<]*)<\/mechanism>/g)].map((m) => m[1]).join(', ') || 'none';
      throw new BenchError('auth', `the server does not offer SASL PLAIN on this connection (offered: ${offered}); allow PLAIN without TLS`);
    }
    const initial = Buffer.from(`\0${username}\0${password}`, 'utf8').toString('base64');
    this.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${initial}</auth>`);
    const outcome = await this.expect(SASL_OUTCOME, 'SASL outcome');
    if (outcome.startsWith('<failure')) {
      const condition = /<failure\b[^>]*>\s*<([a-z-]+)/.exec(outcome)?.[1] ?? 'unknown condition';
      throw new BenchError('auth', `authentication failed for ${this.account}: ${condition} (does the account exist with this password?)`);
    }
    this.write(header); // stream restart (RFC 6120 §6.4.6)
    features = await this.expect(FEATURES, 'post-authentication stream features');
    if (!features.includes(NS_BIND)) throw new BenchError('protocol', `no resource binding offered to ${this.account}`);
    this.write(`<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`);
    const bound = await this.expect(BIND_RESULT, 'bind result');
    const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
    if (!/^<iq\b[^>]*\btype=['"]result['"]/.test(bound) || jid === undefined) {
      throw new BenchError('protocol', `binding ${this.account}/${resource} failed: ${bound.slice(0, 300)}`);
    }
    this.jid = jid;
    this.write('<presence/>');
    // RFC 6121 §4.2.2: the server sends the initial presence back to its sender too; once it
    // is here, the server has made this resource available and bare-JID messages reach it.
    await this.expect(new RegExp(`<presence\\b[^>]*?\\bfrom=['"]${escapeRegExp(jid)}['"]`), 'own initial presence');
    this.ready = true;
    this.scan();
  }

  /** Waits until the input holds `pattern`, consumes the input up to the end of the match and returns the match. */
  private expect(pattern: RegExp, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new BenchError('timeout', `${this.account}: no ${what} within ${(this.o.timeoutMs ?? 15_000) / 1000} s`));
      }, this.o.timeoutMs ?? 15_000);
      this.waiter = { pattern, what, resolve, reject, timer };
      this.checkWaiter();
    });
  }

  private checkWaiter(): void {
    const w = this.waiter;
    if (!w) return;
    const err = /<stream:error\b[^>]*>\s*<([a-z-]+)/.exec(this.buf);
    if (err) return this.settle(new BenchError('protocol', `${this.account}: stream error while waiting for ${w.what}: ${err[1]}`));
    const m = w.pattern.exec(this.buf);
    if (!m) return;
    this.buf = this.buf.slice(m.index + m[0].length);
    this.settle(m[0]);
  }

  private settle(result: string | Error): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = null;
    clearTimeout(w.timer);
    if (typeof result === 'string') w.resolve(result);
    else w.reject(result);
  }

  // ---- input once bound -----------------------------------------------------------

  private receive(chunk: string): void {
    this.buf += chunk;
    if (!this.ready) return this.checkWaiter();
    if (chunk.includes('<stream:error')) this.streamError = /<stream:error\b[^>]*>\s*<([a-z-]+)/.exec(chunk)?.[1] ?? 'stream error';
    this.scan();
    this.onChunk();
  }

  private scan(): void {
    const buf = this.buf;
    let pos = 0;
    for (;;) {
      const end = buf.indexOf(MESSAGE_END, pos);
      if (end === -1) break;
      const start = buf.lastIndexOf('<message', end);
      if (start >= pos) {
        const headEnd = buf.indexOf('>', start);
        const head = buf.slice(start, headEnd);
        const isError = head.includes("type='error'") || head.includes('type="error"');
        let body = '';
        const b = buf.indexOf('<body', headEnd);
        if (b !== -1 && b < end) {
          const from = buf.indexOf('>', b) + 1;
          const to = buf.indexOf('</body>', from);
          if (to !== -1 && to < end) body = buf.slice(from, to);
        }
        this.onMessage(body, isError);
      }
      pos = end + MESSAGE_END.length;
    }
    // Keep what may still become a message: from the next '<message', else a tail that may hold a split one.
    const next = buf.indexOf('<message', pos);
    this.buf = next !== -1 ? buf.slice(next) : buf.slice(Math.max(pos, buf.length - 8));
  }

  private closed(): void {
    if (this.waiter) {
      const err = /<stream:error\b[^>]*>\s*<([a-z-]+)/.exec(this.buf);
      this.settle(new BenchError('closed', `${this.account}: the server closed the connection while we waited for ${this.waiter.what}${err ? ` (stream error: ${err[1]})` : ''}`));
      return;
    }
    if (this.closing) return;
    this.onClose(this.streamError !== '' ? `stream error: ${this.streamError}` : 'connection closed by the server');
  }
}

function connect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new BenchError('connect', `cannot connect to ${host}:${port}: timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new BenchError('connect', `cannot connect to ${host}:${port}: ${e.code ?? e.message}`));
    });
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
