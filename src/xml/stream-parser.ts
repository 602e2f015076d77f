import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { Element } from './element.js';
import { NS, STANZA_NAMESPACES } from './namespaces.js';

export type StreamErrorCondition = 'not-well-formed' | 'restricted-xml' | 'policy-violation';

export interface StreamHeader {
  name: string;
  ns: string;
  attrs: Record<string, string>;
  /** Default namespace declared on the header (jabber:client for c2s). */
  contentNs: string;
}

export interface StreamParserHandlers {
  streamOpen(header: StreamHeader): void;
  stanza(el: Element): void;
  streamClose(): void;
  error(condition: StreamErrorCondition, text: string): void;
}

export interface StreamParserLimits {
  /** Characters of XML one stanza may take (after UTF-8 decoding). */
  maxStanzaChars: number;
  /** Element nesting depth within one stanza. */
  maxDepth: number;
}

/** Thrown inside saxes callbacks to abort `write()` at once; saxes keeps going after its own errors. */
class Abort extends Error {
  constructor(readonly condition: StreamErrorCondition, text: string) {
    super(text);
  }
}

/**
 * Incremental parser for one XML stream (RFC 6120 §11), strict about
 * restricted XML and bounded in memory.
 *
 * `framing: 'stream'` parses a classic `<stream:stream>` document (TCP/TLS).
 * `framing: 'websocket'` parses RFC 7395 messages: each one is a complete
 * element, and `<open/>`/`<close/>` in the framing namespace stand for the
 * stream header and footer. Messages are fed into one parser under a
 * synthetic root so that stream restarts need no new parser.
 *
 * A new instance is needed for every TCP stream restart (after STARTTLS and
 * SASL), because the new stream is a new XML document.
 */
export class StreamParser {
  private readonly sax: SaxesParser<{ xmlns: true; position: true }>;
  private readonly decoder = new StringDecoder('utf8');
  private readonly stack: Element[] = [];
  private depth = 0;
  /** Position where the current (or next) stanza began; bounds buffering inside saxes too. */
  private boundary = 0;
  private failed = false;
  /** The text being fed, to classify saxes' errors. */
  private chunk = '';
  private closed = false;

  constructor(
    private readonly handlers: StreamParserHandlers,
    private readonly limits: StreamParserLimits,
    private readonly framing: 'stream' | 'websocket' = 'stream',
  ) {
    const sax = new SaxesParser({ xmlns: true, position: true });
    this.sax = sax;
    sax.on('opentag', (tag) => this.onOpen(tag));
    sax.on('closetag', () => this.onClose());
    sax.on('text', (t) => this.onText(t));
    sax.on('cdata', (t) => this.onText(t));
    sax.on('doctype', () => this.abort('restricted-xml', 'DTDs are not allowed'));
    sax.on('comment', () => this.abort('restricted-xml', 'comments are not allowed'));
    sax.on('processinginstruction', () => this.abort('restricted-xml', 'processing instructions are not allowed'));
    sax.on('error', (e) => {
      // A markup declaration (<!DOCTYPE, <!ENTITY, ...) is restricted XML even where it is also malformed.
      if (/doctype/i.test(e.message) || /<![A-Z]/.test(this.chunk)) this.abort('restricted-xml', 'DTDs and entity declarations are not allowed');
      this.abort('not-well-formed', e.message);
    });
    if (framing === 'websocket') {
      // The synthetic root gives every message depth 1, as stanzas have in a stream.
      sax.write(`<ws xmlns='${NS.client}'>`);
      this.boundary = sax.position;
    }
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Feeds bytes (or an already decoded string). Returns false once the stream has failed. */
  write(data: Buffer | string): boolean {
    if (this.failed || this.closed) return !this.failed;
    const text = typeof data === 'string' ? data : this.decoder.write(data);
    if (text.length === 0) return true;
    this.chunk = text;
    try {
      this.sax.write(text);
      if (this.sax.position - this.boundary > this.limits.maxStanzaChars) {
        throw new Abort('policy-violation', 'stanza too large');
      }
    } catch (e) {
      this.fail(e);
    }
    return !this.failed;
  }

  /** For WebSocket framing: one message must hold exactly one complete element. */
  writeMessage(data: Buffer | string): boolean {
    const before = this.completed;
    if (!this.write(data)) return false;
    if (this.depth !== 1 || this.completed - before > 1) {
      this.fail(new Abort('not-well-formed', 'a WebSocket message must hold exactly one complete element'));
    }
    return !this.failed;
  }

  private completed = 0;

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    if (e instanceof Abort) this.handlers.error(e.condition, e.message);
    else this.handlers.error('not-well-formed', e instanceof Error ? e.message : String(e));
  }

  private abort(condition: StreamErrorCondition, text: string): never {
    throw new Abort(condition, text);
  }

  private onOpen(tag: SaxesTagNS): void {
    const depth = ++this.depth;
    if (depth === 1) {
      if (this.framing === 'websocket') return; // the synthetic root
      const attrs: Record<string, string> = {};
      for (const k in tag.attributes) {
        const a = tag.attributes[k];
        if (a && a.prefix !== 'xmlns' && a.name !== 'xmlns') attrs[a.name] = a.value;
      }
      this.handlers.streamOpen({ name: tag.local, ns: tag.uri, attrs, contentNs: tag.ns[''] ?? '' });
      this.boundary = this.sax.position;
      return;
    }
    if (depth - 1 > this.limits.maxDepth) this.abort('policy-violation', 'elements nested too deeply');
    const el = new Element(tag.local, depth === 2 && STANZA_NAMESPACES.has(tag.uri) ? NS.client : tag.uri);
    for (const k in tag.attributes) {
      const a = tag.attributes[k];
      if (!a || a.name === 'xmlns') continue;
      el.attrs[a.name] = a.value;
    }
    const parent = this.stack[this.stack.length - 1];
    if (parent) parent.children.push(el);
    this.stack.push(el);
  }

  private onClose(): void {
    const depth = this.depth--;
    if (depth === 1) {
      this.closed = true;
      this.handlers.streamClose();
      return;
    }
    const el = this.stack.pop();
    if (depth === 2 && el) {
      if (this.sax.position - this.boundary > this.limits.maxStanzaChars) {
        this.abort('policy-violation', 'stanza too large');
      }
      this.boundary = this.sax.position;
      this.completed++;
      if (this.framing === 'websocket' && el.ns === NS.framing) {
        if (el.name === 'open') {
          this.handlers.streamOpen({ name: 'open', ns: NS.framing, attrs: el.attrs, contentNs: NS.client });
          return;
        }
        if (el.name === 'close') {
          this.handlers.streamClose();
          return;
        }
      }
      this.handlers.stanza(el);
    }
  }

  private onText(t: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top) {
      top.children.push(t);
      return;
    }
    // Between stanzas only whitespace (keepalives) is allowed.
    if (!/^\s*$/.test(t)) this.abort('not-well-formed', 'text outside of stanzas');
    this.boundary = this.sax.position;
  }
}
