import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * RFC 8292 VAPID: an ES256 JWT for each push service origin, with `aud` the
 * origin, `exp` at most 24 h ahead and `sub` a contact, sent as
 * `Authorization: vapid t=<jwt>, k=<public key>`.
 */

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');
const HEADER = b64u(JSON.stringify({ typ: 'JWT', alg: 'ES256' }));

export interface VapidKey {
  privateKey: KeyObject;
  /** Uncompressed P-256 point, what a browser's applicationServerKey takes. */
  publicKeyRaw: Buffer;
}

export function generateVapidKey(): VapidKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return vapidKeyFrom(privateKey);
}

export function vapidKeyFrom(privateKey: KeyObject): VapidKey {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKeyRaw = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
  return { privateKey, publicKeyRaw };
}

export const exportVapidKey = (k: VapidKey): Buffer => k.privateKey.export({ format: 'der', type: 'pkcs8' });
export const importVapidKey = (der: Buffer): VapidKey => vapidKeyFrom(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));

export function signJwt(claims: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${HEADER}.${b64u(JSON.stringify(claims))}`;
  // JWS wants the raw r||s signature, not DER.
  const sig = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

/** Checks an ES256 JWT against a raw P-256 public key; returns its claims, or null. */
export function verifyJwt(token: string, publicKeyRaw: Buffer): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3 || publicKeyRaw.length !== 65) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString()) as { alg?: string };
    if (header.alg !== 'ES256') return null;
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64u(publicKeyRaw.subarray(1, 33)), y: b64u(publicKeyRaw.subarray(33)) },
      format: 'jwk',
    });
    const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2] as string, 'base64url'));
    return ok ? (JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString()) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The origin a VAPID token is for: scheme://host[:port] of the push resource. */
const audienceOf = (endpoint: string): string => new URL(endpoint).origin;

/**
 * Signs VAPID headers, one token per push service origin, reused until
 * shortly before it expires: a push service sees the same token for hours,
 * and Herald signs once per origin instead of once per push.
 */
export class VapidSigner {
  private readonly cache = new Map<string, { header: string; renewAt: number }>();

  constructor(
    private readonly key: VapidKey,
    private readonly subject: string,
    /** Seconds a token is valid (RFC 8292: at most 24 h). */
    private readonly lifetime = 12 * 3600,
  ) {
    if (lifetime > 24 * 3600) throw new Error('VAPID tokens may be valid for 24 hours at most');
  }

  get publicKey(): Buffer {
    return this.key.publicKeyRaw;
  }

  authorization(endpoint: string, now = Date.now()): string {
    const aud = audienceOf(endpoint);
    const cached = this.cache.get(aud);
    if (cached && cached.renewAt > now) return cached.header;
    const exp = Math.floor(now / 1000) + this.lifetime;
    const header = `vapid t=${signJwt({ aud, exp, sub: this.subject }, this.key.privateKey)}, k=${b64u(this.key.publicKeyRaw)}`;
    // Renewed ten minutes before expiry, so no token goes out about to lapse.
    this.cache.set(aud, { header, renewAt: (exp - 600) * 1000 });
    return header;
  }
}
