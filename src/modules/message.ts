import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import type { StanzaEvent, UndeliveredEvent } from '../core/events.js';

/**
 * Default message delivery for local accounts (RFC 6121 §8.5). Handlers at
 * priority 0 and above see a message first (archive, carbons, push); these
 * defaults run last.
 */
const DEFAULT_PRIORITY = -100;

/** The resources a message to the bare JID goes to: all available ones of the highest non-negative priority. */
export function topResources(ctx: ServerContext, bare: string): ClientSession[] {
  let top: ClientSession[] = [];
  let max = 0;
  for (const s of ctx.sessions.available(bare)) {
    if (s.priority < 0) continue;
    if (s.priority > max) {
      max = s.priority;
      top = [s];
    } else if (s.priority === max) {
      top.push(s);
    }
  }
  return top;
}

function toBare(ctx: ServerContext, e: StanzaEvent): true {
  const { stanza, to } = e;
  const type = stanza.attrs.type ?? 'normal';
  if (!ctx.store.accounts.exists(to.domain, to.local)) {
    ctx.router.bounce(stanza, 'cancel', 'service-unavailable');
    return true;
  }
  const bare = to.bareString;
  switch (type) {
    case 'error':
      return true;
    case 'groupchat':
      ctx.router.bounce(stanza, 'cancel', 'service-unavailable');
      return true;
    case 'headline':
      for (const s of ctx.sessions.available(bare)) if (s.priority >= 0) s.send(stanza);
      return true;
    default: {
      const targets = topResources(ctx, bare);
      if (targets.length > 0) {
        for (const s of targets) s.send(stanza);
        return true;
      }
      const handled = ctx.bus.fire('message/offline/handle', { stanza, host: to.domain, username: to.local, origin: e.origin });
      if (handled === undefined) ctx.router.bounce(stanza, 'cancel', 'service-unavailable');
      return true;
    }
  }
}

function toFull(ctx: ServerContext, e: StanzaEvent): true {
  const session = ctx.sessions.get(e.to);
  if (session) {
    session.send(e.stanza);
    return true;
  }
  const type = e.stanza.attrs.type ?? 'normal';
  // RFC 6121 §8.5.3.2.1: chat and normal fall back to the bare JID; others have nowhere to go.
  if (type === 'chat' || type === 'normal') return toBare(ctx, { ...e, to: e.to.bare() });
  if (type === 'groupchat') ctx.router.bounce(e.stanza, 'cancel', 'service-unavailable');
  return true;
}

/** A message a session took but never acknowledged: another resource gets it, or offline storage. */
function redeliver(ctx: ServerContext, e: UndeliveredEvent): void {
  const targets = topResources(ctx, `${e.username}@${e.host}`);
  if (targets.length > 0) {
    for (const s of targets) s.send(e.stanza);
    return;
  }
  ctx.bus.fire('message/offline/handle', { stanza: e.stanza, host: e.host, username: e.username, origin: null });
}

export const messageModule: HeraldModule = {
  name: 'message',
  install(ctx) {
    ctx.bus.on('message/bare', (e) => toBare(ctx, e), DEFAULT_PRIORITY);
    ctx.bus.on('message/full', (e) => toFull(ctx, e), DEFAULT_PRIORITY);
    ctx.bus.on('message/undelivered', (e) => redeliver(ctx, e));
  },
};
