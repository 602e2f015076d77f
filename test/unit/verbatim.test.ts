import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/namespaces.js';
import { storedElement } from '../../src/xml/verbatim.js';

describe('stored elements sent again verbatim', () => {
  const pubsub = x('pubsub', { xmlns: NS.pubsub }, x('publish', { node: "n'1&" }, x('item', {}, x('body', {}, 'a < b & "c"'))));
  const stored = pubsub.toString('');

  it('writes exactly the stored text, in any enclosing namespace, with the root named', () => {
    const el = storedElement(stored);
    assert.equal(el.name, 'pubsub');
    assert.equal(el.ns, NS.pubsub);
    const iq = x('iq', { type: 'set', id: 'p1', to: 'push.example' }, el);
    assert.equal(iq.toString('jabber:component:accept'), `<iq type='set' id='p1' to='push.example'>${stored}</iq>`);
    assert.equal(el.clone().toString(''), stored);
  });

  it('parses what our serialiser did not write at the top level', () => {
    const el = storedElement(`<pubsub xmlns="${NS.pubsub}"><publish node="n"/></pubsub>`);
    assert.equal(el.getChild('publish')?.attrs.node, 'n');
    assert.equal(el.toString(''), `<pubsub xmlns='${NS.pubsub}'><publish node='n'/></pubsub>`);
  });
});
