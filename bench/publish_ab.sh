#!/usr/bin/env bash
# bench/publish_ab.sh - two builds of patchpoint against each other on the same 100 MB publish,
# alternating, so that a change can be judged on a machine whose speed drifts within minutes
# (bench/publish.sh compares against the peer tools instead). For each of ROUNDS rounds, each
# build in turn: a fresh patchpointd on 127.0.0.1, one warm-up publish, then RUNS measured ones
# (`patchpoint publish --new` of the payload; the page cache warmed and synced before each, as in
# bench/publish.sh); prints every run, the median, and patchpointd's page faults and CPU per run.
# Usage: bench/publish_ab.sh BUILD_A BUILD_B ; env SIZE_MB (100), RUNS (5), ROUNDS (3).
# Not part of make bench: it compares builds, not tools.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
if [ $# -ne 2 ] || [ ! -d "$1" ] || [ ! -d "$2" ]; then
  echo "usage: bench/publish_ab.sh BUILD_A BUILD_B" >&2
  exit 2
fi
size_mb=${SIZE_MB:-100}
runs=${RUNS:-5}
rounds=${ROUNDS:-3}
for v in "$size_mb" "$runs" "$rounds"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: SIZE_MB, RUNS and ROUNDS are whole numbers >= 1" >&2; exit 2; }
done
builds=("$(cd "$1" && pwd)" "$(cd "$2" && pwd)")
for b in "${builds[@]}"; do
  for t in patchpoint patchpointd; do
    [ -x "$b/$t" ] || { echo "bench: $b/$t is not an executable (build it first)" >&2; exit 1; }
  done
done

bench_workdir publish_ab
head -c $((size_mb * 1024 * 1024)) /dev/urandom > payload.bin
# /proc/PID/stat: minflt (10), utime (14), stime (15), in clock ticks
proc_counts() { awk '{print $10, $14, $15}' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)

one_build() { # label build: prints one line
  local label=$1 b=$2 s0 s1 t0 times="" i
  # shellcheck disable=SC2034 # pd is bench_daemon's
  pp=$b/patchpoint pd=$b/patchpointd
  rm -rf data
  bench_daemon data
  "$pp" sup set --third-party on --cert-mode managed > setup.out 2>&1 || die "sup set failed: $(cat setup.out)"
  "$pp" sync --wait >> setup.out 2>&1 || die "sync failed: $(cat setup.out)"
  "$pp" publish --new --title AB --vendor AB --product AB --version 0.0 --program payload.bin \
    --content payload.bin > /dev/null 2> publish.err || die "publish failed: $(cat publish.err)"
  s0=$(proc_counts "$pd_pid")
  for i in $(seq "$runs"); do
    dd if=/dev/zero of=scratch.bin bs=4M count=$((size_mb / 2 + 1)) status=none
    rm -f scratch.bin
    sync
    t0=$EPOCHREALTIME
    "$pp" publish --new --title AB --vendor AB --product AB --version "0.$i" --program payload.bin \
      --content payload.bin > /dev/null 2> publish.err || die "publish failed: $(cat publish.err)"
    times="$times $(echo "$EPOCHREALTIME - $t0" | bc)"
  done
  s1=$(proc_counts "$pd_pid")
  stop "$pd_pid"; pd_pid=""
  # shellcheck disable=SC2086 # the runs are words
  printf '%s\n' $times | sort -n | awk -v l="$label" -v r="$runs" -v all="$times" \
    -v c="$s0 $s1" -v hz="$ticks" '
    { v[NR] = $1 }
    END {
      split(c, x, " ")
      printf "%s: median %.3f s (runs%s) | patchpointd per run: %d page faults, user %.0f ms, system %.0f ms\n",
        l, v[int((NR + 1) / 2)], all, (x[4] - x[1]) / r, (x[5] - x[2]) * 1000 / hz / r,
        (x[6] - x[3]) * 1000 / hz / r
    }'
}

echo "patchpoint bench/publish_ab: ${size_mb} MB, $runs runs after a warm-up, $rounds rounds, A and B alternating"
echo "A: ${builds[0]}"
echo "B: ${builds[1]}"
for r in $(seq "$rounds"); do
  one_build "A$r" "${builds[0]}"
  one_build "B$r" "${builds[1]}"
done
