import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as wait } from 'node:timers/promises';
import * as ece from 'http_ece';
import webpush from 'web-push';
import { TokenCodec } from '../../src/push/unifiedpush/token.js';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

const UP = 'http://gultsch.de/xmpp/drafts/unified-push';
const b64 = (n = 32): string => randomBytes(n).toString('base64');

/** A distributor written with @xmpp/client: it records every push and answers as scripted. */
class Distributor {
  readonly pushes: { body: Buffer; instance: string; application: string; from: string }[] = [];
  answer: 'ok' | 'item-not-found' | 'service-unavailable' = 'ok';

  constructor(readonly client: TestClient) {
    const callee = (client.xmpp as unknown as { iqCallee: { set(ns: string, name: string, h: (ctx: { stanza: Element; element: Element }) => Element | true): void } }).iqCallee;
    callee.set(UP, 'push', (ctx) => {
      this.pushes.push({
        body: Buffer.from(ctx.element.text(), 'base64'),
        instance: ctx.element.attrs.instance as string,
        application: ctx.element.attrs.application as string,
        from: ctx.stanza.attrs.from as string,
      });
      return this.answer === 'ok' ? true : xml('error', { type: 'cancel' }, xml(this.answer, 'urn:ietf:params:xml:ns:xmpp-stanzas'));
    });
  }

  static async connect(h: HeraldProcess, user: string, resource = 'distributor'): Promise<Distributor> {
    let d: Distributor | undefined;
    await TestClient.connect(h, user, `${user}-pass`, { resource, presence: true, setup: (c) => (d = new Distributor(c)) });
    return d as Distributor;
  }

  async register(instance = b64(), application = b64()): Promise<{ endpoint: string; expiration: string }> {
    const r = await this.client.iq(xml('iq', { type: 'set', to: 'localhost' }, xml('register', { xmlns: UP, instance, application })));
    const reg = r.getChild('registered', UP) as Element;
    return { endpoint: reg.attrs.endpoint as string, expiration: reg.attrs.expiration as string };
  }

  async until(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pushes.length < n) {
      if (Date.now() > deadline) throw new Error(`distributor got ${this.pushes.length} of ${n} pushes`);
      await wait(20);
    }
  }
}

const post = (url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });

