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
  store(host: string, username: string, stanza: string, stamp: number): number;
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

export interface Store {
  readonly accounts: AccountRepository;
  readonly roster: RosterRepository;
  readonly offline: OfflineRepository;
  readonly smTombstones: SmTombstoneRepository;
  readonly archive: ArchiveRepository;
  readonly pep: PepRepository;
  /** Runs fn atomically; nested calls join the outer transaction. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
