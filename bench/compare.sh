#!/usr/bin/env bash
# Herald vs Prosody on this machine, with the same load (bench/load.ts).
#
#   bench/compare.sh [--pairs 50] [--seconds 20] [--window 20] [--warmup 3] [--idle 1000]
#                    [--resume 0] [--runs 2] [--only herald|prosody] [--herald-node-flags "--cpu-prof ..."]
#
# Each run starts a fresh Herald (from this work tree, `node --import tsx src/cli.ts start`,
# TLS off, PLAIN allowed on loopback) and a fresh Prosody (../shared/tools/prosody-peer),
# creates accounts u1..u(2*max(pairs, resume)), runs bench/load.ts against it, and stops it. With
# taskset and 2+ cores the server is pinned to core 0 and the load generator to core 1.
# Both servers keep their data under $TMPDIR (default /tmp): TMPDIR=/dev/shm puts it on tmpfs.
# --resume N adds load.ts's XEP-0198 resumption phase (N clients; see bench/lib/resume-phase.ts).
# Raw outputs go to bench/results/<UTC time>/; a side-by-side table is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/servers.sh

pairs=50 seconds=20 window=20 warmup=3 idle=1000 resume=0 runs=2 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) pairs=$2; shift 2;; --seconds) seconds=$2; shift 2;; --window) window=$2; shift 2;;
    --warmup) warmup=$2; shift 2;; --idle) idle=$2; shift 2;; --runs) runs=$2; shift 2;;
    --resume) resume=$2; shift 2;;
    --only) only=$2; shift 2;; --herald-node-flags) herald_flags=$2; shift 2;;
    -h|--help) sed -n '2,13p' "$0"; exit 0;;
    *) echo "compare: unknown option $1" >&2; exit 2;;
  esac
done

accounts=$((2 * (pairs > resume ? pairs : resume)))
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

{
  machine_info
  echo "load:      --pairs $pairs --window $window --warmup $warmup --seconds $seconds --idle $idle --resume $resume; $runs run(s) each"
} | tee "$out/setup.txt"

trap stop_servers EXIT

# bench NAME PORT PID: runs the load, keeps its output, appends its JSON line to runs.jsonl
bench() {
  local name=$1 port=$2 pid=$3 rc=0
  wait_quiet
  echo "--- $name (server pid $pid, port $port)"
  "${pin_load[@]}" node --import tsx bench/load.ts --host 127.0.0.1 --port "$port" --domain localhost \
    --user-prefix u --password "$PW" --pairs "$pairs" --seconds "$seconds" --window "$window" --warmup "$warmup" \
    --idle "$idle" --resume "$resume" --pid "$pid" --label "$name" 2>&1 | tee "$out/$name.txt" || rc=$?
  if ! tail -n1 "$out/$name.txt" | grep -q '^{'; then echo "compare: $name failed (exit $rc)" >&2; exit 5; fi
  tail -n1 "$out/$name.txt" >>"$out/runs.jsonl"
}

for run in $(seq 1 "$runs"); do
  if [ "$only" != prosody ]; then
    start_herald "$accounts"
    bench "herald-$run" "$herald_port" "$herald_pid"
    stop_herald
  fi
  if [ "$only" != herald ]; then
    start_prosody "$accounts"
    bench "prosody-$run" "$prosody_port" "$prosody_pid"
    stop_prosody
  fi
done

echo
node -e '
const runs = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const rows = [
  ["messages/s", (r) => r.messages_per_s],
  ["latency p50 ms", (r) => r.latency_ms?.p50],
  ["latency p90 ms", (r) => r.latency_ms?.p90],
  ["latency p99 ms", (r) => r.latency_ms?.p99],
  ["latency max ms", (r) => r.latency_ms?.max],
  ["sent", (r) => r.sent],
  ["lost / duplicated", (r) => r.lost === undefined ? undefined : `${r.lost} / ${r.duplicated}`],
  ["server CPU % of a core", (r) => r.server_cpu_pct],
  ["load gen CPU % of a core", (r) => r.loadgen_cpu_pct],
  ["other procs CPU % of a core", (r) => r.other_cpu_pct],
  ["idle conns", (r) => r.idle?.connections],
  ["RSS before idle KB", (r) => r.idle?.rss_before_kb],
  ["RSS after idle KB", (r) => r.idle?.rss_after_kb],
  ["KB per idle conn", (r) => r.idle?.kb_per_connection],
  ["resumptions (failed)", (r) => r.resume && `${r.resume.resumes} (${r.resume.resume_failures})`],
  ["resume latency p50 ms", (r) => r.resume?.resume_latency_ms.p50],
  ["resume latency p99 ms", (r) => r.resume?.resume_latency_ms.p99],
  ["resume sent during gaps", (r) => r.resume?.sent_during_gap],
  ["resume lost / duplicated", (r) => r.resume && `${r.resume.lost} / ${r.resume.duplicated}`],
  ["resume other procs CPU %", (r) => r.resume?.other_cpu_pct],
];
const w = 28, c = 14;
console.log("".padEnd(w) + runs.map((r) => r.label.padStart(c)).join(""));
for (const [name, f] of rows) {
  const cells = runs.map((r) => String(f(r) ?? "-"));
  if (cells.some((x) => x !== "-")) console.log(name.padEnd(w) + cells.map((x) => x.padStart(c)).join(""));
}
' "$out/runs.jsonl" | tee "$out/summary.txt"
echo "(raw outputs in $out)"
node -e 'const fs = require("fs"); const [dir] = process.argv.slice(1);
console.log(JSON.stringify({ results_dir: dir, runs: fs.readFileSync(dir + "/runs.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l)) }));' "$out"
