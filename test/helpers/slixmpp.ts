import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeraldProcess } from './herald.js';
import { TEST_CERT } from './test-cert.js';

/**
 * Running the slixmpp interop scenarios (test/interop/slixmpp/*.py) with
 * Debian's python3-slixmpp: shared by the test/interop/slixmpp*.interop.ts
 * suites. Each script prints one JSON line of what slixmpp observed.
 */

const PYTHON = '/usr/bin/python3';
const SCRIPTS = fileURLToPath(new URL('../interop/slixmpp/', import.meta.url));
const INSTALL_HINT =
  'slixmpp is not importable by /usr/bin/python3. Install Debian\'s package: ' +
  '`sudo apt-get install python3-slixmpp` (the interop suite must not be skipped; .ci/run installs it).';

// Observations are whatever JSON a script printed; the assertions give them their shape.
export type Json = Record<string, any>;

interface PyResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The environment for /usr/bin/python3: nothing from a pyenv or virtualenv that could shadow Debian's modules. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1' };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONUSERBASE', 'VIRTUAL_ENV']) delete env[k];
  return env;
}

function python(args: string[], timeoutMs: number): Promise<PyResult> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { env: pythonEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string | null }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr: e && typeof e.code === 'string' ? `${e.message}\n${stderr}` : stderr,
      });
    });
  });
}

let slixmppCheck: Promise<string> | undefined;

/** slixmpp's version, or a failure telling how to install it (never a skip). */
export function slixmppVersion(): Promise<string> {
  slixmppCheck ??= python(['-c', 'import slixmpp; print(slixmpp.__version__)'], 20_000).then((r) => {
    if (r.code !== 0) throw new Error(`${INSTALL_HINT}\n${r.stderr.trim()}`);
    return r.stdout.trim();
  });
  return slixmppCheck;
}

interface RunOptions {
  /** Expected exit code of the script; 0 unless a test looks at a failure on purpose. */
  code?: number;
  ca?: string;
}

/** Runs one scenario script against `h` and returns its JSON observations after checking its exit code. */
export async function scenario(h: HeraldProcess, script: string, args: string[], opts: RunOptions = {}): Promise<Json> {
  await slixmppVersion();
  const argv = [
    join(SCRIPTS, script),
    '--host', '127.0.0.1',
    '--port', String(h.c2sPort),
    '--domain', h.domain,
    '--ca', opts.ca ?? TEST_CERT.certPath,
    ...args,
  ];
  // The scripts give up by themselves after 20 s (a hard alarm at 25 s); this is the backstop.
  const r = await python(argv, 40_000);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  let observed: Json | undefined;
  try {
    observed = last === undefined ? undefined : (JSON.parse(last) as Json);
  } catch {
    observed = undefined;
  }
  const context = `${script} ${args.join(' ')}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr:\n${r.stderr.split('\n').slice(-60).join('\n')}`;
  assert.ok(observed, `no JSON line on stdout from ${context}`);
  assert.equal(r.code, opts.code ?? 0, `unexpected exit code from ${context}\nherald:\n${h.output.slice(-15).join('\n')}`);
  assert.equal(observed.ok, (opts.code ?? 0) === 0, context);
  return observed;
}

/** Herald's own JSON log lines with one of the messages `msgs`, written while `fn` ran. */
export async function serverLog<T>(h: HeraldProcess, msgs: string[], fn: () => Promise<T>): Promise<[T, Json[]]> {
  const from = h.output.length;
  const result = await fn();
  await new Promise((r) => setTimeout(r, 100)); // log lines arrive through a pipe
  const lines = h.output
    .slice(from)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json)
    .filter((l) => msgs.includes(l.msg as string));
  return [result, lines];
}

/** Herald's own "authenticated" log lines written while `fn` ran: the mechanism as the server saw it. */
export function serverAuthLog<T>(h: HeraldProcess, fn: () => Promise<T>): Promise<[T, Json[]]> {
  return serverLog(h, ['authenticated'], fn);
}

export const user = (name: string): string[] => ['--user', name, '--password', `${name}-pass`];
export const pair = (a: string, b: string): string[] => [...user(a), '--contact', b, '--contact-password', `${b}-pass`];

/** Waits for a file the scenario script creates; fails early if the script ends first. */
export async function scriptReached(path: string, script: Promise<Json>, timeoutMs: number): Promise<void> {
  let ended: Json | Error | undefined;
  script.then(
    (o) => (ended = o),
    (e: Error) => (ended = e),
  );
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (ended instanceof Error) throw ended;
    if (ended) throw new Error(`the script ended before creating ${path}: ${JSON.stringify(ended)}`);
    if (Date.now() > deadline) throw new Error(`the script did not create ${path} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A scenario script that lives until it is stopped (push_app.py): it prints
 * JSON lines as things happen, ends with the usual observation line on
 * SIGTERM, and gives up on its own after its --timeout.
 */
export class PythonService {
  /** Every JSON line printed so far, in order. */
  readonly lines: Json[] = [];
  private stdout = '';
  private stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly script: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      let nl: number;
      while ((nl = this.stdout.indexOf('\n')) >= 0) {
        const line = this.stdout.slice(0, nl).trim();
        this.stdout = this.stdout.slice(nl + 1);
        if (line === '') continue;
        try {
          this.lines.push(JSON.parse(line) as Json);
        } catch {
          this.stderr += `(not JSON on stdout) ${line}\n`;
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
  }

  /** Starts `script` with `args` and waits until it prints a line satisfying `ready`. */
  static async start(script: string, args: string[], ready: (line: Json) => boolean, timeoutMs = 15_000): Promise<PythonService> {
    await slixmppVersion();
    const child = spawn(PYTHON, [join(SCRIPTS, script), ...args], { env: pythonEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const service = new PythonService(script, child);
    try {
      await service.waitFor((lines) => lines.some(ready), timeoutMs, 'its ready line');
    } catch (e) {
      service.kill();
      throw e;
    }
    return service;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What it printed and logged, for assertion messages. */
  context(): string {
    return `${this.script}: ${this.running ? 'running' : `exited ${this.child.exitCode ?? this.child.signalCode}`}\nstdout lines:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${this.stderr.split('\n').slice(-60).join('\n')}`;
  }

  /** Resolves once `predicate` holds for the lines printed so far; fails if the script ends first. */
  async waitFor(predicate: (lines: Json[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.lines)) {
      if (!this.running) throw new Error(`${this.script} ended before ${what}\n${this.context()}`);
      if (Date.now() > deadline) throw new Error(`${this.script}: no ${what} within ${timeoutMs} ms\n${this.context()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Asks it to finish (SIGTERM) and returns its last JSON line after checking it exited 0 with "ok". */
  async stop(timeoutMs = 10_000): Promise<Json> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    const last = this.lines.at(-1);
    assert.equal(code, 0, `${this.script} exited ${code ?? signal}\n${this.context()}`);
    assert.equal(last?.ok, true, this.context());
    return last as Json;
  }

  /** Ends it at once (cleanup after a failure). */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
