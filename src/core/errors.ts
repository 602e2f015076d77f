import { Element, x } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

export type ErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

/** Thrown by handlers to answer the stanza being processed with an error. */
export class StanzaError extends Error {
  constructor(
    readonly type: ErrorType,
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    readonly extra?: Element,
  ) {
    super(text ?? condition);
  }
}

export function errorElement(type: ErrorType, condition: StanzaErrorCondition, text?: string, by?: string, extra?: Element): Element {
  return x(
    'error',
    { type, by },
    x(condition, { xmlns: NS.stanzas }),
    text !== undefined && x('text', { xmlns: NS.stanzas, 'xml:lang': 'en' }, text),
    extra,
  );
}

/**
 * The error reply to a stanza: addresses swapped, id kept, payload dropped
 * (echoing it would let an attacker reflect large stanzas off the server).
 */
export function errorReply(stanza: Element, type: ErrorType, condition: StanzaErrorCondition, text?: string, extra?: Element): Element {
  return x(
    stanza.name,
    { type: 'error', id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from },
    errorElement(type, condition, text, undefined, extra),
  );
}

export function iqResult(iq: Element, ...children: (Element | null | undefined | false)[]): Element {
  return x('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, ...children);
}

/** A stanza must never get an error reply when it is itself an error (RFC 6120 §8.3.1), nor an IQ result. */
export function mayBounce(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (type === 'error') return false;
  if (stanza.name === 'iq') return type === 'get' || type === 'set';
  return true;
}

/** The defined condition of an error stanza (RFC 6120 §8.3.3), or undefined when it carries none. */
export function errorCondition(stanza: Element): string | undefined {
  return stanza.getChild('error')?.elements().find((c) => c.ns === NS.stanzas && c.name !== 'text')?.name;
}
