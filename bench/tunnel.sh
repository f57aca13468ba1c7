#!/usr/bin/env bash
# Side-by-side CONNECT tunnel throughput: direct against one or more gatehouse binaries, in
# alternating rounds on the same nginx origin, so that machine noise hits every system alike.
#
#   bench/tunnel.sh [--rounds N] [--size MiB] [--floor] BINARY [BINARY ...]
#
# Each round downloads SIZE MiB (default 64) once per system, in turn:
#   tls  curl -x (CONNECT), https end to end (curl <-> nginx): the harness's "CONNECT TLS" column
#   raw  curl -x --proxytunnel, plain http through the tunnel: the relay's own cost
# and prints every round, then the median MB/s (MB = 10^6 B) per system and its ratio to direct,
# and each proxy's CPU time per MB relayed (all its threads, from /proc/PID/task/*/schedstat),
# and the whole machine's busy time per MB (from /proc/stat, so nginx, curl and the proxy together;
# other jobs on the machine would count too): unlike MB/s, CPU per MB hardly depends on how the
# scheduler happened to share the two cores.
# Each BINARY is started as `BINARY serve` on its own port (23128, 23129, ...) with its own
# configuration and data directory under bench/run/tunnel/, user `bench` in tier `open`.
# --floor adds the system `floor`: tools/floor-relay, the plainest CONNECT relay (two blocking
# threads, no checks at all), i.e. what relaying through user space costs on this machine by itself;
# its CPU comes from /proc/PID/stat (clock ticks, since its threads end with each transfer).
# nginx (one worker, sendfile on, TLS 1.3) listens on 127.0.0.1:28080 / :28443. Everything
# started is stopped by PID on exit. Only loopback addresses are targeted.
# Env: NICE=0 (e.g. NICE=-10 to run everything at that priority). Needs nginx, curl, openssl.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/bench/run/tunnel
ROUNDS=9 SIZE=64 FLOOR=0
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift;;
    --size) SIZE=$2; shift;;
    --floor) FLOOR=1;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) BINS+=("$(realpath "$1")");;
  esac
  shift
