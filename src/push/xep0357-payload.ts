import type { Config } from '../config/schema.js';
import type { ImportanceVerdict } from '../core/importance.js';
import type { Element } from '../xml/element.js';
import { escapeAttr, escapeText } from '../xml/escape.js';
import { NS } from '../xml/namespaces.js';
import { storedElement } from '../xml/verbatim.js';
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

/** A summary field: a self-closing field without a value, as the element serialiser writes it. */
const field = (name: string, type: string, value: string | undefined): string =>
  value === undefined
    ? `<field var='${name}' type='${type}'/>`
    : `<field var='${name}' type='${type}'><value>${escapeText(value)}</value></field>`;

/**
 * The `<pubsub>` of a XEP-0357 publish, exactly as mod_cloud_notify sends it:
 * a `urn:xmpp:push:summary` form of type 'form' with every field present and
 * values only where there is data (message-count always 1, sender and body
 * only as the operator allows, the dummy body for important stanzas), then
 * the stored publish-options. Tigase clients get the encrypted payload in
 * place of the form, and a priority tag. Written as text, in the form the
 * element serialiser gives: this runs for every push, and building the
 * fifteen elements of the form only to serialise them was a sixth of what
 * the server allocated per push.
 */
export function publishText(reg: Xep0357Registration, message: Element | null, importance: ImportanceVerdict, privacy: PrivacyOptions): string {
  const body = message?.getChildText('body', NS.client);
  const bodyValue =
    privacy.withBody && body !== undefined && body !== '' ? body : importance.important && privacy.importantBody !== '' ? privacy.importantBody : undefined;
  const sender = privacy.withSender ? message?.attrs.from : undefined;
  const content =
    reg.tigase?.encryption && message
      ? tigaseEncrypted(reg.tigase.encryption.key, message, importance).toString(NS.push)
      : `<x xmlns='${NS.dataForms}' type='form'>` +
        field('FORM_TYPE', 'hidden', NS.pushSummary) +
        field('message-count', 'text-single', '1') +
        field('pending-subscription-count', 'text-single', undefined) +
        field('last-message-sender', 'jid-single', sender) +
        field('last-message-body', 'text-single', bodyValue) +
        '</x>';
  const priority = reg.tigase && importance.important ? `<priority xmlns='${NS.tigasePriority}'>high</priority>` : '';
  const options = reg.publishOptions === undefined ? '' : `<publish-options>${storedElement(reg.publishOptions).toString(NS.pubsub)}</publish-options>`;
  return (
    `<pubsub xmlns='${NS.pubsub}'><publish node='${escapeAttr(reg.node)}'><item><notification xmlns='${NS.push}'>` +
    content +
    priority +
    `</notification></item></publish>${options}</pubsub>`
  );
}
