#!/usr/bin/env bash
# bench/api.sh - requests per second and p99 latency of patchpointd's read endpoints at 64
# concurrent keep-alive connections (wrk -c 64 -t 2), beside nginx serving a static file with
# the same bytes as each response body, in the same run. Prints medians, the ratio
# patchpointd/nginx (target >= 0.5) and peak RSS. A missed target does not fail the script
# (timings are noisy); a failed set-up, a crash or a non-200 answer from patchpointd does.
# Usage: bench/api.sh [PATCHPOINTD] ; env PATCHPOINTD (default build/patchpointd in the repo),
# BENCH_SECONDS (per measured run, default 5), BENCH_RUNS (default 3), BENCH_WARMUP (seconds of
# the warm-up run, default 2), NGINX (default: nginx on PATH or /usr/sbin/nginx).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# stop and die (bench/lib.sh)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
pd=${1:-${PATCHPOINTD:-$repo/build/patchpointd}}
[ -x "$pd" ] || { echo "bench: $pd is not an executable (build it, or set PATCHPOINTD)" >&2; exit 1; }
pd=$(cd "$(dirname "$pd")" && pwd)/$(basename "$pd")
seconds=${BENCH_SECONDS:-5}
runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-2}
conns=64
threads=2
target=0.5
for v in "$seconds" "$runs" "$warmup"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_SECONDS, BENCH_RUNS and BENCH_WARMUP are whole numbers >= 1" >&2; exit 2; }
done
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for tool in wrk curl awk "$nginx"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-api.XXXXXX")
pd_pid=""
ngx_pid=""
# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  stop "$pd_pid"
  stop "$ngx_pid"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE # e.g. piped into head: still stop both servers

# ---- patchpointd: a throwaway data directory, two workers on a free loopback port ----
data=$work/data
"$pd" init --data-dir "$data" --site-code PP1 > "$work/init.out" 2> "$work/init.err" ||
  die "patchpointd init failed: $(cat "$work/init.err")"
token=$(grep -E '^[0-9a-f]{64}$' "$work/init.out" | head -n1) || true
[ -n "$token" ] || die "patchpointd init printed no admin token"
: > "$work/pd.out" # exists before the first poll below, whenever the child opens it
"$pd" run --data-dir "$data" --listen 127.0.0.1:0 --workers 2 > "$work/pd.out" 2> "$work/pd.err" &
pd_pid=$!
pd_port=""
for _ in $(seq 100); do
  pd_port=$(sed -n 's#^patchpointd: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$work/pd.out")
  [ -n "$pd_port" ] && break
  kill -0 "$pd_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$pd_port" ] || die "patchpointd did not start listening: $(cat "$work/pd.err")"
pd_url=http://127.0.0.1:$pd_port
auth="Authorization: Bearer $token"

# ---- the endpoints: measure those that answer 200, say which were skipped ----
# One certificate first, so /api/v1/certificates does not measure an empty list: create the
# signing certificate, then enable third-party updates and synchronize, which is what enters it
# into Certificates. Each step may not exist yet in this build; a failure is only noted.
api() { # METHOD PATH [JSON]: prints the status code, the body goes to $work/api.json
  local body=()
  [ $# -ge 3 ] && body=(-H 'Content-Type: application/json' -d "$3")
  curl -s -o "$work/api.json" -w '%{http_code}' -X "$1" -H "$auth" "${body[@]}" "$pd_url$2" || true
}
notes=()
code=$(api POST /api/v1/publisher/certificate '{}')
[ "$code" = 201 ] || notes+=("POST /api/v1/publisher/certificate answered $code")
code=$(api PUT /api/v1/sites/PP1/third-party-updates '{"enable_third_party_updates":true}')
[ "$code" = 200 ] || notes+=("PUT /api/v1/sites/PP1/third-party-updates answered $code")
code=$(api POST /api/v1/syncs)
if [ "$code" = 202 ]; then
  for _ in $(seq 300); do
    code=$(api GET /api/v1/syncs/latest)
    grep -q '"state":"running"' "$work/api.json" || break
    sleep 0.1
  done
  grep -q '"state":"succeeded"' "$work/api.json" ||
    notes+=("the synchronization did not succeed: $(head -c 300 "$work/api.json")")
else
  notes+=("POST /api/v1/syncs answered $code")
fi
www=$work/www
mkdir -p "$www/api/v1"
endpoints=()  # "path auth" pairs that answered 200
skipped=()
for spec in "/api/v1/status none" "/api/v1/certificates admin" "/api/v1/sites admin"; do
  read -r path mode <<< "$spec"
  hdr=(); [ "$mode" = admin ] && hdr=(-H "$auth")
  code=$(curl -s -o "$www$path" -w '%{http_code}' "${hdr[@]}" "$pd_url$path" || true)
  if [ "$code" = 200 ]; then
    endpoints+=("$spec")
  else
    skipped+=("GET $path answered $code")
    rm -f "$www$path"
  fi
done
[ "${#endpoints[@]}" -gt 0 ] || die "no endpoint answered 200: ${skipped[*]}"

# ---- nginx: a non-root configuration in the work directory, 2 workers, keep-alive ----
ngx=$work/nginx
mkdir -p "$ngx/tmp"
ngx_user=""
# As root, nginx would run its workers as nobody, which cannot enter the 0700 work directory.
[ "$(id -u)" -eq 0 ] && ngx_user="user $(id -un) $(id -gn);"
ngx_port=""
for _ in $(seq 20); do
  port=$((20000 + RANDOM % 12000)) # below the ephemeral range wrk's connections come from
  cat > "$ngx/nginx.conf" <<EOF
$ngx_user
worker_processes 2;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 1024; }
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
EOF
  "$nginx" -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" 2> "$ngx/stderr.log" &
  ngx_pid=$!
  for _ in $(seq 50); do
    kill -0 "$ngx_pid" 2>/dev/null || break
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then ngx_port=$port; break; fi
    sleep 0.1
  done
  [ -n "$ngx_port" ] && break
  wait "$ngx_pid" 2>/dev/null || true
  ngx_pid=""
  grep -qs 'Address already in use' "$ngx/error.log" "$ngx/stderr.log" ||
    die "nginx did not start: $(tail -qn3 "$ngx/error.log" "$ngx/stderr.log" 2>/dev/null)"
