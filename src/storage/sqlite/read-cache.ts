/**
 * Memos of the reads every message repeats (does the account exist, its
 * archive preferences, its offline count, its push registrations), so a
 * message costs no more lookups than its writes. Whatever can make a memo
 * wrong drops them all: a write through the owning repository drops or
 * updates its own entries, a rolled-back transaction drops everything (a
 * memo may hold what it undid), and so does a commit by another connection
 * (the `herald` CLI), seen through PRAGMA data_version when a transaction
 * begins or an idle second passes (with a storage thread, by that thread,
 * which reports it).
 */
export class ReadCache<K, V> {
  private readonly map = new Map<K, V>();

  /** `limit` bounds memory: past it the memo starts again empty. */
  constructor(private readonly limit: number) {}

  get(key: K, load: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined || this.map.has(key)) return hit as V;
    const v = load();
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(key, v);
    return v;
  }

  /** Changes a memo only where one exists (a count incremented after an insert). */
  update(key: K, change: (v: V) => V): void {
    const v = this.map.get(key);
    if (v !== undefined) this.map.set(key, change(v));
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}

/** The store's memos, dropped together. */
export class ReadCaches {
  private readonly all: ReadCache<unknown, unknown>[] = [];

  constructor(private readonly limit = 100_000) {}

  create<K, V>(): ReadCache<K, V> {
    const c = new ReadCache<K, V>(this.limit);
    this.all.push(c as ReadCache<unknown, unknown>);
    return c;
  }

  clear(): void {
    for (const c of this.all) c.clear();
  }
}

/** The key of a user's memo. */
export const userKey = (host: string, username: string): string => `${username}@${host}`;
