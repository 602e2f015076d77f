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

const toMessage = (r: Row): ArchivedMessage => ({ seq: r.seq, id: r.id, with: r.with_jid, stamp: r.stamp, direction: r.direction, stanza: r.stanza });

export class SqliteArchive implements ArchiveRepository {
  private readonly appendStmt: Statement;
  private readonly seqStmt: Statement<[string, string, string], { seq: number }>;
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
      'INSERT INTO archive (id, host, username, with_jid, stamp, direction, stanza) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.seqStmt = db.prepare('SELECT seq FROM archive WHERE host = ? AND username = ? AND id = ?');
    this.pruneStmt = db.prepare('DELETE FROM archive WHERE stamp < ?');
    this.getPrefsStmt = db.prepare('SELECT default_mode, always_jids, never_jids FROM archive_prefs WHERE host = ? AND username = ?');
    this.setPrefsStmt = db.prepare(
      `INSERT INTO archive_prefs (host, username, default_mode, always_jids, never_jids) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (host, username) DO UPDATE SET default_mode = excluded.default_mode,
       always_jids = excluded.always_jids, never_jids = excluded.never_jids`,
    );
  }

  append(host: string, username: string, m: Omit<ArchivedMessage, 'seq'>): void {
    this.appendStmt.run(m.id, host, username, m.with, m.stamp, m.direction, m.stanza);
  }

  seqOf(host: string, username: string, id: string): number | undefined {
    return this.seqStmt.get(host, username, id)?.seq;
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
