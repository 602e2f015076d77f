import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError, loadConfig, type ConfigProblem } from '../../src/config/load.js';

let dir = '';
let counter = 0;
const originalCwd = process.cwd();

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-config-test-'));
  // No herald.toml here, so loadConfig() without a file uses pure defaults.
  process.chdir(dir);
});

after(() => {
  process.chdir(originalCwd);
  rmSync(dir, { recursive: true, force: true });
});

function tomlFile(text: string): string {
  const p = join(dir, `config-${++counter}.toml`);
  writeFileSync(p, text);
  return p;
}

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.ok(e.problems.length > 0);
    for (const p of e.problems) assert.ok(e.message.includes(p.option), 'the message lists every option');
    return e.problems;
  }
  assert.fail('expected loadConfig to throw');
}

function options(problems: ConfigProblem[]): string[] {
  return problems.map((p) => p.option);
}

describe('loadConfig: defaults', () => {
  test('empty env and no herald.toml give the documented defaults', () => {
    const { config, file } = loadConfig({ env: {} });
    assert.equal(file, null);
    assert.deepEqual(config.server.domains, ['localhost']);
    assert.equal(config.server.data_dir, './data');
    assert.equal(config.c2s.port, 5222);
    assert.equal(config.c2s.direct_tls_port, 5223);
    assert.equal(config.c2s.require_tls, true);
    assert.equal(config.http.port, 5280);
    assert.equal(config.tls.cert, '');
    assert.equal(config.tls.key, '');
    assert.deepEqual(config.tls.domains, {});
    assert.equal(config.auth.allow_plain_without_tls, false);
    assert.equal(config.auth.scram_iterations, 4096);
    assert.equal(config.registration.open, false);
    assert.equal(config.storage.driver, 'sqlite');
    assert.equal(config.limits.max_stanza_bytes, 262144);
    assert.equal(config.log.level, 'info');
  });

  test('an empty TOML file gives the same defaults and reports the file', () => {
    const p = tomlFile('');
    const { config, file } = loadConfig({ file: p, env: {} });
    assert.equal(file, p);
    assert.deepEqual(config, loadConfig({ env: {} }).config);
  });

  test('./herald.toml is picked up when no file is given', () => {
    writeFileSync(join(dir, 'herald.toml'), '[c2s]\nport = 6222\n');
    try {
      const { config, file } = loadConfig({ env: {} });
      assert.equal(file, 'herald.toml');
      assert.equal(config.c2s.port, 6222);
    } finally {
      rmSync(join(dir, 'herald.toml'));
    }
  });

  test('an explicit file that does not exist is an error', () => {
    const problems = problemsOf(() => loadConfig({ file: join(dir, 'missing.toml'), env: {} }));
    assert.equal(problems.length, 1);
  });
});

