import { component, xml } from '@xmpp/component';
import type { Element } from '@xmpp/xml';
import { HeraldProcess } from './herald.js';
import { freePort } from './ports.js';

/** The app server's component domain and secret in every push test. */
export const PUSH_SERVICE = 'push.localhost';
export const COMPONENT_SECRET = 'component-secret-123';

/**
 * Herald with PUSH_SERVICE as a component, fast push retries and a 1 s SM
 * ack delay, and an account `<u>` with password `<u>-pass` for each user.
 */
export async function startPushHerald(users: string[], env: Record<string, string> = {}): Promise<{ h: HeraldProcess; componentPort: number }> {
  const componentPort = await freePort();
  const h = await HeraldProcess.start({
    toml: `[[component]]\ndomain = "${PUSH_SERVICE}"\nsecret = "${COMPONENT_SECRET}"\n`,
    env: {
      HERALD_COMPONENTS_PORT: String(componentPort),
      HERALD_PUSH_RETRY_BASE_DELAY: '0.05',
      HERALD_SM_MAX_ACK_DELAY: '1',
      ...env,
    },
  });
  for (const u of users) await h.addUser(u, `${u}-pass`);
  return { h, componentPort };
}

const PUBSUB = 'http://jabber.org/protocol/pubsub';

/** How the app server answers the next publish: success, or an error of this type and condition. */
export type Answer = 'ok' | { type: string; condition: string };

/**
 * A XEP-0357 app server written with @xmpp/component (a library by others),
 * attached to Herald as a XEP-0114 component. It records every publish it
 * receives and answers them as the test scripts.
 */
export class AppServer {
  readonly publishes: Element[] = [];
  private readonly answers: Answer[] = [];
  /** Used when no scripted answer is left. */
  defaultAnswer: Answer = 'ok';
  private waiters: { n: number; resolve: () => void }[] = [];

  private constructor(private readonly xmpp: ReturnType<typeof component>) {}

  static async start(port: number, domain: string, secret: string): Promise<AppServer> {
    const xmpp = component({ service: `xmpp://127.0.0.1:${port}`, domain, password: secret });
    const app = new AppServer(xmpp);
    xmpp.on('error', () => undefined);
    (xmpp as unknown as { iqCallee: { set(ns: string, name: string, h: (ctx: { stanza: Element }) => Element | true): void } }).iqCallee.set(
      PUBSUB,
      'pubsub',
      (ctx) => {
        app.publishes.push(ctx.stanza);
        app.waiters = app.waiters.filter((w) => {
          if (app.publishes.length < w.n) return true;
          w.resolve();
          return false;
        });
        const answer = app.answers.shift() ?? app.defaultAnswer;
        return answer === 'ok' ? true : xml('error', { type: answer.type }, xml(answer.condition, 'urn:ietf:params:xml:ns:xmpp-stanzas'));
      },
    );
    await xmpp.start();
    return app;
  }

  answerNext(...answers: Answer[]): void {
    this.answers.push(...answers);
  }

  /** Resolves once `n` publishes in total have arrived. */
  received(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.publishes.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app server got ${this.publishes.length} of ${n} publishes`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async stop(): Promise<void> {
    await this.xmpp.stop().catch(() => undefined);
  }
}

/** The summary form fields of a publish, by var: what the app server reads. */
export function summaryOf(publish: Element): Record<string, string | undefined> {
  const form = publish.getChild('pubsub', PUBSUB)?.getChild('publish')?.getChild('item')?.getChild('notification', 'urn:xmpp:push:0')?.getChild('x', 'jabber:x:data');
  const out: Record<string, string | undefined> = {};
  for (const f of form?.getChildren('field') ?? []) out[f.attrs.var as string] = f.getChildText('value') ?? undefined;
  return out;
}
