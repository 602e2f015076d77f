import type { Config } from '../config/schema.js';
import type { ImportanceVerdict } from '../core/importance.js';
import { buildForm } from '../xml/data-form.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';
import { parseElement } from '../xml/parse-element.js';
import { tigaseEncrypted, type TigaseOptions } from './tigase.js';

export interface Xep0357Registration {
  node: string;
  /** The client's publish-options form, serialised, replayed with every publish. */
  publishOptions?: string;
  tigase?: TigaseOptions;
}

export interface PrivacyOptions {
  withBody: boolean;
  withSender: boolean;
  importantBody: string;
}

export const privacyOptions = (config: Config): PrivacyOptions => ({
  withBody: config.push.with_body,
  withSender: config.push.with_sender,
  importantBody: config.push.important_body,
});

/**
 * The `<pubsub>` of a XEP-0357 publish, exactly as mod_cloud_notify sends it:
 * a `urn:xmpp:push:summary` form of type 'form' with every field present and
 * values only where there is data (message-count always 1, sender and body
 * only as the operator allows, the dummy body for important stanzas), then
 * the stored publish-options. Tigase clients get the encrypted payload in
 * place of the form, and a priority tag.
 */
export function buildPublish(reg: Xep0357Registration, message: Element | null, importance: ImportanceVerdict, privacy: PrivacyOptions): Element {
  const body = message?.getChildText('body', NS.client);
  const bodyValue =
    privacy.withBody && body !== undefined && body !== '' ? body : importance.important && privacy.importantBody !== '' ? privacy.importantBody : undefined;
  const sender = privacy.withSender ? message?.attrs.from : undefined;
  const notification = x('notification', { xmlns: NS.push });
  if (reg.tigase?.encryption && message) {
    notification.append(tigaseEncrypted(reg.tigase.encryption.key, message, importance));
  } else {
    notification.append(
      buildForm('form', [
        { var: 'FORM_TYPE', type: 'hidden', values: [NS.pushSummary] },
        { var: 'message-count', type: 'text-single', values: ['1'] },
        { var: 'pending-subscription-count', type: 'text-single' },
        { var: 'last-message-sender', type: 'jid-single', values: sender === undefined ? [] : [sender] },
        { var: 'last-message-body', type: 'text-single', values: bodyValue === undefined ? [] : [bodyValue] },
      ]),
    );
  }
  if (reg.tigase && importance.important) notification.append(x('priority', { xmlns: NS.tigasePriority }, 'high'));
  return x(
    'pubsub',
    { xmlns: NS.pubsub },
    x('publish', { node: reg.node }, x('item', null, notification)),
    reg.publishOptions !== undefined && x('publish-options', null, parseElement(reg.publishOptions)),
  );
}
