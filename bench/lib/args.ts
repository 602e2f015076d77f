import { BenchError } from './raw-client.js';

/** The options every bench script takes to reach a server and its accounts <prefix>N. */
export const serverArgs = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string' },
  domain: { type: 'string', default: 'localhost' },
  'user-prefix': { type: 'string', default: 'u' },
  password: { type: 'string' },
} as const;

/** Reads integer options of bench/<prog>.ts; a bad one ends the run with a hint (exit 2). */
export function intArgs(prog: string): (name: string, s: string | undefined, min: number) => number {
  return (name, s, min) => {
    const n = Number(s);
    if (s === undefined || !Number.isInteger(n) || n < min) {
      console.error(`${prog}: --${name} needs an integer >= ${min} (got ${s ?? 'nothing'}); see the header of bench/${prog}.ts`);
      process.exit(2);
    }
    return n;
  };
}

/** A failed setup (no server, refused login...) ends the run with one line, not a stack trace. */
export function exitOnSetupError(prog: string): void {
  process.on('uncaughtException', (e) => {
    console.error(`${prog}: ${e instanceof BenchError ? e.message : e.stack ?? String(e)}`);
    process.exit(e instanceof BenchError ? 5 : 1);
  });
}
