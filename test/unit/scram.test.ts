import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

import { ScramServer } from '../../src/auth/scram.js';
import {
  deriveCredentials,
  keysFromSalted,
  preparePassword,
  saltedPassword,
  verifyPassword,
  type ScramHash,
} from '../../src/auth/credentials.js';
import type { SaslStep } from '../../src/auth/mechanism.js';
import type { Credentials } from '../../src/storage/types.js';

// ---- an independent SCRAM client, written only with node:crypto --------------------

const KEY_LEN: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

function xor(a: Buffer, b: Buffer): Buffer {
  assert.equal(a.length, b.length);
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

interface ClientProof {
  clientFinal: string;
  proof: string;
  serverSignature: string;
  authMessage: string;
}

/** RFC 5802 §3 client computation, independent of src/. */
function clientProof(
  hash: ScramHash,
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  gs2Header = 'n,,',
): ClientProof {
  const attrs = new Map(serverFirst.split(',').map((p) => [p[0] as string, p.slice(2)]));
  const nonce = attrs.get('r') as string;
  const salt = Buffer.from(attrs.get('s') as string, 'base64');
  const iterations = Number(attrs.get('i'));
  const salted = pbkdf2Sync(password, salt, iterations, KEY_LEN[hash], hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const serverKey = createHmac(hash, salted).update('Server Key').digest();
  const withoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const clientSignature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = xor(clientKey, clientSignature).toString('base64');
  const serverSignature = createHmac(hash, serverKey).update(authMessage).digest().toString('base64');
  return { clientFinal: `${withoutProof},p=${proof}`, proof, serverSignature, authMessage };
}

// ---- RFC test vectors ---------------------------------------------------------------

interface Vector {
  hash: ScramHash;
  user: string;
  password: string;
  clientNonce: string;
  serverNonceSuffix: string;
  salt: string;
  iterations: number;
  proof: string;
  serverFinal: string;
}

const RFC5802: Vector = {
  hash: 'sha1',
  user: 'user',
  password: 'pencil',
  clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
  serverNonceSuffix: '3rfcNHYJY1ZVvWVs7j',
  salt: 'QSXCR+Q6sek8bf92',
  iterations: 4096,
  proof: 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
  serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
};

const RFC7677: Vector = {
  hash: 'sha256',
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonceSuffix: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  iterations: 4096,
  proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function rfcMessages(v: Vector) {
  const clientFirstBare = `n=${v.user},r=${v.clientNonce}`;
  const serverFirst = `r=${v.clientNonce}${v.serverNonceSuffix},s=${v.salt},i=${v.iterations}`;
  return { clientFirstBare, serverFirst };
}

/** Credentials as the library stores them, derived from the vector's salt. */
async function libraryCredentials(password: string, salt: Buffer, iterations: number): Promise<Credentials> {
  const s1 = await saltedPassword('sha1', password, salt, iterations);
  const s256 = await saltedPassword('sha256', password, salt, iterations);
  return { salt, iterations, sha1: keysFromSalted('sha1', s1), sha256: keysFromSalted('sha256', s256) };
}

const FAKE_KEY = Buffer.from('fake-salt-key-for-tests');

function server(hash: ScramHash, accounts: Record<string, Credentials>, iterationsForUnknown = 4096): ScramServer {
  return new ScramServer(hash, { credentials: (u) => accounts[u] }, FAKE_KEY, iterationsForUnknown);
}

function challenge(step: SaslStep): string {
  assert.equal(step.kind, 'challenge', JSON.stringify(step));
  assert.ok(step.kind === 'challenge');
  return step.data.toString('utf8');
}

async function stepOf(s: ScramServer, msg: string): Promise<SaslStep> {
  return await s.step(Buffer.from(msg, 'utf8'));
}

for (const v of [RFC5802, RFC7677]) {
  const label = v.hash === 'sha1' ? 'RFC 5802 §5 (SCRAM-SHA-1)' : 'RFC 7677 §3 (SCRAM-SHA-256)';
  describe(label, () => {
    test('the test-side client reproduces the published proof and server signature', () => {
      const { clientFirstBare, serverFirst } = rfcMessages(v);
      const c = clientProof(v.hash, v.password, clientFirstBare, serverFirst);
      assert.equal(c.proof, v.proof);
      assert.equal(`v=${c.serverSignature}`, v.serverFinal);
      assert.equal(c.clientFinal, `c=biws,r=${v.clientNonce}${v.serverNonceSuffix},p=${v.proof}`);
    });

    test('saltedPassword + keysFromSalted give keys that verify the RFC proof and produce the RFC v=', async () => {
      const { clientFirstBare, serverFirst } = rfcMessages(v);
      const salted = await saltedPassword(v.hash, v.password, Buffer.from(v.salt, 'base64'), v.iterations);
      const keys = keysFromSalted(v.hash, salted);
      const authMessage = `${clientFirstBare},${serverFirst},c=biws,r=${v.clientNonce}${v.serverNonceSuffix}`;

      const serverSignature = createHmac(v.hash, keys.serverKey).update(authMessage).digest();
      assert.equal(`v=${serverSignature.toString('base64')}`, v.serverFinal);

      // The server-side check: ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must be StoredKey.
      const clientSignature = createHmac(v.hash, keys.storedKey).update(authMessage).digest();
      const clientKey = xor(Buffer.from(v.proof, 'base64'), clientSignature);
      assert.deepEqual(createHash(v.hash).update(clientKey).digest(), keys.storedKey);
    });

    test('ScramServer completes an exchange with the RFC inputs and a real client', async () => {
      const salt = Buffer.from(v.salt, 'base64');
      const creds = await libraryCredentials(v.password, salt, v.iterations);
      const s = server(v.hash, { user: creds });
      const clientFirstBare = `n=${v.user},r=${v.clientNonce}`;
      const serverFirst = challenge(await stepOf(s, `n,,${clientFirstBare}`));

      const m = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(serverFirst);
      assert.ok(m, serverFirst);
      const nonce = m[1] as string;
      assert.ok(nonce.startsWith(v.clientNonce), 'server nonce extends the client nonce');
      assert.ok(nonce.length > v.clientNonce.length + 8, 'server adds its own nonce');
      assert.ok(!nonce.includes(','));
      assert.equal(m[2], v.salt);
      assert.equal(Number(m[3]), v.iterations);

      const c = clientProof(v.hash, v.password, clientFirstBare, serverFirst);
      const result = await stepOf(s, c.clientFinal);
      assert.equal(result.kind, 'success', JSON.stringify(result));
      assert.ok(result.kind === 'success');
      assert.equal(result.username, 'user');
      assert.equal(result.data?.toString('utf8'), `v=${c.serverSignature}`, 'server signature verifies on the client');

      // a further step after success is refused
      const again = await stepOf(s, c.clientFinal);
      assert.equal(again.kind, 'failure');
    });

    test('two exchanges get different server nonces', async () => {
      const creds = await libraryCredentials(v.password, Buffer.from(v.salt, 'base64'), v.iterations);
      const a = challenge(await stepOf(server(v.hash, { user: creds }), `n,,n=user,r=${v.clientNonce}`));
      const b = challenge(await stepOf(server(v.hash, { user: creds }), `n,,n=user,r=${v.clientNonce}`));
      assert.notEqual(a, b);
    });
  });
}

// ---- failures -----------------------------------------------------------------------

describe('ScramServer failures', async () => {
  const salt = randomBytes(16);
  const creds = await libraryCredentials('pencil', salt, 4096);
  const accounts = { user: creds, 'a,b=c': creds };

  for (const hash of ['sha1', 'sha256'] as const) {
    test(`${hash}: a wrong password fails with not-authorized`, async () => {
      const s = server(hash, accounts);
      const cfb = 'n=user,r=abcdefghijklmnop';
      const sf = challenge(await stepOf(s, `n,,${cfb}`));
      const c = clientProof(hash, 'pencil2', cfb, sf);
      const r = await stepOf(s, c.clientFinal);
      assert.equal(r.kind, 'failure');
      assert.ok(r.kind === 'failure');
      assert.equal(r.condition, 'not-authorized');
    });
  }

  test('an unknown user gets a normal-looking challenge, then not-authorized', async () => {
    const s = server('sha256', accounts, 4096);
    const cfb = 'n=nobody,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    const m = /^r=(abcdefghijklmnop[^,]+),s=([A-Za-z0-9+/=]+),i=(\d+)$/.exec(sf);
    assert.ok(m, sf);
    assert.equal(Buffer.from(m[2] as string, 'base64').length, creds.salt.length, 'fake salt has the real salt length');
    assert.equal(Number(m[3]), 4096);

    // the same unknown name always gets the same salt, so probing twice reveals nothing
    const sf2 = challenge(await stepOf(server('sha256', accounts, 4096), `n,,${cfb}`));
    assert.equal(sf2.split(',')[1], sf.split(',')[1]);
    // and different names get different salts
    const sf3 = challenge(await stepOf(server('sha256', accounts, 4096), 'n,,n=other,r=abcdefghijklmnop'));
    assert.notEqual(sf3.split(',')[1], sf.split(',')[1]);

    const c = clientProof('sha256', 'pencil', cfb, sf);
    const r = await stepOf(s, c.clientFinal);
    assert.deepEqual(r.kind === 'failure' && r.condition, 'not-authorized');
  });

  test('the unknown-user iteration count is the configured one', async () => {
    const sf = challenge(await stepOf(server('sha1', accounts, 8192), 'n,,n=nobody,r=xyz0123456789'));
    assert.match(sf, /,i=8192$/);
  });

  test('channel binding (p=) is refused', async () => {
    const r = await stepOf(server('sha256', accounts), 'p=tls-unique,,n=user,r=abcdefghijklmnop');
    assert.equal(r.kind, 'failure');
    assert.ok(r.kind === 'failure');
    assert.equal(r.condition, 'malformed-request');
  });

  test('the y flag (client supports binding, server does not offer it) is accepted', async () => {
    const s = server('sha256', accounts);
    const cfb = 'n=user,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `y,,${cfb}`));
    const c = clientProof('sha256', 'pencil', cfb, sf, 'y,,');
    const r = await stepOf(s, c.clientFinal);
    assert.equal(r.kind, 'success', JSON.stringify(r));
  });

  test('a c= that does not match the GS2 header fails', async () => {
    const s = server('sha256', accounts);
    const cfb = 'n=user,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    const c = clientProof('sha256', 'pencil', cfb, sf, 'y,,'); // client claims y,, but sent n,,
    const r = await stepOf(s, c.clientFinal);
    assert.equal(r.kind, 'failure');
  });

  test('a nonce that is not the server nonce fails', async () => {
    const s = server('sha256', accounts);
    const cfb = 'n=user,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    const forged = sf.replace(/^r=([^,]+)/, 'r=abcdefghijklmnopFORGED');
    const c = clientProof('sha256', 'pencil', cfb, forged);
    const r = await stepOf(s, c.clientFinal);
    assert.equal(r.kind, 'failure');
    assert.ok(r.kind === 'failure');
    assert.equal(r.condition, 'malformed-request');
  });

  test('just the client nonce (without the server part) fails', async () => {
    const s = server('sha256', accounts);
    const cfb = 'n=user,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    const clientOnly = sf.replace(/^r=([^,]+)/, 'r=abcdefghijklmnop');
    const c = clientProof('sha256', 'pencil', cfb, clientOnly);
    assert.equal((await stepOf(s, c.clientFinal)).kind, 'failure');
  });

  test('a proof of the wrong length fails', async () => {
    const s = server('sha256', accounts);
    const cfb = 'n=user,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    const nonce = sf.split(',')[0]?.slice(2);
    const r = await stepOf(s, `c=biws,r=${nonce},p=${Buffer.alloc(5).toString('base64')}`);
    assert.deepEqual(r.kind === 'failure' && r.condition, 'not-authorized');
  });

  const malformedFirst: [string, string][] = [
    ['no GS2 header', 'n=user,r=abc'],
    ['no nonce', 'n,,n=user'],
    ['empty nonce', 'n,,n=user,r='],
    ['no username', 'n,,r=abc'],
    ['mandatory extension m=', 'n,,m=ext,n=user,r=abc'],
    ['bad =XX escape in username', 'n,,n=us=41er,r=abc'],
    ['garbage', 'hello'],
  ];
  for (const [what, msg] of malformedFirst) {
    test(`client-first with ${what} fails`, async () => {
      const r = await stepOf(server('sha256', accounts), msg);
      assert.equal(r.kind, 'failure', JSON.stringify(r));
    });
  }

  test('a client-final without a proof fails', async () => {
    const s = server('sha256', accounts);
    const sf = challenge(await stepOf(s, 'n,,n=user,r=abcdefghijklmnop'));
    const nonce = sf.split(',')[0]?.slice(2);
    assert.equal((await stepOf(s, `c=biws,r=${nonce}`)).kind, 'failure');
  });

  test('a username with =2C and =3D is decoded', async () => {
    const s = server('sha256', accounts);
    const cfb = 'n=a=2Cb=3Dc,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    assert.equal(sf.split(',')[1], `s=${salt.toString('base64')}`, 'the real salt shows the account was found');
    const c = clientProof('sha256', 'pencil', cfb, sf);
    const r = await stepOf(s, c.clientFinal);
    assert.equal(r.kind, 'success', JSON.stringify(r));
    assert.ok(r.kind === 'success');
    assert.equal(r.username, 'a,b=c');
  });

  test('the username is normalised like a localpart', async () => {
    const s = server('sha1', accounts);
    const cfb = 'n=USER,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(s, `n,,${cfb}`));
    const c = clientProof('sha1', 'pencil', cfb, sf);
    const r = await stepOf(s, c.clientFinal);
    assert.ok(r.kind === 'success', JSON.stringify(r));
    assert.equal(r.username, 'user');
  });

  test('an authzid that is the user itself is accepted, another one is refused', async () => {
    const ok = server('sha256', accounts);
    const cfb = 'n=user,r=abcdefghijklmnop';
    const sf = challenge(await stepOf(ok, `n,a=user@localhost,${cfb}`));
    const c = clientProof('sha256', 'pencil', cfb, sf, 'n,a=user@localhost,');
    assert.equal((await stepOf(ok, c.clientFinal)).kind, 'success');

    const bad = await stepOf(server('sha256', accounts), `n,a=admin@localhost,${cfb}`);
    assert.deepEqual(bad.kind === 'failure' && bad.condition, 'invalid-authzid');
  });
});

// ---- stored credentials ----------------------------------------------------------------

describe('credentials', () => {
  test('deriveCredentials + verifyPassword accept the right password and reject a wrong one', async () => {
    const creds = await deriveCredentials('correct horse', 4096);
    assert.equal(creds.iterations, 4096);
    assert.equal(creds.salt.length, 16);
    assert.equal(creds.sha1.storedKey.length, 20);
    assert.equal(creds.sha1.serverKey.length, 20);
    assert.equal(creds.sha256.storedKey.length, 32);
    assert.equal(creds.sha256.serverKey.length, 32);
    assert.equal(await verifyPassword(creds, 'correct horse'), true);
    assert.equal(await verifyPassword(creds, 'correct horsE'), false);
    assert.equal(await verifyPassword(creds, ''), false);
  });

  test('two derivations of the same password use different salts', async () => {
    const a = await deriveCredentials('pw', 4096);
    const b = await deriveCredentials('pw', 4096);
    assert.notDeepEqual(a.salt, b.salt);
    assert.notDeepEqual(a.sha256.storedKey, b.sha256.storedKey);
  });

  test('derived keys match an independent RFC 5802 computation for both hashes', async () => {
    const creds = await deriveCredentials('pencil', 4096);
    for (const hash of ['sha1', 'sha256'] as const) {
      const salted = pbkdf2Sync('pencil', creds.salt, 4096, KEY_LEN[hash], hash);
      const clientKey = createHmac(hash, salted).update('Client Key').digest();
      assert.deepEqual(creds[hash].storedKey, createHash(hash).update(clientKey).digest());
      assert.deepEqual(creds[hash].serverKey, createHmac(hash, salted).update('Server Key').digest());
    }
  });

  test('derived credentials work in a full SCRAM exchange', async () => {
    const creds = await deriveCredentials('s3cret', 4096);
    for (const hash of ['sha1', 'sha256'] as const) {
      const s = server(hash, { alice: creds });
      const cfb = 'n=alice,r=0123456789abcdef';
      const sf = challenge(await stepOf(s, `n,,${cfb}`));
      const c = clientProof(hash, 's3cret', cfb, sf);
      const r = await stepOf(s, c.clientFinal);
      assert.ok(r.kind === 'success', JSON.stringify(r));
      assert.equal(r.data?.toString(), `v=${c.serverSignature}`);
    }
  });

  test('SASLprep: a non-ASCII space (U+00A0) is the same as an ASCII space', async () => {
    assert.equal(preparePassword('pass\u00a0word'), 'pass word');
    const creds = await deriveCredentials('pass\u00a0word', 4096);
    assert.equal(await verifyPassword(creds, 'pass word'), true);
    assert.equal(await verifyPassword(creds, 'pass\u2003word'), true, 'EM SPACE maps to space too');
    assert.equal(await verifyPassword(creds, 'password'), false);

    const creds2 = await deriveCredentials('pass word', 4096);
    assert.equal(await verifyPassword(creds2, 'pass\u00a0word'), true);
  });

  test('SASLprep: soft hyphen is removed, prohibited characters are refused', async () => {
    assert.equal(preparePassword('I\u00adX'), 'IX');
    assert.equal(preparePassword('a\u0007b'), null);
    await assert.rejects(deriveCredentials('a\u0007b', 4096), /SASLprep/);
    const creds = await deriveCredentials('IX', 4096);
    assert.equal(await verifyPassword(creds, 'I\u00adX'), true);
    assert.equal(await verifyPassword(creds, 'a\u0007b'), false);
  });
});
