/**
 * XEP-0357 push throughput and latency, server-agnostic: N offline users (no
 * session at all) have push registrations at a XEP-0114 component, the
 * bench's own app server, which answers every publish at once; S senders
 * send them chat messages. Pushes/s counts the publishes the app server got.
 *
 *   node --import tsx bench/push.ts --port C2S --component-port P --secret S --password PW
 *     [--users 100] [--senders 10] [--messages 2000] [--warmup-messages 500]
 *     [--window 50 | --rate 1000 | --backlog] [--pid SERVER_PID] [--label NAME]
 *
 * Accounts <prefix>1..N are the users (each enables push with node `n<i>`
 * from a session it then closes), N+1..N+S the senders; sender s writes to
 * users s+1, s+1+S, ... in turn, so each node hears from one sender only and
 * its publishes come in the order its messages were sent. With --rate, each
 * sender sends on its own phase of the period (no synchronised bursts). Latency is
 * send -> publish received: from the message body when the server puts it in
 * the publish (Herald with HERALD_PUSH_WITH_BODY=true), else by that order.
 *
 * --backlog: the app server is away while every message is sent (no warm-up),
 * so each push waits in the server's outbox; then it connects, and the figures
 * are for draining that backlog: pushes/s from the connection to the last
 * publish, latency from the connection to each publish.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { exitOnSetupError, intArgs, serverArgs } from './lib/args.js';
import { openClients, sleep } from './lib/open-clients.js';
import { BenchError, type RawClient } from './lib/raw-client.js';
import { RawComponent } from './lib/raw-component.js';
import { calibrate } from './lib/calibrate.js';
import { readCpuSeconds, readMachineBusySeconds, readStealSeconds, round, Samples, SequenceTracker } from './lib/stats.js';
import { attr } from './lib/xml-scan.js';

exitOnSetupError('push');
const { values: v } = parseArgs({
  options: {
    ...serverArgs,
    'component-port': { type: 'string' },
    'component-domain': { type: 'string', default: 'push.localhost' },
    secret: { type: 'string' },
    users: { type: 'string', default: '100' },
    senders: { type: 'string', default: '10' },
    messages: { type: 'string', default: '2000' },
    'warmup-messages': { type: 'string', default: '500' },
    window: { type: 'string', default: '50' },
    rate: { type: 'string', default: '0' },
    backlog: { type: 'boolean', default: false },
    pid: { type: 'string' },
    label: { type: 'string', default: 'push' },
  },
});
const num = intArgs('push');
if (v.password === undefined || v.secret === undefined) {
  console.error('push: --password and --secret are required; see the header of bench/push.ts');
  process.exit(2);
}
const o = {
  server: { host: v.host, port: num('port', v.port, 1), domain: v.domain, prefix: v['user-prefix'], password: v.password },
  componentPort: num('component-port', v['component-port'], 1),
  componentDomain: v['component-domain'],
  secret: v.secret,
  users: num('users', v.users, 1),
  senders: num('senders', v.senders, 1),
  messages: num('messages', v.messages, 1),
  warmup: num('warmup-messages', v['warmup-messages'], 0),
  window: num('window', v.window, 1),
  rate: num('rate', v.rate, 0),
  backlog: v.backlog === true,
  pid: v.pid === undefined ? null : num('pid', v.pid, 1),
  label: v.label,
};

interface Node {
  sent: number;
  /** Send times of messages whose publish has not come yet, oldest first. */
  pending: number[];
  published: SequenceTracker;
  publishes: number;
}

interface Sender {
  client: RawClient;
  /** Indexes (0-based) of the users this sender writes to. */
  targets: number[];
  next: number;
  sent: number;
  quota: number;
  inflight: number;
}

const nodes: Node[] = Array.from({ length: o.users }, () => ({ sent: 0, pending: [], published: new SequenceTracker(), publishes: 0 }));
/** The sender of each user (by index). */
const owner: Sender[] = [];
let senders: Sender[] = [];
let result: {
  r: { seconds: number; drained: boolean };
  serverCpu: number | null;
  mainCpu: number | null;
  ownCpu: number;
  otherCpu: number | null;
  steal: number;
  wall: number;
  calibrationMs: [number, number];
} | null = null;
let fail: (why: string) => void = (why) => {
  throw new BenchError('closed', why);
};
let measuring = false;
let published = 0;
let withBody = 0;
let errors = 0;
let lastPublish = 0;
const latency = new Samples();
/** CPU counters when the measured round started. */
let baseline = { cpu0: 0, main0: 0, machine0: 0, steal0: 0, own0: process.cpuUsage() };

