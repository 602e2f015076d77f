# Shared by bench/compare.sh and bench/with-server.sh (source it, from the repository root):
# fresh Herald and Prosody servers for one bench run each, CPU pinning, and a
# wait for a quiet machine. Both servers keep their data under $TMPDIR (default /tmp).
#
#   start_herald ACCOUNTS   sets herald_pid herald_port herald_http herald_component herald_dir;
#                           accounts u1..uACCOUNTS (password $PW); a component push.localhost
#                           (secret $PW) on herald_component; extra environment from the
#                           array herald_env (later assignments win), node flags from $herald_flags;
#                           HERALD_ENTRY=dist/cli.js runs the compiled build (npm run build first)
#                           instead of src/ under tsx, so a --cpu-prof profile has exact line numbers
#   stop_herald             copies its log to $out/herald-server-$run.log
#   start_prosody ACCOUNTS [prosody-peer options]   sets prosody_pid prosody_port prosody_http
#                           prosody_component prosody_dir; accounts u1..uACCOUNTS (password $PW)
#   stop_prosody
#   wait_quiet              until under 10% of a core was busy for 3 s (at most 15 minutes)

PW=${PW:-bench-password}
PEER=../shared/tools/prosody-peer
herald_env=() herald_flags="" herald_pid="" herald_dir="" prosody_dir=""

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

pin_server=() pin_load=()
# BENCH_SERVER_CPUS=0,1 lets a multi-threaded server use both cores (the load generator stays on core 1).
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpus=${BENCH_SERVER_CPUS:-0}
  pin_server=(taskset -c "$server_cpus") pin_load=(taskset -c 1)
  pinning="server pinned to core(s) $server_cpus, load generator to core 1 (taskset)"
else
  pinning="no CPU pinning (taskset missing or fewer than 2 cores)"
fi

machine_info() {
  echo "date:      $(date -u +%FT%TZ)"
  echo "machine:   $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo)"
  echo "node:      $(node --version)"
  echo "prosody:   $(dpkg-query -W -f '${Version}' prosody 2>/dev/null || echo 'not installed yet (prosody-peer installs it)')"
  echo "herald:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo " + uncommitted changes in src/")"
  echo "storage:   data directories under ${TMPDIR:-/tmp} ($(df --output=fstype "${TMPDIR:-/tmp}" | tail -n1))"
  echo "pinning:   $pinning"
}

start_herald() {
  local accounts=$1
  herald_dir=$(mktemp -d -t herald-bench.XXXXXX)
  node --import tsx bench/lib/create-users.ts "$herald_dir/herald.sqlite" localhost u "$accounts" "$PW" >/dev/null
  printf '[[component]]\ndomain = "push.localhost"\nsecret = "%s"\n' "$PW" >"$herald_dir/herald.toml"
  herald_port=$(free_port) herald_http=$(free_port) herald_component=$(free_port)
  # shellcheck disable=SC2086 # herald_flags is a list of node flags
  env HERALD_SERVER_DATA_DIR="$herald_dir" HERALD_C2S_PORT="$herald_port" HERALD_C2S_DIRECT_TLS_PORT=0 \
    HERALD_HTTP_PORT="$herald_http" HERALD_COMPONENTS_PORT="$herald_component" \
    HERALD_C2S_REQUIRE_TLS=false HERALD_AUTH_ALLOW_PLAIN_WITHOUT_TLS=true HERALD_LOG_LEVEL=warn \
    HERALD_LIMITS_CONNECTIONS_PER_IP_PER_MINUTE=1000000 HERALD_LIMITS_AUTH_FAILURES_PER_IP_PER_MINUTE=1000000 \
    "${herald_env[@]}" "${pin_server[@]}" node $herald_flags ${HERALD_ENTRY:---import tsx src/cli.ts} --config "$herald_dir/herald.toml" start \
    >"$herald_dir/herald.log" 2>&1 &
  herald_pid=$!
  for _ in $(seq 1 150); do
    if node -e 'require("net").connect(+process.argv[1],"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$herald_port"; then return 0; fi
    if ! kill -0 "$herald_pid" 2>/dev/null; then cat "$herald_dir/herald.log" >&2; echo "bench: Herald did not start" >&2; exit 4; fi
    sleep 0.1
  done
  echo "bench: Herald did not start listening on $herald_port" >&2; exit 4
}

stop_herald() {
  kill -TERM "$herald_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$herald_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$herald_pid" 2>/dev/null || true
  wait "$herald_pid" 2>/dev/null || true
  cp "$herald_dir/herald.log" "$out/herald-server-${run:-1}.log" 2>/dev/null || true
  rm -rf "$herald_dir"
  herald_pid=""
}

start_prosody() {
  local accounts=$1 line
  shift
  line=$("$PEER" start --users "$(seq -s, -f 'u%g' 1 "$accounts")" --password "$PW" "$@" | tail -n1)
  eval "$line" # RUN_DIR PID C2S HTTP COMPONENT ...
  prosody_dir=$RUN_DIR prosody_pid=$PID prosody_port=$C2S prosody_http=$HTTP prosody_component=$COMPONENT
  if [ ${#pin_server[@]} -gt 0 ]; then taskset -a -p -c "$server_cpus" "$prosody_pid" >/dev/null; fi
}

stop_prosody() {
  "$PEER" stop "$prosody_dir" || true
  prosody_dir=""
}

stop_servers() {
  if [ -n "$herald_pid" ]; then stop_herald; fi
  if [ -n "$prosody_dir" ]; then stop_prosody; fi
}

# Other work on this machine (a test suite, a build) skews the figures: wait until it has been
# quiet (under 10% of a core busy, this script's idle server aside) for 3 s, at most 15 minutes.
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
wait_quiet() {
  local waited=0 a b
  sync # the previous run's dirty pages (Prosody writes a file per user) would be written back during this one
  while :; do
    a=$(busy_ticks); sleep 3; b=$(busy_ticks)
    if [ $((b - a)) -lt 30 ]; then break; fi
    if [ $waited -eq 0 ]; then echo "(waiting for the machine to be quiet: $(((b - a) / 3))% of a core busy)"; fi
    waited=$((waited + 3))
    if [ $waited -ge 900 ]; then echo "(still busy after 15 minutes; running anyway)"; break; fi
  done
}
