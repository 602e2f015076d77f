import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { TallyCounter } from '../../src/core/tally-counter.js';

describe('TallyCounter', () => {
  it('shows every increment at the next scrape, per label set, and keeps counting across scrapes', async () => {
    const registry = new Registry();
    const c = new TallyCounter({ name: 'tally_total', help: 'test', labelNames: ['a', 'b'], registers: [registry] });
    const labels = { a: 'x', b: 'y' };
    c.inc(labels);
    c.inc({ a: 'x', b: 'y' }, 2);
    labels.b = 'changed after counting'; // the counter kept its own copy
    c.inc({ a: 'x', b: '' });
    let text = await registry.metrics();
    assert.match(text, /^tally_total\{a="x",b="y"\} 3$/m);
    assert.match(text, /^tally_total\{a="x",b=""\} 1$/m);
    assert.doesNotMatch(text, /changed after counting/);
    c.inc({ a: 'x', b: 'y' });
    text = await registry.metrics();
    assert.match(text, /^tally_total\{a="x",b="y"\} 4$/m);
    assert.match(text, /^tally_total\{a="x",b=""\} 1$/m);
  });

  it('keeps label sets apart even when their values run together', async () => {
    const registry = new Registry();
    const c = new TallyCounter({ name: 'apart_total', help: 'test', labelNames: ['a', 'b'], registers: [registry] });
    c.inc({ a: 'ab', b: '' });
    c.inc({ a: 'a', b: 'b' });
    const text = await registry.metrics();
    assert.match(text, /^apart_total\{a="ab",b=""\} 1$/m);
    assert.match(text, /^apart_total\{a="a",b="b"\} 1$/m);
  });
});
