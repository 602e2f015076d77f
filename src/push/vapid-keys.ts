import { createHash } from 'node:crypto';
import type { Store } from '../storage/types.js';
import { exportVapidKey, generateVapidKey, importVapidKey, type VapidKey } from './crypto/vapid.js';

const CURRENT = 'vapid-current';
const keyName = (id: string): string => `vapid:${id}`;
const idOf = (k: VapidKey): string => createHash('sha256').update(k.publicKeyRaw).digest('base64url').slice(0, 16);

/**
 * The server's VAPID keys, in storage. One is current: browsers subscribe
 * with its public key. Rotation makes a new one current and keeps the old
 * ones, because a push service accepts, for a subscription, only tokens
 * signed with the key it was created with; each registration remembers its
 * key, so old subscriptions keep working until their clients re-subscribe.
 */
export class VapidKeys {
  private readonly loaded = new Map<string, VapidKey>();

  constructor(private readonly store: Store) {}

  /** The key browsers should subscribe with; created on first use. */
  current(): { id: string; key: VapidKey } {
    return this.existing() ?? this.rotate(true);
  }

  private existing(): { id: string; key: VapidKey } | undefined {
    const pointer = this.store.serverKeys.get(CURRENT)?.toString();
    const key = pointer === undefined ? undefined : this.byId(pointer);
    return pointer !== undefined && key ? { id: pointer, key } : undefined;
  }

  byId(id: string): VapidKey | undefined {
    let key = this.loaded.get(id);
    if (key) return key;
    const der = this.store.serverKeys.get(keyName(id));
    if (!der) return undefined;
    key = importVapidKey(der);
    this.loaded.set(id, key);
    return key;
  }

  /** Makes a new key current (keeping the old ones); with `onlyIfMissing`, two racing starts agree on one. */
  rotate(onlyIfMissing = false): { id: string; key: VapidKey } {
    return this.store.transaction(() => {
      const existing = onlyIfMissing ? this.existing() : undefined;
      if (existing) return existing;
      const key = generateVapidKey();
      const id = idOf(key);
      this.store.serverKeys.set(keyName(id), exportVapidKey(key));
      this.store.serverKeys.set(CURRENT, Buffer.from(id));
      this.loaded.set(id, key);
      return { id, key };
    });
  }
}
