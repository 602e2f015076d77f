import type { Jid } from '../jid.js';
import type { Element } from '../xml/element.js';
import type { ClientSession } from './c2s-session.js';
import type { ImportanceVerdict } from './importance.js';

/** Which kind of address a routed stanza has, from the server's point of view. */
export type Target = 'self' | 'bare' | 'full' | 'host';

export interface StanzaEvent {
  stanza: Element;
  /** The local client session that sent it; null for stanzas the server or a component generated. */
  origin: ClientSession | null;
  from: Jid;
  /** The resolved destination (for a to-less stanza, the sender's bare JID). */
  to: Jid;
}

export interface OfflineEvent {
  stanza: Element;
  host: string;
  username: string;
  origin: ClientSession | null;
}

export interface SessionEvent {
  session: ClientSession;
}

export interface DisconnectEvent {
  session: ClientSession;
  /** Why the connection went away: a clean stream close or a transport failure. */
  reason: 'stream-closed' | 'connection-lost' | 'stream-error' | 'replaced' | 'shutdown';
}

export interface AccountEvent {
  host: string;
  username: string;
}

export interface SmStanzasEvent {
  session: ClientSession;
  /** The stanzas the client has not acknowledged, oldest first. */
  stanzas: Element[];
}

export interface SmQueuedEvent {
  session: ClientSession;
  stanza: Element;
}

export interface UndeliveredEvent {
  stanza: Element;
  host: string;
  username: string;
}

export interface ArchivedEvent {
  host: string;
  username: string;
  stanza: Element;
  /** The archive id (XEP-0359 stanza-id). */
  id: string;
  direction: 'in' | 'out';
}

export type PushReason = 'offline' | 'archived' | 'hibernated' | 'ack-delayed';

/**
 * The push trigger: a stanza for a local user could not be delivered live.
 * Emitted by core/push-trigger.ts and nowhere else; every push protocol
 * subscribes to this event and nothing else. See docs/ARCHITECTURE.md.
 */
export interface PushTriggerEvent {
  reason: PushReason;
  host: string;
  username: string;
  stanza: Element;
  /** The session the stanza was meant for (hibernated, not acking), if any. */
  session: ClientSession | null;
  importance: ImportanceVerdict;
  /** Archive id when the stanza was archived, so a push can name it. */
  archiveId?: string;
}

/** A remote domain can be reached now (a component connected). */
export interface RouteEvent {
  domain: string;
}

export interface PushDeliveredEvent {
  host: string;
  username: string;
  frontend: string;
  /** The resource that enabled the registration. */
  resource: string | null;
  important: boolean;
}

export interface CapsEvent {
  session: ClientSession;
  features: ReadonlySet<string>;
}

export type ActivityKind = 'message' | 'chat-state' | 'active';

/** A user did something on one device; grace periods pause pushes to the others. */
export interface ActivityEvent {
  session: ClientSession;
  kind: ActivityKind;
}

type IqKind = 'get' | 'set';

/**
 * Every named routing event. Handlers return `true` (or any value but
 * undefined) to claim the stanza; routing falls back to the default rules
 * when nobody does.
 */
export interface EventMap {
  'message/bare': StanzaEvent;
  'message/full': StanzaEvent;
  'message/host': StanzaEvent;
  /** Every message a local client sends, before it is routed (carbons, archive, activity). */
  'message/outbound': StanzaEvent;
  'presence/bare': StanzaEvent;
  'presence/full': StanzaEvent;
  'presence/host': StanzaEvent;
  /** Every presence a local client sends; the presence module routes it. */
  'presence/outbound': StanzaEvent;
  /** IQs get/set by payload: `iq-set/self/urn:xmpp:push:0:enable`. */
  [iq: `iq-${IqKind}/${Target}/${string}`]: StanzaEvent;
  /** An IQ addressed to a full JID, before it is handed to that resource. */
  'iq/full': StanzaEvent;
  /** A chat/normal message for an account with no available resource; storage claims it. */
  'message/offline/handle': OfflineEvent;
  /** A resource sent its first available presence: time to flush what waited for it. */
  'presence/initial': SessionEvent;
  'session/bound': SessionEvent;
  /** The connection ended; a handler returning true keeps the session alive (hibernation). */
  'session/disconnected': DisconnectEvent;
  /** The session is gone for good; it has left the registry. */
  'session/closed': SessionEvent;
  'account/deleted': AccountEvent;
  /** A message was stored offline (the account had no available resource). */
  'offline/stored': OfflineEvent;
  /** A message was added to a user's archive. */
  'archive/stored': ArchivedEvent;
  /** A message that reached a session's queue but was never acknowledged, now that the session is over. */
  'message/undelivered': UndeliveredEvent;
  /** A resumable session lost its connection; the stanzas still unacknowledged. */
  'sm/hibernated': SmStanzasEvent;
  /** A stanza was queued for a hibernating session. */
  'sm/queued': SmQueuedEvent;
  /** A connected session did not acknowledge within max_ack_delay. */
  'sm/ack-delayed': SmStanzasEvent;
  'sm/resumed': SessionEvent;
  'route/added': RouteEvent;
  'push/trigger': PushTriggerEvent;
  /** A push left the outbox and the push service accepted it. */
  'push/delivered': PushDeliveredEvent;
  /** A session's XEP-0115 capabilities are known (after its available presence). */
  'caps/resolved': CapsEvent;
  'session/activity': ActivityEvent;
}
