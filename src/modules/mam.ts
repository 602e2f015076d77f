import type { ClientSession } from '../core/c2s-session.js';
import type { HeraldModule, ServerContext } from '../core/context.js';
import { iqResult, StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events.js';
import { chore } from '../core/guard.js';
import { parseJid } from '../jid.js';
import type { ArchiveFilter, ArchiveMode, ArchivePrefs } from '../storage/types.js';
import { buildForm, formValue, parseForm } from '../xml/data-form.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { parseElement } from '../xml/parse-element.js';
import { isStorable } from './storable.js';

/**
 * Message Archive Management (XEP-0313, urn:xmpp:mam:2) for user archives:
 * one-to-one messages are archived in both directions, incoming ones marked
 * with a XEP-0359 stanza-id; queries filter by with/start/end/before-id/
 * after-id and page with RSM (XEP-0059).
 */

function archivable(stanza: Element): boolean {
  const type = stanza.attrs.type ?? 'normal';
  return (type === 'chat' || type === 'normal') && isStorable(stanza) && !stanza.getChild('result', NS.mam);
}

function prefsOf(ctx: ServerContext, host: string, user: string): ArchivePrefs {
  return ctx.store.archive.getPrefs(host, user) ?? { default: ctx.config.mam.default, always: [], never: [] };
}

function allowed(ctx: ServerContext, host: string, user: string, contact: string): boolean {
  const p = prefsOf(ctx, host, user);
  if (p.never.includes(contact)) return false;
  if (p.always.includes(contact)) return true;
  if (p.default === 'always') return true;
  if (p.default === 'never') return false;
  return ctx.store.roster.get(host, user, contact) !== undefined;
}

function archiveIncoming(ctx: ServerContext, e: StanzaEvent): undefined {
  const { stanza, to } = e;
  if (!archivable(stanza) || !ctx.store.accounts.exists(to.domain, to.local)) return undefined;
  const owner = to.bareString;
  // Only the archive's own server may say what the archive id is: drop any other claim to it.
  stanza.children = stanza.children.filter((c) => typeof c === 'string' || !(c.name === 'stanza-id' && c.ns === NS.sid && c.attrs.by === owner));
  const contact = e.from.bareString;
  if (!allowed(ctx, to.domain, to.local, contact)) return undefined;
  const id = ctx.store.archive.newId();
  stanza.append(x('stanza-id', { xmlns: NS.sid, by: owner, id }));
  ctx.store.archive.append(to.domain, to.local, { id, with: contact, stamp: Date.now(), direction: 'in', stanza: stanza.toString(NS.client) });
  ctx.bus.fire('archive/stored', { host: to.domain, username: to.local, stanza, id, direction: 'in' });
  return undefined;
}

function archiveOutgoing(ctx: ServerContext, e: StanzaEvent): undefined {
  const session = e.origin;
  if (!session || !archivable(e.stanza)) return undefined;
  const contact = e.to.bareString;
  // A message to oneself is archived once, on the way in.
  if (contact === session.bare) return undefined;
  if (!allowed(ctx, session.host, session.username, contact)) return undefined;
  const id = ctx.store.archive.newId();
  ctx.store.archive.append(session.host, session.username, { id, with: contact, stamp: Date.now(), direction: 'out', stanza: e.stanza.toString(NS.client) });
  ctx.bus.fire('archive/stored', { host: session.host, username: session.username, stanza: e.stanza, id, direction: 'out' });
  return undefined;
}

function parseStamp(v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new StanzaError('modify', 'bad-request', `invalid ${field}`);
  return t;
}

function query(ctx: ServerContext, e: StanzaEvent): true {
  const session = e.origin as ClientSession;
  const q = e.stanza.firstElement() as Element;
  const { host, username } = session;
  const form = parseForm(q.getChild('x', NS.dataForms));
  const filter: ArchiveFilter = {};
  const withJid = formValue(form, 'with');
  if (withJid !== undefined) {
    const j = parseJid(withJid);
    if (!j) throw new StanzaError('modify', 'bad-request', 'invalid with');
    filter.with = j.bareString;
  }
  const start = parseStamp(formValue(form, 'start'), 'start');
  const end = parseStamp(formValue(form, 'end'), 'end');
  if (start !== undefined) filter.start = start;
  if (end !== undefined) filter.end = end;
  const seq = (id: string): number => {
    const s = ctx.store.archive.seqOf(host, username, id);
    if (s === undefined) throw new StanzaError('cancel', 'item-not-found', `no archived message ${id}`);
    return s;
  };
  const afterId = formValue(form, 'after-id');
  const beforeId = formValue(form, 'before-id');
  if (afterId !== undefined) filter.afterSeq = seq(afterId);
  if (beforeId !== undefined) filter.beforeSeq = seq(beforeId);

  const set = q.getChild('set', NS.rsm);
  const maxText = set?.getChildText('max');
  const max = maxText === undefined ? ctx.config.mam.default_page : Number.parseInt(maxText, 10);
  if (!Number.isInteger(max) || max < 0) throw new StanzaError('modify', 'bad-request', 'invalid max');
  const limit = Math.min(max, ctx.config.mam.max_page);
  const rsmAfter = set?.getChildText('after');
  const rsmBefore = set?.getChild('before');
  // RSM bounds narrow the form's bounds further.
  if (rsmAfter !== undefined) filter.afterSeq = Math.max(filter.afterSeq ?? 0, seq(rsmAfter));
  if (rsmBefore !== undefined && rsmBefore.text() !== '') {
    const b = seq(rsmBefore.text());
    filter.beforeSeq = filter.beforeSeq === undefined ? b : Math.min(filter.beforeSeq, b);
  }
  const backwards = rsmBefore !== undefined;
  const rows = ctx.store.archive.query(host, username, filter, limit + 1, backwards);
  const complete = rows.length <= limit;
  const page = rows.slice(0, limit);
  if (backwards) page.reverse();
  if (q.getChild('flip-page')) page.reverse();

  session.mamQueried = true;
  const queryid = q.attrs.queryid;
  for (const m of page) {
    let original: Element;
    try {
      original = parseElement(m.stanza);
    } catch (err) {
      ctx.log.error({ err, id: m.id }, 'unreadable archived message skipped');
      continue;
    }
    session.send(
      x(
        'message',
        { to: session.jid.toString(), from: session.bare },
        x(
          'result',
          { xmlns: NS.mam, queryid, id: m.id },
          x('forwarded', { xmlns: NS.forward }, x('delay', { xmlns: NS.delay, stamp: new Date(m.stamp).toISOString() }), original),
        ),
      ),
    );
  }
  const first = page[0];
  const last = page[page.length - 1];
  const rsm = first && last ? x('set', { xmlns: NS.rsm }, x('first', null, first.id), x('last', null, last.id)) : x('set', { xmlns: NS.rsm });
  ctx.router.reply(e, iqResult(e.stanza, x('fin', { xmlns: NS.mam, complete: complete ? 'true' : undefined }, rsm)));
  return true;
}

function queryForm(ctx: ServerContext, e: StanzaEvent): true {
  const form = buildForm('form', [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS.mam] },
    { var: 'with', type: 'jid-single' },
    { var: 'start', type: 'text-single' },
    { var: 'end', type: 'text-single' },
    { var: 'before-id', type: 'text-single' },
    { var: 'after-id', type: 'text-single' },
  ]);
  ctx.router.reply(e, iqResult(e.stanza, x('query', { xmlns: NS.mam }, form)));
  return true;
}

