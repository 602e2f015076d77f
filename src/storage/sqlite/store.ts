import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../types.js';
import { SqliteAccounts } from './accounts.js';
import { SqliteArchive } from './archive.js';
import { migrate } from './migrations.js';
import { SqliteOffline } from './offline.js';
import { SqlitePep } from './pep.js';
import { SqlitePushOutbox, SqlitePushRegistrations } from './push.js';
import { SqliteRoster } from './roster.js';
import { SqliteServerKeys } from './server-keys.js';
import { SqliteSmTombstones } from './sm-tombstones.js';
import { SqliteUnifiedPush } from './unified-push.js';

export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly accounts: SqliteAccounts;
  readonly roster: SqliteRoster;
  readonly offline: SqliteOffline;
  readonly smTombstones: SqliteSmTombstones;
  readonly archive: SqliteArchive;
  readonly pep: SqlitePep;
  readonly pushRegistrations: SqlitePushRegistrations;
  readonly pushOutbox: SqlitePushOutbox;
  readonly serverKeys: SqliteServerKeys;
  readonly unifiedPush: SqliteUnifiedPush;
  /** Built once: db.transaction() makes four wrapper functions per call, and this runs per input chunk. */
  private readonly inTransaction: (fn: () => unknown) => unknown;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // WAL with synchronous=NORMAL: a committed row survives a process crash
    // (SIGKILL), which is the failure the push pipeline must ride out; only
    // an OS crash can lose the last transactions.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // SQLite's automatic checkpoint (every 1000 pages) ran two fsyncs inside whichever
    // insert crossed the line, stalling routing; the server checkpoints from a worker
    // thread instead (checkpointer.ts), and this larger threshold only bounds the log.
    this.db.pragma('wal_autocheckpoint = 20000');
    this.db.pragma('foreign_keys = ON');
    migrate(this.db);
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    this.accounts = new SqliteAccounts(this.db);
    this.roster = new SqliteRoster(this.db);
    this.offline = new SqliteOffline(this.db);
    this.smTombstones = new SqliteSmTombstones(this.db);
    this.archive = new SqliteArchive(this.db);
    this.pep = new SqlitePep(this.db);
    this.pushRegistrations = new SqlitePushRegistrations(this.db);
    this.pushOutbox = new SqlitePushOutbox(this.db);
    this.serverKeys = new SqliteServerKeys(this.db);
    this.unifiedPush = new SqliteUnifiedPush(this.db);
  }

  transaction<T>(fn: () => T): T {
    return this.inTransaction(fn) as T;
  }

  close(): void {
    if (!this.db.open) return;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
