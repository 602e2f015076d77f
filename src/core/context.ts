import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { HttpRouter } from '../net/http.js';
import type { PerMinuteLimiter } from '../net/rate-limit.js';
import type { Store } from '../storage/types.js';
import type { Element } from '../xml/element.js';
import type { EventBus } from './bus.js';
import type { ClientSession } from './c2s-session.js';
import type { DiscoRegistry } from './disco-registry.js';
import type { EventMap } from './events.js';
import type { Router } from './router.js';
import type { SessionRegistry } from './sessions.js';
import type { StreamFeatures } from './stream-features.js';

/**
 * What a module (and a client session) may use of the server: hooks on the
 * bus, storage, the router, registries and configuration. Modules get this
 * and nothing else, the way a Prosody plugin sees `module:*`.
 */
export interface ServerContext {
  readonly config: Config;
  readonly hosts: ReadonlySet<string>;
  readonly store: Store;
  readonly sessions: SessionRegistry;
  readonly router: Router;
  readonly bus: EventBus<EventMap>;
  readonly log: Logger;
  readonly streamFeatures: StreamFeatures;
  readonly disco: DiscoRegistry;
  /** Routes on the HTTP port (metrics, push endpoints). */
  readonly http: HttpRouter;
  /** Prometheus registry served on /metrics; one per server, so tests may run several in a process. */
  readonly metrics: Registry;
  readonly authFailures: PerMinuteLimiter;
  /** Key for the salts shown for unknown users, so SCRAM does not reveal which accounts exist. */
  readonly saslSaltKey: Buffer;
  /** Handles an IQ before authentication (XEP-0077 registration); false when not taken. */
  preAuthIq: ((session: ClientSession, iq: Element) => boolean) | null;
  /** Work to finish before streams are closed at shutdown (run concurrently, bounded by the caller). */
  readonly shutdownHooks: (() => Promise<void>)[];
}

export interface HeraldModule {
  name: string;
  install(ctx: ServerContext): void;
}
