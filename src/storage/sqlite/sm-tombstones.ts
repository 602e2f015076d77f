import type { Database, Statement } from 'better-sqlite3';
import type { SmTombstone, SmTombstoneRepository } from '../types.js';

export class SqliteSmTombstones implements SmTombstoneRepository {
  private readonly putStmt: Statement<[string, string, string, number, number]>;
  private readonly getStmt: Statement<[string], SmTombstone>;
  private readonly pruneStmt: Statement<[number]>;

  constructor(db: Database) {
    this.putStmt = db.prepare('INSERT OR REPLACE INTO sm_tombstones (id, host, username, h, created_at) VALUES (?, ?, ?, ?, ?)');
    this.getStmt = db.prepare('SELECT host, username, h FROM sm_tombstones WHERE id = ?');
    this.pruneStmt = db.prepare('DELETE FROM sm_tombstones WHERE created_at < ?');
  }

  put(id: string, t: SmTombstone): void {
    this.putStmt.run(id, t.host, t.username, t.h, Date.now());
  }

  get(id: string): SmTombstone | undefined {
    return this.getStmt.get(id);
  }

  prune(before: number): void {
    this.pruneStmt.run(before);
  }
}
