/**
 * What would a storage thread save the main thread? The writes one live push
 * makes (two archive rows, an offline row, an outbox row and its settle), on
 * the real schema in WAL mode, in commits of --batch pushes, done two ways:
 *
 *   inline:  on the main thread, as Herald does now;
 *   offload: the main thread only describes them and posts each batch to a
 *            worker thread, which runs them with its own connection.
 *
 *   node --import tsx bench/storage-offload.ts [--pushes 20000] [--batch 50] [--dir /tmp]
 *
 * Prints the time each thread spends per push, so the saving is measured
 * rather than guessed, and what a fence costs (the main thread waiting until
 * the storage thread has committed everything, as a read of just-written data
 * would have to). Node 20 has no per-thread CPU clock, so each figure is
 * the wall time of a thread's synchronous sections; on an otherwise idle
 * 2-core machine that is its CPU time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../src/storage/sqlite/store.js';
import type { NewOutboxEntry } from '../src/storage/types.js';
import { intArgs } from './lib/args.js';

/** One write, as the main thread would describe it to a storage thread. */
type Op =
  | ['archive', string, string, string, string, number, 'in' | 'out', string]
  | ['offline', string, string, string, number]
  | ['outbox', number]
  | ['settle', number];

const STANZA = (i: number): string =>
  `<message xmlns='jabber:client' to='user${i % 100}@localhost' type='chat' id='m${i}' from='sender${i % 10}@localhost/bench'><body>message number ${i} with a body of ordinary length for a chat</body><stanza-id xmlns='urn:xmpp:sid:0' by='user${i % 100}@localhost' id='${i}'/></message>`;

const outboxEntry = (regIds: number[], i: number): NewOutboxEntry => ({
  registrationId: regIds[i % regIds.length] as number,
  // Herald's key for an archived message: 'sid:' and the recipient's archive id, which starts with its seq.
  dedupKey: `sid:${(i + 1).toString(36)}-5f3a9c1e`,
  reason: 'offline',
  important: true,
  priority: 'high',
  batched: false,
  payload: `<pubsub payload ${i} of a realistic size, a few hundred bytes once the summary form is in it/>`,
  notBefore: Date.now(),
});
const sent = (id: number) => ({ id, state: 'sent' as const, attempts: 1, notBefore: 0, lastError: null });

function apply(store: SqliteStore, op: Op, regIds: number[]): void {
  switch (op[0]) {
    case 'archive':
      store.archive.append(op[1], op[2], { id: op[3], with: op[4], stamp: op[5], direction: op[6], stanza: op[7] });
      return;
    case 'offline':
      store.offline.store(op[1], op[2], op[3], op[4]);
      return;
    case 'outbox':
      store.pushOutbox.add(outboxEntry(regIds, op[1]));
      return;
    case 'settle':
      store.pushOutbox.settle([sent(op[1])]);
  }
}

/** The message's writes for push i: both archive rows and the offline row. */
function messageOps(store: SqliteStore, i: number): Op[] {
  const stanza = STANZA(i);
  const now = Date.now();
  return [
    ['archive', 'localhost', `sender${i % 10}`, store.archive.newId(), `user${i % 100}@localhost`, now, 'out', stanza],
    ['archive', 'localhost', `user${i % 100}`, store.archive.newId(), `sender${i % 10}@localhost`, now, 'in', stanza],
    ['offline', 'localhost', `user${i % 100}`, stanza, now],
  ];
}

function registrations(store: SqliteStore): number[] {
  return store.transaction(() =>
    Array.from({ length: 100 }, (_, u) =>
      store.pushRegistrations.upsert({ host: 'localhost', username: `user${u}`, frontend: 'xep0357', service: 'push.localhost', node: `n${u}`, resource: null, options: '{}' }),
    ),
  );
}

const msSince = (t: number): number => performance.now() - t;

