import { activityModule } from '../core/activity.js';
import type { HeraldModule } from '../core/context.js';
import { pushTriggerModule } from '../core/push-trigger.js';
import { streamManagementModule } from '../core/stream-management.js';
import { pushPipelineModule } from '../push/pipeline.js';
import { unifiedPushModule } from '../push/unifiedpush/provider.js';
import { capsModule } from './caps.js';
import { carbonsModule } from './carbons.js';
import { csiModule } from './csi.js';
import { discoModule } from './disco.js';
import { mamModule } from './mam.js';
import { messageModule } from './message.js';
import { offlineModule } from './offline.js';
import { pepModule } from './pep.js';
import { pingVersionModule } from './ping-version.js';
import { presenceModule } from './presence.js';
import { registerModule } from './register.js';
import { rosterModule } from './roster.js';

/** Every module, in load order. */
export const MODULES: HeraldModule[] = [
  streamManagementModule,
  pushTriggerModule,
  activityModule,
  discoModule,
  pingVersionModule,
  rosterModule,
  presenceModule,
  messageModule,
  carbonsModule,
  mamModule,
  csiModule,
  capsModule,
  pepModule,
  pushPipelineModule,
  unifiedPushModule,
  offlineModule,
  registerModule,
];
