// Repository interfaces: what the rest of Herald knows about storage.
//
// They are synchronous on purpose: the embedded driver (better-sqlite3) is
// synchronous, and keeping routing free of awaits is what lets a stanza be
// stored, and the push trigger fired, in one uninterrupted step. A networked
// driver would run behind these interfaces in a worker.

export interface ScramKeys {
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface Credentials {
  salt: Buffer;
  iterations: number;
  sha1: ScramKeys;
  sha256: ScramKeys;
}

export interface AccountRecord extends Credentials {
  host: string;
  username: string;
  createdAt: number;
}

export interface AccountRepository {
  get(host: string, username: string): AccountRecord | undefined;
  exists(host: string, username: string): boolean;
  /** False when the account already exists. */
  create(host: string, username: string, creds: Credentials): boolean;
  setCredentials(host: string, username: string, creds: Credentials): boolean;
  /** Removes the account and everything stored for it. False when there was none. */
  delete(host: string, username: string): boolean;
  list(host: string): string[];
}

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  jid: string;
  name: string | null;
  subscription: Subscription;
  /** An outbound subscription request is pending (ask='subscribe'). */
  ask: boolean;
  groups: string[];
}

export interface PendingSubscription {
  contact: string;
  /** The subscribe stanza as received, so a status message survives. */
  stanza: string;
}

export interface RosterRepository {
  list(host: string, username: string): RosterItem[];
  get(host: string, username: string, contact: string): RosterItem | undefined;
  put(host: string, username: string, item: RosterItem): void;
  remove(host: string, username: string, contact: string): boolean;
  count(host: string, username: string): number;
  listPending(host: string, username: string): PendingSubscription[];
  addPending(host: string, username: string, contact: string, stanza: string): void;
  removePending(host: string, username: string, contact: string): boolean;
  hasPending(host: string, username: string, contact: string): boolean;
}

export interface OfflineMessage {
  id: number;
  stanza: string;
  /** Milliseconds since the epoch, when the server received it. */
  stamp: number;
}

export interface OfflineRepository {
  store(host: string, username: string, stanza: string, stamp: number): void;
  count(host: string, username: string): number;
  list(host: string, username: string): OfflineMessage[];
  delete(host: string, username: string, ids: number[]): void;
}

export interface SmTombstone {
  host: string;
  username: string;
  /** Stanzas the server had handled from the client when the session ended. */
  h: number;
}

export interface SmTombstoneRepository {
  put(id: string, t: SmTombstone): void;
  get(id: string): SmTombstone | undefined;
  /** Forgets tombstones older than the given time (ms since the epoch). */
  prune(before: number): void;
}

export interface ArchivedMessage {
  /** Position in the whole archive table: the order of everything archived. */
  seq: number;
  id: string;
  with: string;
  /** Milliseconds since the epoch. */
  stamp: number;
  direction: 'in' | 'out';
  stanza: string;
}

export interface ArchiveFilter {
  with?: string;
  start?: number;
  end?: number;
  /** Exclusive bounds on seq. */
  afterSeq?: number;
  beforeSeq?: number;
}

export type ArchiveMode = 'always' | 'never' | 'roster';

export interface ArchivePrefs {
  default: ArchiveMode;
  always: string[];
  never: string[];
}

export interface ArchiveRepository {
  /** A fresh archive id (XEP-0359 stanza-id) for the next message to append. */
  newId(): string;
  /** Whether newId() handed out this id in the current synchronous run: nothing stored before can refer to it. */
  mintedNow(id: string): boolean;
  append(host: string, username: string, m: Omit<ArchivedMessage, 'seq'>): void;
  seqOf(host: string, username: string, id: string): number | undefined;
  /** Up to `limit` matches, oldest first; or newest first when `newestFirst`. */
  query(host: string, username: string, filter: ArchiveFilter, limit: number, newestFirst: boolean): ArchivedMessage[];
  /** Deletes what was archived before the given time; returns how many. */
  prune(before: number): number;
  getPrefs(host: string, username: string): ArchivePrefs | undefined;
  setPrefs(host: string, username: string, prefs: ArchivePrefs): void;
}

export type AccessModel = 'open' | 'presence' | 'whitelist';

export interface PepNode {
  node: string;
  accessModel: AccessModel;
  maxItems: number;
}

export interface PepItem {
  id: string;
  /** The item's payload element, serialised. */
  payload: string;
  publishedAt: number;
}

export interface PepRepository {
  getNode(host: string, username: string, node: string): PepNode | undefined;
  putNode(host: string, username: string, node: PepNode): void;
  /** Removes the node and its items. */
  deleteNode(host: string, username: string, node: string): boolean;
  listNodes(host: string, username: string): PepNode[];
  /** Stores (or replaces) an item as the newest, then keeps only the newest `maxItems`. */
  publish(host: string, username: string, node: string, item: PepItem, maxItems: number): void;
  retract(host: string, username: string, node: string, id: string): boolean;
  /** Newest first. */
  items(host: string, username: string, node: string, limit: number): PepItem[];
  item(host: string, username: string, node: string, id: string): PepItem | undefined;
}

export interface PushRegistration {
  id: number;
  host: string;
  username: string;
  /** Which protocol created it: 'xep0357', 'webpush', ... */
  frontend: string;
  /** Where pushes go: an app server JID, a push service URL. */
  service: string;
  node: string;
  /** The resource that enabled it: its session's state decides some pushes. */
  resource: string | null;
  /** Front-end data (publish-options, keys, filters), as JSON. */
  options: string;
  createdAt: number;
  /** Consecutive permanent errors; a success resets it. */
  errorCount: number;
}

