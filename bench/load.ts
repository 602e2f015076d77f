/**
 * Server-agnostic XMPP load bench: chat throughput and latency between pairs
 * of clients, then (optionally) server memory per idle connection.
 *
 *   node --import tsx bench/load.ts --host 127.0.0.1 --port 5222 --domain localhost \
 *     --user-prefix u --password PW --pairs 50 --seconds 20 [--window 20] [--warmup 3] \
 *     [--idle 1000 --pid SERVER_PID] [--resume N [--resume-rounds 3] [--resume-gap 500] [--resume-rate 10]]
 *     [--label NAME]
 *
 * Accounts <prefix>1 .. <prefix>(2*max(pairs, N)) must exist. See docs/PERFORMANCE.md.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { serverArgs } from './lib/args.js';
import { openClients, sleep, type ServerOptions } from './lib/open-clients.js';
import { BenchError, type FailureKind, type RawClient } from './lib/raw-client.js';
import { resumePhase, type ResumeResult } from './lib/resume-phase.js';
import { readCpuSeconds, readMachineBusySeconds, readRssKb, round, Samples, SequenceTracker, tally, type LatencySummary } from './lib/stats.js';

const USAGE = `usage: node --import tsx bench/load.ts --host H --port N --domain D --user-prefix P --password PW
         [--pairs 50] [--seconds 20] [--window 20] [--warmup 3] [--idle M --pid PID] [--label NAME]
         [--resume N [--resume-rounds R] [--resume-gap MS] [--resume-rate PER_S]]

  --pairs N     client pairs; accounts P1 .. P(2N) must exist
  --seconds S   measured seconds after the warm-up (0 skips the throughput phase)
  --window W    messages in flight per sender
  --idle M      then open M more idle connections (same accounts, other resources)
                and report the server's RSS growth per connection; needs --pid
  --resume N    then XEP-0198: N clients (accounts P1..PN) enable resumption, N senders
                (P(N+1)..P(2N)) send them --resume-rate messages/s each; every round
                (--resume-rounds, 3) each client drops its TCP connection, waits
                --resume-gap ms (500) and resumes; reports resume latency and checks
                that no message is lost or duplicated`;

const EXIT: Record<FailureKind | 'usage' | 'integrity', number> = {
  usage: 2,
  connect: 3,
  auth: 4,
  protocol: 5,
  timeout: 5,
  closed: 5,
  integrity: 1,
};

interface Options extends ServerOptions {
  pairs: number;
  seconds: number;
  window: number;
  warmup: number;
  idle: number;
  resume: number;
  resumeRounds: number;
  resumeGap: number;
  resumeRate: number;
  pid: number | null;
  label: string;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  try {
    return checkOptions(argv);
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function checkOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...serverArgs,
      pairs: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '20' },
      window: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      idle: { type: 'string', default: '0' },
      resume: { type: 'string', default: '0' },
      'resume-rounds': { type: 'string', default: '3' },
      'resume-gap': { type: 'string', default: '500' },
      'resume-rate': { type: 'string', default: '10' },
      pid: { type: 'string' },
      label: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} needs an integer >= ${min} (got ${v ?? 'nothing'})`);
    return n;
  };
  if (values.password === undefined) throw new UsageError('--password is required');
  const o: Options = {
    host: values.host,
    port: int('port', values.port, 1),
    domain: values.domain,
    prefix: values['user-prefix'],
    password: values.password,
    pairs: int('pairs', values.pairs, 1),
    seconds: int('seconds', values.seconds, 0),
    window: int('window', values.window, 1),
    warmup: int('warmup', values.warmup, 0),
    idle: int('idle', values.idle, 0),
    resume: int('resume', values.resume, 0),
    resumeRounds: int('resume-rounds', values['resume-rounds'], 1),
    resumeGap: int('resume-gap', values['resume-gap'], 0),
    resumeRate: int('resume-rate', values['resume-rate'], 1),
    pid: values.pid === undefined ? null : int('pid', values.pid, 1),
    label: values.label ?? `${values.host}:${values.port ?? '?'}`,
  };
  if (o.idle > 0 && o.pid === null) throw new UsageError('--idle needs --pid (the server process, to read its RSS)');
  if (o.pid !== null) readRssKb(o.pid); // fails early on a wrong pid
  return o;
}

// ---- phase 1: throughput and latency ------------------------------------------------

interface Peer {
  client: RawClient;
  partner: Peer;
  to: string;
  sent: number;
  inflight: number;
  /** Sequence numbers this client received from its partner. */
  fromPartner: SequenceTracker;
}

interface ThroughputResult {
  messages_per_s: number;
  measured_messages: number;
  measured_s: number;
  latency_ms: LatencySummary;
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  out_of_order: number;
  error_bounces: number;
  undrained: number;
  server_cpu_pct: number | null;
  loadgen_cpu_pct: number;
  /** CPU the rest of the machine used meanwhile (% of one core): other processes disturb the figures. */
  other_cpu_pct: number | null;
}

