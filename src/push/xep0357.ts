import type { ClientSession } from '../core/c2s-session.js';
import type { ServerContext } from '../core/context.js';
import { errorCondition, iqResult, StanzaError } from '../core/errors.js';
import type { PushTriggerEvent, StanzaEvent } from '../core/events.js';
import { parseJid } from '../jid.js';
import type { PushRegistration } from '../storage/types.js';
import { type Element, x } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { storedElement } from '../xml/verbatim.js';
import { unwrapCarbon } from './dedup.js';
import type { PushFrontend, PushOutcome } from './frontend.js';
import { matchTrigger } from './match-trigger.js';
import { addRegistration } from './registrations.js';
import { parseTigaseOptions, tigaseFilter, TIGASE_FEATURES, type TigaseOptions } from './tigase.js';
import { privacyOptions, publishText, type PrivacyOptions, type Xep0357Registration } from './xep0357-payload.js';

export const XEP0357 = 'xep0357';

interface StoredOptions {
  publishOptions?: string;
  tigase?: TigaseOptions;
}

const TEMPORARY = new Set(['resource-constraint', 'recipient-unavailable', 'remote-server-timeout', 'remote-server-not-found']);

/** Parsed once per registration object: match and payload both read it for every push. */
const parsedOptions = new WeakMap<PushRegistration, StoredOptions>();
function optionsOf(reg: PushRegistration): StoredOptions {
  let o = parsedOptions.get(reg);
  if (!o) parsedOptions.set(reg, (o = JSON.parse(reg.options) as StoredOptions));
  return o;
}

export function xep0357Registration(reg: PushRegistration): Xep0357Registration {
  const o = optionsOf(reg);
  return { node: reg.node, ...(o.publishOptions === undefined ? {} : { publishOptions: o.publishOptions }), ...(o.tigase === undefined ? {} : { tigase: o.tigase }) };
}

/** A content-less publish, what `herald push test` sends. */
export function xep0357TestPayload(reg: PushRegistration, privacy: PrivacyOptions): string {
  return publishText(xep0357Registration(reg), null, { important: false, priority: 'low', reason: 'test' }, privacy);
}

/** An app server's answer to a publish, as an outcome: `wait` and a few conditions are worth retrying. */
export function outcomeOfAnswer(answer: Element | null): PushOutcome {
  if (!answer) return { ok: false, temporary: true, condition: 'remote-server-timeout' };
  if (answer.attrs.type === 'result') return { ok: true };
  const condition = errorCondition(answer) ?? 'undefined-condition';
  return { ok: false, temporary: answer.getChild('error')?.attrs.type === 'wait' || TEMPORARY.has(condition), condition };
}

/**
 * XEP-0357 (`urn:xmpp:push:0`) with mod_cloud_notify's behaviour: the
 * enable/disable IQs, publishes to the app server with the summary form, and
 * the Tigase extensions.
 */
export function createXep0357(ctx: ServerContext): PushFrontend {
  const privacy = (): PrivacyOptions => privacyOptions(ctx.config);

  ctx.disco.account.features.add(NS.push);
  for (const f of TIGASE_FEATURES) ctx.disco.account.features.add(f);

  const enable = (e: StanzaEvent): true => {
    const session = e.origin as ClientSession;
    const el = e.stanza.firstElement() as Element;
    const jidAttr = el.attrs.jid;
    if (jidAttr === undefined || jidAttr === '') throw new StanzaError('modify', 'bad-request', 'Missing jid');
    const service = parseJid(jidAttr);
    if (!service) throw new StanzaError('modify', 'jid-malformed', 'Invalid jid');
    if (service.equals(session.jid) || service.equals(session.jid.bare())) throw new StanzaError('modify', 'bad-request', 'JID must be different from ours');
    const form = el.getChild('x', NS.dataForms);
    const options: StoredOptions = {};
    if (form) options.publishOptions = form.toString('');
    const tigase = parseTigaseOptions(el);
    if (Object.keys(tigase).length > 0) options.tigase = tigase;
    addRegistration(ctx, {
      host: session.host,
      username: session.username,
      frontend: XEP0357,
      service: service.toString(),
      node: el.attrs.node ?? '',
      resource: session.jid.resource,
      options: JSON.stringify(options),
    });
    ctx.log.info({ user: session.bare, service: service.toString(), node: el.attrs.node }, 'push enabled');
    ctx.router.reply(e, iqResult(e.stanza));
    return true;
  };

  const disable = (e: StanzaEvent): true => {
    const session = e.origin as ClientSession;
    const el = e.stanza.firstElement() as Element;
    const service = parseJid(el.attrs.jid ?? '');
    if (!service) throw new StanzaError('modify', 'bad-request', 'Missing jid');
    const n = ctx.store.pushRegistrations.remove(session.host, session.username, XEP0357, service.toString(), el.attrs.node);
    ctx.log.info({ user: session.bare, service: service.toString(), node: el.attrs.node, removed: n }, 'push disabled');
    ctx.router.reply(e, iqResult(e.stanza));
    return true;
  };

  ctx.bus.on(`iq-set/self/${NS.push}:enable`, enable);
  ctx.bus.on(`iq-set/self/${NS.push}:disable`, disable);

  return {
    name: XEP0357,
    match(reg, e, state) {
      const decision = matchTrigger(reg, e, state);
      const tigase = optionsOf(reg).tigase;
      if (!decision[0] || !tigase) return decision;
      const message = unwrapCarbon(e.stanza);
      const sender = parseJid(message.attrs.from ?? '')?.bareString ?? '';
      const contact = ctx.store.roster.get(e.host, e.username, sender);
      const known = contact !== undefined && (contact.subscription === 'from' || contact.subscription === 'both');
      return tigaseFilter(tigase, message, `${e.username}@${e.host}`, known);
    },
    payload(reg, e: PushTriggerEvent) {
      // Nothing more to prepare: send() writes this very text.
      return { text: publishText(xep0357Registration(reg), unwrapCarbon(e.stanza), e.importance, privacy()) };
    },
    async send(reg, payload) {
      const id = ctx.router.iq.newId();
      const answer = ctx.router.iq.expect(id, reg.service, ctx.config.push.response_timeout * 1000);
      ctx.router.send(x('iq', { type: 'set', id, from: reg.host, to: reg.service }, storedElement(payload)));
      return outcomeOfAnswer(await answer);
    },
  };
}
