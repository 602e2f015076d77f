import { createHash } from 'node:crypto';
import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

/**
 * XEP-0115 verification string of a disco#info result: what the `ver` of a
 * client's caps must hash to. Only a matching answer is shared between
 * clients; a mismatching one is believed for that one session only.
 */
export function capsVerificationString(query: Element): string {
  const identities = query
    .getChildren('identity')
    .map((i) => `${i.attrs.category ?? ''}/${i.attrs.type ?? ''}/${i.attrs['xml:lang'] ?? ''}/${i.attrs.name ?? ''}`)
    .sort();
  const features = query.getChildren('feature').map((f) => f.attrs.var ?? '').sort();
  let s = identities.map((i) => i + '<').join('') + features.map((f) => f + '<').join('');
  const forms = query
    .getChildren('x', NS.dataForms)
    .map((form) => {
      const fields = form.getChildren('field');
      const type = fields.find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value') ?? '';
      const rest = fields
        .filter((f) => f.attrs.var !== 'FORM_TYPE')
        .sort((a, b) => ((a.attrs.var ?? '') < (b.attrs.var ?? '') ? -1 : 1))
        .map((f) => `${f.attrs.var ?? ''}<` + f.getChildren('value').map((v) => v.text()).sort().map((v) => v + '<').join(''))
        .join('');
      return { type, text: `${type}<${rest}` };
    })
    .sort((a, b) => (a.type < b.type ? -1 : 1));
  for (const f of forms) s += f.text;
  return s;
}

const MAX_CACHED = 2000;

function install(ctx: ServerContext): void {
  const verified = new Map<string, ReadonlySet<string>>();
  const current = new WeakMap<ClientSession, string>();

  const resolved = (session: ClientSession, features: ReadonlySet<string>): void => {
    // After the presence is processed: the session must be available for what listeners do.
    setImmediate(() => {
      if (session.connected && session.available) ctx.bus.fire('caps/resolved', { session, features });
    });
  };

  const query = async (session: ClientSession, node: string, ver: string, hash: string): Promise<void> => {
    const id = ctx.router.iq.newId();
    const to = session.jid.toString();
    const answer = ctx.router.iq.expect(id, to, 10_000);
    ctx.router.send(x('iq', { type: 'get', id, from: session.host, to }, x('query', { xmlns: NS.discoInfo, node: `${node}#${ver}` })));
    const result = await answer;
    const q = result?.attrs.type === 'result' ? result.getChild('query', NS.discoInfo) : undefined;
    if (!q || current.get(session) !== `${node}#${ver}`) return;
    const features: ReadonlySet<string> = new Set(q.getChildren('feature').map((f) => f.attrs.var ?? ''));
    if (hash === 'sha-1' && createHash('sha1').update(capsVerificationString(q)).digest('base64') === ver) {
      if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value as string);
      verified.set(ver, features);
    }
    resolved(session, features);
  };

  ctx.bus.on(
    'presence/outbound',
    ({ stanza, origin }) => {
      if (!origin || stanza.attrs.to !== undefined || stanza.attrs.type !== undefined) return undefined;
      const c = stanza.getChild('c', NS.caps);
      const node = c?.attrs.node;
      const ver = c?.attrs.ver;
      if (!c || node === undefined || ver === undefined) return undefined;
      const key = `${node}#${ver}`;
      if (current.get(origin) === key) return undefined;
      current.set(origin, key);
      const known = verified.get(ver);
      if (known) resolved(origin, known);
      else query(origin, node, ver, c.attrs.hash ?? '').catch((e: unknown) => ctx.log.warn({ err: e }, 'caps query failed'));
      return undefined;
    },
    50,
  );
}

export const capsModule: HeraldModule = { name: 'caps', install };
