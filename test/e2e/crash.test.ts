import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml, type Element } from '../helpers/xmpp.js';

/**
 * A kill -9 in the middle of a stream of messages: whatever the server had
 * acknowledged to the sender (XEP-0198 <a/>) must survive the crash.
 */
describe('crash safety', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    await h.addUser('alice', 'alice-pass');
    await h.addUser('bob', 'bob-pass');
  });
  after(() => h.cleanup());

  it('after SIGKILL mid-way through 1000 messages, every acknowledged one reaches the recipient', async () => {
    const alice = await TestClient.connect(h, 'alice', 'alice-pass');
    const sm = (alice.xmpp as unknown as {
      streamManagement: { enabled: boolean; requestAckDebounce: number; on(e: 'ack', f: (s: Element) => void): void };
    }).streamManagement;
    assert.ok(sm.enabled, 'stream management enabled'); // TestClient.connect waits for <enabled/>
    sm.requestAckDebounce = 20; // ask often, so acknowledgements keep pace with the sending
    const acked = new Set<string>();
    sm.on('ack', (s) => {
      if (s.is('message')) acked.add(s.attrs.id as string);
    });

    let killed = false;
    const sending = (async () => {
      for (let i = 0; i < 1000 && !killed; i++) {
        await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: `k${i}` }, xml('body', {}, `message ${i}`))).catch(() => undefined);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 5));
    killed = true;
    assert.equal(await h.stop('SIGKILL'), null);
    await sending;
    await alice.stop();
    const ackedIds = [...acked];
    assert.ok(ackedIds.length >= 300);

    h = await h.restart();
    const bob = await TestClient.connect(h, 'bob', 'bob-pass');
    try {
      await bob.send(xml('presence'));
      const last = ackedIds[ackedIds.length - 1] as string;
      await bob.waitFor((el) => el.attrs.id === last, 15_000, `acknowledged message ${last}`);
      await bob.collect(() => false, 500);
      const delivered = bob.messages().map((m) => m.attrs.id as string);
      const missing = ackedIds.filter((id) => !delivered.includes(id));
      assert.deepEqual(missing, [], 'every acknowledged message is delivered from offline storage');
      assert.equal(new Set(delivered).size, delivered.length, 'none twice');
      // Offline delivery keeps the order messages were sent in.
      const order = delivered.map((id) => Number(id.slice(1)));
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
      // The archive has them too, under the same stanza-ids as the offline copies.
      const fin = await bob.iq(
        xml('iq', { type: 'set' }, xml('query', { xmlns: 'urn:xmpp:mam:2', queryid: 'crash' }, xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '250'), xml('before', {})))),
        10_000,
      );
      assert.ok(fin.getChild('fin'));
      const archived = new Set(
        bob.received
          .filter((el) => el.getChild('result', 'urn:xmpp:mam:2')?.attrs.queryid === 'crash')
          .map((el) => el.getChild('result')?.getChild('forwarded')?.getChild('message')?.attrs.id as string),
      );
      const lastAcked = ackedIds.slice(-200);
      assert.deepEqual(lastAcked.filter((id) => !archived.has(id)), []);
    } finally {
      await bob.stop();
    }
  });
});