done
[ -n "$ngx_port" ] || die "nginx found no free port in 20 attempts"
ngx_url=http://127.0.0.1:$ngx_port
# Same bytes from both servers, or the comparison means nothing.
for spec in "${endpoints[@]}"; do
  read -r path mode <<< "$spec"
  curl -s -f -o "$work/check" -H "$auth" "$ngx_url$path" || die "nginx does not serve $path"
  cmp -s "$work/check" "$www$path" || die "nginx serves other bytes than patchpointd for $path"
done

# ---- measuring ----
pd_total=0 # requests patchpointd answered under wrk, warm-ups included
# wrk_run URL auth|none SECONDS OUT: one wrk run, output kept in OUT.
wrk_run() {
  local url=$1 mode=$2 secs=$3 out=$4 hdr=()
  [ "$mode" = admin ] && hdr=(-H "$auth")
  wrk -c "$conns" -t "$threads" --latency -d "${secs}s" "${hdr[@]}" "$url" > "$out" 2>&1 ||
    die "wrk failed on $url: $(tail -n3 "$out")"
  if [ "${url#"$pd_url"}" != "$url" ]; then
    pd_total=$((pd_total + $(awk '/ requests in / {print $1}' "$out")))
  fi
  kill -0 "$pd_pid" 2>/dev/null || die "patchpointd died under load: $(tail -n5 "$work/pd.err")"
  kill -0 "$ngx_pid" 2>/dev/null || die "nginx died under load"
}
# parse OUT: "req_per_s p99_ms non2xx socket_errors"
parse() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                     if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
    END { printf "%s %s %d %d\n", rps, p99, bad, err }' "$1"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
ngx_workers_hwm_kb() { # sum over the workers (patchpointd's two workers are threads of one process)
  local kids sum=0 p
  if command -v pgrep >/dev/null; then kids=$(pgrep -P "$ngx_pid" || true)
  else kids=$(awk -v pp="$ngx_pid" '$4 == pp {print $1}' /proc/[0-9]*/stat 2>/dev/null || true); fi
  for p in $kids; do sum=$((sum + $(hwm_kb "$p"))); done
  echo "$sum"
}

echo "patchpoint bench/api: wrk -c $conns -t $threads --latency, ${seconds} s per run, median of $runs runs"
echo "(+1 warm-up of ${warmup} s), patchpointd and nginx alternating; $(nproc) cores, all on 127.0.0.1"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews both servers)"
echo "patchpointd --workers 2 ($pd); nginx $("$nginx" -v 2>&1 | sed 's#.*/##'), worker_processes 2, static file of the same bytes"
for n in "${notes[@]}"; do echo "note: $n"; done
grep -qs '"certificates":\[\]' "$www/api/v1/certificates" &&
  echo "note: /api/v1/certificates is an empty list here"
for s in "${skipped[@]}"; do echo "skipped: $s"; done
echo

