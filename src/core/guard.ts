import type { ServerContext } from './context.js';

type Guardable = Pick<ServerContext, 'store' | 'log'>;

/**
 * Runs work that no input chunk carries (a timer, a closed connection, a
 * chore) the way input is handled: in one storage transaction. A failure (a
 * locked, full or broken database, a bug) is logged, never thrown into the
 * timer or socket callback, where it would end the process.
 */
export function guarded(ctx: Guardable, what: string, work: () => void): boolean {
  try {
    ctx.store.transaction(work);
    return true;
  } catch (e) {
    ctx.log.error({ err: e, what }, 'background work failed');
    return false;
  }
}

/** A storage chore now and every `ms`; a run that fails is simply tried again next time. */
export function chore(ctx: Guardable, what: string, ms: number, work: () => void): void {
  const run = (): void => void guarded(ctx, what, work);
  run();
  setInterval(run, ms).unref();
}