describe('loadConfig: TOML file', () => {
  test('values from the file override the defaults', () => {
    const p = tomlFile(
      [
        '[server]',
        'domains = ["example.org", "chat.example.org"]',
        '[c2s]',
        'port = 15222',
        'require_tls = false',
        '[log]',
        'level = "debug"',
        '[limits]',
        'max_xml_depth = 16',
      ].join('\n'),
    );
    const { config } = loadConfig({ file: p, env: {} });
    assert.deepEqual(config.server.domains, ['example.org', 'chat.example.org']);
    assert.equal(config.c2s.port, 15222);
    assert.equal(config.c2s.require_tls, false);
    assert.equal(config.log.level, 'debug');
    assert.equal(config.limits.max_xml_depth, 16);
    assert.equal(config.c2s.direct_tls_port, 5223, 'unset options keep their default');
  });

  test('a bad number names the option', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[c2s]\nport = "five"\n'), env: {} }));
    assert.deepEqual(options(problems), ['c2s.port']);
  });

  test('an out-of-range port names the option', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[c2s]\nport = 70000\n'), env: {} }));
    assert.deepEqual(options(problems), ['c2s.port']);
  });

  test('a bad boolean names the option', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[c2s]\nrequire_tls = "maybe"\n'), env: {} }));
    assert.deepEqual(options(problems), ['c2s.require_tls']);
  });

  test('a bad log level names the option', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[log]\nlevel = "loud"\n'), env: {} }));
    assert.deepEqual(options(problems), ['log.level']);
  });

  test('an unknown option in a section is reported with its name', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[server]\nnonsense = 1\n'), env: {} }));
    assert.equal(problems.length, 1);
    const [p] = problems;
    assert.ok(p);
    // The section is the option path and the unknown key is named in the message.
    assert.ok(`${p.option}: ${p.message}`.includes('server'), JSON.stringify(p));
    assert.ok(`${p.option}: ${p.message}`.includes('nonsense'), JSON.stringify(p));
  });

  test(
    "an unknown option's problem names the full option path",
    () => {
      const problems = problemsOf(() => loadConfig({ file: tomlFile('[server]\nnonsense = 1\n'), env: {} }));
      assert.deepEqual(options(problems), ['server.nonsense']);
    },
  );

  test('an unknown section is reported with its name', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[nonsense]\na = 1\n'), env: {} }));
    assert.ok(problems.some((p) => `${p.option}: ${p.message}`.includes('nonsense')), JSON.stringify(problems));
  });

  test('several problems are reported together', () => {
    const problems = problemsOf(() =>
      loadConfig({ file: tomlFile('[c2s]\nport = -1\nrequire_tls = 3\n[log]\nlevel = 7\n'), env: {} }),
    );
    assert.deepEqual(options(problems).sort(), ['c2s.port', 'c2s.require_tls', 'log.level']);
  });

  test('a TOML syntax error is reported against the file', () => {
    const p = tomlFile('[c2s\nport = 5222\n');
    const problems = problemsOf(() => loadConfig({ file: p, env: {} }));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.option, p);
    assert.ok((problems[0]?.message ?? '').length > 0);
  });

  test('another TOML syntax error (unterminated string) is reported', () => {
    const p = tomlFile('[log]\nlevel = "info\n');
    const problems = problemsOf(() => loadConfig({ file: p, env: {} }));
    assert.equal(problems[0]?.option, p);
  });

  test('tls.cert without tls.key is a problem', () => {
    const cert = join(dir, 'cert.pem');
    writeFileSync(cert, 'not really a certificate');
    const problems = problemsOf(() => loadConfig({ file: tomlFile(`[tls]\ncert = ${JSON.stringify(cert)}\n`), env: {} }));
    assert.equal(problems.length, 1);
    assert.ok(['tls.cert', 'tls.key'].includes(problems[0]?.option ?? ''), JSON.stringify(problems));
    assert.match(problems[0]?.message ?? '', /together/);
  });

  test('tls.key without tls.cert is a problem', () => {
    const key = join(dir, 'key.pem');
    writeFileSync(key, 'not really a key');
    const problems = problemsOf(() => loadConfig({ file: tomlFile(`[tls]\nkey = ${JSON.stringify(key)}\n`), env: {} }));
    assert.ok(problems.some((p) => /together/.test(p.message)));
  });

  test('the storage thread needs group commit: turning group commit off alone is refused, with both off it is accepted', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[storage]\ngroup_commit = false\n'), env: {} }));
    assert.deepEqual(options(problems), ['storage.thread']);
    assert.match(problems[0]!.message, /group_commit/);
    const { config } = loadConfig({ file: tomlFile('[storage]\ngroup_commit = false\nthread = false\n'), env: {} });
    assert.equal(config.storage.thread, false);
    assert.equal(loadConfig({ env: {} }).config.storage.thread, true, 'on by default');
  });

  test('tls.cert and tls.key that exist are accepted', () => {
    const cert = join(dir, 'both-cert.pem');
    const key = join(dir, 'both-key.pem');
    writeFileSync(cert, 'c');
    writeFileSync(key, 'k');
    const { config } = loadConfig({
      file: tomlFile(`[tls]\ncert = ${JSON.stringify(cert)}\nkey = ${JSON.stringify(key)}\n`),
      env: {},
    });
    assert.equal(config.tls.cert, cert);
    assert.equal(config.tls.key, key);
  });

  test('tls files that do not exist are named', () => {
    const problems = problemsOf(() =>
      loadConfig({ file: tomlFile(`[tls]\ncert = "${join(dir, 'nope.pem')}"\nkey = "${join(dir, 'nope.key')}"\n`), env: {} }),
    );
    assert.deepEqual(options(problems).sort(), ['tls.cert', 'tls.key']);
  });

  test('two listeners on the same port are a problem', () => {
    const problems = problemsOf(() => loadConfig({ file: tomlFile('[c2s]\nport = 5280\n'), env: {} }));
    assert.ok(problems.some((p) => p.option === 'c2s.port' || p.option === 'http.port'), JSON.stringify(problems));
  });

  test('an upper-case or duplicated domain is a problem', () => {
    const problems = problemsOf(() =>
      loadConfig({ file: tomlFile('[server]\ndomains = ["Example.org", "a.test", "a.test"]\n'), env: {} }),
    );
    assert.deepEqual(options(problems), ['server.domains', 'server.domains']);
  });
});

