#!/usr/bin/env bash
# gatehouse benchmarks, one command: builds gatehouse and genlist (release), generates a
# 1,000,000-domain list, writes a bench configuration and data directory under bench/run/,
# and measures, in this order:
#   1. list load: `gatehouse check-config` on the bench configuration under /usr/bin/time -v
#      (wall time and max RSS; check-config loads every list), LOAD_RUNS times, and once on
#      the same configuration without the big list (the difference is the list's cost);
#      then `gatehouse serve` alone, idle: RSS (VmRSS 3 s after listening, VmHWM) with and
#      without the big list, and once on a fresh data directory (first start);
#   2. the shared side-by-side harness ../shared/bench/run.sh (direct, squid, tinyproxy and
#      gatehouse in one run: rps, p50/p99, 64 MiB plain HTTP, CONNECT TLS and raw,
#      tunnels/s, RSS idle/after/peak), gatehouse authenticating every request as user
#      `bench` (tier open: the harness only ever addresses its origin as 127.0.0.1);
#   3. extra wrk runs on the same still-running systems (same shape as the harness: wrk
#      -t$THREADS -c$CONNS -d${DURATION}s, shared lua/bench.lua), recording proxy CPU
#      µs/request from /proc/PID/stat (utime+stime delta / requests) and RSS during load, for
#      squid, gatehouse (open tier, 127.0.0.1) and gatehouse (filtered tier, the origin
#      addressed by a name that is a subdomain of an entry of the 1M list, so that every
#      request pays the 1M-list lookup); plus syscalls/request (strace -c -f, short run);
#   4. bench/tunnel.sh --floor: CONNECT TLS and raw, direct, gatehouse and the floor relay
#      (tools/floor-relay) in alternating rounds (TUNNEL_ROUNDS=9) on their own nginx, with
#      CPU per MB of the proxy and of the machine;
#   5. the criterion bench of the decision with the 1M list (crates/policy/benches/decide.rs).
# Everything lands in bench/run/results/<stamp>/ (summary.md = all tables); bench/run/ is
# not versioned. Every process this script (or the harness) started is stopped by PID.
#
#   bench/run.sh [--quick] [--no-install] [--no-criterion] [--no-harness] [--no-extra] [--no-tunnel]
#
# --quick         harness --quick (1 run of 3 s, ...), extra runs of 3 s x1, LOAD_RUNS=1
# --no-install    do not apt-get install missing tools (fail instead)
# --no-criterion  skip step 5;  --no-harness  skip step 2;  --no-extra  skip step 3
# --no-tunnel     skip step 4
# Env: GATEHOUSE_SHARED (default: <repo>/../shared), CARGO_TARGET_DIR (default <repo>/target),
#   GH_PORT=3128 GH_ADMIN_PORT=19090, BULK_RUNS=5 (the harness's own default is 3), LIST_COUNT=1000000, LOAD_RUNS=3, EXTRA_RUNS=2, NICE=0,
#   DURATION/THREADS/CONNS/RUNS/WAIT_IDLE/... are passed to the harness (see its header).
# Needs root for apt-get (only when something is missing) and for the harness (it chowns
# squid's and tinyproxy's run folders). Only loopback addresses are ever targeted.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
RUN=$BENCH/run
QUICK=0 INSTALL=1 DO_CRITERION=1 DO_HARNESS=1 DO_EXTRA=1 DO_TUNNEL=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1;;
    --no-install) INSTALL=0;;
    --no-criterion) DO_CRITERION=0;;
    --no-harness) DO_HARNESS=0;;
    --no-extra) DO_EXTRA=0;;
    --no-tunnel) DO_TUNNEL=0;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2;;
  esac
  shift
done

