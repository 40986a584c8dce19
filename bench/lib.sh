# bench/lib.sh - what the patchpointd benchmarks (publish.sh, catalog.sh) share. Source it after
# `set -euo pipefail`:
#   bench_binaries "$@"   sets pp and pd (absolute paths) from [BUILD_DIR | PATCHPOINT [PATCHPOINTD]]
#   bench_workdir NAME    makes $work, cd's into it; at exit stops $pd_pid and removes $work
#   bench_daemon DATA     patchpointd init + run --access-log all on 127.0.0.1:0 (any previous
#                         one stopped first); sets pd_pid, exports PATCHPOINT_SERVER and
#                         PATCHPOINT_TOKEN
#   die MESSAGE           one line on stderr, exit 1

bench_binaries() {
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ $# -ge 1 ] && [ -d "$1" ]; then
    pp=$1/patchpoint; pd=$1/patchpointd
  else
    pp=${1:-$repo/build/patchpoint}
    pd=${2:-$(dirname "$pp")/patchpointd}
  fi
  for b in "$pp" "$pd"; do
    [ -x "$b" ] || { echo "bench: $b is not an executable (build it first)" >&2; exit 1; }
  done
  pp=$(cd "$(dirname "$pp")" && pwd)/$(basename "$pp")
  pd=$(cd "$(dirname "$pd")" && pwd)/$(basename "$pd")
}

die() { echo "bench: $*" >&2; exit 1; }

# shellcheck disable=SC2317 # stop and bench_cleanup run from the EXIT trap
stop() { # pid: SIGTERM, then SIGKILL after 10 s; reaps it
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317
bench_cleanup() {
  local rc=$?
  stop "$pd_pid"
  rm -rf "$work"
  exit "$rc"
}

bench_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-$1.XXXXXX")
  pd_pid=""
  trap bench_cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 141' PIPE
  cd "$work"
  export XDG_CONFIG_HOME=$work/xdg # no cli.conf of the user's
}

# --access-log all: one record per request, whose timestamps give the benchmarks' phases.
bench_daemon() {
  local data=$1 token port
  stop "$pd_pid"; pd_pid=""
  "$pd" init --data-dir "$data" --site-code PP1 > init.out 2> init.err ||
    die "patchpointd init failed: $(cat init.err)"
  token=$(grep -E '^[0-9a-f]{64}$' init.out | head -n1) || true
  [ -n "$token" ] || die "patchpointd init printed no admin token"
  : > pd.out
  "$pd" run --data-dir "$data" --listen 127.0.0.1:0 --workers 2 --access-log all > pd.out 2> pd.err &
  pd_pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's#^patchpointd: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' pd.out)
    [ -n "$port" ] && break
    kill -0 "$pd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || die "patchpointd did not start listening: $(cat pd.err)"
  export PATCHPOINT_SERVER=http://127.0.0.1:$port PATCHPOINT_TOKEN=$token
}

# ---- for the device benchmarks (policy.sh, fleet.sh) ----
#   bench_daemon_with DATA ARG...  as bench_daemon, with ARGs to `run` instead of --workers 2
#                                  --access-log all (a record per request would be measured)
#   bench_nginx WWW                nginx (2 workers, keep-alive, access log off) serving WWW on
#                                  127.0.0.1 and a free port; sets ngx_pid and ngx_url, and
#                                  stops it at exit with the rest
#   bench_device_site N            on the daemon of bench_daemon*: third-party updates with a
#                                  managed certificate, a sync, N collections "Bench group K"
#                                  (query tag=gK), client settings (one turning third-party
#                                  updates on for All Systems), a published update deployed to
#                                  All Systems; sets enrollment_key
#   bench_admin METHOD PATH [JSON] the admin API: prints the status, the body in $work/api.json
#   hwm_kb PID, rss_kb PID         VmHWM, VmRSS in kB (0 when gone)

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

bench_daemon_with() {
  local data=$1 token port
  shift
  stop "$pd_pid"; pd_pid=""
  "$pd" init --data-dir "$data" --site-code PP1 > init.out 2> init.err ||
    die "patchpointd init failed: $(cat init.err)"
  token=$(grep -E '^[0-9a-f]{64}$' init.out | head -n1) || true
  [ -n "$token" ] || die "patchpointd init printed no admin token"
  : > pd.out
  "$pd" run --data-dir "$data" --listen 127.0.0.1:0 "$@" > pd.out 2> pd.err &
  pd_pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's#^patchpointd: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' pd.out)
    [ -n "$port" ] && break
    kill -0 "$pd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || die "patchpointd did not start listening: $(cat pd.err)"
  export PATCHPOINT_SERVER=http://127.0.0.1:$port PATCHPOINT_TOKEN=$token
}

