"""Push scenario b: a XEP-0357 push while the user's XEP-0198 session hibernates.

    push_hibernate.py ... --user bob --password b-pass --contact alice --contact-password a-pass \
        --service push.localhost --node bob-hib [--secret s] --sync DIR

The user (resource 'phone', xep_0198 loaded) gets SM enabled with
resumption, enables push at --service/--node (common.push_iq), sends
initial presence, has everything it sent acknowledged and acknowledges
everything it received (an unsolicited <a h/>), then its TCP connection is
cut with nothing more written (Client.cut()): Herald keeps the session
hibernating. The contact sends one chat message with a body ('hib-1') to
the user's bare JID.

The Node side watches the app server meanwhile: the script creates
DIR/away once the message has been routed and waits for DIR/return (the
push arrived). Then the user reconnects; slixmpp resumes the session by
itself ('session_resumed') and receives the message on the resumed stream.

Observed: the SM state before the cut, the answer to <enable/>, time marks
(time.time(): the cut, the message routed, the reconnection), how the
reconnection went, and every chat message with a body the user received.
"""

import asyncio
import os
import time

from common import Client, check, push_iq, push_parser, run, until


async def scenario(args, observed):
    user_bare = f'{args.user}@{args.domain}'
    bob = Client(args, args.user, args.password, resource='phone', plugins=('xep_0198',))
    sm = bob['xep_0198']
    received = []

    def on_message(msg):
        if msg['type'] in ('chat', 'normal') and msg['body']:
            received.append({'id': msg['id'], 'body': msg['body'], 'from': str(msg['from'])})
    bob.add_event_handler('message', on_message)
    outcome = {}
    bob.add_event_handler('session_resumed', lambda e: outcome.update({'resumed': True, 'resumed_h': e['h']}))
    bob.add_event_handler('sm_failed', lambda _f: outcome.update({'resumed': False}))
    alice = Client(args, args.contact, args.contact_password, resource='desk')
    body = 'wake up, phone ⏰'
    try:
        enabled = bob.expect('sm_enabled', what='<enabled/>')
        await bob.start()
        ena = await enabled
        check(ena['resume'], f'Herald did not grant resumption: {ena}')
        observed['enable'] = await push_iq(bob, 'enable', args.service, args.node, args.secret)
        check(observed['enable']['type'] == 'result', f'<enable/> refused: {observed["enable"]}')
        bob.send_presence()
        await bob.round_trip()
        sm.request_ack()
        await until(lambda: sm.last_ack == sm.seq, 8, f'an <a/> for all {sm.seq} stanzas sent')
        await alice.start()
        # Acknowledge what Herald sent (it asks only now and then), so that
        # ideally nothing is left unacknowledged when the connection goes.
        sm.send_ack()
        await asyncio.sleep(0.3)
        observed['before_cut'] = {'sm_id': sm.sm_id, 'sent': sm.seq, 'acked': sm.last_ack, 'handled': sm.handled}
        await bob.cut()
        observed['t_cut'] = time.time()
        await asyncio.sleep(0.5)

        msg = alice.make_message(mto=user_bare, mbody=body, mtype='chat')
        msg['id'] = 'hib-1'
        msg.send()
        await alice.round_trip()  # Herald has routed it
        observed['t_sent'] = time.time()
        observed['received_while_away'] = len(received)
        await alice.stop()

        open(os.path.join(args.sync, 'away'), 'w').close()
        back = os.path.join(args.sync, 'return')
        await until(lambda: os.path.exists(back), args.timeout, f'{back} (the Node side)')

        observed['t_reconnect'] = time.time()
        await bob.reconnect()
        observed['reconnection'] = outcome or None
        await until(lambda: received, 8, 'the message after resuming')
        await bob.round_trip()
        await asyncio.sleep(0.5)  # anything sent twice would be here by now
        observed['t_done'] = time.time()
    finally:
        observed['received'] = received
        await bob.stop()
        await alice.stop()

    check(outcome.get('resumed') is True, f'expected <resumed/>, got {outcome or "neither"}')
    check([m['id'] for m in received] == ['hib-1'], f'expected hib-1 once, got {received}')
    check(received[0]['body'] == body, f'the message changed on the way: {received}')


if __name__ == '__main__':
    p = push_parser('slixmpp interop: XEP-0357 push for a hibernating XEP-0198 session')
    p.add_argument('--node', required=True)
    p.add_argument('--secret', default=None, help='publish-options secret (no form without it)')
    p.add_argument('--sync', required=True, help='directory for the handshake with the Node side (files away, return)')
    run(p, scenario)
