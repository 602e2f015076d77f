import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { configSchema, type Config } from './schema.js';

export interface ConfigProblem {
  option: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super('invalid configuration:\n' + problems.map((p) => `  ${p.option}: ${p.message}`).join('\n'));
  }
}

export interface LoadOptions {
  /** Explicit --config path; when absent ./herald.toml is used if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: Config;
  file: string | null;
}

/** Reads the TOML file, applies HERALD_* overrides, validates; throws ConfigError naming every bad option. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const problems: ConfigProblem[] = [];
  let raw: Record<string, unknown> = {};
  let file: string | null = null;
  if (opts.file !== undefined || existsSync('herald.toml')) {
    file = opts.file ?? 'herald.toml';
    try {
      raw = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new ConfigError([{ option: file, message: msg.split('\n')[0] ?? msg }]);
    }
  }
  applyEnvOverrides(raw, env, problems);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const base = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push({ option: base === '' ? key : `${base}.${key}`, message: 'unknown option' });
      } else {
        problems.push({ option: base || '(root)', message: issue.message });
      }
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  problems.push(...semanticChecks(result.data));
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: result.data, file };
}

/** Checks that need more than one option at a time. */
function semanticChecks(c: Config): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if ((c.tls.cert === '') !== (c.tls.key === '')) {
    out.push({ option: c.tls.cert === '' ? 'tls.cert' : 'tls.key', message: 'tls.cert and tls.key must be set together' });
  }
  if (c.storage.thread && !c.storage.group_commit) {
    // Without group commit nothing would wait for the storage thread's commits before answering.
    out.push({ option: 'storage.thread', message: 'storage.thread needs storage.group_commit; set storage.thread = false to commit each chunk of input alone' });
  }
  for (const [domain, files] of Object.entries(c.tls.domains)) {
    for (const k of ['cert', 'key'] as const) {
      if (!existsSync(files[k])) out.push({ option: `tls.domains.${domain}.${k}`, message: `file not found: ${files[k]}` });
    }
  }
  for (const k of ['cert', 'key'] as const) {
    if (c.tls[k] !== '' && !existsSync(c.tls[k])) out.push({ option: `tls.${k}`, message: `file not found: ${c.tls[k]}` });
  }
  const componentDomains = new Set<string>();
  for (const [i, comp] of c.component.entries()) {
    if (c.server.domains.includes(comp.domain) || componentDomains.has(comp.domain)) {
      out.push({ option: `component[${i}].domain`, message: `${comp.domain} is already served` });
    }
    componentDomains.add(comp.domain);
  }
  const seen = new Set<string>();
  for (const d of c.server.domains) {
    if (d !== d.toLowerCase() || /[\s/@]/.test(d)) out.push({ option: 'server.domains', message: `not a valid lower-case domain: ${d}` });
    if (seen.has(d)) out.push({ option: 'server.domains', message: `listed twice: ${d}` });
    seen.add(d);
  }
  const ports = [
    ['c2s.port', c.c2s.port],
    ['c2s.direct_tls_port', c.c2s.direct_tls_port],
    ['http.port', c.http.port],
    ['components.port', c.components.port],
  ] as const;
  for (const [name, p] of ports) {
    for (const [other, q] of ports) {
      if (name < other && p !== 0 && p === q) out.push({ option: name, message: `same port as ${other} (${p})` });
    }
  }
  return out;
}

/**
 * HERALD_<SECTION>_<KEY>=value overrides section.key. Values are read by the
 * type of the option's default: numbers, booleans (true/false/1/0/yes/no),
 * arrays (comma-separated), strings otherwise.
 */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): void {
  const defaults = configSchema.parse({}) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, keys] of Object.entries(defaults)) {
    for (const [key, def] of Object.entries(keys)) {
      const name = `HERALD_${section}_${key}`.toUpperCase();
      const value = env[name];
      if (value === undefined) continue;
      const option = `${section}.${key}`;
      const parsed = fromEnv(value, def);
      if (parsed === undefined) {
        problems.push({ option, message: `${name}=${JSON.stringify(value)} is not a valid ${typeName(def)}` });
        continue;
      }
      const target = (raw[section] ??= {}) as Record<string, unknown>;
      if (typeof target !== 'object' || target === null || Array.isArray(target)) continue;
      target[key] = parsed;
    }
  }
}

function typeName(def: unknown): string {
  return Array.isArray(def) ? 'comma-separated list' : typeof def;
}

function fromEnv(value: string, def: unknown): unknown {
  if (Array.isArray(def)) return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (typeof def === 'number') {
    // Plain decimal only: Number() would also take '0x10' or '1e3' for a port.
    return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : undefined;
  }
  if (typeof def === 'boolean') {
    const v = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return undefined;
  }
  if (typeof def === 'object' && def !== null) return undefined; // tables are file-only
  return value;
}
