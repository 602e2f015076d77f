import { Element } from './element.js';
import { PREDEFINED_ENTITIES } from './escape.js';
import { stanzaNamespace } from './namespaces.js';

/**
 * A fast path in front of saxes for the stanzas that make up nearly all
 * traffic: unprefixed names, ASCII attribute values without references,
 * text with the five predefined entities at most. saxes reads a character
 * at a time through a state machine, about 90 ns each here; at 10,000 pushes/s
 * it took a third of the main thread, half of it on the app server's
 * 70-character `<iq type='result'/>`s (docs/PERFORMANCE.md). This scanner
 * takes whole runs with sticky regular expressions instead.
 *
 * It never judges: whatever it is not sure of (a prefix, a character
 * reference, CDATA, a comment, `\r`, a control or unpaired surrogate
 * character, a duplicate attribute, a reserved namespace, a stanza over the
 * size or depth limit, or simply the end of the chunk) makes it answer
 * undefined, and saxes parses the stanza and raises whatever error there is.
 * What it does accept it builds exactly as StreamParser builds saxes' events:
 * a differential test (test/unit/simple-stanza.test.ts) holds the two to it.
 */

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const NAME_CHAR = /[A-Za-z0-9_.-]/y;
// Printable ASCII without '&', '<' and the value's own quote: nothing to decode or normalise.
const SINGLE_QUOTED = /[\x20-\x25\x28-\x3b\x3d-\x7e]*/y;
const DOUBLE_QUOTED = /[\x20\x21\x23-\x25\x27-\x3b\x3d-\x7e]*/y;
// XML 1.0 characters but '<', '&', '\r' (which XML would normalise) and surrogates, checked in pairs below.
const TEXT = /[^<&\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]*/y;
const SURROGATE_PAIR = /[\ud800-\udbff][\udc00-\udfff]/y;
const ENTITY = /&(amp|lt|gt|apos|quot);/y;
const LT = 0x3c;
const AMP = 0x26;
const GT = 0x3e;
const SLASH = 0x2f;
const COLON = 0x3a;
const EQUALS = 0x3d;
const SQUOTE = 0x27;
const DQUOTE = 0x22;

/** Namespace names XML reserves: binding them as a default namespace is an error saxes reports. */
const RESERVED = new Set(['http://www.w3.org/XML/1998/namespace', 'http://www.w3.org/2000/xmlns/']);

function match(re: RegExp, s: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(s);
  return m === null ? undefined : m[0];
}

function skipSpace(s: string, at: number): number {
  for (;;) {
    const c = s.charCodeAt(at);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09) return at;
    at++;
  }
}

interface Scan {
  readonly s: string;
  readonly maxDepth: number;
  at: number;
  /** Set when the scan gave up only because the chunk ended: the stanza may yet turn out simple. */
  short: boolean;
}

/** Gives up; `probe` is the furthest index the failed test needed, which tells whether the chunk simply ended. */
function no(scan: Scan, probe: number): undefined {
  scan.short = probe >= scan.s.length;
  return undefined;
}

