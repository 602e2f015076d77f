import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { Element } from './element.js';
import { NS, stanzaNamespace } from './namespaces.js';
import { readSimpleStanzas } from './simple-stanza.js';

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

/** Reads a cut stanza may wait for the fast path before saxes takes it. */
const MAX_HOLDS = 3;

type ParsedEvent = { kind: 'open'; header: StreamHeader } | { kind: 'stanza'; el: Element } | { kind: 'close' };

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
 * Events are handed out only after the chunk that completed them parsed
 * cleanly: saxes reports a close tag before it notices that the tag did not
 * match, and a stanza closed that way must never be routed. It also means a
 * handler may replace the parser (STARTTLS, SASL restart) without re-entering it.
 *
 * A new instance is needed for every TCP stream restart (after STARTTLS and
 * SASL), because the new stream is a new XML document.
 */
export class StreamParser {
  private readonly sax: SaxesParser<{ xmlns: true; position: true }>;
  private readonly decoder = new StringDecoder('utf8');
  private readonly stack: Element[] = [];
  private readonly pending: ParsedEvent[] = [];
  private depth = 0;
  /** Characters fed so far. saxes' own `position` is only right inside its callbacks. */
  private fed = 0;
  /** Characters the fast path took (simple-stanza.ts), which saxes never saw: its positions are short by that much. */
  private skipped = 0;
  /** The stream header's default namespace, in scope for every stanza. */
  private contentNs = '';
  /** The start of a stanza the fast path waits to read whole, and how many reads it has waited so far. */
  private held = '';
  private holds = 0;
  /** Where the current (or next) stanza began; bounds what saxes may buffer, too. */
  private boundary = 0;
  private completed = 0;
  /** Nothing but whitespace since the last stanza ended: the parser is between stanzas, not inside a tag. */
  private idle = true;
  private failed = false;
  private closed = false;
  /** The text being fed and the end of the previous one, to classify saxes' errors. */
  private chunk = '';
  private tail = '';

