import type { Jid } from '../jid.js';
import type { Element } from '../xml/element.js';
import type { ClientSession } from './c2s-session.js';

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
}
