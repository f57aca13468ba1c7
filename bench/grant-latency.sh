#!/usr/bin/env bash
# How fast a grant approved is honoured by the proxy (target: within one second, p99), and how
# fast its revocation: the release binary, started once (`--serve 1`, default) or twice on one data
# directory (`--serve 2`: every gateway process on the store must honour it), measured by the
# driver `crates/gatehouse/examples/grant_latency.rs`.
#
#   bench/grant-latency.sh [--rounds N] [--interval-ms MS] [--serve 1|2] BINARY
#
# The driver runs the origin itself (127.0.0.3, any port; the configuration maps `other.test`
# there). Each round: `ada` (tier `filtered`: `other.test` is on no list) is refused at
# `http://other.test:PORT/` by every gateway; she asks for `domain:other.test` and `lib` (role
# `approver`, scope `domain:other.test`, set up here with the CLI) approves, through the store as
# `gatehouse review approve` does; from the return of that commit each gateway is polled every
# MS milliseconds (default 5) on a fresh connection until it answers 200. Then the grant is revoked
# and each gateway polled until it refuses again. A random pause of 0–300 ms before each. It
# prints every round, then per gateway p50/p99/max of both delays. Default 100 rounds.
#
# The driver is built here (`cargo build --release -p gatehouse --example grant_latency`, with the
# caller's CARGO_TARGET_DIR) unless DRIVER names it. gatehouse listens on 24240 (and 24241) for the proxy, 24250 (24251)
# for admin, 24260 (24261) for the portal. Everything started is stopped by PID on exit. Only
# loopback addresses are used.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/bench/run/grant-latency
ROUNDS=100 INTERVAL=5 SERVE=1 BIN=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift;;
    --interval-ms) INTERVAL=$2; shift;;
    --serve) SERVE=$2; shift;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) BIN=$(realpath "$1");;
  esac
  shift
done
[[ -n $BIN ]] || { echo "usage: bench/grant-latency.sh [--rounds N] [--interval-ms MS] [--serve 1|2] BINARY" >&2; exit 2; }
[[ $SERVE == 1 || $SERVE == 2 ]] || { echo "--serve is 1 or 2" >&2; exit 2; }

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

if [[ -z ${DRIVER:-} ]]; then
  (cd "$REPO" && cargo build --release -q -p gatehouse --example grant_latency)
  DRIVER=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/grant_latency
fi

rm -rf "$RUN"; mkdir -p "$RUN"
DATA=$RUN/data
PASSWORD=grants-bench-password
for i in $(seq 0 $((SERVE - 1))); do
  cat > "$RUN/gatehouse-$i.toml" << TOML
[proxy]
listen = "127.0.0.1:$((24240 + i))"
[admin]
listen = "127.0.0.1:$((24250 + i))"
[portal]
listen = "127.0.0.1:$((24260 + i))"
[dns]
hosts = { "other.test" = ["127.0.0.3"] }
[network]
allow = ["127.0.0.3/32"]
[lists.research]
domains = ["allowed.test"]
[tiers.filtered]
allow = ["research"]
TOML
done
on=(--config "$RUN/gatehouse-0.toml" --data-dir "$DATA")
echo "$PASSWORD" | "$BIN" user add ada --tier filtered --password-stdin "${on[@]}" > /dev/null
"$BIN" user add lib --tier none --role approver "${on[@]}" > /dev/null
"$BIN" approver add lib --scope domain:other.test "${on[@]}" > /dev/null

proxies=()
for i in $(seq 0 $((SERVE - 1))); do
  "$BIN" serve --config "$RUN/gatehouse-$i.toml" --data-dir "$DATA" > "$RUN/serve-$i.log" 2>&1 &
  PIDS+=($!)
  wait_port $((24240 + i)) || { echo "gatehouse $i did not start (see $RUN/serve-$i.log)" >&2; exit 1; }
  proxies+=(--proxy "127.0.0.1:$((24240 + i))")
done

echo "grant latency: $SERVE gateway process(es) on one store, $ROUNDS rounds, polled every $INTERVAL ms"
"$DRIVER" --data-dir "$DATA" "${proxies[@]}" --rounds "$ROUNDS" --interval-ms "$INTERVAL" \
  --password "$PASSWORD" | tee "$RUN/rounds.txt" | grep -v '^round '
