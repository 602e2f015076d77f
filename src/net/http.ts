import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

interface Route {
  prefix: string;
  exact: boolean;
  handler: HttpHandler;
}

/**
 * The HTTP listener shared by WebSocket, /health and whatever modules add
 * (metrics, push endpoints). node:http rather than a framework: a handful of
 * routes, and it measured fastest here.
 */
export class HttpRouter {
  private readonly routes: Route[] = [];
  private readonly upgrades = new Map<string, UpgradeHandler>();
  readonly server: http.Server;

  constructor(private readonly log: Logger) {
    this.server = http.createServer((req, res) => this.dispatch(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const handler = this.upgrades.get(path);
      if (!handler) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      handler(req, socket, head);
    });
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }

  /** `path` matches exactly, or as a prefix when it ends with '/'. */
  route(path: string, handler: HttpHandler): void {
    this.routes.push({ prefix: path, exact: !path.endsWith('/'), handler });
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    this.upgrades.set(path, handler);
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = this.routes.find((r) => (r.exact ? path === r.prefix : path.startsWith(r.prefix)));
    if (!route) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    Promise.resolve()
      .then(() => route.handler(req, res))
      .catch((e: unknown) => {
        this.log.error({ err: e, path }, 'HTTP handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal server error' });
        else res.destroy();
      });
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}
