import { createHmac } from 'node:crypto';

/**
 * HKDF-SHA-256 (RFC 5869) for outputs of at most 32 bytes: one HMAC to
 * extract, one to expand. Node's hkdfSync does the same work but measured
 * over twice as slow per call here, and Web Push needs five of them per message.
 */
export function hmacSha256(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function hkdfExpand(prk: Buffer, info: Buffer, length: number): Buffer {
  if (length > 32) throw new RangeError('hkdfExpand: at most 32 bytes');
  return createHmac('sha256', prk).update(info).update(ONE).digest().subarray(0, length);
}

export function hkdf(salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  return hkdfExpand(hmacSha256(salt, ikm), info, length);
}

const ONE = Buffer.of(1);
