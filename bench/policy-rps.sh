#!/usr/bin/env bash
# What the places and rules cost in requests per second: one gatehouse binary started twice, with
# tiers only (rps.sh's configuration) and with the research library's places and rules
# (examples/research-library/), plus Squid when it is installed, in alternating rounds on the same
# nginx origin.
#
#   bench/policy-rps.sh [--rounds N] [--duration S] [--no-squid] BINARY
#
# The policy configuration (lib.sh's policy_dir) is the example's from `[policy]` on (deny list,
# lists, tiers, places, locations, terminals, the `evening` schedule, `[rules]` with its
# rules.cedar), plus what wrk needs: the origin on 127.0.0.1 allowed, and a terminal `bench-desk`
# for 127.0.0.1/32 (wrk's source address) in the staff office, which has no hours and no seat
# limit. User `bench` is in group `staff` with tier `intranet`, which would refuse the origin: every
# request is allowed because the rule `staff-office-open` applies the `open` tier at that terminal
# (after the reading-room and evening forbids were evaluated), and holds one session that every
# request after the first finds in memory (the seat fast path). Before the rounds, curl checks
# both sides (the request from 127.0.0.1 is allowed, the same from 127.0.0.2, no terminal, is
# refused) and `policy explain` shows the rule that decided.
#
# Each round runs wrk (-t2 -c64, the shared harness's lua/bench.lua: absolute-form GETs of a 1 KiB
# file, authenticated) for DURATION seconds (default 10) against each system, the order rotating
# by one system every round, and records requests per second, p99, the proxy's CPU time per
# request (user + system, /proc/PID/stat) and wrk's non-2xx count. It prints every round, then per
# system the medians and their ratio to tiers only, with the spread (min–max) of rps. gatehouse
# listens on 24228 (tiers) and 24229 (policy), Squid (the shared harness's
# conf/squid.conf.in, no authentication, access log on) on 13128; nginx (one worker) on
# 127.0.0.1:28280. Everything started is stopped by PID on exit. Only loopback addresses are
# targeted.
# Env: NICE=0 (e.g. NICE=-10 to run everything at that priority), GATEHOUSE_SHARED (default
# <repo>/../shared, for lua/bench.lua and conf/squid.conf.in). Needs nginx, wrk, curl; squid
# optional.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/bench/run/policy-rps
SHARED=${GATEHOUSE_SHARED:-$REPO/../shared}
ROUNDS=5 DURATION=10 SQUID=1 BIN=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift;;
    --duration) DURATION=$2; shift;;
    --no-squid) SQUID=0;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) BIN=$(realpath "$1");;
  esac
  shift
done
[[ -n $BIN ]] || { echo "usage: bench/policy-rps.sh [--rounds N] [--duration S] [--no-squid] BINARY" >&2; exit 2; }
NICE=${NICE:-0}
if [[ $NICE != 0 ]]; then renice -n "$NICE" -p $$ > /dev/null; fi
for b in nginx wrk curl; do command -v $b > /dev/null || { echo "needs $b" >&2; exit 1; }; done
[[ -f $SHARED/bench/lua/bench.lua ]] || { echo "needs $SHARED/bench/lua/bench.lua" >&2; exit 1; }
if [[ $SQUID == 1 ]] && ! { command -v squid > /dev/null && [[ -f $SHARED/bench/conf/squid.conf.in ]]; }; then
  echo "squid or $SHARED/bench/conf/squid.conf.in not found: without Squid" >&2
  SQUID=0
fi

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

ORIGIN=127.0.0.1:28280
mkdir -p "$RUN/www"
head -c 1024 /dev/zero | tr '\0' x > "$RUN/www/1k"
start_nginx "$RUN" "server { listen $ORIGIN; root $RUN/www; }"

declare -A PORT PID
SYSTEMS=(tiers policy)
PORT[tiers]=24228 PORT[policy]=24229

start_gatehouse "$BIN" "$RUN/tiers" "${PORT[tiers]}" 29390
PID[tiers]=${PIDS[-1]}

policy_dir "$BIN" "$RUN/policy" "${PORT[policy]}" 29391
serve_gatehouse "$BIN" "$RUN/policy" "${PORT[policy]}"
PID[policy]=${PIDS[-1]}

# Both sides: allowed from the bench desk, refused from an address that is no terminal.
probe() { # source-address -> HTTP status
  curl -s -o /dev/null -w '%{http_code}' --interface "$1" -x "http://127.0.0.1:${PORT[policy]}" \
    -U bench:bench-password "http://$ORIGIN/1k"
}
allowed=$(probe 127.0.0.1) refused=$(probe 127.0.0.2)
echo "policy probe: from 127.0.0.1 (bench-desk) $allowed, from 127.0.0.2 (no terminal) $refused"
[[ $allowed == 200 && $refused == 403 ]] || { echo "the policy does not decide as expected" >&2; exit 1; }
"$BIN" policy explain --principal bench --terminal bench-desk "http://$ORIGIN/1k" \
  --config "$RUN/policy/gatehouse.toml" --data-dir "$RUN/policy/data" |
  grep -E '^decision|^  tier|^  permit|^  forbid' | sed 's/^/  explain: /'

