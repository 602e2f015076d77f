import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import saslprep from '@mongodb-js/saslprep';
import type { Credentials, ScramKeys } from '../storage/types.js';

const pbkdf2Async = promisify(pbkdf2);

export type ScramHash = 'sha1' | 'sha256';
const KEY_LENGTH: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

/** RFC 4013 SASLprep of a password; null when it contains prohibited characters. */
export function preparePassword(password: string): string | null {
  try {
    return saslprep(password);
  } catch {
    return null;
  }
}

export function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hash, key).update(data).digest();
}

export function h(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

export async function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2Async(password, salt, iterations, KEY_LENGTH[hash], hash);
}

export function keysFromSalted(hash: ScramHash, salted: Buffer): ScramKeys {
  const clientKey = hmac(hash, salted, 'Client Key');
  return { storedKey: h(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key') };
}

/**
 * Derives what is stored for an account: SCRAM keys for SHA-1 and SHA-256
 * sharing one salt. The password itself is never kept.
 */
export async function deriveCredentials(password: string, iterations: number): Promise<Credentials> {
  const prepared = preparePassword(password);
  if (prepared === null) throw new Error('the password contains characters SASLprep prohibits');
  const salt = randomBytes(16);
  const [s1, s256] = await Promise.all([
    saltedPassword('sha1', prepared, salt, iterations),
    saltedPassword('sha256', prepared, salt, iterations),
  ]);
  return { salt, iterations, sha1: keysFromSalted('sha1', s1), sha256: keysFromSalted('sha256', s256) };
}

/** Checks a clear-text password (SASL PLAIN, XEP-0077 password change) against stored keys. */
export async function verifyPassword(creds: Credentials, password: string): Promise<boolean> {
  const prepared = preparePassword(password);
  if (prepared === null) return false;
  const salted = await saltedPassword('sha256', prepared, creds.salt, creds.iterations);
  return safeEqual(keysFromSalted('sha256', salted).storedKey, creds.sha256.storedKey);
}

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