/** The element whose '<' is at scan.at, at `depth` (the stanza is 1); scan.at ends after it. */
function element(scan: Scan, depth: number, inherited: string): Element | undefined {
  const s = scan.s;
  if (depth > scan.maxDepth) return no(scan, -1);
  const name = match(NAME, s, scan.at + 1);
  if (name === undefined) return no(scan, scan.at + 1);
  let at = scan.at + 1 + name.length;
  if (s.charCodeAt(at) === COLON) return no(scan, -1);
  const attrs: Record<string, string> = {};
  let ns = inherited;
  let declared = false;
  let selfClosing = false;
  for (;;) {
    const before = at;
    at = skipSpace(s, at);
    const c = s.charCodeAt(at);
    if (c === GT) {
      at++;
      break;
    }
    if (c === SLASH) {
      if (s.charCodeAt(at + 1) !== GT) return no(scan, at + 1);
      at += 2;
      selfClosing = true;
      break;
    }
    if (at === before) return no(scan, at); // attributes need space between them
    let attr = match(NAME, s, at);
    if (attr === undefined) return no(scan, at);
    at += attr.length;
    if (s.charCodeAt(at) === COLON) {
      if (attr !== 'xml' || !s.startsWith(':lang', at)) return no(scan, attr === 'xml' ? at + 4 : -1);
      attr = 'xml:lang';
      at += 5;
      if (match(NAME_CHAR, s, at) !== undefined) return no(scan, -1); // xml:language and the like
    }
    at = skipSpace(s, at);
    if (s.charCodeAt(at) !== EQUALS) return no(scan, at);
    at = skipSpace(s, at + 1);
    const quote = s.charCodeAt(at);
    if (quote !== SQUOTE && quote !== DQUOTE) return no(scan, at);
    const value = match(quote === SQUOTE ? SINGLE_QUOTED : DOUBLE_QUOTED, s, at + 1) as string;
    at += 1 + value.length;
    if (s.charCodeAt(at) !== quote) return no(scan, at);
    at++;
    if (attr === 'xmlns') {
      if (declared || value === '' || RESERVED.has(value)) return no(scan, -1);
      declared = true;
      ns = value;
    } else {
      if (attr in attrs) return no(scan, -1);
      attrs[attr] = value;
    }
  }
  // StreamParser gives every stanza the client namespace, whichever stream it came on; its children keep theirs.
  const el = new Element(name, depth === 1 ? stanzaNamespace(ns) : ns, attrs);
  scan.at = at;
  if (selfClosing) return el;
  for (;;) {
    const text = textRun(scan);
    if (text === undefined) return undefined;
    if (text !== '') el.children.push(text);
    at = scan.at;
    if (at >= s.length) return no(scan, at);
    if (s.charCodeAt(at + 1) === SLASH) {
      const closing = match(NAME, s, at + 2);
      if (closing !== name) return no(scan, at + 2 + (closing ?? '').length);
      at = skipSpace(s, at + 2 + name.length);
      if (s.charCodeAt(at) !== GT) return no(scan, at);
      scan.at = at + 1;
      return el;
    }
    const child = element(scan, depth + 1, ns);
    if (child === undefined) return undefined;
    el.children.push(child);
  }
}

/** Character data up to the next '<' (or the end), decoded; undefined if it holds anything this path leaves to saxes. */
function textRun(scan: Scan): string | undefined {
  const s = scan.s;
  let at = scan.at;
  let out = '';
  for (;;) {
    const plain = match(TEXT, s, at) as string;
    // ']]>' may not appear in text. It can only lie within one such run: a reference or a surrogate pair breaks it.
    if (plain.includes(']]>')) return no(scan, -1);
    out += plain;
    at += plain.length;
    // Most runs end at '<' or the end of the chunk: only a '&' or a surrogate needs a second look.
    const c = s.charCodeAt(at);
    if (c >= 0xd800 && c <= 0xdbff) {
      const pair = match(SURROGATE_PAIR, s, at);
      if (pair !== undefined) {
        out += pair;
        at += 2;
        continue;
      }
    } else if (c === AMP) {
      ENTITY.lastIndex = at;
      const entity = ENTITY.exec(s);
      if (entity !== null) {
        out += PREDEFINED_ENTITIES[entity[1] as string];
        at += entity[0].length;
        continue;
      }
    }
    break;
  }
  // Anything but '<' here is left to saxes, unless the chunk ended inside what may be a reference or a pair.
  if (at < s.length && s.charCodeAt(at) !== LT) return no(scan, s.charCodeAt(at) === AMP ? at + 5 : at + 1);
  scan.at = at;
  return out;
}

export interface SimpleStanzas {
  stanzas: Element[];
  /** Characters taken, up to the '<' of the first stanza left to saxes (or the end). */
  used: number;
  /** The stanza left to saxes was simple as far as the chunk went: with more input it may still be read here. */
  partial: boolean;
}

/**
 * The complete simple stanzas at the start of `s`, and the whitespace between
 * them, read while the stream sits between stanzas at depth 1. `contentNs` is
 * the stream's default namespace; no stanza may be longer than `maxChars`.
 */
export function readSimpleStanzas(s: string, contentNs: string, maxChars: number, maxDepth: number): SimpleStanzas {
  const stanzas: Element[] = [];
  let used = 0;
  const scan: Scan = { s, maxDepth, at: 0, short: false };
  for (;;) {
    const start = skipSpace(s, used);
    if (start === s.length || s.charCodeAt(start) !== LT) return { stanzas, used: start, partial: false };
    scan.at = start;
    const el = element(scan, 1, contentNs);
    if (el === undefined) return { stanzas, used: start, partial: scan.short && s.length - start <= maxChars };
    if (scan.at - start > maxChars) return { stanzas, used: start, partial: false };
    stanzas.push(el);
    used = scan.at;
  }
}
