import { readFile } from 'node:fs/promises';
import type { ServerContext } from '../core/context.js';

/** The page, its XMPP client and service worker: static files shipped with Herald, under public/webpush/. */
const ROOT = new URL('../../public/webpush/', import.meta.url);
const FILES: Record<string, string> = {
  '': 'text/html; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
  'client.js': 'text/javascript; charset=utf-8',
  'sw.js': 'text/javascript; charset=utf-8',
};

/**
 * Serves /webpush/: a page that logs in over WebSocket, subscribes this
 * browser with the server's VAPID key and enables web push, so an operator
 * can see a notification on their own desktop.
 */
export function serveWebPushPage(ctx: ServerContext): void {
  ctx.http.route('/webpush/', async (req, res) => {
    const name = (req.url ?? '').split('?')[0]?.slice('/webpush/'.length) ?? '';
    const type = FILES[name];
    if (type === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    const body = await readFile(new URL(name === '' ? 'index.html' : name, ROOT));
    // The service worker may control the whole /webpush/ scope; nothing is cached across upgrades.
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  ctx.http.route('/webpush', (_req, res) => {
    res.writeHead(301, { location: '/webpush/' }).end();
  });
}
