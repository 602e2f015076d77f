import type { ServerContext } from '../core/context.js';
import type { NewPushRegistration } from '../storage/types.js';

/**
 * Stores a registration (replacing one with the same service and node) and
 * lets the oldest of the user's registrations, of any front-end, make room
 * beyond push.max_devices.
 */
export function addRegistration(ctx: ServerContext, reg: NewPushRegistration): number {
  return ctx.store.transaction(() => {
    const id = ctx.store.pushRegistrations.upsert(reg);
    const all = ctx.store.pushRegistrations.forUser(reg.host, reg.username);
    for (const old of all.slice(0, Math.max(0, all.length - ctx.config.push.max_devices))) ctx.store.pushRegistrations.removeById(old.id);
    return id;
  });
}
