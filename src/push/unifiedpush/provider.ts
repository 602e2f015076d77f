import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TallyCounter } from '../../core/tally-counter.js';
import type { HeraldModule, ServerContext } from '../../core/context.js';
import { errorCondition, iqResult, StanzaError } from '../../core/errors.js';
import type { StanzaEvent } from '../../core/events.js';
import { chore } from '../../core/guard.js';
import { parseJid } from '../../jid.js';
import { sendJson } from '../../net/http.js';
import { PerMinuteLimiter } from '../../net/rate-limit.js';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/namespaces.js';
import { aclAllows } from './acl.js';
import { readBody } from './http-body.js';
import { TokenCodec, type TokenClaims } from './token.js';

export const NS_UP = 'http://gultsch.de/xmpp/drafts/unified-push';
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'Content-Encoding, Content-Type, TTL, Topic, Urgency',
  'access-control-max-age': '7200',
};

type Delivery = 'delivered' | 'revoked' | 'temporary';

/** XEP-0082 time without fractions, as the original sends `expiration`. */
const xepTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function checkKey(value: string | undefined, name: string): void {
  if (value === undefined || value === '') throw new StanzaError('modify', 'bad-request', `${name}: no value provided`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new StanzaError('modify', 'bad-request', `${name}: invalid base64`);
  if (Buffer.from(value, 'base64').length !== 32) throw new StanzaError('modify', 'bad-request', `${name}: incorrect decoded length, expected 32`);
}

/**
 * A UnifiedPush provider: application servers POST to `/push/<token>` on the
 * HTTP port, and the bytes reach the user's XMPP client (the distributor) in
 * a `<push/>` IQ. Beyond the original: a distributor that is offline or
 * hibernating gets the message later (stored up to the request's TTL, capped
 * by unifiedpush.max_store_ttl; Topic replaces, order kept, restarts
 * survived), tokens expire, and revoked ones stay revoked.
 */
function install(ctx: ServerContext): void {
  const cfg = ctx.config.unifiedpush;
  if (!cfg.enabled) return;
  const codec = new TokenCodec(ctx.store.serverKeys.getOrCreate('unifiedpush-token-key', () => randomBytes(32)));
  const acl = cfg.acl.length > 0 ? cfg.acl : ctx.config.server.domains;
  const limiter = new PerMinuteLimiter(cfg.rate_per_minute);
  const flushing = new Set<string>();
  const pushes = new TallyCounter({
    name: 'herald_unifiedpush_pushes_total',
    help: 'UnifiedPush messages: received (by HTTP status), delivered, stored, expired, rejected (by HTTP status)',
    labelNames: ['event', 'status'],
    registers: [ctx.metrics],
  });
  const base = (host: string): string => (cfg.endpoint_base !== '' ? cfg.endpoint_base.replace(/\/$/, '') : `http://${host}:${ctx.config.http.port}`);

  ctx.disco.host.features.add(NS_UP);

  ctx.bus.on(`iq-set/host/${NS_UP}:register`, (e: StanzaEvent) => {
    if (!aclAllows(acl, e.from)) throw new StanzaError('auth', 'forbidden', 'you may not register UnifiedPush endpoints here');
    const el = e.stanza.firstElement() as Element;
    checkKey(el.attrs.instance, 'instance');
    checkKey(el.attrs.application, 'application');
    const exp = Date.now() + cfg.registration_ttl * 1000;
    const { token } = codec.seal({
      jid: e.from.toString(),
      host: e.to.domain,
      instance: el.attrs.instance as string,
      application: el.attrs.application as string,
      exp: Math.floor(exp / 1000),
    });
    ctx.router.reply(e, iqResult(e.stanza, x('registered', { xmlns: NS_UP, expiration: xepTime(exp), endpoint: `${base(e.to.domain)}/push/${token}` })));
    return true;
  });

  /** One push to the distributor, waiting for its answer. */
  const send = async (claims: TokenClaims, body: Buffer): Promise<Delivery> => {
    const id = ctx.router.iq.newId();
    const answer = ctx.router.iq.expect(id, claims.jid, cfg.delivery_timeout * 1000);
    ctx.router.send(
      x('iq', { type: 'set', id, from: claims.host, to: claims.jid }, x('push', { xmlns: NS_UP, instance: claims.instance, application: claims.application }, body.toString('base64'))),
    );
    const reply = await answer;
    if (reply?.attrs.type === 'result') return 'delivered';
    const condition = reply ? errorCondition(reply) : undefined;
    // The distributor says the app is gone (unregistered, uninstalled): the endpoint is revoked for good.
    return condition === 'item-not-found' || condition === 'feature-not-implemented' ? 'revoked' : 'temporary';
  };

  const revoke = (claims: TokenClaims): void => {
    ctx.store.unifiedPush.revoke(claims.id, claims.exp * 1000);
    ctx.store.unifiedPush.deleteForToken(claims.id);
    ctx.log.info({ user: claims.jid }, 'UnifiedPush endpoint revoked by the distributor');
  };

  const live = (jid: string): boolean => {
    const j = parseJid(jid);
    const s = j ? ctx.sessions.get(j) : undefined;
    return s !== undefined && s.connected;
  };

  /** Delivers what waited for a distributor, oldest first, one at a time so the order holds. */
  const flush = async (jid: string): Promise<void> => {
    if (flushing.has(jid)) return;
    flushing.add(jid);
    try {
      for (const m of ctx.store.unifiedPush.pendingFor(jid, Date.now())) {
        if (!live(jid)) return;
        const claims: TokenClaims = { id: m.tokenId, jid: m.jid, host: m.host, instance: m.instance, application: m.application, exp: Math.floor(m.expiresAt / 1000) };
        const outcome = await send(claims, m.body);
        if (outcome === 'temporary') return;
        if (outcome === 'revoked') {
          revoke(claims);
          pushes.inc({ event: 'rejected', status: '404' });
          continue;
        }
        ctx.store.unifiedPush.delete(m.id);
        pushes.inc({ event: 'delivered', status: '' });
      }
    } catch (e) {
      ctx.log.error({ err: e }, 'UnifiedPush redelivery failed');
    } finally {
      flushing.delete(jid);
    }
  };

  const reply = (res: ServerResponse, status: number, headers: Record<string, string> = {}, body = ''): void => {
    pushes.inc({ event: status === 201 ? 'received' : 'rejected', status: String(status) });
    res.writeHead(status, { ...CORS, ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };

  const post = async (req: IncomingMessage, res: ServerResponse, token: string): Promise<void> => {
    const claims = codec.open(token);
    if (!claims || claims.exp * 1000 <= Date.now() || ctx.store.unifiedPush.isRevoked(claims.id)) return reply(res, 404);
    if (!limiter.hit(claims.id)) return reply(res, 429, { 'retry-after': '60' });
    const body = await readBody(req, cfg.max_payload_bytes);
    if (body === 'too-large') return reply(res, 413, { connection: 'close' });
    if (body.length === 0) return reply(res, 400, {}, 'empty body');
    const ttlHeader = req.headers.ttl;
    const ttl = ttlHeader === undefined ? cfg.max_store_ttl : /^\d+$/.test(String(ttlHeader)) ? Number(ttlHeader) : NaN;
    if (!Number.isFinite(ttl)) return reply(res, 400, {}, 'invalid TTL');
    const urgency = String(req.headers.urgency ?? 'normal');
    if (!URGENCIES.has(urgency)) return reply(res, 400, {}, 'invalid Urgency');
    const topic = req.headers.topic === undefined ? null : String(req.headers.topic);
    if (topic !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return reply(res, 400, {}, 'invalid Topic');

    // Live delivery, unless older messages still wait (they go first).
    if (live(claims.jid) && !ctx.store.unifiedPush.hasPending(claims.jid, Date.now())) {
      const outcome = await send(claims, body);
      if (outcome === 'delivered') {
        pushes.inc({ event: 'delivered', status: '' });
        return reply(res, 201, { ttl: '0' });
      }
      if (outcome === 'revoked') {
        revoke(claims);
        return reply(res, 404);
      }
    }
    const granted = Math.min(ttl, cfg.max_store_ttl);
    if (granted === 0) return reply(res, 201, { ttl: '0' });
    const now = Date.now();
    const jid = parseJid(claims.jid);
    ctx.store.unifiedPush.store({
      tokenId: claims.id,
      host: claims.host,
      username: jid?.local ?? '',
      jid: claims.jid,
      instance: claims.instance,
      application: claims.application,
      topic,
      urgency,
      body,
      createdAt: now,
      expiresAt: now + granted * 1000,
    });
    pushes.inc({ event: 'stored', status: '' });
    if (live(claims.jid)) void flush(claims.jid);
    // A 201 promises the message is kept: it waits until the store says it is durable.
    ctx.store.whenDurable((ok) => (ok ? reply(res, 201, { ttl: String(granted) }) : reply(res, 500, {}, 'storage failed')));
  };

  ctx.http.route('/push/', async (req, res) => {
    const token = decodeURIComponent((req.url ?? '').split('?')[0]?.slice('/push/'.length) ?? '');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS);
      res.end();
      return;
    }
    if (req.method === 'GET') {
      sendJson(res, 200, { unifiedpush: { version: 1 } }, CORS);
      return;
    }
    if (req.method !== 'POST' && req.method !== 'PUT') return reply(res, 405, { allow: 'GET, POST, OPTIONS' });
    await post(req, res, token);
  });

  const resume = ({ session }: { session: { jid: { toString(): string } } }): void => void flush(session.jid.toString());
  ctx.bus.on('presence/initial', resume);
  ctx.bus.on('sm/resumed', resume);
  chore(ctx, 'UnifiedPush expiry', 60_000, () => {
    const expired = ctx.store.unifiedPush.expire(Date.now());
    if (expired > 0) pushes.inc({ event: 'expired', status: '' }, expired);
  });
}

export const unifiedPushModule: HeraldModule = { name: 'unifiedpush', install };
