#!/usr/bin/env bash
# bench/policy.sh - resultant client settings and machine policy (issue 5), two parts:
# (a) bench/policy_resolve.c: a throwaway site database of POLICY_DEVICES devices (default
#     100,000), POLICY_COLLECTIONS collections with query rules (200) and POLICY_SETTINGS custom
#     client settings (50) made through the store API; one policy table loaded, then
#     policy_device_bits + policy_resolve timed for every device (target <= 10 us a device),
#     beside registration, the collections query and whole policy documents; peak RSS.
# (b) GET /api/v1/device/policy at 256 concurrent keep-alive connections (wrk -c 256 -t 2),
#     each request with the credential of one of POLICY_CLIENT_DEVICES devices (default 1,000,
#     registered through POST /api/v1/device/register), without and with If-None-Match (200s,
#     then 304s), against a real `patchpointd run --workers 2`, beside nginx serving a static file
#     of the same size as the policy document in the same run, with and without its own ETag as
#     If-None-Match (target >= 0.5x nginx). Medians of BENCH_RUNS runs of BENCH_SECONDS,
#     patchpointd and nginx alternating, after a warm-up; a short run with a Lua response
#     counter reports the 200s and 304s of each mode.
# A missed target is reported, not failed; a failed set-up or a crash fails the script.
# Usage: bench/policy.sh [BUILD_DIR | PATCHPOINT [PATCHPOINTD]] ; policy_resolve and fleet are
# looked for next to patchpointd (make bench builds them). env BENCH_SECONDS (5), BENCH_RUNS
# (3), BENCH_WARMUP (2), POLICY_PART (a, b or both, the default), NGINX.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
bench_binaries "$@"
bindir=$(dirname "$pd")
resolve=$bindir/policy_resolve
fleet=$bindir/fleet
devices=${POLICY_DEVICES:-100000}
collections=${POLICY_COLLECTIONS:-200}
settings=${POLICY_SETTINGS:-50}
clients=${POLICY_CLIENT_DEVICES:-1000}
seconds=${BENCH_SECONDS:-5}
runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-2}
part=${POLICY_PART:-both}
conns=256
threads=2
target_us=10
target_ratio=0.5
for v in "$devices" "$collections" "$settings" "$clients" "$seconds" "$runs" "$warmup"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: POLICY_* and BENCH_* are whole numbers >= 1" >&2; exit 2; }
done
case $part in a | b | both) ;; *) echo "bench: POLICY_PART is a, b or both" >&2; exit 2 ;; esac
for b in "$resolve" "$fleet"; do
  [ -x "$b" ] || { echo "bench: $b is not an executable (make bench builds it)" >&2; exit 1; }
done
for tool in wrk curl awk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

bench_workdir policy
echo "patchpoint bench/policy (bash bench/policy.sh $*): $(nproc) cores; date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- (a) resolving client settings for every device of a large site ----
if [ "$part" != b ]; then
  mkdir -p a
  cmd=("$resolve" --devices "$devices" --collections "$collections" --settings "$settings" "$work/a")
  echo "(a) command: ${cmd[*]}"
  /usr/bin/time -f '%M' -o a.time "${cmd[@]}" > a.out 2> a.err || die "policy_resolve failed: $(tail -n3 a.err)"
  grep -v '^figures' a.out | sed 's/^/  /'
  fa=$(sed -n 's/^figures: //p' a.out)
  us=$(tr ' ' '\n' <<< "$fa" | sed -n 's/^resolve_us=//p')
  printf '(a) policy_device_bits + policy_resolve: %s us a device; target <= %s us: %s\n' "$us" "$target_us" \
    "$(awk -v u="$us" -v t="$target_us" 'BEGIN {print (u <= t) ? "met" : "missed, by " u / t "x"}')"
  echo "(a) peak RSS of policy_resolve (GNU time): $(awk '{printf "%.1f MB", $1 / 1024}' a.time)"
  rm -rf a
  echo
fi
[ "$part" = a ] && exit 0

# ---- (b) machine policy requests per second, patchpointd beside nginx ----
bench_daemon_with "$work/data" --workers 2
pd_url=$PATCHPOINT_SERVER
bench_device_site 16
"$fleet" --port "${pd_url##*:}" --enrollment-key "$enrollment_key" --agents "$clients" \
  --connections 64 --register-only creds.txt > reg.out 2> reg.err ||
  die "registering $clients devices failed: $(tail -n3 reg.err) $(tail -n3 reg.out)"
