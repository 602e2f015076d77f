import type { Element } from '../xml/element.js';
import type { ClientSession } from './c2s-session.js';
import type { HeraldModule, ServerContext } from './context.js';
import type { PushReason } from './events.js';
import { classify } from './importance.js';

/**
 * The push trigger, in one place: it turns the core's own signals (stored
 * offline, archived, queued while hibernating, left unacknowledged) into the
 * single `push/trigger` event that every push protocol subscribes to.
 *
 * - offline: a message was stored offline (no available resource);
 * - archived: a message to the user was archived while no session of theirs
 *   was connected and available to take it live;
 * - hibernated: a stanza was queued for a hibernating session, or was still
 *   unacknowledged when the session's connection died (one event each);
 * - ack-delayed: a connected session left stanzas unacknowledged for longer
 *   than sm.max_ack_delay (one event per stanza still unacknowledged).
 *
 * The same stanza may trigger several reasons (archived, then offline);
 * deduplication per registration is the push pipeline's job.
 */
function install(ctx: ServerContext): void {
  const emit = (reason: PushReason, host: string, username: string, stanza: Element, session: ClientSession | null, archiveId?: string): void => {
    // One literal of one shape: spreading a second object cost as much as the rest of emit.
    ctx.bus.fire('push/trigger', { reason, host, username, stanza, session, importance: classify(stanza), archiveId });
  };
  const hasLiveSession = (bare: string): boolean => ctx.sessions.forUser(bare).some((s) => s.connected && s.available);

  ctx.bus.on('offline/stored', (e) => emit('offline', e.host, e.username, e.stanza, null));
  ctx.bus.on('archive/stored', (e) => {
    if (e.direction !== 'in' || hasLiveSession(`${e.username}@${e.host}`)) return;
    emit('archived', e.host, e.username, e.stanza, null, e.id);
  });
  ctx.bus.on('sm/hibernated', ({ session, stanzas }) => {
    for (const stanza of stanzas) emit('hibernated', session.host, session.username, stanza, session);
  });
  ctx.bus.on('sm/queued', ({ session, stanza }) => emit('hibernated', session.host, session.username, stanza, session));
  ctx.bus.on('sm/ack-delayed', ({ session, stanzas }) => {
    for (const stanza of stanzas) emit('ack-delayed', session.host, session.username, stanza, session);
  });
}

export const pushTriggerModule: HeraldModule = { name: 'push-trigger', install };
