#!/usr/bin/env bash
# bench/catalog.sh - importing a whole vendor catalog: `patchpoint catalog import` of the HP
# catalog (HpCatalogForSms.xml.gz, 1,829 packages) into a fresh patchpointd on 127.0.0.1, each
# run into a fresh data directory (a second import of the same catalog changes nothing, and
# under another --name every package is skipped as already imported). Prints the median
# seconds, packages per second and patchpointd's peak RSS (VmHWM) after the import, against
# the targets (whole catalog under 3 s, under 64 MB), and, as a reference only, python3's
# xml.etree.ElementTree.iterparse over the same gzip file in the same run. A missed target does
# not fail the script; a failed set-up or a failed import does.
# Usage: bench/catalog.sh [BUILD_DIR | PATCHPOINT [PATCHPOINTD]] ; env RUNS (default 5, after
# one warm-up run), SHARED (default ../shared next to the repository), CATALOG (default
# $SHARED/fixtures/catalogs/HpCatalogForSms.xml.gz), PACKAGES (default 1829).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
bench_binaries "$@"
shared=${SHARED:-$repo/../shared}
catalog=${CATALOG:-$shared/fixtures/catalogs/HpCatalogForSms.xml.gz}
packages=${PACKAGES:-1829}
runs=${RUNS:-5}
target_s=3
target_mb=64
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS is a whole number >= 1" >&2; exit 2; }
[ -r "$catalog" ] || { echo "bench: no catalog at $catalog (set SHARED or CATALOG)" >&2; exit 1; }
catalog=$(cd "$(dirname "$catalog")" && pwd)/$(basename "$catalog")
# Debian's python3 rather than a version manager's shim, whose start-up would be measured too.
py=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 || true)
for tool in "$py" bc awk /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done

bench_workdir catalog

# start_fresh N: a new data directory and patchpointd for run N (the previous one stopped and
# removed); sets pd_pid and exports PATCHPOINT_SERVER and PATCHPOINT_TOKEN.
start_fresh() {
  local data=$work/data.$1
  stop "$pd_pid"; pd_pid=""
  rm -rf "$work"/data.*
  bench_daemon "$data"
  logs=$data/logs
}
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# measure CMD...: prints "seconds maxrss_kb start_epoch" of one run (bash's microsecond clock,
# GNU time's peak RSS).
measure() {
  sync
  local start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o t.txt "$@" > cmd.out 2> cmd.err || {
    echo "bench: failed: $*: $(tail -n3 cmd.err)" >&2
    exit 1
  }
  echo "$(echo "$EPOCHREALTIME - $start" | bc -l) $(cat t.txt) $start"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
max() { sort -n | tail -n1; }
# upload_s START: seconds from START (epoch) to the last upload chunk in patchpointd.log.
upload_s() {
  awk -v start="$1" '
    function t(line,   m, bias) {
      if (!match(line, /time="[0-9:.]+[-+][0-9]+"/)) return -1
      m = substr(line, RSTART + 6, RLENGTH - 7); bias = substr(m, 13) + 0
      return substr(m, 1, 2) * 3600 + substr(m, 4, 2) * 60 + substr(m, 7, 6) + bias * 60
    }
    /PUT \/api\/v1\/uploads\/[0-9a-f]+ 200/ { last = t($0) }
    END {
      if (last == "") { print "-"; exit }
      d = last - (start - int(start / 86400) * 86400)
      if (d < -43200) d += 86400
      printf "%.3f\n", d
    }' "$logs/patchpointd.log"
}

# The reference: iterparse over the gzip stream, counting packages and freeing each one.
peer_py='
import gzip, sys, xml.etree.ElementTree as ET
n = 0
for ev, el in ET.iterparse(gzip.open(sys.argv[1]), events=("end",)):
    if el.tag.endswith("}SoftwareDistributionPackage"):
        n += 1
        el.clear()
print(n)
'

echo "patchpoint bench/catalog: $(basename "$catalog") ($(wc -c < "$catalog") bytes gzip, $packages packages),"
echo "median of $runs runs (+1 warm-up), each into a fresh data directory and patchpointd; $(nproc) cores"
echo "reference: $py ($("$py" --version 2>&1)) xml.etree.ElementTree.iterparse over the same file"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

: > ours.t; : > peer.t
for i in $(seq 0 "$runs"); do
  start_fresh "$i"
  base_kb=$(rss_kb "$pd_pid")
  read -r t1 m1 s1 < <(measure "$pp" catalog import "$catalog")
  grep -q ": $packages packages: $packages imported," cmd.out ||
    die "import run $i did not import $packages packages: $(head -n3 cmd.out)"
  up=$(upload_s "$s1")
  hwm=$(hwm_kb "$pd_pid")
  read -r t2 m2 _ < <(measure "$py" -c "$peer_py" "$catalog")
  [ "$(cat cmd.out)" = "$packages" ] || die "the python reference counted $(cat cmd.out) packages"
  [ "$i" -eq 0 ] && continue # warm-up run
  echo "$t1 $m1 $hwm $base_kb $up" >> ours.t
  echo "$t2 $m2" >> peer.t
done

ot=$(cut -d' ' -f1 ours.t | median); pt=$(cut -d' ' -f1 peer.t | median)
hwm=$(cut -d' ' -f3 ours.t | max); base=$(cut -d' ' -f4 ours.t | max)
cm=$(cut -d' ' -f2 ours.t | max); pm=$(cut -d' ' -f2 peer.t | max)
up=$(cut -d' ' -f5 ours.t | grep -v -- - | median || true)
printf '%-36s %9s %10s %13s %11s\n' "catalog import ($packages packages)" "seconds" "pkg/s" "pd VmHWM" "client RSS"
printf '%-36s %9.3f %10.0f %10.1f MB %8.1f MB\n' "patchpoint catalog import" "$ot" \
  "$(echo "$packages / $ot" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" "$(echo "$cm / 1024" | bc -l)"
printf '%-36s %9.3f %10.0f %13s %8.1f MB\n' "reference: python3 iterparse (gz)" "$pt" \
  "$(echo "$packages / $pt" | bc -l)" "-" "$(echo "$pm / 1024" | bc -l)"
echo "each run, ours:      $(cut -d' ' -f1 ours.t | awk '{printf "%s%.3f", (NR > 1 ? " " : ""), $1}')"
echo "each run, reference: $(cut -d' ' -f1 peer.t | awk '{printf "%s%.3f", (NR > 1 ? " " : ""), $1}')"
printf 'ratio ours / reference: %.2f (a reference, not a target)\n' "$(echo "$ot / $pt" | bc -l)"
[ -n "$up" ] && printf 'of our time: %.3f s until the upload is complete (client start, SHA-256, chunks),\n%.3f s for POST /api/v1/catalogs/import (parse, one transaction) and the answer\n' \
  "$up" "$(echo "$ot - $up" | bc -l)"
printf 'patchpointd RSS: %.1f MB before the import (fresh start), peak %.1f MB after it\n' \
  "$(echo "$base / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)"
echo "targets: under $target_s s and under $target_mb MB (VmHWM); a miss is reported, not failed"
awk -v t="$ot" -v ts="$target_s" -v m="$hwm" -v tm="$target_mb" 'BEGIN {
  if (t >= ts) printf "above target: %.3f s\n", t
  if (m / 1024 >= tm) printf "above target: %.1f MB\n", m / 1024 }'
exit 0
