// The part of http_ece (RFC 8188 / RFC 8291 content coding) the tests use as an oracle; it ships no types.
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';

  interface Params {
    version?: 'aes128gcm' | 'aesgcm' | 'aesgcm128';
    key?: Buffer;
    keyid?: string;
    salt?: Buffer;
    rs?: number;
    privateKey?: ECDH;
    dh?: Buffer;
    authSecret?: Buffer;
    keymap?: Record<string, ECDH>;
    keylabels?: Record<string, string>;
  }

  export function encrypt(buffer: Buffer, params: Params): Buffer;
  export function decrypt(buffer: Buffer, params: Params): Buffer;
}
