import { randomBytes } from 'node:crypto';
import type { Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

const assigned = new WeakMap<Element, string>();
const SID_KEY = 'sid:';

/** The message a carbon carries, or the stanza itself. */
export function unwrapCarbon(stanza: Element): Element {
  const carbon = stanza.getChild('received', NS.carbons) ?? stanza.getChild('sent', NS.carbons);
  return carbon?.getChild('forwarded', NS.forward)?.getChild('message') ?? stanza;
}

/**
 * What makes two triggers "the same stanza" for deduplication: its archive
 * id in this user's archive (stable across offline storage, the session queue
 * and carbons), else the sender and stanza id, else the object itself.
 */
export function stanzaKey(stanza: Element, userBare: string): string {
  const inner = unwrapCarbon(stanza);
  const sid = inner.getChildren('stanza-id', NS.sid).find((s) => s.attrs.by === userBare)?.attrs.id;
  if (sid !== undefined) return `${SID_KEY}${sid}`;
  if (inner.attrs.id !== undefined) return `id:${inner.name}:${inner.attrs.from ?? ''}:${inner.attrs.id}`;
  let key = assigned.get(inner);
  if (key === undefined) assigned.set(inner, (key = `obj:${randomBytes(9).toString('base64url')}`));
  return key;
}

/** The archive id a stanza key was made from, if it was made from one. */
export function archiveIdOf(key: string): string | undefined {
  return key.startsWith(SID_KEY) ? key.slice(SID_KEY.length) : undefined;
}
