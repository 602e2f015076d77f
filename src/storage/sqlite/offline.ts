import type { Database, Statement } from 'better-sqlite3';
import type { OfflineMessage, OfflineRepository } from '../types.js';
import { type ReadCache, type ReadCaches, userKey } from './read-cache.js';

export class SqliteOffline implements OfflineRepository {
  private readonly insertStmt: Statement<[string, string, string, number]>;
  private readonly countStmt: Statement<[string, string], { n: number }>;
  private readonly listStmt: Statement<[string, string], OfflineMessage>;
  private readonly deleteStmt: Statement<[number, string, string]>;
  /** Counted once, then kept: a count(*) on every store grew with the queue. */
  private readonly counts: ReadCache<string, number>;

  constructor(
    private readonly db: Database,
    caches: ReadCaches,
  ) {
    this.counts = caches.create();
    this.insertStmt = db.prepare('INSERT INTO offline (host, username, stanza, stamp) VALUES (?, ?, ?, ?)');
    this.countStmt = db.prepare('SELECT count(*) AS n FROM offline WHERE host = ? AND username = ?');
    this.listStmt = db.prepare('SELECT id, stanza, stamp FROM offline WHERE host = ? AND username = ? ORDER BY id');
    this.deleteStmt = db.prepare('DELETE FROM offline WHERE id = ? AND host = ? AND username = ?');
  }

  store(host: string, username: string, stanza: string, stamp: number): void {
    this.insertStmt.run(host, username, stanza, stamp);
    this.counts.update(userKey(host, username), (n) => n + 1);
  }

  count(host: string, username: string): number {
    return this.counts.get(userKey(host, username), () => this.countStmt.get(host, username)?.n ?? 0);
  }

  list(host: string, username: string): OfflineMessage[] {
    return this.listStmt.all(host, username);
  }

  delete(host: string, username: string, ids: number[]): void {
    this.counts.delete(userKey(host, username));
    this.db.transaction(() => {
      for (const id of ids) this.deleteStmt.run(id, host, username);
    })();
  }
}
