import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import { iqResult } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { topResources } from './message.js';

/**
 * Message Carbons (XEP-0280, v2 with the rules of urn:xmpp:carbons:rules:0):
 * a user's other carbons-enabled resources get `received` copies of what
 * one resource receives and `sent` copies of what one resource sends.
 */
export function carbonsEligible(stanza: Element): boolean {
  if (stanza.getChild('private', NS.carbons) || stanza.getChild('no-copy', NS.hints)) return false;
  if (stanza.getChild('sent', NS.carbons) || stanza.getChild('received', NS.carbons)) return false;
  if (stanza.getChild('result', NS.mam)) return false;
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'chat') return true;
  if (type !== 'normal') return false;
  const body = stanza.getChildText('body', NS.client);
  if (body !== undefined && body !== '') return true;
  // Other IM payloads keep conversations in sync across devices (receipts, markers, states, encryption).
  return [NS.chatStates, NS.receipts, NS.markers, NS.omemoLegacy, NS.omemo2, NS.openpgp, NS.jmi].some((ns) => stanza.getChildByNs(ns));
}

function copy(kind: 'sent' | 'received', user: string, to: ClientSession, stanza: Element): Element {
  return x(
    'message',
    { from: user, to: to.jid.toString(), type: stanza.attrs.type ?? 'normal' },
    x(kind, { xmlns: NS.carbons }, x('forwarded', { xmlns: NS.forward }, stanza)),
  );
}

function install(ctx: ServerContext): void {
  const enabled = new WeakSet<ClientSession>();
  ctx.disco.host.features.add(NS.carbons).add(NS.carbonsRules);

  const toggle = (on: boolean) => (e: StanzaEvent): true => {
    const session = e.origin;
    if (session) {
      if (on) enabled.add(session);
      else enabled.delete(session);
    }
    ctx.router.reply(e, iqResult(e.stanza));
    return true;
  };
  ctx.bus.on(`iq-set/self/${NS.carbons}:enable`, toggle(true));
  ctx.bus.on(`iq-set/self/${NS.carbons}:disable`, toggle(false));

  const copies = (bare: string, except: Set<ClientSession>): ClientSession[] =>
    ctx.sessions.available(bare).filter((s) => enabled.has(s) && !except.has(s));

  // Received: the resources that do not get the message itself get a copy.
  const received = (e: StanzaEvent, direct: ClientSession[]): void => {
    if (!carbonsEligible(e.stanza) || direct.length === 0) return;
    const bare = e.to.bareString;
    for (const s of copies(bare, new Set(direct))) s.send(copy('received', bare, s, e.stanza));
  };
  ctx.bus.on('message/bare', (e) => received(e, topResources(ctx, e.to.bareString)), 1);
  ctx.bus.on(
    'message/full',
    (e) => {
      const target = ctx.sessions.get(e.to);
      received(e, target ? [target] : topResources(ctx, e.to.bareString));
    },
    1,
  );

  // Sent: the sender's other resources get a copy, except one the message is addressed to.
  ctx.bus.on('message/outbound', (e) => {
    const session = e.origin;
    if (!session || !carbonsEligible(e.stanza)) return undefined;
    const except = new Set<ClientSession>([session]);
    const addressed = ctx.sessions.get(e.to);
    if (addressed) except.add(addressed);
    for (const s of copies(session.bare, except)) s.send(copy('sent', session.bare, s, e.stanza));
    return undefined;
  });
}

export const carbonsModule: HeraldModule = { name: 'carbons', install };
