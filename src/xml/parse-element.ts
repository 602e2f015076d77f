import { Element } from './element.js';
import { StreamParser } from './stream-parser.js';

const LIMITS = { maxStanzaChars: Number.MAX_SAFE_INTEGER, maxDepth: 256 };

/**
 * Parses one stored element (offline messages, archived stanzas) back into
 * an Element. Stored XML was written by us, so it is trusted to be small and
 * well-formed; a failure still throws rather than returning half a stanza.
 */
export function parseElement(xml: string): Element {
  let result: Element | undefined;
  let error: string | undefined;
  const parser = new StreamParser(
    {
      streamOpen: () => undefined,
      stanza: (el) => {
        result ??= el;
      },
      streamClose: () => undefined,
      error: (_c, text) => {
        error = text;
      },
    },
    LIMITS,
    'websocket',
  );
  parser.writeMessage(xml);
  if (error !== undefined || !result) throw new Error(`stored XML does not parse: ${error ?? 'no element'}`);
  return result;
}
