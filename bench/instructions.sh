#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: a figure that, unlike time,
# does not move with what else the machine is doing, for an A/B of builds on a noisy host.
#
#   bench/instructions.sh [--duration S] [--policy] BINARY [BINARY ...]
#
# Each BINARY is started as `BINARY serve` under callgrind with instrumentation off, on its own port
# (25128, 25138, ...) with its own configuration and data directory under bench/run/instructions/,
# user `bench` in tier `open`. wrk (one thread, 4 connections, the shared lua/bench.lua: 1 KiB
# absolute-form GETs, authenticated) first warms it up for 3 s (the one argon2 verification, the
# connections), then instrumentation is switched on for DURATION seconds (default 10) of the same
# load, and the instructions of the whole process in that window (proxy, audit writer, everything)
# are divided by the requests wrk counted. Prints one line per binary. With --policy, each binary
# is measured a second time with the research library's places and rules (lib.sh's policy_dir:
# the request is allowed by a rule at a registered terminal and holds a session).
# nginx (one worker) listens on 127.0.0.1:28280. Everything started is stopped by PID on exit.
# Only loopback addresses are targeted. Needs valgrind, nginx and wrk.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/bench/run/instructions
SHARED=${GATEHOUSE_SHARED:-$REPO/../shared}
DURATION=10 POLICY=0
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift;;
    --policy) POLICY=1;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) BINS+=("$(realpath "$1")");;
  esac
  shift
done
[[ ${#BINS[@]} -gt 0 ]] || { echo "usage: bench/instructions.sh [--duration S] [--policy] BINARY..." >&2; exit 2; }
for b in valgrind callgrind_control callgrind_annotate nginx wrk; do
  command -v $b > /dev/null || { echo "needs $b" >&2; exit 1; }
done

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

mkdir -p "$RUN/www"
head -c 1024 /dev/zero | tr '\0' x > "$RUN/www/1k"
start_nginx "$RUN" "server { listen 127.0.0.1:28280; root $RUN/www; }"

export BENCH_TARGET=http://127.0.0.1:28280/1k BENCH_HOST=127.0.0.1:28280
BENCH_PROXY_AUTHORIZATION="Basic $(printf 'bench:bench-password' | base64)"
export BENCH_PROXY_AUTHORIZATION
RUNS=()
for i in "${!BINS[@]}"; do
  RUNS+=("$i tiers")
  if [[ $POLICY == 1 ]]; then RUNS+=("$i policy"); fi
done
for k in "${!RUNS[@]}"; do
  read -r i kind <<< "${RUNS[$k]}"
  port=$((25128 + 10 * k)) dir=$RUN/gh$i-$kind
  case $kind in
    tiers) gatehouse_dir "${BINS[$i]}" "$dir" $port $((port + 1000));;
    policy) policy_dir "${BINS[$i]}" "$dir" $port $((port + 1000));;
  esac
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out" \
    "${BINS[$i]}" serve --config "$dir/gatehouse.toml" --data-dir "$dir/data" > "$dir/serve.log" 2>&1 &
  vpid=$!
  PIDS+=($vpid)
  wait_port $port 300 || { echo "${BINS[$i]} did not start (see $dir/serve.log)" >&2; exit 1; }
  wrk -t1 -c4 -d3s -s "$SHARED/bench/lua/bench.lua" "http://127.0.0.1:$port/" > /dev/null
  callgrind_control -i on $vpid > /dev/null 2>&1
  wrk -t1 -c4 -d"${DURATION}s" -s "$SHARED/bench/lua/bench.lua" "http://127.0.0.1:$port/" |
    grep '^BENCH_RESULT' > "$dir/wrk.txt"
  callgrind_control -i off $vpid > /dev/null 2>&1
  callgrind_control -d $vpid > /dev/null 2>&1
  kill $vpid; wait $vpid 2> /dev/null || true
  req=$(sed -E 's/.* requests=([0-9]+).*/\1/' "$dir/wrk.txt")
  ir=$(callgrind_annotate "$(ls "$dir"/callgrind.out* | tail -n 1)" 2> /dev/null |
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  echo "gh$i $kind: $req requests, $ir instructions, $((ir / req)) instructions per request  (${BINS[$i]})"
done
