// Encrypted Web Push payloads per second on one core (RFC 8291: one ephemeral
// P-256 key, one ECDH, HKDF, AES-GCM), beside OpenSSL's own ECDH P-256 speed
// on the same machine: an RFC 8291 message needs two P-256 scalar
// multiplications, so half of OpenSSL's ECDH rate is the physical limit.
//
//   node --import tsx bench/webpush-crypto.ts [--seconds 5] [--bytes 3000]
//
// Run it pinned to one core (taskset -c 1) on a quiet machine: each line says how
// much CPU other processes used meanwhile (% of one core).
import { execFileSync } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { VapidSigner, generateVapidKey } from '../src/push/crypto/vapid.js';
import { encryptWebPush } from '../src/push/crypto/webpush.js';
import { readMachineBusySeconds } from './lib/stats.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, bytes: { type: 'string', default: '3000' } } });
const seconds = Number(values.seconds);
const ua = createECDH('prime256v1');
ua.generateKeys();
const keys = { p256dh: ua.getPublicKey(), auth: randomBytes(16) };
const payload = randomBytes(Number(values.bytes));

const others: number[] = [];
/** CPU other processes used while `busyHere` seconds of CPU were ours, over `wall` seconds, in % of one core. */
function other(machine0: number, wall: number, busyHere: number): number {
  const pct = Math.max(0, Math.round(((readMachineBusySeconds() - machine0 - busyHere) / wall) * 100));
  others.push(pct);
  return pct;
}

function rate(label: string, fn: () => void): number {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  let n = 0;
  const machine0 = readMachineBusySeconds();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const per = n / wall;
  const others = other(machine0, wall, (cpu.user + cpu.system) / 1e6);
  console.log(`${label.padEnd(44)} ${Math.round(per).toString().padStart(8)} /s  (${(1e6 / per).toFixed(1)} µs each; other processes ${others}%)`);
  return per;
}

const encrypt = rate(`RFC 8291 encrypt, ${payload.length}-byte payload`, () => encryptWebPush(payload, keys));
const signer = new VapidSigner(generateVapidKey(), 'mailto:bench@herald.test');
let i = 0;
rate('VAPID header, a new origin each time (sign)', () => signer.authorization(`https://push${i++}.example/x`));
rate('VAPID header, cached per origin', () => signer.authorization('https://push.example/x'));

let opensslEcdh: number | undefined;
let opensslOther: number | undefined;
try {
  const machine0 = readMachineBusySeconds();
  const t0 = process.hrtime.bigint();
  const out = execFileSync('openssl', ['speed', '-seconds', String(Math.max(1, Math.round(seconds / 2))), 'ecdhp256'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = /256 bits ecdh \(nistp256\)\s+[\d.]+s\s+([\d.]+)/.exec(out);
  if (m) opensslEcdh = Number(m[1]);
  // openssl keeps its one core busy the whole time
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  opensslOther = other(machine0, wall, wall);
} catch {
  /* openssl not installed */
}
if (opensslEcdh !== undefined) {
  const limit = opensslEcdh / 2;
  console.log(`openssl speed ecdhp256 (one core)               ${Math.round(opensslEcdh).toString().padStart(8)} op/s  (other processes ${opensslOther}%)`);
  console.log(`physical limit (two scalar multiplications)     ${Math.round(limit).toString().padStart(8)} /s`);
  console.log(`Herald encrypt / limit                          ${(encrypt / limit).toFixed(2)} (target: within 2x, i.e. >= 0.50)`);
}
if (Math.max(...others) > 10) console.log('WARNING: the machine was not quiet (other processes over 10% of a core); figures are disturbed');
console.log(
  JSON.stringify({
    encrypt_per_s: Math.round(encrypt),
    openssl_ecdh_per_s: opensslEcdh,
    ratio_to_limit: opensslEcdh ? encrypt / (opensslEcdh / 2) : null,
    other_cpu_pct_max: Math.max(...others),
  }),
);