if [[ $SQUID == 1 ]]; then
  mkdir -p "$RUN/squid"
  sed "s#@RUN@#$RUN#g" "$SHARED/bench/conf/squid.conf.in" > "$RUN/squid/squid.conf"
  rm -f "$RUN/squid/access.log" "$RUN/squid/cache.log"
  chown -R proxy:proxy "$RUN/squid" 2> /dev/null || true
  squid -N -f "$RUN/squid/squid.conf" > "$RUN/squid/stdout.log" 2>&1 &
  PIDS+=($!)
  PID[squid]=$! PORT[squid]=13128
  wait_port 13128 100 || { echo "squid did not start (see $RUN/squid/cache.log)" >&2; exit 1; }
  SYSTEMS+=(squid)
fi

TICK_NS=$(( 1000000000 / $(getconf CLK_TCK) ))
cpu_ns() { awk -v t="$TICK_NS" '{ printf "%.0f", ($14 + $15) * t }' /proc/"$1"/stat; }
AUTH="Basic $(printf 'bench:bench-password' | base64)"

run() { # system seconds -> "rps p99_us cpu_us_per_req non2xx"
  local s=$1 secs=$2 c0 out req
  c0=$(cpu_ns "${PID[$s]}")
  out=$(BENCH_TARGET=http://$ORIGIN/1k BENCH_HOST=$ORIGIN BENCH_PROXY_AUTHORIZATION=$AUTH \
    wrk -t2 -c64 -d"${secs}s" --timeout 5s -s "$SHARED/bench/lua/bench.lua" "http://127.0.0.1:${PORT[$s]}/" |
    grep '^BENCH_RESULT')
  req=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<< "$out")
  awk -v r="$req" -v s="$secs" -v c="$(( $(cpu_ns "${PID[$s]}") - c0 ))" \
    -v p="$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<< "$out")" \
    -v e="$(sed -E 's/.* err_status=([0-9]+).*/\1/' <<< "$out")" \
    'BEGIN { printf "%.0f %d %.1f %d", r / s, p, (r > 0 ? c / 1000 / r : 0), e }'
}

declare -A RPS P99 CPU ERR
for s in "${SYSTEMS[@]}"; do run "$s" 2 > /dev/null; done   # warm up
n=${#SYSTEMS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
  line="round $r:"
  for ((k = 0; k < n; k++)); do
    s=${SYSTEMS[$(( (r - 1 + k) % n ))]}
    read -r rps p99 cpu err <<< "$(run "$s" "$DURATION")"
    RPS[$s]+="$rps " P99[$s]+="$p99 " CPU[$s]+="$cpu " ERR[$s]=$(( ${ERR[$s]:-0} + err ))
    line+=" $s=${rps}rps/${p99}us/${cpu}µs"
  done
  echo "$line"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }
echo
printf '%-7s | %8s %13s %6s | %8s | %14s %6s | %s\n' system rps "(min–max)" ratio "p99 µs" "CPU µs/request" ratio non-2xx
r0=$(echo "${RPS[tiers]}" | median) c0=$(echo "${CPU[tiers]}" | median)
for s in "${SYSTEMS[@]}"; do
  r=$(echo "${RPS[$s]}" | median) c=$(echo "${CPU[$s]}" | median)
  printf '%-7s | %8s %13s %6s | %8s | %14s %6s | %s\n' "$s" "$r" "($(echo "${RPS[$s]}" | spread))" \
    "$(awk -v a="$r" -v b="$r0" 'BEGIN{printf "%.3f", a / b}')" "$(echo "${P99[$s]}" | median)" \
    "$c" "$(awk -v a="$c" -v b="$c0" 'BEGIN{printf "%.3f", a / b}')" "${ERR[$s]}"
done
# Per round, policy against tiers in the same round: the ratio's own spread.
echo
echo -n "policy / tiers rps per round:"
read -ra a <<< "${RPS[tiers]}"; read -ra b <<< "${RPS[policy]}"
for ((r = 0; r < ROUNDS; r++)); do echo -n " $(awk -v x="${b[$r]}" -v y="${a[$r]}" 'BEGIN{printf "%.3f", x / y}')"; done
echo
echo
echo "policy gateway after the rounds (its /metrics):"
curl -s "http://127.0.0.1:29391/metrics" |
  grep -E '^gatehouse_(requests_total|sessions_started_total|seats_in_use|seat_refusals_total)' | grep -v ' 0$' || true
