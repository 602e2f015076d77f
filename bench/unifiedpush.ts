/**
 * UnifiedPush provider throughput (Herald): a distributor (a raw XMPP client
 * that answers every `<push/>` IQ at once) registers an endpoint, then
 * autocannon POSTs to it.
 *
 *   node --import tsx bench/unifiedpush.ts --port C2S --http-port HTTP --password PW
 *     [--connections 50] [--seconds 10] [--warmup 2] [--bytes 200] [--paths online,offline]
 *     [--pid SERVER_PID] [--label NAME]
 *
 * online:  the distributor is connected; each POST is answered 201 (TTL: 0) once the
 *          distributor has answered its IQ. Every 201-answered body must reach it once.
 * offline: the distributor has closed its stream; POSTs are stored (201, TTL > 0). Then it
 *          reconnects and everything stored must reach it once (redelivery rate reported).
 * Set HERALD_UNIFIEDPUSH_RATE_PER_MINUTE very high: every POST uses one token.
 * The distributor is account <prefix>1, resource `distributor`.
 */
import autocannon, { type Result } from 'autocannon';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { exitOnSetupError, intArgs, serverArgs } from './lib/args.js';
import { sleep } from './lib/open-clients.js';
import { BenchError, RawClient, type ClientOptions } from './lib/raw-client.js';
import { readCpuSeconds, readMachineBusySeconds, SequenceTracker } from './lib/stats.js';
import { attr } from './lib/xml-scan.js';

const NS_UP = 'http://gultsch.de/xmpp/drafts/unified-push';
exitOnSetupError('unifiedpush');
const { values: v } = parseArgs({
  options: {
    ...serverArgs,
    'http-port': { type: 'string' },
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '200' },
    paths: { type: 'string', default: 'online,offline' },
    pid: { type: 'string' },
    label: { type: 'string', default: 'unifiedpush' },
  },
});
const int = intArgs('unifiedpush');
if (v.password === undefined) {
  console.error('unifiedpush: --password is required; see the header of bench/unifiedpush.ts');
  process.exit(2);
}
const o = {
  port: int('port', v.port, 1),
  httpPort: int('http-port', v['http-port'], 1),
  connections: int('connections', v.connections, 1),
  seconds: int('seconds', v.seconds, 1),
  warmup: int('warmup', v.warmup, 0),
  bytes: int('bytes', v.bytes, 16),
  paths: v.paths.split(','),
  pid: v.pid === undefined ? null : int('pid', v.pid, 1),
  label: v.label,
};
const account: ClientOptions = { host: v.host, port: o.port, domain: v.domain, username: `${v['user-prefix']}1`, password: v.password, resource: 'distributor' };

// ---- the distributor ---------------------------------------------------------------------------
const received = new SequenceTracker();
let pushes = 0;
let answers = '';
const distributor = (c: RawClient): void => {
  c.onIq = (stanza) => {
    if (!stanza.includes(NS_UP)) return;
    const head = stanza.slice(0, stanza.indexOf('>') + 1);
    answers += `<iq type='result' id='${attr(head, 'id') ?? ''}' to='${attr(head, 'from') ?? ''}'/>`;
    const b64 = /<push\b[^>]*>([^<]*)<\/push>/.exec(stanza)?.[1] ?? '';
    pushes++;
    received.record(Number(/^seq (\d+) /.exec(Buffer.from(b64, 'base64').toString('latin1'))?.[1]));
  };
  c.onChunk = () => {
    if (answers !== '') c.write(answers);
    answers = '';
  };
  c.onClose = (reason) => {
    console.error(`unifiedpush: the distributor lost its connection: ${reason}`);
    process.exit(5);
  };
};

let client = await RawClient.open(account, distributor);
const key = (): string => randomBytes(32).toString('base64');
const reg = await client.request(`<iq type='set' to='${v.domain}' id='up-reg'><register xmlns='${NS_UP}' instance='${key()}' application='${key()}'/></iq>`, 'up-reg');
const endpoint = attr(/<registered\b[^>]*>/.exec(reg)?.[0] ?? '', 'endpoint');
if (endpoint === undefined) throw new BenchError('protocol', `registration refused: ${reg.slice(0, 300)}`);
const url = endpoint.replace('://localhost:', '://127.0.0.1:');
console.log(`unifiedpush: ${o.label}: endpoint ${url.slice(0, 60)}...; ${o.connections} connections, ${o.bytes}-byte bodies`);

// ---- load ----------------------------------------------------------------------------------------
let seq = 0;
const pad = 'x'.repeat(o.bytes);

interface PathResult {
  path: string;
  requests_per_s: number;
  requests: number;
  seconds: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  status: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Bodies answered 201 that the distributor got (online: at once; offline: after reconnecting). */
  answered_201: number;
  delivered_of_201: number;
  duplicated: number;
  redelivery_per_s?: number;
  server_cpu_pct: number | null;
  server_cpu_us_per_request: number | null;
  loadgen_cpu_pct: number;
  other_cpu_pct: number | null;
}

