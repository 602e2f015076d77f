/**
 * How fast is this machine right now? On a shared VM the same build has
 * taken from 90 to 210 µs of CPU per push within one day, with the other
 * processes and steal both near zero: the host's other tenants slow the cores
 * down. A push figure means little without the machine's speed beside it, so
 * the bench times a fixed workload of the two things a push costs most,
 * parsing XML in JavaScript (saxes, as Herald does) and writing indexed rows
 * with SQLite, and prints it with the result. Run it while the server is idle:
 * it measures the machine, not the server.
 */
import Database from 'better-sqlite3';
import { SaxesParser } from 'saxes';

const STANZAS = Array.from(
  { length: 100 },
  (_, i) =>
    `<message xmlns='jabber:client' to='user${i}@localhost' from='sender@localhost/r' type='chat' id='m${i}'>` +
    `<body>message number ${i} with a body of ordinary length for a chat</body><request xmlns='urn:xmpp:receipts'/></message>`,
).join('');
const ROW = 'x'.repeat(300);

function parseRound(): number {
  let tags = 0;
  const sax = new SaxesParser({ xmlns: true, position: true });
  sax.on('opentag', () => tags++);
  sax.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  for (let i = 0; i < 20; i++) sax.write(STANZAS);
  return tags;
}

function writeRound(): number {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, owner TEXT NOT NULL, body TEXT NOT NULL); CREATE INDEX t_owner ON t (owner, seq)');
  const insert = db.prepare('INSERT INTO t (owner, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 20_000; i++) insert.run(`user${i % 100}`, ROW);
  })();
  db.close();
  return 20_000;
}

/** Milliseconds the fixed workload took, the best of five (lower is a faster machine). */
export function calibrate(): number {
  let best = Infinity;
  for (let trial = 0; trial < 5; trial++) {
    const t0 = performance.now();
    if (parseRound() === 0 || writeRound() === 0) throw new Error('calibration workload did nothing');
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best * 10) / 10;
}
