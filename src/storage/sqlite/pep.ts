import type { Database, Statement } from 'better-sqlite3';
import type { AccessModel, PepItem, PepNode, PepRepository } from '../types.js';

interface NodeRow {
  node: string;
  access_model: AccessModel;
  max_items: number;
}

interface ItemRow {
  item_id: string;
  payload: string;
  published_at: number;
}

const toNode = (r: NodeRow): PepNode => ({ node: r.node, accessModel: r.access_model, maxItems: r.max_items });
const toItem = (r: ItemRow): PepItem => ({ id: r.item_id, payload: r.payload, publishedAt: r.published_at });

export class SqlitePep implements PepRepository {
  private readonly getNodeStmt: Statement<[string, string, string], NodeRow>;
  private readonly putNodeStmt: Statement<[string, string, string, string, number]>;
  private readonly deleteNodeStmt: Statement<[string, string, string]>;
  private readonly deleteItemsStmt: Statement<[string, string, string]>;
  private readonly listNodesStmt: Statement<[string, string], NodeRow>;
  private readonly deleteItemStmt: Statement<[string, string, string, string]>;
  private readonly insertItemStmt: Statement<[string, string, string, string, string, number]>;
  private readonly trimStmt: Statement<[string, string, string, string, string, string, number]>;
  private readonly itemsStmt: Statement<[string, string, string, number], ItemRow>;
  private readonly itemStmt: Statement<[string, string, string, string], ItemRow>;

  constructor(private readonly db: Database) {
    this.getNodeStmt = db.prepare('SELECT node, access_model, max_items FROM pep_nodes WHERE host = ? AND username = ? AND node = ?');
    this.putNodeStmt = db.prepare(
      `INSERT INTO pep_nodes (host, username, node, access_model, max_items) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (host, username, node) DO UPDATE SET access_model = excluded.access_model, max_items = excluded.max_items`,
    );
    this.deleteNodeStmt = db.prepare('DELETE FROM pep_nodes WHERE host = ? AND username = ? AND node = ?');
    this.deleteItemsStmt = db.prepare('DELETE FROM pep_items WHERE host = ? AND username = ? AND node = ?');
    this.listNodesStmt = db.prepare('SELECT node, access_model, max_items FROM pep_nodes WHERE host = ? AND username = ? ORDER BY node');
    this.deleteItemStmt = db.prepare('DELETE FROM pep_items WHERE host = ? AND username = ? AND node = ? AND item_id = ?');
    this.insertItemStmt = db.prepare('INSERT INTO pep_items (host, username, node, item_id, payload, published_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.trimStmt = db.prepare(
      `DELETE FROM pep_items WHERE host = ? AND username = ? AND node = ? AND seq NOT IN
       (SELECT seq FROM pep_items WHERE host = ? AND username = ? AND node = ? ORDER BY seq DESC LIMIT ?)`,
    );
    this.itemsStmt = db.prepare(
      'SELECT item_id, payload, published_at FROM pep_items WHERE host = ? AND username = ? AND node = ? ORDER BY seq DESC LIMIT ?',
    );
    this.itemStmt = db.prepare('SELECT item_id, payload, published_at FROM pep_items WHERE host = ? AND username = ? AND node = ? AND item_id = ?');
  }

  getNode(host: string, username: string, node: string): PepNode | undefined {
    const r = this.getNodeStmt.get(host, username, node);
    return r ? toNode(r) : undefined;
  }

  putNode(host: string, username: string, n: PepNode): void {
    this.putNodeStmt.run(host, username, n.node, n.accessModel, n.maxItems);
  }

  deleteNode(host: string, username: string, node: string): boolean {
    return this.db.transaction(() => {
      this.deleteItemsStmt.run(host, username, node);
      return this.deleteNodeStmt.run(host, username, node).changes === 1;
    })();
  }

  listNodes(host: string, username: string): PepNode[] {
    return this.listNodesStmt.all(host, username).map(toNode);
  }

  publish(host: string, username: string, node: string, item: PepItem, maxItems: number): void {
    this.db.transaction(() => {
      this.deleteItemStmt.run(host, username, node, item.id);
      this.insertItemStmt.run(host, username, node, item.id, item.payload, item.publishedAt);
      this.trimStmt.run(host, username, node, host, username, node, maxItems);
    })();
  }

  retract(host: string, username: string, node: string, id: string): boolean {
    return this.deleteItemStmt.run(host, username, node, id).changes === 1;
  }

  items(host: string, username: string, node: string, limit: number): PepItem[] {
    return this.itemsStmt.all(host, username, node, limit).map(toItem);
  }

  item(host: string, username: string, node: string, id: string): PepItem | undefined {
    const r = this.itemStmt.get(host, username, node, id);
    return r ? toItem(r) : undefined;
  }
}
