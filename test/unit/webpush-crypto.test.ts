import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as ece from 'http_ece';
import { importJWK, jwtVerify } from 'jose';
import webpush from 'web-push';
import { eceDecrypt, eceEncrypt, deriveEceKeys } from '../../src/push/crypto/ece.js';
import { generateVapidKey, signJwt, VapidSigner, verifyJwt, exportVapidKey, importVapidKey } from '../../src/push/crypto/vapid.js';
import { decryptWebPush, encryptWebPush, isP256Point, MAX_PLAINTEXT } from '../../src/push/crypto/webpush.js';

const u = (s: string): Buffer => Buffer.from(s, 'base64url');

test('RFC 8188 §3.1: single record, reproduced byte for byte', () => {
  const ikm = u('yqdlZ-tYemfogSmv7Ws5PQ');
  const salt = u('I1BsxtFttlv3u_Oo94xnmw');
  const keys = deriveEceKeys(ikm, salt);
  assert.equal(keys.cek.toString('base64url'), '_wniytB-ofscZDh4tbSjHw');
  assert.equal(keys.nonce.toString('base64url'), 'Bcs8gkIRKLI8GeI8');
  const body = eceEncrypt(Buffer.from('I am the walrus'), { ikm, salt, rs: 4096 });
  assert.equal(body.toString('base64url'), 'I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg');
  assert.equal(eceDecrypt(body, () => ikm).toString(), 'I am the walrus');
});

test('RFC 8188 §3.2: two records, key id, record-sequence nonces', () => {
  const ikm = u('BO3ZVPxUlnLORbVGMpbT1Q');
  const salt = u('uNCkWiNYzKTnBN9ji3-qWA');
  const body = eceEncrypt(Buffer.from('I am the walrus'), { ikm, salt, rs: 25, keyid: Buffer.from('a1'), recordSizes: [7, 8] });
  assert.equal(body.toString('base64url'), 'uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA');
  assert.equal(eceDecrypt(body, (keyid) => (keyid.toString() === 'a1' ? ikm : Buffer.alloc(16))).toString(), 'I am the walrus');
  // Tampering with any byte of a record fails authentication.
  const t = Buffer.from(body);
  t[40] = (t[40] as number) ^ 1;
  assert.throws(() => eceDecrypt(t, () => ikm));
});

const A = {
  plaintext: 'When I grow up, I want to be a watermelon',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  uaPublic: 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  auth: 'BTBZMqHH6r4Tts7J_aSIgg',
  body: 'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

test('RFC 8291 Appendix A: the example message, byte for byte, and back', () => {
  const body = encryptWebPush(Buffer.from(A.plaintext), { p256dh: u(A.uaPublic), auth: u(A.auth) }, { testSalt: u(A.salt), testPrivateKey: u(A.asPrivate) });
  assert.equal(body.length, 144);
  assert.equal(body.toString('base64url'), A.body);
  assert.equal(decryptWebPush(u(A.body), u(A.uaPrivate), u(A.auth)).toString(), A.plaintext);
});

test('RFC 8291 with fresh keys: http_ece decrypts what Herald makes; Herald decrypts what web-push makes', () => {
  const ua = createECDH('prime256v1');
  ua.generateKeys();
  const auth = randomBytes(16);
  const message = Buffer.from(JSON.stringify({ type: 'message', body: 'é'.repeat(500) }));
  const a = encryptWebPush(message, { p256dh: ua.getPublicKey(), auth }, { padding: 100 });
  const b = encryptWebPush(message, { p256dh: ua.getPublicKey(), auth });
  assert.notDeepEqual(a.subarray(0, 16), b.subarray(0, 16), 'a fresh salt each time');
  assert.notDeepEqual(a.subarray(21, 86), b.subarray(21, 86), 'a fresh ephemeral key each time');
  assert.deepEqual(ece.decrypt(a, { version: 'aes128gcm', privateKey: ua, authSecret: auth }), message);
  const theirs = webpush.encrypt(ua.getPublicKey('base64url'), auth.toString('base64url'), message, 'aes128gcm');
  assert.deepEqual(decryptWebPush(theirs.cipherText, ua.getPrivateKey(), auth), message);
  assert.throws(() => encryptWebPush(Buffer.alloc(MAX_PLAINTEXT + 1), { p256dh: ua.getPublicKey(), auth }), RangeError);
  assert.equal(encryptWebPush(Buffer.alloc(MAX_PLAINTEXT), { p256dh: ua.getPublicKey(), auth }).length, 4096);
});

test('p256dh validation: only uncompressed points on P-256', () => {
  const ua = createECDH('prime256v1');
  ua.generateKeys();
  assert.ok(isP256Point(ua.getPublicKey()));
  assert.ok(!isP256Point(ua.getPublicKey(undefined, 'compressed')));
  const off = Buffer.from(ua.getPublicKey());
  off[64] = (off[64] as number) ^ 1;
  assert.ok(!isP256Point(off), 'not on the curve');
  assert.ok(!isP256Point(Buffer.alloc(65)));
});

test('RFC 8292 §2.4: the example token verifies with its key, and not with another', () => {
  const t =
    'eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA';
  const k = u('BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs');
  assert.deepEqual(verifyJwt(t, k), { aud: 'https://push.example.net', exp: 1453523768, sub: 'mailto:push@example.com' });
  assert.equal(verifyJwt(t, generateVapidKey().publicKeyRaw), null);
  assert.equal(verifyJwt(t.slice(0, -2) + 'AA', k), null);
});

test('VAPID: jose verifies Herald tokens; one token per origin, renewed before expiry', async () => {
  const key = generateVapidKey();
  const signer = new VapidSigner(key, 'mailto:admin@herald.test');
  const now = Date.now();
  const h1 = signer.authorization('https://fcm.googleapis.com/fcm/send/abc', now);
  const h2 = signer.authorization('https://fcm.googleapis.com/fcm/send/other', now + 1000);
  assert.equal(h1, h2, 'cached per audience');
  assert.notEqual(signer.authorization('https://updates.push.services.mozilla.com/wpush/v2/x', now), h1);
  const later = signer.authorization('https://fcm.googleapis.com/x', now + 12 * 3600_000 - 500_000);
  assert.notEqual(later, h1, 'renewed shortly before it expires');
  const m = /^vapid t=([^,]+), k=([A-Za-z0-9_-]+)$/.exec(h1);
  assert.ok(m);
  assert.deepEqual(u(m[2] as string), key.publicKeyRaw);
  const pub = key.publicKeyRaw;
  const jwk = await importJWK({ kty: 'EC', crv: 'P-256', x: pub.subarray(1, 33).toString('base64url'), y: pub.subarray(33).toString('base64url') }, 'ES256');
  const { payload, protectedHeader } = await jwtVerify(m[1] as string, jwk, { audience: 'https://fcm.googleapis.com' });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.sub, 'mailto:admin@herald.test');
  assert.ok((payload.exp as number) - now / 1000 <= 24 * 3600);
  // Keys survive export and import (they are stored between restarts).
  assert.deepEqual(importVapidKey(exportVapidKey(key)).publicKeyRaw, key.publicKeyRaw);
  assert.ok(verifyJwt(signJwt({ a: 1 }, key.privateKey), key.publicKeyRaw));
  assert.throws(() => new VapidSigner(key, 'mailto:x', 25 * 3600));
});
