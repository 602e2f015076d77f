import { readFileSync } from 'node:fs';
import type { HeraldModule } from '../core/context.js';
import { iqResult } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import { x } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const heraldVersion = (): string => VERSION;

/** XEP-0199 ping and XEP-0092 software version, answered by the server. */
export const pingVersionModule: HeraldModule = {
  name: 'ping-version',
  install(ctx) {
    ctx.disco.host.features.add(NS.ping).add(NS.version);
    const pong = (e: StanzaEvent): true => {
      ctx.router.reply(e, iqResult(e.stanza));
      return true;
    };
    ctx.bus.on(`iq-get/host/${NS.ping}:ping`, pong);
    ctx.bus.on(`iq-get/self/${NS.ping}:ping`, pong);
    ctx.bus.on(`iq-get/host/${NS.version}:query`, (e) => {
      // The OS is left out on purpose: it helps attackers more than users.
      ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.version }, x('name', null, 'Herald'), x('version', null, VERSION))));
      return true;
    });
  },
};
