import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The worker's whole program: its own connection, a passive checkpoint every interval.
const PROGRAM = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    parentPort.postMessage(String(e && e.message || e));
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Moves the write-ahead log into the database from a worker thread with its
 * own connection: a checkpoint's fsyncs take milliseconds, and on the main
 * thread they stalled whatever stanza was being routed (docs/PERFORMANCE.md).
 * SQLite lets one connection checkpoint while another writes.
 */
export class Checkpointer {
  private readonly worker: Worker;

  constructor(path: string, intervalMs: number, onError: (message: string) => void) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(PROGRAM, { eval: true, workerData: { path, intervalMs, module } });
    this.worker.on('message', (m: unknown) => onError(String(m)));
    this.worker.on('error', (e) => onError(e.message));
    this.worker.unref();
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
    await this.worker.terminate();
  }
}
