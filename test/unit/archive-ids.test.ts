import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { SqliteStore } from '../../src/storage/sqlite/store.js';

describe('archive ids carry their seq', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;
  const append = (s: SqliteStore, user: string, id: string): void =>
    s.archive.append('localhost', user, { id, with: 'x@localhost', stamp: Date.now(), direction: 'in', stanza: '<message/>' });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-archive-'));
    path = join(dir, 'herald.sqlite');
    store = new SqliteStore(path);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a message by its id, and only its owner finds it', () => {
    const ids = [store.archive.newId(), store.archive.newId(), store.archive.newId()];
    for (const id of ids) append(store, 'alice', id);
    assert.equal(new Set(ids).size, 3);
    const seqs = ids.map((id) => store.archive.seqOf('localhost', 'alice', id));
    assert.deepEqual(
      seqs,
      store.archive.query('localhost', 'alice', {}, 10, false).map((m) => m.seq),
      'each id names its own row',
    );
    assert.equal(store.archive.seqOf('localhost', 'bob', ids[0] as string), undefined, "another user's id");
  });

  it('refuses an id of the right shape whose random part is wrong', () => {
    const id = store.archive.newId();
    append(store, 'alice', id);
    const forged = `${id.split('-')[0]}-00000000`;
    assert.notEqual(forged, id);
    assert.equal(store.archive.seqOf('localhost', 'alice', forged), undefined);
    assert.equal(store.archive.seqOf('localhost', 'alice', 'zzzzzzzzzzz-00000000'), undefined, 'a seq past the end');
  });

  it('still finds ids of the older shape (UUIDs)', () => {
    const legacy = 'b1e6c1a2-3d4f-4a5b-8c6d-7e8f9a0b1c2d';
    append(store, 'alice', legacy);
    const seq = store.archive.seqOf('localhost', 'alice', legacy);
    assert.equal(typeof seq, 'number');
    assert.equal(store.archive.query('localhost', 'alice', {}, 1, false)[0]?.id, legacy);
  });

  it('never hands out a seq again, across a restart and after the newest rows are deleted', () => {
    const first = store.archive.newId();
    append(store, 'alice', first);
    const second = store.archive.newId();
    append(store, 'carol', second);
    store.accounts.delete('localhost', 'carol');
    store.close();
    store = new SqliteStore(path);
    const third = store.archive.newId();
    append(store, 'alice', third);
    const seqOf = (id: string): number => Number.parseInt(id.split('-')[0] as string, 36);
    assert.ok(seqOf(third) > seqOf(second), `${third} comes after ${second}`);
    assert.equal(store.archive.seqOf('localhost', 'alice', third), seqOf(third));
  });
});
