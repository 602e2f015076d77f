import type { PushReason } from '../core/events.js';
import type { ImportanceVerdict } from '../core/importance.js';

/** Where the session that enabled a registration stands. */
export type RegistrationSessionState = 'none' | 'hibernating' | 'live-active' | 'live-inactive';

export interface MatchInput {
  reason: PushReason;
  importance: ImportanceVerdict;
  userBare: string;
  /** Bare JID of whoever wrote the message (a received carbon's inner sender). */
  senderBare: string | null;
  /** The session the trigger was about (hibernated, ack-delayed). */
  triggerResource: string | null;
  registrationResource: string | null;
  registrationSession: RegistrationSessionState;
}

export type Decision = [push: boolean, reason: string];

/**
 * XEP-0357 business rules (Prosody's mod_cloud_notify, made explicit):
 * never the user's own messages; never to a registration whose session is
 * connected and active (unless that session is not acknowledging, or it is a
 * call); offline → every registration; archived → registrations without a
 * live session, calls to all; hibernated / ack-delayed → the registrations
 * of that session only.
 */
export function matchXep0357(i: MatchInput): Decision {
  if (i.senderBare === i.userBare || i.importance.reason === 'own outgoing carbon') return [false, 'own message'];
  const urgent = i.importance.priority === 'high';
  if (i.registrationSession === 'live-active' && i.reason !== 'ack-delayed' && !urgent) return [false, 'session live and active'];
  switch (i.reason) {
    case 'offline':
      return [true, 'stored offline'];
    case 'archived':
      if (urgent) return [true, 'urgent: every registration'];
      if (i.registrationSession === 'live-inactive') return [false, 'session live'];
      return [true, 'archived without a live session'];
    case 'hibernated':
    case 'ack-delayed':
      if (i.registrationResource === null || i.registrationResource !== i.triggerResource) return [false, 'another session'];
      return [true, i.reason === 'hibernated' ? 'session hibernating' : 'acknowledgement overdue'];
  }
}
