import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import { errorReply, iqResult, StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import { deriveCredentials, preparePassword } from '../auth/credentials.js';
import { normalizeLocal } from '../jid.js';
import { PerMinuteLimiter } from '../net/rate-limit.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

/**
 * In-band registration (XEP-0077): account creation before authentication
 * when `registration.open` is set; password change and account removal for
 * an authenticated user always.
 */
function passwordProblem(ctx: ServerContext, password: string): string | null {
  if (password.length < ctx.config.registration.min_password_length) {
    return `the password must have at least ${ctx.config.registration.min_password_length} characters`;
  }
  if (preparePassword(password) === null) return 'the password contains characters that are not allowed';
  return null;
}

function form(): Element {
  return x('query', { xmlns: NS.register }, x('instructions', null, 'Choose a username and password.'), x('username'), x('password'));
}

function preAuth(ctx: ServerContext, limiter: PerMinuteLimiter, session: ClientSession, iq: Element): boolean {
  const query = iq.firstElement();
  if (!ctx.config.registration.open || !query?.is('query', NS.register)) return false;
  const reply = (el: Element): void => session.send(el);
  if (iq.attrs.type === 'get') {
    reply(iqResult(iq, form()));
    return true;
  }
  if (iq.attrs.type !== 'set') return false;
  if (query.getChild('remove')) {
    reply(errorReply(iq, 'auth', 'not-authorized', 'log in to remove an account'));
    return true;
  }
  const username = normalizeLocal(query.getChildText('username') ?? '');
  const password = query.getChildText('password') ?? '';
  if (username === null) {
    reply(errorReply(iq, 'modify', 'not-acceptable', 'invalid username'));
    return true;
  }
  const problem = passwordProblem(ctx, password);
  if (problem) {
    reply(errorReply(iq, 'modify', 'not-acceptable', problem));
    return true;
  }
  if (!limiter.hit(session.transport.remoteAddress)) {
    reply(errorReply(iq, 'wait', 'resource-constraint', 'too many registrations from your address; try later'));
    return true;
  }
  const host = session.host;
  deriveCredentials(password, ctx.config.auth.scram_iterations)
    .then((creds) => {
      if (!ctx.store.accounts.create(host, username, creds)) {
        reply(errorReply(iq, 'cancel', 'conflict', 'that username is taken'));
        return;
      }
      ctx.log.info({ user: `${username}@${host}` }, 'account registered in-band');
      reply(iqResult(iq));
    })
    .catch((e: unknown) => {
      ctx.log.error({ err: e }, 'registration failed');
      reply(errorReply(iq, 'wait', 'internal-server-error'));
    });
  return true;
}

function registeredInfo(ctx: ServerContext, e: StanzaEvent): true {
  const session = e.origin as ClientSession;
  ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.register }, x('registered'), x('username', null, session.username))));
  return true;
}

function change(ctx: ServerContext, e: StanzaEvent): true {
  const session = e.origin;
  if (!session) throw new StanzaError('cancel', 'service-unavailable');
  const query = e.stanza.firstElement() as Element;
  if (query.getChild('remove')) {
    const { host, username } = session;
    ctx.store.accounts.delete(host, username);
    ctx.log.info({ user: session.bare }, 'account removed in-band');
    ctx.router.reply(e, iqResult(e.stanza));
    ctx.bus.fire('account/deleted', { host, username });
    for (const s of ctx.sessions.forUser(session.bare)) s.streamError('not-authorized', 'this account was removed');
    return true;
  }
  const username = normalizeLocal(query.getChildText('username') ?? '');
  const password = query.getChildText('password');
  if (password === undefined || username !== session.username) {
    throw new StanzaError('modify', 'bad-request', 'send your own username and the new password');
  }
  const problem = passwordProblem(ctx, password);
  if (problem) throw new StanzaError('modify', 'not-acceptable', problem);
  deriveCredentials(password, ctx.config.auth.scram_iterations)
    .then((creds) => {
      ctx.store.accounts.setCredentials(session.host, session.username, creds);
      ctx.router.reply(e, iqResult(e.stanza));
    })
    .catch((err: unknown) => {
      ctx.log.error({ err }, 'password change failed');
      ctx.router.reply(e, errorReply(e.stanza, 'wait', 'internal-server-error'));
    });
  return true;
}

export const registerModule: HeraldModule = {
  name: 'register',
  install(ctx) {
    const limiter = new PerMinuteLimiter(ctx.config.registration.per_ip_per_minute);
    ctx.preAuthIq = (session, iq) => preAuth(ctx, limiter, session, iq);
    ctx.streamFeatures.add('pre-auth', () => (ctx.config.registration.open ? x('register', { xmlns: NS.registerFeature }) : null));
    ctx.disco.host.features.add(NS.register);
    ctx.bus.on(`iq-get/self/${NS.register}:query`, (e) => registeredInfo(ctx, e));
    ctx.bus.on(`iq-set/self/${NS.register}:query`, (e) => change(ctx, e));
  },
};