/** Runs autocannon for `seconds`; returns its result and the sequence numbers answered 201 (with the TTL each got). */
async function hammer(seconds: number, ttl: string): Promise<{ result: Result; ok: Map<number, string> }> {
  const ok = new Map<number, string>();
  const result = await autocannon({
    url,
    connections: o.connections,
    duration: seconds,
    timeout: 20,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', ttl, urgency: 'normal' },
        setupRequest: (req, context) => {
          context.seq = ++seq;
          return { ...req, body: `seq ${seq} ${pad}`.slice(0, Math.max(o.bytes, 16)) };
        },
        onResponse: (status, _body, context, headers) => {
          if (status === 201) ok.set(context.seq as number, headers.ttl ?? headers.TTL ?? '');
        },
      },
    ],
  });
  return { result, ok };
}

async function measure(path: string, ttl: string): Promise<{ r: PathResult; ok: Map<number, string> }> {
  if (o.warmup > 0) await hammer(o.warmup, ttl);
  const cpu0 = o.pid === null ? 0 : readCpuSeconds(o.pid);
  const machine0 = readMachineBusySeconds();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const { result, ok } = await hammer(o.seconds, ttl);
  const wall = (performance.now() - t0) / 1000;
  const server = o.pid === null ? null : readCpuSeconds(o.pid) - cpu0;
  const own = process.cpuUsage(own0);
  const ownS = (own.user + own.system) / 1e6;
  const other = server === null ? null : Math.max(0, readMachineBusySeconds() - machine0 - server - ownS);
  const total = Object.values(result.statusCodeStats).reduce((a, s) => a + s.count, 0);
  const l = result.latency;
  return {
    ok,
    r: {
      path,
      requests_per_s: Math.round(total / result.duration),
      requests: total,
      seconds: result.duration,
      latency_ms: { p50: l.p50, p90: l.p90, p99: l.p99, max: l.max, mean: l.mean },
      status: Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, s]) => [k, s.count])),
      errors: result.errors,
      timeouts: result.timeouts,
      answered_201: ok.size,
      delivered_of_201: 0,
      duplicated: 0,
      server_cpu_pct: server === null ? null : Math.round((server / wall) * 100),
      server_cpu_us_per_request: server === null || total === 0 ? null : Math.round((server * 1e6) / total),
      loadgen_cpu_pct: Math.round((ownS / wall) * 100),
      other_cpu_pct: other === null ? null : Math.round((other / wall) * 100),
    },
  };
}

const delivered = (ok: Map<number, string>): number => [...ok.keys()].filter((s) => received.has(s)).length;
const results: PathResult[] = [];

if (o.paths.includes('online')) {
  const { r, ok } = await measure('online', '3600');
  await sleep(500);
  r.delivered_of_201 = delivered(ok);
  r.duplicated = received.duplicated;
  const notZero = [...ok.values()].filter((t) => t !== '0').length;
  if (notZero > 0) console.log(`online: ${notZero} requests were answered 201 with a TTL other than 0: stored, not delivered live`);
  results.push(r);
}

if (o.paths.includes('offline')) {
  client.onClose = () => undefined;
  await client.close();
  const dup0 = received.duplicated;
  const { r, ok } = await measure('offline', '3600');
  const stored = [...ok.values()].filter((t) => t !== '0').length;
  if (stored !== ok.size) console.log(`offline: ${ok.size - stored} requests were answered 201 with TTL 0 although the distributor was away`);
  // The distributor comes back: everything stored must reach it, once.
  const t0 = performance.now();
  client = await RawClient.open(account, distributor);
  const deadline = t0 + 120_000;
  while (delivered(ok) < ok.size && performance.now() < deadline) await sleep(100);
  const s = (performance.now() - t0) / 1000;
  r.delivered_of_201 = delivered(ok);
  r.duplicated = received.duplicated - dup0;
  r.redelivery_per_s = Math.round(r.delivered_of_201 / s);
  results.push(r);
}

for (const r of results) {
  const l = r.latency_ms;
  console.log(`${r.path}: ${r.requests_per_s} requests/s (${r.requests} in ${r.seconds} s), status ${JSON.stringify(r.status)}, errors ${r.errors}, timeouts ${r.timeouts}`);
  console.log(`${r.path}: latency ms p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}  (mean ${l.mean})`);
  console.log(
    `${r.path}: answered 201: ${r.answered_201}, of which the distributor got ${r.delivered_of_201}` +
      `${r.redelivery_per_s === undefined ? '' : ` after reconnecting (${r.redelivery_per_s}/s)`}; duplicated ${r.duplicated}`,
  );
  console.log(
    `${r.path}: cpu: server ${r.server_cpu_pct ?? '?'}% of a core (${r.server_cpu_us_per_request ?? '?'} µs per request), load generator ${r.loadgen_cpu_pct}%, ` +
      `other processes ${r.other_cpu_pct ?? '?'}%${(r.other_cpu_pct ?? 0) > 10 ? ' (WARNING: the machine was not quiet; figures are disturbed)' : ''}`,
  );
}
const ok = results.every((r) => r.delivered_of_201 === r.answered_201 && r.duplicated === 0);
if (!ok) console.log('INTEGRITY FAILURE: a 201-answered push did not reach the distributor, or reached it twice');
console.log(JSON.stringify({ label: o.label, connections: o.connections, bytes: o.bytes, pushes_received: pushes, paths: results, ok: ok }));
await client.close();
process.exit(ok ? 0 : 1);
