"""Shared code for the slixmpp interop scenarios (run with /usr/bin/python3).

Every scenario is a small CLI:

    /usr/bin/python3 <scenario>.py --host 127.0.0.1 --port N --domain localhost \
        --ca /path/cert.pem [scenario arguments]

It prints exactly one JSON line on stdout with what slixmpp observed (also
when it fails, with "ok": false and "error"), exits 0 on success and nonzero
with a message on stderr otherwise, and gives up on its own after --timeout
seconds (20 by default). On failure the last lines of slixmpp's debug log
(the raw SEND:/RECV: stream) go to stderr, so a report shows the exchange.

Only the standard library and slixmpp (Debian's python3-slixmpp) are used.
"""

import argparse
import asyncio
import collections
import json
import logging
import os
import signal
import ssl
import sys
import traceback
from typing import Any, Awaitable, Callable, Dict, List, Optional

try:
    import slixmpp
    from slixmpp.exceptions import IqError, IqTimeout
    from slixmpp.xmlstream import ET
    from slixmpp.features.feature_mechanisms.stanza import Auth
    from slixmpp.stanza import StreamFeatures
except ImportError as e:  # pragma: no cover - reported to the Node side
    sys.stderr.write(
        f'cannot import slixmpp ({e}); install Debian\'s python3-slixmpp '
        '(apt-get install python3-slixmpp) and run the scenarios with /usr/bin/python3\n'
    )
    sys.exit(4)

EXIT_FAILED = 1
EXIT_TIMEOUT = 3

SM_NS = 'urn:xmpp:sm:3'
SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl'


class ScenarioFailure(Exception):
    """A scenario observed something other than what it expected."""


def check(condition: Any, message: str) -> None:
    if not condition:
        raise ScenarioFailure(message)


# ---- logging: keep slixmpp's debug output (SEND:/RECV: lines) in memory ------

class _Ring(logging.Handler):
    def __init__(self, size: int = 400) -> None:
        super().__init__(logging.DEBUG)
        self.lines: collections.deque = collections.deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f'{record.name}: {record.getMessage()}')
        except Exception:  # a broken log record must not break a scenario
            pass


_ring = _Ring()


def _setup_logging(debug: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(_ring)
    if debug:
        h = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.DEBUG)
        root.addHandler(h)


# ---- the client --------------------------------------------------------------

