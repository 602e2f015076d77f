import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generateSelfSignedCert } from '../../src/net/selfsigned-cert.js';

/**
 * One certificate for every Herald a test process starts, trusted by the
 * test's TLS clients. @xmpp/client gives no way to pass a CA, so tls.connect
 * is wrapped to add it: verification stays on instead of being disabled.
 */
const dir = mkdtempSync(join(tmpdir(), 'herald-cert-'));
const pair = generateSelfSignedCert(['localhost', 'herald.test']);
export const TEST_CERT = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem'), pem: pair.cert };
writeFileSync(TEST_CERT.certPath, pair.cert);
writeFileSync(TEST_CERT.keyPath, pair.key);

const extraCas = new Set<string>([pair.cert]);
const originalConnect = tls.connect;

/** Also trust this PEM (a certificate Herald generated itself). */
export function trustCertificate(pem: string): void {
  extraCas.add(pem);
}

(tls as { connect: typeof tls.connect }).connect = ((...args: unknown[]) => {
  const opts = args[0];
  if (typeof opts === 'object' && opts !== null && !('ca' in opts)) {
    // Real clients reach a server by its domain; tests dial 127.0.0.1, so name the domain for SNI and verification.
    const o = opts as { servername?: string; host?: string };
    const servername = o.servername ?? (o.host === '127.0.0.1' ? 'localhost' : undefined);
    args[0] = { ...opts, ca: [...tls.rootCertificates, ...extraCas], ...(servername ? { servername } : {}) };
  }
  return (originalConnect as (...a: unknown[]) => tls.TLSSocket)(...args);
}) as typeof tls.connect;