// ---- the app server ------------------------------------------------------------------------
let component: RawComponent | null = null;
/** With --backlog, when the app server connected: latency is counted from there. */
let drainStart: number | null = null;
let answers = '';
async function attachComponent(): Promise<void> {
  const c = await RawComponent.open({ host: o.server.host, port: o.componentPort, domain: o.componentDomain, secret: o.secret });
  c.onIq = onPublish;
  c.onChunk = () => {
    if (answers !== '') c.write(answers);
    answers = '';
    if (o.rate === 0 && !o.backlog) for (const s of senders) pump(s); // closed loop: a publish frees a slot
  };
  c.onClose = (reason) => fail(`the app server's component connection: ${reason}`);
  component = c;
}
function onPublish(stanza: string): void {
  const head = stanza.slice(0, stanza.indexOf('>') + 1);
  const id = attr(head, 'id') ?? '';
  const from = attr(head, 'from') ?? '';
  const type = attr(head, 'type');
  if (type === 'result' || type === 'error') return;
  answers += `<iq type='result' id='${id}' to='${from}' from='${o.componentDomain}'/>`;
  const node = /<publish\b[^>]*\bnode=['"]n(\d+)['"]/.exec(stanza);
  const n = node ? nodes[Number(node[1])] : undefined;
  if (!n) return;
  const now = performance.now();
  lastPublish = now;
  n.publishes++;
  const sent = n.pending.shift();
  const body = /var=['"]last-message-body['"][^>]*>\s*<value>(\d+) ([\d.]+)<\/value>/.exec(stanza);
  if (body) {
    withBody++;
    n.published.record(Number(body[1]));
  }
  if (measuring) {
    published++;
    const t = drainStart ?? (body ? Number(body[2]) : sent);
    if (t !== undefined) latency.add(now - t);
  }
  const s = owner[Number(node?.[1])];
  if (s) s.inflight--;
}
if (!o.backlog) await attachComponent();

// ---- registrations: each user enables push from a session it then closes ----------------------
const t0 = performance.now();
const users = await openClients(o.server, Array.from({ length: o.users }, (_, i) => ({ user: i + 1, resource: 'push' })), 20);
await Promise.all(
  users.map(async (c, i) => {
    const answer = await c.request(`<iq type='set' id='push-enable'><enable xmlns='urn:xmpp:push:0' jid='${o.componentDomain}' node='n${i}'/></iq>`, 'push-enable');
    if (!/^<iq\b[^>]*\btype=['"]result['"]/.test(answer)) throw new BenchError('protocol', `${c.account}: push enable refused: ${answer.slice(0, 300)}`);
  }),
);
await Promise.all(users.map((c) => c.close()));
console.log(`push: ${o.users} users enabled push at ${o.componentDomain} and went offline in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

// ---- senders -----------------------------------------------------------------------------------
const clients = await openClients(o.server, Array.from({ length: o.senders }, (_, i) => ({ user: o.users + i + 1, resource: 'push-sender' })), 20);
senders = clients.map((client, s) => {
  const targets: number[] = [];
  for (let u = s; u < o.users; u += o.senders) targets.push(u);
  return { client, targets, next: 0, sent: 0, quota: 0, inflight: 0 };
});
for (const s of senders) {
  for (const u of s.targets) owner[u] = s;
  s.client.onMessage = (_body, isError) => void (isError && errors++);
  s.client.onClose = (reason) => fail(`${s.client.account}: ${reason}`);
}
try {
  await new Promise<void>((resolve, reject) => {
    fail = (why) => reject(new BenchError('closed', why));
    run().then(resolve, reject);
  });
  finish();
} catch (e) {
  console.error(`push: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(e instanceof BenchError ? 5 : 1);
}

/** Sends up to the quota: in closed-loop mode while fewer than --window pushes are outstanding. */
function pump(s: Sender, upTo = s.quota): void {
  if (s.targets.length === 0) return;
  let out = '';
  const now = performance.now();
  const stamp = now.toFixed(3);
  while (s.sent < upTo && (o.rate > 0 || o.backlog || s.inflight < o.window)) {
    const u = s.targets[s.next++ % s.targets.length] as number;
    const n = nodes[u] as Node;
    const seq = ++n.sent;
    n.pending.push(now);
    s.sent++;
    s.inflight++;
    out += `<message to='${o.server.prefix}${u + 1}@${o.server.domain}' type='chat' id='p${seq}'><body>${seq} ${stamp}</body></message>`;
  }
  if (out !== '') s.client.write(out);
}

/** Sends `perSender` more messages from each sender and waits until their publishes are in (or none came for 15 s). */
async function sendRound(perSender: number): Promise<{ seconds: number; drained: boolean }> {
  const start = performance.now();
  const expected = nodes.reduce((a, n) => a + n.sent, 0) + perSender * senders.filter((s) => s.targets.length > 0).length;
  for (const s of senders) s.quota += perSender;
  let ticker: NodeJS.Timeout | null = null;
  if (o.rate > 0) {
    // Each sender on its own phase of the period, so that messages arrive spread out, not in bursts.
    const perSenderRate = o.rate / senders.length;
    const base = senders.map((s) => s.sent);
    ticker = setInterval(() => {
      const periods = ((performance.now() - start) * perSenderRate) / 1000;
      senders.forEach((s, i) => pump(s, Math.min(s.quota, (base[i] as number) + Math.floor(periods + 1 - i / senders.length))));
    }, 1);
  } else {
    for (const s of senders) pump(s);
  }
  const publishes = (): number => nodes.reduce((a, n) => a + n.publishes, 0);
  const sending = o.rate > 0 ? (perSender * senders.length * 1000) / o.rate : 0;
  while (publishes() < expected && performance.now() - Math.max(lastPublish, start + sending) < 15_000) await sleep(20);
  if (ticker) clearInterval(ticker);
  return { seconds: (Math.max(lastPublish, start) - start) / 1000, drained: publishes() >= expected };
}

/**
 * Waits until the server has used under 5% of a core for half a second: the
 * failed attempts are recorded and no wave of retries (1, 2, 4... s apart) is
 * under way, so the drain is measured on its own. Without --pid, 3 s.
 */
async function serverQuiet(): Promise<void> {
  if (o.pid === null) return sleep(3000);
  const pid = o.pid;
  const deadline = performance.now() + 30_000;
  await sleep(1000);
  while (performance.now() < deadline) {
    const before = readCpuSeconds(pid);
    await sleep(500);
    if (readCpuSeconds(pid) - before < 0.025) return;
  }
  console.log('push: the server never went quiet before the app server connected');
}

function startMeasuring(): void {
  baseline = { cpu0: o.pid === null ? 0 : readCpuSeconds(o.pid), main0: o.pid === null ? 0 : readCpuSeconds(o.pid, true), machine0: readMachineBusySeconds(false), steal0: readStealSeconds(), own0: process.cpuUsage() };
  measuring = true;
}

/** --backlog: everything is sent and stored while the app server is away, then it connects. */
async function drainRound(): Promise<{ seconds: number; drained: boolean }> {
  for (const s of senders) {
    s.quota = o.messages;
    pump(s);
  }
  // A ping answered on each sender's stream: the server has handled every message before it.
  await Promise.all(senders.map((s) => s.client.request(`<iq type='get' id='sync' to='${o.server.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, 'sync')));
  await serverQuiet();
  const expected = nodes.reduce((a, n) => a + n.sent, 0);
  startMeasuring();
  drainStart = performance.now();
  await attachComponent();
  const publishes = (): number => nodes.reduce((a, n) => a + n.publishes, 0);
  while (publishes() < expected && performance.now() - Math.max(lastPublish, drainStart) < 15_000) await sleep(20);
  return { seconds: (Math.max(lastPublish, drainStart) - drainStart) / 1000, drained: publishes() >= expected };
}

async function run(): Promise<void> {
  const mode = o.backlog
    ? 'backlog: all sent while the app server is away, then it connects'
    : o.rate > 0
      ? `open loop at ${o.rate} messages/s in all`
      : `closed loop, ${o.window} pushes outstanding per sender`;
  console.log(`push: ${o.label}: ${o.senders} senders -> ${o.users} offline users, ${o.backlog ? 0 : o.warmup} warm-up + ${o.messages} measured messages per sender, ${mode}`);
  const calibrationBefore = calibrate();
  if (o.warmup > 0 && !o.backlog) {
    const w = await sendRound(o.warmup);
    console.log(`warm-up: ${o.warmup * o.senders} messages, publishes ${w.drained ? 'all in' : 'NOT all in'} after ${w.seconds.toFixed(2)} s`);
  }
  if (!o.backlog) startMeasuring(); // drainRound starts it when the app server connects
  const r = o.backlog ? await drainRound() : await sendRound(o.messages);
  measuring = false;
  const { cpu0, main0, machine0, steal0, own0 } = baseline;
  const serverCpu = o.pid === null ? null : readCpuSeconds(o.pid) - cpu0;
  const mainCpu = o.pid === null ? null : readCpuSeconds(o.pid, true) - main0;
  const wall = r.seconds;
  const own = process.cpuUsage(own0);
  const ownCpu = (own.user + own.system) / 1e6;
  const otherCpu = serverCpu === null ? null : Math.max(0, readMachineBusySeconds(false) - machine0 - serverCpu - ownCpu);
  const steal = readStealSeconds() - steal0;
  // After the measured phase, when every publish is in and the server is idle again.
  const calibrationMs: [number, number] = [calibrationBefore, calibrate()];
  result = { r, serverCpu, mainCpu, ownCpu, otherCpu, steal, wall, calibrationMs };
}

function finish(): void {
  const { r, serverCpu, mainCpu, ownCpu, otherCpu, steal, wall, calibrationMs } = result as NonNullable<typeof result>;
  const sent = nodes.reduce((a, n) => a + n.sent, 0);
  const got = nodes.reduce((a, n) => a + n.publishes, 0);
  const exact = withBody === got && got > 0;
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (const n of nodes) {
    if (exact) {
      lost += n.published.lost(n.sent);
      duplicated += n.published.duplicated;
      outOfOrder += n.published.outOfOrder;
    } else {
      lost += Math.max(0, n.sent - n.publishes);
      duplicated += Math.max(0, n.publishes - n.sent);
    }
  }
  const l = latency.summary();
  const pct = (x: number | null): number | null => (x === null || wall === 0 ? null : Math.round((x / wall) * 100));
  const out = {
    label: o.label,
    users: o.users,
    senders: o.senders,
    messages_per_sender: o.messages,
    mode: o.backlog ? 'backlog' : o.rate > 0 ? 'rate' : 'window',
    rate: o.rate,
    window: o.window,
    pushes_per_s: wall === 0 ? 0 : Math.round(published / wall),
    measured_pushes: published,
    measured_s: round(wall, 3),
    latency_ms: l,
    latency_from: o.backlog ? 'app server connection' : exact ? 'body' : 'order per node',
    sent,
    published: got,
    lost,
    duplicated,
    out_of_order: exact ? outOfOrder : null,
    error_bounces: errors,
    drained: r.drained,
    server_cpu_pct: pct(serverCpu),
    server_cpu_us_per_push: serverCpu === null || published === 0 ? null : Math.round((serverCpu * 1e6) / published),
    server_main_thread_us_per_push: mainCpu === null || published === 0 ? null : Math.round((mainCpu * 1e6) / published),
    loadgen_cpu_pct: pct(ownCpu),
    other_cpu_pct: pct(otherCpu),
    steal_pct: pct(steal),
    calibration_ms: calibrationMs,
  };
  console.log(`pushes: ${out.pushes_per_s} publishes/s at the app server (${published} in ${out.measured_s} s)`);
  console.log(`latency ms (${o.backlog ? 'app server connected -> publish' : `send -> publish, from the ${out.latency_from}`}): p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}  (mean ${l.mean})`);
  console.log(
    `integrity: sent ${sent}, published ${got}, lost ${lost}, duplicated ${duplicated}${exact ? `, out of order ${outOfOrder}` : ' (counts per node)'}, ` +
      `error bounces ${errors}${r.drained ? '' : ' (NOT drained: no publish came for 15 s; the missing ones count as lost)'}`,
  );
  console.log(
    `cpu: server ${out.server_cpu_pct ?? '?'}% of a core (${out.server_cpu_us_per_push ?? '?'} µs per push, main thread ${out.server_main_thread_us_per_push ?? '?'}), load generator ${out.loadgen_cpu_pct}%, ` +
      `other processes ${out.other_cpu_pct ?? '?'}%, steal ${out.steal_pct}%` +
      `${(out.other_cpu_pct ?? 0) + (out.steal_pct ?? 0) > 10 ? ' (WARNING: the machine was not quiet; figures are disturbed)' : ''}`,
  );
  console.log(`machine: the calibration workload (bench/lib/calibrate.ts) took ${calibrationMs[0]} ms before and ${calibrationMs[1]} ms after (lower is faster)`);
  const ok = lost === 0 && duplicated === 0 && errors === 0 && r.drained;
  if (!ok) console.log('INTEGRITY FAILURE: pushes were lost, duplicated or bounced');
  console.log(JSON.stringify({ ...out, ok }));
  component?.close();
  for (const s of senders) void s.client.close();
  setTimeout(() => process.exit(ok ? 0 : 1), 200);
}
