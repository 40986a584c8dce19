#!/usr/bin/env bash
# bench/fleet.sh - a fleet of simulated agents against one patchpointd on 127.0.0.1: FLEET_N
# agents (default 10,000) register, each with its own credential (timed apart, before the run),
# then for FLEET_SECONDS (default 30) each polls its machine policy with If-None-Match, as
# patchpoint-agent does, on its own random schedule (FLEET_POLL_SECONDS apart, default 10: an
# hour's interval compressed into the run) and posts state messages (FLEET_STATE_POSTS a run,
# default 2, of 3 messages with fresh UUIDs), over FLEET_CONNECTIONS (default 512) keep-alive
# connections shared by the agents (bench/fleet.c, libevent). Prints requests, errors (target
# 0), p50/p99 latency by kind and patchpointd's peak RSS (VmHWM). A missed target is reported,
# not failed; a failed set-up or a crash of patchpointd fails the script.
# Usage: bench/fleet.sh [BUILD_DIR | PATCHPOINT [PATCHPOINTD]] ; the fleet program is
# bench/fleet.c built next to patchpointd (make bench builds it), or FLEET.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
bench_binaries "$@"
fleet=${FLEET:-$(dirname "$pd")/fleet}
n=${FLEET_N:-10000}
seconds=${FLEET_SECONDS:-30}
poll=${FLEET_POLL_SECONDS:-10}
posts=${FLEET_STATE_POSTS:-2}
conns=${FLEET_CONNECTIONS:-512}
workers=${FLEET_WORKERS:-2}
groups=16
for v in "$n" "$seconds" "$poll" "$conns" "$workers"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench: FLEET_N, FLEET_SECONDS, FLEET_POLL_SECONDS, FLEET_CONNECTIONS, FLEET_WORKERS are whole numbers >= 1" >&2; exit 2; }
done
[[ $posts =~ ^[0-9]+$ ]] || { echo "bench: FLEET_STATE_POSTS is a whole number" >&2; exit 2; }
[ -x "$fleet" ] || { echo "bench: $fleet is not an executable (make bench builds it, or set FLEET)" >&2; exit 1; }
fleet=$(cd "$(dirname "$fleet")" && pwd)/$(basename "$fleet")
for tool in curl awk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done
# Each connection is a descriptor in the fleet and in patchpointd, which inherits this limit.
need=$((conns + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || die "ulimit -n is $(ulimit -n) and cannot be raised to $need for $conns connections"
fi
ports=$(awk '{print $2 - $1 + 1}' /proc/sys/net/ipv4/ip_local_port_range)
[ "$ports" -gt $((conns * 2)) ] || die "only $ports ephemeral ports for $conns connections"

bench_workdir fleet
bench_daemon_with "$work/data" --workers "$workers"
port=${PATCHPOINT_SERVER##*:}

cmd=("$fleet" --port "$port" --enrollment-key KEY --agents "$n" --seconds "$seconds"
  --connections "$conns" --poll-seconds "$poll" --state-posts "$posts" --messages 3)
echo "patchpoint bench/fleet (bash bench/fleet.sh $*): $n agents for $seconds s against patchpointd --workers $workers on 127.0.0.1; $(nproc) cores"
echo "command: ${cmd[*]}"
echo "(each agent: register before the run; then policy every ${poll} s +-10 % from a random start, If-None-Match"
echo "once it has a version; $posts state posts of 3 messages at random times; $conns shared keep-alive connections)"
echo "ulimit -n $(ulimit -n); ephemeral ports $(tr '\t' - < /proc/sys/net/ipv4/ip_local_port_range)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench_device_site "$groups"
echo "site: third-party updates on (managed certificate, synchronized), $groups collections (tag=gK; agent i has"
echo "tag g(i mod 16)), 2 custom client settings, 1 published update deployed to All Systems"
base_kb=$(rss_kb "$pd_pid")
echo

cmd[4]=$enrollment_key
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime + stime
hz=$(getconf CLK_TCK)
"${cmd[@]}" > fleet.out 2> fleet.err &
fleet_pid=$!
t_reg=$(ticks "$pd_pid"); t_run=""
while kill -0 "$fleet_pid" 2>/dev/null; do
  if [ -z "$t_run" ] && grep -q '^run:' fleet.out; then t_run=$(ticks "$pd_pid"); t_run_at=$EPOCHREALTIME; fi
  sleep 0.05
done
t_end=$(ticks "$pd_pid"); t_end_at=$EPOCHREALTIME
wait "$fleet_pid" || die "fleet failed: $(tail -n5 fleet.err) $(tail -n5 fleet.out)"
[ -n "$t_run" ] || die "the fleet did not start its run: $(tail -n5 fleet.out)"
kill -0 "$pd_pid" 2>/dev/null || die "patchpointd died under the fleet: $(tail -n5 pd.err)"
grep -v '^figures' fleet.out
echo
figures=$(grep '^figures:' fleet.out | sed 's/^figures: //')
figures="$figures $(grep '^figures-register:' fleet.out | sed 's/^figures-register: //')"
fig() { tr ' ' '\n' <<< "$figures" | sed -n "s/^$1=//p"; }
reg_s=$(fig register_s)
errors=$(($(fig errors) + $(fig register_errors)))
hwm=$(hwm_kb "$pd_pid"); rss=$(rss_kb "$pd_pid")
printf 'registration of %s devices before the run: %.1f s (%.0f a second; p50 %s ms, p99 %s ms), %s errors\n' \
  "$n" "$reg_s" "$(awk -v n="$n" -v s="$reg_s" 'BEGIN {print n / s}')" "$(fig register_p50_ms)" \
  "$(fig register_p99_ms)" "$(fig register_errors)"
printf 'patchpointd: RSS %.1f MB after set-up, peak (VmHWM) %.1f MB, %.1f MB at the end\n' \
  "$(awk -v k="$base_kb" 'BEGIN {print k / 1024}')" "$(awk -v k="$hwm" 'BEGIN {print k / 1024}')" \
  "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
printf 'patchpointd CPU: %.2f s during registration, %.2f s during the run and drain (%.2f of a core over %.1f s)\n' \
  "$(awk -v a="$t_reg" -v b="$t_run" -v h="$hz" 'BEGIN {print (b - a) / h}')" \
  "$(awk -v a="$t_run" -v b="$t_end" -v h="$hz" 'BEGIN {print (b - a) / h}')" \
  "$(awk -v a="$t_run" -v b="$t_end" -v h="$hz" -v s="$t_run_at" -v e="$t_end_at" 'BEGIN {print (b - a) / h / (e - s)}')" \
  "$(awk -v s="$t_run_at" -v e="$t_end_at" 'BEGIN {print e - s}')"
printf 'p99 ms: policy %s, policy+INM %s, state %s (lag p99, due to sent: %s, %s, %s)\n' \
  "$(fig policy_p99_ms)" "$(fig policy_inm_p99_ms)" "$(fig state_p99_ms)" \
  "$(fig policy_lag_p99_ms)" "$(fig policy_inm_lag_p99_ms)" "$(fig state_lag_p99_ms)"
echo "target: 0 errors (registration and run); a miss is reported, not failed"
if [ "$errors" -eq 0 ]; then echo "met: 0 errors"; else echo "above target: $errors errors"; fi
if grep -q 'type="3"' "$work/data/logs/patchpointd.log" 2>/dev/null; then
  echo "patchpointd.log error records: $(grep -c 'type="3"' "$work/data/logs/patchpointd.log")"
fi
if [ -s pd.err ]; then
  echo "patchpointd stderr:"; sed 's/^/  /' pd.err | tail -n 10
fi
exit 0
