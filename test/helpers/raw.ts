import net from 'node:net';

/** A bare TCP connection for feeding a server bytes no well-behaved client library would send. */
export class RawConnection {
  data = '';
  closed = false;
  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (this.data += d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  write(s: string): void {
    this.socket.write(s);
  }

  async waitFor(re: RegExp, timeoutMs = 5000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.data);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got: ${this.data.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection was not closed');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const STREAM_OPEN = (domain = 'localhost'): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;
