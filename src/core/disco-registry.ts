import type { Element } from '../xml/element.js';

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

/**
 * Features and identities every module adds to, answered by the disco
 * module (XEP-0030) for the server (`host`) and for accounts (`account`).
 * Extension forms (XEP-0128) are built per request, since some carry
 * per-server data such as a public key.
 */
export class DiscoRegistry {
  readonly host = {
    identities: [] as Identity[],
    features: new Set<string>(),
    forms: [] as (() => Element)[],
    /** disco#items of the server: connected components and services, by JID, with an optional name. */
    items: new Map<string, string | undefined>(),
  };
  readonly account = { identities: [] as Identity[], features: new Set<string>(), forms: [] as (() => Element)[] };
}