# The 64 MiB rows (plain, CONNECT TLS, raw) take the median of BULK_RUNS transfers of ~50 ms
# each; the harness's default of 3 lets one slow transfer of two decide the CONNECT ratio.
if [[ $QUICK == 0 ]]; then export BULK_RUNS=${BULK_RUNS:-5}; fi
GH_PORT=${GH_PORT:-3128}
GH_ADMIN_PORT=${GH_ADMIN_PORT:-19090}
LIST_COUNT=${LIST_COUNT:-1000000}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
if [[ $QUICK == 1 ]]; then
  LOAD_RUNS=${LOAD_RUNS:-1}; EXTRA_RUNS=${EXTRA_RUNS:-1}; EXTRA_DURATION=${EXTRA_DURATION:-3}
else
  LOAD_RUNS=${LOAD_RUNS:-3}; EXTRA_RUNS=${EXTRA_RUNS:-2}; EXTRA_DURATION=${EXTRA_DURATION:-${DURATION:-10}}
fi
BENCH_USER=bench BENCH_PASS=bench-password        # tier open: the harness's user
FILT_USER=bench-filtered FILT_PASS=bench-password # tier filtered: the by-name extra runs

# NICE=-10: run everything (this script, the harness, the servers, wrk, cargo bench) at that
# priority, so that other jobs on a shared machine disturb less; passed on to the harness too.
NICE=${NICE:-0}
export NICE
if [[ $NICE != 0 ]]; then renice -n "$NICE" -p $$ > /dev/null || { echo "renice $NICE failed" >&2; exit 1; }; fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ------------------------------------------------------------------ the shared harness
SHARED=${GATEHOUSE_SHARED:-$REPO/../shared}
if [[ ! -f "$SHARED/bench/run.sh" ]]; then
  die "the shared benchmark harness is not at $SHARED/bench/run.sh: this script expects the
       repository's parent folder to hold shared/ (as on the team's machines and in CI), or
       GATEHOUSE_SHARED=/path/to/shared"
fi
SHARED=$(cd "$SHARED" && pwd)
HARNESS=$SHARED/bench/run.sh
HARNESS_RUN=$RUN/harness         # the harness's runtime dir (BENCH_RUN_DIR): keeps shared/ clean

