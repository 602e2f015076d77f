// Where the time of one RFC 8291 encryption goes, and how fast other node:crypto
// call sequences for the same work would be (an experiment beside
// bench/webpush-crypto.ts; nothing here is used by Herald).
//
//   taskset -c 1 node --import tsx bench/webpush-crypto-variants.ts [--seconds 2]
//
// Every variant produces the same kind of output (a fresh P-256 key, ECDH with
// the subscription's key, HKDF, one AES-128-GCM record), and the complete
// variants are checked by decrypting with Herald's own decryptWebPush.
import {
  createCipheriv,
  createECDH,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { parseArgs } from 'node:util';
import { decryptWebPush, encryptWebPush } from '../src/push/crypto/webpush.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, bytes: { type: 'string', default: '3000' } } });
const seconds = Number(values.seconds);
const ua = createECDH('prime256v1');
ua.generateKeys();
const keys = { p256dh: ua.getPublicKey(), auth: randomBytes(16) };
const payload = randomBytes(Number(values.bytes));
const SPKI_P256 = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const uaKey: KeyObject = createPublicKey({ key: Buffer.concat([SPKI_P256, keys.p256dh]), format: 'der', type: 'spki' });

const results: Record<string, number> = {};
function rate(label: string, fn: () => unknown): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
  }
  const us = Number(process.hrtime.bigint() - start) / 1e3 / n;
  results[label] = Math.round(us * 10) / 10;
  console.log(`${label.padEnd(62)} ${us.toFixed(1).padStart(7)} µs  (${Math.round(1e6 / us)} /s)`);
  return us;
}

// ---- the steps of Herald's sequence ------------------------------------------------------------
console.log('steps of encryptWebPush (createECDH + generateKeys, computeSecret, 3 x hkdfSync, AES-GCM):');
const fixed = createECDH('prime256v1');
fixed.generateKeys();
rate('createECDH("prime256v1") + generateKeys()', () => createECDH('prime256v1').generateKeys());
rate('generateKeys() again on one ECDH object', () => fixed.generateKeys());
rate('computeSecret(p256dh)', () => fixed.computeSecret(keys.p256dh));
rate('getPublicKey()', () => fixed.getPublicKey());
const secret = fixed.computeSecret(keys.p256dh);
const salt = randomBytes(16);
rate('3 x hkdfSync (IKM, CEK, nonce)', () => {
  hkdfSync('sha256', secret, keys.auth, 'WebPush: info', 32);
  hkdfSync('sha256', secret, salt, 'Content-Encoding: aes128gcm\0', 16);
  hkdfSync('sha256', secret, salt, 'Content-Encoding: nonce\0', 12);
});
const cek = randomBytes(16);
const nonce = randomBytes(12);
rate(`AES-128-GCM, ${payload.length + 1} bytes`, () => {
  const c = createCipheriv('aes-128-gcm', cek, nonce);
  return [c.update(payload), c.final(), c.getAuthTag()];
});
const herald = rate('Herald encryptWebPush (the whole thing)', () => encryptWebPush(payload, keys));

// ---- other sequences for the key and the ECDH ---------------------------------------------------
console.log('\nalternatives for the ephemeral key + ECDH (+ public key bytes):');
rate('createECDH + generateKeys + computeSecret + getPublicKey', () => {
  const e = createECDH('prime256v1');
  e.generateKeys();
  return [e.computeSecret(keys.p256dh), e.getPublicKey()];
});
rate('one ECDH object: generateKeys() + computeSecret + getPublicKey', () => {
  fixed.generateKeys();
  return [fixed.computeSecret(keys.p256dh), fixed.getPublicKey()];
});
rate('generateKeyPairSync(ec) + diffieHellman (UA KeyObject cached)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return [diffieHellman({ privateKey, publicKey: uaKey }), publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_P256.length)];
});
rate('generateKeyPairSync(ec) + diffieHellman (UA KeyObject each time)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ua1 = createPublicKey({ key: Buffer.concat([SPKI_P256, keys.p256dh]), format: 'der', type: 'spki' });
  return [diffieHellman({ privateKey, publicKey: ua1 }), publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_P256.length)];
});

