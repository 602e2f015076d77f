"""Scenario d: messages to an offline user are stored and delivered once.

    offline.py ... --user alice --password a-pass --contact bob --contact-password b-pass

The user sends three chat messages to the contact, who is offline, then
disconnects. The contact logs in (with the xep_0203 plugin loaded), waits a
moment without presence, sends initial presence and collects the messages;
then logs in a second time and waits for more.

Observed: the messages of the first login in arrival order with their
XEP-0203 delay (msg['delay']['stamp'] and ['from']), what arrived before
initial presence, and what the second login received.
"""

import asyncio
from datetime import datetime, timedelta, timezone

from common import Client, base_parser, check, run, until

BODIES = ['first — één', 'second — 二', 'third — ③ 🎉']


def collector(c, into):
    def on_message(msg):
        if msg['type'] in ('chat', 'normal') and msg['body']:
            stamp = msg['delay']['stamp']
            into.append({
                'id': msg['id'], 'from': str(msg['from']), 'body': msg['body'],
                'delay_stamp': stamp.isoformat() if stamp else None,
                'delay_from': str(msg['delay']['from']) if msg.xml.find('{urn:xmpp:delay}delay') is not None else None,
            })
    c.add_event_handler('message', on_message)


async def scenario(args, observed):
    contact_bare = f'{args.contact}@{args.domain}'

    sender = Client(args, args.user, args.password, resource='desk')
    await sender.start()
    observed['sender_jid'] = str(sender.boundjid)
    sent_after = datetime.now(timezone.utc)
    for i, body in enumerate(BODIES):
        msg = sender.make_message(mto=contact_bare, mbody=body, mtype='chat')
        msg['id'] = f'offline-{i + 1}'
        msg.send()
    await sender.round_trip()
    await sender.stop()
    sent_before = datetime.now(timezone.utc)
    observed['sent_window'] = [sent_after.isoformat(), sent_before.isoformat()]

    first = []
    bob = Client(args, args.contact, args.contact_password, resource='first', plugins=('xep_0203',))
    collector(bob, first)
    try:
        await bob.start()
        await bob.round_trip()
        await asyncio.sleep(0.5)
        observed['before_presence'] = len(first)
        bob.send_presence()
        await until(lambda: len(first) >= len(BODIES), 8, f'{len(BODIES)} offline messages')
        await bob.round_trip()
        await asyncio.sleep(0.3)
    finally:
        observed['first_login'] = first
        await bob.stop()

    second = []
    again = Client(args, args.contact, args.contact_password, resource='second', plugins=('xep_0203',))
    collector(again, second)
    try:
        await again.start()
        again.send_presence()
        await again.round_trip()
        await asyncio.sleep(1.5)
    finally:
        observed['second_login'] = second
        await again.stop()

    check(observed['before_presence'] == 0, f'{observed["before_presence"]} message(s) arrived before initial presence')
    check([m['body'] for m in first] == BODIES, f'first login got {[m["body"] for m in first]!r}')
    check(all(m['from'] == observed['sender_jid'] for m in first), 'an offline message lost the sender\'s full JID')
    for m in first:
        check(m['delay_stamp'] is not None, f'message {m["id"]} has no XEP-0203 delay')
        stamp = datetime.fromisoformat(m['delay_stamp'])
        check(sent_after - timedelta(seconds=1) <= stamp <= sent_before + timedelta(seconds=1),
              f'delay stamp {m["delay_stamp"]} outside {observed["sent_window"]}')
    check(second == [], f'the second login got {len(second)} message(s) again')


if __name__ == '__main__':
    p = base_parser('slixmpp interop: offline messages')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    run(p, scenario)
