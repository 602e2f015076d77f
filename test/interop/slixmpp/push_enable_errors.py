"""Push scenario e: <enable xmlns='urn:xmpp:push:0'/> requests Herald refuses.

    push_enable_errors.py ... --user bob --password b-pass

The user (resource 'phone') sends raw XEP-0357 IQs (common.push_iq) that
must fail, and reports each answer (type, error type, condition, text):

  missing_jid   <enable node='x'/>                       no jid at all
  own_bare      <enable jid='bob@localhost' node='x'/>   the user's own bare JID
  own_full      <enable jid='bob@localhost/phone' .../>  the user's own full JID

and, to show that the stream goes on, whether the account still advertises
urn:xmpp:push:0 afterwards (disco#info to the bare JID).
"""

from common import PUSH_NS, Client, base_parser, disco_features, push_iq, run


async def scenario(args, observed):
    user_bare = f'{args.user}@{args.domain}'
    bob = Client(args, args.user, args.password, resource='phone')
    try:
        await bob.start()
        observed['missing_jid'] = await push_iq(bob, 'enable', None, 'x', 'never-stored')
        observed['own_bare'] = await push_iq(bob, 'enable', user_bare, 'x', 'never-stored')
        observed['own_full'] = await push_iq(bob, 'enable', str(bob.boundjid), 'x', 'never-stored')
        observed['push_advertised_after'] = PUSH_NS in await disco_features(bob, user_bare)
    finally:
        await bob.stop()


if __name__ == '__main__':
    p = base_parser('slixmpp interop: XEP-0357 enable errors')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    run(p, scenario)
