import type { Database, Statement } from 'better-sqlite3';
import type { ServerKeyRepository } from '../types.js';

export class SqliteServerKeys implements ServerKeyRepository {
  private readonly getStmt: Statement<[string], { value: Buffer }>;
  private readonly insertStmt: Statement<[string, Buffer, number]>;
  private readonly setStmt: Statement<[string, Buffer, number]>;

  constructor(private readonly db: Database) {
    this.getStmt = db.prepare('SELECT value FROM server_keys WHERE name = ?');
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO server_keys (name, value, created_at) VALUES (?, ?, ?)');
    this.setStmt = db.prepare('INSERT OR REPLACE INTO server_keys (name, value, created_at) VALUES (?, ?, ?)');
  }

  get(name: string): Buffer | undefined {
    return this.getStmt.get(name)?.value;
  }

  getOrCreate(name: string, create: () => Buffer): Buffer {
    // INSERT OR IGNORE then read: two processes starting at once agree on one key.
    return this.db.transaction(() => {
      this.insertStmt.run(name, create(), Date.now());
      return this.getStmt.get(name)?.value as Buffer;
    })();
  }

  set(name: string, value: Buffer): void {
    this.setStmt.run(name, value, Date.now());
  }
}
