import type { Database, Statement } from 'better-sqlite3';
import type {
  NewOutboxEntry,
  NewPushRegistration,
  OutboxEntry,
  OutboxState,
  PushOutboxRepository,
  PushRegistration,
  PushRegistrationRepository,
} from '../types.js';
import { type ReadCache, type ReadCaches, userKey } from './read-cache.js';

interface RegRow {
  id: number;
  host: string;
  username: string;
  frontend: string;
  service: string;
  node: string;
  resource: string | null;
  options: string;
  created_at: number;
  error_count: number;
}

const toReg = (r: RegRow): PushRegistration => ({
  id: r.id,
  host: r.host,
  username: r.username,
  frontend: r.frontend,
  service: r.service,
  node: r.node,
  resource: r.resource,
  options: r.options,
  createdAt: r.created_at,
  errorCount: r.error_count,
});

export class SqlitePushRegistrations implements PushRegistrationRepository {
  private readonly upsertStmt: Statement;
  private readonly getStmt: Statement<[number], RegRow>;
  private readonly forUserStmt: Statement<[string, string], RegRow>;
  private readonly removeStmt: Statement<[string, string, string, string]>;
  private readonly removeNodeStmt: Statement<[string, string, string, string, string]>;
  private readonly removeByIdStmt: Statement<[number]>;
  private readonly errorStmt: Statement<[number], { error_count: number }>;
  private readonly resetStmt: Statement<[number]>;
  private readonly countStmt: Statement<[], { frontend: string; n: number }>;
  /** Read for every message to a user; written rarely, and then both are dropped. */
  private readonly byUser: ReadCache<string, PushRegistration[]>;
  private readonly byId: ReadCache<number, PushRegistration | undefined>;

  constructor(db: Database, caches: ReadCaches) {
    this.byUser = caches.create();
    this.byId = caches.create();
    this.upsertStmt = db.prepare(
      `INSERT INTO push_registrations (host, username, frontend, service, node, resource, options, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (host, username, frontend, service, node) DO UPDATE SET resource = excluded.resource,
       options = excluded.options, created_at = excluded.created_at, error_count = 0 RETURNING id`,
    );
    this.getStmt = db.prepare('SELECT * FROM push_registrations WHERE id = ?');
    this.forUserStmt = db.prepare('SELECT * FROM push_registrations WHERE host = ? AND username = ? ORDER BY created_at, id');
    this.removeStmt = db.prepare('DELETE FROM push_registrations WHERE host = ? AND username = ? AND frontend = ? AND service = ?');
    this.removeNodeStmt = db.prepare('DELETE FROM push_registrations WHERE host = ? AND username = ? AND frontend = ? AND service = ? AND node = ?');
    this.removeByIdStmt = db.prepare('DELETE FROM push_registrations WHERE id = ?');
    this.errorStmt = db.prepare('UPDATE push_registrations SET error_count = error_count + 1 WHERE id = ? RETURNING error_count');
    this.resetStmt = db.prepare('UPDATE push_registrations SET error_count = 0 WHERE id = ? AND error_count != 0');
    this.countStmt = db.prepare('SELECT frontend, count(*) AS n FROM push_registrations GROUP BY frontend');
  }

  private changed(): void {
    this.byUser.clear();
    this.byId.clear();
  }

  upsert(r: NewPushRegistration): number {
    this.changed();
    const row = this.upsertStmt.get(r.host, r.username, r.frontend, r.service, r.node, r.resource, r.options, Date.now()) as { id: number };
    return row.id;
  }

  get(id: number): PushRegistration | undefined {
    return this.byId.get(id, () => {
      const r = this.getStmt.get(id);
      return r ? toReg(r) : undefined;
    });
  }

  /** The array and its objects are shared by later calls: read them, do not change them. */
  forUser(host: string, username: string, frontend?: string): PushRegistration[] {
    const all = this.byUser.get(userKey(host, username), () => this.forUserStmt.all(host, username).map(toReg));
    return frontend === undefined ? all : all.filter((r) => r.frontend === frontend);
  }

  remove(host: string, username: string, frontend: string, service: string, node?: string): number {
    this.changed();
    return node === undefined
      ? this.removeStmt.run(host, username, frontend, service).changes
      : this.removeNodeStmt.run(host, username, frontend, service, node).changes;
  }

  removeById(id: number): void {
    this.changed();
    this.removeByIdStmt.run(id);
  }

  countError(id: number): number {
    this.changed();
    return this.errorStmt.get(id)?.error_count ?? 0;
  }

  resetErrors(id: number): void {
    this.changed();
    this.resetStmt.run(id);
  }

  countByFrontend(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.countStmt.all()) out[r.frontend] = r.n;
    return out;
  }
}

interface OutboxRow {
  id: number;
  registration_id: number;
  dedup_key: string;
  reason: string;
  important: number;
  priority: string;
  batched: number;
  payload: string;
  state: OutboxState;
  attempts: number;
  created_at: number;
  not_before: number;
  last_error: string | null;
}

const toEntry = (r: OutboxRow): OutboxEntry => ({
  id: r.id,
  registrationId: r.registration_id,
  dedupKey: r.dedup_key,
  reason: r.reason,
  important: r.important === 1,
  priority: r.priority,
  batched: r.batched === 1,
  payload: r.payload,
  state: r.state,
  attempts: r.attempts,
  createdAt: r.created_at,
  notBefore: r.not_before,
  lastError: r.last_error,
});

