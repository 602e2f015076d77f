import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deriveCredentials } from './auth/credentials.js';
import { ConfigError, loadConfig, type LoadedConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { parseJid } from './jid.js';
import { createLogger } from './log.js';
import { readPassword } from './cli/prompt.js';
import { pushDisable, pushList, pushTest } from './cli/push.js';
import { VapidKeys } from './push/vapid-keys.js';
import { Server, storagePath } from './server.js';
import { SqliteStore } from './storage/sqlite/store.js';

const USAGE = `usage: herald [--config FILE] <command>

commands:
  start                 run the server
  adduser JID [PASS]    create an account (asks for the password if omitted)
  deluser JID           delete an account and everything stored for it
  passwd JID [PASS]     set a new password
  check                 validate the configuration and list every problem
  push list JID         show an account's push registrations
  push test JID         send a test push through the running server's pipeline, print the outcome
  push disable JID SERVICE [NODE]
                        remove push registrations (every node of SERVICE when NODE is omitted)
  keys rotate-vapid     make a new VAPID key current (existing web push subscriptions keep theirs)

The configuration is read from --config FILE, else ./herald.toml if present;
HERALD_<SECTION>_<KEY> environment variables override any option.`;

class UsageError extends Error {}

function parseArgs(argv: string[]): { config?: string; command: string; args: string[] } {
  const rest: string[] = [];
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config' || a === '-c') {
      config = argv[++i];
      if (config === undefined) throw new UsageError('--config needs a file');
    } else if (a.startsWith('--config=')) {
      config = a.slice('--config='.length);
    } else if (a === '--help' || a === '-h') {
      rest.unshift('help');
    } else {
      rest.push(a);
    }
  }
  const [command = 'help', ...args] = rest;
  return config === undefined ? { command, args } : { config, command, args };
}

function load(file: string | undefined): LoadedConfig {
  return loadConfig(file === undefined ? {} : { file });
}

function accountJid(config: Config, s: string | undefined): { host: string; username: string } {
  const jid = s === undefined ? null : parseJid(s);
  if (!jid || jid.local === '' || jid.resource !== '') throw new UsageError(`not an account JID (user@domain): ${s ?? '(missing)'}`);
  if (!config.server.domains.includes(jid.domain)) {
    throw new UsageError(`${jid.domain} is not one of this server's domains (server.domains = ${config.server.domains.join(', ')})`);
  }
  return { host: jid.domain, username: jid.local };
}

async function withStore<T>(config: Config, fn: (store: SqliteStore) => T | Promise<T>): Promise<T> {
  const store = new SqliteStore(storagePath(config));
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

async function passwordArg(given: string | undefined): Promise<string> {
  const password = given ?? (await readPassword('Password: '));
  if (password === '') throw new UsageError('the password must not be empty');
  return password;
}

async function run(argv: string[]): Promise<number> {
  const { config: file, command, args } = parseArgs(argv);
  switch (command) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'check': {
      const { config, file: used } = load(file);
      console.log(`configuration OK (${used ?? 'defaults and environment'}): domains ${config.server.domains.join(', ')}`);
      return 0;
    }
    case 'start': {
      const { config } = load(file);
      const log = createLogger(config.log.level);
      const server = new Server(config, log);
      try {
        await server.start();
      } catch (e) {
        // Release what did start (listeners, storage) so the process can exit with the error.
        await server.stop();
        throw e;
      }
      let stopping = false;
      const stop = (signal: string | null, code = 0): void => {
        if (stopping) return;
        stopping = true;
        if (signal) log.info({ signal }, 'signal received');
        server.stop().then(
          () => process.exit(code),
          (e: unknown) => {
            log.error({ err: e }, 'error while stopping');
            process.exit(1);
          },
        );
      };
      server.onFatal = () => stop(null, 1);
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      return new Promise<number>(() => undefined); // runs until a signal
    }
    case 'adduser': {
      const { config } = load(file);
      const { host, username } = accountJid(config, args[0]);
      const creds = await deriveCredentials(await passwordArg(args[1]), config.auth.scram_iterations);
      const created = await withStore(config, (s) => s.accounts.create(host, username, creds));
      console.log(created ? `created ${username}@${host}` : `${username}@${host} already exists`);
      return created ? 0 : 1;
    }
    case 'deluser': {
      const { config } = load(file);
      const { host, username } = accountJid(config, args[0]);
      const deleted = await withStore(config, (s) => s.accounts.delete(host, username));
      console.log(deleted ? `deleted ${username}@${host}` : `no such account: ${username}@${host}`);
      return deleted ? 0 : 1;
    }
    case 'passwd': {
      const { config } = load(file);
      const { host, username } = accountJid(config, args[0]);
      const exists = await withStore(config, (s) => s.accounts.exists(host, username));
      if (!exists) {
        console.error(`no such account: ${username}@${host}`);
        return 1;
      }
      const creds = await deriveCredentials(await passwordArg(args[1]), config.auth.scram_iterations);
      await withStore(config, (s) => s.accounts.setCredentials(host, username, creds));
      console.log(`password changed for ${username}@${host}`);
      return 0;
    }
    case 'push': {
      const { config } = load(file);
      const [sub, jid, service, node] = args;
      const { host, username } = accountJid(config, jid);
      if (sub === 'list') return withStore(config, (s) => pushList(s, host, username));
      if (sub === 'test') return withStore(config, (s) => pushTest(s, config, host, username));
      if (sub === 'disable') {
        if (service === undefined) throw new UsageError('push disable needs the SERVICE');
        return withStore(config, (s) => pushDisable(s, host, username, service, node));
      }
      throw new UsageError(`unknown push command: ${sub ?? '(none)'}`);
    }
    case 'keys': {
      if (args[0] !== 'rotate-vapid') throw new UsageError(`unknown keys command: ${args[0] ?? '(none)'}`);
      const { config } = load(file);
      const { id, key } = await withStore(config, (s) => new VapidKeys(s).rotate());
      console.log(`new VAPID key ${id} is current: ${key.publicKeyRaw.toString('base64url')}`);
      console.log('Existing subscriptions keep being signed with the key they were made with; clients get the new key when they subscribe again.');
      return 0;
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    process.exitCode = await run(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error('herald: the configuration has problems:');
      for (const p of e.problems) console.error(`  ${p.option}: ${p.message}`);
      process.exitCode = 2;
    } else if (e instanceof UsageError) {
      console.error(`herald: ${e.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error('herald:', e instanceof Error ? e.message : e);
      process.exitCode = 1;
    }
  }
}

// Run when executed directly (tsx src/cli.ts) rather than imported by bin/herald.js.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2));
}
