"""Scenario f: stream management (XEP-0198) with slixmpp's xep_0198 plugin.

    sm.py ... --user alice --password a-pass

With the plugin loaded, slixmpp must log in and exchange stanzas normally
whether or not the server offers SM. When Herald does not advertise
<sm xmlns='urn:xmpp:sm:3'/>, slixmpp must not send <enable/>. When it does,
slixmpp enables SM and an explicit ack request (<r/>) must be answered
with an <a h='...'/> counting what Herald handled.

Observed: whether SM was advertised (and every <stream:features/> list),
the SM nonzas slixmpp sent, whether SM got enabled (id, resume), the last h
Herald acknowledged, and a message to itself that came back.
"""

from common import SM_NS, Client, base_parser, check, run, until


async def scenario(args, observed):
    c = Client(args, args.user, args.password, resource='sm', plugins=('xep_0198',))
    sm_out = []

    def watch(stanza):
        # The class's namespace: slixmpp gives outgoing instances the stream's default one.
        if type(stanza).namespace == SM_NS:
            sm_out.append(type(stanza).name)
        return stanza
    c.add_filter('out', watch)
    enabled = {}
    c.add_event_handler('sm_enabled', lambda e: enabled.update({'id': e['id'] or None, 'resume': e['resume']}))
    echoes = []
    c.add_event_handler('message', lambda m: echoes.append(m['body']) if m['id'] == 'sm-echo' else None)
    await c.start()
    try:
        c.send_presence()
        await c.round_trip()
        msg = c.make_message(mto=c.boundjid, mbody='echo ✓', mtype='chat')
        msg['id'] = 'sm-echo'
        msg.send()
        await until(lambda: echoes, 8, 'the message to itself')
        sm = c['xep_0198']
        observed.update(c.summary())
        observed['features_seen'] = c.features_seen
        observed['sm_advertised'] = any(f'{{{SM_NS}}}sm' in f for f in c.features_seen)
        observed['sm_enabled'] = bool(sm.enabled_in)
        observed['sm_enabled_attrs'] = enabled or None
        observed['echo'] = echoes[0]
        if observed['sm_advertised'] and sm.enabled_out:
            # presence, roster get, message: at least three stanzas for Herald to count.
            sm.request_ack()
            await until(lambda: sm.last_ack >= 3, 8, "an <a/> acknowledging slixmpp's stanzas")
        observed['acked_h'] = sm.last_ack
        observed['sm_nonzas_sent'] = sm_out
        check(observed['jid'] is not None, 'no session')
        if not observed['sm_advertised']:
            check(not sm_out, f'slixmpp sent {sm_out} although SM was not offered')
    finally:
        await c.stop()


if __name__ == '__main__':
    p = base_parser('slixmpp interop: login with the XEP-0198 plugin loaded')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    run(p, scenario)
