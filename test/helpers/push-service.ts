import { createECDH, randomBytes, type ECDH } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ece from 'http_ece';
import { importJWK, jwtVerify, type JWTPayload } from 'jose';

export interface ReceivedPush {
  subscription: string;
  headers: http.IncomingHttpHeaders;
  /** The decrypted payload, as JSON. */
  message: Record<string, unknown>;
  /** The VAPID token's claims, once verified with the key the header names. */
  vapid: JWTPayload;
  vapidKey: string;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export interface Subscription {
  id: string;
  endpoint: string;
  ua: ECDH;
  auth: Buffer;
  /** What a browser's PushSubscription.toJSON() gives. */
  keys: { p256dh: string; auth: string };
}

/**
 * A Web Push service on loopback, as a browser vendor runs one: it holds the
 * subscriptions' private keys, so it can decrypt each push (with http_ece,
 * written by others) and verify its VAPID token (with jose). It answers 201
 * unless told otherwise.
 */
export class TestPushService {
  readonly received: ReceivedPush[] = [];
  readonly rejected: { subscription: string; status: number }[] = [];
  private readonly subs = new Map<string, Subscription>();
  private readonly scripted = new Map<string, { status: number; headers?: Record<string, string> }[]>();
  private readonly server: http.Server;
  origin = '';

  private constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<TestPushService> {
    const s = new TestPushService();
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    s.origin = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  subscribe(): Subscription {
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const auth = randomBytes(16);
    const id = randomBytes(8).toString('hex');
    const sub: Subscription = { id, endpoint: `${this.origin}/push/${id}`, ua, auth, keys: { p256dh: ua.getPublicKey('base64url'), auth: auth.toString('base64url') } };
    this.subs.set(id, sub);
    return sub;
  }

  /** The next answers for a subscription, before it goes back to 201. */
  answer(sub: Subscription, ...answers: { status: number; headers?: Record<string, string> }[]): void {
    this.scripted.set(sub.id, [...(this.scripted.get(sub.id) ?? []), ...answers]);
  }

  for(sub: Subscription): ReceivedPush[] {
    return this.received.filter((r) => r.subscription === sub.id);
  }

  async until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`push service: condition not met; received ${JSON.stringify(this.received.map((r) => r.message))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const id = (req.url ?? '').split('/').pop() ?? '';
    const sub = this.subs.get(id);
    if (!sub) {
      res.writeHead(404).end();
      return;
    }
    const next = this.scripted.get(id)?.shift();
    if (next) {
      this.rejected.push({ subscription: id, status: next.status });
      res.writeHead(next.status, next.headers).end();
      return;
    }
    try {
      const m = /^vapid t=([^,]+), k=([A-Za-z0-9_-]+)$/.exec(String(req.headers.authorization));
      if (!m) throw new Error('no VAPID authorization');
      const k = Buffer.from(m[2] as string, 'base64url');
      const key = await importJWK({ kty: 'EC', crv: 'P-256', x: k.subarray(1, 33).toString('base64url'), y: k.subarray(33).toString('base64url') }, 'ES256');
      const { payload } = await jwtVerify(m[1] as string, key, { audience: this.origin });
      const plain = ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: sub.ua, authSecret: sub.auth });
      this.received.push({ subscription: id, headers: req.headers, message: JSON.parse(plain.toString()) as Record<string, unknown>, vapid: payload, vapidKey: m[2] as string, at: Date.now() });
      res.writeHead(201, { location: `${this.origin}/message/${this.received.length}` }).end();
    } catch (e) {
      this.rejected.push({ subscription: id, status: 400 });
      res.writeHead(400).end(String(e));
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
