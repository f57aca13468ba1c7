#!/usr/bin/env bash
# What idle client connections cost the gateway in resident memory, and whether it comes back.
#
#   bench/idle-conns.sh [--conns N] [--bursts B] [--settle S] [--hold S] BINARY [BINARY ...]
#
# For each BINARY in turn (an A/B of two builds, typically): start `BINARY serve` on 127.0.0.1:24160
# with its own configuration and data directory under bench/run/idle-conns/ (max_connections and
# idle_timeout_secs raised so that the gateway keeps every connection for the whole burst), then
# B bursts (default 2): a client opens N (default 10000) TCP connections to the proxy port and sends
# nothing; once the gateway holds them all (its open descriptors, from /proc/PID/fd) and HOLD
# seconds (default 5) passed, the client closes them all and the script waits SETTLE seconds
# (default 60). It reads VmRSS from /proc/PID/status before the first burst, with the connections
# open, and SETTLE seconds after they closed, and prints per burst:
#   open_mib   RSS with N idle connections open      per_conn  (open - before) / N
#   after_mib  RSS SETTLE s after they closed        back      after relative to before
# Each burst connects from its own loopback source address (127.0.0.1, .2, …) so that the previous
# burst's TIME_WAIT sockets do not run out the ephemeral ports. `ulimit -n` is raised to the hard
# limit (at least N + 100 is needed). Only loopback addresses are used. Everything started is
# stopped by PID on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/bench/run/idle-conns
CONNS=10000 BURSTS=2 SETTLE=60 HOLD=5
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --conns) CONNS=$2; shift;;
    --bursts) BURSTS=$2; shift;;
    --settle) SETTLE=$2; shift;;
    --hold) HOLD=$2; shift;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) BINS+=("$(realpath "$1")");;
  esac
  shift
done
[[ ${#BINS[@]} -gt 0 ]] || { echo "usage: bench/idle-conns.sh [--conns N] BINARY..." >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= CONNS + 100 )) || { echo "ulimit -n $(ulimit -n) is too low for $CONNS connections" >&2; exit 1; }
command -v python3 > /dev/null || { echo "needs python3" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

rss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# The client: opens N connections from SOURCE, prints `open`, waits for a line on stdin, closes them
# all, prints `closed`.
CLIENT='
import socket, sys
n, port, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("open", flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
print("closed", flush=True)
'

printf '%-40s %5s %10s %10s %10s %10s %8s\n' binary burst before_mib open_mib per_conn_kib after_mib back
for i in "${!BINS[@]}"; do
  bin=${BINS[$i]} dir=$RUN/gh$i port=24160
  start_gatehouse "$bin" "$dir" $port 29360 "max_connections = $((CONNS + 1000))
idle_timeout_secs = 3600"
  pid=${PIDS[-1]}
  sleep 2
  before=$(rss_kib "$pid")
  base_fds=$(ls /proc/"$pid"/fd | wc -l)
  for b in $(seq "$BURSTS"); do
    coproc CLIENT_PROC { python3 -c "$CLIENT" "$CONNS" $port "127.0.0.$b"; }
    cpid=$CLIENT_PROC_PID cout=${CLIENT_PROC[0]} cin=${CLIENT_PROC[1]}
    PIDS+=("$cpid")
    read -r line <&"$cout"
    [[ $line == open ]] || { echo "client failed" >&2; exit 1; }
    for _ in $(seq 600); do
      (( $(ls /proc/"$pid"/fd | wc -l) >= base_fds + CONNS )) && break
      sleep 0.1
    done
    sleep "$HOLD"
    open=$(rss_kib "$pid")
    echo >&"$cin"
    read -r line <&"$cout"
    wait "$cpid" 2> /dev/null || true
    sleep "$SETTLE"
    after=$(rss_kib "$pid")
    printf '%-40s %5s %10s %10s %10s %10s %7s%%\n' "$(basename "$(dirname "$bin")")/$(basename "$bin")" "$b" \
      "$(mib "$before")" "$(mib "$open")" "$(awk -v o="$open" -v b="$before" -v n="$CONNS" 'BEGIN { printf "%.1f", (o - b) / n }')" \
      "$(mib "$after")" "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%+.0f", (a - b) * 100 / b }')"
  done
  kill "$pid"; wait "$pid" 2> /dev/null || true
done
