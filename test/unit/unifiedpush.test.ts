import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { mustParseJid } from '../../src/jid.js';
import { aclAllows } from '../../src/push/unifiedpush/acl.js';
import { TokenCodec } from '../../src/push/unifiedpush/token.js';

const claims = { jid: 'alice@example.org/Conversations.x', host: 'example.org', instance: 'I'.repeat(44), application: 'A'.repeat(44), exp: 2_000_000_000 };

test('tokens round-trip, are opaque, and differ each time', () => {
  const codec = new TokenCodec(randomBytes(32));
  const a = codec.seal(claims);
  const b = codec.seal(claims);
  assert.notEqual(a.token, b.token);
  assert.notEqual(a.id, b.id);
  assert.deepEqual(codec.open(a.token), { ...claims, id: a.id });
  const decoded = Buffer.from(a.token, 'base64url').toString('latin1');
  assert.ok(!decoded.includes('alice') && !decoded.includes('example.org'), 'nothing readable inside');
  assert.ok(a.token.length < 1000, 'endpoint stays under 1000 bytes');
});

test('forged, tampered, truncated and foreign tokens do not open', () => {
  const key = randomBytes(32);
  const codec = new TokenCodec(key);
  const { token } = codec.seal(claims);
  assert.equal(new TokenCodec(randomBytes(32)).open(token), null);
  const raw = Buffer.from(token, 'base64url');
  for (let i = 0; i < raw.length; i += 7) {
    const t = Buffer.from(raw);
    t[i] = (t[i] as number) ^ 0x01;
    assert.equal(codec.open(t.toString('base64url')), null, `byte ${i} flipped`);
  }
  assert.equal(codec.open(token.slice(0, -4)), null);
  assert.equal(codec.open(''), null);
  assert.equal(codec.open('a+b/c='), null);
  assert.equal(codec.open('x'.repeat(3000)), null);
  assert.throws(() => new TokenCodec(randomBytes(16)));
});

test('ACL entries: a domain, a bare JID, a full JID', () => {
  const alice = mustParseJid('alice@example.org/phone');
  assert.ok(aclAllows(['example.org'], alice));
  assert.ok(!aclAllows(['sub.example.org'], alice));
  assert.ok(!aclAllows(['org'], alice));
  assert.ok(aclAllows(['alice@example.org'], alice));
  assert.ok(!aclAllows(['bob@example.org'], alice));
  assert.ok(aclAllows(['alice@example.org/phone'], alice));
  assert.ok(!aclAllows(['alice@example.org/laptop'], alice));
  assert.ok(aclAllows(['nonsense@@', 'Example.ORG'], alice), 'invalid entries are skipped, entries are normalised');
  assert.ok(!aclAllows([], alice));
});
