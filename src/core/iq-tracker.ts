import { randomBytes } from 'node:crypto';
import type { Element } from '../xml/element.js';

interface Pending {
  resolve(el: Element): void;
  timer: NodeJS.Timeout;
  to: string;
}

/** IQs the server itself sent and awaits an answer to, matched by id and by who answers. */
export class IqTracker {
  private readonly pending = new Map<string, Pending>();

  /** A random prefix and a counter: unique for this process; answers are matched by sender too, so guessing one gains nothing. */
  private readonly prefix = randomBytes(6).toString('base64url');
  private counter = 0;

  newId(): string {
    return `${this.prefix}${(++this.counter).toString(36)}`;
  }

  /** Resolves with the result or error stanza, or with null on timeout. */
  expect(id: string, to: string, timeoutMs: number): Promise<Element | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, timer, to });
    });
  }

  /** True when the stanza answered one of ours. */
  settle(stanza: Element, from: string): boolean {
    const id = stanza.attrs.id;
    if (id === undefined) return false;
    const p = this.pending.get(id);
    // An answer must come from where the request went, or anyone could settle it.
    if (!p || p.to !== from) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(stanza);
    return true;
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}

export const newStanzaId = (): string => randomBytes(9).toString('base64url');
