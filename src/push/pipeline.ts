import type { ServerContext, HeraldModule } from '../core/context.js';
import type { PushTriggerEvent } from '../core/events.js';
import { chore } from '../core/guard.js';
import { smOf } from '../core/stream-management.js';
import { Jid, parseJid } from '../jid.js';
import type { OutboxEntry, PushRegistration } from '../storage/types.js';
import { archiveIdOf, stanzaKey } from './dedup.js';
import type { PushFrontend } from './frontend.js';
import type { RegistrationSessionState } from './match.js';
import { PushMetrics } from './metrics.js';
import { OutboxWorker } from './outbox-worker.js';
import { createWebPush } from './webpush.js';
import { serveWebPushPage } from './webpush-page.js';
import { createXep0357 } from './xep0357.js';

/** The condition the router answers for a domain it has no route to (yet). */
const NO_ROUTE = 'remote-server-not-found';

/**
 * The push pipeline: push trigger → match (per registration, per front-end)
 * → payload → durable outbox → transport. One instance serves every push
 * protocol; front-ends only decide, build and send.
 */
function install(ctx: ServerContext): void {
  const frontends = new Map<string, PushFrontend>();
  const webpush = ctx.config.webpush.enabled ? createWebPush(ctx) : null;
  if (webpush) serveWebPushPage(ctx);
  for (const f of [createXep0357(ctx), webpush]) if (f) frontends.set(f.name, f);
  const metrics = new PushMetrics(ctx.metrics, ctx.store);
  const worker = new OutboxWorker(ctx, frontends, metrics, (reg, entry) =>
    ctx.bus.fire('push/delivered', { host: reg.host, username: reg.username, frontend: reg.frontend, resource: reg.resource, important: entry.important }),
  );
  /** Per registration, the end of the current hibernation batch window. */
  const batchEnds = new Map<number, number>();

  const sessionState = (reg: PushRegistration): RegistrationSessionState => {
    if (reg.resource === null) return 'none';
    const s = ctx.sessions.get(new Jid(reg.username, reg.host, reg.resource));
    if (!s) return 'none';
    if (s.state === 'hibernating') return 'hibernating';
    if (!s.connected || !s.available) return 'none';
    return s.filters.length > 0 ? 'live-inactive' : 'live-active';
  };

  /**
   * One stanza often triggers twice in one dispatch (archived, then offline):
   * which registrations accepted it is remembered for the rest of the
   * synchronous dispatch only, so the second trigger costs no match and no
   * outbox lookup. The memo is keyed by user and stanza key, not by the
   * stanza object, so a carbon (another object around the same message) is
   * caught here too. A stanza can sit in an SM queue for hours and trigger
   * again later, when the registrations may have changed, so the memo is
   * forgotten at the next microtask. (The registrations themselves are
   * memoized by the store.)
   */
  const seen = new Map<string, Set<number>>();

  const accept = (e: PushTriggerEvent): void => {
    metrics.triggers.inc({ reason: e.reason });
    const regs = ctx.store.pushRegistrations.forUser(e.host, e.username);
    if (regs.length === 0) return;
    const user = `${e.username}@${e.host}`;
    const key = stanzaKey(e.stanza, user);
    const memoKey = `${user} ${key}`;
    let accepted = seen.get(memoKey);
    if (!accepted) {
      accepted = new Set();
      if (seen.size === 0) queueMicrotask(() => seen.clear());
      seen.set(memoKey, accepted);
    }
    const now = Date.now();
    for (const reg of regs) {
      const frontend = frontends.get(reg.frontend);
      if (!frontend) continue;
      if (accepted.has(reg.id)) {
        metrics.deduplicated.inc({ frontend: reg.frontend });
        continue;
      }
      const [push, why] = frontend.match(reg, e, sessionState(reg));
      metrics.decisions.inc({ frontend: reg.frontend, reason: e.reason, decision: push ? 'push' : 'skip' });
      if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ user, registration: reg.id, trigger: e.reason, push, why, stanza: `${e.stanza.name}#${e.stanza.attrs.id ?? ''}` }, 'push decision');
      if (!push) continue;
      // A stanza archived in this very run can have no push from before; this run's are in the memo.
      const archiveId = archiveIdOf(key);
      const fresh = archiveId !== undefined && ctx.store.archive.mintedNow(archiveId);
      if (!fresh && ctx.store.pushOutbox.has(reg.id, key)) {
        metrics.deduplicated.inc({ frontend: reg.frontend });
        continue;
      }
      // Hibernation pushes are batched: the first opens a window the next ones join.
      const batched = ctx.config.push.batch_interval > 0 && (e.reason === 'hibernated' || e.reason === 'ack-delayed');
      let notBefore = now;
      if (batched) {
        const end = batchEnds.get(reg.id);
        notBefore = end !== undefined && end > now ? end : now + ctx.config.push.batch_interval * 1000;
        batchEnds.set(reg.id, notBefore);
      }
      const { text, prepared } = frontend.payload(reg, e);
      // One object, complete from the start: spreading it into a second one for the worker
      // showed up as 3% of the CPU per push.
      const entry: OutboxEntry = {
        id: 0,
        registrationId: reg.id,
        dedupKey: key,
        reason: e.reason,
        important: e.importance.important,
        priority: e.importance.priority,
        batched,
        payload: text,
        state: 'pending',
        attempts: 0,
        createdAt: now,
        notBefore,
        lastError: null,
      };
      const id = ctx.store.pushOutbox.add(entry);
      if (id === null) continue;
      entry.id = id;
      accepted.add(reg.id);
      worker.enqueue(entry, prepared);
    }
  };

  ctx.bus.on('push/trigger', accept);
  ctx.bus.on('route/added', ({ domain }) => {
    // An app server that comes back gets what waited for it now, not after each entry's back-off.
    // Outcomes not yet written (attempts that failed this very turn) are written first, so they count.
    worker.flush();
    const waiting = ctx.store.pushOutbox.waitingOn(NO_ROUTE).filter((w) => parseJid(w.service)?.domain === domain);
    if (waiting.length === 0) return;
    const n = ctx.store.pushOutbox.expedite(waiting.map((w) => w.registrationId), NO_ROUTE, Date.now());
    ctx.log.info({ domain, pushes: n }, 'route available: the pushes that waited for it go now');
    worker.kick();
  });
  extendHibernation(ctx);
  ctx.shutdownHooks.push(async () => {
    const deadline = Date.now() + 1500;
    while (worker.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    worker.stop();
    await webpush?.close();
  });
  chore(ctx, 'push outbox pruning', 3600_000, () => ctx.store.pushOutbox.prune(Date.now() - ctx.config.push.dedup_window * 1000));
  setImmediate(() => worker.start());
}

