import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../helpers/herald.js';
import { RawConnection, STREAM_OPEN } from '../helpers/raw.js';
import { streamErrorOf, TestClient, xml } from '../helpers/xmpp.js';

describe('login', () => {
  let h: HeraldProcess;

  before(async () => {
    h = await HeraldProcess.start();
    await h.addUser('alice', 'alice-pass');
    await h.addUser('bob', 'bob-pass');
  });
  after(() => h.cleanup());

  const combinations = [
    ['starttls', 'SCRAM-SHA-1'],
    ['starttls', 'PLAIN'],
    ['tls', 'SCRAM-SHA-1'],
    ['tls', 'PLAIN'],
    ['ws', 'SCRAM-SHA-1'],
  ] as const;
  for (const [transport, mechanism] of combinations) {
    {
      it(`logs in over ${transport} with ${mechanism} and binds the requested resource`, async () => {
        const c = await TestClient.connect(h, 'alice', 'alice-pass', { transport, mechanism, resource: `r-${transport}` });
        try {
          assert.equal(c.jid, `alice@localhost/r-${transport}`);
          const pong = await c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
          assert.equal(pong.attrs.type, 'result');
        } finally {
          await c.stop();
        }
      });
    }
  }

  it('does not offer PLAIN on an unencrypted WebSocket', async () => {
    await assert.rejects(TestClient.connect(h, 'alice', 'alice-pass', { transport: 'ws', mechanism: 'PLAIN' }), /invalid-mechanism/);
  });

  it('refuses a wrong password with not-authorized', async () => {
    await assert.rejects(TestClient.connect(h, 'alice', 'wrong'), (e: Error & { condition?: string }) => {
      assert.equal(e.condition, 'not-authorized');
      return true;
    });
  });

  it('refuses an unknown user with not-authorized, like a wrong password', async () => {
    await assert.rejects(TestClient.connect(h, 'nobody', 'whatever'), (e: Error & { condition?: string }) => e.condition === 'not-authorized');
  });

  it('generates a resource when the client asks for none', async () => {
    const c = await TestClient.connect(h, 'bob', 'bob-pass', { resource: '' });
    try {
      assert.match(c.jid, /^bob@localhost\/.+/);
    } finally {
      await c.stop();
    }
  });

  it('replaces an older session that binds the same resource, telling it why (conflict)', async () => {
    const first = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'phone' });
    const conflict = streamErrorOf(first);
    const second = await TestClient.connect(h, 'bob', 'bob-pass', { resource: 'phone' });
    try {
      assert.equal(await conflict, 'conflict');
      assert.equal(second.jid, 'bob@localhost/phone');
      const pong = await second.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      assert.equal(pong.attrs.type, 'result');
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  it('offers no SASL mechanism before STARTTLS when TLS is required', async () => {
    const raw = await RawConnection.connect(h.c2sPort);
    try {
      raw.write(STREAM_OPEN());
      const m = await raw.waitFor(/<stream:features>(.*?)<\/stream:features>/);
      assert.match(m[1] as string, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
      assert.doesNotMatch(m[1] as string, /mechanism/);
    } finally {
      raw.destroy();
    }
  });

  it('closes a stream that sends a stanza before authenticating with not-authorized', async () => {
    const raw = await RawConnection.connect(h.c2sPort);
    raw.write(STREAM_OPEN());
    await raw.waitFor(/<\/stream:features>/);
    raw.write("<message to='alice@localhost'><body>hi</body></message>");
    await raw.waitFor(/<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await raw.waitClosed();
  });

  it('answers a stream for an unknown domain with host-unknown', async () => {
    const raw = await RawConnection.connect(h.c2sPort);
    raw.write(STREAM_OPEN('elsewhere.example'));
    await raw.waitFor(/<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await raw.waitClosed();
  });
});

describe('plain connections on loopback for test rigs', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({ env: { HERALD_C2S_REQUIRE_TLS: 'false', HERALD_AUTH_ALLOW_PLAIN_WITHOUT_TLS: 'true' } });
    await h.addUser('dave', 'dave-pass');
  });
  after(() => h.cleanup());

  it('allows PLAIN without TLS on loopback when auth.allow_plain_without_tls is set', async () => {
    const c = await TestClient.connect(h, 'dave', 'dave-pass', { transport: 'ws', mechanism: 'PLAIN' });
    assert.equal(c.jid, 'dave@localhost/test');
    await c.stop();
  });

  it('offers SASL before STARTTLS when c2s.require_tls is false', async () => {
    const raw = await RawConnection.connect(h.c2sPort);
    try {
      raw.write(STREAM_OPEN());
      const m = await raw.waitFor(/<stream:features>(.*?)<\/stream:features>/);
      assert.match(m[1] as string, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
      assert.match(m[1] as string, /<mechanism>SCRAM-SHA-256<\/mechanism><mechanism>SCRAM-SHA-1<\/mechanism><mechanism>PLAIN<\/mechanism>/);
    } finally {
      raw.destroy();
    }
  });
});

describe('per-address limits', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await HeraldProcess.start({
      env: { HERALD_LIMITS_CONNECTIONS_PER_IP_PER_MINUTE: '3', HERALD_LIMITS_AUTH_FAILURES_PER_IP_PER_MINUTE: '2' },
    });
    await h.addUser('carol', 'carol-pass');
  });
  after(() => h.cleanup());

  it('refuses further authentication after too many failures, and connections beyond the rate', async () => {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(TestClient.connect(h, 'carol', 'wrong'), (e: Error & { condition?: string }) => e.condition === 'not-authorized');
    }
    // The right password no longer helps once the address is over its failure limit.
    await assert.rejects(TestClient.connect(h, 'carol', 'carol-pass'), (e: Error & { condition?: string }) => e.condition === 'temporary-auth-failure');
    // That was the third connection this minute; the fourth is refused outright.
    const raw = await RawConnection.connect(h.c2sPort);
    await raw.waitFor(/<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await raw.waitClosed();
  });
});