rows=()
runs_txt=()
anomalies=()
for spec in "${endpoints[@]}"; do
  read -r path mode <<< "$spec"
  size=$(wc -c < "$www$path")
  wrk_run "$pd_url$path" "$mode" "$warmup" "$work/w.txt"
  wrk_run "$ngx_url$path" "$mode" "$warmup" "$work/w.txt"
  : > "$work/pd.t"; : > "$work/ngx.t"
  for i in $(seq "$runs"); do
    if [ $((i % 2)) -eq 1 ]; then order="pd ngx"; else order="ngx pd"; fi
    for who in $order; do
      if [ "$who" = pd ]; then url=$pd_url; else url=$ngx_url; fi
      wrk_run "$url$path" "$mode" "$seconds" "$work/w.txt"
      read -r rps p99 bad err < <(parse "$work/w.txt")
      [ -n "$rps" ] || die "could not read wrk's output: $(cat "$work/w.txt")"
      echo "$rps $p99" >> "$work/$who.t"
      if [ "$who" = pd ]; then
        [ "$bad" -eq 0 ] || anomalies+=("patchpointd $path run $i: $bad non-2xx answers")
      else
        [ "$bad" -eq 0 ] || anomalies+=("nginx $path run $i: $bad non-2xx answers")
      fi
      [ "$err" -eq 0 ] || anomalies+=("$who $path run $i: $err socket errors")
    done
  done
  pr=$(cut -d' ' -f1 "$work/pd.t" | median); nr=$(cut -d' ' -f1 "$work/ngx.t" | median)
  pp=$(cut -d' ' -f2 "$work/pd.t" | median); np=$(cut -d' ' -f2 "$work/ngx.t" | median)
  runs_txt+=("$(printf '%-22s pd %s | nginx %s' "$path" "$(awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1}' "$work/pd.t")" \
    "$(awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1}' "$work/ngx.t")")")
  rows+=("$(printf '%-22s %6d %10.0f %10.0f %6.2f %8.2f %8.2f %9.1f %9.1f' "$path" "$size" "$pr" "$nr" \
    "$(awk -v a="$pr" -v b="$nr" 'BEGIN {print a / b}')" "$pp" "$np" \
    "$(awk -v k="$(hwm_kb "$pd_pid")" 'BEGIN {print k / 1024}')" \
    "$(awk -v k="$(ngx_workers_hwm_kb)" 'BEGIN {print k / 1024}')")")
done

printf '%-22s %6s %10s %10s %6s %8s %8s %9s %9s\n' "endpoint" "bytes" "pd req/s" "ngx req/s" \
  "ratio" "pd p99" "ngx p99" "pd RSS" "ngx RSS"
printf '%-22s %6s %10s %10s %6s %8s %8s %9s %9s\n' "" "" "" "" "" "ms" "ms" "MB" "MB"
for r in "${rows[@]}"; do echo "$r"; done
echo "req/s of each run:"
for r in "${runs_txt[@]}"; do echo "  $r"; done
echo "target: ratio (patchpointd req/s / nginx req/s) >= $target; a miss is reported, not failed"
awk -v t="$target" '{ if ($5 < t) printf "below target: %s at %.2f\n", $1, $5 }' <<< "$(printf '%s\n' "${rows[@]}")"
echo "RSS: peak (VmHWM) since start, patchpointd's process (2 worker threads; not its signer"
echo "child) and the sum of nginx's 2 worker processes"

# ---- what patchpointd left behind ----
# One log record per request: estimate what was written from the records still on disk (the
# log rolls over to .lo_ at its size limit, so most of it is gone by now).
logs=$(cat "$data"/logs/patchpointd.lo* 2>/dev/null || true)
log_bytes=$(printf '%s' "$logs" | wc -c)
log_lines=$(printf '%s' "$logs" | grep -c 'LOG]!>' || true)
log_errors=$(printf '%s' "$logs" | grep -c 'type="3"' || true)
echo "patchpointd answered $pd_total requests under wrk (warm-ups included), one log record each:"
awk -v n="$pd_total" -v b="$log_bytes" -v l="$log_lines" -v e="$log_errors" 'BEGIN {
  printf "about %.0f MB of patchpointd.log written (%.0f bytes a record); %d bytes left in\n",
    n * b / (l ? l : 1) / 1e6, b / (l ? l : 1), b
  printf "patchpointd.log and .lo_ after rollovers, %d error records among them\n", e }'
if [ -s "$work/pd.err" ]; then
  echo "patchpointd stderr:"; sed 's/^/  /' "$work/pd.err" | tail -n 10
fi
for a in "${anomalies[@]}"; do echo "anomaly: $a"; done
if [ "${#anomalies[@]}" -gt 0 ]; then
  grep -q '^patchpointd' <(printf '%s\n' "${anomalies[@]}") && exit 1
fi
exit 0
