import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { parseJid } from '../jid.js';
import { XEP0357, xep0357TestPayload } from '../push/xep0357.js';
import { privacyOptions } from '../push/xep0357-payload.js';
import type { PushRegistration, Store } from '../storage/types.js';

/** Content-less test payloads, by front-end. */
const TEST_PAYLOADS: Record<string, (reg: PushRegistration, config: Config) => string> = {
  [XEP0357]: (reg, config) => xep0357TestPayload(reg, privacyOptions(config)),
};

function describe(r: PushRegistration): string {
  const node = r.node === '' ? '' : ` node=${r.node}`;
  const errors = r.errorCount > 0 ? ` errors=${r.errorCount}` : '';
  return `#${r.id} ${r.frontend} ${r.service}${node} resource=${r.resource ?? '-'} since=${new Date(r.createdAt).toISOString()}${errors}`;
}

export function pushList(store: Store, host: string, username: string): number {
  const regs = store.pushRegistrations.forUser(host, username);
  if (regs.length === 0) console.log(`${username}@${host} has no push registrations`);
  for (const r of regs) console.log(describe(r));
  return 0;
}

export function pushDisable(store: Store, host: string, username: string, service: string, node?: string): number {
  const jid = parseJid(service);
  const key = jid ? jid.toString() : service;
  let removed = 0;
  for (const frontend of new Set(store.pushRegistrations.forUser(host, username).map((r) => r.frontend))) {
    removed += store.pushRegistrations.remove(host, username, frontend, key, node);
  }
  console.log(removed === 0 ? `no registration of ${username}@${host} at ${service}${node === undefined ? '' : ` node ${node}`}` : `removed ${removed} registration(s)`);
  return removed === 0 ? 1 : 0;
}

/**
 * Puts a test push for each registration into the outbox, where the running
 * server's worker finds it within a second, and reports what became of it.
 */
export async function pushTest(store: Store, config: Config, host: string, username: string): Promise<number> {
  const regs = store.pushRegistrations.forUser(host, username);
  if (regs.length === 0) {
    console.log(`${username}@${host} has no push registrations`);
    return 1;
  }
  const queued: { reg: PushRegistration; id: number }[] = [];
  for (const reg of regs) {
    const build = TEST_PAYLOADS[reg.frontend];
    if (!build) {
      console.log(`${describe(reg)}: no test push for this front-end`);
      continue;
    }
    const id = store.pushOutbox.add({
      registrationId: reg.id,
      dedupKey: `test:${randomBytes(9).toString('base64url')}`,
      reason: 'test',
      important: false,
      priority: 'low',
      batched: false,
      payload: build(reg, config),
      notBefore: Date.now(),
    });
    if (id !== null) queued.push({ reg, id });
  }
  const deadline = Date.now() + (config.push.response_timeout + 5) * 1000;
  let failures = 0;
  for (const { reg, id } of queued) {
    for (;;) {
      const e = store.pushOutbox.get(id);
      if (e && e.state !== 'pending') {
        console.log(`${describe(reg)}: ${e.state}${e.lastError ? ` (${e.lastError})` : ''}`);
        if (e.state !== 'sent') failures++;
        break;
      }
      if (Date.now() > deadline) {
        const attempts = e ? e.attempts : 0;
        console.log(`${describe(reg)}: still queued after ${attempts} attempt(s)${e?.lastError ? ` (last: ${e.lastError})` : ''}; is Herald running?`);
        failures++;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return failures === 0 ? 0 : 1;
}
