import { normalizeLocal } from '../jid.js';
import { verifyPassword } from './credentials.js';
import type { CredentialLookup, SaslMechanism, SaslStep } from './mechanism.js';

/** SASL PLAIN (RFC 4616); offered only over TLS, or on loopback when configured. */
export class PlainServer implements SaslMechanism {
  constructor(private readonly lookup: CredentialLookup) {}

  async step(data: Buffer): Promise<SaslStep> {
    const parts = data.toString('utf8').split('\0');
    if (parts.length !== 3) return { kind: 'failure', condition: 'malformed-request' };
    const [authzid, authcid, password] = parts as [string, string, string];
    const username = normalizeLocal(authcid);
    if (username === null || password === '') return { kind: 'failure', condition: 'not-authorized' };
    if (authzid !== '' && normalizeLocal(authzid.split('@')[0] ?? '') !== username) {
      return { kind: 'failure', condition: 'invalid-authzid' };
    }
    const creds = this.lookup.credentials(username);
    if (!creds || !(await verifyPassword(creds, password))) return { kind: 'failure', condition: 'not-authorized' };
    return { kind: 'success', username };
  }
}