describe('loadConfig: environment overrides', () => {
  test('HERALD_C2S_PORT, HERALD_SERVER_DOMAINS and HERALD_C2S_REQUIRE_TLS are applied', () => {
    const { config } = loadConfig({
      env: { HERALD_C2S_PORT: '15222', HERALD_SERVER_DOMAINS: 'a.test,b.test', HERALD_C2S_REQUIRE_TLS: 'false' },
    });
    assert.equal(config.c2s.port, 15222);
    assert.deepEqual(config.server.domains, ['a.test', 'b.test']);
    assert.equal(config.c2s.require_tls, false);
  });

  test('list items are trimmed and empty items dropped', () => {
    const { config } = loadConfig({ env: { HERALD_SERVER_DOMAINS: ' a.test , ,b.test,' } });
    assert.deepEqual(config.server.domains, ['a.test', 'b.test']);
  });

  test('boolean spellings', () => {
    for (const [v, expected] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['ON', true],
      ['false', false],
      ['0', false],
      ['no', false],
      ['Off', false],
    ] as const) {
      assert.equal(loadConfig({ env: { HERALD_REGISTRATION_OPEN: v } }).config.registration.open, expected, v);
    }
  });

  test('the environment overrides the file', () => {
    const p = tomlFile('[c2s]\nport = 6000\nrequire_tls = true\n[log]\nlevel = "warn"\n');
    const { config } = loadConfig({ file: p, env: { HERALD_C2S_PORT: '7000', HERALD_LOG_LEVEL: 'error' } });
    assert.equal(config.c2s.port, 7000);
    assert.equal(config.c2s.require_tls, true);
    assert.equal(config.log.level, 'error');
  });

  test('variables that are not HERALD_* options are ignored', () => {
    const { config } = loadConfig({ env: { PATH: '/bin', HERALD_NOPE_THING: 'x', HERALD_C2S_NONSENSE: '1' } });
    assert.equal(config.c2s.port, 5222);
  });

  test('a bad number names the option', () => {
    const problems = problemsOf(() => loadConfig({ env: { HERALD_C2S_PORT: 'abc' } }));
    assert.deepEqual(options(problems), ['c2s.port']);
    assert.match(problems[0]?.message ?? '', /HERALD_C2S_PORT/);
  });

  test('an empty number names the option', () => {
    const problems = problemsOf(() => loadConfig({ env: { HERALD_HTTP_PORT: '  ' } }));
    assert.deepEqual(options(problems), ['http.port']);
  });

  test('a non-integer port names the option', () => {
    const problems = problemsOf(() => loadConfig({ env: { HERALD_C2S_PORT: '52.5' } }));
    assert.deepEqual(options(problems), ['c2s.port']);
  });

  test(
    'numbers in other notations (hex, exponent) are not taken as ports',
    () => {
      for (const v of ['0x10', '1e3', '0b101']) {
        const problems = problemsOf(() => loadConfig({ env: { HERALD_C2S_PORT: v } }));
        assert.deepEqual(options(problems), ['c2s.port'], v);
      }
    },
  );

  test('a bad boolean names the option', () => {
    const problems = problemsOf(() => loadConfig({ env: { HERALD_C2S_REQUIRE_TLS: 'maybe' } }));
    assert.deepEqual(options(problems), ['c2s.require_tls']);
    assert.match(problems[0]?.message ?? '', /HERALD_C2S_REQUIRE_TLS/);
  });

  test('a bad log level names the option', () => {
    const problems = problemsOf(() => loadConfig({ env: { HERALD_LOG_LEVEL: 'loud' } }));
    assert.deepEqual(options(problems), ['log.level']);
  });

  test('tables cannot be set from the environment', () => {
    const problems = problemsOf(() => loadConfig({ env: { HERALD_TLS_DOMAINS: 'x' } }));
    assert.deepEqual(options(problems), ['tls.domains']);
  });

  test('env problems and file problems are reported together', () => {
    const p = tomlFile('[log]\nlevel = "loud"\n');
    const problems = problemsOf(() => loadConfig({ file: p, env: { HERALD_C2S_PORT: 'x' } }));
    assert.deepEqual(options(problems).sort(), ['c2s.port', 'log.level']);
  });
});
