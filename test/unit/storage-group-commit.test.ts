import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite/store.js';

/** Group commit and the read memos, seen by a second connection as another process would see them. */
describe('SQLite store: group commit and read memos', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;
  let other: Database.Database;
  const failures: unknown[] = [];
  const offlineRows = (user: string): number =>
    (other.prepare('SELECT count(*) AS n FROM offline WHERE host = ? AND username = ?').get('localhost', user) as { n: number }).n;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-store-'));
    path = join(dir, 'herald.sqlite');
    store = new SqliteStore(path);
    store.enableGroupCommit((e) => failures.push(e));
    other = new Database(path);
    other.pragma('busy_timeout = 5000');
    failures.length = 0;
  });
  afterEach(() => {
    other.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits the transactions of one turn together, and says so only after the commit', async () => {
    const told: string[] = [];
    store.transaction(() => store.offline.store('localhost', 'alice', '<message/>', 1));
    store.whenDurable((ok) => told.push(`first ${ok} ${offlineRows('alice')}`));
    store.transaction(() => store.offline.store('localhost', 'alice', '<message/>', 2));
    store.whenDurable((ok) => told.push(`second ${ok} ${offlineRows('alice')}`));
    assert.equal(offlineRows('alice'), 0, 'nothing is visible to another connection before the turn ends');
    assert.deepEqual(told, [], 'whenDurable never calls back synchronously');
    await nextTurn();
    assert.deepEqual(told, ['first true 2', 'second true 2']);
  });

  it('a failing transaction undoes only its own work, and its memos', async () => {
    store.transaction(() => store.offline.store('localhost', 'bob', '<message/>', 1));
    assert.equal(store.offline.count('localhost', 'bob'), 1);
    assert.throws(() =>
      store.transaction(() => {
        store.offline.store('localhost', 'bob', '<message/>', 2);
        assert.equal(store.offline.count('localhost', 'bob'), 2);
        throw new Error('boom');
      }),
    );
    assert.equal(store.offline.count('localhost', 'bob'), 1, 'the memo does not keep the undone insert');
    await nextTurn();
    assert.equal(offlineRows('bob'), 1);
  });

  it('a failed commit rolls the turn back and tells every waiter', async () => {
    // A deferred foreign key is checked at COMMIT: a dangling row makes the turn's commit fail.
    store.db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)');
    let told: boolean | undefined;
    store.transaction(() => store.offline.store('localhost', 'carol', '<message/>', 1));
    store.whenDurable((ok) => (told = ok));
    store.transaction(() => store.db.prepare('INSERT INTO child (p) VALUES (42)').run());
    assert.equal(store.offline.count('localhost', 'carol'), 1);
    await nextTurn();
    assert.equal(told, false);
    assert.equal(failures.length, 1);
    assert.equal(offlineRows('carol'), 0);
    assert.equal(store.offline.count('localhost', 'carol'), 0, 'the memo does not keep the rolled-back insert');
    store.transaction(() => store.offline.store('localhost', 'carol', '<message/>', 2));
    await nextTurn();
    assert.equal(offlineRows('carol'), 1, 'the next turn commits normally');
  });

  it("another connection's commit drops the memos at the next transaction", async () => {
    const id = store.transaction(() =>
      store.pushRegistrations.upsert({ host: 'localhost', username: 'erin', frontend: 'xep0357', service: 'push.example', node: 'n1', resource: null, options: '{}' }),
    );
    await nextTurn();
    assert.equal(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')).length, 1);
    assert.equal(store.transaction(() => store.accounts.exists('localhost', 'erin')), false);
    // `herald push disable` and `herald adduser` write from another process.
    other.prepare('DELETE FROM push_registrations WHERE id = ?').run(id);
    other
      .prepare(
        `INSERT INTO accounts (host, username, salt, iterations, sha1_stored_key, sha1_server_key, sha256_stored_key, sha256_server_key, created_at)
         VALUES ('localhost', 'erin', x'00', 4096, x'00', x'00', x'00', x'00', 0)`,
      )
      .run();
    await nextTurn();
    assert.deepEqual(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')), []);
    assert.equal(store.transaction(() => store.pushRegistrations.get(id)), undefined);
    assert.equal(store.transaction(() => store.accounts.exists('localhost', 'erin')), true);
  });

  it('keeps the offline count right across stores and deliveries', async () => {
    store.transaction(() => {
      for (let i = 0; i < 3; i++) store.offline.store('localhost', 'frank', '<message/>', i);
    });
    assert.equal(store.offline.count('localhost', 'frank'), 3);
    const ids = store.offline.list('localhost', 'frank').map((m) => m.id);
    store.transaction(() => store.offline.delete('localhost', 'frank', ids.slice(0, 2)));
    assert.equal(store.offline.count('localhost', 'frank'), 1);
    store.transaction(() => store.offline.store('localhost', 'frank', '<message/>', 9));
    await nextTurn();
    assert.equal(store.offline.count('localhost', 'frank'), 2);
    assert.equal(offlineRows('frank'), 2);
  });
});
