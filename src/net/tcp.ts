import net from 'node:net';
import tls from 'node:tls';
import type { TlsContexts } from './tls-contexts.js';
import { isLoopbackAddress, type Transport, type TransportHandlers } from './transport.js';

/** A client stream over TCP, plain (upgradable with STARTTLS) or direct TLS (XEP-0368). */
export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly remoteAddress: string;
  readonly isLoopback: boolean;
  private socket: net.Socket;
  private handlers: TransportHandlers | null = null;
  private tls: boolean;

  constructor(
    socket: net.Socket,
    private readonly contexts: TlsContexts,
  ) {
    this.socket = socket;
    this.tls = socket instanceof tls.TLSSocket;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.isLoopback = isLoopbackAddress(this.remoteAddress);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    this.attach(socket);
  }

  get secure(): boolean {
    return this.tls;
  }

  get canStartTls(): boolean {
    return !this.tls;
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.handlers?.data(chunk));
    socket.on('error', () => {
      /* reported through 'close' with hadError */
    });
    socket.on('close', (hadError: boolean) => {
      if (socket === this.socket) this.handlers?.close(hadError);
    });
  }

  write(data: string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /**
   * The sockets cork() held, one entry per call: STARTTLS may swap sockets in
   * between, and under group commit several chunks' corks can be open at once.
   */
  private readonly corked: net.Socket[] = [];

  cork(): void {
    this.corked.push(this.socket);
    this.socket.cork();
  }

  uncork(): void {
    this.corked.pop()?.uncork();
  }

  startTls(host: string): void {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.contexts.forHost(host),
      SNICallback: this.contexts.sniCallback,
    });
    this.socket = secure;
    this.tls = true;
    this.attach(secure);
  }

  end(): void {
    this.socket.end();
    // A peer that never closes its side must not hold the socket forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
