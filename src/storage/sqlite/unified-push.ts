import type { Database, Statement } from 'better-sqlite3';
import type { UnifiedPushRepository, UpMessage } from '../types.js';

interface Row {
  id: number;
  token_id: string;
  host: string;
  username: string;
  jid: string;
  instance: string;
  application: string;
  topic: string | null;
  urgency: string;
  body: Buffer;
  created_at: number;
  expires_at: number;
}

const toMessage = (r: Row): UpMessage => ({
  id: r.id,
  tokenId: r.token_id,
  host: r.host,
  username: r.username,
  jid: r.jid,
  instance: r.instance,
  application: r.application,
  topic: r.topic,
  urgency: r.urgency,
  body: r.body,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export class SqliteUnifiedPush implements UnifiedPushRepository {
  private readonly revokedStmt: Statement<[string], { one: number }>;
  private readonly revokeStmt: Statement<[string, number]>;
  private readonly replaceTopicStmt: Statement<[string, string]>;
  private readonly insertStmt: Statement;
  private readonly pendingStmt: Statement<[string, number], Row>;
  private readonly deleteStmt: Statement<[number]>;
  private readonly deleteTokenStmt: Statement<[string]>;
  private readonly expireStmt: Statement<[number]>;
  private readonly expireRevokedStmt: Statement<[number]>;
  private readonly hasPendingStmt: Statement<[string, number], { one: number }>;

  constructor(private readonly db: Database) {
    this.revokedStmt = db.prepare('SELECT 1 AS one FROM up_revoked WHERE token_id = ?');
    this.revokeStmt = db.prepare('INSERT OR REPLACE INTO up_revoked (token_id, expires_at) VALUES (?, ?)');
    this.replaceTopicStmt = db.prepare('DELETE FROM up_messages WHERE token_id = ? AND topic = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO up_messages (token_id, host, username, jid, instance, application, topic, urgency, body, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.pendingStmt = db.prepare('SELECT * FROM up_messages WHERE jid = ? AND expires_at > ? ORDER BY id');
    this.deleteStmt = db.prepare('DELETE FROM up_messages WHERE id = ?');
    this.deleteTokenStmt = db.prepare('DELETE FROM up_messages WHERE token_id = ?');
    this.expireStmt = db.prepare('DELETE FROM up_messages WHERE expires_at <= ?');
    this.expireRevokedStmt = db.prepare('DELETE FROM up_revoked WHERE expires_at <= ?');
    this.hasPendingStmt = db.prepare('SELECT 1 AS one FROM up_messages WHERE jid = ? AND expires_at > ? LIMIT 1');
  }

  isRevoked(tokenId: string): boolean {
    return this.revokedStmt.get(tokenId) !== undefined;
  }

  revoke(tokenId: string, expiresAt: number): void {
    this.revokeStmt.run(tokenId, expiresAt);
  }

  store(m: Omit<UpMessage, 'id'>): number {
    return this.db.transaction(() => {
      if (m.topic !== null) this.replaceTopicStmt.run(m.tokenId, m.topic);
      const r = this.insertStmt.run(m.tokenId, m.host, m.username, m.jid, m.instance, m.application, m.topic, m.urgency, m.body, m.createdAt, m.expiresAt);
      return Number(r.lastInsertRowid);
    })();
  }

  pendingFor(jid: string, now: number): UpMessage[] {
    return this.pendingStmt.all(jid, now).map(toMessage);
  }

  delete(id: number): void {
    this.deleteStmt.run(id);
  }

  deleteForToken(tokenId: string): number {
    return this.deleteTokenStmt.run(tokenId).changes;
  }

  expire(now: number): number {
    this.expireRevokedStmt.run(now);
    return this.expireStmt.run(now).changes;
  }

  hasPending(jid: string, now: number): boolean {
    return this.hasPendingStmt.get(jid, now) !== undefined;
  }
}
