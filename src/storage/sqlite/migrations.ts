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
  // 3: message archive (XEP-0313) and its per-user preferences
  `
  CREATE TABLE archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    with_jid TEXT NOT NULL,
    stamp INTEGER NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    stanza TEXT NOT NULL
  );
  CREATE UNIQUE INDEX archive_id ON archive (host, username, id);
  CREATE INDEX archive_user ON archive (host, username, seq);
  CREATE INDEX archive_with ON archive (host, username, with_jid, seq);
  CREATE INDEX archive_stamp ON archive (stamp);
  CREATE TABLE archive_prefs (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    default_mode TEXT NOT NULL CHECK (default_mode IN ('always', 'never', 'roster')),
    always_jids TEXT NOT NULL DEFAULT '[]',
    never_jids TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (host, username)
  );
  `,
  // 4: personal eventing (XEP-0163): nodes with their access model, and persistent items
  `
  CREATE TABLE pep_nodes (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    access_model TEXT NOT NULL,
    max_items INTEGER NOT NULL,
    PRIMARY KEY (host, username, node)
  ) WITHOUT ROWID;
  CREATE TABLE pep_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    published_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX pep_items_id ON pep_items (host, username, node, item_id);
  CREATE INDEX pep_items_node ON pep_items (host, username, node, seq);
  `,
  // 5: the push pipeline: registrations of every front-end, and the durable outbox
  `
  CREATE TABLE push_registrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    frontend TEXT NOT NULL,
    service TEXT NOT NULL,
    node TEXT NOT NULL DEFAULT '',
    resource TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    error_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX push_registrations_key ON push_registrations (host, username, frontend, service, node);
  CREATE TABLE push_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    registration_id INTEGER NOT NULL,
    dedup_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    important INTEGER NOT NULL,
    priority TEXT NOT NULL,
    batched INTEGER NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'coalesced')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    last_error TEXT
  );
  CREATE UNIQUE INDEX push_outbox_dedup ON push_outbox (registration_id, dedup_key);
  CREATE INDEX push_outbox_due ON push_outbox (state, not_before);
  CREATE INDEX push_outbox_age ON push_outbox (created_at);
  `,
  // 6: keys the server generates for itself; UnifiedPush revocations and messages held for a distributor
  `
  CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE up_revoked (
    token_id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE up_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    instance TEXT NOT NULL,
    application TEXT NOT NULL,
    topic TEXT,
    urgency TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX up_messages_jid ON up_messages (jid, id);
  CREATE INDEX up_messages_token ON up_messages (token_id);
  CREATE INDEX up_messages_expiry ON up_messages (expires_at);
  `,
  // 7: the outbox worker reads pending entries in id order from a cursor; without this index every
  // scan sorted all due rows, which grows with the backlog
  `
  CREATE INDEX push_outbox_pending ON push_outbox (state, id);
  `,
  // 8: only pending entries are ever looked up by state, and almost every entry stops being pending
  // a moment after it is written: partial indexes hold just those, so a delivered push leaves them
  // with one deletion each instead of moving to the 'sent' part of two full indexes
  `
  DROP INDEX push_outbox_due;
  DROP INDEX push_outbox_pending;
  CREATE INDEX push_outbox_waiting ON push_outbox (id) WHERE state = 'pending';
  CREATE INDEX push_outbox_next ON push_outbox (not_before) WHERE state = 'pending';
  `,
  // 9: archive ids now carry their seq (archive.ts), so a lookup by id needs no index of its own
  `
  DROP INDEX archive_id;
  `,
  // 10: one index per user's archive instead of two. archive_with put each message in a
  // b-tree ordered by contact, a random page per insert: with two archive rows per
  // message that index cost more than any other write of a push (about a fifth of
  // them). A query by contact now reads the user's index entries newest first and
  // checks with_jid there, touching a table row only for a match (docs/PERFORMANCE.md).
  `
  DROP INDEX archive_with;
  DROP INDEX archive_user;
  CREATE INDEX archive_user ON archive (host, username, seq, with_jid);
  `,
];

/** Tables holding per-user rows (host, username columns); an account deletion empties them all. */
export const USER_TABLES = ['roster', 'roster_pending', 'offline', 'sm_tombstones', 'archive', 'archive_prefs', 'pep_nodes', 'pep_items', 'push_registrations', 'up_messages'];

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
