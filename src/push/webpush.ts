import { createHash } from 'node:crypto';
import type { ClientSession } from '../core/c2s-session.js';
import type { ServerContext } from '../core/context.js';
import { iqResult, StanzaError } from '../core/errors.js';
import type { PushTriggerEvent, StanzaEvent } from '../core/events.js';
import { isLoopbackAddress } from '../net/transport.js';
import { parseJid } from '../jid.js';
import type { PushRegistration } from '../storage/types.js';
import { buildForm } from '../xml/data-form.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { VapidSigner } from './crypto/vapid.js';
import { encryptWebPush, isP256Point } from './crypto/webpush.js';
import { stanzaKey, unwrapCarbon } from './dedup.js';
import type { PushFrontend, PushOutcome } from './frontend.js';
import { HttpSender, retryAfterMs } from './http-sender.js';
import { matchTrigger } from './match-trigger.js';
import { addRegistration } from './registrations.js';
import { VapidKeys } from './vapid-keys.js';

export const WEBPUSH = 'webpush';
export const NS_WEBPUSH = 'urn:xmpp:webpush:0';
const FORM_TYPE = 'http://jabber.org/protocol/webpush#public-key';

interface StoredOptions {
  auth: string;
  p256dh: string;
  /** The VAPID key the subscription was made with. */
  vapid: string;
}

/** What the outbox keeps: the notification (before encryption) and its RFC 8030 headers. */
interface StoredPush {
  message: Record<string, string>;
  urgency: string;
  topic?: string;
}

/** Decodes base64 or base64url (browsers hand out the latter). */
function decode(value: string | undefined): Buffer | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) return null;
  return Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/**
 * Web Push (`urn:xmpp:webpush:0`) straight to browsers' push services, what
 * the withdrawn mod_web_push meant to be: payloads encrypted per RFC 8291,
 * VAPID (RFC 8292) with the server's own stored key, RFC 8030 headers, and
 * every delivery through the pipeline's outbox.
 */