done
[[ ${#BINS[@]} -gt 0 ]] || { echo "usage: bench/tunnel.sh [--rounds N] [--size MiB] BINARY..." >&2; exit 2; }
NICE=${NICE:-0}
if [[ $NICE != 0 ]]; then renice -n "$NICE" -p $$ > /dev/null; fi
for b in nginx curl openssl; do command -v $b > /dev/null || { echo "needs $b" >&2; exit 1; }; done

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

mkdir -p "$RUN/www"
[[ -s $RUN/www/blob ]] && [[ $(stat -c %s "$RUN/www/blob") == $((SIZE << 20)) ]] ||
  head -c $((SIZE << 20)) /dev/urandom > "$RUN/www/blob"
[[ -s $RUN/origin.crt ]] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
  -keyout "$RUN/origin.key" -out "$RUN/origin.crt" 2> /dev/null
start_nginx "$RUN" "server { listen 127.0.0.1:28080; root $RUN/www; sendfile on; tcp_nopush on; tcp_nodelay on; }
    server {
        listen 127.0.0.1:28443 ssl; root $RUN/www; sendfile on; tcp_nopush on; tcp_nodelay on;
        ssl_certificate $RUN/origin.crt; ssl_certificate_key $RUN/origin.key; ssl_protocols TLSv1.3;
    }"

NAMES=(direct)
declare -A GPID CPU MCPU
for i in "${!BINS[@]}"; do
  start_gatehouse "${BINS[$i]}" "$RUN/gh$i" $((23128 + i)) $((29190 + i)) "connect_ports = [28443, 28080]"
  NAMES+=("gh$i")
  GPID[gh$i]=${PIDS[-1]}
done

if [[ $FLOOR == 1 ]]; then
  (cd "$REPO" && cargo build --release -q -p floor-relay)
  port=$((23128 + ${#BINS[@]}))
  "$REPO/target/release/floor-relay" "127.0.0.1:$port" 2> "$RUN/floor.log" &
  PIDS+=($!)
  wait_port $port || { echo "floor-relay did not start" >&2; exit 1; }
  NAMES+=(floor)
  GPID[floor]=${PIDS[-1]}
fi

machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

cpu_ns() { # pid -> ns of CPU used by all its threads so far
  [[ -n ${1:-} ]] || { echo 0; return; }
  if [[ $1 == "${GPID[floor]:-none}" ]]; then # threads that ended count too
    awk -v t="$TICK_US" '{ printf "%d", ($14 + $15) * t * 1000 }' /proc/"$1"/stat
    return
  fi
  cat /proc/"$1"/task/*/schedstat 2> /dev/null | awk '{ s += $1 } END { printf "%d", s }'
}

fetch() { # name mode -> MB/s
  local n=$1 mode=$2 url px=()
  if [[ $n == floor ]]; then px=(-x "http://127.0.0.1:$((23128 + ${#BINS[@]}))")
  elif [[ $n != direct ]]; then px=(-x "http://bench:bench-password@127.0.0.1:$((23128 + ${n#gh}))"); fi
  case $mode in
    tls) url=https://127.0.0.1:28443/blob;;
    raw) url=http://127.0.0.1:28080/blob; [[ $n != direct ]] && px+=(--proxytunnel);;
  esac
  curl -sS -k --http1.1 "${px[@]}" -o /dev/null -w '%{speed_download}' "$url" |
    awk '{ printf "%.0f", $1 / 1e6 }'
}

declare -A R
for mode in tls raw; do
  for n in "${NAMES[@]}"; do fetch "$n" "$mode" > /dev/null; done   # warm up
done
for ((r = 1; r <= ROUNDS; r++)); do
  line="round $r:"
  for mode in tls raw; do
    for n in "${NAMES[@]}"; do
      c0=$(cpu_ns "${GPID[$n]:-}") m0=$(machine_ticks)
      v=$(fetch "$n" "$mode"); R[$n.$mode]+="$v "; line+=" $mode/$n=$v"
      CPU[$n.$mode]=$(( ${CPU[$n.$mode]:-0} + $(cpu_ns "${GPID[$n]:-}") - c0 ))
      MCPU[$n.$mode]=$(( ${MCPU[$n.$mode]:-0} + $(machine_ticks) - m0 ))
    done
  done
  echo "$line"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo
printf '%-8s | %8s %6s %10s %12s | %8s %6s %10s %12s\n' system "tls MB/s" ratio "proxy CPU" "machine CPU" "raw MB/s" ratio "proxy CPU" "machine CPU"
printf '%-8s | %8s %6s %10s %12s | %8s %6s %10s %12s\n' "" "" "" "µs/MB" "µs/MB" "" "" "µs/MB" "µs/MB"
dt=$(echo "${R[direct.tls]}" | median) dr=$(echo "${R[direct.raw]}" | median)
for n in "${NAMES[@]}"; do
  t=$(echo "${R[$n.tls]}" | median) w=$(echo "${R[$n.raw]}" | median)
  mb=$(( ROUNDS * SIZE * 1048576 / 1000000 ))
  printf '%-8s | %8s %6s %10s %12s | %8s %6s %10s %12s\n' "$n" \
    "$t" "$(awk -v a="$t" -v b="$dt" 'BEGIN{printf "%.2f", a / b}')" \
    "$(( ${CPU[$n.tls]:-0} / 1000 / mb ))" "$(( ${MCPU[$n.tls]} * TICK_US / mb ))" \
    "$w" "$(awk -v a="$w" -v b="$dr" 'BEGIN{printf "%.2f", a / b}')" \
    "$(( ${CPU[$n.raw]:-0} / 1000 / mb ))" "$(( ${MCPU[$n.raw]} * TICK_US / mb ))"
done
for i in "${!BINS[@]}"; do echo "gh$i = ${BINS[$i]}"; done
if [[ $FLOOR == 1 ]]; then echo "floor = tools/floor-relay (no checks; the cost of relaying alone)"; fi
