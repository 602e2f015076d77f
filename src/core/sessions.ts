import type { Jid } from '../jid.js';
import type { ClientSession } from './c2s-session.js';

/** Bound client sessions by account and resource. */
export class SessionRegistry {
  private readonly byBare = new Map<string, Map<string, ClientSession>>();
  private total = 0;

  get size(): number {
    return this.total;
  }

  /** Adds a bound session; returns the session it replaces (same full JID), if any. */
  add(session: ClientSession): ClientSession | undefined {
    const jid = session.jid;
    const key = jid.bareString;
    let resources = this.byBare.get(key);
    if (!resources) this.byBare.set(key, (resources = new Map()));
    const old = resources.get(jid.resource);
    resources.set(jid.resource, session);
    if (!old) this.total++;
    return old;
  }

  remove(session: ClientSession): void {
    const jid = session.jid;
    const resources = this.byBare.get(jid.bareString);
    if (!resources || resources.get(jid.resource) !== session) return;
    resources.delete(jid.resource);
    this.total--;
    if (resources.size === 0) this.byBare.delete(jid.bareString);
  }

  get(jid: Jid): ClientSession | undefined {
    return this.byBare.get(jid.bareString)?.get(jid.resource);
  }

  hasResource(bare: string, resource: string): boolean {
    return this.byBare.get(bare)?.has(resource) ?? false;
  }

  /** Every bound session of an account. */
  forUser(bare: string): ClientSession[] {
    const r = this.byBare.get(bare);
    return r ? [...r.values()] : [];
  }

  /** Sessions that have sent available presence (RFC 6121 "available resources"). */
  available(bare: string): ClientSession[] {
    const r = this.byBare.get(bare);
    if (!r) return [];
    const out: ClientSession[] = [];
    for (const s of r.values()) if (s.available) out.push(s);
    return out;
  }

  *all(): IterableIterator<ClientSession> {
    for (const r of this.byBare.values()) yield* r.values();
  }
}
