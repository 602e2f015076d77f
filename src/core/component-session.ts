import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type net from 'node:net';
import type { Logger } from 'pino';
import { parseJid, type Jid } from '../jid.js';
import { Element } from '../xml/element.js';
import { escapeText } from '../xml/escape.js';
import { NS } from '../xml/namespaces.js';
import { StreamParser, type StreamHeader } from '../xml/stream-parser.js';
import type { ServerContext } from './context.js';
import { committed } from './guard.js';
import type { RemoteRoute } from './router.js';

const STANZAS = new Set(['message', 'presence', 'iq']);

/**
 * One XEP-0114 external component connection: stream header naming the
 * component's domain, the SHA-1 handshake over stream id and secret, then
 * stanzas in both directions. While it is connected, the router sends the
 * component's domain (and its subdomains' JIDs) here.
 */
export class ComponentSession implements RemoteRoute {
  private readonly id = randomBytes(12).toString('base64url');
  private readonly parser: StreamParser;
  private readonly log: Logger;
  private domain = '';
  private authenticated = false;
  private closed = false;
  private headerSent = false;
  private batching = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly socket: net.Socket,
  ) {
    this.log = ctx.log.child({ component: this.id, ip: socket.remoteAddress });
    this.parser = new StreamParser(
      {
        streamOpen: (h) => this.onOpen(h),
        stanza: (el) => this.onElement(el),
        streamClose: () => this.close(),
        error: (condition, text) => this.streamError(condition, text),
      },
      { maxStanzaChars: ctx.config.limits.max_stanza_bytes, maxDepth: ctx.config.limits.max_xml_depth },
    );
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.receive(d));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClosed());
    const timer = setTimeout(() => {
      if (!this.authenticated) this.streamError('connection-timeout', 'no handshake');
    }, ctx.config.c2s.auth_timeout * 1000);
    timer.unref();
  }

  /**
   * Writes made in one run (a scan of the push outbox sends up to a thousand
   * publishes) leave in one system call, not one each, and not before what
   * was stored meanwhile is durable; if that commit fails, they never leave.
   */
  private write(s: string): void {
    if (this.closed) return;
    if (!this.batching) {
      this.batching = true;
      this.socket.cork();
      this.ctx.store.whenDurable((durable) => {
        this.batching = false;
        if (durable) this.socket.uncork();
        else this.fail();
      });
    }
    this.socket.write(s);
  }

  private sendHeader(from: string): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.write(`<?xml version='1.0'?><stream:stream xmlns='${NS.component}' xmlns:stream='${NS.stream}' id='${this.id}' from='${escapeText(from)}'>`);
  }

  private onOpen(h: StreamHeader): void {
    const to = (h.attrs.to ?? '').toLowerCase();
    this.sendHeader(to || 'unknown');
    if (h.name !== 'stream' || h.ns !== NS.stream || h.contentNs !== NS.component) return this.streamError('invalid-namespace');
    if (!this.ctx.config.component.some((c) => c.domain === to)) return this.streamError('host-unknown', `no component ${to} is configured`);
    this.domain = to;
  }

  /**
   * As for clients: everything one chunk of input causes is stored in one
   * transaction. What the server writes back is held (see write) until this
   * returns, after the commit; if the commit fails it never leaves.
   */
  private receive(chunk: Buffer): void {
    if (this.closed) return;
    if (!committed(this.ctx.store, this.log, 'storage failed while handling component input; dropping the connection', () => this.parser.write(chunk))) this.fail();
    this.ctx.store.progress();
  }

  private fail(): void {
    this.socket.destroy();
    this.onClosed();
  }

  /** A failure while handling one element is answered (stanzas) or logged, never thrown into the socket's handler. */
  private onElement(el: Element): void {
    try {
      this.handle(el);
    } catch (e) {
      this.log.error({ err: e, element: el.name }, 'failed to handle an element from the component');
      if (this.authenticated && STANZAS.has(el.name)) this.ctx.router.bounce(el, 'wait', 'internal-server-error');
    }
  }

  private handle(el: Element): void {
    if (!this.authenticated) {
      if (el.name !== 'handshake' || this.domain === '') return this.streamError('not-authorized');
      return this.handshake(el.text().trim().toLowerCase());
    }
    if (!STANZAS.has(el.name)) return this.streamError('unsupported-stanza-type');
    const from = parseJid(el.attrs.from ?? '');
    // A component speaks only for JIDs at its own domain.
    if (!from || from.domain !== this.domain) return this.streamError('invalid-from', `from must be at ${this.domain}`);
    if (el.attrs.to === undefined) {
      this.ctx.router.bounce(el, 'modify', 'bad-request', 'a to address is required');
      return;
    }
    this.ctx.router.route(el, null);
  }

  private handshake(digest: string): void {
    const secret = this.ctx.config.component.find((c) => c.domain === this.domain)?.secret ?? '';
    const expected = createHash('sha1').update(this.id + secret).digest('hex');
    if (digest.length !== expected.length || !timingSafeEqual(Buffer.from(digest), Buffer.from(expected))) {
      this.log.warn({ domain: this.domain }, 'component handshake failed');
      return this.streamError('not-authorized', 'wrong secret');
    }
    if (this.ctx.router.hasRemoteRoute(this.domain)) return this.streamError('conflict', `${this.domain} is already connected`);
    this.authenticated = true;
    this.ctx.router.addRemoteRoute(this.domain, this);
    this.ctx.disco.host.items.set(this.domain, undefined);
    this.write('<handshake/>');
    this.log.info({ domain: this.domain }, 'component connected');
    this.ctx.bus.fire('route/added', { domain: this.domain });
  }

  /** The router hands over stanzas for this component's domain. */
  send(stanza: Element, _to: Jid): boolean {
    if (this.closed) return false;
    // Top-level stanzas take the component namespace; their payloads keep theirs. A copy, since
    // the same stanza object may also be written to client streams.
    this.write(new Element(stanza.name, NS.component, stanza.attrs, stanza.children).toString(NS.component));
    return true;
  }

  private streamError(condition: string, text?: string): void {
    if (this.closed) return;
    this.sendHeader(this.domain || 'unknown');
    const t = text ? `<text xmlns='${NS.streams}'>${escapeText(text)}</text>` : '';
    this.write(`<stream:error><${condition} xmlns='${NS.streams}'/>${t}</stream:error></stream:stream>`);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.write('</stream:stream>');
    this.socket.end();
    this.onClosed();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.authenticated) {
      this.ctx.router.removeRemoteRoute(this.domain, this);
      this.ctx.disco.host.items.delete(this.domain);
      this.log.info({ domain: this.domain }, 'component disconnected');
    }
  }
}
