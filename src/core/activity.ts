import type { HeraldModule } from './context.js';
import { NS } from '../xml/namespaces.js';

/**
 * Session activity for grace periods: the user wrote a message or a chat
 * state on some device. (Becoming active under CSI is fired by the CSI module.)
 */
export const activityModule: HeraldModule = {
  name: 'activity',
  install(ctx) {
    ctx.bus.on(
      'message/outbound',
      ({ stanza, origin }) => {
        if (!origin) return undefined;
        const body = stanza.getChildText('body', NS.client);
        if (body !== undefined && body.trim() !== '') ctx.bus.fire('session/activity', { session: origin, kind: 'message' });
        else if (stanza.getChildByNs(NS.chatStates)) ctx.bus.fire('session/activity', { session: origin, kind: 'chat-state' });
        return undefined;
      },
      100,
    );
  },
};
