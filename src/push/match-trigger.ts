import type { PushTriggerEvent } from '../core/events.js';
import { parseJid } from '../jid.js';
import type { PushRegistration } from '../storage/types.js';
import { unwrapCarbon } from './dedup.js';
import { matchXep0357, type Decision, type RegistrationSessionState } from './match.js';

/**
 * The XEP-0357 rules applied to one trigger and one registration. Every
 * front-end that follows them (XEP-0357, Web Push) decides this first, then
 * adds its own filters.
 */
export function matchTrigger(reg: PushRegistration, e: PushTriggerEvent, state: RegistrationSessionState): Decision {
  const message = unwrapCarbon(e.stanza);
  return matchXep0357({
    reason: e.reason,
    importance: e.importance,
    userBare: `${e.username}@${e.host}`,
    senderBare: parseJid(message.attrs.from ?? '')?.bareString ?? null,
    triggerResource: e.session?.jid.resource ?? null,
    registrationResource: reg.resource,
    registrationSession: state,
  });
}
