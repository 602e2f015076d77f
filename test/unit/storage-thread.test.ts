import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite/store.js';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const durable = (store: SqliteStore): Promise<boolean> => new Promise((r) => store.whenDurable(r));

describe('SQLite store with a storage thread (prototype)', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;
  let other: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-thread-'));
    path = join(dir, 'herald.sqlite');
    store = new SqliteStore(path, { storageThread: true });
    store.enableGroupCommit(() => undefined);
    other = new Database(path);
    other.pragma('busy_timeout = 5000');
  });
  afterEach(() => {
    other.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('another connection sees a turn’s writes once whenDurable says so', async () => {
    store.transaction(() => {
      store.offline.store('localhost', 'alice', '<message id="1"/>', 1);
      store.offline.store('localhost', 'alice', '<message id="2"/>', 2);
    });
    assert.equal(await durable(store), true);
    const rows = other.prepare("SELECT stanza FROM offline WHERE username = 'alice' ORDER BY id").all() as { stanza: string }[];
    assert.deepEqual(rows.map((r) => r.stanza), ['<message id="1"/>', '<message id="2"/>']);
    assert.equal(store.transaction(() => store.offline.count('localhost', 'alice')), 2);
  });

  it('a failing handler’s writes are undone, the rest of the turn is kept', async () => {
    store.transaction(() => store.offline.store('localhost', 'bob', '<kept/>', 1));
    assert.throws(() =>
      store.transaction(() => {
        store.offline.store('localhost', 'bob', '<undone/>', 2);
        throw new Error('handler failed');
      }),
    );
    assert.equal(await durable(store), true);
    const rows = other.prepare("SELECT stanza FROM offline WHERE username = 'bob'").all() as { stanza: string }[];
    assert.deepEqual(rows.map((r) => r.stanza), ['<kept/>']);
  });

  it('a write by another connection (the herald CLI) drops the memos at the next turn', async () => {
    const id = store.transaction(() =>
      store.pushRegistrations.upsert({ host: 'localhost', username: 'erin', frontend: 'xep0357', service: 'push.example', node: 'n1', resource: null, options: '{}' }),
    );
    assert.equal(await durable(store), true);
    assert.equal(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')).length, 1);
    other.prepare('DELETE FROM push_registrations WHERE id = ?').run(id);
    await nextTurn();
    assert.deepEqual(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')), []);
  });

  it('gives Buffers back from a read', async () => {
    const key = Buffer.from([1, 2, 3, 250]);
    store.transaction(() => store.serverKeys.set('test-key', key));
    assert.equal(await durable(store), true);
    const back = store.transaction(() => store.serverKeys.get('test-key'));
    assert.ok(Buffer.isBuffer(back));
    assert.deepEqual(back, key);
  });
});
