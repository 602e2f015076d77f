import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';

/**
 * The storage thread's program: the only connection that touches the
 * database while the server runs. It runs what the main thread describes, in
 * order; a read or a result the main thread waits for is answered on the
 * reply port and signalled through the shared flag (the main thread is
 * blocked in Atomics.wait, so its event loop cannot hear a message).
 */
const PROGRAM = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
for (const p of workerData.pragmas) db.pragma(p);
const { reply, events, flag } = workerData;
const statements = new Map();
// Another connection (the herald CLI) committed: the main thread's memos may be stale. Checked
// here at each BEGIN and told afterwards, so the main thread never waits for the answer.
const dataVersion = db.prepare('PRAGMA data_version').pluck();
let lastDataVersion = dataVersion.get();
function checkDataVersion() {
  const v = dataVersion.get();
  if (v !== lastDataVersion) { lastDataVersion = v; events.postMessage({ otherWriter: true }); }
}
// And once a second while no transaction is open, so an idle server hears of it too.
setInterval(() => { if (db.open && !db.inTransaction) checkDataVersion(); }, 1000).unref();
const results = new Map();
let failed = null;
let lastCommitOk = true;
// Each top-level savepoint of a turn is one transaction of the main thread (a chunk of
// input, a piece of background work). A statement that fails inside one rolls back that
// one alone; the rest of the turn commits, and the main thread hears which failed.
let depth = 0;
let tx = 0;
let skipping = false;
let txFailures = [];
let lastTxFailures = [];
const message = (e) => String((e && e.message) || e);
const answer = (m) => { reply.postMessage(m); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); };
const report = (e) => events.postMessage({ commitFailed: message(e) });
function exec(sql) {
  if (sql === 'BEGIN') {
    db.exec('BEGIN');
    checkDataVersion();
    failed = null;
    depth = 0;
    tx = 0;
    skipping = false;
    txFailures = [];
    return;
  }
  if (sql === 'COMMIT' || sql === 'ROLLBACK') {
    let ok = sql === 'COMMIT' && !failed;
    if (ok) {
      try { db.exec('COMMIT'); } catch (e) { ok = false; failed = e; }
    }
    if (db.inTransaction) db.exec('ROLLBACK');
    if (sql === 'COMMIT' && !ok) report(failed);
    lastCommitOk = ok;
    lastTxFailures = txFailures;
    txFailures = [];
    failed = null;
    results.clear();
    return;
  }
  if (sql.startsWith('SAVEPOINT ')) {
    if (depth === 0) tx++;
    depth++;
    if (!skipping && !failed) db.exec(sql);
    return;
  }
  if (sql.startsWith('RELEASE ')) {
    depth--;
    if (skipping) {
      if (depth === 0) {
        db.exec('ROLLBACK TO s0');
        db.exec('RELEASE s0');
        skipping = false;
      }
      return;
    }
    if (!failed) db.exec(sql);
    return;
  }
  if (!failed && !skipping) db.exec(sql);
}
function run(id, args, seq) {
  if (failed || skipping) return;
  try {
    // Kept as better-sqlite3 made it; lastInsertRowid is made a number when asked for.
    results.set(seq, statement(id).run(...args));
  } catch (e) {
    // Nobody waits for this write: the transaction that carried it must not be reported durable.
    if (depth > 0) {
      skipping = true;
      txFailures.push([tx, message(e)]);
    } else if (db.inTransaction) failed = e;
    else report(e);
  }
}
function read(op) {
  if (failed) throw failed;
  if (op[0] === 'get') return statement(op[1]).get(...op[2]);
  if (op[0] === 'all') return statement(op[1]).all(...op[2]);
  if (op[0] === 'pragma') return db.pragma(op[1]);
  if (op[0] === 'result') { const r = results.get(op[1]); return r && { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) }; }
  db.close(); // the store has checkpointed just before (SqliteStore.close)
  return true;
}
// A statement that cannot be prepared yet (its table is being changed by another
// connection) is prepared again when it is used; the error then goes to whoever used it,
// instead of killing this thread and leaving the main thread waiting for an answer.
function prepare(id, sql, pluck) {
  try {
    const st = db.prepare(sql);
    statements.set(id, pluck ? st.pluck() : st);
  } catch (e) {
    statements.set(id, { unprepared: true, sql, pluck });
  }
}
function statement(id) {
  const st = statements.get(id);
  if (!st.unprepared) return st;
  const fresh = db.prepare(st.sql);
  const ready = st.pluck ? fresh.pluck() : fresh;
  statements.set(id, ready);
  return ready;
}
// Buffer's own utf8Slice is the fastest way from bytes to a string here (about twice
// TextDecoder's speed on the short strings most writes carry); toString is its documented twin.
const utf8 = typeof Buffer.prototype.utf8Slice === 'function' ? (b, s, e) => b.utf8Slice(s, e) : (b, s, e) => b.toString('utf8', s, e);
/** Runs a batch of operations as it reads them: no list of them is built first. */
function runBatch(ab, len) {
  const bytes = Buffer.from(ab, 0, len);
  const view = new DataView(ab);
  let pos = 0;
  const u32 = () => { const v = view.getUint32(pos); pos += 4; return v; };
  const str = () => { const n = u32(); const v = utf8(bytes, pos, pos + n); pos += n; return v; };
  const value = () => {
    const t = bytes[pos++];
    if (t === 0) return null;
    if (t === 1) { const v = view.getFloat64(pos); pos += 8; return v; }
    if (t === 2) return str();
    if (t === 3) { const n = u32(); const v = Buffer.from(bytes.subarray(pos, pos + n)); pos += n; return v; }
    return JSON.parse(str());
  };
  while (pos < len) {
    const tag = bytes[pos++];
    if (tag === 1) { const id = u32(); const sql = str(); prepare(id, sql, bytes[pos++] === 1); }
    else if (tag === 2) { const id = u32(); const seq = u32(); const n = bytes[pos++]; const args = new Array(n); for (let i = 0; i < n; i++) args[i] = value(); run(id, args, seq); }
    else if (tag === 3) execOp(str());
    else durable(u32());
  }
}
function execOp(sql) {
  try { exec(sql); } catch (e) { if (db.inTransaction) failed = failed || e; else report(e); }
}
function durable(turn) {
  events.postMessage({ durable: turn, ok: lastCommitOk, failedTx: lastTxFailures });
}
// Writes come as bytes; a read (or close) comes alone, as an array, and is answered.
parentPort.on('message', (m) => {
  if (m.bin) return runBatch(m.bin, m.len);
  for (const op of m) {
    try { answer({ value: read(op) }); } catch (e) { answer({ error: message(e) }); }
  }
});
`;

type Op = unknown[];

/** What the storage thread tells unasked, on the events port. */
interface WorkerEvent {
  durable?: number;
  ok?: boolean;
  failedTx?: [number, string][];
  commitFailed?: string;
  otherWriter?: true;
}

/** What the store hears from its storage thread besides answers. */
export interface RemoteHooks {
  /** A commit or a write nobody waited for failed. */
  onCommitFailure(message: string): void;
  /** Another connection committed; heard a little after the transaction (or the idle second) that saw it, so a memo can be stale for that long. */
  onOtherWriter(): void;
  /** The storage thread is gone (see RemoteDatabase.gone). */
  onLost(message: string): void;
}

/**
 * Queued writes past this many bytes go to the storage thread at once: about 40 pushes, a few
 * milliseconds of the main thread's work. At 16 KB the posts alone took 5% of the main thread.
 */
const STREAM_BYTES = 64 * 1024;

/** A batch's buffer to begin with: room for a flush's worth and, mostly, the op that crossed the line. */
const BUFFER_BYTES = STREAM_BYTES + 16 * 1024;

/** How long a read may wait for the storage thread. */
const CALL_TIMEOUT_MS = 30_000;

/** Strings up to this long are copied by hand when they are ASCII (see OpWriter.str). */
const SHORT_STRING = 64;

/** A structured clone turns a row's Buffers into plain Uint8Arrays; the repositories expect Buffers. */
function asBuffers(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(asBuffers);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) if (o[k] instanceof Uint8Array) o[k] = asBuffers(o[k]);
  }
  return v;
}

/**
 * The operations nobody waits for, written as bytes into a buffer that is
 * transferred, not copied, to the storage thread: a structured clone of
 * arrays of strings cost the main thread more than the SQLite work it saved.
 */
class OpWriter {
  private buf = OpWriter.fresh(BUFFER_BYTES);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  /** A Buffer over an ArrayBuffer of its own (never Node's shared pool), so it can be transferred. */
  private static fresh(size: number): Buffer {
    return Buffer.from(new ArrayBuffer(size));
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = OpWriter.fresh(size);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  /**
   * Most strings written are short and ASCII (host, user, JIDs, ids): copying their
   * code units in a loop is about twice as fast as a call into the encoder, which
   * also wanted a subarray allocated per string. The rest are written in place.
   */
  str(s: string): void {
    const n = s.length;
    this.room(4 + n * 3);
    const buf = this.buf;
    const at = this.pos + 4;
    if (n <= SHORT_STRING) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[at + i] = c;
      }
      if (i === n) {
        this.view.setUint32(this.pos, n);
        this.pos = at + n;
        return;
      }
    }
    const written = buf.write(s, at);
    this.view.setUint32(this.pos, written);
    this.pos = at + written;
  }

  value(v: unknown): void {
    if (v === null || v === undefined) return this.u8(0);
    if (typeof v === 'number') {
      this.u8(1);
      this.room(8);
      this.view.setFloat64(this.pos, v);
      this.pos += 8;
      return;
    }
    if (typeof v === 'string') {
      this.u8(2);
      return this.str(v);
    }
    if (v instanceof Uint8Array) {
      this.u8(3);
      this.u32(v.length);
      this.room(v.length);
      this.buf.set(v, this.pos);
      this.pos += v.length;
      return;
    }
    this.u8(4);
    this.str(JSON.stringify(v));
  }

  /** Hands over the bytes written so far; the next batch starts in a fresh buffer. */
  take(): { bin: ArrayBuffer; len: number } {
    const out = { bin: this.buf.buffer as ArrayBuffer, len: this.pos };
    this.buf = OpWriter.fresh(BUFFER_BYTES);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    return out;
  }
}

/** What better-sqlite3's run() returns; read lazily, since reading it means waiting for the storage thread. */
interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number;
}

/** A class, not an object literal with getters: this is built for every write, and literals with accessors are slow to make. */
class LazyRunResult implements RunResult {
  private r: RunResult | undefined;

  constructor(
    private readonly db: RemoteDatabase,
    private readonly seq: number,
  ) {}

  private get result(): RunResult {
    return (this.r ??= this.db.call(['result', this.seq]) as RunResult);
  }

  get changes(): number {
    return this.result.changes;
  }

  get lastInsertRowid(): number {
    return this.result.lastInsertRowid;
  }
}

export class RemoteStatement {
  private plucked = false;
  private prepared = false;

  constructor(
    private readonly db: RemoteDatabase,
    private readonly id: number,
    private readonly sql: string,
  ) {}

  pluck(): this {
    this.plucked = true;
    return this;
  }

  private ensure(): void {
    if (this.prepared) return;
    this.prepared = true;
    this.db.post(['prep', this.id, this.sql, this.plucked]);
  }

  run(...args: unknown[]): RunResult {
    this.ensure();
    const seq = this.db.nextSeq();
    this.db.postRun(this.id, args, seq);
    return new LazyRunResult(this.db, seq);
  }

  get(...args: unknown[]): unknown {
    this.ensure();
    return this.db.call(['get', this.id, args]);
  }

  all(...args: unknown[]): unknown[] {
    this.ensure();
    return this.db.call(['all', this.id, args]) as unknown[];
  }
}

/**
 * Stands in for a better-sqlite3 Database on the main thread: writes are
 * described and posted to the storage thread, reads wait for its answer.
 * Failures of posted writes surface at the turn's commit, per
 * top-level savepoint (one transaction of the main thread).
 */
export class RemoteDatabase {
  private readonly worker: Worker;
  private readonly replies: MessagePort;
  /** Commits answered and the rest the storage thread tells unasked (WorkerEvent); drained synchronously by drain(). */
  private readonly events: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly ops = new OpWriter();
  private statements = 0;
  private seq = 0;
  private depth = 0;
  private explicit = false;
  private turn = 0;
  private readonly durableWaiters = new Map<number, (ok: boolean, failedTx: [number, string][]) => void>();
  open = true;
  /** Why the storage thread is gone, once it is: nothing can be stored any more. */
  lost: string | null = null;

  constructor(path: string, pragmas: readonly string[], private readonly hooks: RemoteHooks) {
    const replies = new MessageChannel();
    const events = new MessageChannel();
    this.replies = replies.port1;
    this.events = events.port1;
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(PROGRAM, {
      eval: true,
      workerData: { path, pragmas, module, reply: replies.port2, events: events.port2, flag: this.flag },
      transferList: [replies.port2, events.port2],
    });
    this.events.on('message', (m: WorkerEvent) => this.hear(m));
    // The worker keeps the process alive while it runs; its events port need not.
    this.events.unref();
    this.worker.on('error', (e) => this.gone(`the storage thread failed: ${e.message}`));
    this.worker.on('exit', (code) => this.open && this.gone(`the storage thread exited (code ${code})`));
  }

  private hear(m: WorkerEvent): void {
    if (m.otherWriter) this.hooks.onOtherWriter();
    if (m.commitFailed !== undefined) this.hooks.onCommitFailure(m.commitFailed);
    if (m.durable === undefined) return;
    const cb = this.durableWaiters.get(m.durable);
    this.durableWaiters.delete(m.durable);
    cb?.(m.ok === true, m.failedTx ?? []);
  }

  /**
   * Hears now what the storage thread has said (a commit is on disk), without
   * waiting for the event loop: a long turn that reads many connections can
   * then let out what an early commit made durable while it reads on.
   */
  drain(): void {
    if (this.lost !== null) return; // its events port is closed
    for (let m = receiveMessageOnPort(this.events); m; m = receiveMessageOnPort(this.events)) this.hear(m.message as WorkerEvent);
  }

  /**
   * The storage thread died (a bug, or memory): every commit it had not answered
   * is reported failed, so nothing waiting on one is acknowledged, and reads fail
   * at once instead of after the call timeout.
   */
  private gone(message: string): void {
    if (this.lost !== null) return;
    this.drain(); // commits it answered before it went are on disk
    this.lost = message;
    const waiting = [...this.durableWaiters.values()];
    this.durableWaiters.clear();
    this.events.close();
    for (const cb of waiting) cb(false, []);
    this.hooks.onLost(message);
  }

  nextSeq(): number {
    return ++this.seq;
  }

  post(op: Op): void {
    this.encode(op);
    this.streamOn();
  }

  /** A write, encoded straight from its arguments (the commonest operation by far). */
  postRun(statement: number, args: unknown[], seq: number): void {
    const w = this.ops;
    w.u8(2);
    w.u32(statement);
    w.u32(seq);
    w.u8(args.length);
    for (const a of args) w.value(a);
    this.streamOn();
  }

  /**
   * Sent on in pieces, not only at the end of the turn: the storage thread then writes the
   * first stanzas of a burst while this thread still parses the rest, instead of idling until
   * the turn ends and leaving this thread to idle while it catches up.
   */
  private streamOn(): void {
    if (this.ops.pos >= STREAM_BYTES) this.flush();
  }

  private encode(op: Op): void {
    const w = this.ops;
    switch (op[0]) {
      case 'prep':
        w.u8(1);
        w.u32(op[1] as number);
        w.str(op[2] as string);
        w.u8(op[3] ? 1 : 0);
        return;
      case 'exec':
        w.u8(3);
        w.str(op[1] as string);
        return;
      default:
        w.u8(4);
        w.u32(op[1] as number);
    }
  }

  /** Sends what is waiting; nothing is answered. */
  flush(): void {
    if (this.ops.pos === 0) return;
    if (this.lost !== null) {
      this.ops.pos = 0; // nobody is there to write it
      return;
    }
    const batch = this.ops.take();
    this.worker.postMessage(batch, [batch.bin]);
  }

  /** Sends what is waiting plus one request, and blocks until the storage thread answers it. */
  call(op: Op): unknown {
    if (this.lost !== null) throw new Error(this.lost);
    Atomics.store(this.flag, 0, 0);
    this.flush();
    this.worker.postMessage([op]);
    // Bounded: a storage thread that died must not hang the server.
    const answered = Atomics.wait(this.flag, 0, 0, CALL_TIMEOUT_MS) !== 'timed-out';
    const m = answered ? (receiveMessageOnPort(this.replies)?.message as { value?: unknown; error?: string } | undefined) : undefined;
    if (!m) throw new Error('the storage thread did not answer');
    if (m.error !== undefined) throw new Error(m.error);
    return asBuffers(m.value);
  }

  prepare(sql: string): RemoteStatement {
    return new RemoteStatement(this, ++this.statements, sql);
  }

  exec(sql: string): void {
    if (sql === 'BEGIN') this.explicit = true;
    else if (sql === 'COMMIT' || sql === 'ROLLBACK') this.explicit = false;
    this.post(['exec', sql]);
  }

  pragma(sql: string): unknown {
    return this.call(['pragma', sql]);
  }

  get inTransaction(): boolean {
    return this.explicit || this.depth > 0;
  }

  /** better-sqlite3's transaction(): BEGIN/COMMIT at the top, savepoints inside. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      const nested = this.inTransaction;
      const name = `s${this.depth}`;
      this.exec(nested ? `SAVEPOINT ${name}` : 'BEGIN');
      if (!nested) this.explicit = false;
      this.depth++;
      try {
        const r = fn(...args);
        this.depth--;
        if (nested) this.post(['exec', `RELEASE ${name}`]);
        else this.post(['exec', 'COMMIT']);
        return r;
      } catch (e) {
        this.depth--;
        if (nested) {
          this.post(['exec', `ROLLBACK TO ${name}`]);
          this.post(['exec', `RELEASE ${name}`]);
        } else this.post(['exec', 'ROLLBACK']);
        throw e;
      }
    };
  }

  /**
   * Commits the open transaction; cb hears whether it is on disk, and which of
   * its top-level savepoints (numbered from 1 in the order they began) failed
   * and were rolled back alone.
   */
  commit(cb: (ok: boolean, failedTx: [number, string][]) => void): void {
    this.exec('COMMIT');
    if (this.lost !== null) {
      process.nextTick(cb, false, []);
      return;
    }
    const turn = ++this.turn;
    this.durableWaiters.set(turn, cb);
    this.post(['durable', turn]);
    this.flush();
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.lost === null) {
      this.call(['close']);
      this.drain(); // the last commit's answer: whoever waits for it hears it
      this.events.close();
    }
    void this.worker.terminate();
  }
}
