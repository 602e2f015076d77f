import { createECDH, randomBytes } from 'node:crypto';
import { hkdf } from './hkdf.js';
import { eceDecrypt, eceEncrypt } from './ece.js';

/** What a browser subscription gives: the user agent's P-256 public key and its auth secret. */
export interface SubscriptionKeys {
  /** Uncompressed P-256 point, 65 bytes. */
  p256dh: Buffer;
  /** 16 bytes. */
  auth: Buffer;
}

export const RECORD_SIZE = 4096;
/** 86-byte header, 16-byte tag and the delimiter leave this much plaintext in a 4096-byte body. */
export const MAX_PLAINTEXT = RECORD_SIZE - 86 - 16 - 1;

function webPushIkm(auth: Buffer, ecdhSecret: Buffer, uaPublic: Buffer, asPublic: Buffer): Buffer {
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  return hkdf(auth, ecdhSecret, info, 32);
}

/** Re-keyed for every message (generateKeys); one JS thread, so no two messages share a key. */
const ephemeral = createECDH('prime256v1');

export interface EncryptOptions {
  /** Zero padding after the message, to hide its length. */
  padding?: number;
  /** Only for tests reproducing RFC 8291 Appendix A: never reuse a key or salt. */
  testSalt?: Buffer;
  testPrivateKey?: Buffer;
}

/**
 * RFC 8291 message encryption: a fresh ephemeral P-256 key and a random salt
 * per message, one aes128gcm record of 4096 bytes, the ephemeral public key
 * as the key id.
 */
export function encryptWebPush(plaintext: Buffer, keys: SubscriptionKeys, opts: EncryptOptions = {}): Buffer {
  const padding = opts.padding ?? 0;
  if (plaintext.length + padding > MAX_PLAINTEXT) throw new RangeError(`web push payload over ${MAX_PLAINTEXT} bytes`);
  const ecdh = opts.testPrivateKey ? createECDH('prime256v1') : ephemeral;
  if (opts.testPrivateKey) ecdh.setPrivateKey(opts.testPrivateKey);
  else ecdh.generateKeys(); // a new key pair on the one object: cheaper than a new object each time
  const asPublic = ecdh.getPublicKey();
  const ikm = webPushIkm(keys.auth, ecdh.computeSecret(keys.p256dh), keys.p256dh, asPublic);
  return eceEncrypt(plaintext, { ikm, salt: opts.testSalt ?? randomBytes(16), rs: RECORD_SIZE, keyid: asPublic, finalPadding: padding });
}

/** The user agent's side: what a browser does with a push (kept for tests and Push 2.0 clients). */
export function decryptWebPush(body: Buffer, uaPrivateKey: Buffer, auth: Buffer): Buffer {
  const ua = createECDH('prime256v1');
  ua.setPrivateKey(uaPrivateKey);
  const uaPublic = ua.getPublicKey();
  return eceDecrypt(body, (asPublic) => webPushIkm(auth, ua.computeSecret(asPublic), uaPublic, asPublic));
}

/** A fixed key for validating points: its secrets are thrown away, so it need not be secret. */
const probe = createECDH('prime256v1');
probe.setPrivateKey(Buffer.alloc(32, 1));

/** Whether bytes are an uncompressed P-256 point on the curve (a usable p256dh). */
export function isP256Point(point: Buffer): boolean {
  if (point.length !== 65 || point[0] !== 4) return false;
  try {
    probe.computeSecret(point);
    return true;
  } catch {
    return false;
  }
}