function prefsElement(p: ArchivePrefs): Element {
  return x(
    'prefs',
    { xmlns: NS.mam, default: p.default },
    x('always', null, p.always.map((j) => x('jid', null, j))),
    x('never', null, p.never.map((j) => x('jid', null, j))),
  );
}

function prefs(ctx: ServerContext, e: StanzaEvent, set: boolean): true {
  const session = e.origin as ClientSession;
  if (set) {
    const el = e.stanza.firstElement() as Element;
    const mode = el.attrs.default;
    if (mode !== 'always' && mode !== 'never' && mode !== 'roster') throw new StanzaError('modify', 'bad-request', 'default must be always, never or roster');
    const jids = (name: string): string[] =>
      (el.getChild(name)?.getChildren('jid') ?? []).map((j) => {
        const p = parseJid(j.text());
        if (!p) throw new StanzaError('modify', 'jid-malformed', `invalid JID in ${name}`);
        return p.bareString;
      });
    ctx.store.archive.setPrefs(session.host, session.username, { default: mode as ArchiveMode, always: jids('always'), never: jids('never') });
  }
  ctx.router.reply(e, iqResult(e.stanza, prefsElement(prefsOf(ctx, session.host, session.username))));
  return true;
}

function install(ctx: ServerContext): void {
  ctx.disco.account.features.add(NS.mam).add(NS.mamExtended).add(NS.sid);
  // Above carbons (1) so copies carry the stanza-id, below nothing that rewrites the message.
  ctx.bus.on('message/bare', (e) => archiveIncoming(ctx, e), 10);
  ctx.bus.on('message/full', (e) => archiveIncoming(ctx, e), 10);
  ctx.bus.on('message/outbound', (e) => archiveOutgoing(ctx, e), 10);
  ctx.bus.on(`iq-set/self/${NS.mam}:query`, (e) => query(ctx, e));
  ctx.bus.on(`iq-get/self/${NS.mam}:query`, (e) => queryForm(ctx, e));
  ctx.bus.on(`iq-get/self/${NS.mam}:prefs`, (e) => prefs(ctx, e, false));
  ctx.bus.on(`iq-set/self/${NS.mam}:prefs`, (e) => prefs(ctx, e, true));
  const days = ctx.config.mam.retention_days;
  if (days > 0) {
    chore(ctx, 'archive retention', 3600_000, () => {
      const n = ctx.store.archive.prune(Date.now() - days * 86400_000);
      if (n > 0) ctx.log.info({ removed: n }, 'archive retention applied');
    });
  }
}

export const mamModule: HeraldModule = { name: 'mam', install };