export type NewPushRegistration = Omit<PushRegistration, 'id' | 'createdAt' | 'errorCount'>;

export interface PushRegistrationRepository {
  /** Creates or replaces (same user, front-end, service and node); returns its id. */
  upsert(r: NewPushRegistration): number;
  get(id: number): PushRegistration | undefined;
  forUser(host: string, username: string, frontend?: string): PushRegistration[];
  /** Removes matching registrations (every node of the service when node is undefined); returns how many. */
  remove(host: string, username: string, frontend: string, service: string, node?: string): number;
  removeById(id: number): void;
  /** Returns the new count. */
  countError(id: number): number;
  resetErrors(id: number): void;
  countByFrontend(): Record<string, number>;
}

export type OutboxState = 'pending' | 'sent' | 'failed' | 'coalesced';

export interface OutboxEntry {
  id: number;
  registrationId: number;
  dedupKey: string;
  reason: string;
  important: boolean;
  priority: string;
  /** Coalesced with others of its registration due at the same time (hibernation batching). */
  batched: boolean;
  payload: string;
  state: OutboxState;
  attempts: number;
  createdAt: number;
  notBefore: number;
  lastError: string | null;
}

export type NewOutboxEntry = Pick<OutboxEntry, 'registrationId' | 'dedupKey' | 'reason' | 'important' | 'priority' | 'batched' | 'payload' | 'notBefore'>;

export interface PushOutboxRepository {
  /** Null when this registration already has an entry with this dedup key. */
  add(e: NewOutboxEntry): number | null;
  /** Whether this registration already has an entry with this dedup key. */
  has(registrationId: number, dedupKey: string): boolean;
  get(id: number): OutboxEntry | undefined;
  /** Pending entries due at `now`, oldest first, from after `afterId`. */
  due(now: number, limit: number, afterId?: number): OutboxEntry[];
  nextDue(): number | undefined;
  /** Applies outcomes; the caller runs it in a store transaction, so they are written together. */
  settle(updates: { id: number; state: OutboxState; attempts: number; notBefore: number; lastError: string | null }[]): void;
  pendingCount(): number;
  /** Registrations with pending entries whose last attempt failed with `condition`, and where each pushes to. */
  waitingOn(condition: string): { registrationId: number; service: string }[];
  /** Makes those of their pending entries that last failed with `condition` due at `now`. */
  expedite(registrationIds: number[], condition: string, now: number): number;
  /** Forgets settled entries older than the time given (they served deduplication). */
  prune(before: number): number;
}

export interface ServerKeyRepository {
  get(name: string): Buffer | undefined;
  /** Stores a key unless one exists under that name; returns the key in force. */
  getOrCreate(name: string, create: () => Buffer): Buffer;
  set(name: string, value: Buffer): void;
}

export interface UpMessage {
  id: number;
  tokenId: string;
  host: string;
  username: string;
  /** The distributor's full JID. */
  jid: string;
  instance: string;
  application: string;
  topic: string | null;
  urgency: string;
  body: Buffer;
  createdAt: number;
  expiresAt: number;
}

export interface UnifiedPushRepository {
  isRevoked(tokenId: string): boolean;
  revoke(tokenId: string, expiresAt: number): void;
  /** Stores a message; one with the same token and topic is replaced. Returns its id. */
  store(m: Omit<UpMessage, 'id'>): number;
  /** Unexpired messages for a distributor, oldest first. */
  pendingFor(jid: string, now: number): UpMessage[];
  delete(id: number): void;
  deleteForToken(tokenId: string): number;
  /** Removes expired messages and revocations; returns how many messages expired. */
  expire(now: number): number;
  /** Whether unexpired messages wait for a distributor (without reading them). */
  hasPending(jid: string, now: number): boolean;
}

export interface Store {
  readonly accounts: AccountRepository;
  readonly roster: RosterRepository;
  readonly offline: OfflineRepository;
  readonly smTombstones: SmTombstoneRepository;
  readonly archive: ArchiveRepository;
  readonly pep: PepRepository;
  readonly pushRegistrations: PushRegistrationRepository;
  readonly pushOutbox: PushOutboxRepository;
  readonly serverKeys: ServerKeyRepository;
  readonly unifiedPush: UnifiedPushRepository;
  /**
   * Runs fn atomically; nested calls join the outer transaction. Under group
   * commit the work is durable only once whenDurable says so.
   */
  transaction<T>(fn: () => T): T;
  /**
   * Calls back, never synchronously, once everything written so far is
   * committed (true) or was rolled back by a failed commit (false). Called
   * from a commit's own waiter, outside any transaction, it answers at once:
   * what that waiter writes vouches only for the commit it waited for.
   */
  whenDurable(cb: (ok: boolean) => void): void;
  /**
   * Like whenDurable, for the transaction that just ended: false also when
   * that transaction alone was rolled back at the commit. Only a storage
   * thread fails a transaction that late (failsLate); otherwise its failure
   * was thrown from transaction() already.
   */
  whenCommitted(cb: (ok: boolean) => void): void;
  readonly failsLate: boolean;
  /**
   * Called between pieces of input: the store may finish or begin a commit
   * now instead of when the turn ends, so output waiting on one leaves sooner.
   */
  progress(): void;
  /**
   * How many times the store has noticed that another connection (the herald
   * CLI) committed; it changes when there may be rows this process did not
   * write. Seen at the latest about a second after the other commit.
   */
  otherWrites(): number;
  close(): void;
}
