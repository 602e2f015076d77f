import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite/store.js';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const durable = (store: SqliteStore): Promise<boolean> => new Promise((r) => store.whenDurable(r));
/** A push registration for a user, in a transaction of its own; its id. */
const register = (store: SqliteStore, username: string): number =>
  store.transaction(() => store.pushRegistrations.upsert({ host: 'localhost', username, frontend: 'xep0357', service: 'push.example', node: 'n', resource: null, options: '{}' }));

describe('SQLite store with a storage thread (storage.thread)', () => {
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

  it('whenDurable after the turn’s commit has left still waits for the storage thread to finish it', async () => {
    const rows = 20_000;
    store.transaction(() => {
      for (let i = 0; i < rows; i++) store.offline.store('localhost', 'dora', '<message/>', i);
    });
    await nextTurn(); // the turn's commit is on its way; no transaction is open now
    const seen = await new Promise<number>((r) =>
      store.whenDurable(() => r((other.prepare("SELECT count(*) AS n FROM offline WHERE username = 'dora'").get() as { n: number }).n)),
    );
    assert.equal(seen, rows);
  });

  it('while a commit is on its way, the next turns gather into one transaction, committed when it is answered', async () => {
    store.transaction(() => {
      for (let i = 0; i < 20_000; i++) store.offline.store('localhost', 'emil', '<message/>', i);
    });
    await nextTurn();
    const answered: string[] = [];
    let atSecond: string[] = [];
    for (const turn of ['second', 'third']) {
      store.transaction(() => store.offline.store('localhost', 'emil', `<message id='${turn}'/>`, 0));
      store.whenDurable((ok) => {
        answered.push(`${turn} ${ok}`);
        // Runs once the callback that answered 'second' is over: 'third' is answered by then only if it was in the same commit.
        if (turn === 'second') queueMicrotask(() => (atSecond = [...answered]));
      });
      await nextTurn();
    }
    assert.deepEqual(answered, [], 'nothing is answered before the first commit is');
    await durable(store);
    assert.deepEqual(atSecond, ['second true', 'third true'], 'both turns were answered by one commit');
    assert.equal((other.prepare("SELECT count(*) AS n FROM offline WHERE username = 'emil'").get() as { n: number }).n, 20_002);
  });

  it('progress() hears a finished commit in the middle of a turn, and sends what the turn wrote meanwhile to be committed', async () => {
    store.transaction(() => store.offline.store('localhost', 'fay', '<message id="a"/>', 1));
    let first: boolean | null = null;
    store.whenDurable((ok) => (first = ok));
    await nextTurn(); // the first commit is on its way
    // One synchronous stretch, as when a turn reads many connections: the event loop cannot run.
    store.transaction(() => store.offline.store('localhost', 'fay', '<message id="b"/>', 2));
    let second: boolean | null = null;
    store.whenDurable((ok) => (second = ok));
    store.accounts.get('localhost', 'nobody'); // a read: the storage thread answers it after the commit before it
    assert.equal(first, null, 'not heard before progress()');
    store.progress();
    assert.equal(first, true, 'heard within the same turn');
    store.accounts.get('localhost', 'nobody');
    assert.equal((other.prepare("SELECT count(*) AS n FROM offline WHERE username = 'fay'").get() as { n: number }).n, 2, 'the second transaction was committed without the turn ending');
    store.progress();
    assert.equal(second, true);
  });

  it('what a commit’s waiter writes vouches only for that commit: whenDurable there does not wait for the turn’s open transaction', async () => {
    store.transaction(() => store.offline.store('localhost', 'gus', '<message id="a"/>', 1));
    const heard: string[] = [];
    store.whenDurable(() => {
      store.whenDurable(() => heard.push('waiter’s output'));
      // Many rows: the commit that carries them cannot be answered while progress() still drains.
      store.transaction(() => {
        for (let i = 0; i < 20_000; i++) store.offline.store('localhost', 'gus', '<message id="c"/>', 3);
      });
      store.whenDurable(() => heard.push('after its own write'));
    });
    await nextTurn();
    store.transaction(() => store.offline.store('localhost', 'gus', '<message id="b"/>', 2));
    store.whenDurable(() => heard.push('open transaction'));
    store.accounts.get('localhost', 'nobody');
    store.progress();
    await new Promise((r) => process.nextTick(r));
    assert.deepEqual(heard, ['waiter’s output'], 'the rest wait for the commit of what they depend on');
    await durable(store);
    assert.deepEqual(heard, ['waiter’s output', 'open transaction', 'after its own write']);
  });

  it('the storage thread’s connection checkpoints as rarely as the server’s own (the checkpointer does it)', () => {
    assert.deepEqual(store.db.pragma('wal_autocheckpoint'), [{ wal_autocheckpoint: 20000 }]);
    assert.deepEqual(store.db.pragma('foreign_keys'), [{ foreign_keys: 1 }]);
  });

  it('a storage thread that dies fails every commit it had not answered, fails reads at once, and says so', { timeout: 10_000 }, async () => {
    const lost: string[] = [];
    const crashing = new SqliteStore(join(dir, 'crash.sqlite'), { storageThread: true, onStorageLost: (m) => lost.push(m) });
    crashing.enableGroupCommit(() => undefined);
    try {
      for (let i = 0; i < 20_000; i++) crashing.transaction(() => crashing.offline.store('localhost', 'fay', '<message/>', i));
      const answered = new Promise<boolean>((r) => crashing.whenDurable(r));
      // What a bug in the storage thread's message handler does: a TypeError that ends the thread.
      (crashing.db as unknown as { worker: import('node:worker_threads').Worker }).worker.postMessage(null);
      assert.equal(await answered, false, 'the turn is reported failed, so nothing waiting on it is acknowledged');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(lost.length, 1);
      assert.match(lost[0]!, /storage thread/);
      const started = Date.now();
      assert.throws(() => crashing.transaction(() => crashing.offline.count('localhost', 'nobody')), /storage thread/);
      assert.ok(Date.now() - started < 1000, 'not after the 30 s call timeout');
      crashing.transaction(() => crashing.offline.store('localhost', 'fay', '<message/>', 0));
      assert.equal(await new Promise<boolean>((r) => crashing.whenDurable(r)), false, 'nothing can be committed any more');
    } finally {
      crashing.close();
    }
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

  it('a write by another connection (the herald CLI) drops the memos once the next turn has begun on the storage thread', async () => {
    const id = register(store, 'erin');
    assert.equal(await durable(store), true);
    assert.equal(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')).length, 1);
    other.prepare('DELETE FROM push_registrations WHERE id = ?').run(id);
    await nextTurn();
    // The storage thread looks at BEGIN and says so before it answers for that turn's commit.
    assert.equal(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')).length, 1, 'this turn still had the memo');
    assert.equal(await durable(store), true);
    assert.deepEqual(store.transaction(() => store.pushRegistrations.forUser('localhost', 'erin')), []);
  });

  it('an idle store hears of another connection’s commit without running a transaction, and drops its memos', async () => {
    register(store, 'ida');
    assert.equal(await durable(store), true);
    assert.equal(store.transaction(() => store.pushRegistrations.forUser('localhost', 'ida')).length, 1);
    assert.equal(await durable(store), true);
    const before = store.otherWrites();
    other.prepare("DELETE FROM push_registrations WHERE username = 'ida'").run();
    const t0 = Date.now();
    while (store.otherWrites() === before && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.otherWrites(), before + 1, 'no transaction ran, yet the other commit was noticed');
    assert.deepEqual(store.transaction(() => store.pushRegistrations.forUser('localhost', 'ida')), []);
  });

  it('writes text exactly as given: short and long, ASCII or not, one larger than the write buffer', async () => {
    const texts = [
      '',
      'plain',
      'é', // two bytes in UTF-8, in a short string
      `${'a'.repeat(63)}ß`, // non-ASCII at the last position copied by hand
      '日本語のメッセージ 😀',
      `<message><body>${'long ASCII text '.repeat(40)}</body></message>`,
      `<message><body>${'Grüße aus Köln, 👋 '.repeat(40)}</body></message>`,
      'x'.repeat(200_000),
    ];
    store.transaction(() => texts.forEach((t, i) => store.offline.store('localhost', 'uma', t, i)));
    assert.equal(await durable(store), true);
    const rows = other.prepare("SELECT stanza FROM offline WHERE username = 'uma' ORDER BY id").all() as { stanza: string }[];
    assert.deepEqual(rows.map((r) => r.stanza), texts);
  });

  it('gives Buffers back from a read', async () => {
    const key = Buffer.from([1, 2, 3, 250]);
    store.transaction(() => store.serverKeys.set('test-key', key));
    assert.equal(await durable(store), true);
    const back = store.transaction(() => store.serverKeys.get('test-key'));
    assert.ok(Buffer.isBuffer(back));
    assert.deepEqual(back, key);
  });

  it('outbox ids: another process’s entries land past the block the server reserved, none is lost', async () => {
    const reg = register(store, 'frank');
    const entry = (key: string) => ({ registrationId: reg, dedupKey: key, reason: 'offline', important: true, priority: 'high', batched: false, payload: `<p>${key}</p>`, notBefore: 0 });
    const first = store.transaction(() => store.pushOutbox.add(entry('server-1')));
    assert.equal(await durable(store), true);
    const cli = new SqliteStore(path); // what `herald push test` opens
    const fromCli = cli.transaction(() => cli.pushOutbox.add(entry('cli-1')));
    cli.close();
    const second = store.transaction(() => store.pushOutbox.add(entry('server-2')));
    assert.equal(await durable(store), true);
    assert.equal(new Set([first, fromCli, second]).size, 3, `${String(first)} ${String(fromCli)} ${String(second)}`);
    const rows = other.prepare('SELECT id, dedup_key FROM push_outbox ORDER BY dedup_key').all() as { id: number; dedup_key: string }[];
    assert.deepEqual(rows, [
      { id: fromCli, dedup_key: 'cli-1' },
      { id: first, dedup_key: 'server-1' },
      { id: second, dedup_key: 'server-2' },
    ]);
  });

  it('outbox ids: a block reserved in a turn that failed to commit is not used again', async () => {
    const reg = register(store, 'gina');
    assert.equal(await durable(store), true);
    const entry = (key: string) => ({ registrationId: reg, dedupKey: key, reason: 'offline', important: true, priority: 'high', batched: false, payload: '<p/>', notBefore: 0 });
    other.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)');
    const lost = store.transaction(() => {
      const id = store.pushOutbox.add(entry('rolled-back'));
      store.db.prepare('INSERT INTO child VALUES (1)').run(); // makes this turn's COMMIT fail
      return id;
    });
    assert.equal(await durable(store), false);
    const cli = new SqliteStore(path);
    // The CLI reserves from where the rolled-back block started, so it uses those very ids.
    cli.transaction(() => ['cli-1', 'cli-2'].map((k) => cli.pushOutbox.add(entry(k))));
    cli.close();
    store.transaction(() => store.pushOutbox.add(entry('after')));
    assert.equal(await durable(store), true);
    const keys = (other.prepare('SELECT dedup_key FROM push_outbox WHERE registration_id = ? ORDER BY id').all(reg) as { dedup_key: string }[]).map((r) => r.dedup_key);
    assert.deepEqual(keys, ['cli-1', 'cli-2', 'after']);
    assert.ok(lost !== null);
  });

  it('a write that fails on the storage thread rolls back its own transaction only, and says so to that transaction', async () => {
    other.exec("CREATE TRIGGER refuse_poison BEFORE INSERT ON offline WHEN NEW.stanza = '<poison/>' BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;");
    const outcomes: string[] = [];
    const record = (name: string) => (ok: boolean) => outcomes.push(`${name} ${ok}`);
    store.transaction(() => store.offline.store('localhost', 'hal', '<before/>', 1));
    store.whenCommitted(record('before'));
    store.transaction(() => {
      store.offline.store('localhost', 'hal', '<poisoned-with/>', 2);
      store.offline.store('localhost', 'hal', '<poison/>', 3);
      store.offline.store('localhost', 'hal', '<after-poison/>', 4);
    });
    store.whenCommitted(record('poisoned'));
    store.transaction(() => store.offline.store('localhost', 'hal', '<after/>', 5));
    store.whenCommitted(record('after'));
    store.whenDurable(record('turn'));
    await nextTurn();
    while (outcomes.length < 4) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(outcomes, ['before true', 'poisoned false', 'after true', 'turn true']);
    const rows = other.prepare("SELECT stanza FROM offline WHERE username = 'hal' ORDER BY id").all() as { stanza: string }[];
    assert.deepEqual(rows.map((r) => r.stanza), ['<before/>', '<after/>']);
    // The memos may have counted the rolled-back rows: they are dropped, so the count is right.
    assert.equal(store.transaction(() => store.offline.count('localhost', 'hal')), 2);
  });
});

