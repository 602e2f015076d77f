// XML escaping for text nodes and single-quoted attribute values.

const TEXT_TEST = /[&<>]/;
const TEXT_ALL = /[&<>]/g;
const ATTR_TEST = /[&<>'"]/;
const ATTR_ALL = /[&<>'"]/g;
/** XML's five predefined entities, by name. */
export const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', apos: "'", quot: '"' };
const ENTITIES: Record<string, string> = Object.fromEntries(Object.entries(PREDEFINED_ENTITIES).map(([name, c]) => [c, `&${name};`]));
const replace = (c: string): string => ENTITIES[c] as string;

// The test-first path matters: most text in a stanza needs no escaping at all.
export function escapeText(s: string): string {
  return TEXT_TEST.test(s) ? s.replace(TEXT_ALL, replace) : s;
}

export function escapeAttr(s: string): string {
  return ATTR_TEST.test(s) ? s.replace(ATTR_ALL, replace) : s;
}
