import { domainToASCII } from 'node:url';

/**
 * A parsed, normalised JID (RFC 7622).
 *
 * Normalisation approximates the PRECIS profiles with what Node offers:
 * UsernameCaseMapped for the localpart (see normalizeLocal), IDNA-to-ASCII
 * validation and lower-casing for the domain, NFC for the resource
 * (OpaqueString). Unicode property classes stand in for PRECIS's derived
 * property tables, which is exact for the JIDs real clients send.
 */
export class Jid {
  private bareCache: Jid | undefined;
  private str: string | undefined;

  constructor(
    readonly local: string,
    readonly domain: string,
    readonly resource: string,
  ) {}

  get isBare(): boolean {
    return this.resource === '';
  }

  get isDomain(): boolean {
    return this.local === '' && this.resource === '';
  }

  bare(): Jid {
    if (this.resource === '') return this;
    return (this.bareCache ??= new Jid(this.local, this.domain, ''));
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, resource);
  }

  get bareString(): string {
    return this.bare().toString();
  }

  equals(other: Jid | null | undefined): boolean {
    return !!other && this.local === other.local && this.domain === other.domain && this.resource === other.resource;
  }

  toString(): string {
    if (this.str !== undefined) return this.str;
    let s = this.local === '' ? this.domain : this.local + '@' + this.domain;
    if (this.resource !== '') s += '/' + this.resource;
    return (this.str = s);
  }
}

const LOCAL_FORBIDDEN = /["&'/:<>@\s\u0000-\u001f\u007f]/u;
const CONTROL = /[\u0000-\u001f\u007f]/u;
const MAX_PART = 1023;

/** PRECIS IdentifierClass, approximated: letters, digits and combining marks, or printable ASCII. */
const IDENTIFIER_CHAR = /^(?:[\x21-\x7e]|\p{L}|\p{Nd}|\p{Mn}|\p{Mc})$/u;

/**
 * UsernameCaseMapped (RFC 8265 §3.3): width mapping, lower-casing, NFC, then
 * only IdentifierClass characters; a character with a compatibility
 * decomposition (Ⅳ, ﬁ) is refused rather than silently rewritten.
 */
export function normalizeLocal(local: string): string | null {
  if (local === '') return null;
  const n = local
    .replace(/[\uff01-\uffef]/gu, (c) => c.normalize('NFKC'))
    .toLowerCase()
    .normalize('NFC');
  if (LOCAL_FORBIDDEN.test(n) || Buffer.byteLength(n) > MAX_PART) return null;
  for (const c of n) if (!IDENTIFIER_CHAR.test(c) || c.normalize('NFKC') !== c) return null;
  return n;
}

export function normalizeDomain(domain: string): string | null {
  let d = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (d === '') return null;
  if (d.startsWith('[') && d.endsWith(']')) return d.toLowerCase(); // IPv6 literal
  d = d.normalize('NFKC').toLowerCase();
  if (/[\s/@]/u.test(d)) return null;
  // domainToASCII returns '' for names IDNA rejects; we keep the Unicode form when it is valid.
  if (!/^[\x21-\x7e]*$/.test(d)) {
    if (domainToASCII(d) === '') return null;
  } else if (!/^[a-z0-9._-]+$/.test(d) || d.split('.').some((label) => label === '' || label.length > 63)) {
    return null;
  }
  if (Buffer.byteLength(d) > MAX_PART) return null;
  return d;
}

export function normalizeResource(resource: string): string | null {
  if (resource === '') return null;
  const n = resource.normalize('NFC');
  if (CONTROL.test(n) || Buffer.byteLength(n) > MAX_PART) return null;
  return n;
}

/**
 * Every stanza's to and from are parsed, and a few thousand distinct JIDs make
 * up nearly all of them; normalisation (NFKC, IDNA checks) was 3% of the CPU
 * of a routed message. Jid is immutable, so parsed ones are shared. Bounded:
 * cleared when full rather than tracked per entry.
 */
const parsed = new Map<string, Jid | null>();
const PARSED_MAX = 10_000;
/** Longer strings are parsed each time: a peer sending long random JIDs could otherwise fill the cache with megabytes. */
const CACHED_MAX_LENGTH = 256;

/** Parses and normalises a JID; null when it is not a valid JID. */
export function parseJid(s: string): Jid | null {
  if (s.length > CACHED_MAX_LENGTH) return parseUncached(s);
  let j = parsed.get(s);
  if (j !== undefined) return j;
  j = parseUncached(s);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(s, j);
  return j;
}

function parseUncached(s: string): Jid | null {
  const slash = s.indexOf('/');
  const head = slash === -1 ? s : s.slice(0, slash);
  const at = head.indexOf('@');
  let local = '';
  if (at !== -1) {
    const l = normalizeLocal(head.slice(0, at));
    if (l === null) return null;
    local = l;
  }
  const domain = normalizeDomain(at === -1 ? head : head.slice(at + 1));
  if (domain === null) return null;
  let resource = '';
  if (slash !== -1) {
    const r = normalizeResource(s.slice(slash + 1));
    if (r === null) return null;
    resource = r;
  }
  return new Jid(local, domain, resource);
}

export function mustParseJid(s: string): Jid {
  const j = parseJid(s);
  if (!j) throw new Error(`invalid JID: ${s}`);
  return j;
}
