import { randomUUID } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { ArchiveFilter, ArchivedMessage, ArchiveMode, ArchivePrefs, ArchiveRepository } from '../types.js';
import { type ReadCache, type ReadCaches, userKey } from './read-cache.js';

interface Row {
  seq: number;
  id: string;
  with_jid: string;
  stamp: number;
  direction: 'in' | 'out';
  stanza: string;
}

/**
 * Archive ids carry the row's seq: `<seq in base 36>-<8 random hex digits>`.
 * Finding a message by id is then a primary-key lookup, and the archive needs
 * no index on ids, which cost two random B-tree insertions per message (one
 * per archive it lands in). The random part keeps an id from naming another
 * row if a seq were ever used twice. Ids of another shape (written before
 * this scheme) are still found, by a scan of the user's archive.
 */
const ID = /^([0-9a-z]{1,11})-[0-9a-f]{8}$/;
const seqIn = (id: string): number | undefined => {
  const m = ID.exec(id);
  return m ? Number.parseInt(m[1] as string, 36) : undefined;
};

const toMessage = (r: Row): ArchivedMessage => ({ seq: r.seq, id: r.id, with: r.with_jid, stamp: r.stamp, direction: r.direction, stanza: r.stanza });

export class SqliteArchive implements ArchiveRepository {
  private readonly appendStmt: Statement;
  private readonly seqStmt: Statement<[string, string, string], { seq: number }>;
  private readonly idAtStmt: Statement<[number, string, string], { id: string }>;
  /** The next seq to hand out: this process is the archive's only writer. */
  private nextSeq: number;
  /** Ids handed out in the current synchronous run (cleared at the next microtask). */
  private readonly minted = new Set<string>();
  private readonly pruneStmt: Statement<[number]>;
  private readonly getPrefsStmt: Statement<[string, string], { default_mode: ArchiveMode; always_jids: string; never_jids: string }>;
  private readonly setPrefsStmt: Statement;
  /** Prepared per filter shape and direction: queries are few shapes, run often. */
  private readonly queries = new Map<string, Statement>();
  private readonly prefs: ReadCache<string, ArchivePrefs | undefined>;

  constructor(
    private readonly db: Database,
    caches: ReadCaches,
  ) {
    this.prefs = caches.create();
    this.appendStmt = db.prepare(
      'INSERT INTO archive (seq, id, host, username, with_jid, stamp, direction, stanza) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.seqStmt = db.prepare('SELECT seq FROM archive WHERE host = ? AND username = ? AND id = ?');
    this.idAtStmt = db.prepare('SELECT id FROM archive WHERE seq = ? AND host = ? AND username = ?');
    // Past every seq ever used (AUTOINCREMENT's record), not just the largest left.
    const used = db.prepare<[], { n: number | null }>("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'archive'), 0), coalesce((SELECT max(seq) FROM archive), 0)) AS n").get();
    this.nextSeq = (used?.n ?? 0) + 1;
    this.pruneStmt = db.prepare('DELETE FROM archive WHERE stamp < ?');
    this.getPrefsStmt = db.prepare('SELECT default_mode, always_jids, never_jids FROM archive_prefs WHERE host = ? AND username = ?');
    this.setPrefsStmt = db.prepare(
      `INSERT INTO archive_prefs (host, username, default_mode, always_jids, never_jids) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (host, username) DO UPDATE SET default_mode = excluded.default_mode,
       always_jids = excluded.always_jids, never_jids = excluded.never_jids`,
    );
  }

  newId(): string {
    const id = `${(this.nextSeq++).toString(36)}-${randomUUID().slice(0, 8)}`;
    if (this.minted.size === 0) queueMicrotask(() => this.minted.clear());
    this.minted.add(id);
    return id;
  }

  mintedNow(id: string): boolean {
    return this.minted.has(id);
  }

  append(host: string, username: string, m: Omit<ArchivedMessage, 'seq'>): void {
    this.appendStmt.run(seqIn(m.id) ?? null, m.id, host, username, m.with, m.stamp, m.direction, m.stanza);
  }

  seqOf(host: string, username: string, id: string): number | undefined {
    const seq = seqIn(id);
    if (seq === undefined) return this.seqStmt.get(host, username, id)?.seq;
    return this.idAtStmt.get(seq, host, username)?.id === id ? seq : undefined;
  }

  query(host: string, username: string, f: ArchiveFilter, limit: number, newestFirst: boolean): ArchivedMessage[] {
    const where = ['host = ?', 'username = ?'];
    const params: (string | number)[] = [host, username];
    if (f.with !== undefined) (where.push('with_jid = ?'), params.push(f.with));
    if (f.start !== undefined) (where.push('stamp >= ?'), params.push(f.start));
    if (f.end !== undefined) (where.push('stamp <= ?'), params.push(f.end));
    if (f.afterSeq !== undefined) (where.push('seq > ?'), params.push(f.afterSeq));
    if (f.beforeSeq !== undefined) (where.push('seq < ?'), params.push(f.beforeSeq));
    const sql = `SELECT seq, id, with_jid, stamp, direction, stanza FROM archive WHERE ${where.join(' AND ')} ORDER BY seq ${newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
    let stmt = this.queries.get(sql);
    if (!stmt) this.queries.set(sql, (stmt = this.db.prepare(sql)));
    return (stmt.all(...params, limit) as Row[]).map(toMessage);
  }

  prune(before: number): number {
    return this.pruneStmt.run(before).changes;
  }

  /** The object is shared by later calls: read it, do not change it. */
  getPrefs(host: string, username: string): ArchivePrefs | undefined {
    return this.prefs.get(userKey(host, username), () => {
      const r = this.getPrefsStmt.get(host, username);
      if (!r) return undefined;
      return { default: r.default_mode, always: JSON.parse(r.always_jids) as string[], never: JSON.parse(r.never_jids) as string[] };
    });
  }

  setPrefs(host: string, username: string, p: ArchivePrefs): void {
    this.prefs.delete(userKey(host, username));
    this.setPrefsStmt.run(host, username, p.default, JSON.stringify(p.always), JSON.stringify(p.never));
  }
}
