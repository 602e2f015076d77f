import { createCipheriv, randomBytes } from 'node:crypto';
import { StanzaError } from '../core/errors.js';
import type { ImportanceVerdict } from '../core/importance.js';
import { parseJid } from '../jid.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import type { Decision } from './match.js';

/**
 * Tigase push extensions that Siskin and Snikket iOS rely on
 * (xeps.tigase.net push-notifications/encrypt, /priority, /filters):
 * a per-device AES-128-GCM key for the payload, a priority tag, and filters
 * for unknown senders, muted chats and group chats.
 */
export interface TigaseOptions {
  encryption?: { alg: 'aes-128-gcm'; key: string };
  ignoreUnknown?: boolean;
  muted?: string[];
  groupchat?: Record<string, { allow: string; nick?: string }>;
}

export const TIGASE_FEATURES = [
  NS.tigaseEncrypt,
  'tigase:push:encrypt:aes-128-gcm',
  'tigase:push:jingle:0',
  NS.tigasePriority,
  NS.tigaseIgnoreUnknown,
  NS.tigaseMuted,
  NS.tigaseGroupchat,
];

/** Reads the extension children of an `<enable/>`; throws the StanzaError the client should get. */
export function parseTigaseOptions(enable: Element): TigaseOptions {
  const out: TigaseOptions = {};
  const encrypt = enable.getChild('encrypt', NS.tigaseEncrypt);
  if (encrypt) {
    if (encrypt.attrs.alg !== 'aes-128-gcm') throw new StanzaError('modify', 'feature-not-implemented', 'Unknown encryption algorithm');
    const text = encrypt.text().trim();
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    if (key.length !== 16) throw new StanzaError('modify', 'bad-request', 'Invalid encryption key');
    out.encryption = { alg: 'aes-128-gcm', key: key.toString('base64') };
  }
  if (enable.getChild('ignore-unknown', NS.tigaseIgnoreUnknown)) out.ignoreUnknown = true;
  const muted = enable.getChild('muted', NS.tigaseMuted);
  if (muted) {
    out.muted = muted
      .getChildren('item')
      .map((i) => parseJid(i.attrs.jid ?? '')?.bareString)
      .filter((j): j is string => j !== undefined);
  }
  const groupchat = enable.getChild('groupchat', NS.tigaseGroupchat);
  if (groupchat) {
    out.groupchat = {};
    for (const room of groupchat.getChildren('room')) {
      const jid = parseJid(room.attrs.jid ?? '')?.bareString;
      if (jid === undefined) continue;
      out.groupchat[jid] = room.attrs.nick === undefined ? { allow: room.attrs.allow ?? 'always' } : { allow: room.attrs.allow ?? 'always', nick: room.attrs.nick };
    }
  }
  return out;
}

/** The Tigase filters' veto, in the original's order: unknown sender, muted, group chat rules. */
export function tigaseFilter(opts: TigaseOptions, message: Element, userBare: string, senderKnown: boolean): Decision {
  const from = parseJid(message.attrs.from ?? '');
  const sender = from?.bareString ?? '';
  if (opts.ignoreUnknown && !senderKnown) return [false, 'unknown sender'];
  if (opts.muted?.includes(sender)) return [false, 'muted'];
  const rule = message.attrs.type === 'groupchat' ? opts.groupchat?.[sender] : undefined;
  if (rule?.allow === 'never') return [false, 'group chat: never'];
  if (rule?.allow === 'mentioned') {
    const mentions = [`xmpp:${userBare}`, ...(rule.nick === undefined ? [] : [`xmpp:${sender}/${rule.nick}`])];
    const mentioned = message.getChildren('reference', NS.reference).some((r) => r.attrs.type === 'mention' && mentions.includes(r.attrs.uri ?? ''));
    if (!mentioned) return [false, 'group chat: not mentioned'];
  }
  return [true, 'passes filters'];
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= max) return s;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * The encrypted payload: a small JSON object for the device only (it carries
 * the real sender and text, which the app server cannot read), AES-128-GCM
 * with a fresh 12-byte IV, ciphertext followed by the 16-byte tag.
 */
export function tigaseEncrypted(key: string, message: Element, importance: ImportanceVerdict, iv = randomBytes(12)): Element {
  const payload: Record<string, unknown> = { unread: 1 };
  const from = parseJid(message.attrs.from ?? '');
  const propose = message.getChild('propose', NS.jmi) ?? message.getChild('propose', NS.jmi1);
  const body = message.getChildText('body', NS.client);
  const encrypted = message.getChild('encryption', NS.eme) || message.getChild('encrypted', NS.omemoLegacy) || message.getChild('encrypted', NS.omemo2);
  if (propose) {
    payload.type = 'call';
    payload.sender = from?.toString();
    payload.sid = propose.attrs.id;
    payload.media = [...new Set(propose.getChildren('description', NS.jingleRtp).map((d) => d.attrs.media).filter((m) => m !== undefined))];
  } else if (message.name === 'presence') {
    payload.type = 'subscribe';
    payload.sender = from?.bareString;
  } else {
    payload.sender = from?.bareString;
    if (message.attrs.type === 'groupchat') {
      payload.type = 'groupchat';
      payload.nickname = from?.resource;
    } else if (message.attrs.type !== 'error') {
      payload.type = 'chat';
    }
    if (encrypted) payload.message = 'You have received an encrypted message';
    else if (body !== undefined) payload.message = truncateUtf8(body, 255);
  }
  const cipher = createCipheriv('aes-128-gcm', Buffer.from(key, 'base64'), iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  const calls = importance.priority === 'high' && propose !== undefined;
  return x('encrypted', { xmlns: NS.tigaseEncrypt, iv: iv.toString('base64'), type: calls ? 'voip' : undefined }, ct.toString('base64'));
}
