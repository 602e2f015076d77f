import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isLoopbackAddress, type Transport, type TransportHandlers } from './transport.js';

/** A client stream over RFC 7395 WebSocket framing. */
export class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  readonly canStartTls = false;
  readonly isLoopback: boolean;
  private handlers: TransportHandlers | null = null;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly secure: boolean,
    /** The connection under the WebSocket, for corking. */
    private readonly socket: Duplex,
  ) {
    this.isLoopback = isLoopbackAddress(remoteAddress);
    ws.on('message', (data, isBinary) => {
      // RFC 7395 §3.2: XMPP messages are text frames; a binary one is a protocol error.
      if (isBinary) {
        ws.close(1003, 'binary frames are not XMPP');
        return;
      }
      this.handlers?.data(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
    });
    ws.on('error', () => {
      /* reported through 'close' */
    });
    ws.on('close', (code) => this.handlers?.close(code !== 1000));
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
  }

  write(data: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  startTls(): void {
    throw new Error('STARTTLS is not possible on a WebSocket');
  }

  end(): void {
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }

  destroy(): void {
    this.ws.terminate();
  }
}

/** The `/xmpp-websocket` endpoint: only the `xmpp` subprotocol is accepted. */
export function createXmppWebSocketServer(maxPayload: number, onConnection: (ws: WebSocket, req: IncomingMessage) => void): {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
} {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
  });
  wss.on('connection', (ws, req) => {
    if (ws.protocol !== 'xmpp') {
      ws.close(1002, 'the xmpp subprotocol is required');
      return;
    }
    onConnection(ws, req);
  });
  return {
    handleUpgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
