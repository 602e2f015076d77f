import { escapeAttr, escapeText } from './escape.js';

export type Attrs = Record<string, string>;
export type XmlNode = Element | string;

/**
 * Marks an element built without a namespace: it takes its parent's when
 * attached (or the stream's when written). Distinct from '', which is XML's
 * "no namespace" (`xmlns=''`) and must survive a round trip.
 */
export const INHERIT = '\u0000inherit';

/**
 * An XML element with an explicit namespace on every node.
 *
 * Keeping `ns` resolved on each element (rather than walking up to find the
 * nearest `xmlns`, as ltx does) lets handlers move subtrees between stanzas and
 * streams without changing their meaning.
 */
export class Element {
  name: string;
  ns: string;
  attrs: Attrs;
  children: XmlNode[];

  constructor(name: string, ns: string = INHERIT, attrs: Attrs = {}, children: XmlNode[] = []) {
    this.name = name;
    this.ns = ns;
    this.attrs = attrs;
    this.children = children;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  is(name: string, ns?: string): boolean {
    return this.name === name && (ns === undefined || this.ns === ns);
  }

  getChild(name: string, ns?: string): Element | undefined {
    for (const c of this.children) {
      if (typeof c !== 'string' && c.name === name && (ns === undefined || c.ns === ns)) return c;
    }
    return undefined;
  }

  getChildByNs(ns: string): Element | undefined {
    for (const c of this.children) if (typeof c !== 'string' && c.ns === ns) return c;
    return undefined;
  }

  getChildren(name: string, ns?: string): Element[] {
    const out: Element[] = [];
    for (const c of this.children) {
      if (typeof c !== 'string' && c.name === name && (ns === undefined || c.ns === ns)) out.push(c);
    }
    return out;
  }

  elements(): Element[] {
    const out: Element[] = [];
    for (const c of this.children) if (typeof c !== 'string') out.push(c);
    return out;
  }

  firstElement(): Element | undefined {
    for (const c of this.children) if (typeof c !== 'string') return c;
    return undefined;
  }

  /** Concatenated direct text content. */
  text(): string {
    let s = '';
    for (const c of this.children) if (typeof c === 'string') s += c;
    return s;
  }

  getChildText(name: string, ns?: string): string | undefined {
    return this.getChild(name, ns)?.text();
  }

  append(...nodes: (XmlNode | null | undefined | false)[]): this {
    for (const n of nodes) {
      if (n === null || n === undefined || n === false) continue;
      if (typeof n !== 'string') n.inherit(this.ns);
      this.children.push(n);
    }
    return this;
  }

  /** Removes every child element with this name and namespace. */
  remove(name: string, ns?: string): this {
    this.children = this.children.filter((c) => typeof c === 'string' || !(c.name === name && (ns === undefined || c.ns === ns)));
    return this;
  }

  clone(): Element {
    const children = this.children.map((c) => (typeof c === 'string' ? c : c.clone()));
    return new Element(this.name, this.ns, { ...this.attrs }, children);
  }

  /** Gives this subtree's unresolved namespaces a concrete one. */
  inherit(ns: string): void {
    if (this.ns !== INHERIT || ns === INHERIT) return;
    this.ns = ns;
    for (const c of this.children) if (typeof c !== 'string') c.inherit(ns);
  }

  /**
   * Serialises this element. `scopeNs` is the default namespace already in
   * force where the element is written, so xmlns is only emitted on change.
   */
  toString(scopeNs = ''): string {
    return this.write(scopeNs);
  }

  write(scopeNs: string): string {
    let s = '<' + this.name;
    const ns = this.ns === INHERIT ? scopeNs : this.ns;
    if (ns !== scopeNs) s += " xmlns='" + escapeAttr(ns) + "'";
    const attrs = this.attrs;
    for (const k in attrs) {
      const v = attrs[k];
      if (v !== undefined) s += ' ' + k + "='" + escapeAttr(v) + "'";
    }
    const children = this.children;
    if (children.length === 0) return s + '/>';
    s += '>';
    for (const c of children) s += typeof c === 'string' ? escapeText(c) : c.write(ns);
    return s + '</' + this.name + '>';
  }
}

type Child = XmlNode | null | undefined | false | Child[];

/**
 * Builder: `x('message', { to, type: 'chat', xmlns: 'jabber:client' }, x('body', {}, 'hi'))`.
 * `xmlns` in attrs sets the element namespace; attributes whose value is
 * undefined are left out, which keeps optional attributes terse at call sites.
 */
export function x(name: string, attrs: Record<string, string | undefined> | null = null, ...children: Child[]): Element {
  const el = new Element(name);
  if (attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v === undefined) continue;
      if (k === 'xmlns') el.ns = v;
      else el.attrs[k] = v;
    }
  }
  appendAll(el, children);
  return el;
}

function appendAll(el: Element, children: Child[]): void {
  for (const c of children) {
    if (Array.isArray(c)) appendAll(el, c);
    else el.append(c);
  }
}
