"""Scenario i: message archive (XEP-0313 urn:xmpp:mam:2) with slixmpp's xep_0313 and xep_0359 plugins.

    mam.py ... --user bob --password b-pass --contact alice --contact-password a-pass \
        [--count 120] [--page 50]

The user (resource 'archive') is online with presence. The contact sends one
message, which the user receives live: it must carry Herald's XEP-0359
<stanza-id by='user@domain'/> (msg['stanza_id']). Then the contact sends
--count more. The user pages through the archive of its conversation with
the contact with xep_0313's RSM iterator (retrieve(iterator=True) with
max=--page), which asks for pages until one comes back empty.

Observed: the live message's stanza-id, every page (how many results, the
<fin complete/> attribute, RSM first/last), and every archived message in
the order the pages gave them (archive id, forwarded id, from, body, delay).
"""

from common import Client, base_parser, check, run, until


async def scenario(args, observed):
    user_bare = f'{args.user}@{args.domain}'
    contact_bare = f'{args.contact}@{args.domain}'
    bob = Client(args, args.user, args.password, resource='archive', plugins=('xep_0313', 'xep_0359'))
    alice = Client(args, args.contact, args.contact_password, resource='desk')
    live = []
    bob.add_event_handler('message', lambda m: live.append(m) if m['type'] == 'chat' and m['body'] else None)
    ids = ['mam-live'] + [f'mam-{i + 1:03d}' for i in range(args.count)]
    bodies = {mid: f'archived {mid} — Ünïcødé ✓' for mid in ids}
    try:
        await bob.start()
        await alice.start()
        bob.send_presence()
        await bob.round_trip()

        first = alice.make_message(mto=user_bare, mbody=bodies['mam-live'], mtype='chat')
        first['id'] = 'mam-live'
        first.send()
        await until(lambda: live, 8, 'the live message')
        m = live[0]
        sid = m.xml.find('{urn:xmpp:sid:0}stanza-id')
        observed['live'] = {
            'id': m['id'], 'body': m['body'],
            'stanza_id': {'by': str(m['stanza_id']['by']), 'id': m['stanza_id']['id']} if sid is not None else None,
            'stanza_id_count': len(m.xml.findall('{urn:xmpp:sid:0}stanza-id')),
        }

        for mid in ids[1:]:
            msg = alice.make_message(mto=user_bare, mbody=bodies[mid], mtype='chat')
            msg['id'] = mid
            msg.send()
        await alice.round_trip()  # all routed, hence archived
        await until(lambda: len(live) >= len(ids), 10, f'{len(ids)} live messages')
        observed['live_received'] = len(live)

        pages, archived = [], []
        iterator = bob['xep_0313'].retrieve(with_jid=contact_bare, iterator=True, rsm={'max': args.page})
        async for page in iterator:
            results = page['mam']['results']
            fin = page['mam_fin']
            pages.append({
                'results': len(results),
                'complete': fin.xml.get('complete'),
                'first': fin['rsm']['first'] or None,
                'last': fin['rsm']['last'] or None,
            })
            for r in results:
                fwd = r['mam_result']['forwarded']
                inner = fwd['stanza']
                archived.append({
                    'archive_id': r['mam_result']['id'],
                    'queryid': r['mam_result']['queryid'],
                    'id': inner['id'], 'from': str(inner['from']), 'body': inner['body'],
                    'delay': fwd.xml.find('{urn:xmpp:delay}delay') is not None,
                })
            check(len(pages) <= args.count // max(args.page, 1) + 3, f'too many pages: {pages}')
        observed['pages'] = pages
        observed['archived'] = archived
    finally:
        await bob.stop()
        await alice.stop()

    got = [a['id'] for a in observed.get('archived', [])]
    check(got == ids, f'archive gave {len(got)} message(s): {got[:5]}...{got[-5:]}')
    check(all(a['body'] == bodies[a['id']] for a in observed['archived']), 'an archived body differs')
    check(observed['live']['stanza_id'] is not None and observed['live']['stanza_id']['by'] == user_bare,
          f'live message stanza-id: {observed["live"]}')
    check(observed['pages'][-1]['complete'] == 'true', f'last page not complete: {observed["pages"]}')


if __name__ == '__main__':
    p = base_parser('slixmpp interop: message archive management')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    p.add_argument('--count', type=int, default=120, help='messages sent after the live one')
    p.add_argument('--page', type=int, default=50, help='RSM max per page')
    run(p, scenario)