# ------------------------------------------------------------------ 0. tools
need=(nginx squid tinyproxy wrk curl hyperfine openssl python3 ss setsid cargo)
missing=()
for b in "${need[@]}"; do command -v "$b" > /dev/null || missing+=("$b"); done
[[ -x /usr/bin/time ]] || missing+=(time)
command -v strace > /dev/null || missing+=(strace)
if [[ ${#missing[@]} -gt 0 ]]; then
  log "missing: ${missing[*]}"
  [[ $INSTALL == 1 ]] || die "install them (see the harness README) or run without --no-install"
  [[ $(id -u) == 0 ]] || die "apt-get needs root"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  squid_pkg=squid-openssl
  apt-cache show squid-openssl > /dev/null 2>&1 || squid_pkg=squid
  apt-get install -y -qq "$squid_pkg" tinyproxy wrk nginx hyperfine curl openssl iproute2 \
    util-linux time strace > /dev/null
  for b in "${need[@]}"; do command -v "$b" > /dev/null || die "still missing $b after apt-get"; done
  # Debian's packages may start system squid/nginx/tinyproxy services on install; the harness
  # uses its own ports (13128, 18080, 18443, 18888), and gatehouse needs $GH_PORT free.
fi

# ------------------------------------------------------------------ process tracking
declare -A MINE=()    # name -> pid of what this script started itself
stop_pid() { # name pid
  local name=$1 pid=$2 i
  kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2> /dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
  fi
  wait "$pid" 2> /dev/null || true
}
# The harness runs with --keep (so that step 3 can reuse its origin, squid and gatehouse);
# it records what it started in $HARNESS_RUN/pids/NAME.pid. Stop exactly those, and only
# while the PID still runs the program of that name.
stop_harness_servers() {
  local f name pid exe
  for f in "$HARNESS_RUN"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f" .pid); pid=$(cat "$f")
    exe=$(readlink "/proc/$pid/exe" 2> /dev/null || true)
    case "$name:$(basename "${exe:-none}")" in
      nginx:nginx|squid:squid|tinyproxy:tinyproxy|gatehouse:gatehouse)
        stop_pid "$name" "$pid"; log "stopped $name (pid $pid)";;
      *) [[ -n "$exe" ]] && log "not stopping pid $pid from $f: runs $exe";;
    esac
    rm -f "$f" "$f.exe"
  done
}
cleanup() {
  local rc=$? n
  trap - EXIT INT TERM
  for n in "${!MINE[@]}"; do stop_pid "$n" "${MINE[$n]}"; done
  stop_harness_servers
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -E
trap 'log "FATAL: line $LINENO: \"$BASH_COMMAND\" failed"' ERR

# ------------------------------------------------------------------ 1. build
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
log "building gatehouse and genlist (release, target dir $CARGO_TARGET_DIR)"
(cd "$REPO" && cargo build --release -p gatehouse -p genlist) || die "cargo build failed"
GH=$CARGO_TARGET_DIR/release/gatehouse
GENLIST=$CARGO_TARGET_DIR/release/genlist
[[ -x $GH && -x $GENLIST ]] || die "binaries missing under $CARGO_TARGET_DIR/release"
if [[ $DO_CRITERION == 1 ]]; then
  (cd "$REPO" && cargo bench -p policy --bench decide --no-run) || die "cannot build the criterion bench"
fi

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$RUN/results/$STAMP
mkdir -p "$OUT"
log "results -> $OUT"

# ------------------------------------------------------------------ 2. list, config, users
GHDIR=$RUN/gatehouse
mkdir -p "$GHDIR"
LIST=$GHDIR/big.txt
if [[ ! -s $LIST || "$(cat "$LIST.count" 2> /dev/null)" != "$LIST_COUNT" ]]; then
  log "generating $LIST_COUNT domains -> $LIST"
  "$GENLIST" --count "$LIST_COUNT" --format plain --out "$LIST"
  echo "$LIST_COUNT" > "$LIST.count"
fi
# The origin's name for the filtered-tier runs: a subdomain of an ASCII entry of the list.
entry=$(awk -v n=$((LIST_COUNT / 2)) 'NR >= n && /^[a-z0-9][a-z0-9.-]*[a-z]$/ { print; exit }' "$LIST")
[[ -n "$entry" ]] || die "no ASCII entry found in $LIST"
ORIGIN_NAME=bench.$entry
UNLISTED_NAME=unlisted.bench-origin.test   # on no list: the filtered tier must refuse it

write_config() { # file with_big(0|1)
  local f=$1 big=$2
  {
    echo "# written by bench/run.sh: gatehouse under the shared benchmark harness"
    echo "[proxy]"
    echo "listen = \"127.0.0.1:$GH_PORT\""
    echo "# the harness tunnels TLS to :18443 and, for the raw relay column, plain HTTP to :18080"
    echo "connect_ports = [443, 18443, 18080]"
    echo "[admin]"
    echo "listen = \"127.0.0.1:$GH_ADMIN_PORT\""
    echo "[dns]"
    echo "hosts = { \"$ORIGIN_NAME\" = [\"127.0.0.1\"], \"$UNLISTED_NAME\" = [\"127.0.0.1\"] }"
    echo "[network]"
    echo "# the harness's origin (nginx) is on 127.0.0.1:18080 / :18443"
    echo "allow = [\"127.0.0.1/32\"]"
    echo "[policy]"
    echo "deny = [\"bench-deny\"]"
    echo "[lists.bench-deny]"
    echo "domains = [\"doubleclick.net\", \"ads.example.com\", \"malware.example\"]"
    if [[ $big == 1 ]]; then
      echo "[lists.big]"
      echo "format = \"plain\""
      echo "path = \"big.txt\""
      echo "[tiers.filtered]"
      echo "allow = [\"big\"]"
    else
      echo "[lists.small]"
      echo "domains = [\"$entry\"]"
      echo "[tiers.filtered]"
      echo "allow = [\"small\"]"
    fi
  } > "$f"
}
CFG=$GHDIR/gatehouse.toml
CFG_NOBIG=$GHDIR/gatehouse-nobig.toml
write_config "$CFG" 1
write_config "$CFG_NOBIG" 0

DATA=$GHDIR/data
rm -rf "$DATA"
mkdir -p "$DATA"
printf '%s\n' "$BENCH_PASS" | "$GH" user add "$BENCH_USER" --tier open --password-stdin \
  --config "$CFG" --data-dir "$DATA" > "$OUT/user-add.log" 2>&1 || die "user add failed ($OUT/user-add.log)"
printf '%s\n' "$FILT_PASS" | "$GH" user add "$FILT_USER" --tier filtered --password-stdin \
  --config "$CFG" --data-dir "$DATA" >> "$OUT/user-add.log" 2>&1 || die "user add failed ($OUT/user-add.log)"

# ------------------------------------------------------------------ 3. list load time
load_row() { # label config -> "wall_s maxrss_kb" (wall clock from date, max RSS from time -v)
  local out t0 t1
  t0=$(date +%s%N)
  out=$( { /usr/bin/time -v "$GH" check-config "$2" > "$OUT/check-config-$1.out"; } 2>&1 ) \
    || die "check-config $2 failed: $(cat "$OUT/check-config-$1.out") $out"
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) -F': ' '/Maximum resident set size/ { r = $2 } END { printf "%.3f %d\n", ns / 1e9, r }' <<< "$out"
}
log "list load: check-config x$LOAD_RUNS"
{
  printf 'config\trun\twall_s\tmax_rss_kb\n'
  for ((i = 1; i <= LOAD_RUNS; i++)); do printf 'big\t%d\t%s\n' "$i" "$(load_row big "$CFG" | tr ' ' '\t')"; done
  printf 'nobig\t1\t%s\n' "$(load_row nobig "$CFG_NOBIG" | tr ' ' '\t')"
} > "$OUT/list-load.tsv"
log "$(cat "$OUT/check-config-big.out")"

# Steady-state memory of the running gateway with and without the big list: `serve` alone,
# idle, 3 s after it listens (VmRSS) and its peak so far (VmHWM, i.e. during the list load),
# on a copy of the prepared store (users already added, as in the harness run) and, once, on
# a fresh data directory (first start: the admin's password is hashed with argon2 at start).
serve_rss() { # label config fresh(0|1) -> "rss_kb hwm_kb start_s"
  local d=$GHDIR/data-rss-$1 pid t0 t1 i
  rm -rf "$d"
  if [[ $3 == 1 ]]; then mkdir -p "$d"; else cp -a "$DATA" "$d"; fi
  t0=$(date +%s%N)
  setsid "$GH" serve --config "$2" --data-dir "$d" > "$OUT/serve-rss-$1.log" 2>&1 < /dev/null &
  pid=$!; MINE[serve-rss]=$pid
  for ((i = 0; i < 300; i++)); do
    [[ -n "$(ss -Hltn "( sport = :$GH_PORT )" 2> /dev/null)" ]] && break
    kill -0 "$pid" 2> /dev/null || die "gatehouse serve ($1) exited (see $OUT/serve-rss-$1.log)"
    sleep 0.05
  done
  t1=$(date +%s%N)
  sleep 3
  printf '%s %s %.2f\n' "$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status")" \
    "$(awk '$1 == "VmHWM:" {print $2}' "/proc/$pid/status")" "$(awk -v n=$((t1 - t0)) 'BEGIN{print n / 1e9}')"
  stop_pid serve-rss "$pid"; unset 'MINE[serve-rss]'
  rm -rf "$d"
}
if [[ -n "$(ss -Hltn "( sport = :$GH_PORT )" 2> /dev/null)" ]]; then
  die "port $GH_PORT is in use (set GH_PORT to a free loopback port)"
