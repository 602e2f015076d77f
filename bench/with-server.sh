#!/usr/bin/env bash
# Runs one bench script against a fresh server, pinned and on a quiet machine.
#
#   bench/with-server.sh herald|prosody [--accounts 200] [--env HERALD_X=Y]... [--label NAME]
#                        [--herald-node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"] -- SCRIPT.ts ARGS...
#
# Herald: from this work tree (bench/lib/servers.sh: TLS off, PLAIN on loopback, a component
# push.localhost, HTTP on), with each --env added to its environment. Prosody: prosody-peer
# start --push (mod_cloud_notify, component push.localhost). Accounts u1..uN, password
# bench-password. In ARGS, {C2S} {PID} {HTTP} {COMPONENT} {SECRET} {LABEL} are replaced by the
# server's. The script runs on core 1 (the server on core 0) once the machine has been quiet
# for 3 s; its output goes to bench/results/<UTC time>/LABEL.txt (and its last line, JSON, to
# runs.jsonl there).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/servers.sh

server=${1:-}; shift || true
accounts=200 label=""
while [ $# -gt 0 ]; do
  case "$1" in
    --accounts) accounts=$2; shift 2;; --env) herald_env+=("$2"); shift 2;; --label) label=$2; shift 2;;
    --herald-node-flags) herald_flags=$2; shift 2;;
    --) shift; break;;
    *) echo "with-server: unknown option $1" >&2; exit 2;;
  esac
done
if [ "$server" != herald ] && [ "$server" != prosody ] || [ $# -eq 0 ]; then sed -n '2,13p' "$0"; exit 2; fi
label=${label:-$server}
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
trap stop_servers EXIT

{
  machine_info
  echo "server:    $server, $accounts accounts${herald_env[*]:+, env ${herald_env[*]}}"
  echo "command:   $*"
} | tee -a "$out/setup.txt"

if [ "$server" = herald ]; then
  start_herald "$accounts"
  c2s=$herald_port pid=$herald_pid http=$herald_http component=$herald_component
else
  start_prosody "$accounts" --push
  c2s=$prosody_port pid=$prosody_pid http=$prosody_http component=$prosody_component
fi
args=()
for a in "$@"; do
  a=${a//\{C2S\}/$c2s} a=${a//\{PID\}/$pid} a=${a//\{HTTP\}/$http}
  a=${a//\{COMPONENT\}/$component} a=${a//\{SECRET\}/$PW} a=${a//\{LABEL\}/$label}
  args+=("$a")
done
script=${args[0]} args=("${args[@]:1}")
wait_quiet
echo "--- $label (server pid $pid, c2s $c2s, http $http, component $component)"
rc=0
"${pin_load[@]}" node --import tsx "$script" "${args[@]}" 2>&1 | tee "$out/$label.txt" || rc=$?
if tail -n1 "$out/$label.txt" | grep -q '^{'; then tail -n1 "$out/$label.txt" >>"$out/runs.jsonl"; fi
echo "(raw output in $out)" >&2 # stdout ends with the script's JSON line
exit "$rc"
