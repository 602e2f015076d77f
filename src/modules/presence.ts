import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import type { StanzaEvent } from '../core/events.js';
import { parseJid } from '../jid.js';
import type { RosterItem, Subscription } from '../storage/types.js';
import { Element, x } from '../xml/element.js';
import { parseElement } from '../xml/parse-element.js';
import { rosterPush } from './roster.js';

/**
 * Presence and subscriptions (RFC 6121 §3–4): broadcast, probes, directed
 * presence, and the subscription state machine of Appendix A for both the
 * outbound side (a local user sends) and the inbound side (a local user
 * receives). Roster changes are pushed to interested resources.
 */

const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

/** The same presence with other addresses; children are shared, never mutated. */
function readdress(stanza: Element, from: string, to: string | undefined): Element {
  const attrs: Record<string, string> = { ...stanza.attrs, from };
  if (to === undefined) delete attrs.to;
  else attrs.to = to;
  return new Element(stanza.name, stanza.ns, attrs, stanza.children);
}

/** Routes a presence unless its destination is unreachable; broadcasts must not bounce per contact. */
function sendQuietly(ctx: ServerContext, stanza: Element): void {
  const to = parseJid(stanza.attrs.to ?? '');
  if (!to) return;
  if (ctx.router.isLocalHost(to.domain) || ctx.router.hasRemoteRoute(to.domain)) ctx.router.route(stanza, null);
}

const hasFrom = (s: Subscription): boolean => s === 'from' || s === 'both';
const hasTo = (s: Subscription): boolean => s === 'to' || s === 'both';

function parsePriority(stanza: Element): number {
  const p = Number.parseInt(stanza.getChildText('priority') ?? '0', 10);
  return Number.isFinite(p) ? Math.max(-128, Math.min(127, p)) : 0;
}

function split(bare: string): [string, string] {
  const at = bare.indexOf('@');
  return [bare.slice(at + 1), bare.slice(0, at)];
}

function getItem(ctx: ServerContext, bare: string, contact: string): RosterItem | undefined {
  const [host, user] = split(bare);
  return ctx.store.roster.get(host, user, contact);
}

function putItem(ctx: ServerContext, bare: string, item: RosterItem): void {
  const [host, user] = split(bare);
  ctx.store.roster.put(host, user, item);
  rosterPush(ctx, bare, item);
}

function newItem(jid: string): RosterItem {
  return { jid, name: null, subscription: 'none', ask: false, groups: [] };
}

// ---- broadcast ----------------------------------------------------------------

function broadcastAvailable(ctx: ServerContext, session: ClientSession, stanza: Element): void {
  const first = !session.available;
  const full = session.jid.toString();
  const presence = readdress(stanza, full, undefined);
  session.available = true;
  session.priority = parsePriority(stanza);
  session.presence = presence;
  const roster = ctx.store.roster.list(session.host, session.username);
  for (const item of roster) if (hasFrom(item.subscription)) sendQuietly(ctx, readdress(presence, full, item.jid));
  for (const s of ctx.sessions.available(session.bare)) s.send(readdress(presence, full, s.jid.toString()));
  if (!first) return;
  // A new resource learns who is online: its contacts and its own other resources.
  for (const s of ctx.sessions.available(session.bare)) {
    if (s !== session && s.presence) session.send(readdress(s.presence, s.jid.toString(), full));
  }
  for (const item of roster) {
    if (!hasTo(item.subscription)) continue;
    const contact = parseJid(item.jid);
    if (!contact) continue;
    if (ctx.router.isLocalHost(contact.domain)) {
      for (const s of ctx.sessions.available(item.jid)) if (s.presence) session.send(readdress(s.presence, s.jid.toString(), full));
    } else {
      sendQuietly(ctx, x('presence', { type: 'probe', from: session.bare, to: item.jid }));
    }
  }
  for (const p of ctx.store.roster.listPending(session.host, session.username)) {
    session.send(readdress(parseElement(p.stanza), p.contact, session.bare));
  }
  ctx.bus.fire('presence/initial', { session });
}

