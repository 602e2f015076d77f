import { Pool } from 'undici';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Outbound HTTP for push services: one keep-alive connection pool per origin
 * (undici's Pool measured several times faster than fetch here), with a
 * deadline for every request.
 */
export class HttpSender {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly timeoutMs: number) {}

  async post(url: string, headers: Record<string, string>, body: Buffer): Promise<HttpAnswer> {
    const u = new URL(url);
    let pool = this.pools.get(u.origin);
    if (!pool) {
      pool = new Pool(u.origin, { connections: 16, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connectTimeout: this.timeoutMs });
      this.pools.set(u.origin, pool);
    }
    const res = await pool.request({ method: 'POST', path: u.pathname + u.search, headers, body });
    await res.body.dump();
    return { status: res.statusCode, headers: res.headers };
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }
}

/** Retry-After in milliseconds, from seconds or an HTTP date. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}
