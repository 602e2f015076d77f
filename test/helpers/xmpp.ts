import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { WebSocket } from 'ws';
import './test-cert.js';

// @xmpp/websocket expects the browser global, which Node 20 lacks.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export { xml };
export type { Element };

export type Transport = 'starttls' | 'tls' | 'ws';

/** Where a Herald under test listens (a child process or one in this process). */
export interface Endpoint {
  domain: string;
  c2sPort: number;
  tlsPort: number;
  wsUrl: string;
}

export interface ConnectOptions {
  transport?: Transport;
  mechanism?: 'SCRAM-SHA-1' | 'PLAIN';
  resource?: string;
  /** Keep @xmpp/client's automatic reconnect (stream management resumption needs it). */
  reconnect?: boolean;
  /** Send initial presence whenever the client comes online (again). */
  presence?: boolean;
  /** Runs before the stream opens: for IQ handlers that must see what the server sends on login. */
  setup?: (c: TestClient) => void;
}

/** The element names of a stanza stream, for readable assertion failures. */
const brief = (el: Element): string => el.toString().slice(0, 300);

/**
 * An @xmpp/client connection with a record of every stanza it received,
 * so tests can assert what the client actually saw.
 */
export class TestClient {
  readonly received: Element[] = [];
  private waiters: { pred: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  readonly errors: Error[] = [];

  private constructor(readonly xmpp: Client) {
    xmpp.on('stanza', (el: Element) => {
      this.received.push(el);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(el)) return true;
        w.resolve(el);
        return false;
      });
    });
    xmpp.on('error', (e: Error) => this.errors.push(e));
  }

  static async connect(h: Endpoint, username: string, password: string, opts: ConnectOptions = {}): Promise<TestClient> {
    const transport = opts.transport ?? 'starttls';
    const service =
      transport === 'ws' ? h.wsUrl : transport === 'tls' ? `xmpps://127.0.0.1:${h.tlsPort}` : `xmpp://127.0.0.1:${h.c2sPort}`;
    const mechanism = opts.mechanism ?? 'SCRAM-SHA-1';
    const xmpp = client({
      service,
      domain: h.domain,
      resource: opts.resource ?? 'test',
      // A credentials function lets the test pick the mechanism instead of the library.
      credentials: (authenticate: (c: object, m: string) => Promise<void>) => authenticate({ username, password }, mechanism),
    } as Parameters<typeof client>[0]);
    if (!opts.reconnect) xmpp.reconnect.stop();
    // The library's 2 s for opening a stream is too tight for two test files sharing two cores.
    (xmpp as unknown as { timeout: number }).timeout = 10_000;
    const c = new TestClient(xmpp);
    if (opts.presence) xmpp.on('online', () => void xmpp.send(xml('presence')).catch(() => undefined));
    opts.setup?.(c);
    await xmpp.start();
    await c.streamManagementSettled();
    return c;
  }

  /**
   * Waits for the server's `<enabled/>` once the client asked for stream
   * management. @xmpp/client 0.14 resets its inbound count a microtask after
   * `<enabled/>` is parsed, so a stanza that arrives in the same read is
   * counted and then forgotten, and the client acknowledges one stanza too few.
   * A test that sends right after connecting would otherwise depend on how the
   * server's output happened to be split into TCP segments.
   */
  private async streamManagementSettled(): Promise<void> {
    const sm = (this.xmpp as unknown as { streamManagement: { enabled: boolean; enableSent: boolean } }).streamManagement;
    // `online` fires inside resource binding, before the library sends `<enable/>`.
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 250 && sm.enableSent && !sm.enabled; i++) await new Promise((r) => setTimeout(r, 20));
  }

  /** Makes the client stop acknowledging stanzas (XEP-0198 `<a/>`), as a client stuck in the background does. */
  suppressAcks(): void {
    const send = this.xmpp.send.bind(this.xmpp);
    this.xmpp.send = ((el: Element) => (el.is('a', 'urn:xmpp:sm:3') ? Promise.resolve() : send(el))) as typeof this.xmpp.send;
  }

  /** Resolves when @xmpp/client reports the session resumed (XEP-0198). */
  resumed(timeoutMs = 10_000): Promise<void> {
    const sm = (this.xmpp as unknown as { streamManagement: { once(e: string, f: () => void): void } }).streamManagement;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not resumed')), timeoutMs);
      sm.once('resumed', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves the next time the client is online (after a reconnection). */
  online(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not online again')), timeoutMs);
      this.xmpp.once('online', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  get jid(): string {
    return this.xmpp.jid?.toString() ?? '';
  }

  send(el: Element): Promise<void> {
    return this.xmpp.send(el);
  }

  iq(el: Element, timeoutMs = 5000): Promise<Element> {
    return this.xmpp.iqCaller.request(el, timeoutMs);
  }

  /**
   * Sends an IQ and returns the reply (result or error) as it arrives. For IQs
   * expected to fail: @xmpp/client's IQ caller rejects an internal promise
   * before a handler is attached when the error beats its own write callback,
   * which the test runner reports as an unhandled rejection.
   */
  async ask(el: Element, timeoutMs = 5000): Promise<Element> {
    const id = (el.attrs.id ??= `ask-${Math.random().toString(36).slice(2)}`) as string;
    const reply = this.waitFor((s) => s.is('iq') && s.attrs.id === id && (s.attrs.type === 'result' || s.attrs.type === 'error'), timeoutMs, `reply to ${id}`);
    await this.send(el);
    return reply;
  }

  /** Sends an IQ that must fail; returns the error condition and text. */
  async askError(el: Element, timeoutMs = 5000): Promise<{ condition: string | undefined; text: string | undefined; error: Element }> {
    const reply = await this.ask(el, timeoutMs);
    if (reply.attrs.type !== 'error') throw new Error(`expected an error, got ${reply.toString()}`);
    const error = reply.getChild('error') as Element;
    const condition = error.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text')?.name;
    return { condition, text: error.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? undefined, error };
  }

  /** Resolves with the first received stanza (past or future) matching pred. */
  waitFor(pred: (el: Element) => boolean, timeoutMs = 5000, what = 'stanza'): Promise<Element> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; received:\n${this.received.map(brief).join('\n')}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (el) => {
          clearTimeout(timer);
          resolve(el);
        },
      });
    });
  }

  /** Waits a moment and returns what arrived matching pred: for asserting that something did NOT arrive. */
  async collect(pred: (el: Element) => boolean, ms = 300): Promise<Element[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received.filter(pred);
  }

  messages(): Element[] {
    return this.received.filter((s) => s.is('message'));
  }

  async stop(): Promise<void> {
    try {
      await this.xmpp.stop();
    } catch {
      /* already closed */
    }
  }

  /** Cuts the connection without a closing stream tag, as a phone losing its network does. */
  cut(): void {
    (this.xmpp as unknown as { socket: { destroy?: () => void; socket?: { destroy(): void } } | null }).socket?.socket?.destroy?.();
    const s = (this.xmpp as unknown as { socket: { destroy?: () => void } | null }).socket;
    s?.destroy?.();
  }
}

/** Waits until a client's connection is closed by the server, returning the stream error condition if one came. */
export function streamErrorOf(c: TestClient, timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no stream error')), timeoutMs);
    const check = (): void => {
      const err = c.errors.find((e) => (e as { condition?: string }).condition);
      if (err) {
        clearTimeout(timer);
        resolve((err as { condition?: string }).condition ?? null);
      }
    };
    c.xmpp.on('error', check);
    check();
  });
}
