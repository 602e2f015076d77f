"""A XEP-0357 app server written with slixmpp, attached to Herald as a XEP-0114 component.

    push_app.py --host 127.0.0.1 --port N --component push.localhost --secret S \
        [--fail-first K --error-type wait --error-condition resource-constraint] [--timeout 300]

Unlike the client scenarios this one lives until it is told to stop: it
connects to Herald's component port with slixmpp.ComponentXMPP (handshake
with the shared secret), then answers every pubsub publish IQ
(iq@type=set/pubsub/publish, parsed with slixmpp's xep_0060 stanzas) with an
empty result, or the first --fail-first of them with
<error type=--error-type><--error-condition/></error>.

Its stdout is a stream of JSON lines, each flushed at once:

    {"event": "ready", "jid": "push.localhost"}        once the handshake is accepted
    {"event": "publish", "seq": 1, ...}                 one per publish received

A publish line tells what an app server reads: from, to, the node, the
item's <notification/> summary form (its type and every field, by var, as
the list of its values: [] for a field sent empty), the publish-options form
(the secret the client gave), what it answered and when (time.time(), for
comparing with the client scenarios' own marks).

SIGTERM (or SIGINT) makes it disconnect cleanly and end with the usual last
JSON line ("ok", and every publish again under "publishes"); it gives up on
its own after --timeout seconds like every scenario.
"""

import argparse
import asyncio
import json
import signal
import sys
import time
from typing import Any, Dict, List, Optional

from common import DATA_NS, PUSH_NS, ScenarioFailure, check, run

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

PUBSUB_NS = 'http://jabber.org/protocol/pubsub'


def form_fields(form) -> Optional[Dict[str, Any]]:
    """A jabber:x:data form as {type, fields: {var: [values]}}; None if there is none."""
    if form is None:
        return None
    fields: Dict[str, List[str]] = {}
    for field in form.findall(f'{{{DATA_NS}}}field'):
        fields[field.get('var', '')] = [v.text or '' for v in field.findall(f'{{{DATA_NS}}}value')]
    return {'type': form.get('type'), 'fields': fields}


class AppServer(slixmpp.ComponentXMPP):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.component, args.secret, args.host, args.port)
        self._dial = (args.host, args.port)
        self.use_ipv6 = False
        self.fail_first = args.fail_first
        self.error_type = args.error_type
        self.error_condition = args.error_condition
        self.publishes: List[Dict[str, Any]] = []
        self.stream_errors: List[str] = []
        # The stanza classes for <pubsub/> (and its <publish/>, <item/>, <publish-options/>).
        self.register_plugin('xep_0060')
        self.register_handler(Callback('XEP-0357 publish', StanzaPath('iq@type=set/pubsub/publish'), self._on_publish))
        self.add_event_handler('stream_error', lambda e: self.stream_errors.append(e['condition']))

    # The component port is an address, not a domain to look up (the JID is push.localhost).
    async def get_dns_records(self, domain: str, port: Optional[int] = None):  # type: ignore[override]
        return [(self._dial[0], self._dial[0], self._dial[1])]

    def _on_publish(self, iq) -> None:
        publish = iq['pubsub']['publish']
        notification = iq.xml.find(f'{{{PUBSUB_NS}}}pubsub/{{{PUBSUB_NS}}}publish/{{{PUBSUB_NS}}}item/{{{PUSH_NS}}}notification')
        summary = form_fields(notification.find(f'{{{DATA_NS}}}x')) if notification is not None else None
        options = form_fields(iq.xml.find(f'{{{PUBSUB_NS}}}pubsub/{{{PUBSUB_NS}}}publish-options/{{{DATA_NS}}}x'))
        seq = len(self.publishes) + 1
        refuse = seq <= self.fail_first
        record = {
            'event': 'publish',
            'seq': seq,
            't': time.time(),
            'id': iq['id'],
            'from': str(iq['from']),
            'to': str(iq['to']),
            'node': publish['node'],
            'items': len(publish.xml.findall(f'{{{PUBSUB_NS}}}item')),
            'notification': notification is not None,
            'summary': summary,
            'publish_options': options,
            'answer': f'error {self.error_type}/{self.error_condition}' if refuse else 'result',
        }
        self.publishes.append(record)
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + '\n')
        sys.stdout.flush()
        if refuse:
            reply = iq.reply(clear=True)
            reply['type'] = 'error'
            reply['error']['type'] = self.error_type
            reply['error']['condition'] = self.error_condition
            reply.send()
        else:
            iq.reply(clear=True).send()


async def scenario(args, observed):
    app = AppServer(args)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = loop.create_future()
    app.add_event_handler('session_start', lambda _e: started.done() or started.set_result(True))
    app.add_event_handler('connection_failed', lambda e: started.done() or started.set_exception(
        ScenarioFailure(f'cannot connect to the component port: {e}')))
    app.add_event_handler('disconnected', lambda reason: started.done() or started.set_exception(
        ScenarioFailure(f'disconnected before the handshake was accepted ({reason}); stream errors: {app.stream_errors}')))
    app.connect()
    try:
        await asyncio.wait_for(started, 10)
    except asyncio.TimeoutError:
        check(False, 'the component handshake was not accepted within 10s')
    sys.stdout.write(json.dumps({'event': 'ready', 'jid': str(app.boundjid)}) + '\n')
    sys.stdout.flush()
    gone = loop.create_future()
    app.add_event_handler('disconnected', lambda reason: gone.done() or gone.set_result(reason))
    stop_wait = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stop_wait, gone], return_when=asyncio.FIRST_COMPLETED)
    observed['publishes'] = app.publishes
    observed['stream_errors'] = app.stream_errors
    check(not gone.done(), f'Herald closed the component stream ({gone.result() if gone.done() else ""}); '
                           f'stream errors: {app.stream_errors}')
    stop_wait.cancel()
    await app.disconnect(wait=2)
    try:
        await asyncio.wait_for(gone, 3)
    except asyncio.TimeoutError:
        app.abort()


if __name__ == '__main__':
    p = argparse.ArgumentParser(description='slixmpp interop: a XEP-0357 app server as a XEP-0114 component')
    p.add_argument('--host', required=True, help="address of Herald's component port, e.g. 127.0.0.1")
    p.add_argument('--port', required=True, type=int, help='component (XEP-0114) port')
    p.add_argument('--component', required=True, help='the component JID, e.g. push.localhost')
    p.add_argument('--secret', required=True, help='the shared secret of the component')
    p.add_argument('--fail-first', type=int, default=0, help='answer the first K publishes with an error')
    p.add_argument('--error-type', default='wait')
    p.add_argument('--error-condition', default='resource-constraint')
    p.add_argument('--timeout', type=float, default=300.0, help='give up after this many seconds')
    p.add_argument('--debug', action='store_true', help="slixmpp's debug log on stderr")
    run(p, scenario)
