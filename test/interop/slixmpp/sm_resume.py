"""Scenario g: XEP-0198 resumption after a lost connection, with slixmpp's xep_0198 plugin.

    sm_resume.py ... --user bob --password b-pass --contact alice --contact-password a-pass \
        [--count 10] [--sync DIR --expect failed]

The user (resource 'phone', xep_0198 loaded: slixmpp asks for
<enable resume='true'/>) waits for SM to be enabled, sends presence and has
every stanza it sent acknowledged. Then its TCP connection is cut with
nothing more written (no </stream:stream>, see Client.cut()), and the
contact sends --count chat messages to the user's bare JID while the user is
away. Then the user connects again; slixmpp sends <resume previd h/> by
itself because it still has the SM id.

With --expect resumed (the default), Herald kept the session hibernating:
slixmpp gets <resumed/> ('session_resumed'), and the messages arrive on the
resumed stream without a new initial presence.

With --sync DIR the script lets the Node side act while the user is away
(restart the server, or let the resumption timeout pass): it creates
DIR/away once the messages are sent (and the contact is gone), and waits
for DIR/return before connecting again. With --expect failed, resumption
must fail (<failed/>, 'sm_failed'); slixmpp binds a new session, which
sends initial presence and receives the messages from offline storage.

Observed: the SM id and counters before the cut, how the reconnection went
(resumed or failed, the h of <failed/>, the <failed/> condition), the bound
JID before and after, how many times session_start fired, and every chat
message with a body the user received (id, body, from, XEP-0203 delay and
its text), in order.
A message to its own full JID after reconnecting shows the stream works.
"""

import asyncio
import os

from common import Client, base_parser, check, run, until


async def scenario(args, observed):
    contact_bare = f'{args.contact}@{args.domain}'
    user_bare = f'{args.user}@{args.domain}'
    expected = [f'sm-{i + 1:02d}' for i in range(args.count)]
    bodies = {mid: f'while away #{i + 1} — ✉ {mid}' for i, mid in enumerate(expected)}

    bob = Client(args, args.user, args.password, resource='phone', plugins=('xep_0198',))
    sm = bob['xep_0198']
    received = []
    echoes = []

    def on_message(msg):
        if msg['id'] == 'sm-echo':
            echoes.append(msg['body'])
        elif msg['type'] in ('chat', 'normal') and msg['body']:
            delay = msg.xml.find('{urn:xmpp:delay}delay')
            received.append({
                'id': msg['id'], 'body': msg['body'], 'from': str(msg['from']),
                'delayed': delay is not None,
                'delay_text': (delay.text or '') if delay is not None else None,
            })
    bob.add_event_handler('message', on_message)
    starts = []
    bob.add_event_handler('session_start', lambda _e: starts.append(str(bob.boundjid)))
    outcome = {}
    bob.add_event_handler('session_resumed', lambda e: outcome.update(
        {'resumed': True, 'resumed_h': e['h'], 'resumed_previd': e['previd'] or None}))

    def on_sm_failed(failed):
        conditions = [child.tag.split('}')[-1] for child in failed.xml]
        h = failed.xml.get('h')
        outcome.update({'resumed': False, 'failed_h': int(h) if h is not None else None, 'failed_conditions': conditions})
    bob.add_event_handler('sm_failed', on_sm_failed)
    alice = Client(args, args.contact, args.contact_password, resource='desk')
    try:
        enabled = bob.expect('sm_enabled', what='<enabled/>')
        await bob.start()
        ena = await enabled
        observed['enabled'] = {'id': ena['id'] or None, 'resume': ena['resume'], 'max': ena['max'] or None}
        check(ena['resume'], f'Herald did not grant resumption: {ena}')
        observed['jid_before'] = str(bob.boundjid)
        bob.send_presence()
        await bob.round_trip()
        # Everything bob sent is counted by Herald before the connection goes.
        sm.request_ack()
        await until(lambda: sm.last_ack == sm.seq, 8, f'an <a/> for all {sm.seq} stanzas sent')
        observed['before_cut'] = {'sm_id': sm.sm_id, 'sent': sm.seq, 'acked': sm.last_ack, 'handled': sm.handled}

        await alice.start()
        await bob.cut()
        observed['after_cut'] = {'sm_id': sm.sm_id, 'enabled_in': sm.enabled_in}
        # Herald notices a dead connection at once on loopback; give it a moment anyway.
        await asyncio.sleep(0.5)

        for mid in expected:
            msg = alice.make_message(mto=user_bare, mbody=bodies[mid], mtype='chat')
            msg['id'] = mid
            msg.send()
        await alice.round_trip()  # Herald has routed them all
        observed['received_while_away'] = len(received)

        if args.sync:
            await alice.stop()
            open(os.path.join(args.sync, 'away'), 'w').close()
            back = os.path.join(args.sync, 'return')
            await until(lambda: os.path.exists(back), args.timeout, f'{back} (the Node side)')

        await bob.reconnect()
        observed['reconnection'] = outcome or None
        observed['jid_after'] = str(bob.boundjid)
        observed['session_starts'] = list(starts)
        if not outcome.get('resumed'):
            # A new session: offline messages come after initial presence.
            bob.send_presence()
        await until(lambda: len(received) >= len(expected), 8, f'{len(expected)} messages after reconnecting')
        await bob.round_trip()
        await asyncio.sleep(0.5)  # anything sent twice would be here by now

        echo = bob.make_message(mto=bob.boundjid, mbody='still here ✓', mtype='chat')
        echo['id'] = 'sm-echo'
        echo.send()
        await until(lambda: echoes, 8, 'the message to itself after reconnecting')
        observed['echo'] = echoes[0]
        sm.request_ack()
        await until(lambda: sm.last_ack == sm.seq, 8, 'an <a/> after reconnecting')
        observed['after_reconnect'] = {'sm_id': sm.sm_id, 'sent': sm.seq, 'acked': sm.last_ack, 'enabled_in': sm.enabled_in}
    finally:
        observed['received'] = received
        await bob.stop()
        await alice.stop()

    ids = [m['id'] for m in received]
    expect_resumed = args.expect == 'resumed'
    check(outcome.get('resumed') is expect_resumed,
          f'expected {"<resumed/>" if expect_resumed else "<failed/>"}, got {outcome or "neither"}')
    check(sorted(set(ids)) == expected, f'missing: {sorted(set(expected) - set(ids))}, unexpected: {sorted(set(ids) - set(expected))}')
    check(len(ids) == len(set(ids)), f'duplicates: {sorted(i for i in set(ids) if ids.count(i) > 1)}')
    check(all(m['body'] == bodies[m['id']] and m['from'] == str(alice.boundjid) for m in received),
          f'a message changed on the way: {received}')


if __name__ == '__main__':
    p = base_parser('slixmpp interop: XEP-0198 resumption after a lost connection')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    p.add_argument('--count', type=int, default=10, help='messages sent while the user is away')
    p.add_argument('--sync', default=None,
                   help='directory for a handshake with the Node side while the user is away (files away, return)')
    p.add_argument('--expect', choices=('resumed', 'failed'), default='resumed')
    run(p, scenario)
