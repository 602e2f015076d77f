import type { ServerContext, HeraldModule } from '../core/context.js';
import { iqResult, StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import { newStanzaId } from '../core/iq-tracker.js';
import { parseJid } from '../jid.js';
import type { RosterItem } from '../storage/types.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { sendSubscriptionCancellation } from './presence.js';

export function itemElement(item: RosterItem | { jid: string; subscription: 'remove' }): Element {
  if (item.subscription === 'remove') return x('item', { jid: item.jid, subscription: 'remove' });
  const i = item as RosterItem;
  return x(
    'item',
    { jid: i.jid, name: i.name ?? undefined, subscription: i.subscription, ask: i.ask ? 'subscribe' : undefined },
    i.groups.map((g) => x('group', null, g)),
  );
}

/** Sends a roster push (RFC 6121 §2.1.6) to every resource of the user that asked for the roster. */
export function rosterPush(ctx: ServerContext, bare: string, item: RosterItem | { jid: string; subscription: 'remove' }): void {
  for (const s of ctx.sessions.forUser(bare)) {
    if (!s.interested) continue;
    s.send(x('iq', { type: 'set', id: newStanzaId(), to: s.jid.toString() }, x('query', { xmlns: NS.roster }, itemElement(item))));
  }
}

function onGet(ctx: ServerContext, e: StanzaEvent): true {
  const session = e.origin;
  if (!session) throw new StanzaError('cancel', 'service-unavailable');
  const items = ctx.store.roster.list(session.host, session.username);
  session.interested = true;
  ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.roster }, items.map(itemElement))));
  return true;
}

function onSet(ctx: ServerContext, e: StanzaEvent): true {
  const session = e.origin;
  if (!session) throw new StanzaError('cancel', 'service-unavailable');
  const query = e.stanza.firstElement() as Element;
  const items = query.getChildren('item');
  if (items.length !== 1) throw new StanzaError('modify', 'bad-request', 'a roster set carries exactly one item');
  const el = items[0] as Element;
  const jid = parseJid(el.attrs.jid ?? '');
  if (!jid || jid.resource !== '') throw new StanzaError('modify', 'bad-request', 'the item needs a bare JID');
  const contact = jid.toString();
  if (contact === session.bare) throw new StanzaError('modify', 'not-allowed', 'you cannot add yourself');
  const { host, username } = session;
  const existing = ctx.store.roster.get(host, username, contact);
  if (el.attrs.subscription === 'remove') {
    if (!existing) throw new StanzaError('cancel', 'item-not-found');
    ctx.store.transaction(() => {
      sendSubscriptionCancellation(ctx, session.bare, existing);
      ctx.store.roster.remove(host, username, contact);
      ctx.store.roster.removePending(host, username, contact);
    });
    ctx.router.reply(e, iqResult(e.stanza));
    rosterPush(ctx, session.bare, { jid: contact, subscription: 'remove' });
    return true;
  }
  const groups = [...new Set(el.getChildren('group').map((g) => g.text()))];
  if (groups.some((g) => g === '' || g.length > 1023)) throw new StanzaError('modify', 'not-acceptable', 'group names must be 1 to 1023 characters');
  const name = el.attrs.name && el.attrs.name.length <= 1023 ? el.attrs.name : null;
  if (!existing && ctx.store.roster.count(host, username) >= ctx.config.limits.max_roster_items) {
    throw new StanzaError('cancel', 'not-allowed', `the roster is limited to ${ctx.config.limits.max_roster_items} items`);
  }
  // The subscription attribute of a client's set is ignored (RFC 6121 §2.1.5): only presence changes it.
  const item: RosterItem = { jid: contact, name, groups, subscription: existing?.subscription ?? 'none', ask: existing?.ask ?? false };
  ctx.store.roster.put(host, username, item);
  ctx.router.reply(e, iqResult(e.stanza));
  rosterPush(ctx, session.bare, item);
  return true;
}

export const rosterModule: HeraldModule = {
  name: 'roster',
  install(ctx) {
    ctx.bus.on(`iq-get/self/${NS.roster}:query`, (e) => onGet(ctx, e));
    ctx.bus.on(`iq-set/self/${NS.roster}:query`, (e) => onSet(ctx, e));
  },
};
