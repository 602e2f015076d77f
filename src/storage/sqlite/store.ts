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
import { ReadCaches } from './read-cache.js';
import { RemoteDatabase } from './remote-db.js';
import { SqliteRoster } from './roster.js';
import { SqliteServerKeys } from './server-keys.js';
import { SqliteSmTombstones } from './sm-tombstones.js';
import { SqliteUnifiedPush } from './unified-push.js';

/** Set on every connection the server writes through: these settings are not stored in the file. */
const CONNECTION_PRAGMAS = [
  // With WAL (set once, kept in the file), synchronous=NORMAL: a committed row survives a
  // process crash (SIGKILL), which is the failure the push pipeline must ride out; only an OS
  // crash can lose the last transactions.
  'synchronous = NORMAL',
  'busy_timeout = 5000',
  // SQLite's automatic checkpoint (every 1000 pages) ran two fsyncs inside whichever insert
  // crossed the line, stalling routing; the server checkpoints from a worker thread instead
  // (checkpointer.ts), and this larger threshold only bounds the log.
  'wal_autocheckpoint = 20000',
  'foreign_keys = ON',
];

const NONE_FAILED: ReadonlySet<number> = new Set();

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
  private readonly caches = new ReadCaches();
  private readonly dataVersion: Database.Statement<[], number> | null;
  private lastDataVersion: unknown;
  private groupCommit: { onFailure: (e: unknown) => void; open: boolean; waiting: ((ok: boolean, failedTx: ReadonlySet<number>) => void)[] } | null = null;
  /** Top-level transactions begun in the current turn; the storage thread numbers them the same way. */
  private turnTx = 0;
  /** With a storage thread: who waits for the commit it has not answered yet. */
  private committing: ((ok: boolean, failedTx: ReadonlySet<number>) => void)[] | null = null;
  private level = 0;
  private otherWriterCommits = 0;
  /**
   * True while a storage-thread commit's waiters run, until one of them begins a transaction:
   * what they write vouches only for that commit, already on disk, so whenDurable need not hold
   * it behind the transaction the rest of the turn has opened meanwhile.
   */
  private afterCommit = false;

  /** Set when a storage thread owns the connection (storage.thread). */
  private readonly remote: RemoteDatabase | null = null;

  /** onStorageLost: the storage thread died; the store can no longer write (the server stops). */
  constructor(path: string, options: { storageThread?: boolean; onStorageLost?: (message: string) => void } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    for (const p of CONNECTION_PRAGMAS) this.db.pragma(p);
    migrate(this.db);
    if (options.storageThread && path !== ':memory:') {
      this.db.close();
      this.remote = new RemoteDatabase(path, CONNECTION_PRAGMAS, {
        onCommitFailure: (message) => this.groupCommit?.onFailure(new Error(message)),
        onOtherWriter: () => this.noticedOtherWriter(),
        onLost: (message) => options.onStorageLost?.(message),
      });
      // The repositories only use the part of better-sqlite3's API that RemoteDatabase mirrors.
      this.db = this.remote as unknown as Database.Database;
    }
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    this.dataVersion = this.remote ? null : this.db.prepare<[], number>('PRAGMA data_version').pluck();
    this.lastDataVersion = this.dataVersion?.get();
    this.accounts = new SqliteAccounts(this.db, this.caches);
    this.roster = new SqliteRoster(this.db);
    this.offline = new SqliteOffline(this.db, this.caches);
    this.smTombstones = new SqliteSmTombstones(this.db);
    this.archive = new SqliteArchive(this.db, this.caches);
    this.pep = new SqlitePep(this.db);
    this.pushRegistrations = new SqlitePushRegistrations(this.db, this.caches);
    this.pushOutbox = new SqlitePushOutbox(this.db);
    this.serverKeys = new SqliteServerKeys(this.db);
    this.unifiedPush = new SqliteUnifiedPush(this.db);
  }

  /**
   * Group commit: every transaction begun in one turn of the event loop runs
   * as a savepoint of one SQLite transaction, and that commits when the turn
   * ends (setImmediate). A WAL commit writes each page it dirtied, and a
   * turn's messages dirty many of the same pages; with the read memos it cut
   * Herald's CPU per push by about a sixth (docs/PERFORMANCE.md). Whoever
   * must not answer before the data is on disk waits for whenDurable. The
   * server turns it on unless `storage.group_commit` is false.
   */
  enableGroupCommit(onCommitFailure: (e: unknown) => void): void {
    this.groupCommit = { onFailure: onCommitFailure, open: false, waiting: [] };
  }

  transaction<T>(fn: () => T): T {
    this.afterCommit = false;
    if (!this.db.inTransaction) this.noticeOtherWriters();
    const g = this.groupCommit;
    if (g && !g.open && this.db.open) {
      this.db.exec('BEGIN');
      g.open = true;
      this.turnTx = 0;
      setImmediate(() => this.commitTurn());
    }
    if (this.level === 0) this.turnTx++;
    this.level++;
    try {
      return this.inTransaction(fn) as T;
    } catch (e) {
      this.forgetUncommitted();
      throw e;
    } finally {
      this.level--;
    }
  }

  get failsLate(): boolean {
    return this.remote !== null;
  }

  whenCommitted(cb: (ok: boolean) => void): void {
    const g = this.groupCommit;
    if (!this.remote || !g?.open) return this.whenDurable(cb);
    const tx = this.turnTx;
    g.waiting.push((ok, failedTx) => cb(ok && !failedTx.has(tx)));
  }

  /** After a rollback: the memos may hold what it undid, and an outbox id block it reserved is gone. */
  private forgetUncommitted(): void {
    this.caches.clear();
    this.pushOutbox.forgetReservation();
  }

  /**
   * Another connection (the `herald` CLI) committed since we last looked: our memos may be stale.
   * With the storage thread, that thread looks instead and tells us (RemoteDatabase's onOtherWriter):
   * asking here would make every transaction wait for all the writes queued before it.
   */
  private noticeOtherWriters(): void {
    if (!this.dataVersion) return;
    const v = this.dataVersion.get();
    if (v === this.lastDataVersion) return;
    this.lastDataVersion = v;
    this.noticedOtherWriter();
  }

  private noticedOtherWriter(): void {
    this.otherWriterCommits++;
    this.caches.clear();
  }

  otherWrites(): number {
    if (!this.db.inTransaction) this.noticeOtherWriters();
    return this.otherWriterCommits;
  }

  /**
   * With a storage thread, between pieces of input (each client or component
   * chunk): hears the commit on its way, if it has finished, now rather than when
   * the turn ends. What that commit made durable leaves at once, and the
   * transaction the turn has written meanwhile goes to be committed, so the
   * storage thread writes one part of a long turn while this thread handles
   * the next. (Committing earlier than that, with no commit on its way, made
   * smaller commits that cost more than the overlap saved.)
   */
  progress(): void {
    if (this.committing && this.level === 0) this.remote?.drain();
  }

  whenDurable(cb: (ok: boolean) => void): void {
    if (this.afterCommit) process.nextTick(cb, true); // never inside a transaction: transaction() clears it
    else if (this.groupCommit?.open) this.groupCommit.waiting.push(cb);
    else if (this.committing) this.committing.push(cb);
    else process.nextTick(cb, true);
  }

  /**
   * Commits the turn's transaction, then tells whoever waited for it. With a
   * storage thread, one commit is on its way at a time: while it is, the
   * transaction stays open across turns and is committed when the answer
   * comes, so a busy storage thread gets fewer, larger commits (each writes
   * its dirty pages once) instead of falling further behind.
   */
  private commitTurn(force = false): void {
    const g = this.groupCommit;
    if (!g?.open) return;
    if (this.remote && this.committing && !force) return;
    g.open = false;
    const waiting = g.waiting;
    g.waiting = [];
    if (this.remote) {
      this.committing = waiting;
      this.remote.commit((ok, failures) => {
        this.committing = null;
        const failedTx = new Set(failures.map(([tx]) => tx));
        if (!ok || failedTx.size > 0) this.forgetUncommitted();
        try {
          for (const cb of waiting) {
            this.afterCommit = true;
            cb(ok, failedTx);
          }
        } finally {
          this.afterCommit = false; // a waiter that threw must not leave later output unheld
        }
        this.commitTurn();
      });
      return;
    }
    let ok = true;
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      ok = false;
      this.forgetUncommitted();
      g.onFailure(e);
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch (e2) {
        g.onFailure(e2);
      }
    }
    for (const cb of waiting) cb(ok, NONE_FAILED);
  }

  close(): void {
    if (!this.db.open) return;
    if (this.remote?.lost) return this.remote.close(); // nothing more can be written
    this.commitTurn(true);
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