/** Sends unavailable presence for a resource to everyone who saw it available. */
function broadcastUnavailable(ctx: ServerContext, session: ClientSession, stanza: Element | null): void {
  const full = session.jid.toString();
  const presence = stanza ? readdress(stanza, full, undefined) : x('presence', { type: 'unavailable', from: full });
  const wasAvailable = session.available;
  session.available = false;
  session.presence = null;
  const told = new Set<string>();
  if (wasAvailable) {
    for (const item of ctx.store.roster.list(session.host, session.username)) {
      if (!hasFrom(item.subscription)) continue;
      told.add(item.jid);
      sendQuietly(ctx, readdress(presence, full, item.jid));
    }
    for (const s of ctx.sessions.available(session.bare)) if (s !== session) s.send(readdress(presence, full, s.jid.toString()));
  }
  for (const target of session.directed) {
    const bare = parseJid(target)?.bareString;
    if (bare !== undefined && !told.has(bare)) sendQuietly(ctx, readdress(presence, full, target));
  }
  session.directed.clear();
}

// ---- outbound (a local user sends) -----------------------------------------------

function outbound(ctx: ServerContext, e: StanzaEvent): true {
  const session = e.origin as ClientSession;
  const { stanza } = e;
  const type = stanza.attrs.type;
  const toAttr = stanza.attrs.to;
  if (toAttr === undefined || toAttr === '') {
    if (type === undefined) broadcastAvailable(ctx, session, stanza);
    else if (type === 'unavailable') broadcastUnavailable(ctx, session, stanza);
    return true;
  }
  if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
    outboundSubscription(ctx, session.bare, e.to.bareString, type, stanza);
    return true;
  }
  if (type === 'probe') return true; // probes are the server's business
  const target = e.to.toString();
  if (type === undefined) {
    const item = getItem(ctx, session.bare, e.to.bareString);
    if (!item || !hasFrom(item.subscription)) session.directed.add(target);
  } else if (type === 'unavailable') {
    session.directed.delete(target);
  }
  ctx.router.route(readdress(stanza, session.jid.toString(), target), null);
  return true;
}

function outboundSubscription(ctx: ServerContext, user: string, contact: string, type: string, stanza: Element): void {
  const item = getItem(ctx, user, contact);
  const out = readdress(stanza, user, contact);
  switch (type) {
    case 'subscribe': {
      const i = item ?? newItem(contact);
      if (!hasTo(i.subscription) && !i.ask) putItem(ctx, user, { ...i, ask: true });
      break;
    }
    case 'subscribed': {
      const [host, name] = split(user);
      const pending = ctx.store.roster.removePending(host, name, contact);
      // Without a pending request there is nothing to approve (no pre-approval support).
      if (!pending) return;
      const i = item ?? newItem(contact);
      if (!hasFrom(i.subscription)) putItem(ctx, user, { ...i, subscription: i.subscription === 'to' ? 'both' : 'from' });
      ctx.router.route(out, null);
      for (const s of ctx.sessions.available(user)) if (s.presence) sendQuietly(ctx, readdress(s.presence, s.jid.toString(), contact));
      return;
    }
    case 'unsubscribe':
      if (item && (hasTo(item.subscription) || item.ask)) {
        putItem(ctx, user, { ...item, ask: false, subscription: item.subscription === 'both' ? 'from' : 'none' });
      }
      break;
    case 'unsubscribed': {
      const [host, name] = split(user);
      ctx.store.roster.removePending(host, name, contact);
      if (item && hasFrom(item.subscription)) {
        putItem(ctx, user, { ...item, subscription: item.subscription === 'both' ? 'to' : 'none' });
      }
      ctx.router.route(out, null);
      sendUnavailableFrom(ctx, user, contact);
      return;
    }
  }
  ctx.router.route(out, null);
}

function sendUnavailableFrom(ctx: ServerContext, user: string, contact: string): void {
  for (const s of ctx.sessions.available(user)) sendQuietly(ctx, x('presence', { type: 'unavailable', from: s.jid.toString(), to: contact }));
}

/**
 * When an item is removed from a roster (RFC 6121 §2.5.2): the contact learns
 * the subscriptions in both directions are gone.
 */