// ---- HKDF by hand: HMAC-SHA-256, one block each (outputs of 32 bytes or less) -----------------
const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const ONE = Buffer.of(1);
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0');
console.log('\nalternatives for the key derivation:');
rate('HKDF as 5 createHmac calls (1 PRK shared by CEK and nonce)', () => {
  const ikm = hmac(hmac(keys.auth, secret), Buffer.concat([Buffer.from('WebPush: info\0'), keys.p256dh, keys.p256dh, ONE]));
  const prk = hmac(salt, ikm);
  return [hmac(prk, Buffer.concat([CEK_INFO, ONE])).subarray(0, 16), hmac(prk, Buffer.concat([NONCE_INFO, ONE])).subarray(0, 12)];
});

// ---- a complete alternative, checked against Herald's decryption -------------------------------
/** One ECDH object whose key is regenerated for every message (generateKeys() draws a new random key). */
const ephemeral = createECDH('prime256v1');
function encryptAlt(plaintext: Buffer, uaPublic: Buffer, auth: Buffer): Buffer {
  ephemeral.generateKeys();
  const asPublic = ephemeral.getPublicKey();
  const ecdhSecret = ephemeral.computeSecret(uaPublic);
  const ikm = hmac(hmac(auth, ecdhSecret), Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, ONE]));
  const s = randomBytes(16);
  const prk = hmac(s, ikm);
  const c = createCipheriv('aes-128-gcm', hmac(prk, Buffer.concat([CEK_INFO, ONE])).subarray(0, 16), hmac(prk, Buffer.concat([NONCE_INFO, ONE])).subarray(0, 12));
  const header = Buffer.alloc(21 + 65);
  s.copy(header, 0);
  header.writeUInt32BE(4096, 16);
  header[20] = 65;
  asPublic.copy(header, 21);
  return Buffer.concat([header, c.update(plaintext), c.update(Buffer.of(2)), c.final(), c.getAuthTag()]);
}
const check = decryptWebPush(encryptAlt(payload, keys.p256dh, keys.auth), ua.getPrivateKey(), keys.auth);
if (!check.equals(payload)) throw new Error('the alternative does not decrypt to the payload');
/** A against B in alternating slices of 20 calls, so that the machine's speed drifting during the run hits both alike. */
function versus(a: () => unknown, b: () => unknown): [number, number] {
  let ta = 0;
  let tb = 0;
  let n = 0;
  for (let i = 0; i < 200; i++) a(), b();
  const end = process.hrtime.bigint() + BigInt(Math.round(2 * seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) a();
    ta += Number(process.hrtime.bigint() - t);
    t = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) b();
    tb += Number(process.hrtime.bigint() - t);
    n += 20;
  }
  return [ta / 1e3 / n, tb / 1e3 / n];
}
console.log('\ncomplete alternative (one ECDH object re-keyed per message, HMAC-based HKDF), checked with Herald\'s decryptWebPush;');
console.log('measured against encryptWebPush in alternating slices:');
const [h, alt] = versus(() => encryptWebPush(payload, keys), () => encryptAlt(payload, keys.p256dh, keys.auth));
console.log(`${'Herald encryptWebPush'.padEnd(62)} ${h.toFixed(1).padStart(7)} µs  (${Math.round(1e6 / h)} /s)`);
console.log(`${'alternative encrypt'.padEnd(62)} ${alt.toFixed(1).padStart(7)} µs  (${Math.round(1e6 / alt)} /s)`);
console.log(`speed-up over Herald's encryptWebPush: ${(h / alt).toFixed(2)}x (the sequential figure above: ${(herald / h).toFixed(2)} of this one)`);
console.log(JSON.stringify({ us: results, versus: { herald_us: h, alternative_us: alt, speedup: h / alt } }));
