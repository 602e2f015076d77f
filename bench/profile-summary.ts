/**
 * Where the time goes in a V8 CPU profile (node --cpu-prof): functions by
 * self time and by inclusive time (on the stack), as shares of the busy
 * samples (all but `(idle)`, so a server's idle start and end do not dilute
 * the figures; start-up work such as module loading stays in).
 *
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top 25] [--match REGEX]
 *
 * --match lists only functions whose "name file:line" matches (inclusive table).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, match: { type: 'string' } } });
const file = positionals[0];
if (file === undefined) {
  console.error('usage: profile-summary.ts FILE.cpuprofile [--top N] [--match REGEX]');
  process.exit(2);
}
const top = Number(values.top);
const match = values.match === undefined ? null : new RegExp(values.match);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const n of p.nodes) {
  byId.set(n.id, n);
  for (const c of n.children ?? []) parent.set(c, n.id);
}
const label = (n: ProfileNode): string => {
  const f = n.callFrame;
  // tsx's transpiled src/ has no useful line numbers; node_modules and node: internals do.
  const file = f.url.replace(/^.*\/(node_modules|src)\//, '$1/');
  const where = f.url === '' ? '' : file.startsWith('src/') ? ` ${file}` : ` ${file}:${f.lineNumber + 1}`;
  return `${f.functionName || '(anonymous)'}${where}`;
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let idle = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  const node = byId.get(id);
  if (!node) return;
  if (node.callFrame.functionName === '(idle)') {
    idle += dt;
    return;
  }
  total += dt;
  const own = label(node);
  self.set(own, (self.get(own) ?? 0) + dt);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as ProfileNode);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
  }
});

const pct = (us: number): string => ((us / total) * 100).toFixed(1).padStart(5) + '%';
const table = (title: string, m: Map<string, number>, filter: RegExp | null): [string, number][] => {
  const rows = [...m.entries()].filter(([k]) => filter === null || filter.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`\n${title}`);
  for (const [k, us] of rows) console.log(`${pct(us)}  ${k}`);
  return rows;
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s busy (shares below are of this), ${(idle / 1e6).toFixed(2)} s idle`);
const selfRows = table('self time', self, null);
const inclRows = table('inclusive time', inclusive, match ?? /(src|node_modules)\//);
const share = (rows: [string, number][]): Record<string, number> => Object.fromEntries(rows.map(([k, us]) => [k, Math.round((us / total) * 1000) / 10]));
console.log(JSON.stringify({ file, busy_s: total / 1e6, idle_s: idle / 1e6, self_pct: share(selfRows), inclusive_pct: share(inclRows) }));
