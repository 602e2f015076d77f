import type { ClientSession, OutputFilter } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import { classify } from '../core/importance.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

/**
 * Client State Indication (XEP-0352). While a client says it is inactive,
 * stanzas the importance classifier calls unimportant are held back, and a
 * contact's newer presence replaces its older one; the first important
 * stanza, an IQ (someone waits for the answer), a full buffer or the client
 * becoming active releases everything, in order.
 */
class Held {
  readonly stanzas: Element[] = [];
  /** Index of each sender's held presence, so only the latest is kept. */
  private readonly presence = new Map<string, number>();

  constructor(
    private readonly session: ClientSession,
    private readonly max: number,
  ) {}

  readonly filter: OutputFilter = (stanza) => {
    if (stanza.name === 'iq' || classify(stanza).important) {
      this.flush();
      return false;
    }
    if (stanza.name === 'presence') {
      const from = stanza.attrs.from ?? '';
      const i = this.presence.get(from);
      if (i !== undefined) {
        this.stanzas[i] = stanza;
        return true;
      }
      this.presence.set(from, this.stanzas.length);
    }
    this.stanzas.push(stanza);
    if (this.stanzas.length >= this.max) this.flush();
    return true;
  };

  flush(): void {
    const out = this.stanzas.splice(0);
    this.presence.clear();
    for (const s of out) this.session.release(s);
  }
}

function install(ctx: ServerContext): void {
  const held = new WeakMap<ClientSession, Held>();
  ctx.streamFeatures.add('post-auth', () => x('csi', { xmlns: NS.csi }));

  const activate = (session: ClientSession): void => {
    const h = held.get(session);
    if (!h) return;
    held.delete(session);
    const i = session.filters.indexOf(h.filter);
    if (i !== -1) session.filters.splice(i, 1);
    h.flush();
  };

  ctx.streamFeatures.handleNonza(NS.csi, (session, el) => {
    if (session.state !== 'bound') return session.streamError('unsupported-stanza-type', 'bind a resource first');
    if (el.name === 'active') {
      activate(session);
      ctx.bus.fire('session/activity', { session, kind: 'active' });
    } else if (el.name === 'inactive') {
      if (held.has(session)) return;
      const h = new Held(session, ctx.config.csi.max_held);
      held.set(session, h);
      session.filters.push(h.filter);
    }
  });

  // Held stanzas were never sent: when the connection dies they join the hibernation queue.
  ctx.bus.on('sm/hibernated', ({ session }) => activate(session));
  // A session ending while inactive: what is worth keeping gets the same second chance as unacknowledged stanzas.
  ctx.bus.on(
    'session/closed',
    ({ session }) => {
      const h = held.get(session);
      if (!h) return;
      held.delete(session);
      for (const stanza of h.stanzas.splice(0)) {
        if (stanza.name === 'message') ctx.bus.fire('message/undelivered', { stanza, host: session.host, username: session.username });
      }
    },
    10,
  );
}

export const csiModule: HeraldModule = { name: 'csi', install };
