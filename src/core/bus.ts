/**
 * A synchronous event bus with priorities, in the spirit of Prosody's
 * `module:hook`. Handlers run from highest to lowest priority (ties in
 * registration order); the first handler that returns something other than
 * `undefined` stops the chain and its value is returned by `fire`. Returning
 * `true` therefore means "handled".
 *
 * Handlers are synchronous so that a routing decision, a storage write and
 * the events it causes happen as one step; asynchronous work is started
 * from a handler, not awaited by the bus.
 */
type Handler<P> = (payload: P) => unknown;

interface Entry {
  handler: Handler<never>;
  priority: number;
  order: number;
}

export class EventBus<M extends object> {
  private readonly handlers = new Map<string, Entry[]>();
  private counter = 0;

  on<K extends keyof M & string>(name: K, handler: Handler<M[K]>, priority = 0): () => void {
    const list = this.handlers.get(name) ?? [];
    const entry: Entry = { handler: handler as Handler<never>, priority, order: this.counter++ };
    list.push(entry);
    list.sort((a, b) => b.priority - a.priority || a.order - b.order);
    this.handlers.set(name, list);
    return () => {
      const current = this.handlers.get(name);
      if (!current) return;
      const i = current.indexOf(entry);
      if (i !== -1) current.splice(i, 1);
    };
  }

  has(name: keyof M & string): boolean {
    return (this.handlers.get(name)?.length ?? 0) > 0;
  }

  fire<K extends keyof M & string>(name: K, payload: M[K]): unknown {
    const list = this.handlers.get(name);
    if (!list) return undefined;
    for (const e of list.length > 1 ? list.slice() : list) {
      const r = (e.handler as Handler<M[K]>)(payload);
      if (r !== undefined) return r;
    }
    return undefined;
  }
}
