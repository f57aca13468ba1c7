#!/usr/bin/env bash
# The portal dashboard benchmark (issue 12): `GET /dashboard` and `GET /api/v1/dashboard` must
# answer under 50 ms p99 with 1,000,000 audit events in the store.
#
#   bench/portal-dashboard.sh [EVENTS]     (default 1000000; env ROUNDS=3, REQUESTS=200,
#                                           CARGO_TARGET_DIR)
#
# Builds gatehouse and the filler (release), makes a fresh configuration and data directory under
# bench/run/dashboard/ (the research library example: three locations, its lists and rules, the
# portal on 127.0.0.1:24180), fills the store with EVENTS events spread over the last 24 hours
# through the store's own append (each with its leaf of the verifiable log;
# crates/gatehouse/examples/dashboard_fill.rs), adds the admin `root`, starts `gatehouse serve`,
# logs in through the login form and then, over one kept-alive connection:
# - times the first view of /dashboard alone (it folds every event into the rollup);
# - runs ROUNDS rounds of REQUESTS views of each page, alternating, and prints each round's p50
#   and p99, then the medians over the rounds.
# Everything started is stopped by PID on exit. Only loopback addresses are used.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EVENTS=${1:-1000000}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
RUN=$REPO/bench/run/dashboard
PROXY=24128 ADMIN=24190 PORTAL=24180
source "$REPO/bench/lib.sh"
cd "$REPO"
command -v python3 > /dev/null || { echo "needs python3" >&2; exit 1; }

cargo build --release -p gatehouse --bin gatehouse --example dashboard_fill
BIN=$TARGET/release/gatehouse
rm -rf "$RUN"; mkdir -p "$RUN"
EXAMPLE=$REPO/examples/research-library
sed -e "s/127.0.0.1:3128/127.0.0.1:$PROXY/" -e "s/127.0.0.1:9090/127.0.0.1:$ADMIN/" \
  "$EXAMPLE/gatehouse.toml" > "$RUN/gatehouse.toml"
printf '\n[portal]\nlisten = "127.0.0.1:%s"\n' "$PORTAL" >> "$RUN/gatehouse.toml"
cp "$EXAMPLE/rules.cedar" "$RUN/"
"$TARGET/release/examples/dashboard_fill" "$RUN/data" "$EVENTS"
echo dashboard-bench-pw | "$BIN" user add root --tier none --role admin --password-stdin \
  --data-dir "$RUN/data" > /dev/null
serve_gatehouse "$BIN" "$RUN" "$PROXY"
wait_port "$PORTAL" || { echo "the portal did not start (see $RUN/serve.log)" >&2; exit 1; }

python3 - "$PORTAL" "${ROUNDS:-3}" "${REQUESTS:-200}" << 'PY'
import http.client, json, math, re, statistics, sys, time, urllib.parse

port, rounds, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
origin = f"http://127.0.0.1:{port}"
conn = http.client.HTTPConnection("127.0.0.1", port)

def call(method, path, headers=None, body=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r, r.read()

def cookie(r, name):
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith(name + "="):
            return v.split(";", 1)[0]
    raise SystemExit(f"no {name} cookie")

r, body = call("GET", "/login")
token = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
form = urllib.parse.urlencode({"username": "root", "password": "dashboard-bench-pw", "csrf": token})
r, _ = call("POST", "/login", {"Origin": origin, "Cookie": cookie(r, "gatehouse_login"),
                               "Content-Type": "application/x-www-form-urlencoded"}, form)
if r.status != 303:
    raise SystemExit(f"login answered {r.status}")
session = {"Cookie": cookie(r, "gatehouse_session")}

def view(path):
    start = time.perf_counter()
    r, body = call("GET", path, session)
    ms = (time.perf_counter() - start) * 1000
    if r.status != 200:
        raise SystemExit(f"{path} answered {r.status}")
    return ms, body

first, _ = view("/dashboard")
print(f"first view of /dashboard (folds every event): {first:.0f} ms")
_, api = view("/api/v1/dashboard")
figures = json.loads(api)
print(f"the API counts {figures['traffic']['all']['requests']} requests in "
      f"{len(figures['traffic']['categories'])} categories and {figures['refusals']['total']} "
      f"refusals; answer {len(api)} bytes")

def pct(xs, p):
    xs = sorted(xs)  # nearest rank
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]

paths = ["/dashboard", "/api/v1/dashboard"]
p50 = {p: [] for p in paths}
p99 = {p: [] for p in paths}
for n in range(1, rounds + 1):
    times = {p: [] for p in paths}
    for _ in range(count):
        for p in paths:
            times[p].append(view(p)[0])
    for p in paths:
        p50[p].append(pct(times[p], 50))
        p99[p].append(pct(times[p], 99))
        print(f"round {n}: {p:<20} p50 {p50[p][-1]:6.2f} ms  p99 {p99[p][-1]:6.2f} ms  max {max(times[p]):6.2f} ms")
for p in paths:
    print(f"median of {rounds} rounds: {p:<20} p50 {statistics.median(p50[p]):6.2f} ms  "
          f"p99 {statistics.median(p99[p]):6.2f} ms")
PY
