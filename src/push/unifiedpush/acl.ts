import { parseJid, type Jid } from '../../jid.js';

/**
 * Prosody's jid.compare semantics for ACL entries: every part an entry has
 * must match, the parts it lacks match anything. `example.org` admits every
 * user of that domain (not subdomains), `alice@example.org` only Alice, a
 * full JID only that resource.
 */
export function aclAllows(entries: readonly string[], jid: Jid): boolean {
  for (const e of entries) {
    const entry = parseJid(e);
    if (!entry || entry.domain !== jid.domain) continue;
    if (entry.local !== '' && entry.local !== jid.local) continue;
    if (entry.resource !== '' && entry.resource !== jid.resource) continue;
    return true;
  }
  return false;
}
