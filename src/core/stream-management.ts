import { randomBytes } from 'node:crypto';
import { Element, x } from '../xml/element.js';
import { escapeAttr } from '../xml/escape.js';
import { NS } from '../xml/namespaces.js';
import type { ClientSession, StanzaTracker } from './c2s-session.js';
import type { HeraldModule, ServerContext } from './context.js';
import { chore, guarded } from './guard.js';

/** Counters are unsigned 32-bit and wrap (XEP-0198 §4). */
const WRAP = 2 ** 32;
const TOMBSTONE_LIFETIME_MS = 24 * 3600_000;

interface Queued {
  stanza: Element;
  at: number;
}

/**
 * XEP-0198 state of one session: counters, the queue of unacknowledged
 * stanzas, ack requests and their deadline, and hibernation.
 */
export class SmState implements StanzaTracker {
  readonly id = randomBytes(18).toString('base64url');
  inbound = 0;
  outbound = 0;
  acked = 0;
  readonly queue: Queued[] = [];
  private awaiting = false;
  private requestScheduled = false;
  private ackTimer: NodeJS.Timeout | null = null;
  private resumeTimer: NodeJS.Timeout | null = null;
  /** Seconds a hibernating session stays resumable; push may extend it for sessions it can wake. */
  resumeTimeout: number;

  constructor(
    private readonly ctx: ServerContext,
    readonly session: ClientSession,
    readonly resumable: boolean,
  ) {
    this.resumeTimeout = ctx.config.sm.resume_timeout;
  }

  received(): void {
    this.inbound = (this.inbound + 1) % WRAP;
  }

  /** inbound as of the last input known to be on disk. */
  private durableInbound = 0;

  inputCommitted(durable: boolean, through = this.inbound): void {
    // Outcomes arrive in input order, and a failure leaves the connection destroyed, so
    // nothing counted after a rolled-back chunk can be durable before it.
    if (durable) this.durableInbound = through;
    else this.inbound = this.durableInbound;
  }

  track(stanza: Element): void {
    this.outbound = (this.outbound + 1) % WRAP;
    this.queue.push({ stanza, at: Date.now() });
    if (!this.session.connected) {
      this.ctx.bus.fire('sm/queued', { session: this.session, stanza });
      if (this.queue.length > this.ctx.config.sm.max_queue) this.overflow();
      return;
    }
    // A connected client may be far behind after a burst (an offline flush); it is only
    // held to sm.max_queue once it has had sm.max_ack_delay to catch up (see ackDelayed).
    this.requestAck();
  }

  /** Asks for an acknowledgement once the current burst of output is written. */
  requestAck(): void {
    if (this.awaiting || this.requestScheduled) return;
    this.requestScheduled = true;
    setImmediate(() => {
      this.requestScheduled = false;
      if (!this.session.connected || this.queue.length === 0 || this.awaiting) return;
      this.session.writeRaw(`<r xmlns='${NS.sm}'/>`);
      this.awaiting = true;
      this.ackTimer = setTimeout(() => guarded(this.ctx, 'acknowledgement overdue', () => this.ackDelayed()), this.ctx.config.sm.max_ack_delay * 1000);
      this.ackTimer.unref();
    });
  }

  /** Too much waiting for a client that is not taking it: end the session; its messages go to offline storage. */
  private overflow(): void {
    this.ctx.log.warn({ session: this.session.id, queued: this.queue.length }, 'stream management queue full; ending the session');
    setImmediate(() => this.session.streamError('resource-constraint', 'too many unacknowledged stanzas'));
  }

  private ackDelayed(): void {
    this.ackTimer = null;
    if (!this.session.connected || this.queue.length === 0) return;
    if (this.queue.length > this.ctx.config.sm.max_queue) this.overflow();
    this.ctx.log.info({ session: this.session.id, unacked: this.queue.length }, 'acknowledgement overdue');
    this.ctx.bus.fire('sm/ack-delayed', { session: this.session, stanzas: this.queue.map((q) => q.stanza) });
  }

  /** Applies the client's h; false when it claims more than was sent. */
  ack(h: number): boolean {
    const n = (h - this.acked + WRAP) % WRAP;
    if (n > this.queue.length) return false;
    this.queue.splice(0, n);
    this.acked = h;
    this.awaiting = false;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.queue.length > 0 && this.session.connected) this.requestAck();
    return true;
  }

  get isAwaitingAck(): boolean {
    return this.awaiting;
  }

  hibernate(): void {
    this.awaiting = false;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.armResumeTimer();
  }

  /** (Re)starts the hibernation deadline, e.g. when push changes the timeout. */
  armResumeTimer(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.ctx.log.info({ session: this.session.id }, 'resumption timed out');
      guarded(this.ctx, 'resumption timeout', () => this.session.end());
    }, this.resumeTimeout * 1000);
    this.resumeTimer.unref();
  }

  resumed(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
  }

  stop(): void {
    this.resumed();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }
}

const smFailed = (condition: string, h?: number): string =>
  `<failed xmlns='${NS.sm}'${h === undefined ? '' : ` h='${h}'`}><${condition} xmlns='${NS.stanzas}'/></failed>`;

/** Marks a resent stanza with when it was first meant to arrive (XEP-0203), unless it says so already. */
function withDelay(stanza: Element, at: number, host: string): Element {
  if (stanza.name === 'iq' || stanza.getChild('delay', NS.delay)) return stanza;
  const copy = new Element(stanza.name, stanza.ns, { ...stanza.attrs }, [...stanza.children]);
  copy.append(x('delay', { xmlns: NS.delay, from: host, stamp: new Date(at).toISOString() }));
  return copy;
}


export function smOf(session: ClientSession): SmState | null {
  return session.tracker instanceof SmState ? session.tracker : null;
}

