import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as wait } from 'node:timers/promises';
import { herald } from '../helpers/cli.js';
import { HeraldProcess } from '../helpers/herald.js';
import { TestPushService, type Subscription } from '../helpers/push-service.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const NS = 'urn:xmpp:webpush:0';
const enableIq = (sub: Pick<Subscription, 'endpoint' | 'keys'>): Element =>
  xml('iq', { type: 'set' }, xml('enable', { xmlns: NS }, xml('endpoint', {}, sub.endpoint), xml('auth', {}, sub.keys.auth), xml('p256dh', {}, sub.keys.p256dh)));

async function serverKey(c: TestClient): Promise<string | undefined> {
  const info = await c.iq(xml('iq', { type: 'get', to: c.jid.split('/')[0] }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
  const q = info.getChild('query');
  assert.ok(q?.getChildren('feature').some((f) => f.attrs.var === NS));
  const form = q?.getChildren('x', 'jabber:x:data').find((x) => x.getChildren('field').some((f) => f.getChildText('value') === 'http://jabber.org/protocol/webpush#public-key'));
  return form?.getChildren('field').find((f) => f.attrs.var === 'webpush#public-key')?.getChildText('value') ?? undefined;
}

describe('Web Push (urn:xmpp:webpush:0)', () => {
  let h: HeraldProcess;
  let service: TestPushService;
  let alice: TestClient;
  before(async () => {
    service = await TestPushService.start();
    h = await HeraldProcess.start({ env: { HERALD_WEBPUSH_ALLOW_INSECURE_LOOPBACK: 'true', HERALD_PUSH_RETRY_BASE_DELAY: '0.05', HERALD_WEBPUSH_TTL: '3600' } });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await h.addUser(u, `${u}-pass`);
    alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
  });
  after(async () => {
    await alice.stop();
    await h.cleanup();
    await service.stop();
  });

  it('publishes its VAPID key and validates enables, naming the bad field', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      const key = await serverKey(bob);
      assert.ok(key && Buffer.from(key, 'base64url').length === 65 && Buffer.from(key, 'base64url')[0] === 4, 'an applicationServerKey');
      const good = service.subscribe();
      const cases: [Pick<Subscription, 'endpoint' | 'keys'>, string][] = [
        [{ ...good, endpoint: 'ftp://push.example/x' }, 'endpoint: must be an https URL'],
        [{ ...good, endpoint: 'not a url' }, 'endpoint: not a URL'],
        [{ ...good, endpoint: 'http://push.example.org/x' }, 'endpoint: must be an https URL'],
        [{ ...good, keys: { ...good.keys, auth: 'c2hvcnQ' } }, 'auth: must be 16 bytes in base64'],
        [{ ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 4).toString('base64url') } }, 'p256dh: not an uncompressed P-256 public key'],
      ];
      for (const [sub, text] of cases) {
        const r = await bob.askError(enableIq(sub));
        assert.deepEqual([r.condition, r.text], ['bad-request', text]);
      }
    } finally {
      await bob.stop();
    }
  });

  it('delivers an encrypted, VAPID-signed push with TTL, Urgency and Topic, and no body or sender by default', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'browser' });
    const sub = service.subscribe();
    const key = await serverKey(bob);
    await bob.iq(enableIq(sub));
    await bob.stop();
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'w1' }, xml('body', {}, 'a private matter')));
    await service.until(() => service.for(sub).length === 1);
    const p = service.for(sub)[0]!;
    assert.equal(p.message.type, 'message');
    assert.match(String(p.message.id), /^sid:/);
    assert.equal(p.message.body, undefined, 'no body unless push.with_body');
    assert.equal(p.message.sender, undefined, 'no sender unless push.with_sender');
    assert.equal(p.headers['content-encoding'], 'aes128gcm');
    assert.equal(p.headers.ttl, '3600');
    assert.equal(p.headers.urgency, 'normal');
    assert.match(String(p.headers.topic), /^[A-Za-z0-9_-]{32}$/);
    assert.equal(p.vapidKey, key, 'signed with the key the client subscribed with');
    assert.equal(p.vapid.sub, 'mailto:postmaster@localhost');
    assert.ok((p.vapid.exp as number) <= Date.now() / 1000 + 24 * 3600);
    // A typing notification to a hibernating browser session would be low; a second message, the same topic.
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'w2' }, xml('body', {}, 'again')));
    await service.until(() => service.for(sub).length === 2);
    assert.equal(service.for(sub)[1]!.headers.topic, p.headers.topic, 'one topic per conversation');
  });

  it('a call is urgent', async () => {
    const carol = await TestClient.connect(h, 'carol', 'carol-pass');
    const sub = service.subscribe();
    await carol.iq(enableIq(sub));
    await carol.stop();
    await alice.send(xml('message', { to: 'carol@localhost', id: 'call1' }, xml('propose', { xmlns: 'urn:xmpp:jingle-message:0', id: 'c1' }, xml('description', { xmlns: 'urn:xmpp:jingle:apps:rtp:1', media: 'audio' }))));
    await service.until(() => service.for(sub).length === 1);
    assert.equal(service.for(sub)[0]!.headers.urgency, 'high');
    assert.equal(service.for(sub)[0]!.message.type, 'call');
  });

  it('429 with Retry-After is retried after the pause; 410 removes the subscription', async () => {
    const dave = await TestClient.connect(h, 'dave', 'dave-pass');
    const sub = service.subscribe();
    await dave.iq(enableIq(sub));
    await dave.stop();
    service.answer(sub, { status: 429, headers: { 'retry-after': '1' } });
    const sent = Date.now();
    await alice.send(xml('message', { to: 'dave@localhost', type: 'chat', id: 'r1' }, xml('body', {}, 'x')));
    await service.until(() => service.for(sub).length === 1);
    assert.ok(Date.now() - sent >= 900, 'waited as the service asked');
    service.answer(sub, { status: 410 });
    await alice.send(xml('message', { to: 'dave@localhost', type: 'chat', id: 'r2' }, xml('body', {}, 'x')));
    await service.until(() => service.rejected.filter((r) => r.subscription === sub.id && r.status === 410).length === 1);
    await wait(300);
    const list = await herald(['push', 'list', 'dave@localhost'], { HERALD_SERVER_DATA_DIR: h.dataDir });
    assert.match(list.stdout, /no push registrations/);
    await alice.send(xml('message', { to: 'dave@localhost', type: 'chat', id: 'r3' }, xml('body', {}, 'x')));
    await wait(500);
    assert.equal(service.for(sub).length, 1, 'nothing after removal');
  });

  it('no push is lost across a restart, and a rotated VAPID key leaves old subscriptions working', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'second' });
    const sub = service.subscribe();
    const oldKey = await serverKey(bob);
    await bob.iq(enableIq(sub));
    await bob.stop();
    // The service asks for a pause: the retry is still waiting in the outbox when Herald is killed.
    service.answer(sub, { status: 503, headers: { 'retry-after': '3' } });
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'k1' }, xml('body', {}, 'x')));
    await service.until(() => service.rejected.filter((r) => r.subscription === sub.id).length >= 1);
    await alice.stop();
    const rotated = await herald(['keys', 'rotate-vapid'], { HERALD_SERVER_DATA_DIR: h.dataDir });
    assert.equal(rotated.code, 0, rotated.stderr);
    // The kill time, not the restart's: the new process may deliver before the harness sees it ready.
    await h.stop('SIGKILL');
    const killed = Date.now();
    assert.equal(service.for(sub).length, 0, 'not delivered before the kill');
    h = await h.restart('SIGKILL');
    alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'laptop' });
    await service.until(() => service.for(sub).length > 0, 15_000);
    const delivered = service.for(sub);
    assert.equal(delivered.length, 1, 'once');
    assert.ok(delivered[0]!.at >= killed, 'delivered by the restarted server');
    assert.equal(delivered[0]!.vapidKey, oldKey, 'still signed with the key that subscription was made with');
    const newcomer = await TestClient.connect(h, 'carol', 'carol-pass', { resource: 'new' });
    assert.notEqual(await serverKey(newcomer), oldKey, 'new subscriptions get the new key');
    await newcomer.stop();
  });
});
