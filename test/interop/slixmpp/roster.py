"""Scenario b: roster and presence subscription between two users.

    roster.py ... --user alice --password a-pass --contact bob --contact-password b-pass

Both log in, fetch their rosters and send initial presence. The user asks
the contact for a subscription (send_presence_subscription), the contact
approves through its roster (client_roster[jid].authorize()) and asks back,
the user approves. Automatic handling is off (auto_authorize=None,
auto_subscribe=False), so every step is the scenario's own.

Observed: who received which subscription request, both rosters as slixmpp
keeps them (client_roster, fed by Herald's roster pushes) and as Herald
returns them to a fresh roster get, and the presence the user received
from the contact (after approval, and after the contact changes status).
"""

from slixmpp import JID

from common import Client, base_parser, check, run, until


def server_roster(result_iq):
    out = {}
    for jid, item in result_iq['roster']['items'].items():
        out[str(jid)] = {'subscription': item['subscription'], 'ask': item['ask'] or None}
    return out


def client_roster(c, jid):
    item = c.client_roster[jid]
    return {'subscription': item['subscription'], 'pending_out': bool(item['pending_out'])}


async def scenario(args, observed):
    user = Client(args, args.user, args.password, resource='laptop')
    contact = Client(args, args.contact, args.contact_password, resource='phone')
    user_bare, contact_bare = f'{args.user}@{args.domain}', f'{args.contact}@{args.domain}'
    for c in (user, contact):
        c.auto_authorize = None
        c.auto_subscribe = False
    presences = []  # available presence the user receives from the contact
    user.add_event_handler('presence_available', lambda p: presences.append(
        {'from': str(p['from']), 'show': p['show'] or None, 'status': p['status'] or None})
        if p['from'].bare == contact_bare else None)
    try:
        await user.start()
        await contact.start()
        observed['user'] = user.summary()
        observed['contact'] = contact.summary()
        initial = []
        for c in (user, contact):
            initial.append(server_roster(await c.get_roster(timeout=8)))
            c.send_presence()
            await c.round_trip()
        observed['initial_server_rosters'] = initial

        # user -> contact: subscribe; contact approves.
        request = contact.expect('roster_subscription_request', lambda p: p['from'].bare == user_bare,
                                 what=f'subscription request from {user_bare}')
        user.send_presence_subscription(pto=contact_bare)
        pres = await request
        observed['contact_got_request_from'] = str(pres['from'])
        contact.client_roster[JID(user_bare)].authorize()
        await until(lambda: user.client_roster[contact_bare]['to'], 8, f'{contact_bare} in {user_bare}\'s roster with subscription to')
        await until(lambda: any(p['from'].startswith(contact_bare + '/') for p in presences), 8,
                    f'{contact_bare}\'s presence at {user_bare} after approval')
        await until(lambda: contact.client_roster[user_bare]['from'], 8, f'{user_bare} in {contact_bare}\'s roster with subscription from')
        observed['after_first_approval'] = {'user': client_roster(user, contact_bare), 'contact': client_roster(contact, user_bare)}
        observed['presence_after_approval'] = list(presences)

        # contact -> user: subscribe back; user approves.
        request = user.expect('roster_subscription_request', lambda p: p['from'].bare == contact_bare,
                              what=f'subscription request from {contact_bare}')
        contact.send_presence_subscription(pto=user_bare)
        pres = await request
        observed['user_got_request_from'] = str(pres['from'])
        user.client_roster[JID(contact_bare)].authorize()

        await until(lambda: user.client_roster[contact_bare]['subscription'] == 'both'
                    and contact.client_roster[user_bare]['subscription'] == 'both', 8, 'subscription both on both sides')
        observed['user_client_roster'] = client_roster(user, contact_bare)
        observed['contact_client_roster'] = client_roster(contact, user_bare)
        observed['user_server_roster'] = server_roster(await user.get_roster(timeout=8))
        observed['contact_server_roster'] = server_roster(await contact.get_roster(timeout=8))

        # A status change of the contact reaches the subscribed user.
        changed = user.expect('changed_status', lambda p: p['from'].bare == contact_bare and p['show'] == 'away',
                              what=f'away presence from {contact_bare}')
        contact.send_presence(pshow='away', pstatus='out for lunch ☕')
        p = await changed
        observed['presence_after_change'] = {'from': str(p['from']), 'show': p['show'], 'status': p['status']}
        observed['user_sees_contact_resources'] = sorted(user.client_roster[contact_bare].resources)

        check(observed['user_server_roster'].get(contact_bare, {}).get('subscription') == 'both',
              f'Herald has {observed["user_server_roster"]} for {user_bare}')
        check(observed['contact_server_roster'].get(user_bare, {}).get('subscription') == 'both',
              f'Herald has {observed["contact_server_roster"]} for {contact_bare}')
        check(observed['presence_after_change']['from'] == str(contact.boundjid),
              f'presence came from {observed["presence_after_change"]["from"]}, not {contact.boundjid}')
    finally:
        await user.stop()
        await contact.stop()


if __name__ == '__main__':
    p = base_parser('slixmpp interop: roster and subscriptions')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    run(p, scenario)
