import type { PushTriggerEvent } from '../core/events.js';
import type { PushRegistration } from '../storage/types.js';
import type { Decision, RegistrationSessionState } from './match.js';

/** What a transport reports for one push. */
export type PushOutcome =
  | { ok: true }
  | {
      ok: false;
      /** Worth retrying later (wait errors, timeouts, no route yet, HTTP 429/5xx). */
      temporary: boolean;
      /** The error condition or HTTP status, for logs and metrics. */
      condition: string;
      /** The service asked for this pause before the next attempt. */
      retryAfterMs?: number;
      /** The subscription is gone for good (HTTP 404/410): remove it at once. */
      gone?: boolean;
    };

/**
 * One push protocol. The pipeline owns triggers, deduplication, the outbox,
 * retries and error counting; a front-end only decides, builds and sends.
 */
export interface PushFrontend {
  readonly name: string;
  /** Whether this registration gets a push for this trigger, and why. */
  match(reg: PushRegistration, e: PushTriggerEvent, session: RegistrationSessionState): Decision;
  /**
   * What goes into the outbox (`text`), built when accepted so the options of
   * that moment apply; `prepared` is the same in memory, handed back to `send`
   * when the push goes out from this process, to save parsing it again.
   */
  payload(reg: PushRegistration, e: PushTriggerEvent): { text: string; prepared?: unknown };
  send(reg: PushRegistration, payload: string, prepared?: unknown): Promise<PushOutcome>;
}
