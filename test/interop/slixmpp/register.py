"""Scenario e: in-band registration (XEP-0077) with slixmpp's xep_0077 plugin.

    register.py ... --user newbie --password secret [--expect success|conflict|unavailable]

slixmpp negotiates STARTTLS, sees Herald's <register/> stream feature,
fetches the registration form and submits username and password. On
success it then logs in with the new account on the same stream (slixmpp
goes on to SASL after the register feature). Observed: whether the feature
was advertised, the form's fields, the result or error condition, and the
JID bound afterwards.
"""

from slixmpp.exceptions import IqError, IqTimeout

from common import Client, ScenarioFailure, base_parser, check, run

REGISTER_FEATURE = '{http://jabber.org/features/iq-register}register'


class Registrant(Client):
    def __init__(self, args, user, password):
        super().__init__(args, user, password, plugins=('xep_0004', 'xep_0066', 'xep_0077'))
        self['xep_0077'].force_registration = False
        self.registration = {}
        self.add_event_handler('register', self.on_register)

    async def on_register(self, form):
        reg = self.registration
        reg['form_fields'] = sorted(k for k in ('username', 'password', 'email') if form['register'].xml.find(
            f'{{jabber:iq:register}}{k}') is not None)
        reg['instructions'] = form['register']['instructions']
        iq = self.Iq()
        iq['type'] = 'set'
        iq['register']['username'] = self.boundjid.user
        iq['register']['password'] = self.password
        try:
            await iq.send(timeout=8)
            reg['result'] = 'success'
        except IqError as e:
            reg['result'] = 'error'
            reg['error_condition'] = e.iq['error']['condition']
            reg['error_type'] = e.iq['error']['type']
            reg['error_text'] = e.iq['error']['text']
            # Do not go on to SASL with an account that is not ours.
            self._settle(ScenarioFailure(f'registration refused: {reg["error_condition"]}'))
            self.disconnect()
        except IqTimeout:
            reg['result'] = 'timeout'
            self._settle(ScenarioFailure('no answer to the registration request'))
            self.disconnect()


async def scenario(args, observed):
    c = Registrant(args, args.user, args.password)
    # slixmpp 1.8.3 holds back every <iq/> sent before the session starts
    # (XMLStream.send queues RootStanzas until session_start, letting only
    # bind and session through), so the pre-authentication registration
    # IQs would wait forever. Let everything through while registering.
    c._always_send_everything = True
    try:
        await c.start()
    except ScenarioFailure:
        pass
    finally:
        c._always_send_everything = False
    observed['register_feature_advertised'] = any(REGISTER_FEATURE in f for f in c.features_seen)
    observed.update(c.registration)
    observed.update(c.summary())
    await c.stop()
    if args.expect == 'unavailable':
        check(not observed['register_feature_advertised'], 'Herald advertised in-band registration')
        check('result' not in c.registration, 'slixmpp registered although registration was not advertised')
        check(c.bound_jid is None, f'logged in as {c.bound_jid} with an account that should not exist')
        return
    check(observed['register_feature_advertised'], 'Herald did not advertise <register xmlns="http://jabber.org/features/iq-register"/>')
    check('result' in c.registration, 'slixmpp never got to register (no registration form)')
    if args.expect == 'conflict':
        check(c.registration.get('error_condition') == 'conflict',
              f'expected a conflict, got {c.registration.get("result")} {c.registration.get("error_condition", "")}')
    else:
        check(c.registration.get('result') == 'success',
              f'registration failed: {c.registration.get("error_condition")} {c.registration.get("error_text", "")}')
        check(c.bound_jid is not None, 'registered, but could not log in with the new account on the same stream')


if __name__ == '__main__':
    p = base_parser('slixmpp interop: in-band registration')
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--expect', choices=['success', 'conflict', 'unavailable'], default='success')
    run(p, scenario)
