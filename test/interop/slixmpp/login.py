"""Scenario a: log in with a given SASL mechanism (or see the login refused).

    login.py ... --user alice --password secret [--mech SCRAM-SHA-256] [--resource r]
                 [--expect success|failure|tls-failure]

Observed: the bound JID, the mechanisms Herald offered, the mechanism(s)
slixmpp named in <auth/>, the mechanism it finished with, TLS details; with
--expect failure, the SASL failure condition(s); with --expect tls-failure
(run it with a CA that did not issue the certificate), the TLS error.
"""

from common import Client, ScenarioFailure, base_parser, check, run


async def scenario(args, observed):
    c = Client(args, args.user, args.password, mech=args.mech, resource=args.resource)
    observed['forced_mechanism'] = args.mech

    if args.expect == 'tls-failure':
        try:
            await c.start()
        except ScenarioFailure:
            pass
        observed.update(c.summary())
        observed['tls_error'] = c.tls_error
        await c.stop()
        check(c.bound_jid is None, f'logged in as {c.bound_jid} although the certificate should not verify')
        check(c.tls_error is not None, 'the connection failed, but not on the certificate')
        check(not c.auth_sent, 'credentials were sent over a stream whose certificate did not verify')
        return

    if args.expect == 'failure':
        condition = await c.attempt()
        observed.update(c.summary())
        observed['failure'] = condition
        observed['sasl_failures'] = list(c.sasl_failures)
        await c.stop()
        check(condition is not None, f'login as {args.user} succeeded (bound {c.bound_jid}) but a SASL failure was expected')
        return

    await c.start()
    try:
        # The session works: an IQ round trip after binding.
        await c.round_trip()
        observed.update(c.summary())
        observed['roster_fetched'] = True
        if args.mech:
            check(c.auth_sent == [args.mech], f'slixmpp sent <auth/> for {c.auth_sent}, not only {args.mech}')
            check(c.mechanism_used == args.mech, f'slixmpp finished with {c.mechanism_used}, not {args.mech}')
    finally:
        await c.stop()


if __name__ == '__main__':
    p = base_parser('slixmpp interop: SASL login')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--mech', help='force this SASL mechanism (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN)')
    p.add_argument('--resource')
    p.add_argument('--expect', choices=['success', 'failure', 'tls-failure'], default='success')
    run(p, scenario)