export function createWebPush(ctx: ServerContext): PushFrontend & { close(): Promise<void> } {
  const cfg = ctx.config.webpush;
  const keys = new VapidKeys(ctx.store);
  const http = new HttpSender(ctx.config.push.response_timeout * 1000);
  const contact = cfg.contact !== '' ? cfg.contact : `mailto:postmaster@${ctx.config.server.domains[0] ?? 'localhost'}`;
  const signers = new Map<string, VapidSigner>();
  const signer = (id: string): VapidSigner | undefined => {
    let s = signers.get(id);
    if (!s) {
      const key = keys.byId(id);
      if (!key) return undefined;
      signers.set(id, (s = new VapidSigner(key, contact)));
    }
    return s;
  };
  const optionsOf = (reg: PushRegistration): StoredOptions => JSON.parse(reg.options) as StoredOptions;

  ctx.disco.account.features.add(NS_WEBPUSH);
  ctx.disco.account.forms.push(() =>
    buildForm('result', [
      { var: 'FORM_TYPE', type: 'hidden', values: [FORM_TYPE] },
      { var: 'webpush#public-key', values: [keys.current().key.publicKeyRaw.toString('base64url')] },
    ]),
  );

  const checkEndpoint = (value: string | undefined): string => {
    if (value === undefined || value.trim() === '') throw new StanzaError('modify', 'bad-request', 'endpoint: missing');
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      throw new StanzaError('modify', 'bad-request', 'endpoint: not a URL');
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const loopback = host === 'localhost' || isLoopbackAddress(host);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && cfg.allow_insecure_loopback)) {
      throw new StanzaError('modify', 'bad-request', 'endpoint: must be an https URL');
    }
    return url.toString();
  };

  ctx.bus.on(`iq-set/self/${NS_WEBPUSH}:enable`, (e: StanzaEvent) => {
    const session = e.origin as ClientSession;
    const el = e.stanza.firstElement() as Element;
    const endpoint = checkEndpoint(el.getChildText('endpoint'));
    const auth = decode(el.getChildText('auth'));
    if (!auth || auth.length !== 16) throw new StanzaError('modify', 'bad-request', 'auth: must be 16 bytes in base64');
    const p256dh = decode(el.getChildText('p256dh'));
    if (!p256dh || !isP256Point(p256dh)) throw new StanzaError('modify', 'bad-request', 'p256dh: not an uncompressed P-256 public key');
    const options: StoredOptions = { auth: auth.toString('base64url'), p256dh: p256dh.toString('base64url'), vapid: keys.current().id };
    addRegistration(ctx, {
      host: session.host,
      username: session.username,
      frontend: WEBPUSH,
      service: endpoint,
      node: '',
      resource: session.jid.resource,
      options: JSON.stringify(options),
    });
    ctx.log.info({ user: session.bare, origin: new URL(endpoint).origin }, 'web push enabled');
    ctx.router.reply(e, iqResult(e.stanza));
    return true;
  });

  ctx.bus.on(`iq-set/self/${NS_WEBPUSH}:disable`, (e: StanzaEvent) => {
    const session = e.origin as ClientSession;
    const endpoint = (e.stanza.firstElement() as Element).getChildText('endpoint')?.trim();
    if (endpoint !== undefined && endpoint !== '') {
      let normalized = endpoint;
      try {
        normalized = new URL(endpoint).toString();
      } catch {
        /* removes nothing */
      }
      ctx.store.pushRegistrations.remove(session.host, session.username, WEBPUSH, normalized);
    } else {
      for (const r of ctx.store.pushRegistrations.forUser(session.host, session.username, WEBPUSH)) ctx.store.pushRegistrations.removeById(r.id);
    }
    ctx.router.reply(e, iqResult(e.stanza));
    return true;
  });

  const encode = (reg: PushRegistration, push: StoredPush): { body: Buffer; headers: Record<string, string> } | null => {
    const o = optionsOf(reg);
    const vapid = signer(o.vapid);
    if (!vapid) return null;
    const body = encryptWebPush(Buffer.from(JSON.stringify(push.message)), { p256dh: Buffer.from(o.p256dh, 'base64url'), auth: Buffer.from(o.auth, 'base64url') }, { padding: cfg.padding });
    const headers: Record<string, string> = {
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
      ttl: String(cfg.ttl),
      urgency: push.urgency,
      authorization: vapid.authorization(reg.service),
    };
    if (push.topic !== undefined) headers.topic = push.topic;
    return { body, headers };
  };

  const deliver = async (reg: PushRegistration, push: StoredPush): Promise<PushOutcome & { status?: number }> => {
    const request = encode(reg, push);
    if (!request) return { ok: false, temporary: false, condition: 'vapid key missing' };
    let answer;
    try {
      answer = await http.post(reg.service, request.headers, request.body);
    } catch (e) {
      return { ok: false, temporary: true, condition: e instanceof Error ? `network: ${e.message}`.slice(0, 120) : 'network' };
    }
    const s = answer.status;
    if (s === 201 || s === 202 || s === 200) return { ok: true };
    if (s === 404 || s === 410) return { ok: false, temporary: false, gone: true, condition: `http-${s}` };
    if (s === 429 || s >= 500) {
      const after = retryAfterMs(answer.headers['retry-after']);
      return after === undefined ? { ok: false, temporary: true, condition: `http-${s}` } : { ok: false, temporary: true, condition: `http-${s}`, retryAfterMs: after };
    }
    return { ok: false, temporary: false, condition: `http-${s}`, status: s };
  };

  return {
    name: WEBPUSH,
    match: matchTrigger,
    payload(_reg, e: PushTriggerEvent) {
      const user = `${e.username}@${e.host}`;
      const stanza = unwrapCarbon(e.stanza);
      const sender = parseJid(stanza.attrs.from ?? '')?.bareString;
      const call = stanza.getChild('propose', NS.jmi) ?? stanza.getChild('propose', NS.jmi1);
      const message: Record<string, string> = { type: call ? 'call' : stanza.name === 'message' ? 'message' : stanza.name, id: stanzaKey(e.stanza, user) };
      if (ctx.config.push.with_sender && sender !== undefined) message.sender = sender;
      const body = stanza.getChildText('body', NS.client);
      if (ctx.config.push.with_body && body !== undefined) message.body = body.slice(0, 1000);
      const urgency = e.importance.priority === 'high' ? 'high' : e.importance.important ? 'normal' : 'low';
      const push: StoredPush = { message, urgency };
      // One topic per conversation: a newer push replaces an undelivered older one at the push service.
      if (sender !== undefined) push.topic = createHash('sha256').update(`${user}|${sender}`).digest('base64url').slice(0, 32);
      return { text: JSON.stringify(push), prepared: push };
    },
    async send(reg, payload, prepared) {
      const push = (prepared as StoredPush | undefined) ?? (JSON.parse(payload) as StoredPush);
      const first = await deliver(reg, push);
      // 413: the push service wants less; once, with only what identifies the push.
      if (!first.ok && first.status === 413 && Object.keys(push.message).length > 2) {
        return deliver(reg, { ...push, message: { type: push.message.type ?? 'message', id: push.message.id ?? '' } });
      }
      return first;
    },
    close: () => http.close(),
  };
}

