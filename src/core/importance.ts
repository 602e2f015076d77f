import type { Element } from '../xml/element.js';
import { NS } from '../xml/namespaces.js';

export type PushPriority = 'high' | 'normal' | 'low';

export interface ImportanceVerdict {
  important: boolean;
  priority: PushPriority;
  /** Why, in a word or two: for logs, metrics and tests. */
  reason: string;
}

const verdict = (important: boolean, priority: PushPriority, reason: string): ImportanceVerdict => ({ important, priority, reason });

const ENCRYPTED: [string, string][] = [
  ['encrypted', NS.omemoLegacy],
  ['encrypted', NS.omemo1],
  ['encrypted', NS.omemo2],
  ['x', NS.pgpLegacy],
  ['openpgp', NS.openpgp],
];

/**
 * The one importance classifier: CSI decides with it what may wait while a
 * client is inactive, and every push protocol decides with it whether a
 * stanza is worth waking a device, and how urgently.
 *
 * Important: a non-empty body, an encrypted payload (OMEMO legacy/1/2,
 * XEP-0027, XEP-0373), a call proposal or retraction (high priority), a
 * groupchat subject, a MUC invite. Not important: chat states, receipts and
 * markers on their own, corrections, presence, IQs, headlines, errors, and
 * one's own outgoing carbons. A received carbon is judged by the message it
 * carries.
 */
export function classify(stanza: Element): ImportanceVerdict {
  if (stanza.name === 'presence') return verdict(false, 'low', 'presence');
  if (stanza.name === 'iq') return verdict(false, 'low', 'iq');
  if (stanza.name !== 'message') return verdict(false, 'low', 'not a stanza');

  const carbon = stanza.getChild('sent', NS.carbons) ?? stanza.getChild('received', NS.carbons);
  if (carbon) {
    if (carbon.name === 'sent') return verdict(false, 'low', 'own outgoing carbon');
    const inner = carbon.getChild('forwarded', NS.forward)?.getChild('message');
    return inner ? classify(inner) : verdict(false, 'low', 'empty carbon');
  }

  const type = stanza.attrs.type ?? 'normal';
  if (type === 'error') return verdict(false, 'low', 'error');
  if (type === 'headline') return verdict(false, 'low', 'headline');

  for (const ns of [NS.jmi, NS.jmi1]) {
    if (stanza.getChild('propose', ns)) return verdict(true, 'high', 'call proposal');
    if (stanza.getChild('retract', ns)) return verdict(true, 'high', 'call retraction');
  }
  for (const [name, ns] of ENCRYPTED) {
    if (stanza.getChild(name, ns)) return verdict(true, 'normal', 'encrypted');
  }
  // A correction re-sends a body the user was already told about.
  if (stanza.getChild('replace', NS.correction)) return verdict(false, 'low', 'correction');
  const body = stanza.getChildText('body', NS.client);
  if (body !== undefined && body.trim() !== '') return verdict(true, 'normal', 'body');
  if (type === 'groupchat' && stanza.getChild('subject', NS.client)) return verdict(true, 'normal', 'groupchat subject');
  if (stanza.getChild('x', NS.conference) || stanza.getChild('x', NS.mucUser)?.getChild('invite')) return verdict(true, 'normal', 'invite');
  if (stanza.getChildByNs(NS.chatStates)) return verdict(false, 'low', 'chat state');
  if (stanza.getChildByNs(NS.receipts) || stanza.getChildByNs(NS.markers)) return verdict(false, 'low', 'receipt or marker');
  return verdict(false, 'low', 'no payload');
}
