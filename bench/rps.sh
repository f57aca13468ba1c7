#!/usr/bin/env bash
# Side-by-side request rate: one or more gatehouse binaries (an A/B of two builds, typically), in
# alternating rounds on the same nginx origin, so that machine noise hits every binary alike.
#
#   bench/rps.sh [--rounds N] [--duration S] BINARY [BINARY ...]
#
# Each round runs wrk (-t2 -c64, the shared harness's shape and its lua/bench.lua: absolute-form
# GETs of a 1 KiB file, every request authenticated with Proxy-Authorization) for DURATION seconds
# (default 10) against each binary in turn, and records requests per second, p99, and the proxy's
# CPU time per request (user + system, from /proc/PID/stat; and of the audit writer thread alone,
# "writer µs"): unlike rps, CPU per
# request hardly depends on how the scheduler happened to share the two cores. It prints every
# round, then per binary the median rps, p99 and CPU per request and their ratio to the first.
# Each BINARY is started as `BINARY serve` on its own port (24128, 24129, ...) with its own
# configuration and data directory under bench/run/rps/, user `bench` in tier `open`.
# nginx (one worker) listens on 127.0.0.1:28180. Everything started is stopped by PID on exit.
# Only loopback addresses are targeted.
# Env: NICE=0 (e.g. NICE=-10 to run everything at that priority), GATEHOUSE_SHARED (default
# <repo>/../shared, for lua/bench.lua). Needs nginx and wrk.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/bench/run/rps
SHARED=${GATEHOUSE_SHARED:-$REPO/../shared}
ROUNDS=5 DURATION=10
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift;;
    --duration) DURATION=$2; shift;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) BINS+=("$(realpath "$1")");;
  esac
  shift
done
[[ ${#BINS[@]} -gt 0 ]] || { echo "usage: bench/rps.sh [--rounds N] [--duration S] BINARY..." >&2; exit 2; }
NICE=${NICE:-0}
if [[ $NICE != 0 ]]; then renice -n "$NICE" -p $$ > /dev/null; fi
for b in nginx wrk; do command -v $b > /dev/null || { echo "needs $b" >&2; exit 1; }; done
[[ -f $SHARED/bench/lua/bench.lua ]] || { echo "needs $SHARED/bench/lua/bench.lua" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

mkdir -p "$RUN/www"
head -c 1024 /dev/zero | tr '\0' x > "$RUN/www/1k"
start_nginx "$RUN" "server { listen 127.0.0.1:28180; root $RUN/www; }"

declare -A GPID
for i in "${!BINS[@]}"; do
  start_gatehouse "${BINS[$i]}" "$RUN/gh$i" $((24128 + i)) $((29290 + i))
  GPID[$i]=${PIDS[-1]}
done

TICK_NS=$(( 1000000000 / $(getconf CLK_TCK) ))
cpu_ns() { awk -v t="$TICK_NS" '{ printf "%.0f", ($14 + $15) * t }' /proc/"$1"/stat; }
# The audit writer thread's CPU time (the thread named gatehouse-audit): what recording costs.
writer_ns() {
  local task
  for task in /proc/"$1"/task/*; do
    if [[ $(cat "$task/comm" 2> /dev/null) == gatehouse-audit ]]; then cpu_ns "$1/task/${task##*/}"; return; fi
  done
  echo 0
}
AUTH="Basic $(printf 'bench:bench-password' | base64)"

run() { # index seconds -> "rps p99_us cpu_us_per_req writer_us_per_req"
  local i=$1 secs=$2 c0 w0 out req
  c0=$(cpu_ns "${GPID[$i]}") w0=$(writer_ns "${GPID[$i]}")
  out=$(BENCH_TARGET=http://127.0.0.1:28180/1k BENCH_HOST=127.0.0.1:28180 BENCH_PROXY_AUTHORIZATION=$AUTH \
    wrk -t2 -c64 -d"${secs}s" --timeout 5s -s "$SHARED/bench/lua/bench.lua" "http://127.0.0.1:$((24128 + i))/" |
    grep '^BENCH_RESULT')
  req=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<< "$out")
  awk -v r="$req" -v s="$secs" -v c="$(( $(cpu_ns "${GPID[$i]}") - c0 ))" \
    -v w="$(( $(writer_ns "${GPID[$i]}") - w0 ))" \
    -v p="$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<< "$out")" \
    'BEGIN { printf "%.0f %d %.1f %.2f", r / s, p, (r > 0 ? c / 1000 / r : 0), (r > 0 ? w / 1000 / r : 0) }'
}

declare -A RPS P99 CPU WRI
for i in "${!BINS[@]}"; do run "$i" 2 > /dev/null; done   # warm up
for ((r = 1; r <= ROUNDS; r++)); do
  line="round $r:"
  for i in "${!BINS[@]}"; do
    read -r rps p99 cpu wri <<< "$(run "$i" "$DURATION")"
    RPS[$i]+="$rps " P99[$i]+="$p99 " CPU[$i]+="$cpu " WRI[$i]+="$wri "
    line+=" gh$i=${rps}rps/${p99}us/${cpu}µs/w${wri}µs"
  done
  echo "$line"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo
printf '%-6s | %8s %6s | %8s | %14s %6s | %9s | %s\n' system rps ratio "p99 µs" "CPU µs/request" ratio "writer µs" binary
r0=$(echo "${RPS[0]}" | median) c0=$(echo "${CPU[0]}" | median)
for i in "${!BINS[@]}"; do
  r=$(echo "${RPS[$i]}" | median) c=$(echo "${CPU[$i]}" | median)
  printf '%-6s | %8s %6s | %8s | %14s %6s | %9s | %s\n' "gh$i" "$r" \
    "$(awk -v a="$r" -v b="$r0" 'BEGIN{printf "%.2f", a / b}')" "$(echo "${P99[$i]}" | median)" \
    "$c" "$(awk -v a="$c" -v b="$c0" 'BEGIN{printf "%.2f", a / b}')" \
    "$(echo "${WRI[$i]}" | median)" "${BINS[$i]}"
done
