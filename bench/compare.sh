#!/usr/bin/env bash
# Herald vs Prosody on this machine, with the same load (bench/load.ts).
#
#   bench/compare.sh [--pairs 50] [--seconds 20] [--window 20] [--warmup 3] [--idle 1000]
#                    [--runs 2] [--only herald|prosody] [--herald-node-flags "--cpu-prof ..."]
#
# Each run starts a fresh Herald (from this work tree, `node --import tsx src/cli.ts start`,
# TLS off, PLAIN allowed on loopback) and a fresh Prosody (../shared/tools/prosody-peer),
# creates accounts u1..u(2*pairs), runs bench/load.ts against it, and stops it. With
# taskset and 2+ cores the server is pinned to core 0 and the load generator to core 1.
# Both servers keep their data under $TMPDIR (default /tmp): TMPDIR=/dev/shm puts it on tmpfs.
# Raw outputs go to bench/results/<UTC time>/; a side-by-side table is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=50 seconds=20 window=20 warmup=3 idle=1000 runs=2 only="" herald_flags=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) pairs=$2; shift 2;; --seconds) seconds=$2; shift 2;; --window) window=$2; shift 2;;
    --warmup) warmup=$2; shift 2;; --idle) idle=$2; shift 2;; --runs) runs=$2; shift 2;;
    --only) only=$2; shift 2;; --herald-node-flags) herald_flags=$2; shift 2;;
    -h|--help) sed -n '2,12p' "$0"; exit 0;;
    *) echo "compare: unknown option $1" >&2; exit 2;;
  esac
done

PW=bench-password
PEER=../shared/tools/prosody-peer
users=$(seq -s, -f 'u%g' 1 $((2 * pairs)))
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

pin_server=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
  pinning="server pinned to core 0, load generator to core 1 (taskset)"
else
  pinning="no CPU pinning (taskset missing or fewer than 2 cores)"
fi

{
  echo "date:      $(date -u +%FT%TZ)"
  echo "machine:   $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo)"
  echo "node:      $(node --version)"
  echo "prosody:   $(dpkg-query -W -f '${Version}' prosody 2>/dev/null || echo 'not installed yet (prosody-peer installs it)')"
  echo "herald:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src package.json 2>/dev/null || echo ' + uncommitted changes in src/')"
  echo "load:      --pairs $pairs --window $window --warmup $warmup --seconds $seconds --idle $idle; $runs run(s) each"
  echo "storage:   data directories under ${TMPDIR:-/tmp} ($(df --output=fstype "${TMPDIR:-/tmp}" | tail -n1))"
  echo "pinning:   $pinning"
} | tee "$out/setup.txt"

herald_pid="" herald_dir="" prosody_dir=""
cleanup() {
  if [ -n "$herald_pid" ]; then stop_herald; fi
  if [ -n "$prosody_dir" ]; then "$PEER" stop "$prosody_dir" || true; prosody_dir=""; fi
}
trap cleanup EXIT

start_herald() {
  herald_dir=$(mktemp -d -t herald-bench.XXXXXX)
  node --import tsx bench/lib/create-users.ts "$herald_dir/herald.sqlite" localhost u $((2 * pairs)) "$PW" >/dev/null
  herald_port=$(free_port)
  # shellcheck disable=SC2086 # herald_flags is a list of node flags
  HERALD_SERVER_DATA_DIR=$herald_dir HERALD_C2S_PORT=$herald_port HERALD_C2S_DIRECT_TLS_PORT=0 HERALD_HTTP_PORT=0 \
    HERALD_C2S_REQUIRE_TLS=false HERALD_AUTH_ALLOW_PLAIN_WITHOUT_TLS=true HERALD_LOG_LEVEL=warn \
    HERALD_LIMITS_CONNECTIONS_PER_IP_PER_MINUTE=1000000 HERALD_LIMITS_AUTH_FAILURES_PER_IP_PER_MINUTE=1000000 \
    "${pin_server[@]}" node $herald_flags --import tsx src/cli.ts start >"$herald_dir/herald.log" 2>&1 &
  herald_pid=$!
  for _ in $(seq 1 150); do
    if node -e 'require("net").connect(+process.argv[1],"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$herald_port"; then return 0; fi
    if ! kill -0 "$herald_pid" 2>/dev/null; then cat "$herald_dir/herald.log" >&2; echo "compare: Herald did not start" >&2; exit 4; fi
    sleep 0.1
  done
  echo "compare: Herald did not start listening on $herald_port" >&2; exit 4
}

stop_herald() {
  kill -TERM "$herald_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$herald_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$herald_pid" 2>/dev/null || true
  wait "$herald_pid" 2>/dev/null || true
  cp "$herald_dir/herald.log" "$out/herald-server-$run.log" 2>/dev/null || true
  rm -rf "$herald_dir"
  herald_pid=""
}

start_prosody() {
  local line
  line=$("$PEER" start --users "$users" --password "$PW" | tail -n1)
  eval "$line" # RUN_DIR PID C2S ...
  prosody_dir=$RUN_DIR prosody_pid=$PID prosody_port=$C2S
  if [ ${#pin_server[@]} -gt 0 ]; then taskset -a -p -c 0 "$prosody_pid" >/dev/null; fi
}

# Other work on this machine (a test suite, a build) skews the figures: wait until it has been
# quiet (under 10% of a core busy, this script's idle server aside) for 3 s, at most 15 minutes.
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
wait_quiet() {
  local waited=0 a b
  while :; do
    a=$(busy_ticks); sleep 3; b=$(busy_ticks)
    if [ $((b - a)) -lt 30 ]; then break; fi
    if [ $waited -eq 0 ]; then echo "(waiting for the machine to be quiet: $(((b - a) / 3))% of a core busy)"; fi
    waited=$((waited + 3))
    if [ $waited -ge 900 ]; then echo "(still busy after 15 minutes; running anyway)"; break; fi
  done
}

# bench NAME PORT PID: runs the load, keeps its output, appends its JSON line to runs.jsonl
bench() {
  local name=$1 port=$2 pid=$3 rc=0
  wait_quiet
  echo "--- $name (server pid $pid, port $port)"
  "${pin_load[@]}" node --import tsx bench/load.ts --host 127.0.0.1 --port "$port" --domain localhost \
    --user-prefix u --password "$PW" --pairs "$pairs" --seconds "$seconds" --window "$window" --warmup "$warmup" \
    --idle "$idle" --pid "$pid" --label "$name" 2>&1 | tee "$out/$name.txt" || rc=$?
  if ! tail -n1 "$out/$name.txt" | grep -q '^{'; then echo "compare: $name failed (exit $rc)" >&2; exit 5; fi
  tail -n1 "$out/$name.txt" >>"$out/runs.jsonl"
}

for run in $(seq 1 "$runs"); do
  if [ "$only" != prosody ]; then
    start_herald
    bench "herald-$run" "$herald_port" "$herald_pid"
    stop_herald
  fi
  if [ "$only" != herald ]; then
    start_prosody
    bench "prosody-$run" "$prosody_port" "$prosody_pid"
    "$PEER" stop "$prosody_dir"; prosody_dir=""
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
];
const w = 28, c = 14;
console.log("".padEnd(w) + runs.map((r) => r.label.padStart(c)).join(""));
for (const [name, f] of rows) console.log(name.padEnd(w) + runs.map((r) => String(f(r) ?? "-").padStart(c)).join(""));
' "$out/runs.jsonl" | tee "$out/summary.txt"
echo "(raw outputs in $out)"
