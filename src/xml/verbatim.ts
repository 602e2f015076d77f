import { Element } from './element.js';
import { parseElement } from './parse-element.js';

/** `<name xmlns='ns'`: how our own serialiser starts an element written at the top level. */
const OWN_ROOT = /^<([A-Za-z_][\w.-]*) xmlns='([^'<>&]*)'[ />]/;

/**
 * An element that we serialised ourselves and stored (a push payload in the
 * outbox), sent again as the same text instead of being parsed and
 * serialised once more: parsing was half the cost of sending a stored push.
 * It is opaque, with a name and a namespace but no children to inspect, so
 * it suits only a payload that is passed along, never read.
 */
class Verbatim extends Element {
  constructor(
    name: string,
    ns: string,
    private readonly xml: string,
  ) {
    super(name, ns);
  }

  override write(): string {
    return this.xml;
  }

  override clone(): Element {
    return this;
  }
}

/** Stored XML of our own as an element to pass along; anything else is parsed. */
export function storedElement(xml: string): Element {
  const root = OWN_ROOT.exec(xml);
  return root ? new Verbatim(root[1] as string, root[2] as string, xml) : parseElement(xml);
}
