import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What an endpoint token says: who registered which app instance, until when. */
export interface TokenClaims {
  /** Random id: the handle for revocation and rate limiting. */
  id: string;
  /** The registering full JID (the distributor). */
  jid: string;
  /** The domain the distributor registered with (pushes come from it). */
  host: string;
  instance: string;
  application: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

const VERSION = 1;
const NONCE = 12;
const TAG = 16;

/**
 * Endpoint tokens: the claims as JSON, sealed with AES-256-GCM under a server
 * key (`version || nonce || ciphertext || tag`, base64url). They are opaque
 * (no readable JID), unforgeable and tamper-evident without the key, and need
 * no storage per registration; expiry and the revocation list are checked by
 * the provider.
 */
export class TokenCodec {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('token key must be 32 bytes');
  }

  seal(claims: Omit<TokenClaims, 'id'> & { id?: string }): { token: string; id: string } {
    const id = claims.id ?? randomBytes(12).toString('base64url');
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.of(VERSION));
    const json = JSON.stringify({ i: id, j: claims.jid, h: claims.host, n: claims.instance, a: claims.application, e: claims.exp });
    const ct = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    return { token: Buffer.concat([Buffer.of(VERSION), nonce, ct, cipher.getAuthTag()]).toString('base64url'), id };
  }

  /** The claims, or null for anything forged, tampered with, truncated or from another key. */
  open(token: string): TokenClaims | null {
    if (token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 1 + NONCE + TAG + 2 || raw[0] !== VERSION) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(1, 1 + NONCE));
      decipher.setAAD(raw.subarray(0, 1));
      decipher.setAuthTag(raw.subarray(raw.length - TAG));
      const json = Buffer.concat([decipher.update(raw.subarray(1 + NONCE, raw.length - TAG)), decipher.final()]).toString('utf8');
      const c = JSON.parse(json) as Record<string, unknown>;
      if (typeof c.i !== 'string' || typeof c.j !== 'string' || typeof c.h !== 'string' || typeof c.n !== 'string' || typeof c.a !== 'string' || typeof c.e !== 'number') {
        return null;
      }
      return { id: c.i, jid: c.j, host: c.h, instance: c.n, application: c.a, exp: c.e };
    } catch {
      return null;
    }
  }
}