/**
 * A session that can be woken by push stays resumable for
 * push.max_hibernation_timeout, until its first important push is delivered;
 * then, or when it resumes, the normal sm.resume_timeout applies again.
 */
function extendHibernation(ctx: ServerContext): void {
  const extended = new WeakSet<object>();
  const normal = ctx.config.sm.resume_timeout;
  ctx.bus.on(
    'sm/hibernated',
    ({ session }) => {
      const sm = smOf(session);
      if (!sm) return;
      const pushable = ctx.store.pushRegistrations.forUser(session.host, session.username).some((r) => r.resource === session.jid.resource);
      if (!pushable) return;
      sm.resumeTimeout = ctx.config.push.max_hibernation_timeout;
      sm.armResumeTimer();
      extended.add(sm);
    },
    10,
  );
  ctx.bus.on('push/delivered', (e) => {
    if (!e.important || e.resource === null) return;
    for (const session of ctx.sessions.forUser(`${e.username}@${e.host}`)) {
      const sm = smOf(session);
      if (session.jid.resource !== e.resource || !sm || !extended.has(sm)) continue;
      extended.delete(sm);
      sm.resumeTimeout = normal;
      if (session.state === 'hibernating') sm.armResumeTimer();
    }
  });
  ctx.bus.on('sm/resumed', ({ session }) => {
    const sm = smOf(session);
    if (sm && extended.delete(sm)) sm.resumeTimeout = normal;
  });
}

export const pushPipelineModule: HeraldModule = { name: 'push', install };
