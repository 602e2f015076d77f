import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { PerMinuteLimiter } from '../../src/net/rate-limit.js';

const MIN = 60_000;
/** The start of a one-minute window, so offsets inside it are easy to reason about. */
const T0 = 28_000_000 * MIN;

function withLimiter(limit: number, fn: (l: PerMinuteLimiter) => void): void {
  const l = new PerMinuteLimiter(limit);
  try {
    fn(l);
  } finally {
    l.stop();
  }
}

function size(l: PerMinuteLimiter): number {
  return (l as unknown as { buckets: Map<string, unknown> }).buckets.size;
}

describe('PerMinuteLimiter', () => {
  test('allows `limit` hits in a minute and refuses the next one', () => {
    withLimiter(5, (l) => {
      for (let i = 0; i < 5; i++) assert.equal(l.hit('1.2.3.4', T0 + 1000 + i), true, `hit ${i + 1}`);
      assert.equal(l.hit('1.2.3.4', T0 + 2000), false);
      assert.equal(l.hit('1.2.3.4', T0 + 3000), false);
    });
  });

  test('keys are counted separately', () => {
    withLimiter(2, (l) => {
      assert.equal(l.hit('a', T0), true);
      assert.equal(l.hit('a', T0), true);
      assert.equal(l.hit('a', T0), false);
      assert.equal(l.hit('b', T0), true);
      assert.equal(l.hit('b', T0), true);
      assert.equal(l.hit('b', T0), false);
      assert.equal(l.hit('c', T0), true);
    });
  });

  test('exceeded() is false for an unknown key and does not record anything', () => {
    withLimiter(3, (l) => {
      for (let i = 0; i < 100; i++) assert.equal(l.exceeded('x', T0 + i), false);
      assert.equal(size(l), 0);
      assert.equal(l.hit('x', T0), true);
      for (let i = 0; i < 100; i++) assert.equal(l.exceeded('x', T0 + i), false);
      assert.equal(l.hit('x', T0), true);
      assert.equal(l.hit('x', T0), true);
      assert.equal(l.hit('x', T0), false);
    });
  });

  test('exceeded() turns true once `limit` events were recorded', () => {
    withLimiter(3, (l) => {
      l.hit('ip', T0 + 10);
      l.hit('ip', T0 + 20);
      assert.equal(l.exceeded('ip', T0 + 30), false);
      l.hit('ip', T0 + 40);
      assert.equal(l.exceeded('ip', T0 + 50), true);
      assert.equal(l.exceeded('other', T0 + 50), false);
    });
  });

  test('the previous minute weighs in proportionally to what is left of it', () => {
    withLimiter(10, (l) => {
      for (let i = 0; i < 10; i++) assert.equal(l.hit('k', T0 + 59_000), true);
      // right at the start of the next minute the old hits still count in full
      assert.equal(l.exceeded('k', T0 + MIN), true);
      // half way through the next minute they count half: 10 × 0.5 = 5, so 5 more fit
      const mid = T0 + MIN + MIN / 2;
      assert.equal(l.exceeded('k', mid), false);
      for (let i = 0; i < 5; i++) assert.equal(l.hit('k', mid), true, `hit ${i + 1} at half time`);
      assert.equal(l.hit('k', mid), false);
    });
  });

  test('three quarters into the next minute a quarter of the old count remains', () => {
    withLimiter(8, (l) => {
      for (let i = 0; i < 8; i++) l.hit('k', T0 + 1);
      const t = T0 + MIN + (3 * MIN) / 4;
      // 8 × 0.25 = 2 remain, so 6 more are allowed
      for (let i = 0; i < 6; i++) assert.equal(l.hit('k', t), true, `hit ${i + 1}`);
      assert.equal(l.hit('k', t), false);
    });
  });

  test('after a whole idle minute the key starts fresh', () => {
    withLimiter(2, (l) => {
      l.hit('k', T0);
      l.hit('k', T0);
      assert.equal(l.hit('k', T0), false);
      const later = T0 + 2 * MIN;
      assert.equal(l.exceeded('k', later), false);
      assert.equal(l.hit('k', later), true);
      assert.equal(l.hit('k', later), true);
      assert.equal(l.hit('k', later), false);
    });
  });

  test('refused hits still count, so hammering keeps the key blocked into the next minute', () => {
    withLimiter(2, (l) => {
      for (let i = 0; i < 20; i++) l.hit('k', T0 + 50_000);
      // 20 recorded; half way through the next minute they still weigh 10 > 2
      assert.equal(l.hit('k', T0 + MIN + MIN / 2), false);
      assert.equal(l.exceeded('k', T0 + MIN + MIN / 2), true);
      // once that minute is over as well, the key is free again
      assert.equal(l.hit('k', T0 + 3 * MIN), true);
    });
  });

  test('the window is the wall-clock minute: hits late in one minute and early in the next both count', () => {
    withLimiter(4, (l) => {
      l.hit('k', T0 + MIN - 10);
      l.hit('k', T0 + MIN - 5);
      l.hit('k', T0 + MIN - 1);
      // 1 ms into the next minute the previous three still count (almost) in full
      assert.equal(l.hit('k', T0 + MIN + 1), true); // ≈ 1 + 3 = 4
      assert.equal(l.hit('k', T0 + MIN + 2), false); // ≈ 2 + 3 = 5
    });
  });

  test('sweep() drops keys idle for more than a minute and keeps recent ones', () => {
    withLimiter(5, (l) => {
      l.hit('old', T0);
      l.hit('recent', T0 + MIN);
      assert.equal(size(l), 2);
      l.sweep(T0 + MIN + 10);
      assert.equal(size(l), 2, 'a key from the previous minute is still needed for the estimate');
      l.sweep(T0 + 2 * MIN);
      assert.equal(size(l), 1, 'a key two minutes old is dropped');
      assert.equal(l.exceeded('old', T0 + 2 * MIN), false);
      l.sweep(T0 + 3 * MIN);
      assert.equal(size(l), 0);
    });
  });

  test('a swept key behaves like a new one', () => {
    withLimiter(1, (l) => {
      assert.equal(l.hit('k', T0), true);
      assert.equal(l.hit('k', T0), false);
      l.sweep(T0 + 5 * MIN);
      assert.equal(l.hit('k', T0 + 5 * MIN), true);
      assert.equal(l.hit('k', T0 + 5 * MIN), false);
    });
  });

  test('defaults to the current time', () => {
    withLimiter(2, (l) => {
      assert.equal(l.hit('now'), true);
      assert.equal(l.hit('now'), true);
      // Even if a minute boundary falls between the calls, the previous minute still counts (almost) in full.
      assert.equal(l.hit('now'), false);
      assert.equal(l.exceeded('now'), true);
      l.sweep();
      assert.equal(l.exceeded('now'), true, 'sweep() at the current time keeps a live key');
    });
  });
});
