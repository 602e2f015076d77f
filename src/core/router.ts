import type { Logger } from 'pino';
import { parseJid, type Jid } from '../jid.js';
import type { Element } from '../xml/element.js';
import type { EventBus } from './bus.js';
import type { ClientSession } from './c2s-session.js';
import { errorReply, mayBounce, StanzaError, type ErrorType, type StanzaErrorCondition } from './errors.js';
import type { EventMap, StanzaEvent, Target } from './events.js';
import { IqTracker } from './iq-tracker.js';
import type { SessionRegistry } from './sessions.js';

/** Where stanzas for a non-local domain can go; components and s2s register here. */
export interface RemoteRoute {
  /** Returns true when the stanza was taken for delivery. */
  send(stanza: Element, to: Jid): boolean;
}

/**
 * Decides where a stanza goes and fires the named event for it
 * (`message/bare`, `iq-set/self/<ns>:<name>`, ...). Default delivery rules
 * live in modules; the router only applies what every stanza needs:
 * addressing, validation, error bounces and handler failures.
 */
export class Router {
  readonly iq = new IqTracker();
  private readonly remotes = new Map<string, RemoteRoute>();

  constructor(
    private readonly hosts: ReadonlySet<string>,
    private readonly sessions: SessionRegistry,
    private readonly bus: EventBus<EventMap>,
    private readonly log: Logger,
  ) {}

  isLocalHost(domain: string): boolean {
    return this.hosts.has(domain);
  }

  addRemoteRoute(domain: string, route: RemoteRoute): void {
    this.remotes.set(domain, route);
  }

  removeRemoteRoute(domain: string, route: RemoteRoute): void {
    if (this.remotes.get(domain) === route) this.remotes.delete(domain);
  }

  hasRemoteRoute(domain: string): boolean {
    return this.remotes.has(domain);
  }

  /** A stanza from a bound client: stamp its address, validate, then route. */
  fromClient(session: ClientSession, stanza: Element): void {
    stanza.attrs.from = session.jid.toString();
    const problem = validate(stanza);
    if (problem) {
      this.bounce(stanza, 'modify', 'bad-request', problem);
      return;
    }
    this.route(stanza, session);
  }

  /**
   * Routes a stanza whose `from` is trustworthy (stamped by the server).
   * `origin` is the local session that sent it, if any.
   */
  route(stanza: Element, origin: ClientSession | null = null): void {
    const from = parseJid(stanza.attrs.from ?? '');
    if (!from) {
      this.log.warn({ stanza: stanza.toString() }, 'dropping stanza without a valid from');
      return;
    }
    let to: Jid;
    const toAttr = stanza.attrs.to;
    if (toAttr === undefined || toAttr === '') {
      to = from.bare();
    } else {
      const parsed = parseJid(toAttr);
      if (!parsed) {
        if (mayBounce(stanza)) {
          // The malformed address cannot be the reply's from; the sender's own account answers.
          const reply = errorReply(stanza, 'modify', 'jid-malformed', 'the to address is not a valid JID');
          delete reply.attrs.from;
          this.routeReply(reply, stanza);
        }
        return;
      }
      to = parsed;
    }
    const event: StanzaEvent = { stanza, origin, from, to };
    try {
      this.dispatch(event, toAttr === undefined || toAttr === '');
    } catch (e) {
      this.handleFailure(stanza, e);
    }
  }

  private dispatch(event: StanzaEvent, noTo: boolean): void {
    const { stanza, origin, to } = event;
    const kind = stanza.name;
    if (origin) {
      if (kind === 'message' && this.bus.fire('message/outbound', event) !== undefined) return;
      if (kind === 'presence' && this.bus.fire('presence/outbound', event) !== undefined) return;
    }
    if (!this.hosts.has(to.domain)) {
      const route = this.remotes.get(to.domain);
      if (route && route.send(stanza, to)) return;
      this.bounce(stanza, 'cancel', 'remote-server-not-found', `no route to ${to.domain}`);
      return;
    }
    const target: Target =
      to.local === '' ? 'host' : to.resource !== '' ? 'full' : origin && (noTo || to.equals(event.from.bare())) ? 'self' : 'bare';
    if (kind === 'iq') this.dispatchIq(event, target);
    else if (kind === 'message') this.fireOrDefault(`message/${target === 'self' ? 'bare' : target}`, event);
    else if (kind === 'presence') this.fireOrDefault(`presence/${target === 'self' ? 'bare' : target}`, event);
  }

