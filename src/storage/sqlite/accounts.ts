import type { Database, Statement } from 'better-sqlite3';
import type { AccountRecord, AccountRepository, Credentials } from '../types.js';
import { USER_TABLES } from './migrations.js';
import { type ReadCache, type ReadCaches, userKey } from './read-cache.js';

interface AccountRow {
  host: string;
  username: string;
  salt: Buffer;
  iterations: number;
  sha1_stored_key: Buffer;
  sha1_server_key: Buffer;
  sha256_stored_key: Buffer;
  sha256_server_key: Buffer;
  created_at: number;
}

export class SqliteAccounts implements AccountRepository {
  private readonly getStmt: Statement<[string, string], AccountRow>;
  private readonly existsStmt: Statement<[string, string], { one: number }>;
  private readonly insertStmt: Statement;
  private readonly updateStmt: Statement;
  private readonly deleteStmt: Statement<[string, string]>;
  private readonly deleteUserRows: Statement<[string, string]>[];
  private readonly listStmt: Statement<[string], { username: string }>;
  private readonly existing: ReadCache<string, boolean>;

  constructor(
    private readonly db: Database,
    private readonly caches: ReadCaches,
  ) {
    this.existing = caches.create();
    this.getStmt = db.prepare('SELECT * FROM accounts WHERE host = ? AND username = ?');
    this.existsStmt = db.prepare('SELECT 1 AS one FROM accounts WHERE host = ? AND username = ?');
    this.insertStmt = db.prepare(
      `INSERT OR IGNORE INTO accounts (host, username, salt, iterations, sha1_stored_key, sha1_server_key,
        sha256_stored_key, sha256_server_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.updateStmt = db.prepare(
      `UPDATE accounts SET salt = ?, iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
        sha256_stored_key = ?, sha256_server_key = ? WHERE host = ? AND username = ?`,
    );
    this.deleteStmt = db.prepare('DELETE FROM accounts WHERE host = ? AND username = ?');
    this.deleteUserRows = USER_TABLES.map((t) => db.prepare(`DELETE FROM ${t} WHERE host = ? AND username = ?`));
    this.listStmt = db.prepare('SELECT username FROM accounts WHERE host = ? ORDER BY username');
  }

  get(host: string, username: string): AccountRecord | undefined {
    const r = this.getStmt.get(host, username);
    if (!r) return undefined;
    return {
      host: r.host,
      username: r.username,
      salt: r.salt,
      iterations: r.iterations,
      sha1: { storedKey: r.sha1_stored_key, serverKey: r.sha1_server_key },
      sha256: { storedKey: r.sha256_stored_key, serverKey: r.sha256_server_key },
      createdAt: r.created_at,
    };
  }

  exists(host: string, username: string): boolean {
    return this.existing.get(userKey(host, username), () => this.existsStmt.get(host, username) !== undefined);
  }

  create(host: string, username: string, c: Credentials): boolean {
    const res = this.insertStmt.run(host, username, c.salt, c.iterations, c.sha1.storedKey, c.sha1.serverKey,
      c.sha256.storedKey, c.sha256.serverKey, Date.now());
    this.existing.delete(userKey(host, username));
    return res.changes === 1;
  }

  setCredentials(host: string, username: string, c: Credentials): boolean {
    const res = this.updateStmt.run(c.salt, c.iterations, c.sha1.storedKey, c.sha1.serverKey, c.sha256.storedKey,
      c.sha256.serverKey, host, username);
    return res.changes === 1;
  }

  delete(host: string, username: string): boolean {
    this.caches.clear(); // the user's rows go from every table
    return this.db.transaction(() => {
      for (const s of this.deleteUserRows) s.run(host, username);
      return this.deleteStmt.run(host, username).changes === 1;
    })();
  }

  list(host: string): string[] {
    return this.listStmt.all(host).map((r) => r.username);
  }
}
