import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const EXAMPLE = new URL('../../herald.example.toml', import.meta.url).pathname;

test('herald.example.toml documents every option with its real default', () => {
  const fromExample = loadConfig({ file: EXAMPLE, env: {} }).config;
  const defaults = configSchema.parse({});
  assert.deepEqual(fromExample, defaults);
  const text = readFileSync(EXAMPLE, 'utf8');
  const raw = parse(text) as Record<string, Record<string, unknown>>;
  for (const [section, keys] of Object.entries(defaults)) {
    for (const [key, value] of Object.entries(keys)) {
      // Tables (per-domain entries) default to empty and are documented by a commented example.
      const isTable = typeof value === 'object' && value !== null && !Array.isArray(value);
      const present = isTable ? text.includes(`[${section}.${key}.`) : raw[section] !== undefined && key in raw[section];
      assert.ok(present, `${section}.${key} is missing from herald.example.toml`);
    }
  }
});
