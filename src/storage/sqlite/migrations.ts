import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order and recorded in PRAGMA user_version.
 * Append new steps; never edit one that has shipped.
 */
const MIGRATIONS: string[] = [
  // 1: accounts, roster, pending subscriptions, offline messages
  `
  CREATE TABLE accounts (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    sha1_stored_key BLOB NOT NULL,
    sha1_server_key BLOB NOT NULL,
    sha256_stored_key BLOB NOT NULL,
    sha256_server_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (host, username)
  ) WITHOUT ROWID;
  CREATE TABLE roster (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    contact TEXT NOT NULL,
    name TEXT,
    subscription TEXT NOT NULL CHECK (subscription IN ('none','to','from','both')),
    ask INTEGER NOT NULL DEFAULT 0,
    groups TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (host, username, contact)
  ) WITHOUT ROWID;
  CREATE TABLE roster_pending (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    contact TEXT NOT NULL,
    stanza TEXT NOT NULL,
    PRIMARY KEY (host, username, contact)
  );
  CREATE TABLE offline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    stanza TEXT NOT NULL,
    stamp INTEGER NOT NULL
  );
  CREATE INDEX offline_user ON offline (host, username, id);
  `,
  // 2: what ended stream-management sessions had handled, for <failed h=.../> after they are gone
  `
  CREATE TABLE sm_tombstones (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    h INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX sm_tombstones_age ON sm_tombstones (created_at);
  `,
];

/** Tables holding per-user rows (host, username columns); an account deletion empties them all. */
export const USER_TABLES = ['roster', 'roster_pending', 'offline', 'sm_tombstones'];

export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this Herald (${MIGRATIONS.length}); refusing to start`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
