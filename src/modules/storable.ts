import type { Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

/** Payload namespaces that make a message worth keeping even without a body (XEP-0160, XEP-0313 §5.1.1). */
const STORABLE_NS = new Set<string>([
  NS.omemoLegacy,
  NS.omemo1,
  NS.omemo2,
  NS.pgpLegacy,
  NS.openpgp,
  NS.eme,
  NS.receipts,
  NS.markers,
  NS.conference,
  NS.jmi,
  NS.jmi1,
]);

/**
 * Whether a message should be kept for later (offline storage, archive):
 * a body, a subject, encrypted content, receipts and markers, invites and
 * call signalling are; chat states alone are not. XEP-0334 hints decide first.
 */
export function isStorable(stanza: Element): boolean {
  let store = false;
  for (const c of stanza.children) {
    if (typeof c === 'string') continue;
    if (c.ns === NS.hints) {
      if (c.name === 'no-store' || c.name === 'no-permanent-store') return false;
      if (c.name === 'store') store = true;
      continue;
    }
    if (c.ns === NS.client && (c.name === 'body' || c.name === 'subject')) {
      if (c.name === 'subject' || c.text().trim() !== '') store = true;
      continue;
    }
    if (STORABLE_NS.has(c.ns)) store = true;
    if (c.ns === NS.mucUser && c.getChild('invite')) store = true;
  }
  return store;
}
