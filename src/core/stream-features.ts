import type { Element } from '../xml/element.js';
import type { ClientSession } from './c2s-session.js';

export type FeatureStage = 'pre-auth' | 'post-auth';

/** A module's contribution to `<stream:features/>`; returns null when it does not apply to this session. */
export type FeatureProvider = (session: ClientSession) => Element | null;

/** A handler for top-level elements outside jabber:client (XEP-0198 `<enable/>`, XEP-0352 `<active/>`, ...). */
export type NonzaHandler = (session: ClientSession, el: Element) => void;

export class StreamFeatures {
  private readonly providers: { stage: FeatureStage; build: FeatureProvider }[] = [];
  private readonly nonzas = new Map<string, NonzaHandler>();

  add(stage: FeatureStage, build: FeatureProvider): void {
    this.providers.push({ stage, build });
  }

  build(stage: FeatureStage, session: ClientSession): Element[] {
    const out: Element[] = [];
    for (const p of this.providers) {
      if (p.stage !== stage) continue;
      const el = p.build(session);
      if (el) out.push(el);
    }
    return out;
  }

  handleNonza(ns: string, handler: NonzaHandler): void {
    this.nonzas.set(ns, handler);
  }

  nonzaHandler(ns: string): NonzaHandler | undefined {
    return this.nonzas.get(ns);
  }
}
