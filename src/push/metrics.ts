import { Gauge, type Registry } from 'prom-client';
import { TallyCounter } from '../core/tally-counter.js';
import type { Store } from '../storage/types.js';

/** The push pipeline's Prometheus metrics, on the server's registry. */
export class PushMetrics {
  readonly triggers: TallyCounter<'reason'>;
  readonly decisions: TallyCounter<'frontend' | 'reason' | 'decision'>;
  readonly pushes: TallyCounter<'frontend' | 'reason' | 'outcome' | 'condition'>;
  readonly retries: TallyCounter<'frontend'>;
  readonly deduplicated: TallyCounter<'frontend'>;
  readonly disabled: TallyCounter<'frontend' | 'why'>;

  constructor(registry: Registry, store: Store) {
    const registers = [registry];
    this.triggers = new TallyCounter({ name: 'herald_push_triggers_total', help: 'Push triggers by reason', labelNames: ['reason'], registers });
    this.decisions = new TallyCounter({
      name: 'herald_push_decisions_total',
      help: 'Match decisions per registration, by front-end, trigger reason and decision',
      labelNames: ['frontend', 'reason', 'decision'],
      registers,
    });
    this.pushes = new TallyCounter({
      name: 'herald_pushes_total',
      help: 'Pushes sent, by front-end, trigger reason, outcome (sent, retry, failed) and error condition',
      labelNames: ['frontend', 'reason', 'outcome', 'condition'],
      registers,
    });
    this.retries = new TallyCounter({ name: 'herald_push_retries_total', help: 'Push retries scheduled', labelNames: ['frontend'], registers });
    this.deduplicated = new TallyCounter({ name: 'herald_push_deduplicated_total', help: 'Pushes not queued because that stanza already had one', labelNames: ['frontend'], registers });
    this.disabled = new TallyCounter({ name: 'herald_push_registrations_disabled_total', help: 'Registrations removed by the server', labelNames: ['frontend', 'why'], registers });
    new Gauge({
      name: 'herald_push_outbox_depth',
      help: 'Pushes waiting in the outbox',
      registers,
      collect() {
        this.set(store.pushOutbox.pendingCount());
      },
    });
    new Gauge({
      name: 'herald_push_registrations',
      help: 'Push registrations by front-end',
      labelNames: ['frontend'],
      registers,
      collect() {
        this.reset();
        for (const [frontend, n] of Object.entries(store.pushRegistrations.countByFrontend())) this.set({ frontend }, n);
      },
    });
  }
}
