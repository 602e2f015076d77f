/** Small statistics helpers for the load bench: latency samples, sequence accounting, /proc readings. */
import { readFileSync } from 'node:fs';

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Latency samples in milliseconds, kept in a growable Float64Array (a million samples cost 8 MB). */
export class Samples {
  private data = new Float64Array(1 << 16);
  private n = 0;

  add(v: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = v;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    const sorted = this.data.slice(0, this.n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.n,
      mean: round(this.n === 0 ? 0 : sum / this.n),
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(this.n === 0 ? 0 : (sorted[this.n - 1] as number)),
    };
  }
}

/** Nearest-rank percentile of an ascending array; 0 when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Which sequence numbers (1, 2, 3, ...) of one sender arrived, to count the
 * lost, duplicated and out-of-order ones.
 */
export class SequenceTracker {
  private seen = new Uint8Array(1024);
  private next = 1;
  distinct = 0;
  duplicated = 0;
  outOfOrder = 0;

  record(seq: number): void {
    if (!Number.isInteger(seq) || seq < 1) {
      this.duplicated++; // garbage counts against the server, never for it
      return;
    }
    while (seq >= this.seen.length) {
      const bigger = new Uint8Array(this.seen.length * 2);
      bigger.set(this.seen);
      this.seen = bigger;
    }
    if (this.seen[seq] === 1) {
      this.duplicated++;
      return;
    }
    this.seen[seq] = 1;
    this.distinct++;
    if (seq !== this.next) this.outOfOrder++;
    this.next = seq + 1;
  }

  has(seq: number): boolean {
    return this.seen[seq] === 1;
  }

  /** Messages sent (1..sent) that never arrived. */
  lost(sent: number): number {
    let missing = 0;
    for (let s = 1; s <= sent; s++) if (this.seen[s] !== 1) missing++;
    return missing;
  }
}

/** Resident set size of a process in KB (VmRSS of /proc/PID/status). */
export function readRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * CPU time (user + system) a process has used, in seconds; assumes the usual
 * 100 ticks/s. All its threads, or with mainThread only the one whose id is
 * the process id (Node's JavaScript thread), which tells what a helper thread
 * took off it.
 */
export function readCpuSeconds(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / 100;
}

/** /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice, in ticks. */
function machineTicks(): number[] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string;
  return line.trim().split(/\s+/).slice(1).map(Number);
}

/**
 * CPU seconds the machine has spent busy (all cores: user, nice, system, irq,
 * softirq, and steal, the time the hypervisor gave this VM's cores to someone
 * else, unless `steal` is false; a script that reports steal on its own, from
 * readStealSeconds, leaves it out). Not guest, which the kernel already counts
 * in user.
 */
export function readMachineBusySeconds(steal = true): number {
  const t = machineTicks();
  return ((t[0] ?? 0) + (t[1] ?? 0) + (t[2] ?? 0) + (t[5] ?? 0) + (t[6] ?? 0) + (steal ? (t[7] ?? 0) : 0)) / 100;
}

/** CPU seconds the hypervisor took from this VM's cores (all cores), from /proc/stat. */
export function readStealSeconds(): number {
  return (machineTicks()[7] ?? 0) / 100;
}

/** Totals over (what a receiver recorded, how many its sender sent) pairs. */
export function tally(items: Iterable<[SequenceTracker, number]>): { sent: number; delivered: number; lost: number; duplicated: number; outOfOrder: number } {
  const t = { sent: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
  for (const [received, sent] of items) {
    t.sent += sent;
    t.delivered += received.distinct;
    t.lost += received.lost(sent);
    t.duplicated += received.duplicated;
    t.outOfOrder += received.outOfOrder;
  }
  return t;
}