fi
log "serve alone, idle: RSS with and without the big list"
{
  printf 'config\tidle_rss_kb\tpeak_rss_kb\tstart_to_listen_s\n'
  printf 'big\t%s\n' "$(serve_rss big "$CFG" 0 | tr ' ' '\t')"
  printf 'nobig\t%s\n' "$(serve_rss nobig "$CFG_NOBIG" 0 | tr ' ' '\t')"
  printf 'big-first-start\t%s\n' "$(serve_rss big-first-start "$CFG" 1 | tr ' ' '\t')"
} > "$OUT/serve-rss.tsv"

# ------------------------------------------------------------------ 4. the shared harness
CURLHOME=$RUN/curlhome
mkdir -p "$CURLHOME"
printf 'proxy-user = "%s:%s"\n' "$BENCH_USER" "$BENCH_PASS" > "$CURLHOME/.curlrc"
AUTH="Basic $(printf '%s:%s' "$BENCH_USER" "$BENCH_PASS" | base64)"
GH_CMD="$GH serve --config $CFG --data-dir $DATA"
harness_args=(--keep --proxy "gatehouse=127.0.0.1:$GH_PORT" --cmd "gatehouse=$GH_CMD")
[[ $QUICK == 1 ]] && harness_args+=(--quick)
if [[ $DO_HARNESS == 1 ]]; then
  log "shared harness: $HARNESS ${harness_args[*]}"
  mkdir -p "$HARNESS_RUN"
  CURL_HOME=$CURLHOME BENCH_PROXY_AUTHORIZATION=$AUTH BENCH_RUN_DIR=$HARNESS_RUN \
    "$HARNESS" "${harness_args[@]}" 2>&1 | tee "$OUT/harness.log" || die "the harness failed (see $OUT/harness.log)"
  cp "$HARNESS_RUN/results/latest.md" "$OUT/harness-report.md"
  hdir=$(grep -o 'results -> .*' "$OUT/harness.log" | head -n 1 | cut -d' ' -f3)
  [[ -n "$hdir" ]] && echo "$hdir" > "$OUT/harness-results-dir.txt"
