# Shared plumbing of the alternating benchmarks (tunnel.sh, rps.sh, policy-rps.sh, instructions.sh),
# sourced, not run: the process list every script stops by PID on exit, waiting for a port, a
# one-worker nginx origin on loopback, and a gatehouse with user `bench` (tier `open`) on its own
# port and data directory.

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

# wait_port PORT [TRIES]: until 127.0.0.1:PORT accepts a connection (0.1 s per try, 100 tries).
wait_port() {
  for _ in $(seq "${2:-100}"); do (echo > /dev/tcp/127.0.0.1/$1) 2> /dev/null && return 0; sleep 0.1; done
  return 1
}

# start_nginx DIR SERVERS: nginx with one worker, its files under DIR/nginx, serving the
# `server { … }` blocks in SERVERS; waits for the first port named in them.
start_nginx() {
  local dir=$1 servers=$2 port
  mkdir -p "$dir/nginx/tmp"
  cat > "$dir/nginx/nginx.conf" << NGINX
daemon off;
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/nginx/tmp; proxy_temp_path $dir/nginx/tmp;
    fastcgi_temp_path $dir/nginx/tmp; uwsgi_temp_path $dir/nginx/tmp; scgi_temp_path $dir/nginx/tmp;
    $servers
}
NGINX
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
  PIDS+=($!)
  port=$(grep -o 'listen 127.0.0.1:[0-9]*' <<< "$servers" | head -n 1 | cut -d: -f2)
  wait_port "$port" || { echo "nginx did not start (see $dir/nginx/error.log)" >&2; exit 1; }
}

# gatehouse_dir BINARY DIR PORT ADMIN_PORT [TOML]: a fresh configuration and data directory in DIR
# for BINARY on PORT (extra `[proxy]` keys in TOML), with user `bench` / `bench-password`.
gatehouse_dir() {
  local bin=$1 dir=$2 port=$3 admin=$4 extra=${5:-}
  rm -rf "$dir"; mkdir -p "$dir"
  cat > "$dir/gatehouse.toml" << TOML
[proxy]
listen = "127.0.0.1:$port"
$extra
[admin]
listen = "127.0.0.1:$admin"
[network]
allow = ["127.0.0.1/32"]
TOML
  # A portal of its own per binary (two builds side by side must not share its port); a build
  # from before the portal has no `[portal]` section and refuses it.
  printf '[portal]\nlisten = "127.0.0.1:%s"\n' $((admin + 2000)) >> "$dir/gatehouse.toml"
  "$bin" check-config "$dir/gatehouse.toml" > /dev/null 2>&1 ||
    sed -i '/^\[portal\]$/,$d' "$dir/gatehouse.toml"
  echo bench-password | "$bin" user add bench --tier open --password-stdin --data-dir "$dir/data" > /dev/null
}

# policy_dir BINARY DIR PORT ADMIN_PORT: gatehouse_dir, plus the research library's places and rules
# (examples/research-library/gatehouse.toml from `[policy]` on, and its rules.cedar) and a terminal
# `bench-desk` for 127.0.0.1/32 (where the benchmarks' clients connect from) in its staff office,
# which has no hours and no seat limit. User `bench` is in group `staff` with tier `intranet`, which
# would refuse a 127.0.0.1 origin: what lets the request through is the rule `staff-office-open`
# (its @tier("open")). The result passes `policy check`.
policy_dir() {
  local bin=$1 dir=$2 example on g
  example=$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples/research-library" && pwd)
  gatehouse_dir "$@"
  awk '/^\[policy\]/ { on = 1 } on' "$example/gatehouse.toml" >> "$dir/gatehouse.toml"
  cat >> "$dir/gatehouse.toml" << 'TOML'

# The benchmark's client (it connects from 127.0.0.1): a desk in the staff office.
[[terminals]]
name = "bench-desk"
location = "staff-office"
addresses = ["127.0.0.1/32"]
TOML
  cp "$example/rules.cedar" "$dir/"
  on=(--config "$dir/gatehouse.toml" --data-dir "$dir/data")
  for g in researchers staff guests; do "$bin" group add "$g" "${on[@]}" > /dev/null; done
  "$bin" group add-member staff bench "${on[@]}" > /dev/null
  "$bin" user set-tier bench intranet "${on[@]}" > /dev/null
  "$bin" policy check "${on[@]}" > "$dir/check.log" 2>&1 ||
    { echo "policy check failed (see $dir/check.log)" >&2; exit 1; }
}

# serve_gatehouse BINARY DIR PORT: `BINARY serve` on DIR's configuration and data directory (made
# by gatehouse_dir), waiting until it listens; its PID is the last of PIDS.
serve_gatehouse() {
  "$1" serve --config "$2/gatehouse.toml" --data-dir "$2/data" > "$2/serve.log" 2>&1 &
  PIDS+=($!)
  wait_port "$3" || { echo "$1 did not start (see $2/serve.log)" >&2; exit 1; }
}

# start_gatehouse BINARY DIR PORT ADMIN_PORT [TOML]: gatehouse_dir, then serve_gatehouse.
start_gatehouse() {
  gatehouse_dir "$@"
  serve_gatehouse "$1" "$2" "$3"
}
