/**
 * Creates bench accounts straight in a Herald SQLite store, much faster than
 * one `herald adduser` process per account:
 *
 *   node --import tsx bench/lib/create-users.ts DATA_FILE DOMAIN PREFIX COUNT PASSWORD
 *
 * creates PREFIX1 .. PREFIXCOUNT @DOMAIN (each with its own salt, 4096 SCRAM
 * iterations, Herald's default). Run it while Herald is stopped, or before it starts.
 */
import { deriveCredentials } from '../../src/auth/credentials.js';
import { SqliteStore } from '../../src/storage/sqlite/store.js';

const [file, domain, prefix, countArg, password] = process.argv.slice(2);
const count = Number(countArg);
if (file === undefined || domain === undefined || prefix === undefined || password === undefined || !Number.isInteger(count) || count < 1) {
  console.error('usage: create-users.ts DATA_FILE DOMAIN PREFIX COUNT PASSWORD');
  process.exit(2);
}

const creds = await Promise.all(Array.from({ length: count }, () => deriveCredentials(password, 4096)));
const store = new SqliteStore(file);
let created = 0;
try {
  store.transaction(() => {
    creds.forEach((c, i) => {
      if (store.accounts.create(domain, `${prefix}${i + 1}`, c)) created++;
    });
  });
} finally {
  store.close();
}
console.log(`created ${created} of ${count} accounts ${prefix}1..${prefix}${count}@${domain} in ${file}`);
