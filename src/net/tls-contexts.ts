import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { generateSelfSignedCert } from './selfsigned-cert.js';

/**
 * TLS contexts per served domain. A domain with its own `tls.domains.<d>`
 * certificate gets it; every other domain uses `tls.cert`/`tls.key`, or a
 * self-signed certificate generated under the data directory on first
 * start (and regenerated when the domain list outgrows it).
 */
export class TlsContexts {
  private readonly byDomain = new Map<string, tls.SecureContext>();
  readonly fallback: tls.SecureContext;
  /** The default certificate and key, for servers that take them rather than a context. */
  readonly fallbackPair: { cert: string; key: string };

  constructor(config: Config, log: Logger) {
    this.fallbackPair = config.tls.cert !== '' ? readPair(config.tls.cert, config.tls.key) : selfSigned(config, log);
    this.fallback = tls.createSecureContext(this.fallbackPair);
    for (const [domain, files] of Object.entries(config.tls.domains)) {
      const pair = readPair(files.cert, files.key);
      this.byDomain.set(domain.toLowerCase(), tls.createSecureContext(pair));
    }
  }

  forHost(host: string): tls.SecureContext {
    return this.byDomain.get(host.toLowerCase()) ?? this.fallback;
  }

  /** For SNI on direct TLS, where the stream's `to` is not known yet. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, this.forHost(servername));
  };
}

function readPair(certPath: string, keyPath: string): { cert: string; key: string } {
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

function selfSigned(config: Config, log: Logger): { cert: string; key: string } {
  const dir = join(config.server.data_dir, 'tls');
  const certPath = join(dir, 'selfsigned.crt');
  const keyPath = join(dir, 'selfsigned.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const pair = readPair(certPath, keyPath);
    const x509 = new X509Certificate(pair.cert);
    const fresh = new Date(x509.validTo).getTime() > Date.now() + 7 * 86400_000;
    if (fresh && config.server.domains.every((d) => x509.checkHost(d) !== undefined)) return pair;
  }
  mkdirSync(dir, { recursive: true });
  const pair = generateSelfSignedCert(config.server.domains);
  writeFileSync(keyPath, pair.key, { mode: 0o600 });
  writeFileSync(certPath, pair.cert);
  log.warn({ cert: certPath }, 'no tls.cert configured: generated a self-signed certificate (clients will not trust it)');
  return pair;
}
