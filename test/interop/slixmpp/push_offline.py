"""Push scenario a (and d): XEP-0357 pushes for messages to an offline user.

    push_offline.py ... --user bob --password b-pass --contact alice --contact-password a-pass \
        --service push.localhost --node bob-node [--secret s3cr3t] [--count 3]

The user (resource 'phone') checks that its account (the bare JID)
advertises urn:xmpp:push:0 in disco#info, enables push at --service/--node
with a raw <enable/> IQ carrying a publish-options form with --secret (see
common.push_iq: slixmpp has no XEP-0357 plugin), and disconnects cleanly
(</stream:stream>): no session is left. Then the contact sends --count chat
messages with a body to the user's bare JID.

What the app server publishes is seen by the Node side (push_app.py); this
script reports its side: the account's features, the answer to <enable/>,
the ids sent and time marks (time.time(), the clock push_app.py stamps
publishes with): when the user was gone and when every message had been
routed by Herald.
"""

import time

from common import PUSH_NS, Client, check, disco_features, push_iq, push_parser, run


async def scenario(args, observed):
    user_bare = f'{args.user}@{args.domain}'
    bob = Client(args, args.user, args.password, resource='phone')
    alice = Client(args, args.contact, args.contact_password, resource='desk')
    try:
        await bob.start()
        features = await disco_features(bob, user_bare)
        observed['push_advertised'] = PUSH_NS in features
        observed['enable'] = await push_iq(bob, 'enable', args.service, args.node, args.secret)
        check(observed['enable']['type'] == 'result', f'<enable/> refused: {observed["enable"]}')
        await bob.stop()
        observed['t_user_gone'] = time.time()

        await alice.start()
        sent = []
        for i in range(args.count):
            mid = f'push-{i + 1:02d}'
            msg = alice.make_message(mto=user_bare, mbody=f'for the phone #{i + 1} — 📲', mtype='chat')
            msg['id'] = mid
            msg.send()
            sent.append(mid)
        await alice.round_trip()  # Herald has routed them all
        observed['sent'] = sent
        observed['t_sent'] = time.time()
    finally:
        await bob.stop()
        await alice.stop()
    check(observed['push_advertised'], f'{PUSH_NS} not in the disco#info features of {user_bare}: {features}')


if __name__ == '__main__':
    p = push_parser('slixmpp interop: XEP-0357 pushes for an offline user')
    p.add_argument('--node', required=True)
    p.add_argument('--secret', default=None, help='publish-options secret (no form without it)')
    p.add_argument('--count', type=int, default=3, help='messages sent while the user is offline')
    run(p, scenario)
