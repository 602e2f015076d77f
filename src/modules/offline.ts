import type { HeraldModule, ServerContext } from '../core/context.js';
import { StanzaError } from '../core/errors.js';
import type { OfflineEvent } from '../core/events.js';
import { x } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { parseElement } from '../xml/parse-element.js';
import { isStorable } from './storable.js';

/**
 * Offline messages (XEP-0160): stored when the account has no available
 * resource, delivered with a XEP-0203 delay stamp after the next initial
 * presence of non-negative priority.
 */
function store(ctx: ServerContext, e: OfflineEvent): true {
  const type = e.stanza.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return true;
  // Chat states and other ephemera are dropped silently: nobody wants them later.
  if (!isStorable(e.stanza)) return true;
  if (ctx.store.offline.count(e.host, e.username) >= ctx.config.limits.max_offline_messages) {
    throw new StanzaError('wait', 'resource-constraint', 'the recipient has too many offline messages');
  }
  ctx.store.offline.store(e.host, e.username, e.stanza.toString(NS.client), Date.now());
  ctx.bus.fire('offline/stored', e);
  return true;
}

function deliver(ctx: ServerContext, session: import('../core/c2s-session.js').ClientSession): void {
  if (session.priority < 0) return;
  const messages = ctx.store.offline.list(session.host, session.username);
  if (messages.length === 0) return;
  const delivered: number[] = [];
  for (const m of messages) {
    let stanza;
    try {
      stanza = parseElement(m.stanza);
    } catch (e) {
      ctx.log.error({ err: e, id: m.id }, 'unreadable offline message kept in storage');
      continue;
    }
    stanza.remove('delay', NS.delay);
    stanza.append(x('delay', { xmlns: NS.delay, from: session.host, stamp: new Date(m.stamp).toISOString() }, 'Offline Storage'));
    session.send(stanza);
    delivered.push(m.id);
  }
  ctx.store.offline.delete(session.host, session.username, delivered);
}

export const offlineModule: HeraldModule = {
  name: 'offline',
  install(ctx) {
    ctx.disco.host.features.add('msgoffline');
    ctx.bus.on('message/offline/handle', (e) => store(ctx, e), -1);
    ctx.bus.on('presence/initial', ({ session }) => deliver(ctx, session));
  },
};