class Client(slixmpp.ClientXMPP):
    """
    A ClientXMPP that connects to a given address with STARTTLS required and
    the certificate verified against a given CA *and* the JID's domain, and
    records what it sees: the SASL mechanisms offered and the one it sent in
    <auth/>, every <stream:features/>, SASL failures and stream errors.
    """

    def __init__(self, args: argparse.Namespace, user: str, password: str, *,
                 mech: Optional[str] = None, resource: Optional[str] = None,
                 plugins: tuple = ()) -> None:
        jid = f'{user}@{args.domain}' + (f'/{resource}' if resource else '')
        # sasl_mech sets feature_mechanisms' use_mech: slixmpp then offers
        # only that mechanism to sasl.choose() (use_mechs = {mech}) and gives
        # up instead of falling back to another one.
        super().__init__(jid, password, sasl_mech=mech)
        self.forced_mech = mech
        self._dial = (args.host, args.port)
        self.ca_certs = args.ca
        self.use_ipv6 = False
        # slixmpp 1.8.3 only sets default_domain (the TLS server name) when
        # connect() is given a host name; with an IP literal it stays '' and
        # the handshake runs without SNI and without any hostname check. The
        # certificate is for the JID's domain, so name it explicitly.
        self.default_domain = args.domain
        for p in plugins:
            self.register_plugin(p)

        self.auth_sent: List[str] = []
        self.features_seen: List[List[str]] = []
        self.offered_mechanisms: List[str] = []
        self.sasl_failures: List[str] = []
        self.stream_errors: List[str] = []
        self.tls_info: Dict[str, Any] = {}
        self.bound_jid: Optional[str] = None
        self.tls_error: Optional[str] = None
        self._outcome: Optional[asyncio.Future] = None

        self.add_filter('out', self._watch_out)
        self.add_filter('in', self._watch_in)
        self.add_event_handler('session_start', self._on_session_start)
        # Only raised with xep_0198 loaded, when a reconnection resumed the session.
        self.add_event_handler('session_resumed', self._on_session_resumed)
        self.add_event_handler('failed_auth', self._on_failed_auth)
        self.add_event_handler('failed_all_auth', lambda _e: self._settle(ScenarioFailure(
            f'{self.boundjid.bare}: authentication failed: {", ".join(self.sasl_failures) or "no usable mechanism"}')))
        self.add_event_handler('stream_error', self._on_stream_error)
        self.add_event_handler('ssl_invalid_chain', self._on_bad_cert)
        self.add_event_handler('connection_failed', lambda e: self._settle(ScenarioFailure(f'connection failed: {e}')))
        self.add_event_handler('disconnected', lambda reason: self._settle(ScenarioFailure(
            f'{self.boundjid.bare}: disconnected before the session started ({reason}); '
            f'SASL failures: {self.sasl_failures}, stream errors: {self.stream_errors}')))

    # Dial the given address (Herald on a loopback port) whatever the JID
    # domain resolves to; no SRV lookup, no IPv6 ::1 attempt first.
    async def get_dns_records(self, domain: str, port: Optional[int] = None):  # type: ignore[override]
        return [(domain, self._dial[0], self._dial[1])]

    # -- observation --

    def _watch_out(self, stanza):
        if isinstance(stanza, Auth):
            self.auth_sent.append(stanza['mechanism'])
        return stanza

    def _watch_in(self, stanza):
        if isinstance(stanza, StreamFeatures):
            tags = [child.tag for child in stanza.xml]
            self.features_seen.append(tags)
            mechs = stanza.xml.find(f'{{{SASL_NS}}}mechanisms')
            if mechs is not None:
                self.offered_mechanisms = [m.text for m in mechs if m.text]
        return stanza

    def _on_failed_auth(self, failure) -> None:
        self._note_tls()
        self.sasl_failures.append(failure['condition'])

    def _on_stream_error(self, error) -> None:
        self.stream_errors.append(error['condition'])

    def _on_bad_cert(self, exc) -> None:
        self.tls_error = str(exc)
        self._settle(ScenarioFailure(f'TLS certificate not accepted: {exc}'))
        self.abort()

    def _note_tls(self) -> None:
        ssl_object = self.transport.get_extra_info('ssl_object') if self.transport else None
        if ssl_object is not None:
            self.tls_info = {
                'version': ssl_object.version(),
                'server_hostname': ssl_object.server_hostname,
                'verified': ssl_object.context.verify_mode == ssl.CERT_REQUIRED and ssl_object.context.check_hostname,
            }

    def _on_session_start(self, _event) -> None:
        self._note_tls()
        self.bound_jid = str(self.boundjid)
        self._settle(None)

    def _on_session_resumed(self, _event) -> None:
        self._note_tls()
        self._settle(None)

    def _settle(self, error: Optional[BaseException]) -> None:
        if self._outcome is None or self._outcome.done():
            return
        if error is None:
            self._outcome.set_result(True)
        else:
            self._outcome.set_exception(error)

    # -- state --

    @property
    def mechanism_used(self) -> Optional[str]:
        mech = self['feature_mechanisms'].mech
        return mech.name if mech is not None else None

    def summary(self) -> Dict[str, Any]:
        """What a scenario reports about this client's login."""
        return {
            'jid': self.bound_jid,
            'mechanism': self.mechanism_used if self.authenticated else None,
            'auth_sent': list(self.auth_sent),
            'offered_mechanisms': list(self.offered_mechanisms),
            'tls': self.tls_info,
        }

    # -- lifecycle --

    async def start(self) -> None:
        """Connects (STARTTLS required) and waits for session_start; raises ScenarioFailure otherwise."""
        self._outcome = asyncio.get_running_loop().create_future()
        self.connect(address=self._dial, force_starttls=True)
        await self._outcome

    async def cut(self) -> None:
        """
        Loses the connection the way a dead network does: the TCP connection
        is dropped with nothing more written, no </stream:stream> (which
        disconnect() would send) and no TLS close_notify. Waits for slixmpp
        to notice (its 'disconnected' event).
        """
        check(self.transport is not None, f'{self.boundjid}: not connected, nothing to cut')
        gone = self.expect('disconnected', timeout=3, what='the end of the connection after cutting it')
        self.transport.abort()
        await gone

    async def reconnect(self) -> None:
        """
        Connects again after cut() and waits until the session is back:
        resumed (XEP-0198 'session_resumed', with xep_0198 loaded and a
        resumable session) or a new one ('session_start').
        """
        self._outcome = asyncio.get_running_loop().create_future()
        self.connect(address=self._dial, force_starttls=True)
        await self._outcome

    async def attempt(self) -> Optional[str]:
        """Like start(), but returns the SASL failure condition (None if the login worked)."""
        try:
            await self.start()
            return None
        except ScenarioFailure:
            if self.sasl_failures:
                return self.sasl_failures[-1]
            raise

    async def stop(self) -> None:
        if self.transport is None:
            return
        waiter = asyncio.get_running_loop().create_future()
        self.add_event_handler('disconnected', lambda _r: waiter.done() or waiter.set_result(True), disposable=True)
        await self.disconnect(wait=2)
        try:
            await asyncio.wait_for(waiter, 3)
        except asyncio.TimeoutError:
            self.abort()

    def expect(self, name: str, match: Callable[[Any], bool] = lambda _x: True, timeout: float = 8, what: str = '') -> Awaitable[Any]:
        """
        Starts listening for slixmpp event `name` (with an argument satisfying
        match()) now, before the action that triggers it; await the result.
        """
        fut = asyncio.get_running_loop().create_future()

        def handler(arg):
            if not fut.done() and match(arg):
                fut.set_result(arg)
        self.add_event_handler(name, handler)

        async def wait() -> Any:
            try:
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                raise ScenarioFailure(f'{self.boundjid}: no {what or name} within {timeout}s') from None
            finally:
                self.del_event_handler(name, handler)
        return wait()

    async def round_trip(self) -> None:
        """An IQ round trip (roster get): everything sent before it has been processed by the server."""
        await self.get_roster(timeout=8)


