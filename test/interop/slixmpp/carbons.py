"""Scenario h: message carbons (XEP-0280, urn:xmpp:carbons:2) with slixmpp's xep_0280 plugin.

    carbons.py ... --user alice --password a-pass --contact bob --contact-password b-pass

The user logs in twice (resources 'phone' and 'laptop'), both enable
carbons with xep_0280's enable() and send presence; the contact logs in as
'desk'. Then, one after the other:

  to-phone    the contact sends to the user's full JID .../phone
  from-phone  the user's phone sends to the contact's bare JID
  to-bare     the contact sends to the user's bare JID
  private     the phone sends with <private xmlns='urn:xmpp:carbons:2'/> and a no-copy hint

Observed, per user resource: the messages it received itself, the
'carbon_received' and 'carbon_sent' events (the wrapper's from and the
forwarded message's id, from, to and body), and what the contact received.
"""

import asyncio

from common import Client, base_parser, check, run, until


def recorder(c, into):
    def inner(wrapper, kind):
        fwd = wrapper[kind]  # the forwarded message
        return {'wrapper_from': str(wrapper['from']), 'wrapper_to': str(wrapper['to']),
                'id': fwd['id'], 'from': str(fwd['from']), 'to': str(fwd['to']), 'body': fwd['body']}

    def on_message(msg):
        # Carbons are messages too; slixmpp's 'message' event sees their wrappers, which have no body.
        if msg['type'] in ('chat', 'normal') and msg['body']:
            into['direct'].append({'id': msg['id'], 'from': str(msg['from']), 'to': str(msg['to']), 'body': msg['body']})
    c.add_event_handler('message', on_message)
    c.add_event_handler('carbon_received', lambda m: into['carbon_received'].append(inner(m, 'carbon_received')))
    c.add_event_handler('carbon_sent', lambda m: into['carbon_sent'].append(inner(m, 'carbon_sent')))


async def scenario(args, observed):
    user_bare = f'{args.user}@{args.domain}'
    contact_bare = f'{args.contact}@{args.domain}'
    phone = Client(args, args.user, args.password, resource='phone', plugins=('xep_0280',))
    laptop = Client(args, args.user, args.password, resource='laptop', plugins=('xep_0280',))
    bob = Client(args, args.contact, args.contact_password, resource='desk')
    seen = {name: {'direct': [], 'carbon_received': [], 'carbon_sent': []} for name in ('phone', 'laptop', 'contact')}
    recorder(phone, seen['phone'])
    recorder(laptop, seen['laptop'])
    recorder(bob, seen['contact'])
    everyone = (phone, laptop, bob)

    def counts():
        return {k: {kind: len(lst) for kind, lst in v.items()} for k, v in seen.items()}

    def since(before):
        return {k: {kind: lst[before[k][kind]:] for kind, lst in v.items()} for k, v in seen.items()}

    async def settle():
        for c in everyone:
            await c.round_trip()
        await asyncio.sleep(0.4)  # a stray copy would be here by now

    def send(sender, to, mid, body, private=False):
        msg = sender.make_message(mto=to, mbody=body, mtype='chat')
        msg['id'] = mid
        if private:
            msg.enable('carbon_private')
            msg.xml.append(msg.xml.makeelement('{urn:xmpp:hints}no-copy', {}))
        msg.send()

    async def step(name, sender, to, body, arrived, what, private=False):
        before = counts()
        send(sender, to, name, body, private)
        await until(lambda: arrived(since(before)), 8, what)
        await settle()
        observed[name.replace('-', '_')] = since(before)

    try:
        for c in everyone:
            await c.start()
        for c in (phone, laptop):
            result = await c['xep_0280'].enable(timeout=8)
            check(result['type'] == 'result', f'{c.boundjid}: enabling carbons answered {result}')
        observed['carbons_enabled'] = True
        for c in everyone:
            c.send_presence()
            await c.round_trip()
        await settle()

        await step('to-phone', bob, f'{user_bare}/phone', 'to your phone 📱',
                   lambda d: d['phone']['direct'] and d['laptop']['carbon_received'],
                   'the message at the phone and its carbon at the laptop')
        await step('from-phone', phone, contact_bare, 'sent from my phone ✓',
                   lambda d: d['contact']['direct'] and d['laptop']['carbon_sent'],
                   'the message at the contact and its sent carbon at the laptop')
        await step('to-bare', bob, user_bare, 'to all of you 👥',
                   lambda d: d['phone']['direct'] or d['laptop']['direct'],
                   'the message to the bare JID')
        await step('private', phone, contact_bare, 'not for my other devices 🔒',
                   lambda d: d['contact']['direct'], 'the private message at the contact', private=True)
    finally:
        observed['jids'] = {'phone': str(phone.boundjid), 'laptop': str(laptop.boundjid), 'contact': str(bob.boundjid)}
        for c in everyone:
            await c.stop()

    tp = observed['to_phone']
    check([m['id'] for m in tp['phone']['direct']] == ['to-phone'], f'phone got {tp["phone"]}')
    check([m['id'] for m in tp['laptop']['carbon_received']] == ['to-phone'], f'laptop got {tp["laptop"]}')
    check(not tp['laptop']['direct'] and not tp['phone']['carbon_received'], 'a copy too many of to-phone')
    fp = observed['from_phone']
    check([m['id'] for m in fp['laptop']['carbon_sent']] == ['from-phone'], f'laptop got {fp["laptop"]}')
    check(not fp['phone']['carbon_sent'] and not fp['phone']['direct'], f'the phone got its own message back: {fp["phone"]}')
    pv = observed['private']
    check(not pv['laptop']['carbon_sent'], f'the laptop got a carbon of a private message: {pv["laptop"]}')


if __name__ == '__main__':
    p = base_parser('slixmpp interop: message carbons')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    run(p, scenario)