async function throughput(o: Options, clients: RawClient[]): Promise<ThroughputResult> {
  const peers: Peer[] = clients.map((client) => ({ client, partner: null as unknown as Peer, to: '', sent: 0, inflight: 0, fromPartner: new SequenceTracker() }));
  for (let i = 0; i < peers.length; i += 2) {
    const a = peers[i] as Peer;
    const b = peers[i + 1] as Peer;
    a.partner = b;
    b.partner = a;
    a.to = `${o.prefix}${i + 2}@${o.domain}`;
    b.to = `${o.prefix}${i + 1}@${o.domain}`;
  }

  let sending = true;
  let measuring = false;
  let measured = 0;
  let errorBounces = 0;
  const latency = new Samples();

  const pump = (p: Peer): void => {
    if (!sending || p.inflight >= o.window) return;
    const now = performance.now().toFixed(3);
    let out = '';
    while (p.inflight < o.window) {
      const seq = ++p.sent;
      p.inflight++;
      out += `<message to='${p.to}' type='chat' id='m${seq}'><body>${seq} ${now}</body></message>`;
    }
    p.client.write(out);
  };

  let fail: (e: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  for (const p of peers) {
    p.client.onMessage = (body, isError) => {
      if (isError) {
        errorBounces++;
        return;
      }
      const space = body.indexOf(' ');
      p.fromPartner.record(Number(body.slice(0, space)));
      p.partner.inflight--;
      if (measuring) {
        measured++;
        latency.add(performance.now() - Number(body.slice(space + 1)));
      }
    };
    p.client.onChunk = () => pump(p.partner);
    p.client.onClose = (reason) => fail(new BenchError('closed', `${p.client.account}: ${reason} during the throughput phase`));
  }

  const run = async (): Promise<ThroughputResult> => {
    for (const p of peers) pump(p);
    await sleep(o.warmup * 1000);
    const cpu0 = process.cpuUsage();
    const server0 = o.pid === null ? 0 : readCpuSeconds(o.pid);
    const machine0 = readMachineBusySeconds();
    const t0 = performance.now();
    measuring = true;
    await sleep(o.seconds * 1000);
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = o.pid === null ? null : (readCpuSeconds(o.pid) - server0) / elapsed;
    const loadCpu = (cpu.user + cpu.system) / 1e6 / elapsed;
    const machineCpu = (readMachineBusySeconds() - machine0) / elapsed;
    // Stop sending and let what is in flight arrive.
    sending = false;
    const deadline = performance.now() + 10_000;
    while (peers.some((p) => p.inflight > 0) && performance.now() < deadline) await sleep(50);
    // What each peer's partner received from it, against what it sent.
    const { sent, delivered, lost, duplicated, outOfOrder } = tally(peers.map((p): [SequenceTracker, number] => [p.partner.fromPartner, p.sent]));
    const undrained = peers.reduce((a, p) => a + p.inflight, 0);
    return {
      messages_per_s: Math.round(measured / elapsed),
      measured_messages: measured,
      measured_s: round(elapsed, 3),
      latency_ms: latency.summary(),
      sent,
      delivered,
      lost,
      duplicated,
      out_of_order: outOfOrder,
      error_bounces: errorBounces,
      undrained,
      server_cpu_pct: serverCpu === null ? null : Math.round(serverCpu * 100),
      loadgen_cpu_pct: Math.round(loadCpu * 100),
      other_cpu_pct: serverCpu === null ? null : Math.max(0, Math.round((machineCpu - serverCpu - loadCpu) * 100)),
    };
  };
  try {
    return await Promise.race([run(), failed]);
  } finally {
    sending = false;
    for (const p of peers) p.client.onClose = () => undefined;
  }
}

// ---- phase 2: memory per idle connection -----------------------------------------------

interface IdleResult {
  connections: number;
  open_s: number;
  rss_before_kb: number;
  rss_after_kb: number;
  kb_per_connection: number;
}

async function idle(o: Options, pid: number): Promise<IdleResult> {
  await sleep(2000); // let the server settle after the throughput phase
  const before = readRssKb(pid);
  const accounts = 2 * o.pairs;
  const specs = Array.from({ length: o.idle }, (_, i) => ({ user: (i % accounts) + 1, resource: `idle${i}` }));
  const t0 = performance.now();
  const conns = await openClients(o, specs, 50);
  const openS = (performance.now() - t0) / 1000;
  let lostConn = '';
  for (const c of conns) c.onClose = (reason) => (lostConn ||= `${c.account}: ${reason}`);
  await sleep(5000);
  const after = readRssKb(pid);
  await Promise.all(conns.map((c) => c.close()));
  if (lostConn !== '') throw new BenchError('closed', `an idle connection was dropped: ${lostConn}`);
  return {
    connections: o.idle,
    open_s: round(openS, 2),
    rss_before_kb: before,
    rss_after_kb: after,
    kb_per_connection: round((after - before) / o.idle, 1),
  };
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  console.log(
    `load: ${o.label} at ${o.host}:${o.port} (${o.domain}): ${o.pairs} pairs (${2 * o.pairs} clients), window ${o.window}, ` +
      `warm-up ${o.warmup} s, measure ${o.seconds} s${o.idle > 0 ? `, then ${o.idle} idle connections` : ''}`,
  );
  const t0 = performance.now();
  const specs = Array.from({ length: 2 * o.pairs }, (_, i) => ({ user: i + 1, resource: 'load' }));
  const clients = await openClients(o, specs, 20);
  console.log(`connected ${clients.length} clients in ${((performance.now() - t0) / 1000).toFixed(2)} s (SASL PLAIN, bound, initial presence)`);

  let tp: ThroughputResult | null = null;
  if (o.seconds > 0) {
    tp = await throughput(o, clients);
    const l = tp.latency_ms;
    console.log(`throughput: ${tp.messages_per_s} messages/s delivered (${tp.measured_messages} in ${tp.measured_s} s)`);
    console.log(`latency ms: p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}  (mean ${l.mean}, ${l.count} samples)`);
    console.log(
      `integrity: sent ${tp.sent}, delivered ${tp.delivered}, lost ${tp.lost}, duplicated ${tp.duplicated}, ` +
        `out of order ${tp.out_of_order}, error bounces ${tp.error_bounces}${tp.undrained > 0 ? `, still in flight after 10 s: ${tp.undrained}` : ''}`,
    );
    console.log(
      `cpu: server ${tp.server_cpu_pct ?? '?'}% of a core, load generator ${tp.loadgen_cpu_pct}%, other processes ${tp.other_cpu_pct ?? '?'}%` +
        ((tp.other_cpu_pct ?? 0) > 10 ? ' (WARNING: the machine was not quiet; figures are disturbed)' : ''),
    );
  }

  let idleResult: IdleResult | null = null;
  if (o.idle > 0 && o.pid !== null) {
    idleResult = await idle(o, o.pid);
    console.log(
      `idle: ${idleResult.connections} connections opened in ${idleResult.open_s} s; server RSS ${idleResult.rss_before_kb} KB -> ` +
        `${idleResult.rss_after_kb} KB after 5 s: ${idleResult.kb_per_connection} KB per idle connection`,
    );
    if (tp !== null && idleResult.kb_per_connection < 5) {
      console.log(
        'idle: note: the server likely freed memory left over from the throughput phase meanwhile (a garbage-collected ' +
          'runtime); for this figure prefer a fresh server and --seconds 0',
      );
    }
  }
  await Promise.all(clients.map((c) => c.close()));

  let resume: ResumeResult | null = null;
  if (o.resume > 0) {
    resume = await resumePhase(o, { clients: o.resume, rounds: o.resumeRounds, gapMs: o.resumeGap, rate: o.resumeRate, pid: o.pid });
    const l = resume.resume_latency_ms;
    console.log(
      `resume: ${resume.resumes} resumptions (${resume.clients} clients x ${resume.rounds} rounds, gap ${resume.gap_ms} ms), ` +
        `${resume.resume_failures} failed; latency ms (new TCP connection -> <resumed/>): p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}`,
    );
    console.log(
      `resume integrity: sent ${resume.sent} (${resume.sent_during_gap} while the client was away), delivered ${resume.delivered}, ` +
        `lost ${resume.lost}, duplicated ${resume.duplicated}, out of order ${resume.out_of_order}, error bounces ${resume.error_bounces}`,
    );
    console.log(
      `resume cpu: server ${resume.server_cpu_pct ?? '?'}% of a core, other processes ${resume.other_cpu_pct ?? '?'}%` +
        ((resume.other_cpu_pct ?? 0) > 10 ? ' (WARNING: the machine was not quiet; figures are disturbed)' : ''),
    );
  }

  const ok =
    (tp === null || (tp.lost === 0 && tp.duplicated === 0 && tp.error_bounces === 0)) &&
    (resume === null || (resume.lost === 0 && resume.duplicated === 0 && resume.error_bounces === 0 && resume.resume_failures === 0));
  if (!ok) console.log('INTEGRITY FAILURE: messages were lost, duplicated or bounced, or a resumption failed');
  console.log(
    JSON.stringify({
      label: o.label,
      host: o.host,
      port: o.port,
      pairs: o.pairs,
      window: o.window,
      warmup_s: o.warmup,
      seconds: o.seconds,
      ...(tp ?? {}),
      idle: idleResult,
      resume,
      ok,
    }),
  );
  return ok ? 0 : EXIT.integrity;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`load: ${e.message}\n\n${USAGE}`);
      process.exit(EXIT.usage);
    }
    if (e instanceof BenchError) {
      console.error(`load: ${e.message}`);
      process.exit(EXIT[e.kind]);
    }
    console.error('load:', e);
    process.exit(EXIT.protocol);
  },
);