if (!isMainThread) {
  const { file } = workerData as { file: string };
  const store = new SqliteStore(file);
  const regIds = registrations(store); // an upsert: the main thread's rows, same ids
  let busy = 0;
  parentPort?.postMessage('ready');
  parentPort?.on('message', (msg: { ops: Op[]; done: Int32Array } | 'report') => {
    if (msg === 'report') {
      parentPort?.postMessage(busy);
      return;
    }
    const t = performance.now();
    store.transaction(() => {
      for (const op of msg.ops) apply(store, op, regIds);
    });
    busy += msSince(t);
    Atomics.add(msg.done, 0, 1);
    Atomics.notify(msg.done, 0);
  });
} else {
  const { values } = parseArgs({ options: { pushes: { type: 'string', default: '20000' }, batch: { type: 'string', default: '50' }, dir: { type: 'string', default: tmpdir() } } });
  const int = intArgs('storage-offload');
  const pushes = int('pushes', values.pushes, 1);
  const batch = int('batch', values.batch, 1);
  const base = mkdtempSync(join(values.dir, 'herald-offload-'));
  try {
    // inline
    const inlineStore = new SqliteStore(join(base, 'inline.sqlite'));
    const regIds = registrations(inlineStore);
    let t = performance.now();
    for (let i = 0; i < pushes; i += batch) {
      inlineStore.transaction(() => {
        for (let j = i; j < Math.min(i + batch, pushes); j++) {
          for (const op of messageOps(inlineStore, j)) apply(inlineStore, op, regIds);
          // The outbox id is only known after the insert when the main thread writes itself.
          const id = inlineStore.pushOutbox.add(outboxEntry(regIds, j));
          inlineStore.pushOutbox.settle([sent(id ?? 0)]);
        }
      });
    }
    const inlineMain = msSince(t);
    inlineStore.close();

    // offload
    const file = join(base, 'offload.sqlite');
    const setup = new SqliteStore(file);
    registrations(setup);
    const client = new SqliteStore(file); // for newId only: the main thread's view
    setup.close();
    // A worker does not inherit --import tsx: it registers tsx itself, then loads this file.
    const boot = `import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(import.meta.url)}))`;
    const worker = new Worker(boot, { eval: true, workerData: { file } });
    // Loading the worker's modules needs this thread's event loop: wait for it before blocking in Atomics.wait.
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const done = new Int32Array(new SharedArrayBuffer(4));
    let posted = 0;
    let mainCpu = 0;
    const wall = performance.now();
    for (let i = 0; i < pushes; i += batch) {
      t = performance.now();
      const ops: Op[] = [];
      // Outbox ids handed out here, as a storage thread's client would: entry j is row j + 1.
      for (let j = i; j < Math.min(i + batch, pushes); j++) ops.push(...messageOps(client, j), ['outbox', j], ['settle', j + 1]);
      worker.postMessage({ ops, done });
      posted++;
      mainCpu += msSince(t);
      // Keep at most two batches in flight, as a turn-by-turn server would.
      while (posted - Atomics.load(done, 0) > 2) Atomics.wait(done, 0, Atomics.load(done, 0), 1000);
    }
    while (Atomics.load(done, 0) < posted) Atomics.wait(done, 0, Atomics.load(done, 0), 1000);
    const offloadWall = msSince(wall);
    // A read that must see everything written so far waits for the storage thread: the cost of that fence.
    const fenceUs: number[] = [];
    for (let k = 0; k < 2000; k++) {
      const f0 = performance.now();
      worker.postMessage({ ops: [], done });
      posted++;
      while (Atomics.load(done, 0) < posted) Atomics.wait(done, 0, Atomics.load(done, 0), 1000);
      fenceUs.push(msSince(f0) * 1000);
    }
    fenceUs.sort((a, b) => a - b);
    const fenceAt = (q: number): number => Number((fenceUs[Math.floor(q * (fenceUs.length - 1))] as number).toFixed(1));
    const workerCpu = await new Promise<number>((resolve) => {
      worker.once('message', resolve);
      worker.postMessage('report');
    });
    await worker.terminate();
    client.close();

    const per = (ms: number): string => ((ms * 1000) / pushes).toFixed(1);
    console.log(`pushes ${pushes}, ${batch} per commit, files in ${base}`);
    console.log(`inline:  main thread ${per(inlineMain)} µs per push`);
    console.log(`offload: main thread ${per(mainCpu)} µs per push, storage thread ${per(workerCpu)} µs (all of it: ${per(offloadWall)} µs per push)`);
    console.log(`fence:   p50 ${fenceAt(0.5)} µs, p99 ${fenceAt(0.99)} µs for the main thread to wait out an idle storage thread`);
    console.log(JSON.stringify({ label: 'storage-offload', pushes, batch, inline_main_us: Number(per(inlineMain)), offload_main_us: Number(per(mainCpu)), offload_worker_us: Number(per(workerCpu)), fence_p50_us: fenceAt(0.5), fence_p99_us: fenceAt(0.99) }));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
