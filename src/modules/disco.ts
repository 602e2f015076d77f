import type { HeraldModule, ServerContext } from '../core/context.js';
import { iqResult, StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import type { Identity } from '../core/disco-registry.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

/** Service discovery (XEP-0030) for the server and for accounts, from the shared registry. */
function infoQuery(node: string | undefined, identities: Identity[], features: Set<string>, forms: (() => Element)[]): Element {
  return x(
    'query',
    { xmlns: NS.discoInfo, node },
    identities.map((i) => x('identity', { category: i.category, type: i.type, name: i.name })),
    [...features].sort().map((f) => x('feature', { var: f })),
    forms.map((f) => f()),
  );
}

function hostInfo(ctx: ServerContext, e: StanzaEvent): true {
  const node = (e.stanza.firstElement() as Element).attrs.node;
  if (node !== undefined) throw new StanzaError('cancel', 'item-not-found');
  const r = ctx.disco.host;
  ctx.router.reply(e, iqResult(e.stanza, infoQuery(undefined, r.identities, r.features, r.forms)));
  return true;
}

/** Account info is for the owner and for contacts with a presence subscription (as Prosody does). */
function accountInfo(ctx: ServerContext, e: StanzaEvent, self: boolean): true {
  const node = (e.stanza.firstElement() as Element).attrs.node;
  if (node !== undefined) throw new StanzaError('cancel', 'item-not-found');
  if (!ctx.store.accounts.exists(e.to.domain, e.to.local)) throw new StanzaError('cancel', 'service-unavailable');
  if (!self) {
    const item = ctx.store.roster.get(e.to.domain, e.to.local, e.from.bareString);
    if (!item || (item.subscription !== 'from' && item.subscription !== 'both')) throw new StanzaError('cancel', 'service-unavailable');
  }
  const r = ctx.disco.account;
  ctx.router.reply(e, iqResult(e.stanza, infoQuery(undefined, r.identities, r.features, r.forms)));
  return true;
}

function hostItems(ctx: ServerContext, e: StanzaEvent): true {
  const node = (e.stanza.firstElement() as Element).attrs.node;
  const items = node === undefined ? [...ctx.disco.host.items].map(([jid, name]) => x('item', { jid, name })) : [];
  ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.discoItems, node }, items)));
  return true;
}

function emptyItems(ctx: ServerContext, e: StanzaEvent): true {
  const node = (e.stanza.firstElement() as Element).attrs.node;
  ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.discoItems, node })));
  return true;
}

export const discoModule: HeraldModule = {
  name: 'disco',
  install(ctx) {
    ctx.disco.host.identities.push({ category: 'server', type: 'im', name: 'Herald' });
    ctx.disco.host.features.add(NS.discoInfo).add(NS.discoItems);
    ctx.disco.account.identities.push({ category: 'account', type: 'registered' });
    ctx.disco.account.features.add(NS.discoInfo).add(NS.discoItems);
    ctx.bus.on(`iq-get/host/${NS.discoInfo}:query`, (e) => hostInfo(ctx, e));
    ctx.bus.on(`iq-get/self/${NS.discoInfo}:query`, (e) => accountInfo(ctx, e, true));
    ctx.bus.on(`iq-get/bare/${NS.discoInfo}:query`, (e) => accountInfo(ctx, e, false));
    // Low priority so that modules publishing items (components, PEP) answer first.
    ctx.bus.on(`iq-get/host/${NS.discoItems}:query`, (e) => hostItems(ctx, e), -100);
    ctx.bus.on(`iq-get/self/${NS.discoItems}:query`, (e) => emptyItems(ctx, e), -100);
    ctx.bus.on(`iq-get/bare/${NS.discoItems}:query`, (e) => emptyItems(ctx, e), -100);
  },
};
