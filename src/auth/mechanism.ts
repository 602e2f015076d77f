// A server-side SASL mechanism: one instance per authentication exchange.

export type SaslFailure =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; username: string; data?: Buffer }
  | { kind: 'failure'; condition: SaslFailure; text?: string };

export interface SaslMechanism {
  step(data: Buffer): SaslStep | Promise<SaslStep>;
}

/** What mechanisms need to know about accounts, without seeing storage. */
export interface CredentialLookup {
  credentials(username: string): import('../storage/types.js').Credentials | undefined;
}
