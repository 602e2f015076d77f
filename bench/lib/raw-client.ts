/**
 * A deliberately tiny XMPP client for load generation: plain TCP, SASL PLAIN,
 * resource binding, initial presence, then chat messages in and out, IQs,
 * and XEP-0198 (enable with resumption, answering `<r/>`, resuming on a new
 * connection). It parses only what it needs: stream features, the SASL
 * outcome, the bind result and, once bound, top-level elements split by
 * bench/lib/xml-scan.ts. The bench controls all traffic, so stanzas never
 * nest (no carbons, no MAM results) and the scan is exact.
 */
import net from 'node:net';
import { attr, scanElements } from './xml-scan.js';

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
  /** How long each negotiation step (and each request()) may take. */
  timeoutMs?: number;
}

/** What a resumed connection needs from the one it replaces. */
export interface SmResumption {
  /** The `id` of `<enabled/>`. */
  id: string;
  /** Stanzas we handled (our h). */
  handled: number;
  /** The full JID the session had. */
  jid: string;
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SM = 'urn:xmpp:sm:3';
const SM_ANSWER = /<(enabled|resumed|failed)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;
const FEATURES = /<stream:features\b[^>]*?(?:\/>|>[\s\S]*?<\/stream:features>)/;
const SASL_OUTCOME = /<(success|failure)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;
const BIND_RESULT = /<iq\b[^>]*?\bid=['"]bind1['"][^>]*?(?:\/>|>[\s\S]*?<\/iq>)/;

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
  /** The server ended the connection (not after our own close() or drop()). */
  onClose: (reason: string) => void = () => undefined;
  /** Each incoming IQ that is not the answer to a request(): the whole stanza as received. */
  onIq: (stanza: string) => void = () => undefined;
  /** XEP-0198, once enabled or resumed: the session id and the stanzas we handled (our h). */
  smId = '';
  handled = 0;

  private sm = false;
  private ackDue = false;
  private readonly requests = new Map<string, { resolve: (stanza: string) => void; timer: NodeJS.Timeout }>();
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

  /**
   * Connects, authenticates with SASL PLAIN, binds `resource` and sends initial presence.
   * `init` sets handlers before anything the server sends once the resource is bound
   * (a server may push stanzas right after initial presence).
   */
  static async open(o: ClientOptions, init?: (c: RawClient) => void): Promise<RawClient> {
    const socket = await connect(o.host, o.port, o.timeoutMs ?? 15_000);
    const client = new RawClient(socket, o);
    try {
      await client.negotiate(init);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    return client;
  }

  /**
   * XEP-0198 resumption on a new connection: SASL PLAIN, stream restart, then
   * `<resume/>` in place of binding. `init` sets the handlers before anything
   * the server resends after `<resumed/>` is scanned.
   */
  static async resume(o: ClientOptions, from: SmResumption, init: (c: RawClient) => void): Promise<RawClient> {
    const socket = await connect(o.host, o.port, o.timeoutMs ?? 15_000);
    const client = new RawClient(socket, o);
    try {
      const features = await client.authenticate();
      if (!features.includes(NS_SM)) throw new BenchError('protocol', `${client.account}: no stream management offered after authentication`);
      client.write(`<resume xmlns='${NS_SM}' previd='${from.id}' h='${from.handled}'/>`);
      const answer = await client.expect(SM_ANSWER, 'resumed');
      if (!answer.startsWith('<resumed')) throw new BenchError('protocol', `${client.account}: resumption refused: ${answer.slice(0, 300)}`);
      client.jid = from.jid;
      client.smId = from.id;
      client.handled = from.handled;
      client.sm = true;
      init(client);
      client.ready = true;
      client.scan();
      return client;
    } catch (e) {
      socket.destroy();
      throw e;
    }
  }

  get account(): string {
    return `${this.o.username}@${this.o.domain}`;
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** Enables XEP-0198 with resumption. */
  async enableSm(): Promise<void> {
    this.write(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const answer = await this.expect(SM_ANSWER, 'stream management enabled');
    if (!answer.startsWith('<enabled')) throw new BenchError('protocol', `${this.account}: stream management refused: ${answer.slice(0, 300)}`);
  }

  get resumption(): SmResumption {
    return { id: this.smId, handled: this.handled, jid: this.jid };
  }

  /** Sends an IQ whose id is `id` and resolves with the answer (result or error), as received. */
  request(iq: string, id: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new BenchError('timeout', `${this.account}: no answer to IQ ${id}`));
      }, this.o.timeoutMs ?? 15_000);
      this.requests.set(id, { resolve, timer });
      this.write(iq);
    });
  }

  /** Cuts the TCP connection without closing the stream, as a phone losing its network does. */
  drop(): void {
    this.closing = true;
    this.socket.destroy();
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

  private async negotiate(init?: (c: RawClient) => void): Promise<void> {
    const features = await this.authenticate();
    if (!features.includes(NS_BIND)) throw new BenchError('protocol', `no resource binding offered to ${this.account}`);
    const { resource } = this.o;
    this.write(`<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`);
    const bound = await this.expect(BIND_RESULT, 'bind result');
    const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
    if (!/^<iq\b[^>]*\btype=['"]result['"]/.test(bound) || jid === undefined) {
      throw new BenchError('protocol', `binding ${this.account}/${resource} failed: ${bound.slice(0, 300)}`);
    }
    this.jid = jid;
    // From here on input is split into stanzas (none is skipped), and waiters see each one.
    init?.(this);
    this.ready = true;
    this.scan();
    this.write('<presence/>');
    // RFC 6121 §4.2.2: the server sends the initial presence back to its sender too; once it
    // is here, the server has made this resource available and bare-JID messages reach it.
    await this.expect(new RegExp(`^<presence\\b[^>]*?\\bfrom=['"]${escapeRegExp(jid)}['"]`), 'own initial presence');
  }

  /** Stream header, SASL PLAIN, stream restart; returns the post-authentication features. */
  private async authenticate(): Promise<string> {
    const { domain, username, password } = this.o;
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
    return this.expect(FEATURES, 'post-authentication stream features');
  }

  /** Waits until the input holds `pattern`, consumes the input up to the end of the match and returns the match. */
  private expect(pattern: RegExp, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new BenchError('timeout', `${this.account}: no ${what} within ${(this.o.timeoutMs ?? 15_000) / 1000} s`));
      }, this.o.timeoutMs ?? 15_000);
      this.waiter = { pattern, what, resolve, reject, timer };
      if (!this.ready) this.checkWaiter(); // once bound, scan() offers it each top-level element
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
    if (this.ackDue) {
      this.ackDue = false;
      this.write(`<a xmlns='${NS_SM}' h='${this.handled}'/>`);
    }
    this.onChunk();
  }

  private scan(): void {
    this.buf = this.buf.slice(scanElements(this.buf, this.element));
  }

  private readonly element = (name: string, buf: string, start: number, headEnd: number, end: number): void => {
    switch (name) {
      case 'message': {
        if (this.sm) this.handled++;
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
        return;
      }
      case 'iq': {
        if (this.sm) this.handled++;
        const stanza = buf.slice(start, end);
        const id = attr(buf.slice(start, headEnd + 1), 'id');
        const request = id === undefined ? undefined : this.requests.get(id);
        if (request && id !== undefined) {
          this.requests.delete(id);
          clearTimeout(request.timer);
          request.resolve(stanza);
        } else {
          this.onIq(stanza);
        }
        return;
      }
      case 'presence':
        if (this.sm) this.handled++;
        break; // a waiter may want it (our own initial presence)
      case 'r':
        if (this.sm) this.ackDue = true;
        return;
      case 'enabled':
        this.sm = true;
        this.smId = attr(buf.slice(start, headEnd + 1), 'id') ?? '';
        this.handled = 0;
        break;
    }
    const w = this.waiter;
    if (w && w.pattern.test(buf.slice(start, end))) this.settle(buf.slice(start, end));
  };

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

export function connect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
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
