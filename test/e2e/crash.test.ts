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
      streamManagement: { enabled: boolean; on(e: 'ack', f: (s: Element) => void): void };
    }).streamManagement;
    assert.ok(sm.enabled, 'stream management enabled'); // TestClient.connect waits for <enabled/>
    const acked = new Set<string>();
    let killed = false;
    let killing: Promise<number | null> | undefined;
    sm.on('ack', (s) => {
      if (s.is('message')) acked.add(s.attrs.id as string);
      // Kill on the acknowledgement itself: a polling loop may wake only after the last one.
      if (!killing && acked.size >= 300) {
        killed = true;
        killing = h.stop('SIGKILL');
      }
    });

    const sending = (async () => {
      for (let i = 0; i < 1000 && !killed; i++) {
        await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: `k${i}` }, xml('body', {}, `message ${i}`))).catch(() => undefined);
        if (i % 10 === 9) {
          // Ask for an acknowledgement ourselves: the client's own request is debounced until the sending pauses.
          await alice.xmpp.write("<r xmlns='urn:xmpp:sm:3'/>").catch(() => undefined);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    })();
    while (!killing) await new Promise((r) => setTimeout(r, 5));
    assert.equal(await killing, null);
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
      // The archive has every one too, under the same stanza-id as its offline copy. The whole
      // archive is paged through: the server may have stored messages it never got to
      // acknowledge before the kill, so no fixed-size "last page" is sure to reach back far enough.
      const archived = new Map<string, string>();
      let after: string | undefined;
      for (let page = 0; ; page++) {
        assert.ok(page < 20, 'the archive pages end');
        const queryid = `crash${page}`;
        const rsm = xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '250'), ...(after === undefined ? [] : [xml('after', {}, after)]));
        const fin = (await bob.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: 'urn:xmpp:mam:2', queryid }, rsm)), 10_000)).getChild('fin');
        assert.ok(fin);
        for (const el of bob.received) {
          const result = el.getChild('result', 'urn:xmpp:mam:2');
          if (result?.attrs.queryid !== queryid) continue;
          const id = result.getChild('forwarded')?.getChild('message')?.attrs.id as string;
          assert.ok(!archived.has(id), `${id} archived once`);
          archived.set(id, result.attrs.id as string);
        }
        if (fin.attrs.complete === 'true') break;
        after = fin.getChild('set')?.getChildText('last') ?? undefined;
        assert.ok(after, 'an incomplete page names its last item');
      }
      assert.deepEqual(ackedIds.filter((id) => !archived.has(id)), [], 'every acknowledged message is archived');
      const stanzaId = (m: Element): string | undefined => m.getChildren('stanza-id', 'urn:xmpp:sid:0').find((s) => s.attrs.by === 'bob@localhost')?.attrs.id as string | undefined;
      const offlineCopies = bob.messages().filter((m) => !m.getChild('result', 'urn:xmpp:mam:2'));
      for (const m of offlineCopies) assert.equal(stanzaId(m), archived.get(m.attrs.id as string), `${m.attrs.id as string}: offline copy and archive agree on the stanza-id`);
    } finally {
      await bob.stop();
    }
  });
});