describe('UnifiedPush provider', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_UNIFIEDPUSH_RATE_PER_MINUTE: '1000' } });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('registers, and delivers the posted bytes unchanged to the distributor (201, TTL: 0)', async () => {
    const d = await Distributor.connect(h, 'alice');
    try {
      const disco = await d.client.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      assert.ok(disco.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === UP));
      const instance = b64();
      const application = b64();
      const { endpoint, expiration } = await d.register(instance, application);
      assert.match(endpoint, new RegExp(`^http://localhost:${h.httpPort}/push/[A-Za-z0-9_-]+$`));
      assert.ok(!endpoint.includes('alice'), 'the token does not show the JID');
      assert.match(expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(Math.abs(Date.parse(expiration) - Date.now() - 86400_000) < 5000);

      const local = endpoint.replace('localhost', '127.0.0.1');
      const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
      const res = await post(local, bytes);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('ttl'), '0');
      await d.until(1);
      assert.deepEqual(d.pushes[0]?.body, bytes);
      assert.equal(d.pushes[0]?.instance, instance);
      assert.equal(d.pushes[0]?.application, application);
      assert.equal(d.pushes[0]?.from, 'localhost');

      // An RFC 8291 body made by the web-push package reaches the app's keys intact.
      const ua = createECDH('prime256v1');
      ua.generateKeys();
      const auth = randomBytes(16);
      const encrypted = webpush.encrypt(ua.getPublicKey('base64url'), auth.toString('base64url'), 'a secret for the app', 'aes128gcm');
      assert.equal((await post(local, encrypted.cipherText, { 'content-encoding': 'aes128gcm', ttl: '60' })).status, 201);
      await d.until(2);
      const plain = ece.decrypt(d.pushes[1]?.body as Buffer, { version: 'aes128gcm', privateKey: ua, authSecret: auth });
      assert.equal(plain.toString(), 'a secret for the app');

      // Discovery and CORS, as the original answers them.
      const get = await fetch(local);
      assert.deepEqual(await get.json(), { unifiedpush: { version: 1 } });
      const pre = await fetch(local, { method: 'OPTIONS' });
      assert.equal(pre.headers.get('access-control-allow-origin'), '*');
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /TTL/);
    } finally {
      await d.client.stop();
    }
  });

  it('answers 404 for unknown, forged, tampered and expired tokens; 400 for an empty body; 413 over 4096 bytes', async () => {
    const d = await Distributor.connect(h, 'bob');
    try {
      const { endpoint } = await d.register();
      const local = endpoint.replace('localhost', '127.0.0.1');
      const token = local.slice(local.lastIndexOf('/') + 1);
      const at = (t: string): string => local.slice(0, local.lastIndexOf('/') + 1) + t;
      assert.equal((await post(at('nonsense'), 'x')).status, 404);
      const forged = new TokenCodec(randomBytes(32)).seal({ jid: 'bob@localhost/distributor', host: 'localhost', instance: b64(), application: b64(), exp: 9e9 }).token;
      assert.equal((await post(at(forged), 'x')).status, 404);
      const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
      assert.equal((await post(at(flipped), 'x')).status, 404);
      assert.equal((await post(local, '')).status, 400);
      assert.equal((await post(local, Buffer.alloc(4097, 1))).status, 413);
      assert.equal((await post(local, Buffer.alloc(4096, 1))).status, 201);
      assert.equal(d.pushes.length, 1, 'only the acceptable one was delivered');
    } finally {
      await d.client.stop();
    }
  });

  it('stores for an offline distributor: TTL granted, Topic replaces, expired ones dropped, delivered in order on login', async () => {
    const d = await Distributor.connect(h, 'carol');
    const { endpoint } = await d.register();
    await d.client.stop();
    const local = endpoint.replace('localhost', '127.0.0.1');
    const r1 = await post(local, 'one', { ttl: '3600' });
    assert.equal(r1.status, 201);
    assert.equal(r1.headers.get('ttl'), '3600');
    const capped = await post(local, 'two', { ttl: '99999999' });
    assert.equal(capped.headers.get('ttl'), '86400', 'capped by unifiedpush.max_store_ttl');
    await post(local, 'news v1', { topic: 'news', ttl: '3600' });
    await post(local, 'short-lived', { ttl: '1' });
    await post(local, 'news v2', { topic: 'news', ttl: '3600', urgency: 'high' });
    const none = await post(local, 'not kept', { ttl: '0' });
    assert.equal(none.status, 201);
    assert.equal(none.headers.get('ttl'), '0');
    assert.equal((await post(local, 'x', { urgency: 'whenever' })).status, 400);
    await wait(1500);
    const back = await Distributor.connect(h, 'carol');
    try {
      await back.until(3);
      await wait(300);
      assert.deepEqual(back.pushes.map((p) => p.body.toString()), ['one', 'two', 'news v2']);
    } finally {
      await back.client.stop();
    }
  });

  it('keeps stored pushes across a restart', async () => {
    const d = await Distributor.connect(h, 'dave');
    const { endpoint } = await d.register();
    await d.client.stop();
    assert.equal((await post(endpoint.replace('localhost', '127.0.0.1'), 'survives', { ttl: '600' })).status, 201);
    h = await h.restart();
    const back = await Distributor.connect(h, 'dave');
    try {
      await back.until(1);
      assert.equal(back.pushes[0]?.body.toString(), 'survives');
    } finally {
      await back.client.stop();
    }
  });

  it('revokes an endpoint for good when the distributor answers item-not-found', async () => {
    const d = await Distributor.connect(h, 'alice', 'other');
    try {
      const { endpoint } = await d.register();
      const local = endpoint.replace('localhost', '127.0.0.1');
      d.answer = 'item-not-found';
      assert.equal((await post(local, 'first')).status, 404);
      d.answer = 'ok';
      assert.equal((await post(local, 'second')).status, 404, 'still revoked');
      assert.equal(d.pushes.length, 1);
      const metrics = await (await fetch(`http://127.0.0.1:${h.httpPort}/metrics`)).text();
      assert.match(metrics, /herald_unifiedpush_pushes_total\{event="rejected",status="404"\} [1-9]/);
      assert.match(metrics, /herald_unifiedpush_pushes_total\{event="delivered",status=""\} [1-9]/);
    } finally {
      await d.client.stop();
    }
  });

  it('refuses bad registrations with the original texts', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass', { resource: 'bad' });
    try {
      const cases: [Record<string, string>, string][] = [
        [{ application: b64() }, 'instance: no value provided'],
        [{ instance: 'not base64!', application: b64() }, 'instance: invalid base64'],
        [{ instance: b64(16), application: b64() }, 'instance: incorrect decoded length, expected 32'],
        [{ instance: b64(), application: b64(31) }, 'application: incorrect decoded length, expected 32'],
      ];
      for (const [attrs, text] of cases) {
        const r = await alice.askError(xml('iq', { type: 'set', to: 'localhost' }, xml('register', { xmlns: UP, ...attrs })));
        assert.deepEqual([r.condition, r.text], ['bad-request', text]);
      }
    } finally {
      await alice.stop();
    }
  });
});

describe('UnifiedPush limits and access', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_UNIFIEDPUSH_ACL: 'alice@localhost', HERALD_UNIFIEDPUSH_RATE_PER_MINUTE: '3', HERALD_UNIFIEDPUSH_REGISTRATION_TTL: '3' } });
    for (const u of ['alice', 'bob']) await h.addUser(u, `${u}-pass`);
  });
  after(() => h.cleanup());

  it('forbids registrations outside the ACL, limits the rate per endpoint, and expires endpoints', async () => {
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    const refused = await bob.askError(xml('iq', { type: 'set', to: 'localhost' }, xml('register', { xmlns: UP, instance: b64(), application: b64() })));
    assert.equal(refused.condition, 'forbidden');
    await bob.stop();
    const d = await Distributor.connect(h, 'alice');
    try {
      const { endpoint } = await d.register();
      const local = endpoint.replace('localhost', '127.0.0.1');
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await post(local, `m${i}`)).status);
      assert.deepEqual(statuses, [201, 201, 201, 429]);
      // registration_ttl is three seconds here: long enough for the posts above on a loaded machine.
      await wait(3200);
      assert.equal((await post(local, 'late')).status, 404);
    } finally {
      await d.client.stop();
    }
  });
});