fi

# ------------------------------------------------------------------ 5. extra runs
pid_of() { # name: PID recorded by the harness, if that process still runs
  local f=$HARNESS_RUN/pids/$1.pid
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2> /dev/null && cat "$f"
}
jiffies() { local st; st=$(cat "/proc/$1/stat" 2> /dev/null) || { echo 0; return; }; st=${st##*) }; awk '{print $12 + $13}' <<< "$st"; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }

# Machine-wide CPU (busy, total jiffies over all CPUs) and kernel threads' CPU, as the harness
# counts them, to tell how much of the machine other jobs used during a run.
cpu_stat() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat; }
kthread_jiffies() {
  # processes come and go while cat reads: its complaints about vanished ones do not matter
  { cat /proc/[0-9]*/stat 2> /dev/null || true; } | awk '{ pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, a, " ");
    if (a[2] == 2 || pid == 2) t += a[12] + a[13] } END { print t + 0 }'
}
tree_jiffies() { # pid and its children
  local p t=0
  [[ -n "$1" && -d /proc/$1 ]] || { echo 0; return; }
  for p in "$1" $(pgrep -P "$1" 2> /dev/null || true); do t=$((t + $(jiffies "$p"))); done
  echo "$t"
}

extra_run() { # label run proxy_addr target host_header auth pid
  local label=$1 i=$2 addr=$3 target=$4 host=$5 auth=$6 pid=$7 out res j0 j1 rss
  local b0 t0 b1 t1 k0 k1 n0 n1 w tck bg
  tck=$(getconf CLK_TCK)
  out=$OUT/extra-wrk-$label-r$i.txt
  sleep 1
  read -r b0 t0 < <(cpu_stat); k0=$(kthread_jiffies); n0=$(tree_jiffies "$NGINX_PID")
  j0=$(jiffies "$pid")
  ( sleep $((EXTRA_DURATION / 2)); rss_kb "$pid" > "$out.rss" ) &
  local sampler=$!
  BENCH_TARGET=$target BENCH_HOST=$host BENCH_PROXY_AUTHORIZATION=$auth \
    timeout $((EXTRA_DURATION + 30)) /usr/bin/time -f '%U %S' -o "$out.time" \
    wrk -t"$THREADS" -c"$CONNS" -d"${EXTRA_DURATION}s" --timeout 5s \
    -s "$SHARED/bench/lua/bench.lua" "http://$addr/" > "$out" 2>&1 || log "$label: wrk exited non-zero"
  j1=$(jiffies "$pid")
  read -r b1 t1 < <(cpu_stat); k1=$(kthread_jiffies); n1=$(tree_jiffies "$NGINX_PID")
  wait "$sampler" 2> /dev/null || true
  rss=$(cat "$out.rss" 2> /dev/null || echo 0)
  # other jobs' share of the machine = busy - proxy - origin - wrk - kernel threads
  w=$(awk -v t="$tck" '{ printf "%d", ($1 + $2) * t }' "$out.time" 2> /dev/null || echo 0)
  bg=$(awk -v b=$((b1 - b0)) -v p=$((j1 - j0)) -v n=$((n1 - n0)) -v w="$w" -v k=$((k1 - k0)) -v t=$((t1 - t0)) \
       'BEGIN { f = (t > 0) ? (b - p - n - w - k) / t * 100 : 0; if (f < 0) f = 0; printf "%.1f", f }')
  res=$(grep '^BENCH_RESULT' "$out" || true)
  [[ -n "$res" ]] || { log "$label: no wrk result ($out)"; return 0; }
  local requests duration_us bytes err_connect err_read err_write err_status err_timeout p50_us p90_us p99_us mean_us max_us
  eval "$(echo "${res#BENCH_RESULT }" | tr ' ' '\n' | grep -E '^[a-z0-9_]+=[0-9.]+$')"
  printf '%s\t%d\t%.0f\t%d\t%d\t%.1f\t%d\t%d\t%d\t%s\n' "$label" "$i" \
    "$(awk -v r="$requests" -v d="$duration_us" 'BEGIN{print r / (d / 1e6)}')" "$p50_us" "$p99_us" \
    "$(awk -v j=$((j1 - j0)) -v t="$tck" -v r="$requests" 'BEGIN{print (r > 0) ? j / t * 1e6 / r : 0}')" \
    "$rss" "$err_read" $((err_connect + err_write + err_status + err_timeout)) "$bg" >> "$OUT/extra.tsv"
  log "$label run $i: $requests req, p50 ${p50_us}us p99 ${p99_us}us, CPU $(tail -n 1 "$OUT/extra.tsv" | cut -f6) us/req, RSS ${rss} kB, read errors $err_read, other jobs ${bg}%"
}

syscalls_per_req() { # label addr target host auth pid
  local label=$1 addr=$2 target=$3 host=$4 auth=$5 pid=$6 out=$OUT/strace-$1 res requests calls
  command -v strace > /dev/null || return 0
  strace -c -f -q -p "$pid" -o "$out.txt" &
  local spid=$!
  MINE[strace]=$spid
  sleep 1
  BENCH_TARGET=$target BENCH_HOST=$host BENCH_PROXY_AUTHORIZATION=$auth \
    timeout 40 wrk -t1 -c8 -d3s --timeout 5s -s "$SHARED/bench/lua/bench.lua" "http://$addr/" > "$out.wrk" 2>&1 || true
  sleep 0.5
  kill -INT "$spid" 2> /dev/null || true
  wait "$spid" 2> /dev/null || true
  unset 'MINE[strace]'
  res=$(grep '^BENCH_RESULT' "$out.wrk" || true)
  requests=$(grep -o 'requests=[0-9]*' <<< "$res" | cut -d= -f2 || true)
  # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall
  calls=$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 { s += $4 } END { print s + 0 }' "$out.txt" 2> /dev/null || echo 0)
  local top
  top=$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 { print $4, $NF }' "$out.txt" 2> /dev/null \
        | sort -rn | head -n 6 | awk -v r="${requests:-1}" '{ printf "%s %.2f, ", $2, $1 / r }')
  if [[ "${requests:-0}" -gt 0 && "${calls:-0}" -gt 0 ]]; then
    printf '%s\t%s\t%s\t%.2f\t%s\n' "$label" "$requests" "$calls" \
      "$(awk -v c="$calls" -v r="$requests" 'BEGIN{print c / r}')" "${top%, }" >> "$OUT/syscalls.tsv"
    log "$label: $(tail -n 1 "$OUT/syscalls.tsv" | cut -f4) syscalls/request under strace (${top%, })"
  else
    log "$label: no syscall count (strace: $out.txt, wrk: $out.wrk)"
  fi
}

if [[ $DO_EXTRA == 1 && $DO_HARNESS == 1 ]]; then
  GH_PID=$(pid_of gatehouse || true)
  SQUID_PID=$(pid_of squid || true)
  NGINX_PID=$(pid_of nginx || true)
  [[ -n "$GH_PID" ]] || die "gatehouse is not running after the harness (see $OUT/harness.log)"
  FAUTH="Basic $(printf '%s:%s' "$FILT_USER" "$FILT_PASS" | base64)"
  # Sanity: the filtered tier allows the origin by name (1M-list hit) and refuses an unlisted name.
  code=$(curl -q -sS --max-time 10 -x "http://127.0.0.1:$GH_PORT" -U "$FILT_USER:$FILT_PASS" -o /dev/null \
         -w '%{http_code}' "http://$ORIGIN_NAME:18080/1k?b=gh-filtered.check." 2>&1 || true)
  code2=$(curl -q -sS --max-time 10 -x "http://127.0.0.1:$GH_PORT" -U "$FILT_USER:$FILT_PASS" -o /dev/null \
         -w '%{http_code}' "http://$UNLISTED_NAME:18080/1k" 2>&1 || true)
  log "filtered tier: $ORIGIN_NAME -> $code (want 200), $UNLISTED_NAME -> $code2 (want 403)"
  printf 'filtered_by_name\t%s\t%s\nfiltered_unlisted\t%s\t%s\n' "$ORIGIN_NAME" "$code" "$UNLISTED_NAME" "$code2" > "$OUT/filtered-check.tsv"
  printf 'label\trun\trps\tp50_us\tp99_us\tproxy_cpu_us_per_req\trss_load_kb\twrk_read_errors\tother_errors\tbg_cpu_pct\n' > "$OUT/extra.tsv"
  printf 'label\trequests\tsyscalls\tsyscalls_per_req\ttop\n' > "$OUT/syscalls.tsv"
  # interleaved (squid, gatehouse open, gatehouse filtered; then again) so that drift in the
  # machine's background load spreads over all three
  [[ $code == 200 ]] || log "skipping the filtered-tier runs: the by-name check got $code"
  for ((r = 1; r <= EXTRA_RUNS; r++)); do
    if [[ -n "$SQUID_PID" ]]; then
      extra_run squid "$r" "127.0.0.1:13128" "http://127.0.0.1:18080/1k?b=squid.x$r." "127.0.0.1:18080" "$AUTH" "$SQUID_PID"
    fi
    extra_run gatehouse-open "$r" "127.0.0.1:$GH_PORT" "http://127.0.0.1:18080/1k?b=gh-open.x$r." "127.0.0.1:18080" "$AUTH" "$GH_PID"
    if [[ $code == 200 ]]; then
      extra_run gatehouse-filtered-1M "$r" "127.0.0.1:$GH_PORT" "http://$ORIGIN_NAME:18080/1k?b=gh-filtered.x$r." \
        "$ORIGIN_NAME:18080" "$FAUTH" "$GH_PID"
    fi
  done
  if [[ -n "$SQUID_PID" ]]; then
    syscalls_per_req squid "127.0.0.1:13128" "http://127.0.0.1:18080/1k?b=squid.s." "127.0.0.1:18080" "$AUTH" "$SQUID_PID"
  fi
  syscalls_per_req gatehouse "127.0.0.1:$GH_PORT" "http://127.0.0.1:18080/1k?b=gh.s." "127.0.0.1:18080" "$AUTH" "$GH_PID"
  echo "$(rss_kb "$GH_PID")" > "$OUT/gatehouse-rss-end-kb.txt"
fi
stop_harness_servers

# ------------------------------------------------------------------ interleaved tunnels
if [[ $DO_TUNNEL == 1 ]]; then
  rounds=${TUNNEL_ROUNDS:-$([[ $QUICK == 1 ]] && echo 3 || echo 9)}
  log "interleaved CONNECT rounds: bench/tunnel.sh --rounds $rounds --floor"
  "$BENCH/tunnel.sh" --rounds "$rounds" --floor "$GH" > "$OUT/tunnel.txt" 2>&1 \
    || log "bench/tunnel.sh failed (see $OUT/tunnel.txt)"
fi

# ------------------------------------------------------------------ 6. criterion
if [[ $DO_CRITERION == 1 ]]; then
  log "criterion: cargo bench -p policy --bench decide"
  (cd "$REPO" && cargo bench -p policy --bench decide) > "$OUT/criterion.txt" 2>&1 \
    || log "criterion bench failed (see $OUT/criterion.txt)"
fi

# ------------------------------------------------------------------ summary
{
  echo "# gatehouse benchmark $STAMP"
  echo
  echo "command: NICE=$NICE BULK_RUNS=${BULK_RUNS:-3} bench/run.sh $([[ $QUICK == 1 ]] && echo --quick); host: $(nproc) cores, $(uname -r), loadavg now $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "gatehouse binary: $("$GH" --version 2> /dev/null), built $(date -r "$GH" '+%Y-%m-%d %H:%M:%S %Z') from the work tree at $REPO, sha256 $(sha256sum "$GH" | cut -c1-16)"
  echo "gatehouse: $GH_CMD (users: $BENCH_USER tier open for the harness, $FILT_USER tier filtered)"
  echo
  echo "## List load (gatehouse check-config, /usr/bin/time -v; $LIST_COUNT-domain plain list)"
  echo
  echo '```'; column -t "$OUT/list-load.tsv"; echo '```'
  echo; echo "gatehouse serve alone, idle 3 s after listening (store prepared; big-first-start: fresh data dir):"; echo
  echo '```'; column -t "$OUT/serve-rss.tsv"; echo '```'
  if [[ -f $OUT/harness-report.md ]]; then
    echo; echo "## Shared harness"; echo; sed '1,2d' "$OUT/harness-report.md"
  fi
  if [[ -f $OUT/extra.tsv ]]; then
    echo; echo "## Extra wrk runs (proxy CPU per request, RSS under load)"; echo
    echo '```'; column -t "$OUT/extra.tsv"; echo '```'
    echo; echo '```'; column -t "$OUT/filtered-check.tsv"; echo '```'
    echo; echo "syscalls per request (strace -c -f, wrk -t1 -c8 -d3s):"; echo
    echo '```'; column -t -s$'\t' "$OUT/syscalls.tsv"; echo '```'
  fi
  if [[ -f $OUT/tunnel.txt ]]; then
    echo; echo "## CONNECT, direct, gatehouse and the floor relay in alternating rounds (bench/tunnel.sh --floor)"; echo
    echo '```'; cat "$OUT/tunnel.txt"; echo '```'
  fi
  if [[ -f $OUT/criterion.txt ]]; then
    echo; echo "## criterion: decision with the 1M list"; echo
    echo '```'
    grep -E '^(fixture|request mix|clock overhead)|time:|^(decide|lookup|host_parse)/' "$OUT/criterion.txt" | grep -v 'Benchmarking' || true
    echo '```'
    echo; sed -n '/^tails in ns/,$p' "$OUT/criterion.txt"
  fi
} > "$OUT/summary.md"
cp "$OUT/summary.md" "$RUN/results/latest.md"
cat "$OUT/summary.md"
