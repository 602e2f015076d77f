import type { ServerContext } from '../core/context.js';
import { guarded } from '../core/guard.js';
import type { OutboxEntry, OutboxState, PushRegistration } from '../storage/types.js';
import type { PushFrontend, PushOutcome } from './frontend.js';
import type { PushMetrics } from './metrics.js';

interface Settlement {
  id: number;
  state: OutboxState;
  attempts: number;
  notBefore: number;
  lastError: string | null;
}

/** What the pipeline learns when a push was delivered. */
export type DeliveredListener = (reg: PushRegistration, entry: OutboxEntry) => void;

const BATCH = 1000;

/** How long an entry let go after a failed send waits for the scan that sends it again. */
const RESCAN_AFTER_MS = 1000;

/**
 * Sends what is in the outbox. Entries are durable from the moment they are
 * accepted: after a crash or a restart the worker finds them pending and
 * sends them. Temporary failures are retried with exponential back-off and
 * jitter until push.retry_max_attempts or push.retry_max_age; permanent ones
 * count toward push.max_errors, which removes the registration. Batched
 * entries of one registration that fall due together are coalesced into at
 * most one important and one unimportant push.
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private runScheduled = false;
  private readonly inflight = new Set<number>();
  private pendingSettlements: Settlement[] = [];
  private poller: NodeJS.Timeout | null = null;
  /** A scan found a full window in flight: scan again when outcomes land. */
  private backlog = false;
  /** Where a pass over a long backlog has got to: each scan reads on from there, not from the start. */
  private cursor = 0;
  private stopped = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly frontends: ReadonlyMap<string, PushFrontend>,
    private readonly metrics: PushMetrics,
    private readonly onDelivered: DeliveredListener,
  ) {}

  start(): void {
    // Entries left by a crash are found now. Entries written by another process (`herald push
    // test`) are found by a poll that reads storage only when the store has seen such a write:
    // an unconditional scan each second read back every entry in flight, and with a storage
    // thread it waited for all the writes queued before it.
    let otherWrites = this.ctx.store.otherWrites();
    this.poller = setInterval(() => {
      const seen = this.ctx.store.otherWrites();
      if (seen === otherWrites) return;
      otherWrites = seen;
      this.kick();
    }, 1000);
    this.poller.unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    this.flush();
  }

  get busy(): boolean {
    return this.inflight.size > 0;
  }

  /**
   * A freshly accepted entry: due now and not batched, it goes out straight
   * from memory (with what the front-end prepared) once the transaction that
   * stored it is committed. With a storage thread that can be in the middle
   * of a long turn (Store.progress), ahead of what the rest of the turn
   * writes. Otherwise a scan of storage picks it up when it falls due.
   */
  enqueue(entry: OutboxEntry, prepared?: unknown): void {
    if (this.stopped) return;
    if (entry.batched || entry.notBefore > Date.now()) {
      this.kick(entry.notBefore);
      return;
    }
    this.inflight.add(entry.id);
    this.ctx.store.whenCommitted((ok) => {
      if (ok) this.send(entry, prepared);
      else this.inflight.delete(entry.id); // never stored: nothing to send
    });
  }

  /** Something is due at `at` (now by default): scan storage then. */
  kick(at = Date.now()): void {
    if (this.stopped) return;
    if (at <= Date.now()) {
      if (this.runScheduled) return;
      this.runScheduled = true;
      setImmediate(() => {
        this.runScheduled = false;
        guarded(this.ctx, 'push outbox scan', () => this.run());
      });
      return;
    }
    if (at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      guarded(this.ctx, 'push outbox scan', () => this.run());
    }, at - Date.now());
    this.timer.unref();
  }

  private run(): void {
    if (this.stopped) return;
    if (this.inflight.size >= BATCH) {
      // A full window is out (a push service gets at most BATCH at once): read on when answers free it.
      this.backlog = true;
      return;
    }
    const now = Date.now();
    let rows: OutboxEntry[];
    try {
      rows = this.ctx.store.pushOutbox.due(now, BATCH, this.cursor);
    } catch (e) {
      this.ctx.log.error({ err: e }, 'outbox read failed');
      return;
    }
    const due = rows.filter((e) => !this.inflight.has(e.id));
    for (const entry of this.coalesce(due)) this.send(entry);
    if (rows.length >= BATCH) {
      this.cursor = (rows[rows.length - 1] as OutboxEntry).id;
      this.kick();
    } else {
      this.cursor = 0; // the pass is over; the next one starts again from the oldest
    }
    const next = this.ctx.store.pushOutbox.nextDue();
    if (next !== undefined && next > now) this.kick(next);
  }

  /** Batched entries of one registration: only the newest important and the newest unimportant go out. */
  private coalesce(due: OutboxEntry[]): OutboxEntry[] {
    const keep: OutboxEntry[] = [];
    const newest = new Map<string, OutboxEntry>();
    for (const e of due) {
      if (!e.batched) {
        keep.push(e);
        continue;
      }
      const k = `${e.registrationId}:${e.important ? 1 : 0}`;
      const older = newest.get(k);
      if (older) this.settle({ id: older.id, state: 'coalesced', attempts: older.attempts, notBefore: older.notBefore, lastError: null });
      newest.set(k, e);
    }
    return [...keep, ...newest.values()];
  }

  /**
   * A failure here or in recording the outcome leaves the entry pending in
   * storage and frees it for the next scan: sent again rather than lost.
   */
  private send(entry: OutboxEntry, prepared?: unknown): void {
    try {
      this.dispatch(entry, prepared);
    } catch (e) {
      this.ctx.log.error({ err: e, push: entry.id }, 'push could not be sent; the next scan retries it');
      this.letGo(entry.id);
    }
  }

  private dispatch(entry: OutboxEntry, prepared?: unknown): void {
    const reg = this.ctx.store.pushRegistrations.get(entry.registrationId);
    const frontend = reg ? this.frontends.get(reg.frontend) : undefined;
    if (!reg || !frontend) {
      this.settle({ id: entry.id, state: 'failed', attempts: entry.attempts, notBefore: entry.notBefore, lastError: 'registration gone' });
      return;
    }
    this.inflight.add(entry.id);
    frontend
      .send(reg, entry.payload, prepared)
      .catch((e: unknown): PushOutcome => {
        this.ctx.log.error({ err: e, push: entry.id }, 'push transport failed');
        return { ok: false, temporary: true, condition: 'internal-error' };
      })
      .then((outcome) => {
        try {
          this.outcome(reg, frontend.name, entry, outcome);
        } catch (e) {
          this.ctx.log.error({ err: e, push: entry.id }, 'push outcome could not be recorded; the next scan sends it again');
          this.letGo(entry.id);
        }
      });
  }

  /** Still pending in storage, no longer in flight here: a scan a second later finds it again. */
  private letGo(id: number): void {
    this.inflight.delete(id);
    this.kick(Date.now() + RESCAN_AFTER_MS);
  }

  private outcome(reg: PushRegistration, frontend: string, entry: OutboxEntry, o: PushOutcome): void {
    const attempts = entry.attempts + 1;
    const cfg = this.ctx.config.push;
    const count = (outcome: string, condition: string): void => this.metrics.pushes.inc({ frontend, reason: entry.reason, outcome, condition });
    if (o.ok) {
      count('sent', '');
      this.settle({ id: entry.id, state: 'sent', attempts, notBefore: entry.notBefore, lastError: null });
      if (reg.errorCount > 0) this.ctx.store.pushRegistrations.resetErrors(reg.id);
      this.onDelivered(reg, entry);
      return;
    }
    const log = { push: entry.id, registration: reg.id, user: `${reg.username}@${reg.host}`, condition: o.condition, attempts };
    if (o.gone) {
      count('failed', o.condition);
      this.settle({ id: entry.id, state: 'failed', attempts, notBefore: entry.notBefore, lastError: o.condition });
      this.ctx.store.pushRegistrations.removeById(reg.id);
      this.metrics.disabled.inc({ frontend, why: 'gone' });
      this.ctx.log.info(log, 'push subscription gone; registration removed');
      return;
    }
    if (o.temporary) {
      const expired = attempts >= cfg.retry_max_attempts || Date.now() - entry.createdAt > cfg.retry_max_age * 1000;
      if (!expired) {
        const backoff = Math.min(cfg.retry_max_delay * 1000, cfg.retry_base_delay * 1000 * 2 ** (attempts - 1));
        const delay = Math.max(o.retryAfterMs ?? 0, backoff * (0.75 + Math.random() * 0.5));
        count('retry', o.condition);
        this.metrics.retries.inc({ frontend });
        this.settle({ id: entry.id, state: 'pending', attempts, notBefore: Date.now() + delay, lastError: o.condition });
        this.ctx.log.info({ ...log, retry_in_ms: Math.round(delay) }, 'push failed temporarily; will retry');
        this.kick(Date.now() + delay);
        return;
      }
      count('failed', o.condition);
      this.settle({ id: entry.id, state: 'failed', attempts, notBefore: entry.notBefore, lastError: o.condition });
      this.ctx.log.warn(log, 'push given up after retries');
      return;
    }
    count('failed', o.condition);
    this.settle({ id: entry.id, state: 'failed', attempts, notBefore: entry.notBefore, lastError: o.condition });
    const errors = this.ctx.store.pushRegistrations.countError(reg.id);
    this.ctx.log.info({ ...log, errors }, 'push refused');
    if (errors >= cfg.max_errors) {
      this.ctx.store.pushRegistrations.removeById(reg.id);
      this.metrics.disabled.inc({ frontend, why: 'errors' });
      this.ctx.log.warn(log, 'too many push errors; registration removed');
    }
  }

  /**
   * Outcomes are written together, one transaction per turn of the event loop;
   * until then the entry stays in `inflight`, so no run picks it up again.
   */
  private settle(s: Settlement): void {
    this.inflight.add(s.id);
    this.pendingSettlements.push(s);
    if (this.pendingSettlements.length === 1) setImmediate(() => this.flush());
  }

  /** Writes the outcomes gathered so far now (they are otherwise written once per turn of the event loop). */
  flush(): void {
    const batch = this.pendingSettlements;
    if (batch.length === 0) return;
    this.pendingSettlements = [];
    const store = this.ctx.store;
    try {
      store.transaction(() => store.pushOutbox.settle(batch));
    } catch (e) {
      this.settleFailed(batch, e);
      return;
    }
    // A storage thread says only at the commit whether the outcomes were written.
    if (store.failsLate) store.whenCommitted((ok) => (ok ? this.settled(batch) : this.settleFailed(batch, new Error('the storage thread rolled the update back'))));
    else this.settled(batch);
  }

  private settled(batch: readonly { id: number }[]): void {
    for (const s of batch) this.inflight.delete(s.id);
    if (this.backlog) {
      this.backlog = false;
      this.kick();
    }
  }

  /**
   * The outcomes are known, only recording them failed: keep the entries out
   * of the scans (re-sending delivered pushes every second would flood the
   * push services) and try again.
   */
  private settleFailed(batch: typeof this.pendingSettlements, e: unknown): void {
    this.ctx.log.error({ err: e, entries: batch.length }, 'outbox update failed; retrying in 5 s');
    this.pendingSettlements = [...batch, ...this.pendingSettlements];
    setTimeout(() => this.flush(), 5000).unref();
  }
}
