/**
 * A byte or message channel carrying one XMPP client stream. The stream
 * state machine (core/c2s-session.ts) sees only this, so TCP with STARTTLS,
 * direct TLS and WebSocket share every line of protocol logic.
 */
export interface TransportHandlers {
  data(chunk: Buffer | string): void;
  close(hadError: boolean): void;
}

export interface Transport {
  readonly kind: 'tcp' | 'websocket';
  readonly remoteAddress: string;
  readonly isLoopback: boolean;
  /** True once traffic is encrypted (direct TLS, after STARTTLS, or a WebSocket the operator marked secure). */
  readonly secure: boolean;
  readonly canStartTls: boolean;
  /** Bytes written but not yet taken by the kernel, for back-pressure. */
  readonly bufferedBytes: number;
  setHandlers(h: TransportHandlers): void;
  write(data: string): void;
  /** Holds writes back until uncork() (calls nest, one uncork per cork): nothing leaves before the storage it depends on is committed. */
  cork(): void;
  uncork(): void;
  /** Upgrades to TLS for `host`; called right after `<proceed/>` is written. */
  startTls(host: string): void;
  /** Closes after pending writes are flushed. */
  end(): void;
  destroy(): void;
}

export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