  constructor(
    private handlers: StreamParserHandlers,
    private readonly limits: StreamParserLimits,
    private readonly framing: 'stream' | 'websocket' = 'stream',
    /** Off only to test the fast path against saxes alone. */
    private readonly fastPath = true,
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
      if (this.atMarkupDeclaration() || /doctype/i.test(e.message)) this.abort('restricted-xml', 'DTDs and entity declarations are not allowed');
      this.abort('not-well-formed', e.message);
    });
    if (framing === 'websocket') {
      // The synthetic root gives every message depth 1, as stanzas have in a stream.
      const root = `<ws xmlns='${NS.client}'>`;
      sax.write(root);
      this.fed = this.boundary = root.length;
    }
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Redirects events, for a session that takes over this stream (XEP-0198 resumption). */
  setHandlers(handlers: StreamParserHandlers): void {
    this.handlers = handlers;
  }

  /** Feeds bytes (or an already decoded string). Returns false once the stream has failed. */
  write(data: Buffer | string): boolean {
    if (this.failed || this.closed) return !this.failed;
    const text = typeof data === 'string' ? data : this.decoder.write(data);
    if (text.length === 0) return true;
    this.parse(text);
    this.flush();
    return !this.failed;
  }

  /** For WebSocket framing: one message must hold exactly one complete element. */
  writeMessage(data: Buffer | string): boolean {
    if (this.failed || this.closed) return !this.failed;
    const text = typeof data === 'string' ? data : data.toString('utf8');
    const before = this.completed;
    this.parse(text);
    if (!this.failed) {
      const trailing = text.slice(Math.max(0, text.length - (this.fed - this.boundary)));
      if (this.completed - before !== 1 || this.depth !== 1 || !/^\s*$/.test(trailing)) {
        this.fail(new Abort('not-well-formed', 'a WebSocket message must hold exactly one complete element'));
      }
    }
    this.flush();
    return !this.failed;
  }

  /** Where saxes is, as an index into everything fed. */
  private get position(): number {
    return this.sax.position + this.skipped;
  }

  private parse(text: string): void {
    if (this.held !== '') {
      text = this.held + text;
      this.held = '';
    } else if (this.idle && this.depth === 1 && /^\s*$/.test(text)) {
      // Whitespace keepalives between stanzas are not fed to saxes at all: it would
      // hold them as text until the next '<', and they would count as stanza size.
      return;
    }
    // Between stanzas with nothing held in saxes, the stanzas simple enough need no saxes at all.
    if (this.fastPath && this.framing === 'stream' && this.depth === 1 && this.boundary === this.fed && !this.closed) {
      const { stanzas, used, partial } = readSimpleStanzas(text, this.contentNs, this.limits.maxStanzaChars, this.limits.maxDepth);
      for (const el of stanzas) this.pending.push({ kind: 'stanza', el });
      if (stanzas.length > 0) this.holds = 0;
      this.completed += stanzas.length;
      this.fed += used;
      this.skipped += used;
      this.boundary = this.fed;
      this.idle = true;
      if (used === text.length) return;
      text = text.slice(used);
      // A stanza cut by the end of a TCP read waits for the rest here rather than going to
      // saxes, which would then have the stream until some read happened to end on a stanza.
      // Bounded, so a stanza trickled in tiny pieces is not scanned again and again.
      if (partial && this.holds < MAX_HOLDS) {
        this.held = text;
        this.holds++;
        this.idle = false;
        return;
      }
      this.holds = 0;
    }
    this.tail = (this.tail + this.chunk).slice(-16);
    this.chunk = text;
    const start = this.fed;
    this.fed += text.length;
    try {
      this.sax.write(text);
      if (this.fed - this.boundary > this.limits.maxStanzaChars) throw new Abort('policy-violation', 'stanza too large');
    } catch (e) {
      this.fail(e);
      return;
    }
    const since = text.slice(Math.max(0, this.boundary - start));
    this.idle = (this.boundary >= start || this.idle) && /^\s*$/.test(since);
  }

  private flush(): void {
    // After a failure the events of the failing chunk are dropped: the stream is over.
    if (this.failed) return;
    while (this.pending.length > 0) {
      const ev = this.pending.shift() as ParsedEvent;
      if (ev.kind === 'stanza') this.handlers.stanza(ev.el);
      else if (ev.kind === 'open') this.handlers.streamOpen(ev.header);
      else this.handlers.streamClose();
    }
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.pending.length = 0;
    if (e instanceof Abort) this.handlers.error(e.condition, e.message);
    else this.handlers.error('not-well-formed', e instanceof Error ? e.message : String(e));
  }

  private abort(condition: StreamErrorCondition, text: string): never {
    throw new Abort(condition, text);
  }

  /** Whether saxes stopped inside `<!X...`, a markup declaration rather than a comment or CDATA. */
  private atMarkupDeclaration(): boolean {
    const context = this.tail + this.chunk;
    const local = this.position - (this.fed - this.chunk.length) + this.tail.length;
    const lt = context.lastIndexOf('<', Math.max(0, local));
    return lt !== -1 && local - lt < 12 && /^<![A-Z]/.test(context.slice(lt, lt + 3));
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
      this.contentNs = tag.ns[''] ?? '';
      this.pending.push({ kind: 'open', header: { name: tag.local, ns: tag.uri, attrs, contentNs: this.contentNs } });
      this.boundary = this.position;
      return;
    }
    if (depth - 1 > this.limits.maxDepth) this.abort('policy-violation', 'elements nested too deeply');
    const el = new Element(tag.local, depth === 2 ? stanzaNamespace(tag.uri) : tag.uri);
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
      this.pending.push({ kind: 'close' });
      return;
    }
    const el = this.stack.pop();
    if (depth !== 2 || !el) return;
    if (this.position - this.boundary > this.limits.maxStanzaChars) this.abort('policy-violation', 'stanza too large');
    this.boundary = this.position;
    this.completed++;
    if (this.framing === 'websocket' && el.ns === NS.framing && (el.name === 'open' || el.name === 'close')) {
      this.pending.push(el.name === 'open' ? { kind: 'open', header: { name: 'open', ns: NS.framing, attrs: el.attrs, contentNs: NS.client } } : { kind: 'close' });
      return;
    }
    this.pending.push({ kind: 'stanza', el });
  }

  private onText(t: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top) {
      top.children.push(t);
      return;
    }
    // Between stanzas only whitespace (keepalives) is allowed.
    if (!/^\s*$/.test(t)) this.abort('not-well-formed', 'text outside of stanzas');
    // saxes reports text when the next '<' arrives, so the position is that of the '<'.
    this.boundary = this.position - 1;
  }
}