reg_s=$(sed -n 's/^figures-register: register_s=\([0-9.]*\).*/\1/p' reg.out)
# The static file: one device's policy document, byte for byte.
read -r _ cred0 etag0 bytes0 < creds.txt
mkdir -p www/api/v1/device
code=$(curl -s -o www/api/v1/device/policy -w '%{http_code}' -H "Authorization: Bearer $cred0" "$pd_url/api/v1/device/policy")
[ "$code" = 200 ] || die "GET /api/v1/device/policy answered $code"
size=$(wc -c < www/api/v1/device/policy)
[ "$size" -eq "$bytes0" ] || die "the policy document is $size bytes here and $bytes0 for the fleet"
grep -q '"certificates":\[{' www/api/v1/device/policy || die "the policy document holds no certificate"
grep -q '"deployments":\[{' www/api/v1/device/policy || die "the policy document holds no deployment"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $cred0" -H "If-None-Match: $etag0" "$pd_url/api/v1/device/policy")
[ "$code" = 304 ] || die "GET /api/v1/device/policy with If-None-Match answered $code, not 304"
sizes=$(awk '{print $4}' creds.txt | sort -n | uniq -c | awk '{printf "%s%d x %d B", (NR > 1 ? ", " : ""), $1, $2}')
bench_nginx "$work/www"
ngx_etag=$(curl -s -D - -o /dev/null "$ngx_url/api/v1/device/policy" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[ -n "$ngx_etag" ] || die "nginx sent no ETag"
curl -s -f -o check "$ngx_url/api/v1/device/policy" || die "nginx does not serve the policy file"
cmp -s check www/api/v1/device/policy || die "nginx serves other bytes than patchpointd"

# The Lua of wrk: each request the next device's credential (each thread from its own place in
# the list), with If-None-Match in mode inm (the device's version, or FIXED for nginx).
cat > policy.lua <<'LUA'
local auth, etags, n, i = {}, {}, 0, 0
local mode, fixed
local seq = 0
function setup(thread)
  seq = seq + 1
  thread:set("tid", seq)
end
function init(args)
  mode, fixed = args[2] or "plain", args[3]
  for line in io.lines(args[1]) do
    local cred, etag = line:match("^%S+ (%S+) (%S+)")
    n = n + 1
    auth[n], etags[n] = "Bearer " .. cred, etag
  end
  i = ((tonumber(tid) or 1) * 7919) % n
end
function request()
  i = i % n + 1
  local h = { ["Authorization"] = auth[i] }
  if mode == "inm" then h["If-None-Match"] = fixed or etags[i] end
  return wrk.format("GET", nil, h)
end
LUA
{ cat policy.lua; cat <<'LUA'; } > count.lua
local threads = {}
local setup0 = setup
function setup(thread)
  setup0(thread)
  table.insert(threads, thread)
end
c200, c304, cother = 0, 0, 0
function response(status, headers, body)
  if status == 200 then c200 = c200 + 1 elseif status == 304 then c304 = c304 + 1 else cother = cother + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a, b, c = a + t:get("c200"), b + t:get("c304"), c + t:get("cother") end
  io.write(string.format("statuses: 200=%d 304=%d other=%d\n", a, b, c))
end
LUA

# wrk_run WHO MODE SECONDS OUT [SCRIPT]
wrk_run() {
  local who=$1 mode=$2 secs=$3 out=$4 script=${5:-policy.lua} url fixed=()
  if [ "$who" = pd ]; then url=$pd_url; else url=$ngx_url; fi
  [ "$who" = ngx ] && [ "$mode" = inm ] && fixed=("$ngx_etag")
  wrk -c "$conns" -t "$threads" --latency -d "${secs}s" -s "$script" "$url/api/v1/device/policy" \
    -- "$work/creds.txt" "$mode" "${fixed[@]}" > "$out" 2>&1 || die "wrk failed on $who: $(tail -n3 "$out")"
  kill -0 "$pd_pid" 2>/dev/null || die "patchpointd died under load: $(tail -n5 pd.err)"
  kill -0 "$ngx_pid" 2>/dev/null || die "nginx died under load"
}
# parse OUT: "req_per_s p99_ms non2xx3xx socket_errors"
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

echo "(b) wrk -c $conns -t $threads --latency -d ${seconds}s -s policy.lua URL -- creds.txt plain|inm [ETAG]:"
echo "    median of $runs runs (+1 warm-up of ${warmup} s), patchpointd and nginx alternating, all on 127.0.0.1"
echo "    patchpointd run --workers 2 ($pd); nginx $(${NGINX:-nginx} -v 2>&1 | sed 's#.*/##'), worker_processes 2"
echo "    site: third-party updates on (a managed certificate), 16 collections, 2 custom client settings,"
echo "    one update deployed to All Systems; $clients devices registered through POST /api/v1/device/register"
echo "    in $(printf '%.2f' "$reg_s") s (64 connections), each request the next device's credential"
echo "    policy documents: $sizes; nginx serves one of them ($size B) as a static file"
echo

anomalies=()
rows=()
counts=()
ratios=()
for mode in plain inm; do
  for who in pd ngx; do
    wrk_run "$who" "$mode" "$warmup" w.txt count.lua
    counts[${#counts[@]}]="$who $mode $(sed -n 's/^statuses: //p' w.txt)"
  done
  : > pd.t; : > ngx.t
  for i in $(seq "$runs"); do
    if [ $((i % 2)) -eq 1 ]; then order="pd ngx"; else order="ngx pd"; fi
    for who in $order; do
      wrk_run "$who" "$mode" "$seconds" w.txt
      read -r rps p99 bad err < <(parse w.txt)
      [ -n "$rps" ] || die "could not read wrk's output: $(cat w.txt)"
      echo "$rps $p99" >> "$who.t"
      [ "$bad" -eq 0 ] || anomalies+=("$who $mode run $i: $bad answers of 400 or above")
      [ "$err" -eq 0 ] || anomalies+=("$who $mode run $i: $err socket errors")
    done
  done
  pr=$(cut -d' ' -f1 pd.t | median); nr=$(cut -d' ' -f1 ngx.t | median)
  pp=$(cut -d' ' -f2 pd.t | median); np=$(cut -d' ' -f2 ngx.t | median)
  label="GET policy"; [ "$mode" = inm ] && label="GET policy + If-None-Match"
  ratios+=("$(awk -v a="$pr" -v b="$nr" 'BEGIN {printf "%.4f", a / b}') $label")
  rows+=("$(printf '%-28s %10.0f %10.0f %6.2f %8.2f %8.2f   pd %s | nginx %s' "$label" "$pr" "$nr" \
    "$(awk -v a="$pr" -v b="$nr" 'BEGIN {print a / b}')" "$pp" "$np" \
    "$(awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1}' pd.t)" "$(awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1}' ngx.t)")")
done
printf '%-28s %10s %10s %6s %8s %8s   %s\n' "(b) request" "pd req/s" "ngx req/s" "ratio" "pd p99" "ngx p99" "req/s of each run"
printf '%-28s %10s %10s %6s %8s %8s\n' "" "" "" "" "ms" "ms"
for r in "${rows[@]}"; do echo "$r"; done
echo "statuses in the counting warm-up runs (wrk's Lua response()):"
for c in "${counts[@]}"; do echo "  $c"; done
echo "peak RSS (VmHWM): patchpointd $(awk -v k="$(hwm_kb "$pd_pid")" 'BEGIN {printf "%.1f MB", k / 1024}') (one process, 2 worker threads),"
echo "  nginx's 2 workers $(awk -v k="$(ngx_workers_hwm_kb)" 'BEGIN {printf "%.1f MB", k / 1024}') together"
echo "target: ratio (patchpointd req/s / nginx req/s) >= $target_ratio in both modes; a miss is reported, not failed"
for r in "${ratios[@]}"; do
  read -r ratio label <<< "$r"
  awk -v r="$ratio" -v t="$target_ratio" -v l="$label" 'BEGIN {
    if (r < t) printf "below target: %s at %.3f (%.0fx short of %.1f)\n", l, r, t / r, t
    else printf "met: %s at %.2f\n", l, r }'
done
if [ -s pd.err ]; then
  echo "patchpointd stderr:"; sed 's/^/  /' pd.err | tail -n 10
fi
for a in "${anomalies[@]}"; do echo "anomaly: $a"; done
if [ "${#anomalies[@]}" -gt 0 ]; then
  grep -q '^pd' <(printf '%s\n' "${anomalies[@]}") && exit 1
fi
exit 0
