import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { WebSocket } from 'ws';
import { WebPushClient } from '../../public/webpush/client.js';
import { HeraldProcess } from '../helpers/herald.js';
import { TestPushService } from '../helpers/push-service.js';
import { TestClient, xml } from '../helpers/xmpp.js';

// What the page needs from a browser, provided for Node: the page's own code runs unchanged.
const g = globalThis as unknown as Record<string, unknown>;
g.WebSocket ??= WebSocket;
g.DOMParser ??= DOMParser;

describe('the /webpush/ page', () => {
  let h: HeraldProcess;
  let service: TestPushService;
  before(async () => {
    service = await TestPushService.start();
    h = await HeraldProcess.start({ env: { HERALD_WEBPUSH_ALLOW_INSECURE_LOOPBACK: 'true' } });
    await h.addUser('alice', 'alice-pass');
    await h.addUser('bob', 'bøb-pässword');
  });
  after(async () => {
    await h.cleanup();
    await service.stop();
  });

  it('serves the page, its client and its service worker', async () => {
    const base = `http://127.0.0.1:${h.httpPort}`;
    const page = await fetch(`${base}/webpush/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /import \{ WebPushClient \} from '\.\/client\.js'/);
    const sw = await fetch(`${base}/webpush/sw.js`);
    assert.match(sw.headers.get('content-type') ?? '', /javascript/);
    assert.match(await sw.text(), /addEventListener\('push'/);
    assert.equal((await fetch(`${base}/webpush/../herald.sqlite`)).status, 404);
    assert.equal((await fetch(`${base}/webpush/nothing.js`)).status, 404);
  });

  it("the page's client logs in with SCRAM-SHA-256, reads the key, enables push; the push arrives", async () => {
    const client = new WebPushClient(h.wsUrl);
    assert.equal(await client.login('bob@localhost', 'bøb-pässword'), 'bob@localhost/webpush-page');
    const key = await client.serverKey();
    assert.equal(Buffer.from(key, 'base64url').length, 65);
    const sub = service.subscribe();
    await client.enable({ endpoint: sub.endpoint, keys: sub.keys });
    client.close();
    assert.ok(h.output.some((l) => l.includes('"mechanism":"SCRAM-SHA-256"') && l.includes('bob@localhost')));

    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'page1' }, xml('body', {}, 'hello browser')));
    await service.until(() => service.for(sub).length === 1);
    assert.equal(service.for(sub)[0]?.vapidKey, key);
    assert.equal(service.for(sub)[0]?.message.type, 'message');
    await alice.stop();

    await assert.rejects(new WebPushClient(h.wsUrl).login('bob@localhost', 'wrong'), /wrong address or password/);
  });
});
