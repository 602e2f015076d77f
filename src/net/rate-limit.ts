/**
 * Counts events per key (an IP address) in a sliding one-minute window made
 * of two fixed halves, which is precise enough for abuse limits and costs two
 * numbers per key. Idle keys are dropped by `sweep`.
 */
export class PerMinuteLimiter {
  private readonly buckets = new Map<string, { window: number; current: number; previous: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly limit: number) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Records one event; returns false when the key is over its limit. */
  hit(key: string, now = Date.now()): boolean {
    const b = this.bucket(key, now);
    b.current++;
    return this.estimate(b, now) <= this.limit;
  }

  /** True when the key is currently over its limit, without recording anything. */
  exceeded(key: string, now = Date.now()): boolean {
    const b = this.buckets.get(key);
    if (!b) return false;
    this.roll(b, now);
    return this.estimate(b, now) >= this.limit;
  }

  private bucket(key: string, now: number): { window: number; current: number; previous: number } {
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { window: Math.floor(now / 60_000), current: 0, previous: 0 }));
    this.roll(b, now);
    return b;
  }

  private roll(b: { window: number; current: number; previous: number }, now: number): void {
    const w = Math.floor(now / 60_000);
    if (w === b.window) return;
    b.previous = w === b.window + 1 ? b.current : 0;
    b.current = 0;
    b.window = w;
  }

  private estimate(b: { current: number; previous: number }, now: number): number {
    const elapsed = (now % 60_000) / 60_000;
    return b.current + b.previous * (1 - elapsed);
  }

  sweep(now = Date.now()): void {
    const w = Math.floor(now / 60_000);
    for (const [k, b] of this.buckets) if (b.window < w - 1) this.buckets.delete(k);
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}
