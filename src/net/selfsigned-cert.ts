// Self-signed TLS server certificates built with node:crypto alone.
//
// Node can create key pairs and signatures but has no API for issuing
// certificates, and we don't want a runtime dependency (or an openssl binary
// on the host) just so a fresh install can speak STARTTLS. An X.509
// certificate is a small, fixed DER structure, so a minimal encoder covering
// only the types a certificate needs is enough.

import crypto from 'node:crypto';

export interface SelfSignedCert {
  /** PEM-encoded X.509 certificate. */
  cert: string;
  /** PEM-encoded PKCS#8 private key. */
  key: string;
}

// 825 days is the longest lifetime Apple platforms accept for TLS server
// certificates, so clients that honour that rule won't reject ours on age.
const DEFAULT_VALID_DAYS = 825;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

// ---------------------------------------------------------------------------
// Minimal DER encoder
// ---------------------------------------------------------------------------

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  utcTime: 0x17,
  generalizedTime: 0x18,
} as const;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  // DER requires the long form to use the fewest possible length octets.
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  // DER sorts SET OF members by encoding; every set we emit has one member,
  // so sorting is unnecessary.
  return tlv(TAG.set, Buffer.concat(items));
}

/** Encodes a non-negative integer given as big-endian magnitude bytes. */
function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  // DER forbids redundant leading zero octets...
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = Buffer.from(magnitude.subarray(start));
  if (body.length === 0) body = Buffer.from([0]);
  // ...but a set top bit would make the value negative in two's complement.
  if ((body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(TAG.integer, body);
}

function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`integer out of range: ${value}`);
  }
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return unsignedInteger(bytes);
}

function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) {
    throw new Error(`invalid OID: ${dotted}`);
  }
  const [first, second, ...rest] = arcs as [number, number, ...number[]];
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    // Base-128, most significant group first, continuation bit on all but last.
    const groups: number[] = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) {
      groups.unshift((n % 128) | 0x80);
    }
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

function utf8String(value: string): Buffer {
  return tlv(TAG.utf8String, Buffer.from(value, 'utf8'));
}

function octetString(content: Buffer): Buffer {
  return tlv(TAG.octetString, content);
}

function bitString(content: Buffer, unusedBits = 0): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unusedBits]), content]));
}

/** Context-specific constructed tag, i.e. an EXPLICIT [n] wrapper. */
function explicit(tagNumber: number, content: Buffer): Buffer {
  return tlv(0xa0 | tagNumber, content);
}

/** Context-specific primitive tag, i.e. an IMPLICIT [n] primitive value. */
function implicitPrimitive(tagNumber: number, content: Buffer): Buffer {
  return tlv(0x80 | tagNumber, content);
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    'Z';
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on,
  // because UTCTime's two-digit year can't express later dates unambiguously.
  if (year >= 1950 && year < 2050) {
    return tlv(TAG.utcTime, Buffer.from(pad2(year % 100) + rest, 'ascii'));
  }
  if (year < 0 || year > 9999) throw new RangeError(`date out of range: ${date.toISOString()}`);
  return tlv(TAG.generalizedTime, Buffer.from(String(year).padStart(4, '0') + rest, 'ascii'));
}

// ---------------------------------------------------------------------------
// Certificate
// ---------------------------------------------------------------------------

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // `critical` is DEFAULT FALSE, and DER forbids encoding default values.
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

function assertDnsName(name: string): void {
  // dNSName is an IA5String: internationalised names must arrive already
  // converted to their punycode (A-label) form.
  if (name.length === 0 || !/^[\x21-\x7e]+$/.test(name)) {
    throw new Error(`invalid domain for certificate: ${JSON.stringify(name)}`);
  }
}

/**
 * Generates a self-signed ECDSA P-256 certificate valid for `domains` and for
 * one level of subdomain under each (`*.domain`), so that MUC, upload and
 * other components on subdomains share the certificate.
 */
export function generateSelfSignedCert(
  domains: string[],
  validDays: number = DEFAULT_VALID_DAYS,
): SelfSignedCert {
  if (domains.length === 0) {
    throw new Error('generateSelfSignedCert: at least one domain is required');
  }
  if (!Number.isFinite(validDays) || validDays <= 0) {
    throw new RangeError(`generateSelfSignedCert: validDays must be positive, got ${validDays}`);
  }
  for (const domain of domains) assertDnsName(domain);

  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  const serial = crypto.randomBytes(16);
  // Serial numbers must be positive; with the top bit clear the random bytes
  // already are, so the INTEGER needs no sign-padding octet.
  serial[0] = serial[0]! & 0x7f;

  // Backdating tolerates peers whose clocks run a little behind ours.
  const now = Date.now();
  const notBefore = new Date(now - HOUR_MS);
  const notAfter = new Date(now + validDays * DAY_MS);

  // A unique unit per certificate: TLS stacks find a self-signed issuer by its
  // name, so two of ours with equal names in one trust list would shadow each other.
  const name = sequence(
    set(sequence(oid(OID.commonName), utf8String(domains[0]!))),
    set(sequence(oid(OID.organizationName), utf8String('Herald self-signed'))),
    set(sequence(oid(OID.organizationalUnitName), utf8String(serial.toString('hex')))),
  );

  const altNames = new Set<string>();
  for (const domain of domains) {
    altNames.add(domain);
    if (!domain.startsWith('*.')) altNames.add(`*.${domain}`);
  }
  const subjectAltName = sequence(
    ...[...altNames].map((n) => implicitPrimitive(2, Buffer.from(n, 'ascii'))),
  );

  // An empty SEQUENCE means cA = FALSE (the default, so omitted).
  const basicConstraints = sequence();
  // Named bit list with only bit 0 (digitalSignature): one content octet
  // 0b1000_0000 whose seven trailing zero bits DER requires marking unused.
  const keyUsage = bitString(Buffer.from([0x80]), 7);
  const extKeyUsage = sequence(oid(OID.serverAuth));

  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));

  const tbsCertificate = sequence(
    explicit(0, smallInteger(2)), // v3, needed for extensions
    unsignedInteger(serial),
    signatureAlgorithm,
    name, // issuer
    sequence(time(notBefore), time(notAfter)),
    name, // subject
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        extension(OID.subjectAltName, false, subjectAltName),
        extension(OID.basicConstraints, true, basicConstraints),
        extension(OID.keyUsage, true, keyUsage),
        extension(OID.extKeyUsage, false, extKeyUsage),
      ),
    ),
  );

  // For EC keys crypto.sign yields the DER ECDSA-Sig-Value that X.509 expects.
  const signature = crypto.sign('sha256', tbsCertificate, privateKey);
  const certificate = sequence(tbsCertificate, signatureAlgorithm, bitString(signature));

  return {
    cert: toPem('CERTIFICATE', certificate),
    // Typed string | Buffer, but PEM export always yields a string.
    key: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
  };
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
