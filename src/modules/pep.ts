import { randomBytes } from 'node:crypto';
import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import { iqResult, StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import type { AccessModel, PepItem, PepNode } from '../storage/types.js';
import { buildForm, formValue, parseForm, type FormValues } from '../xml/data-form.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { parseElement } from '../xml/parse-element.js';

/**
 * Personal Eventing (XEP-0163) on every account's bare JID: what real clients
 * need for OMEMO device lists and bundles, avatars and nicknames. Nodes are
 * created on first publish, configured with publish-options (access model
 * open/presence/whitelist, max items), items persist in storage, and
 * notifications go to the owner's and contacts' resources whose entity
 * capabilities (XEP-0115) ask for `<node>+notify`.
 */

const ACCESS_MODELS: ReadonlySet<string> = new Set(['open', 'presence', 'whitelist']);
const preconditionNotMet = (text: string): StanzaError =>
  new StanzaError('cancel', 'conflict', text, x('precondition-not-met', { xmlns: NS.pubsubErrors }));

interface Owner {
  host: string;
  user: string;
  bare: string;
}

const ownerOf = (bare: string): Owner => {
  const at = bare.indexOf('@');
  return { host: bare.slice(at + 1), user: bare.slice(0, at), bare };
};

function install(ctx: ServerContext): void {
  const interests = new WeakMap<ClientSession, ReadonlySet<string>>();
  const { pep: store } = ctx.store;

  ctx.disco.account.identities.push({ category: 'pubsub', type: 'pep' });
  for (const f of ['publish', 'publish-options', 'auto-create', 'persistent-items', 'retrieve-items', 'last-published', 'access-open', 'access-presence', 'access-whitelist', 'delete-items', 'retract-items', 'delete-nodes', 'config-node']) {
    ctx.disco.account.features.add(`${NS.pubsub}#${f}`);
  }

  const canAccess = (owner: Owner, node: PepNode, requester: string): boolean => {
    if (requester === owner.bare || node.accessModel === 'open') return true;
    if (node.accessModel === 'whitelist') return false;
    const item = ctx.store.roster.get(owner.host, owner.user, requester);
    return item !== undefined && (item.subscription === 'from' || item.subscription === 'both');
  };

  const eventMessage = (owner: Owner, to: ClientSession, items: Element): Element =>
    x('message', { from: owner.bare, to: to.jid.toString(), type: 'headline', id: randomBytes(6).toString('base64url') }, x('event', { xmlns: NS.pubsubEvent }, items));

  const itemElement = (item: PepItem): Element => x('item', { id: item.id }, item.payload === '' ? null : parseElement(item.payload));

  /** Resources that hear about the owner's node: the owner's own and subscribed contacts', when their caps ask for it. */
  const notify = (owner: Owner, node: PepNode, items: () => Element): void => {
    const wants = (s: ClientSession): boolean => interests.get(s)?.has(`${node.node}+notify`) ?? false;
    const targets = ctx.sessions.available(owner.bare).filter(wants);
    for (const contact of ctx.store.roster.list(owner.host, owner.user)) {
      if (contact.subscription !== 'from' && contact.subscription !== 'both') continue;
      if (!canAccess(owner, node, contact.jid)) continue;
      for (const s of ctx.sessions.available(contact.jid)) if (wants(s)) targets.push(s);
    }
    for (const s of targets) s.send(eventMessage(owner, s, items()));
  };

  /** On a resource's (new) caps: the newest item of each node it wants, from itself and the contacts it sees. */
  const sendLastItems = (session: ClientSession, features: ReadonlySet<string>): void => {
    const owners = [ownerOf(session.bare)];
    for (const item of ctx.store.roster.list(session.host, session.username)) {
      if ((item.subscription === 'to' || item.subscription === 'both') && ctx.router.isLocalHost(item.jid.slice(item.jid.indexOf('@') + 1))) {
        owners.push(ownerOf(item.jid));
      }
    }
    for (const owner of owners) {
      for (const node of store.listNodes(owner.host, owner.user)) {
        if (!features.has(`${node.node}+notify`) || !canAccess(owner, node, session.bare)) continue;
        const [last] = store.items(owner.host, owner.user, node.node, 1);
        if (last) session.send(eventMessage(owner, session, x('items', { node: node.node }, itemElement(last))));
      }
    }
  };

  ctx.bus.on('caps/resolved', ({ session, features }) => {
    interests.set(session, features);
    sendLastItems(session, features);
  });

  const configFromForm = (form: FormValues, base: PepNode): PepNode => {
    const out = { ...base };
    const access = formValue(form, 'pubsub#access_model');
    if (access !== undefined) {
      if (!ACCESS_MODELS.has(access)) throw preconditionNotMet(`unsupported access model ${access}`);
      out.accessModel = access as AccessModel;
    }
    const max = formValue(form, 'pubsub#max_items');
    if (max !== undefined) {
      const n = max === 'max' ? ctx.config.pep.max_items : Number.parseInt(max, 10);
      if (!Number.isInteger(n) || n < 1) throw preconditionNotMet(`invalid max_items ${max}`);
      out.maxItems = Math.min(n, ctx.config.pep.max_items);
    }
    return out;
  };

  const nodeName = (el: Element): string => {
    const node = el.attrs.node;
    if (node === undefined || node === '') throw new StanzaError('modify', 'bad-request', 'a node is required', x('nodeid-required', { xmlns: NS.pubsubErrors }));
    return node;
  };

  const publish = (e: StanzaEvent, session: ClientSession, pubsub: Element, el: Element): void => {
    const owner = ownerOf(session.bare);
    const name = nodeName(el);
    const options = parseForm(pubsub.getChild('publish-options')?.getChild('x', NS.dataForms));
    let node = store.getNode(owner.host, owner.user, name);
    if (node) {
      // An existing node must already be what the publisher asks for (XEP-0060 §7.1.5).
      const wanted = configFromForm(options, node);
      if (wanted.accessModel !== node.accessModel) throw preconditionNotMet(`the node's access model is ${node.accessModel}`);
      if (wanted.maxItems !== node.maxItems) store.putNode(owner.host, owner.user, (node = wanted));
    } else {
      if (store.listNodes(owner.host, owner.user).length >= ctx.config.pep.max_nodes) {
        throw new StanzaError('wait', 'resource-constraint', `at most ${ctx.config.pep.max_nodes} nodes per account`);
      }
      node = configFromForm(options, { node: name, accessModel: 'presence', maxItems: 1 });
      store.putNode(owner.host, owner.user, node);
    }
    const itemEl = el.getChild('item');
    const payloads = itemEl?.elements() ?? [];
    if (payloads.length > 1) throw new StanzaError('modify', 'bad-request', 'one payload per item', x('invalid-payload', { xmlns: NS.pubsubErrors }));
    const id = itemEl?.attrs.id || randomBytes(9).toString('base64url');
    const item: PepItem = { id, payload: payloads[0]?.toString('') ?? '', publishedAt: Date.now() };
    store.publish(owner.host, owner.user, name, item, node.maxItems);
    ctx.router.reply(e, iqResult(e.stanza, x('pubsub', { xmlns: NS.pubsub }, x('publish', { node: name }, x('item', { id })))));
    const published = node;
    notify(owner, published, () => x('items', { node: name }, itemElement(item)));
  };

  const retract = (e: StanzaEvent, session: ClientSession, el: Element): void => {
    const owner = ownerOf(session.bare);
    const name = nodeName(el);
    const node = store.getNode(owner.host, owner.user, name);
    if (!node) throw new StanzaError('cancel', 'item-not-found');
    const ids = el.getChildren('item').map((i) => i.attrs.id ?? '');
    if (ids.length === 0 || ids.includes('')) throw new StanzaError('modify', 'bad-request', 'item ids are required', x('item-required', { xmlns: NS.pubsubErrors }));
    for (const id of ids) if (!store.retract(owner.host, owner.user, name, id)) throw new StanzaError('cancel', 'item-not-found');
    ctx.router.reply(e, iqResult(e.stanza));
    if (el.attrs.notify === 'true' || el.attrs.notify === '1') notify(owner, node, () => x('items', { node: name }, ids.map((id) => x('retract', { id }))));
  };

  ctx.bus.on(`iq-set/self/${NS.pubsub}:pubsub`, (e) => {
    const session = e.origin;
    if (!session) throw new StanzaError('cancel', 'service-unavailable');
    const pubsub = e.stanza.firstElement() as Element;
    const action = pubsub.elements().find((c) => c.name !== 'publish-options');
    if (action?.name === 'publish') publish(e, session, pubsub, action);
    else if (action?.name === 'retract') retract(e, session, action);
    else if (action?.name === 'create') {
      const owner = ownerOf(session.bare);
      const name = nodeName(action);
      if (store.getNode(owner.host, owner.user, name)) throw new StanzaError('cancel', 'conflict', 'the node exists');
      const conf = configFromForm(parseForm(pubsub.getChild('configure')?.getChild('x', NS.dataForms)), { node: name, accessModel: 'presence', maxItems: 1 });
      store.putNode(owner.host, owner.user, conf);
      ctx.router.reply(e, iqResult(e.stanza));
    } else throw new StanzaError('cancel', 'feature-not-implemented', `pubsub ${action?.name ?? '(none)'} is not supported on PEP`);
    return true;
  });

  const items = (e: StanzaEvent): true => {
    const owner = ownerOf(e.to.bareString);
    const el = (e.stanza.firstElement() as Element).getChild('items');
    if (!el) throw new StanzaError('cancel', 'feature-not-implemented');
    const name = nodeName(el);
    const node = store.getNode(owner.host, owner.user, name);
    if (!node) throw new StanzaError('cancel', 'item-not-found');
    if (!canAccess(owner, node, e.from.bareString)) {
      throw new StanzaError('auth', 'not-authorized', undefined, x('presence-subscription-required', { xmlns: NS.pubsubErrors }));
    }
    const wanted = el.getChildren('item').map((i) => i.attrs.id ?? '');
    const maxAttr = Number.parseInt(el.attrs.max_items ?? '', 10);
    const found =
      wanted.length > 0
        ? wanted.map((id) => store.item(owner.host, owner.user, name, id)).filter((i): i is PepItem => i !== undefined)
        : store.items(owner.host, owner.user, name, Number.isInteger(maxAttr) && maxAttr > 0 ? maxAttr : node.maxItems).reverse();
    ctx.router.reply(e, iqResult(e.stanza, x('pubsub', { xmlns: NS.pubsub }, x('items', { node: name }, found.map(itemElement)))));
    return true;
  };
  ctx.bus.on(`iq-get/self/${NS.pubsub}:pubsub`, items);
  ctx.bus.on(`iq-get/bare/${NS.pubsub}:pubsub`, (e) => {
    if (!ctx.store.accounts.exists(e.to.domain, e.to.local)) throw new StanzaError('cancel', 'service-unavailable');
    return items(e);
  });

  const configForm = (node: PepNode): Element =>
    buildForm('form', [
      { var: 'FORM_TYPE', type: 'hidden', values: [`${NS.pubsub}#node_config`] },
      { var: 'pubsub#access_model', type: 'list-single', values: [node.accessModel] },
      { var: 'pubsub#max_items', type: 'text-single', values: [String(node.maxItems)] },
      { var: 'pubsub#persist_items', type: 'boolean', values: ['true'] },
    ]);

  ctx.bus.on(`iq-get/self/${NS.pubsubOwner}:pubsub`, (e) => {
    const owner = ownerOf((e.origin as ClientSession).bare);
    const el = (e.stanza.firstElement() as Element).getChild('configure');
    if (!el) throw new StanzaError('cancel', 'feature-not-implemented');
    const node = store.getNode(owner.host, owner.user, nodeName(el));
    if (!node) throw new StanzaError('cancel', 'item-not-found');
    ctx.router.reply(e, iqResult(e.stanza, x('pubsub', { xmlns: NS.pubsubOwner }, x('configure', { node: node.node }, configForm(node)))));
    return true;
  });
  ctx.bus.on(`iq-set/self/${NS.pubsubOwner}:pubsub`, (e) => {
    const owner = ownerOf((e.origin as ClientSession).bare);
    const action = (e.stanza.firstElement() as Element).firstElement();
    const name = action ? nodeName(action) : '';
    const node = store.getNode(owner.host, owner.user, name);
    if (!node) throw new StanzaError('cancel', 'item-not-found');
    if (action?.name === 'delete') {
      store.deleteNode(owner.host, owner.user, name);
      notify(owner, node, () => x('delete', { node: name }));
    } else if (action?.name === 'configure') {
      store.putNode(owner.host, owner.user, configFromForm(parseForm(action.getChild('x', NS.dataForms)), node));
    } else throw new StanzaError('cancel', 'feature-not-implemented');
    ctx.router.reply(e, iqResult(e.stanza));
    return true;
  });

  // disco#items on an account lists its nodes (those the asker may see).
  const nodeItems = (e: StanzaEvent): true | undefined => {
    if ((e.stanza.firstElement() as Element).attrs.node !== undefined) return undefined;
    const owner = ownerOf(e.to.bareString);
    const visible = store.listNodes(owner.host, owner.user).filter((n) => canAccess(owner, n, e.from.bareString));
    ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.discoItems }, visible.map((n) => x('item', { jid: owner.bare, node: n.node })))));
    return true;
  };
  ctx.bus.on(`iq-get/self/${NS.discoItems}:query`, nodeItems);
  ctx.bus.on(`iq-get/bare/${NS.discoItems}:query`, nodeItems);
}

export const pepModule: HeraldModule = { name: 'pep', install };
