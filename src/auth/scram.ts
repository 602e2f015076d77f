import { createHmac, randomBytes } from 'node:crypto';
import { normalizeLocal } from '../jid.js';
import type { Credentials } from '../storage/types.js';
import { h, hmac, safeEqual, type ScramHash } from './credentials.js';
import type { CredentialLookup, SaslMechanism, SaslStep } from './mechanism.js';

const fail = (condition: 'malformed-request' | 'not-authorized' | 'invalid-authzid', text?: string): SaslStep =>
  text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };

/** Parses `k=v,k=v` SCRAM attribute lists; null on a malformed list. */
function attributes(s: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    if (part.length < 2 || part[1] !== '=') return null;
    out.set(part[0] as string, part.slice(2));
  }
  return out;
}

/** RFC 5802 saslname decoding: `=2C` → `,`, `=3D` → `=`, any other `=` is malformed. */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * Server side of SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677), without
 * channel binding (the -PLUS variants are not offered, so a client asking
 * for binding with `p=` is refused).
 *
 * For an unknown user the exchange continues with a salt derived from the
 * name, so a failure looks the same whether or not the account exists.
 */
export class ScramServer implements SaslMechanism {
  private state: 'first' | 'final' | 'done' = 'first';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private username = '';
  private creds: Credentials | undefined;

  constructor(
    private readonly hash: ScramHash,
    private readonly lookup: CredentialLookup,
    private readonly fakeSaltKey: Buffer,
    private readonly iterationsForUnknown: number,
  ) {}

  step(data: Buffer): SaslStep {
    const msg = data.toString('utf8');
    if (this.state === 'first') return this.first(msg);
    if (this.state === 'final') return this.final(msg);
    return fail('malformed-request', 'exchange already finished');
  }

  private first(msg: string): SaslStep {
    // gs2-header = cbind-flag "," [authzid] ","
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(msg);
    if (!m) return fail('malformed-request', 'bad GS2 header');
    if ((m[1] as string).startsWith('p=')) return fail('malformed-request', 'channel binding is not supported');
    this.gs2Header = (m[1] as string) + ',' + (m[2] ?? '') + ',';
    this.clientFirstBare = m[3] as string;
    const attrs = attributes(this.clientFirstBare);
    const rawUser = attrs?.get('n');
    const cnonce = attrs?.get('r');
    if (!attrs || rawUser === undefined || !cnonce || attrs.has('m')) return fail('malformed-request');
    const decoded = decodeSaslName(rawUser);
    const username = decoded === null ? null : normalizeLocal(decoded);
    if (username === null) return fail('malformed-request', 'bad username');
    if (m[2]) {
      const authz = decodeSaslName((m[2] as string).slice(2));
      // An authorization identity is only allowed when it is the user's own JID or localpart.
      if (authz === null || (normalizeLocal(authz.split('@')[0] ?? '') !== username)) return fail('invalid-authzid');
    }
    this.username = username;
    this.creds = this.lookup.credentials(username);
    const salt = this.creds?.salt ?? createHmac('sha256', this.fakeSaltKey).update(username).digest().subarray(0, 16);
    const iterations = this.creds?.iterations ?? this.iterationsForUnknown;
    this.nonce = cnonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.state = 'final';
    return { kind: 'challenge', data: Buffer.from(this.serverFirst) };
  }

  private final(msg: string): SaslStep {
    this.state = 'done';
    const pIndex = msg.lastIndexOf(',p=');
    if (pIndex === -1) return fail('malformed-request');
    const withoutProof = msg.slice(0, pIndex);
    const attrs = attributes(msg);
    const c = attrs?.get('c');
    const r = attrs?.get('r');
    const p = attrs?.get('p');
    if (!attrs || c === undefined || r === undefined || p === undefined) return fail('malformed-request');
    if (Buffer.from(c, 'base64').toString('utf8') !== this.gs2Header) return fail('malformed-request', 'channel binding mismatch');
    if (r !== this.nonce) return fail('malformed-request', 'nonce mismatch');
    const creds = this.creds;
    if (!creds) return fail('not-authorized');
    const keys = creds[this.hash];
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const proof = Buffer.from(p, 'base64');
    const signature = hmac(this.hash, keys.storedKey, authMessage);
    if (proof.length !== signature.length) return fail('not-authorized');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] as number) ^ (signature[i] as number);
    if (!safeEqual(h(this.hash, clientKey), keys.storedKey)) return fail('not-authorized');
    const serverSignature = hmac(this.hash, keys.serverKey, authMessage);
    return { kind: 'success', username: this.username, data: Buffer.from('v=' + serverSignature.toString('base64')) };
  }
}
