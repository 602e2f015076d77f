/**
 * A minimal XEP-0114 external component for the push benches: it connects,
 * does the SHA-1 handshake, then hands each incoming IQ to `onIq` (whole
 * stanza, as received) and lets the caller write answers, batched per chunk.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { BenchError, connect } from './raw-client.js';
import { attr, scanElements } from './xml-scan.js';

export interface ComponentOptions {
  host: string;
  port: number;
  /** The component's domain (push.localhost). */
  domain: string;
  secret: string;
  timeoutMs?: number;
}

export class RawComponent {
  onIq: (stanza: string) => void = () => undefined;
  /** After a chunk of input was scanned: the moment to write answers in one go. */
  onChunk: () => void = () => undefined;
  onClose: (reason: string) => void = () => undefined;
  private buf = '';
  private closing = false;

  private constructor(private readonly socket: net.Socket) {}

  static async open(o: ComponentOptions): Promise<RawComponent> {
    const socket = await connect(o.host, o.port, o.timeoutMs ?? 15_000);
    socket.setEncoding('utf8');
    const c = new RawComponent(socket);
    try {
      // The server may send stanzas in the same segment as its <handshake/>: they are kept, and
      // handed over once the caller has had the chance to set onIq (it does so right after open()).
      c.buf = await c.handshake(o);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    socket.on('data', (chunk: string) => c.received(chunk));
    if (c.buf !== '') setImmediate(() => c.received(''));
    socket.on('close', () => c.closing || c.onClose('connection closed by the server'));
    return c;
  }

  private received(chunk: string): void {
    this.buf += chunk;
    this.buf = this.buf.slice(scanElements(this.buf, (name, buf, start, _headEnd, end) => name === 'iq' && this.onIq(buf.slice(start, end))));
    this.onChunk();
  }

  /** Resolves with what came after the server's <handshake/>. */
  private handshake(o: ComponentOptions): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new BenchError('timeout', `component ${o.domain}: no handshake within ${(o.timeoutMs ?? 15_000) / 1000} s`)), o.timeoutMs ?? 15_000);
      let input = '';
      let sent = false;
      const done = (e?: Error, rest = ''): void => {
        clearTimeout(timer);
        this.socket.removeListener('data', onData);
        if (e) reject(e);
        else resolve(rest);
      };
      const onData = (chunk: string): void => {
        input += chunk;
        const error = /<stream:error\b[^>]*>\s*<([a-z-]+)/.exec(input);
        if (error) return done(new BenchError('auth', `component ${o.domain}: stream error ${error[1]}`));
        const header = /<stream:stream\b[^>]*>/.exec(input);
        if (!sent && header) {
          const id = attr(header[0], 'id') ?? '';
          this.socket.write(`<handshake>${createHash('sha1').update(id + o.secret).digest('hex')}</handshake>`);
          sent = true;
          input = input.slice(header.index + header[0].length);
        }
        const ok = sent ? /<handshake\s*\/>|<handshake><\/handshake>/.exec(input) : null;
        if (ok) done(undefined, input.slice(ok.index + ok[0].length));
      };
      this.socket.on('data', onData);
      this.socket.on('close', () => done(new BenchError('closed', `component ${o.domain}: connection closed during the handshake`)));
      this.socket.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${o.domain}'>`);
    });
  }

  write(data: string): void {
    this.socket.write(data);
  }

  close(): void {
    this.closing = true;
    this.socket.end('</stream:stream>');
  }
}
