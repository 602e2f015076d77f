import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Strophe, $msg, $pres } from 'strophe.js';
import { HeraldProcess } from '../helpers/herald.js';
import { TestClient, xml } from '../helpers/xmpp.js';

/**
 * @xmpp/client has no SCRAM-SHA-256, so a second client library written by
 * others, Strophe.js, logs in over WebSocket with it (slixmpp does the same
 * over STARTTLS in the interop suite).
 */
type Connection = InstanceType<typeof Strophe.Connection>;

function stropheLogin(url: string, jid: string, password: string, mechanism: string): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const conn = new Strophe.Connection(url, { protocol: 'ws' });
    // Offer only the mechanism under test, so success proves that exact mechanism.
    const all = Strophe as unknown as { SASLSHA256: unknown; SASLSHA1: unknown };
    const chosen = mechanism === 'SCRAM-SHA-256' ? all.SASLSHA256 : all.SASLSHA1;
    (conn as unknown as { registerSASLMechanisms(m: unknown[]): void }).registerSASLMechanisms([chosen]);
    const timer = setTimeout(() => reject(new Error('Strophe login timed out')), 8000);
    conn.connect(jid, password, (status: number, condition: string | null) => {
      if (status === Strophe.Status.CONNECTED) {
        clearTimeout(timer);
        resolve(conn);
      } else if (status === Strophe.Status.AUTHFAIL || status === Strophe.Status.CONNFAIL) {
        clearTimeout(timer);
        reject(new Error(`Strophe status ${status} ${condition ?? ''}`));
      }
    });
  });
}

describe('SCRAM-SHA-256 over WebSocket with Strophe.js', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start();
    await h.addUser('alice', 'pässwörd ünïcödé');
    await h.addUser('bob', 'bob-pass');
  });
  after(() => h.cleanup());

  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1']) {
    it(`logs in with ${mechanism} (non-ASCII password) and exchanges a message`, async () => {
      const conn = await stropheLogin(h.wsUrl, 'alice@localhost/strophe', 'pässwörd ünïcödé', mechanism);
      const bob = await TestClient.connect(h, 'bob', 'bob-pass');
      try {
        assert.equal(conn.jid, 'alice@localhost/strophe');
        const logins = h.output.filter((l) => l.includes('"msg":"authenticated"') && l.includes('"user":"alice@localhost"'));
        assert.match(logins[logins.length - 1] ?? '', new RegExp(`"mechanism":"${mechanism}"`));
        await bob.send(xml('presence'));
        conn.send($pres().tree());
        const id = `s-${mechanism}`;
        conn.send($msg({ to: 'bob@localhost', type: 'chat', id }).c('body').t('from Strophe').tree());
        const m = await bob.waitFor((el) => el.attrs.id === id);
        assert.equal(m.attrs.from, 'alice@localhost/strophe');
        assert.equal(m.getChildText('body'), 'from Strophe');
      } finally {
        conn.disconnect('done');
        await bob.stop();
      }
    });
  }

  it('rejects a wrong password', async () => {
    await assert.rejects(stropheLogin(h.wsUrl, 'alice@localhost/x', 'wrong', 'SCRAM-SHA-256'), /status 2|AUTHFAIL|status/);
  });
});
