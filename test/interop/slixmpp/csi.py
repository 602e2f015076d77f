"""Scenario j: client state indication (XEP-0352) with slixmpp's xep_0352 plugin.

    csi.py ... --user bob --password b-pass --contact alice --contact-password a-pass [--hold-ms 500]

The user (resource 'phone', xep_0352 and xep_0085 loaded) sends presence,
then <inactive/> (send_inactive()). The contact sends a chat-state-only
message (<composing/>, no body) to the user's full JID; for --hold-ms
nothing may arrive. Then the contact sends a message with a body (and
<active/>): both arrive now, the held chat state first. The user sends
<active/> and a last chat state must arrive without waiting.

Observed: whether slixmpp saw CSI offered (xep_0352 'enabled'), what
arrived during the hold, and every message the user received (id, chat
state, body, milliseconds after the last timed message was sent).
"""

import asyncio
import time

from common import Client, base_parser, check, run, until


async def scenario(args, observed):
    bob = Client(args, args.user, args.password, resource='phone', plugins=('xep_0352', 'xep_0085'))
    alice = Client(args, args.contact, args.contact_password, resource='desk', plugins=('xep_0085',))
    got = []
    clock = {'t0': None}

    def on_message(m):
        if m['type'] != 'chat':
            return
        since = None if clock['t0'] is None else round((time.monotonic() - clock['t0']) * 1000)
        got.append({'id': m['id'], 'chat_state': m['chat_state'] or None, 'body': m['body'] or None, 'ms_after_send': since})
    bob.add_event_handler('message', on_message)
    # slixmpp raises no 'message' event for a message that has only a chat state, just 'chatstate'.
    bob.add_event_handler('chatstate', lambda m: None if m['body'] else on_message(m))

    def send(mid, state, body=None):
        msg = alice.make_message(mto=bob.boundjid, mbody=body, mtype='chat')
        msg['id'] = mid
        msg['chat_state'] = state
        msg.send()

    try:
        await bob.start()
        await alice.start()
        observed['csi_offered'] = bob['xep_0352'].enabled
        check(observed['csi_offered'], 'Herald did not offer <csi xmlns="urn:xmpp:csi:0"/>')
        bob.send_presence()
        await bob.round_trip()

        bob['xep_0352'].send_inactive()
        await bob.round_trip()  # Herald has read <inactive/>
        send('csi-state', 'composing')
        await alice.round_trip()  # Herald has routed it
        await asyncio.sleep(args.hold_ms / 1000)
        observed['during_hold'] = list(got)

        clock['t0'] = time.monotonic()
        send('csi-body', 'active', 'a body wakes you up ⏰')
        await until(lambda: any(m['id'] == 'csi-body' for m in got), 8, 'the message with a body')
        await alice.round_trip()
        await asyncio.sleep(0.2)
        observed['after_body'] = got[len(observed['during_hold']):]

        bob['xep_0352'].send_active()
        await bob.round_trip()
        n = len(got)
        clock['t0'] = time.monotonic()
        send('csi-active', 'paused')
        await until(lambda: len(got) > n, 8, 'a chat state once active again')
        observed['after_active'] = got[n:]
    finally:
        observed['received'] = got
        await bob.stop()
        await alice.stop()

    check(observed['during_hold'] == [], f'arrived while inactive: {observed["during_hold"]}')
    check([m['id'] for m in observed['after_body']] == ['csi-state', 'csi-body'], f'after the body: {observed["after_body"]}')


if __name__ == '__main__':
    p = base_parser('slixmpp interop: client state indication')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    p.add_argument('--hold-ms', type=int, default=500, help='how long a chat state alone must wait')
    run(p, scenario)
