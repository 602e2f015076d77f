/**
 * Splits a stream's input into top-level elements without parsing XML, for
 * the bench's raw clients. It relies on what the bench controls: no top-level
 * element contains another of the same name (no carbons, no MAM results),
 * and attribute values hold no '>'. Whitespace keepalives and a closing
 * `</stream:stream>` are skipped.
 */

/** One complete top-level element: its name and where it lies in `buf` (`headEnd` is the '>' of the start tag). */
export type ElementVisitor = (name: string, buf: string, start: number, headEnd: number, end: number) => void;

/** Visits every complete top-level element of `buf`; returns the offset where the unconsumed rest starts. */
export function scanElements(buf: string, visit: ElementVisitor): number {
  let pos = 0;
  for (;;) {
    const lt = buf.indexOf('<', pos);
    if (lt === -1) return buf.length;
    const headEnd = buf.indexOf('>', lt);
    if (headEnd === -1) return lt;
    if (buf.charCodeAt(lt + 1) === 47 /* '/' */ || buf.charCodeAt(lt + 1) === 63 /* '?' */) {
      pos = headEnd + 1; // a stray end tag (the stream's) or an XML declaration
      continue;
    }
    let nameEnd = lt + 1;
    for (let c = buf.charCodeAt(nameEnd); c !== 32 && c !== 47 && c !== 62 && c !== 9 && c !== 10 && c !== 13; c = buf.charCodeAt(++nameEnd));
    const name = buf.slice(lt + 1, nameEnd);
    let end: number;
    if (buf.charCodeAt(headEnd - 1) === 47 || name === 'stream:stream') {
      end = headEnd + 1;
    } else {
      const close = buf.indexOf(`</${name}>`, headEnd);
      if (close === -1) return lt;
      end = close + name.length + 3;
    }
    visit(name, buf, lt, headEnd, end);
    pos = end;
  }
}

const attrPatterns = new Map<string, RegExp>();

/** The value of attribute `name` in a start tag (`head` is the tag's text), or undefined. */
export function attr(head: string, name: string): string | undefined {
  let re = attrPatterns.get(name);
  if (re === undefined) attrPatterns.set(name, (re = new RegExp(`\\s${name}=(['"])([^'"]*)\\1`)));
  return re.exec(head)?.[2];
}

