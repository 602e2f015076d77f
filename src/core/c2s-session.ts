import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { SaslFailure, SaslMechanism, SaslStep } from '../auth/mechanism.js';
import { PlainServer } from '../auth/plain.js';
import { ScramServer } from '../auth/scram.js';
import { Jid, normalizeResource } from '../jid.js';
import type { Transport } from '../net/transport.js';
import { Element, x } from '../xml/element.js';
import { escapeText } from '../xml/escape.js';
import { NS } from '../xml/namespaces.js';
import { StreamParser, type StreamErrorCondition, type StreamHeader, type StreamParserHandlers } from '../xml/stream-parser.js';
import type { ServerContext } from './context.js';
import { errorReply, iqResult } from './errors.js';
import type { DisconnectEvent } from './events.js';
import { committed, guarded } from './guard.js';

export type StreamError =
  | StreamErrorCondition
  | 'bad-format'
  | 'conflict'
  | 'connection-timeout'
  | 'host-unknown'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'not-authorized'
  | 'reset'
  | 'resource-constraint'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/**
 * `hibernating`: the connection is gone but the session lives on (XEP-0198),
 * keeping its presence and collecting stanzas until it resumes or expires.
 */
type State = 'opening' | 'negotiating' | 'bound' | 'hibernating' | 'closed';

/** Returns true when it took the stanza (held it back); CSI installs one while a client is inactive. */
export type OutputFilter = (stanza: Element) => boolean;

/** What stream management counts: every stanza that reaches the client's queue, and every one received. */
export interface StanzaTracker {
  track(stanza: Element): void;
  received(): void;
  /**
   * Called once the input counted so far has been committed (durable) or
   * rolled back: a rolled-back stanza must count as never received, or a
   * resuming client would be told it was handled and never send it again.
   */
  inputCommitted(durable: boolean, through?: number): void;
  readonly inbound: number;
}

const STANZA_NAMES = new Set(['message', 'presence', 'iq']);

/**
 * One client-to-server stream (RFC 6120), over any transport: stream
 * header, STARTTLS, SASL, resource binding, then stanzas to the router.
 * Session-level state that modules keep (presence, roster interest) lives
 * here too, as plain fields, so that it costs no lookups on the hot path.
 */
export class ClientSession {
  readonly id = randomBytes(12).toString('base64url');
  readonly log: Logger;
  state: State = 'opening';
  host = '';
  username = '';
  jid: Jid = new Jid('', '', '');
  authenticated = false;

  // Presence state (RFC 6121), owned by the presence module.
  available = false;
  priority = 0;
  presence: Element | null = null;
  /** The client asked for its roster, so it gets roster pushes and subscription requests. */
  interested = false;
  /** Full JIDs this resource sent directed presence to, who must hear when it goes away. */
  readonly directed = new Set<string>();
  /** Set when the session left the registry for good. */
  ended = false;

  transport: Transport;
  private parser: StreamParser;
  /** Held-back output (CSI), consulted in order before anything is written. */
  readonly filters: OutputFilter[] = [];
  /** Stream management's view of the output, when enabled. */
  tracker: StanzaTracker | null = null;
  /** The client has queried its archive: unacknowledged archived messages reach it that way. */
  mamQueried = false;
  private headerSent = false;
  private sasl: SaslMechanism | null = null;
  private saslName = '';
  private busy = false;
  private readonly queue: Element[] = [];
  private authTimer: NodeJS.Timeout | null;

