import type { Database, Statement } from 'better-sqlite3';
import type { PendingSubscription, RosterItem, RosterRepository, Subscription } from '../types.js';

interface RosterRow {
  contact: string;
  name: string | null;
  subscription: Subscription;
  ask: number;
  groups: string;
}

const toItem = (r: RosterRow): RosterItem => ({
  jid: r.contact,
  name: r.name,
  subscription: r.subscription,
  ask: r.ask === 1,
  groups: JSON.parse(r.groups) as string[],
});

export class SqliteRoster implements RosterRepository {
  private readonly listStmt: Statement<[string, string], RosterRow>;
  private readonly getStmt: Statement<[string, string, string], RosterRow>;
  private readonly putStmt: Statement;
  private readonly removeStmt: Statement<[string, string, string]>;
  private readonly countStmt: Statement<[string, string], { n: number }>;
  private readonly listPendingStmt: Statement<[string, string], PendingSubscription>;
  private readonly addPendingStmt: Statement<[string, string, string, string]>;
  private readonly removePendingStmt: Statement<[string, string, string]>;
  private readonly hasPendingStmt: Statement<[string, string, string], { one: number }>;

  constructor(db: Database) {
    this.listStmt = db.prepare('SELECT contact, name, subscription, ask, groups FROM roster WHERE host = ? AND username = ? ORDER BY contact');
    this.getStmt = db.prepare('SELECT contact, name, subscription, ask, groups FROM roster WHERE host = ? AND username = ? AND contact = ?');
    this.putStmt = db.prepare(
      `INSERT INTO roster (host, username, contact, name, subscription, ask, groups) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (host, username, contact) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
       ask = excluded.ask, groups = excluded.groups`,
    );
    this.removeStmt = db.prepare('DELETE FROM roster WHERE host = ? AND username = ? AND contact = ?');
    this.countStmt = db.prepare('SELECT count(*) AS n FROM roster WHERE host = ? AND username = ?');
    this.listPendingStmt = db.prepare('SELECT contact, stanza FROM roster_pending WHERE host = ? AND username = ? ORDER BY rowid');
    this.addPendingStmt = db.prepare(
      `INSERT INTO roster_pending (host, username, contact, stanza) VALUES (?, ?, ?, ?)
       ON CONFLICT (host, username, contact) DO UPDATE SET stanza = excluded.stanza`,
    );
    this.removePendingStmt = db.prepare('DELETE FROM roster_pending WHERE host = ? AND username = ? AND contact = ?');
    this.hasPendingStmt = db.prepare('SELECT 1 AS one FROM roster_pending WHERE host = ? AND username = ? AND contact = ?');
  }

  list(host: string, username: string): RosterItem[] {
    return this.listStmt.all(host, username).map(toItem);
  }

  get(host: string, username: string, contact: string): RosterItem | undefined {
    const r = this.getStmt.get(host, username, contact);
    return r ? toItem(r) : undefined;
  }

  put(host: string, username: string, item: RosterItem): void {
    this.putStmt.run(host, username, item.jid, item.name, item.subscription, item.ask ? 1 : 0, JSON.stringify(item.groups));
  }

  remove(host: string, username: string, contact: string): boolean {
    return this.removeStmt.run(host, username, contact).changes === 1;
  }

  count(host: string, username: string): number {
    return this.countStmt.get(host, username)?.n ?? 0;
  }

  listPending(host: string, username: string): PendingSubscription[] {
    return this.listPendingStmt.all(host, username);
  }

  addPending(host: string, username: string, contact: string, stanza: string): void {
    this.addPendingStmt.run(host, username, contact, stanza);
  }

  removePending(host: string, username: string, contact: string): boolean {
    return this.removePendingStmt.run(host, username, contact).changes === 1;
  }

  hasPending(host: string, username: string, contact: string): boolean {
    return this.hasPendingStmt.get(host, username, contact) !== undefined;
  }
}