  private fireOrDefault(name: 'message/bare' | 'message/full' | 'message/host' | 'presence/bare' | 'presence/full' | 'presence/host', event: StanzaEvent): void {
    if (this.bus.fire(name, event) !== undefined) return;
    // Nobody took it: a message deserves an answer, presence is dropped (RFC 6121 §8.5).
    const type = event.stanza.attrs.type;
    if (event.stanza.name === 'message' && type !== 'headline' && type !== 'groupchat') {
      this.bounce(event.stanza, 'cancel', 'service-unavailable');
    }
  }

  private dispatchIq(event: StanzaEvent, target: Target): void {
    const { stanza, to } = event;
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      if (this.iq.settle(stanza, event.from.toString())) return;
      if (target === 'full') {
        const session = this.sessions.get(to);
        if (session) session.send(stanza);
      }
      return;
    }
    const payload = stanza.firstElement();
    if (!payload) {
      this.bounce(stanza, 'modify', 'bad-request', 'an IQ get or set carries exactly one payload');
      return;
    }
    const name = `iq-${type as 'get' | 'set'}/${target}/${payload.ns}:${payload.name}` as const;
    if (this.bus.fire(name, event) !== undefined) return;
    if (target === 'full') {
      if (this.bus.fire('iq/full', event) !== undefined) return;
      const session = this.sessions.get(to);
      if (session) {
        session.send(stanza);
        return;
      }
    }
    this.bounce(stanza, 'cancel', 'service-unavailable');
  }

  /** Sends the error reply for a stanza, unless it is itself an error or a result. */
  bounce(stanza: Element, type: ErrorType, condition: StanzaErrorCondition, text?: string): void {
    if (!mayBounce(stanza) || stanza.attrs.from === undefined) return;
    const reply = errorReply(stanza, type, condition, text);
    this.routeReply(reply, stanza);
  }

  private routeReply(reply: Element, original: Element): void {
    if (reply.attrs.from === undefined) {
      // A to-less stanza is answered by the sender's own account.
      const bare = parseJid(original.attrs.from ?? '')?.bareString;
      if (bare !== undefined) reply.attrs.from = bare;
    }
    this.route(reply, null);
  }

  /**
   * Sends the answer to a routed stanza. A client's to-less IQ is answered
   * without a from (as RFC 6120 §10.3.3 has the account answer), straight
   * to the session that asked.
   */
  reply(e: StanzaEvent, reply: Element): void {
    if (reply.attrs.from === undefined && e.origin) {
      e.origin.send(reply);
      return;
    }
    this.route(reply, null);
  }

  /** Answers a stanza on behalf of the server: the reply already carries from/to. */
  send(stanza: Element): void {
    this.route(stanza, null);
  }

  private handleFailure(stanza: Element, e: unknown): void {
    if (e instanceof StanzaError) {
      if (!mayBounce(stanza)) return;
      this.routeReply(errorReply(stanza, e.type, e.condition, e.text, e.extra), stanza);
      return;
    }
    this.log.error({ err: e, stanza: stanza.toString().slice(0, 2000) }, 'handler failed');
    this.bounce(stanza, 'wait', 'internal-server-error');
  }
}

const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);
const PRESENCE_TYPES = new Set(['unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']);

/** Checks RFC 6120/6121 shape rules a client stanza must meet; returns the problem, if any. */
function validate(stanza: Element): string | null {
  const type = stanza.attrs.type;
  if (stanza.name === 'iq') {
    if (type === undefined || !IQ_TYPES.has(type)) return 'invalid IQ type';
    if (stanza.attrs.id === undefined) return 'an IQ needs an id';
    if ((type === 'get' || type === 'set') && stanza.elements().length !== 1) return 'an IQ get or set carries exactly one payload';
  } else if (stanza.name === 'presence') {
    if (type !== undefined && !PRESENCE_TYPES.has(type)) return 'invalid presence type';
  }
  return null;
}
