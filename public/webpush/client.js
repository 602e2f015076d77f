// Herald's web push page, its XMPP side: log in over WebSocket (RFC 7395)
// with SCRAM-SHA-256, read the server's VAPID key from the account's disco,
// and enable web push (urn:xmpp:webpush:0) for a PushSubscription.
// Plain ES module with browser APIs only (WebSocket, DOMParser, WebCrypto),
// so tests can run it under Node with those three provided.

const NS = {
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  webpush: 'urn:xmpp:webpush:0',
};

const te = new TextEncoder();
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const esc = (s) => String(s).replace(/[&<>'"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' })[c]);

async function hmac(key, data) {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, typeof data === 'string' ? te.encode(data) : data));
}

export class WebPushClient {
  constructor(url) {
    this.url = url;
    this.queue = [];
    this.waiting = [];
    this.jid = '';
  }

  /** Opens the WebSocket and resolves with the next element the server sends. */
  next(pred = () => true) {
    const i = this.queue.findIndex(pred);
    if (i !== -1) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer from the server')), 15000);
      this.waiting.push({ pred, resolve: (el) => (clearTimeout(timer), resolve(el)) });
    });
  }

  receive(text) {
    const el = new DOMParser().parseFromString(text, 'text/xml').documentElement;
    const w = this.waiting.findIndex((x) => x.pred(el));
    if (w !== -1) this.waiting.splice(w, 1)[0].resolve(el);
    else this.queue.push(el);
  }

  send(xml) {
    this.ws.send(xml);
  }

  async open(domain) {
    this.send(`<open xmlns='${NS.framing}' to='${esc(domain)}' version='1.0'/>`);
    await this.next((el) => el.localName === 'open');
    return this.next((el) => el.localName === 'features');
  }

  async login(jid, password) {
    const [user, domain] = jid.split('@');
    this.ws = new WebSocket(this.url, 'xmpp');
    this.ws.onmessage = (e) => this.receive(typeof e.data === 'string' ? e.data : String(e.data));
    await new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error(`cannot reach ${this.url}`));
    });
    const features = await this.open(domain);
    const mechs = [...features.getElementsByTagName('mechanism')].map((m) => m.textContent);
    if (!mechs.includes('SCRAM-SHA-256')) throw new Error('the server offers no SCRAM-SHA-256');

    // SCRAM-SHA-256 (RFC 7677): the password never leaves this page.
    const nonce = b64(crypto.getRandomValues(new Uint8Array(18)));
    const first = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${nonce}`;
    this.send(`<auth xmlns='${NS.sasl}' mechanism='SCRAM-SHA-256'>${btoa('n,,' + first)}</auth>`);
    const challenge = await this.next();
    if (challenge.localName !== 'challenge') throw new Error('authentication failed');
    const serverFirst = atob(challenge.textContent);
    const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
    if (!attrs.r.startsWith(nonce)) throw new Error('server nonce mismatch');
    const pwKey = await crypto.subtle.importKey('raw', te.encode(password.normalize('NFKC')), 'PBKDF2', false, ['deriveBits']);
    const salted = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: unb64(attrs.s), iterations: Number(attrs.i) }, pwKey, 256));
    const clientKey = await hmac(salted, 'Client Key');
    const storedKey = new Uint8Array(await crypto.subtle.digest('SHA-256', clientKey));
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${first},${serverFirst},${withoutProof}`;
    const signature = await hmac(storedKey, authMessage);
    const proof = clientKey.map((b, i) => b ^ signature[i]);
    this.send(`<response xmlns='${NS.sasl}'>${btoa(`${withoutProof},p=${b64(proof)}`)}</response>`);
    const outcome = await this.next();
    if (outcome.localName !== 'success') throw new Error('wrong address or password');
    const expected = b64(await hmac(await hmac(salted, 'Server Key'), authMessage));
    if (atob(outcome.textContent) !== `v=${expected}`) throw new Error('the server could not prove it knows the password');

    await this.open(domain);
    this.send(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='${NS.bind}'><resource>webpush-page</resource></bind></iq>`);
    const bound = await this.next((el) => el.getAttribute('id') === 'bind');
    this.jid = bound.getElementsByTagName('jid')[0]?.textContent ?? '';
    this.bare = jid;
    return this.jid;
  }

  async iq(type, to, payload) {
    const id = `p${Math.random().toString(36).slice(2)}`;
    this.send(`<iq type='${type}' id='${id}' xmlns='jabber:client'${to ? ` to='${esc(to)}'` : ''}>${payload}</iq>`);
    const answer = await this.next((el) => el.localName === 'iq' && el.getAttribute('id') === id);
    if (answer.getAttribute('type') === 'error') {
      const text = answer.getElementsByTagName('text')[0]?.textContent;
      throw new Error(text || 'the server refused');
    }
    return answer;
  }

  /** The VAPID public key (base64url) that subscriptions need as applicationServerKey. */
  async serverKey() {
    const info = await this.iq('get', this.bare, `<query xmlns='${NS.discoInfo}'/>`);
    for (const field of info.getElementsByTagName('field')) {
      if (field.getAttribute('var') === 'webpush#public-key') return field.getElementsByTagName('value')[0].textContent;
    }
    throw new Error('this server does not offer web push');
  }

  /** Enables web push for a PushSubscription (or its toJSON()). */
  async enable(subscription) {
    const json = typeof subscription.toJSON === 'function' ? subscription.toJSON() : subscription;
    await this.iq(
      'set',
      null,
      `<enable xmlns='${NS.webpush}'><endpoint>${esc(json.endpoint)}</endpoint><auth>${esc(json.keys.auth)}</auth><p256dh>${esc(json.keys.p256dh)}</p256dh></enable>`,
    );
  }

  close() {
    try {
      this.send(`<close xmlns='${NS.framing}'/>`);
    } catch {}
    this.ws?.close();
  }
}
