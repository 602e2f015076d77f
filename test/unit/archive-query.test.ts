import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/storage/sqlite/store.js';

describe('archive queries by contact', () => {
  let store: SqliteStore;
  const contacts = ['a@localhost', 'b@localhost', 'c@localhost'];
  before(() => {
    store = new SqliteStore(':memory:');
    store.transaction(() => {
      for (let i = 0; i < 300; i++) {
        const user = i % 2 === 0 ? 'alice' : 'bob';
        const w = contacts[i % 3] as string;
        store.archive.append('localhost', user, { id: store.archive.newId(), with: w, stamp: 1000 + i, direction: 'in', stanza: `<message id='m${i}'/>` });
      }
    });
  });
  after(() => store.close());

  it("pages through one contact's messages of one user, newest first, and only those", () => {
    const expected = store.archive.query('localhost', 'alice', {}, 1000, true).filter((m) => m.with === 'b@localhost').map((m) => m.seq);
    assert.equal(expected.length, 50);
    const seen: number[] = [];
    let beforeSeq: number | undefined;
    for (;;) {
      const page = store.archive.query('localhost', 'alice', { with: 'b@localhost', beforeSeq }, 20, true);
      if (page.length === 0) break;
      for (const m of page) assert.equal(m.with, 'b@localhost');
      seen.push(...page.map((m) => m.seq));
      beforeSeq = page.at(-1)?.seq;
    }
    assert.deepEqual(seen, expected);
  });

  it('finds them through the per-user index, not by scanning the table', () => {
    const plan = store.db
      .prepare<unknown[], { detail: string }>('EXPLAIN QUERY PLAN SELECT seq, stanza FROM archive WHERE host = ? AND username = ? AND with_jid = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
      .all('localhost', 'alice', 'b@localhost', 1000, 20)
      .map((r) => r.detail)
      .join('; ');
    assert.match(plan, /USING INDEX archive_user \(host=\? AND username=\? AND seq<\?\)/);
    assert.doesNotMatch(plan, /TEMP B-TREE/, 'no sort: the index gives seq order');
  });
});
