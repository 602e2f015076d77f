import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImportanceVerdict } from '../../src/core/importance.js';
import { matchXep0357, type MatchInput } from '../../src/push/match.js';

const important: ImportanceVerdict = { important: true, priority: 'normal', reason: 'body' };
const call: ImportanceVerdict = { important: true, priority: 'high', reason: 'call proposal' };
const base: MatchInput = {
  reason: 'offline',
  importance: important,
  userBare: 'bob@example.org',
  senderBare: 'alice@example.org',
  triggerResource: null,
  registrationResource: 'phone',
  registrationSession: 'none',
};
const m = (over: Partial<MatchInput>) => matchXep0357({ ...base, ...over });

test('offline: every registration', () => {
  assert.deepEqual(m({}), [true, 'stored offline']);
  assert.deepEqual(m({ registrationResource: null }), [true, 'stored offline']);
});

test('never the user their own message, nor an outgoing carbon', () => {
  assert.deepEqual(m({ senderBare: 'bob@example.org' }), [false, 'own message']);
  assert.deepEqual(m({ importance: { important: false, priority: 'low', reason: 'own outgoing carbon' } }), [false, 'own message']);
});

test('archived: only registrations without a live session; calls to all', () => {
  assert.deepEqual(m({ reason: 'archived', registrationSession: 'none' }), [true, 'archived without a live session']);
  assert.deepEqual(m({ reason: 'archived', registrationSession: 'hibernating' }), [true, 'archived without a live session']);
  assert.deepEqual(m({ reason: 'archived', registrationSession: 'live-inactive' }), [false, 'session live']);
  assert.deepEqual(m({ reason: 'archived', registrationSession: 'live-active' }), [false, 'session live and active']);
  assert.deepEqual(m({ reason: 'archived', registrationSession: 'live-inactive', importance: call }), [true, 'urgent: every registration']);
  assert.deepEqual(m({ reason: 'archived', registrationSession: 'live-active', importance: call }), [true, 'urgent: every registration']);
});

test('hibernated and ack-delayed: only the registrations of that session', () => {
  assert.deepEqual(m({ reason: 'hibernated', triggerResource: 'phone', registrationSession: 'hibernating' }), [true, 'session hibernating']);
  assert.deepEqual(m({ reason: 'hibernated', triggerResource: 'laptop', registrationSession: 'none' }), [false, 'another session']);
  assert.deepEqual(m({ reason: 'hibernated', triggerResource: 'phone', registrationResource: null }), [false, 'another session']);
  // A connected session that does not acknowledge is pushed even though it looks live and active.
  assert.deepEqual(m({ reason: 'ack-delayed', triggerResource: 'phone', registrationSession: 'live-active' }), [true, 'acknowledgement overdue']);
});

test('never while the registering session is live and active', () => {
  assert.deepEqual(m({ reason: 'offline', registrationSession: 'live-active' }), [false, 'session live and active']);
  assert.deepEqual(m({ reason: 'hibernated', triggerResource: 'phone', registrationSession: 'live-active' }), [false, 'session live and active']);
});