  constructor(
    private readonly ctx: ServerContext,
    transport: Transport,
  ) {
    this.transport = transport;
    this.log = ctx.log.child({ session: this.id, ip: transport.remoteAddress, via: transport.kind });
    this.parser = this.newParser();
    this.attach(transport);
    this.authTimer = setTimeout(() => this.streamError('connection-timeout', 'authentication took too long'), ctx.config.c2s.auth_timeout * 1000);
    this.authTimer.unref();
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get bare(): string {
    return this.jid.bareString;
  }

  // ---- input ----------------------------------------------------------------

  private attach(transport: Transport): void {
    transport.setHandlers({
      data: (chunk) => this.receive(chunk),
      close: (hadError) => this.transportClosed(transport, hadError),
    });
  }

  private parserHandlers(): StreamParserHandlers {
    return {
      streamOpen: (h) => this.onStreamOpen(h),
      stanza: (el) => this.onElement(el),
      streamClose: () => this.onStreamClose(),
      error: (condition, text) => this.streamError(condition, text),
    };
  }

  private newParser(): StreamParser {
    const limits = { maxStanzaChars: this.ctx.config.limits.max_stanza_bytes, maxDepth: this.ctx.config.limits.max_xml_depth };
    return new StreamParser(this.parserHandlers(), limits, this.transport.kind === 'websocket' ? 'websocket' : 'stream');
  }

  /**
   * XEP-0198 resumption: this session (hibernating, or still bound to a
   * connection that has not noticed it is dead) continues on the connection
   * `fresh` authenticated, with its parser mid-stream. `fresh` is discarded
   * without ever having been a session of its own.
   */
  takeOver(fresh: ClientSession): void {
    const old = this.transport;
    if (old !== fresh.transport && this.state !== 'hibernating') {
      old.setHandlers({ data: () => undefined, close: () => undefined });
      old.destroy();
    }
    this.transport = fresh.transport;
    this.parser = fresh.parser;
    this.parser.setHandlers(this.parserHandlers());
    this.attach(this.transport);
    this.headerSent = true;
    this.state = 'bound';
    fresh.retire();
    this.log.info({ via: this.transport.kind, ip: this.transport.remoteAddress }, 'session resumed');
  }

  /** Forgets a connection whose stream another session took over. */
  private retire(): void {
    this.state = 'closed';
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
  }

  get connected(): boolean {
    return this.state !== 'hibernating' && this.state !== 'closed';
  }

  /**
   * Everything one chunk of input causes is stored in one transaction, and
   * the connection stays corked until that is durable (whenDurable): an
   * acknowledgement or a reply never leaves before what it vouches for is on
   * disk, whether the chunk commits alone or with its turn (group commit).
   */
  private receive(chunk: Buffer | string): void {
    if (this.state === 'closed') return;
    const transport = this.transport;
    transport.cork();
    const ok = committed(this.ctx.store, this.log, 'storage failed while handling input; dropping the connection', () => {
      if (this.transport.kind === 'websocket') this.parser.writeMessage(chunk);
      else this.parser.write(chunk);
    });
    const tracker = this.tracker;
    if (!ok) {
      // What was written for this input must not leave. The client's stream management
      // (or the user) sends it again.
      tracker?.inputCommitted(false);
      transport.destroy();
      return;
    }
    const through = tracker?.inbound;
    this.ctx.store.whenCommitted((durable) => {
      tracker?.inputCommitted(durable, through);
      // A storage thread reports a failed write only now (committed() has logged it): same outcome as above.
      if (durable) transport.uncork();
      else transport.destroy();
    });
    this.ctx.store.progress();
  }

  private onStreamOpen(h: StreamHeader): void {
    const ws = this.transport.kind === 'websocket';
    const validName = ws ? h.name === 'open' && h.ns === NS.framing : h.name === 'stream' && h.ns === NS.stream;
    const to = (h.attrs.to ?? '').toLowerCase();
    if (this.host === '' && this.ctx.hosts.has(to)) this.host = to;
    this.sendHeader();
    if (!validName || (!ws && h.contentNs !== NS.client)) return this.streamError('invalid-namespace');
    if (!h.attrs.version || !/^1\.\d+$/.test(h.attrs.version)) return this.streamError('unsupported-version', 'XMPP 1.0 streams only');
    if (!this.ctx.hosts.has(to) || to !== this.host) return this.streamError('host-unknown', `this server does not serve ${h.attrs.to ?? '(none)'}`);
    this.state = this.state === 'bound' ? 'bound' : 'negotiating';
    this.sendFeatures();
  }

  private onElement(el: Element): void {
    if (this.busy) {
      this.queue.push(el);
      return;
    }
    try {
      this.handle(el);
    } catch (e) {
      this.log.error({ err: e }, 'failed to handle element');
      if (el.name === 'iq' && el.ns === NS.client) this.send(errorReply(el, 'wait', 'internal-server-error'));
    }
  }

  private handle(el: Element): void {
    if (this.state === 'closed') return;
    if (this.state === 'bound' && el.ns === NS.client && STANZA_NAMES.has(el.name)) {
      // RFC 3921 session establishment is a no-op kept for old clients; most send it right after binding.
      if (el.name === 'iq' && el.attrs.type === 'set' && el.firstElement()?.is('session', NS.session)) {
        this.tracker?.received();
        this.send(iqResult(el));
        return;
      }
      this.tracker?.received();
      this.ctx.router.fromClient(this, el);
      return;
    }
    if (el.ns === NS.tls && el.name === 'starttls') return this.startTls();
    if (el.ns === NS.sasl) return this.onSasl(el);
    const nonza = this.ctx.streamFeatures.nonzaHandler(el.ns);
    if (nonza) return nonza(this, el);
    if (el.ns === NS.client && el.name === 'iq') return this.negotiationIq(el);
    if (el.ns === NS.client && STANZA_NAMES.has(el.name)) return this.streamError('not-authorized', 'authenticate and bind a resource first');
    this.streamError('unsupported-stanza-type', `unexpected <${el.name}/> in ${el.ns}`);
  }

  private drain(): void {
    while (!this.busy && this.queue.length > 0 && this.state !== 'closed') this.onElement(this.queue.shift() as Element);
  }

  // ---- negotiation --------------------------------------------------------------

  private mustStartTls(): boolean {
    return this.transport.canStartTls && !this.secure && this.ctx.config.c2s.require_tls;
  }

  /** SASL mechanisms this session may use right now, strongest first. */
  mechanisms(): string[] {
    if (this.authenticated || this.mustStartTls()) return [];
    const list = ['SCRAM-SHA-256', 'SCRAM-SHA-1'];
    if (this.secure || (this.transport.isLoopback && this.ctx.config.auth.allow_plain_without_tls)) list.push('PLAIN');
    return list;
  }

  private sendFeatures(): void {
    const features: Element[] = [];
    if (!this.authenticated) {
      if (this.transport.canStartTls && !this.secure) {
        features.push(x('starttls', { xmlns: NS.tls }, this.ctx.config.c2s.require_tls && x('required')));
      }
      const mechs = this.mechanisms();
      if (mechs.length > 0) features.push(x('mechanisms', { xmlns: NS.sasl }, mechs.map((m) => x('mechanism', null, m))));
      if (!this.mustStartTls()) features.push(...this.ctx.streamFeatures.build('pre-auth', this));
    } else if (this.state !== 'bound') {
      features.push(x('bind', { xmlns: NS.bind }), x('session', { xmlns: NS.session }, x('optional')));
      features.push(...this.ctx.streamFeatures.build('post-auth', this));
    }
    const ws = this.transport.kind === 'websocket';
    const body = features.map((f) => f.toString(NS.client)).join('');
    this.writeRaw(`<stream:features${ws ? ` xmlns:stream='${NS.stream}'` : ''}>${body}</stream:features>`);
  }

  private startTls(): void {
    if (!this.transport.canStartTls || this.secure || this.authenticated) {
      this.writeRaw(`<failure xmlns='${NS.tls}'/>`);
      return this.close('stream-error');
    }
    this.writeRaw(`<proceed xmlns='${NS.tls}'/>`);
    // The old parser has seen its last byte: what follows is a TLS handshake, then a new stream.
    this.parser = this.newParser();
    this.headerSent = false;
    this.state = 'opening';
    this.transport.startTls(this.host);
  }

  private onSasl(el: Element): void {
    if (this.authenticated) return this.streamError('policy-violation', 'already authenticated');
    if (el.name === 'auth') {
      const mech = el.attrs.mechanism ?? '';
      if (!this.mechanisms().includes(mech)) {
        if (this.mustStartTls()) return this.saslFailure('encryption-required');
        return this.saslFailure('invalid-mechanism');
      }
      if (this.ctx.authFailures.exceeded(this.transport.remoteAddress)) {
        return this.saslFailure('temporary-auth-failure', 'too many failed attempts; try again later');
      }
      this.sasl = this.createMechanism(mech);
      this.saslName = mech;
      const text = el.text().trim();
      // No initial response means an empty first step; '=' is an explicitly empty one.
      return this.saslStep(text === '' || text === '=' ? '' : text);
    }
    if (el.name === 'response') {
      if (!this.sasl) return this.saslFailure('malformed-request', 'no exchange in progress');
      return this.saslStep(el.text().trim());
    }
    if (el.name === 'abort') {
      this.sasl = null;
      return this.saslFailure('aborted');
    }
    this.streamError('unsupported-stanza-type');
  }

  private createMechanism(name: string): SaslMechanism {
    const lookup = { credentials: (u: string) => this.ctx.store.accounts.get(this.host, u) };
    if (name === 'PLAIN') return new PlainServer(lookup);
    const hash = name === 'SCRAM-SHA-1' ? 'sha1' : 'sha256';
    return new ScramServer(hash, lookup, this.ctx.saslSaltKey, this.ctx.config.auth.scram_iterations);
  }

  private saslStep(b64: string): void {
    const mech = this.sasl;
    if (!mech) return;
    if (b64 !== '' && !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return this.saslFailure('incorrect-encoding');
    let result: SaslStep | Promise<SaslStep>;
    try {
      result = mech.step(Buffer.from(b64, 'base64'));
    } catch (e) {
      this.log.error({ err: e }, 'SASL step failed');
      return this.saslFailure('temporary-auth-failure');
    }
    if (result instanceof Promise) {
      this.busy = true;
      result
        .catch((e: unknown): SaslStep => {
          this.log.error({ err: e }, 'SASL step failed');
          return { kind: 'failure', condition: 'temporary-auth-failure' };
        })
        .then((r) => {
          this.busy = false;
          this.saslResult(r);
          this.drain();
        });
      return;
    }
    this.saslResult(result);
  }

  private saslResult(r: SaslStep): void {
    if (this.state === 'closed') return;
    if (r.kind === 'challenge') {
      this.writeRaw(`<challenge xmlns='${NS.sasl}'>${r.data.toString('base64')}</challenge>`);
      return;
    }
    this.sasl = null;
    if (r.kind === 'failure') {
      if (r.condition === 'not-authorized') this.ctx.authFailures.hit(this.transport.remoteAddress);
      this.log.info({ condition: r.condition }, 'authentication failed');
      return this.saslFailure(r.condition, r.text);
    }
    this.authenticated = true;
    this.username = r.username;
    this.log.info({ user: `${r.username}@${this.host}`, mechanism: this.saslName }, 'authenticated');
    this.writeRaw(`<success xmlns='${NS.sasl}'>${r.data ? r.data.toString('base64') : ''}</success>`);
    // Stream restart (RFC 6120 §6.4.6): the client opens a new stream next.
    if (this.transport.kind !== 'websocket') this.parser = this.newParser();
    this.headerSent = false;
    this.state = 'opening';
  }

  private saslFailure(condition: SaslFailure, text?: string): void {
    const t = text ? `<text xml:lang='en'>${escapeText(text)}</text>` : '';
    this.writeRaw(`<failure xmlns='${NS.sasl}'><${condition}/>${t}</failure>`);
  }

  private negotiationIq(iq: Element): void {
    const payload = iq.firstElement();
    if (!this.authenticated) {
      if (this.ctx.preAuthIq && !this.mustStartTls() && this.ctx.preAuthIq(this, iq)) return;
      return this.streamError('not-authorized', 'authenticate first');
    }
    if (iq.attrs.type === 'set' && payload?.is('bind', NS.bind)) return this.bind(iq, payload);
    if (iq.attrs.type === 'set' && payload?.is('session', NS.session)) {
      this.send(iqResult(iq));
      return;
    }
    this.streamError('not-authorized', 'bind a resource first');
  }

  private bind(iq: Element, bind: Element): void {
    if (this.state === 'bound') {
      this.send(errorReply(iq, 'cancel', 'not-allowed', 'a resource is already bound'));
      return;
    }
    const requested = bind.getChildText('resource')?.trim() ?? '';
    let resource = requested === '' ? '' : normalizeResource(requested);
    if (resource === null) {
      this.send(errorReply(iq, 'modify', 'bad-request', 'invalid resource'));
      return;
    }
    if (resource === '') resource = 'herald-' + randomBytes(6).toString('base64url');
    this.jid = new Jid(this.username, this.host, resource);
    this.state = 'bound';
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    const replaced = this.ctx.sessions.add(this);
    // RFC 6120 §7.7.2.2: the newer session wins; the older one is told why it goes.
    if (replaced && replaced !== this) replaced.streamError('conflict', 'replaced by a new connection for this resource');
    this.log.info({ jid: this.jid.toString() }, 'resource bound');
    this.send(iqResult(iq, x('bind', { xmlns: NS.bind }, x('jid', null, this.jid.toString()))));
    this.ctx.bus.fire('session/bound', { session: this });
  }

  // ---- output -----------------------------------------------------------------

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const from = this.host || (this.ctx.hosts.values().next().value as string);
    if (this.transport.kind === 'websocket') {
      this.writeRaw(`<open xmlns='${NS.framing}' id='${this.id}' from='${from}' version='1.0' xml:lang='en'/>`);
    } else {
      this.writeRaw(
        `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' id='${this.id}' from='${from}' version='1.0' xml:lang='en'>`,
      );
    }
  }

  /**
   * Sends a stanza to the client: through the output filters (CSI may hold
   * it), then stream management's tracking (which also queues it while the
   * session hibernates), then the wire.
   */
  send(stanza: Element): void {
    if (this.state === 'closed') return;
    for (const f of this.filters) if (f(stanza)) return;
    this.release(stanza);
  }

  /** Sends past the filters: for what a filter held and now lets go. */
  release(stanza: Element): void {
    if (this.state === 'closed') return;
    stanza.inherit(NS.client);
    this.tracker?.track(stanza);
    if (this.connected) this.writeStanza(stanza);
  }

  /** Writes a stanza with no tracking: stream management's resends after resumption. */
  writeStanza(stanza: Element): void {
    this.writeRaw(stanza.toString(this.transport.kind === 'websocket' ? '' : NS.client));
  }

  writeRaw(data: string): void {
    if (!this.connected) return;
    this.transport.write(data);
    if (this.transport.bufferedBytes > this.ctx.config.limits.max_output_buffer_bytes) {
      this.log.warn('client is not reading; closing');
      this.transport.destroy();
    }
  }

  // ---- closing ------------------------------------------------------------------

  streamError(condition: StreamError, text?: string): void {
    if (this.state === 'closed') return;
    this.sendHeader();
    const t = text ? `<text xmlns='${NS.streams}' xml:lang='en'>${escapeText(text)}</text>` : '';
    const ws = this.transport.kind === 'websocket';
    this.log.info({ condition, text }, 'stream error');
    this.writeRaw(`<stream:error${ws ? ` xmlns:stream='${NS.stream}'` : ''}><${condition} xmlns='${NS.streams}'/>${t}</stream:error>`);
    this.close(condition === 'conflict' ? 'replaced' : condition === 'system-shutdown' ? 'shutdown' : 'stream-error');
  }

  private onStreamClose(): void {
    this.close('stream-closed');
  }

  /** Ends the stream from our side, then the session. */
  close(reason: DisconnectEvent['reason'] = 'stream-closed'): void {
    if (this.state === 'closed') return;
    if (this.state === 'hibernating') {
      this.end();
      return;
    }
    this.sendHeader();
    this.writeRaw(this.transport.kind === 'websocket' ? `<close xmlns='${NS.framing}'/>` : '</stream:stream>');
    this.transport.end();
    this.disconnected(reason);
  }

  private transportClosed(transport: Transport, hadError: boolean): void {
    // A connection this session no longer uses (after resumption) is none of its business.
    if (transport !== this.transport || !this.connected) return;
    this.log.debug({ hadError }, 'transport closed');
    guarded(this.ctx, 'connection closed', () => this.disconnected('connection-lost'));
  }

  private disconnected(reason: DisconnectEvent['reason']): void {
    const wasBound = this.state === 'bound';
    if (this.authTimer) clearTimeout(this.authTimer);
    if (!wasBound) {
      this.state = 'closed';
      return;
    }
    this.log.info({ reason }, 'disconnected');
    this.state = 'hibernating';
    if (this.ctx.bus.fire('session/disconnected', { session: this, reason }) === true) return;
    this.end();
  }

  /** Removes the session for good: it leaves the registry and modules clean up after it. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.state = 'closed';
    this.ctx.sessions.remove(this);
    this.ctx.bus.fire('session/closed', { session: this });
  }
}