# ---- XEP-0357 push: slixmpp has no plugin, the IQs are written by hand -------

PUSH_NS = 'urn:xmpp:push:0'
DATA_NS = 'jabber:x:data'
PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options'
DISCO_INFO_NS = 'http://jabber.org/protocol/disco#info'


async def push_iq(client: slixmpp.ClientXMPP, verb: str, jid: Optional[str], node: Optional[str] = None,
                  secret: Optional[str] = None) -> Dict[str, Any]:
    """
    Sends <iq type='set'><enable|disable xmlns='urn:xmpp:push:0' jid node/></iq>
    (with a publish-options form holding `secret` for an enable when given),
    built with ElementTree, and returns the answer: {'type': 'result'} or
    {'type': 'error', 'error_type', 'condition', 'text'}.
    """
    el = ET.Element(f'{{{PUSH_NS}}}{verb}')
    if jid is not None:
        el.set('jid', jid)
    if node is not None:
        el.set('node', node)
    if secret is not None:
        form = ET.SubElement(el, f'{{{DATA_NS}}}x', {'type': 'submit'})
        for var, value in (('FORM_TYPE', PUBLISH_OPTIONS), ('secret', secret)):
            field = ET.SubElement(form, f'{{{DATA_NS}}}field', {'var': var})
            ET.SubElement(field, f'{{{DATA_NS}}}value').text = value
    iq = client.make_iq_set(el)
    try:
        answer = await iq.send(timeout=8)
        return {'type': answer['type']}
    except IqError as e:
        err = e.iq['error']
        return {'type': 'error', 'error_type': err['type'], 'condition': err['condition'], 'text': err['text'] or None}
    except IqTimeout:
        raise ScenarioFailure(f'{client.boundjid}: no answer to <{verb} xmlns="{PUSH_NS}"/>') from None