/**
 * Outbox ids reserved at a time. Reserving is a read the main thread waits for, behind every
 * write queued before it when the storage thread is on. With blocks of 10,000 that was once a
 * second at 10,000 pushes/s, and a busy storage thread made each wait 40 ms: 6% of the main
 * thread, all of it latency. At this size it is once in 100 s at that rate. An id block lost
 * to a restart or a rollback only leaves a gap, which ids as large as 2^53 can afford.
 */
const ID_BLOCK = 1_000_000;

export class SqlitePushOutbox implements PushOutboxRepository {
  private readonly addStmt: Statement;
  private readonly getStmt: Statement<[number], OutboxRow>;
  private readonly hasStmt: Statement<[number, string], { one: number }>;
  private readonly dueStmt: Statement<[number, number, number], OutboxRow>;
  private readonly nextStmt: Statement<[], { t: number | null }>;
  private readonly settleStmt: Statement<[string, number, number, string | null, number]>;
  private readonly countStmt: Statement<[], { n: number }>;
  private readonly pruneStmt: Statement<[number]>;
  private readonly waitingStmt: Statement<[string], { registrationId: number; service: string }>;
  private readonly expediteStmt: Statement<[{ now: number; id: number; condition: string }]>;

  /**
   * Entry ids are handed out here, from a block reserved in sqlite_sequence,
   * so adding an entry needs no answer from the database (a storage thread
   * may run the insert later), and an insert by another process (`herald
   * push test`, AUTOINCREMENT) lands past the block instead of on an id we
   * are about to use.
   */
  private nextId = 0;
  private blockEnd = 0;
  private readonly ensureSequenceStmt: Statement;
  private readonly reserveStmt: Statement<[], { seq: number }>;

  constructor(private readonly db: Database) {
    this.addStmt = db.prepare(
      `INSERT OR IGNORE INTO push_outbox (id, registration_id, dedup_key, reason, important, priority, batched, payload, state, created_at, not_before)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    );
    this.ensureSequenceStmt = db.prepare("INSERT INTO sqlite_sequence (name, seq) SELECT 'push_outbox', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'push_outbox')");
    this.reserveStmt = db.prepare(
      `UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT max(id) FROM push_outbox), 0)) + ${ID_BLOCK} WHERE name = 'push_outbox' RETURNING seq`,
    );
    this.getStmt = db.prepare('SELECT * FROM push_outbox WHERE id = ?');
    this.hasStmt = db.prepare('SELECT 1 AS one FROM push_outbox WHERE registration_id = ? AND dedup_key = ?');
    this.dueStmt = db.prepare("SELECT * FROM push_outbox WHERE state = 'pending' AND not_before <= ? AND id > ? ORDER BY id LIMIT ?");
    this.nextStmt = db.prepare("SELECT min(not_before) AS t FROM push_outbox WHERE state = 'pending'");
    this.settleStmt = db.prepare('UPDATE push_outbox SET state = ?, attempts = ?, not_before = ?, last_error = ? WHERE id = ?');
    this.countStmt = db.prepare("SELECT count(*) AS n FROM push_outbox WHERE state = 'pending'");
    this.pruneStmt = db.prepare("DELETE FROM push_outbox WHERE state != 'pending' AND created_at < ?");
    this.waitingStmt = db.prepare(
      `SELECT DISTINCT o.registration_id AS registrationId, r.service AS service FROM push_outbox o
       JOIN push_registrations r ON r.id = o.registration_id WHERE o.state = 'pending' AND o.last_error = ?`,
    );
    this.expediteStmt = db.prepare(
      "UPDATE push_outbox SET not_before = @now WHERE registration_id = @id AND state = 'pending' AND last_error = @condition AND not_before > @now",
    );
  }

  /** The caller has checked has(): an entry for the same registration and key is not added twice. */
  add(e: NewOutboxEntry): number | null {
    if (this.nextId >= this.blockEnd) this.reserve();
    const id = this.nextId++;
    this.addStmt.run(id, e.registrationId, e.dedupKey, e.reason, e.important ? 1 : 0, e.priority, e.batched ? 1 : 0, e.payload, Date.now(), e.notBefore);
    return id;
  }

  private reserve(): void {
    this.ensureSequenceStmt.run();
    const end = (this.reserveStmt.get() as { seq: number }).seq;
    this.nextId = end - ID_BLOCK + 1;
    this.blockEnd = end + 1;
  }

  /** The transaction that reserved the block may have been rolled back: reserve afresh next time. */
  forgetReservation(): void {
    this.blockEnd = 0;
  }

  get(id: number): OutboxEntry | undefined {
    const r = this.getStmt.get(id);
    return r ? toEntry(r) : undefined;
  }

  has(registrationId: number, dedupKey: string): boolean {
    return this.hasStmt.get(registrationId, dedupKey) !== undefined;
  }

  due(now: number, limit: number, afterId = 0): OutboxEntry[] {
    return this.dueStmt.all(now, afterId, limit).map(toEntry);
  }

  nextDue(): number | undefined {
    return this.nextStmt.get()?.t ?? undefined;
  }

  settle(updates: { id: number; state: OutboxState; attempts: number; notBefore: number; lastError: string | null }[]): void {
    for (const u of updates) this.settleStmt.run(u.state, u.attempts, u.notBefore, u.lastError, u.id);
  }

  pendingCount(): number {
    return this.countStmt.get()?.n ?? 0;
  }

  prune(before: number): number {
    return this.pruneStmt.run(before).changes;
  }

  waitingOn(condition: string): { registrationId: number; service: string }[] {
    return this.waitingStmt.all(condition);
  }

  expedite(registrationIds: number[], condition: string, now: number): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const id of registrationIds) n += this.expediteStmt.run({ now, id, condition }).changes;
      return n;
    })();
  }
}
