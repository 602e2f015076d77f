/**
 * XEP-0198 resumption under traffic, for bench/load.ts --resume N.
 *
 * N clients (accounts 1..N, resource `resume`) enable stream management with
 * resumption; N senders (accounts N+1..2N) each send chat messages to one of
 * them, by full JID, at a steady rate. Each round, every client cuts its TCP
 * connection without `</stream:stream>` (the drops are spread over one
 * second), waits `gapMs`, and resumes on a new connection with the h it had
 * counted. Resume latency runs from opening the new TCP connection to
 * `<resumed/>`. At the end every sequence number each sender used is checked
 * at its client: the messages sent while the client was away must arrive
 * once, after the resumption.
 */
import { performance } from 'node:perf_hooks';
import { openClients, sleep, type ServerOptions } from './open-clients.js';
import { BenchError, RawClient } from './raw-client.js';
import { readCpuSeconds, readMachineBusySeconds, Samples, SequenceTracker, tally, type LatencySummary } from './stats.js';

export interface ResumeOptions {
  clients: number;
  rounds: number;
  gapMs: number;
  /** Messages per second each sender sends to its client. */
  rate: number;
  pid: number | null;
}

export interface ResumeResult {
  clients: number;
  rounds: number;
  gap_ms: number;
  rate_per_sender: number;
  resumes: number;
  resume_failures: number;
  /** From opening the new TCP connection to `<resumed/>`. */
  resume_latency_ms: LatencySummary;
  sent: number;
  delivered: number;
  /** Messages sent while their client was away (between its drop and its `<resumed/>`). */
  sent_during_gap: number;
  lost: number;
  duplicated: number;
  out_of_order: number;
  error_bounces: number;
  server_cpu_pct: number | null;
  other_cpu_pct: number | null;
}

interface Pair {
  user: string;
  client: RawClient;
  sender: RawClient;
  to: string;
  sent: number;
  received: SequenceTracker;
}

const SPREAD_MS = 1000;

export async function resumePhase(server: ServerOptions, o: ResumeOptions): Promise<ResumeResult> {
  const n = o.clients;
  const clients = await openClients(server, Array.from({ length: n }, (_, i) => ({ user: i + 1, resource: 'resume' })), 20);
  await Promise.all(clients.map((c) => c.enableSm()));
  const senders = await openClients(server, Array.from({ length: n }, (_, i) => ({ user: n + i + 1, resource: 'resume-sender' })), 20);
  let errorBounces = 0;
  let fail: (e: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // only raced while the rounds run
  const pairs: Pair[] = clients.map((client, i) => ({ user: `${server.prefix}${i + 1}`, client, sender: senders[i] as RawClient, to: client.jid, sent: 0, received: new SequenceTracker() }));
  const attach = (p: Pair): void => {
    p.client.onMessage = (body, isError) => {
      if (isError) errorBounces++;
      else p.received.record(Number(body.slice(0, body.indexOf(' '))));
    };
    p.client.onClose = (reason) => fail(new BenchError('closed', `${p.client.account}: ${reason} during the resume phase`));
  };
  for (const p of pairs) {
    attach(p);
    p.sender.onMessage = (_body, isError) => void (isError && errorBounces++);
    p.sender.onClose = (reason) => fail(new BenchError('closed', `${p.sender.account} (sender): ${reason} during the resume phase`));
  }

  // Steady traffic: every 10 ms each sender catches up with rate × elapsed time.
  const t0 = performance.now();
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * o.rate) / 1000);
    const now = performance.now().toFixed(3);
    for (const p of pairs) {
      let out = '';
      while (p.sent < due) {
        const seq = ++p.sent;
        out += `<message to='${p.to}' type='chat' id='r${seq}'><body>${seq} ${now}</body></message>`;
      }
      if (out !== '') p.sender.write(out);
    }
  }, 10);

  const latency = new Samples();
  let failures = 0;
  let duringGap = 0;
  const cycle = async (p: Pair, delayMs: number): Promise<void> => {
    await sleep(delayMs);
    const state = p.client.resumption;
    const seqAtDrop = p.sent;
    p.client.drop();
    await sleep(o.gapMs);
    const start = performance.now();
    let at = 0;
    try {
      const account = { host: server.host, port: server.port, domain: server.domain, username: p.user, password: server.password, resource: 'resume' };
      await RawClient.resume(account, state, (c) => {
        at = performance.now();
        p.client = c;
        attach(p);
        duringGap += p.sent - seqAtDrop;
      });
      latency.add(at - start);
    } catch (e) {
      failures++;
      console.log(`resume: ${p.client.account}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const cpu0 = o.pid === null ? 0 : readCpuSeconds(o.pid);
  const machine0 = readMachineBusySeconds();
  const own0 = process.cpuUsage();
  const w0 = performance.now();
  const run = async (): Promise<void> => {
    for (let r = 0; r < o.rounds; r++) {
      await sleep(1000);
      await Promise.all(pairs.map((p, i) => cycle(p, (i * SPREAD_MS) / n)));
    }
    await sleep(1000);
  };
  try {
    await Promise.race([run(), failed]);
  } finally {
    clearInterval(tick);
  }
  const elapsed = (performance.now() - w0) / 1000;
  const serverCpu = o.pid === null ? null : (readCpuSeconds(o.pid) - cpu0) / elapsed;
  const own = process.cpuUsage(own0);
  const machine = (readMachineBusySeconds() - machine0) / elapsed;

  // Let what is in flight arrive, then account for every sequence number.
  const deadline = performance.now() + 10_000;
  while (pairs.some((p) => p.received.distinct < p.sent) && performance.now() < deadline) await sleep(50);
  const { sent, delivered, lost, duplicated, outOfOrder } = tally(pairs.map((p): [SequenceTracker, number] => [p.received, p.sent]));
  for (const p of pairs) {
    p.client.onClose = () => undefined;
    p.sender.onClose = () => undefined;
  }
  await Promise.all(pairs.flatMap((p) => [p.client.close(), p.sender.close()]));
  return {
    clients: n,
    rounds: o.rounds,
    gap_ms: o.gapMs,
    rate_per_sender: o.rate,
    resumes: latency.count,
    resume_failures: failures,
    resume_latency_ms: latency.summary(),
    sent,
    delivered,
    sent_during_gap: duringGap,
    lost,
    duplicated,
    out_of_order: outOfOrder,
    error_bounces: errorBounces,
    server_cpu_pct: serverCpu === null ? null : Math.round(serverCpu * 100),
    other_cpu_pct: serverCpu === null ? null : Math.max(0, Math.round((machine - serverCpu - (own.user + own.system) / 1e6 / elapsed) * 100)),
  };
}