async def disco_features(client: slixmpp.ClientXMPP, jid: str) -> List[str]:
    """The features of a disco#info query to `jid`, in the order received (a plain IQ, no plugin)."""
    iq = client.make_iq_get(queryxmlns=DISCO_INFO_NS, ito=jid)
    try:
        answer = await iq.send(timeout=8)
    except (IqError, IqTimeout) as e:
        raise ScenarioFailure(f'disco#info to {jid} failed: {e}') from None
    return [f.get('var') for f in answer.xml.iter(f'{{{DISCO_INFO_NS}}}feature')]


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls predicate() until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise ScenarioFailure(f'timed out after {timeout}s waiting for {what}')
        await asyncio.sleep(0.05)


# ---- running a scenario ------------------------------------------------------

def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--host', required=True, help='address to dial, e.g. 127.0.0.1')
    p.add_argument('--port', required=True, type=int, help='c2s (STARTTLS) port')
    p.add_argument('--domain', required=True, help='XMPP domain, also the TLS name checked')
    p.add_argument('--ca', required=True, help='PEM file of the CA that issued the server certificate')
    p.add_argument('--timeout', type=float, default=20.0, help='give up after this many seconds')
    p.add_argument('--debug', action='store_true', help="slixmpp's debug log on stderr")
    return p


def push_parser(description: str) -> argparse.ArgumentParser:
    """base_parser plus what every push scenario takes: the pushed user, the contact who writes, the app server."""
    p = base_parser(description)
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--contact', required=True)
    p.add_argument('--contact-password', required=True)
    p.add_argument('--service', required=True, help='the app server JID given in <enable jid/>')
    return p


def run(parser: argparse.ArgumentParser, scenario: Callable[[argparse.Namespace, Dict[str, Any]], Awaitable[None]]) -> None:
    """Parses arguments, runs scenario(args, observed) with a deadline, prints observed as JSON, exits."""
    args = parser.parse_args()
    _setup_logging(args.debug)
    observed: Dict[str, Any] = {'scenario': os.path.splitext(os.path.basename(sys.argv[0]))[0]}

    def report(ok: bool, error: Optional[str] = None) -> None:
        observed['ok'] = ok
        if error is not None:
            observed['error'] = error
        sys.stdout.write(json.dumps(observed, ensure_ascii=False, default=str) + '\n')
        sys.stdout.flush()

    def dump_log() -> None:
        sys.stderr.write('--- last slixmpp log lines ---\n')
        for line in list(_ring.lines)[-80:]:
            sys.stderr.write(line + '\n')

    # A last resort should the event loop itself wedge: the OS delivers this.
    def on_alarm(_sig, _frame):
        sys.stderr.write(f'{observed["scenario"]}: hard timeout after {args.timeout + 5:.0f}s\n')
        dump_log()
        report(False, 'hard timeout')
        os._exit(EXIT_TIMEOUT)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 5)

    async def main() -> None:
        await asyncio.wait_for(scenario(args, observed), args.timeout)

    code = 0
    try:
        asyncio.run(main())
        report(True)
    except ScenarioFailure as e:
        sys.stderr.write(f'{observed["scenario"]}: FAILED: {e}\n')
        dump_log()
        report(False, str(e))
        code = EXIT_FAILED
    except asyncio.TimeoutError:
        sys.stderr.write(f'{observed["scenario"]}: timed out after {args.timeout:.0f}s\n')
        dump_log()
        report(False, f'timed out after {args.timeout:.0f}s')
        code = EXIT_TIMEOUT
    except Exception as e:  # a bug in the scenario or in slixmpp
        sys.stderr.write(f'{observed["scenario"]}: ERROR: {e!r}\n{traceback.format_exc()}')
        dump_log()
        report(False, repr(e))
        code = EXIT_FAILED
    signal.alarm(0)
    sys.exit(code)
