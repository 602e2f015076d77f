"""Push scenario c: XEP-0357 <disable/>, of one node and then of the whole service.

    push_disable.py ... --user bob --password b-pass --contact alice --contact-password a-pass \
        --service push.localhost --node-prefix dis [--settle 1.5]

First login of the user (resource 'phone'): enable push at --service with
the nodes P-1 and P-2 (P = --node-prefix), disable P-1 (<disable jid node/>),
disconnect cleanly. The contact sends 'dis-1' to the user's bare JID; the
script waits --settle seconds for the app server to get what it gets (P-2
only, checked by the Node side).

Second login: enable P-3, then disable the service without a node
(<disable jid/>: every node of it goes), disconnect. The contact sends
'dis-2'; again --settle seconds for any publish (there must be none).

Observed: every enable/disable answer in order, and time marks
(time.time(), the clock push_app.py stamps publishes with) delimiting the
two phases: t_sent_1 (dis-1 routed), t_disabled_all (the node-less
<disable/> answered), t_sent_2 and t_end.
"""

import asyncio
import time

from common import Client, check, push_iq, push_parser, run


async def scenario(args, observed):
    user_bare = f'{args.user}@{args.domain}'
    nodes = [f'{args.node_prefix}-{i}' for i in (1, 2, 3)]
    answers = []
    observed['answers'] = answers

    async def ask(client, verb, node=None):
        answer = await push_iq(client, verb, args.service, node)
        answers.append({'verb': verb, 'node': node, **answer})
        check(answer['type'] == 'result', f'<{verb} node={node!r}/> refused: {answer}')

    async def message(mid):
        alice = Client(args, args.contact, args.contact_password, resource='desk')
        try:
            await alice.start()
            msg = alice.make_message(mto=user_bare, mbody=f'are you there? ({mid})', mtype='chat')
            msg['id'] = mid
            msg.send()
            await alice.round_trip()  # Herald has routed it
        finally:
            await alice.stop()

    bob = Client(args, args.user, args.password, resource='phone')
    try:
        await bob.start()
        await ask(bob, 'enable', nodes[0])
        await ask(bob, 'enable', nodes[1])
        await ask(bob, 'disable', nodes[0])
    finally:
        await bob.stop()
    await message('dis-1')
    observed['t_sent_1'] = time.time()
    await asyncio.sleep(args.settle)

    bob = Client(args, args.user, args.password, resource='phone')
    try:
        await bob.start()
        await ask(bob, 'enable', nodes[2])
        await ask(bob, 'disable')
        observed['t_disabled_all'] = time.time()
    finally:
        await bob.stop()
    await message('dis-2')
    observed['t_sent_2'] = time.time()
    await asyncio.sleep(args.settle)
    observed['t_end'] = time.time()


if __name__ == '__main__':
    p = push_parser('slixmpp interop: XEP-0357 disable')
    p.add_argument('--node-prefix', required=True)
    p.add_argument('--settle', type=float, default=1.5, help='seconds left for publishes after each message')
    run(p, scenario)