bench_admin() {
  local body=()
  [ $# -ge 3 ] && body=(-H 'Content-Type: application/json' -d "$3")
  curl -s -o "$work/api.json" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $PATCHPOINT_TOKEN" \
    "${body[@]}" "$PATCHPOINT_SERVER$2" || true
}

bench_device_site() {
  local n=$1 k code id
  "$pp" sup set --third-party on --cert-mode managed > site.out 2>&1 || die "sup set: $(tail -n3 site.out)"
  "$pp" sync --wait > site.out 2>&1 || die "sync: $(tail -n3 site.out)"
  for k in $(seq 0 $((n - 1))); do
    code=$(bench_admin POST /api/v1/collections "{\"name\":\"Bench group $k\",\"rules\":[{\"query\":\"tag=g$k\"}]}")
    [ "$code" = 201 ] || die "POST /api/v1/collections answered $code: $(head -c 300 "$work/api.json")"
  done
  # Third-party updates on for everyone (order 1); a scan schedule for the first two groups.
  code=$(bench_admin POST /api/v1/client-settings '{"name":"Bench third party","settings":{"software_updates.third_party":true}}')
  [ "$code" = 201 ] || die "POST /api/v1/client-settings answered $code: $(head -c 300 "$work/api.json")"
  code=$(bench_admin POST "/api/v1/client-settings/Bench%20third%20party/deployments" '{"collection":"SMS00001"}')
  [ "$code" = 201 ] || die "deploying a client setting answered $code: $(head -c 300 "$work/api.json")"
  code=$(bench_admin POST /api/v1/client-settings '{"name":"Bench polling","settings":{"client_policy.polling_interval_minutes":30}}')
  [ "$code" = 201 ] || die "POST /api/v1/client-settings answered $code: $(head -c 300 "$work/api.json")"
  for k in 0 1; do
    [ "$k" -lt "$n" ] || break
    code=$(bench_admin POST "/api/v1/client-settings/Bench%20polling/deployments" "{\"collection\":\"Bench group $k\"}")
    [ "$code" = 201 ] || die "deploying a client setting answered $code: $(head -c 300 "$work/api.json")"
  done
  head -c 4096 /dev/urandom > setup.exe
  "$pp" publish --new --title "Bench update" --vendor Bench --product Bench --version 1.0 \
    --program setup.exe --content setup.exe > site.out 2>&1 || die "publish: $(tail -n3 site.out)"
  id=$(grep -Eo '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' site.out | head -n1)
  [ -n "$id" ] || die "publish printed no update id: $(head -n5 site.out)"
  "$pp" deploy "$id" --collection "All Systems" > site.out 2>&1 || die "deploy: $(tail -n3 site.out)"
  code=$(bench_admin POST /api/v1/enrollment-keys '{"name":"bench"}')
  [ "$code" = 201 ] || die "POST /api/v1/enrollment-keys answered $code: $(head -c 300 "$work/api.json")"
  enrollment_key=$(sed -n 's/.*"key": *"\([0-9a-f]*\)".*/\1/p' "$work/api.json")
  [ -n "$enrollment_key" ] || die "no enrollment key in $(head -c 300 "$work/api.json")"
}

# shellcheck disable=SC2317 # runs from the EXIT trap
bench_cleanup_nginx() {
  local rc=$?
  stop "$ngx_pid"
  (exit "$rc")
  bench_cleanup
}

bench_nginx() {
  local www=$1 ngx=$work/nginx ngx_user="" port
  local nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
  [ -x "$nginx" ] || die "nginx is missing (make bench installs nginx-light)"
  mkdir -p "$ngx/tmp"
  # As root, nginx would run its workers as nobody, which cannot enter the 0700 work directory.
  [ "$(id -u)" -eq 0 ] && ngx_user="user $(id -un) $(id -gn);"
  ngx_pid=""; ngx_url=""
  trap bench_cleanup_nginx EXIT
  for _ in $(seq 20); do
    port=$((20000 + RANDOM % 12000)) # below the ephemeral range the clients' ports come from
    cat > "$ngx/nginx.conf" <<NGX
$ngx_user
worker_processes 2;
worker_rlimit_nofile 8192;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  types { }
  default_type application/json;
  client_body_temp_path $ngx/tmp/body;
  proxy_temp_path $ngx/tmp/proxy;
  fastcgi_temp_path $ngx/tmp/fastcgi;
  uwsgi_temp_path $ngx/tmp/uwsgi;
  scgi_temp_path $ngx/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $www;
  }
}
NGX
    "$nginx" -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" 2> "$ngx/stderr.log" &
    ngx_pid=$!
    for _ in $(seq 50); do
      kill -0 "$ngx_pid" 2>/dev/null || break
      if curl -s -o /dev/null "http://127.0.0.1:$port/"; then ngx_url=http://127.0.0.1:$port; break; fi
      sleep 0.1
    done
    [ -n "$ngx_url" ] && return 0
    wait "$ngx_pid" 2>/dev/null || true
    ngx_pid=""
    grep -qs 'Address already in use' "$ngx/error.log" "$ngx/stderr.log" ||
      die "nginx did not start: $(tail -qn3 "$ngx/error.log" "$ngx/stderr.log" 2>/dev/null)"
  done
  die "nginx found no free port in 20 attempts"
}

# The sum of VmHWM over nginx's worker processes, in kB.
ngx_workers_hwm_kb() {
  local sum=0 p
  for p in $(awk -v pp="$ngx_pid" '$4 == pp {print $1}' /proc/[0-9]*/stat 2>/dev/null || true); do
    sum=$((sum + $(hwm_kb "$p")))
  done
  echo "$sum"
}
