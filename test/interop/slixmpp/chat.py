"""Scenario c: chat between two online users.

    chat.py ... --user alice --password a-pass --contact bob --contact-password b-pass

Both log in (resources 'laptop' and 'phone') and send presence. The user
sends three chat messages with non-ASCII bodies (and XML-special
characters) to the contact, to the bare JID and to the full JID; the
contact answers one to the user's full JID.

Observed: every message each side received (id, from, to, type, body).
"""

from common import Client, base_parser, check, run, until

BODIES = [
    'Grüße aus Köln — ☕ 😀',
    '日本語のメッセージ ✓ and עברית',
    'Ελληνικά & <not a tag> "quoted" \'apos\' \\ back',
]
REPLY = 'Привет! 👋 ça va?'


def record(into, me):
    def on_message(msg):
        if msg['type'] in ('chat', 'normal') and msg['body']:
            into.append({'id': msg['id'], 'from': str(msg['from']), 'to': str(msg['to']),
                         'type': msg['type'], 'body': msg['body']})
    me.add_event_handler('message', on_message)


async def scenario(args, observed):
    user = Client(args, args.user, args.password, resource='laptop')
    contact = Client(args, args.contact, args.contact_password, resource='phone')
    contact_bare = f'{args.contact}@{args.domain}'
    got_by_contact, got_by_user = [], []
    record(got_by_contact, contact)
    record(got_by_user, user)
    try:
        await user.start()
        await contact.start()
        for c in (user, contact):
            c.send_presence()
            # The round trip makes sure Herald has the presence (the contact is
            # available) before anything is sent to the bare JID.
            await c.round_trip()
        observed['user_jid'] = str(user.boundjid)
        observed['contact_jid'] = str(contact.boundjid)

        targets = [contact_bare, str(contact.boundjid), contact_bare]
        sent = []
        for i, (body, to) in enumerate(zip(BODIES, targets)):
            msg = user.make_message(mto=to, mbody=body, mtype='chat')
            msg['id'] = f'chat-{i + 1}'
            msg.send()
            sent.append({'id': msg['id'], 'to': to, 'body': body})
        observed['sent'] = sent
        await until(lambda: len(got_by_contact) >= len(BODIES), 8, f'{len(BODIES)} messages at {contact.boundjid}')

        reply = contact.make_message(mto=user.boundjid, mbody=REPLY, mtype='chat')
        reply['id'] = 'chat-reply'
        reply.send()
        await until(lambda: len(got_by_user) >= 1, 8, f'the reply at {user.boundjid}')
        await user.round_trip()
        await contact.round_trip()

        observed['received_by_contact'] = got_by_contact
        observed['received_by_user'] = got_by_user
        check([m['body'] for m in got_by_contact] == BODIES, f'bodies arrived as {[m["body"] for m in got_by_contact]!r}')
        check(all(m['from'] == str(user.boundjid) for m in got_by_contact), 'a message did not come from the sender\'s full JID')
        check(got_by_user[0]['body'] == REPLY and got_by_user[0]['from'] == str(contact.boundjid), f'reply arrived as {got_by_user[0]!r}')
    finally:
        observed.setdefault('received_by_contact', got_by_contact)
        observed.setdefault('received_by_user', got_by_user)
        await user.stop()
        await contact.stop()


if __name__ == '__main__':
    p = base_parser('slixmpp interop: chat between two online users')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    run(p, scenario)
