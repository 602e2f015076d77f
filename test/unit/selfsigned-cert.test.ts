import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

import { generateSelfSignedCert } from '../../src/net/selfsigned-cert.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

function altNames(x509: crypto.X509Certificate): string[] {
  return (x509.subjectAltName ?? '').split(',').map((s) => s.trim());
}

test('certificate parses, is self-signed and matches its key', () => {
  const before = Date.now();
  const { cert, key } = generateSelfSignedCert(['herald.test']);
  const after = Date.now();
  const x509 = new crypto.X509Certificate(cert);

  assert.ok(altNames(x509).includes('DNS:herald.test'));
  assert.ok(altNames(x509).includes('DNS:*.herald.test'));
  assert.equal(x509.verify(x509.publicKey), true);
  assert.equal(x509.checkHost('herald.test'), 'herald.test');
  // checkHost returns the certificate name that matched, here the wildcard.
  assert.equal(x509.checkHost('muc.herald.test'), '*.herald.test');
  assert.equal(x509.checkHost('other.test'), undefined);
  assert.equal(x509.checkPrivateKey(crypto.createPrivateKey(key)), true);
  assert.equal(x509.ca, false);
  assert.match(x509.subject, /CN=herald\.test/);
  assert.match(x509.subject, /O=Herald self-signed/);
  assert.equal(x509.subject, x509.issuer);
  assert.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(x509.publicKey.asymmetricKeyType, 'ec');
  assert.equal(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

  // Certificate times have one-second resolution.
  const validFrom = Date.parse(x509.validFrom);
  const validTo = Date.parse(x509.validTo);
  assert.ok(validFrom >= before - HOUR_MS - 1000 && validFrom <= after - HOUR_MS);
  assert.ok(validTo >= before + 825 * DAY_MS - 1000 && validTo <= after + 825 * DAY_MS);
});

test('validDays sets notAfter, including GeneralizedTime years past 2049', () => {
  for (const days of [1, 30, 365 * 40]) {
    const before = Date.now();
    const { cert } = generateSelfSignedCert(['herald.test'], days);
    const after = Date.now();
    const x509 = new crypto.X509Certificate(cert);
    const validTo = Date.parse(x509.validTo);
    assert.ok(
      validTo >= before + days * DAY_MS - 1000 && validTo <= after + days * DAY_MS,
      `validTo ${x509.validTo} for ${days} days`,
    );
    assert.equal(x509.verify(x509.publicKey), true);
  }
});

test('every domain appears as a subjectAltName', () => {
  const { cert } = generateSelfSignedCert(['localhost', 'example.test']);
  const x509 = new crypto.X509Certificate(cert);
  const names = altNames(x509);
  for (const domain of ['localhost', 'example.test']) {
    assert.ok(names.includes(`DNS:${domain}`), `missing DNS:${domain} in ${x509.subjectAltName}`);
    assert.ok(names.includes(`DNS:*.${domain}`), `missing DNS:*.${domain}`);
    assert.equal(x509.checkHost(domain), domain);
  }
  assert.match(x509.subject, /CN=localhost/);
});

test('empty domain list throws', () => {
  assert.throws(() => generateSelfSignedCert([]), /at least one domain/);
});

test('invalid arguments throw', () => {
  assert.throws(() => generateSelfSignedCert(['']), /invalid domain/);
  assert.throws(() => generateSelfSignedCert(['bad domain']), /invalid domain/);
  assert.throws(() => generateSelfSignedCert(['herald.test'], 0), RangeError);
});

test('serial numbers are random and positive', () => {
  const serials = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const x509 = new crypto.X509Certificate(generateSelfSignedCert(['herald.test']).cert);
    assert.ok(/^[0-7]/.test(x509.serialNumber.padStart(32, '0')));
    serials.add(x509.serialNumber);
  }
  assert.equal(serials.size, 5);
});

test('a TLS client trusting the certificate completes a verified handshake', async (t) => {
  const domain = 'localhost';
  const { cert, key } = generateSelfSignedCert([domain, 'example.test']);

  const server = tls.createServer({ cert, key }, (socket) => {
    socket.end('ok');
  });
  t.after(() => server.close());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  for (const servername of [domain, 'example.test', 'xmpp.example.test']) {
    const { data, authorized } = await new Promise<{ data: string; authorized: boolean }>(
      (resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: cert });
        let data = '';
        let authorized = false;
        socket.setEncoding('utf8');
        socket.on('secureConnect', () => {
          authorized = socket.authorized;
        });
        socket.on('data', (chunk: string) => {
          data += chunk;
        });
        socket.on('end', () => resolve({ data, authorized }));
        socket.on('error', reject);
      },
    );
    assert.equal(data, 'ok', servername);
    assert.equal(authorized, true, servername);
  }

  // Sanity check that verification is really in force: a name not in the
  // certificate must be refused.
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'wrong.invalid', ca: cert });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    }),
    /ERR_TLS_CERT_ALTNAME_INVALID|does not match/,
  );
});