function install(ctx: ServerContext): void {
  const byId = new Map<string, SmState>();
  const maxResume = ctx.config.sm.resume_timeout;

  ctx.streamFeatures.add('post-auth', () => x('sm', { xmlns: NS.sm }));

  const enable = (session: ClientSession, el: Element): void => {
    if (session.state !== 'bound' || session.tracker) {
      session.writeRaw(smFailed('unexpected-request'));
      return;
    }
    const resumable = el.attrs.resume === 'true' || el.attrs.resume === '1';
    const sm = new SmState(ctx, session, resumable);
    session.tracker = sm;
    if (resumable) byId.set(sm.id, sm);
    session.writeRaw(
      resumable ? `<enabled xmlns='${NS.sm}' id='${sm.id}' resume='true' max='${maxResume}'/>` : `<enabled xmlns='${NS.sm}'/>`,
    );
  };

  const resume = (fresh: ClientSession, el: Element): void => {
    if (!fresh.authenticated || fresh.state !== 'negotiating') {
      fresh.writeRaw(smFailed('unexpected-request'));
      return;
    }
    const previd = el.attrs.previd ?? '';
    const h = Number(el.attrs.h);
    const sm = byId.get(previd);
    if (!sm || sm.session.ended || sm.session.username !== fresh.username || sm.session.host !== fresh.host) {
      const t = ctx.store.smTombstones.get(previd);
      const mine = t && t.username === fresh.username && t.host === fresh.host;
      fresh.writeRaw(smFailed('item-not-found', mine ? t.h : undefined));
      return;
    }
    if (!Number.isInteger(h) || h < 0 || h >= WRAP || !sm.ack(h)) {
      fresh.writeRaw(smFailed('undefined-condition'));
      sm.session.end();
      return;
    }
    const session = sm.session;
    session.takeOver(fresh);
    sm.resumed();
    session.writeRaw(`<resumed xmlns='${NS.sm}' previd='${escapeAttr(previd)}' h='${sm.inbound}'/>`);
    for (const q of sm.queue) session.writeStanza(withDelay(q.stanza, q.at, session.host));
    sm.requestAck();
    ctx.bus.fire('sm/resumed', { session });
  };

  ctx.streamFeatures.handleNonza(NS.sm, (session, el) => {
    const sm = smOf(session);
    switch (el.name) {
      case 'enable':
        return enable(session, el);
      case 'resume':
        return resume(session, el);
      case 'r':
        if (!sm) return session.streamError('unsupported-stanza-type', 'stream management is not enabled');
        return session.writeRaw(`<a xmlns='${NS.sm}' h='${sm.inbound}'/>`);
      case 'a': {
        if (!sm) return session.streamError('unsupported-stanza-type', 'stream management is not enabled');
        const h = Number(el.attrs.h);
        if (!Number.isInteger(h) || h < 0 || h >= WRAP || !sm.ack(h)) {
          session.writeRaw(`<handled-count-too-high xmlns='${NS.sm}' h='${escapeAttr(el.attrs.h ?? '')}' send-count='${sm.outbound}'/>`);
          return session.streamError('undefined-condition', 'acknowledged more stanzas than were sent');
        }
        return;
      }
      default:
        return session.streamError('unsupported-stanza-type');
    }
  });

  // A resumable session that loses its connection hibernates instead of ending.
  ctx.bus.on('session/disconnected', ({ session, reason }) => {
    const sm = smOf(session);
    if (!sm || !sm.resumable || reason !== 'connection-lost') return undefined;
    sm.hibernate();
    ctx.log.info({ session: session.id, unacked: sm.queue.length, timeout: sm.resumeTimeout }, 'hibernating');
    ctx.bus.fire('sm/hibernated', { session, stanzas: sm.queue.map((q) => q.stanza) });
    return true;
  });

  // The session is over: remember its h, and give what it never acknowledged a second chance.
  ctx.bus.on('session/closed', ({ session }) => {
    const sm = smOf(session);
    if (!sm) return;
    sm.stop();
    byId.delete(sm.id);
    if (sm.resumable) ctx.store.smTombstones.put(sm.id, { host: session.host, username: session.username, h: sm.inbound });
    const unacked = sm.queue.splice(0);
    for (const { stanza } of unacked) disposeUnacked(ctx, session, stanza);
  });

  // Before streams close at shutdown, ask for acknowledgements so fewer stanzas are sent twice.
  ctx.shutdownHooks.push(async () => {
    const live = [...byId.values()].filter((sm) => sm.session.connected && sm.queue.length > 0);
    for (const sm of live) sm.requestAck();
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline && live.some((sm) => sm.queue.length > 0 && sm.session.connected)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  chore(ctx, 'stream management tombstones', 3600_000, () => ctx.store.smTombstones.prune(Date.now() - TOMBSTONE_LIFETIME_MS));
}

/**
 * A stanza the client never acknowledged, once its session has ended: a
 * message is redelivered or stored (unless it is in the archive and the
 * client reads its archive), an IQ request is answered with an error, the
 * rest (presence, results) is dropped as stale.
 */
function disposeUnacked(ctx: ServerContext, session: ClientSession, stanza: Element): void {
  if (stanza.name === 'iq') {
    if (stanza.attrs.type === 'get' || stanza.attrs.type === 'set') ctx.router.bounce(stanza, 'cancel', 'recipient-unavailable');
    return;
  }
  if (stanza.name !== 'message') return;
  const type = stanza.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return;
  const archived = stanza.getChildren('stanza-id', NS.sid).some((s) => s.attrs.by === session.bare);
  if (archived && session.mamQueried) return;
  ctx.bus.fire('message/undelivered', { stanza, host: session.host, username: session.username });
}

export const streamManagementModule: HeraldModule = { name: 'stream-management', install };
