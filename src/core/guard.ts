import type { Logger } from 'pino';
import type { Store } from '../storage/types.js';
import type { ServerContext } from './context.js';

/**
 * Runs work in one storage transaction. A failure (a locked, full or broken
 * database, a bug) is logged as `failure` and reported as false, never
 * thrown into the socket or timer callback that called it, where it would end
 * the process.
 */
export function committed(store: Store, log: Logger, failure: string, work: () => void, context: object = {}): boolean {
  try {
    store.transaction(work);
    // With a storage thread a failed write is only known at the turn's commit.
    if (store.failsLate) store.whenCommitted((ok) => ok || log.error(context, failure));
    return true;
  } catch (e) {
    log.error({ err: e, ...context }, failure);
    return false;
  }
}

/** Work that no input chunk carries (a timer, a closed connection, a chore), handled the way input is. */
export function guarded(ctx: Pick<ServerContext, 'store' | 'log'>, what: string, work: () => void): boolean {
  return committed(ctx.store, ctx.log, 'background work failed', work, { what });
}

/** A storage chore now and every `ms`; a run that fails is simply tried again next time. */
export function chore(ctx: Pick<ServerContext, 'store' | 'log'>, what: string, ms: number, work: () => void): void {
  const run = (): void => void guarded(ctx, what, work);
  run();
  setInterval(run, ms).unref();
}