export function sendSubscriptionCancellation(ctx: ServerContext, user: string, item: RosterItem): void {
  if (hasTo(item.subscription) || item.ask) sendQuietly(ctx, x('presence', { type: 'unsubscribe', from: user, to: item.jid }));
  if (hasFrom(item.subscription)) {
    sendQuietly(ctx, x('presence', { type: 'unsubscribed', from: user, to: item.jid }));
    sendUnavailableFrom(ctx, user, item.jid);
  }
}

// ---- inbound (a local user receives) ---------------------------------------------

function deliverToInterested(ctx: ServerContext, user: string, stanza: Element): void {
  for (const s of ctx.sessions.available(user)) if (s.interested) s.send(stanza);
}

function inboundBare(ctx: ServerContext, e: StanzaEvent): true {
  const { stanza } = e;
  const user = e.to.bareString;
  if (!ctx.store.accounts.exists(e.to.domain, e.to.local)) return true; // RFC 6121 §8.5.1: silently ignored
  const type = stanza.attrs.type;
  const contact = e.from.bareString;
  if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
    inboundSubscription(ctx, user, contact, type, readdress(stanza, contact, user));
    return true;
  }
  if (type === 'probe') {
    const item = getItem(ctx, user, contact);
    if (item && hasFrom(item.subscription)) {
      for (const s of ctx.sessions.available(user)) if (s.presence) sendQuietly(ctx, readdress(s.presence, s.jid.toString(), e.from.toString()));
    }
    return true;
  }
  for (const s of ctx.sessions.available(user)) s.send(stanza);
  return true;
}

function inboundSubscription(ctx: ServerContext, user: string, contact: string, type: string, stanza: Element): void {
  const item = getItem(ctx, user, contact);
  const [host, name] = split(user);
  switch (type) {
    case 'subscribe':
      if (item && hasFrom(item.subscription)) {
        // Already approved: answer for the user (RFC 6121 §3.1.3).
        sendQuietly(ctx, x('presence', { type: 'subscribed', from: user, to: contact }));
        return;
      }
      ctx.store.roster.addPending(host, name, contact, stanza.toString());
      deliverToInterested(ctx, user, stanza);
      return;
    case 'subscribed':
      if (!item || !item.ask) return; // nothing was asked: ignore (RFC 6121 §3.1.6)
      putItem(ctx, user, { ...item, ask: false, subscription: item.subscription === 'from' ? 'both' : 'to' });
      deliverToInterested(ctx, user, stanza);
      return;
    case 'unsubscribe':
      ctx.store.roster.removePending(host, name, contact);
      if (item && hasFrom(item.subscription)) {
        putItem(ctx, user, { ...item, subscription: item.subscription === 'both' ? 'to' : 'none' });
        deliverToInterested(ctx, user, stanza);
        sendUnavailableFrom(ctx, user, contact);
      }
      return;
    case 'unsubscribed':
      if (item && (hasTo(item.subscription) || item.ask)) {
        putItem(ctx, user, { ...item, ask: false, subscription: item.subscription === 'both' ? 'from' : 'none' });
        deliverToInterested(ctx, user, stanza);
      }
      return;
  }
}

function inboundFull(ctx: ServerContext, e: StanzaEvent): true {
  const type = e.stanza.attrs.type;
  if (type !== undefined && (SUBSCRIPTION_TYPES.has(type) || type === 'probe')) return inboundBare(ctx, { ...e, to: e.to.bare() });
  ctx.sessions.get(e.to)?.send(e.stanza);
  return true;
}

export const presenceModule: HeraldModule = {
  name: 'presence',
  install(ctx) {
    ctx.bus.on('presence/outbound', (e) => outbound(ctx, e));
    ctx.bus.on('presence/bare', (e) => inboundBare(ctx, e));
    ctx.bus.on('presence/full', (e) => inboundFull(ctx, e));
    ctx.bus.on('presence/host', () => true);
    ctx.bus.on('session/closed', ({ session }) => {
      if (session.available || session.directed.size > 0) broadcastUnavailable(ctx, session, null);
    });
  },
};
