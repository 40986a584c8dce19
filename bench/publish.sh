#!/usr/bin/env bash
# bench/publish.sh - publishing one large content file end to end, patchpoint against its peers
# in the same run: (a) `patchpoint publish --new ... --content payload.bin` against a fresh
# patchpointd on 127.0.0.1 (resumable upload in chunks laid out as the cabinet they go into, the
# Authenticode signature through the signer child, content store, the revision's record) vs
# (b) `gcab -c`, then `osslsigncode sign
# -h sha256`, then `cp` of the signed cabinet into a content directory. Prints medians, the
# ratio ours/peer (target <= 1.0, upload included), where our time goes (from the server's log
# timestamps) and peak RSS of patchpointd, its signer child and the client. A missed target
# does not fail the script (timings are noisy); a failed set-up or a failed publish does.
# Usage: bench/publish.sh [BUILD_DIR | PATCHPOINT [PATCHPOINTD]] ; env SIZE_MB (default 100),
# RUNS (default 5, after one warm-up run), MEMORY (warm or cold, see warm_up below).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
bench_binaries "$@"
size_mb=${SIZE_MB:-100}
runs=${RUNS:-5}
memory=${MEMORY:-warm}
cold_pause=4
[ "$memory" = warm ] || [ "$memory" = cold ] || { echo "bench: MEMORY is warm or cold" >&2; exit 2; }
target=1.0
for v in "$size_mb" "$runs"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: SIZE_MB and RUNS are whole numbers >= 1" >&2; exit 2; }
done
for tool in gcab osslsigncode openssl curl bc awk /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done

bench_workdir publish

# ---- patchpointd: a throwaway data directory on a free loopback port ----
# --access-log all: one record per request (about 30 a publish), whose timestamps give the
# phases below.
data=$work/data
bench_daemon "$data"
signer_pid=""
for _ in $(seq 50); do
  signer_pid=$(awk -v pp="$pd_pid" '$4 == pp {print $1}' /proc/[0-9]*/stat 2>/dev/null | head -n1 || true)
  [ -n "$signer_pid" ] && break
  sleep 0.1
done

# Third-party updates with a managed certificate; the sync creates the signing certificate.
"$pp" sup set --third-party on --cert-mode managed > setup.out 2>&1 || die "sup set failed: $(cat setup.out)"
"$pp" sync --wait >> setup.out 2>&1 || die "sync failed: $(cat setup.out)"
"$pp" publisher status >> setup.out 2>&1 || die "the publisher is not ready: $(cat setup.out)"

# ---- the peer's key and certificate: the same kind (RSA 2048, SHA-256, code signing) ----
printf 'bench\n' > pw.txt
"$pp" cert new --subject "CN=Bench Signer" --out-pfx k.pfx --out-cer k.cer --password-file pw.txt >/dev/null 2>&1 ||
  die "patchpoint cert new failed"
openssl pkcs12 -in k.pfx -passin pass:bench -nokeys -out k.pem 2>/dev/null
openssl pkcs12 -in k.pfx -passin pass:bench -nocerts -nodes -out k.key 2>/dev/null
mkdir -p peer-content
head -c $((size_mb * 1024 * 1024)) /dev/urandom > payload.bin

# Memory the guest freed a few seconds ago costs much more to touch again on a VM with free page
# reporting (virtio-balloon): on the development machine, writing 100 MB into new page cache
# took 0.05 s right after a file of that size was removed, 0.17-0.34 s after a 5 s pause. Both
# tools get the same condition: MEMORY=warm (default) writes and removes a scratch file of twice
# the payload before every measured command; MEMORY=cold pauses 4 s before each pipeline.
warm_up() {
  dd if=/dev/zero of=scratch.bin bs=4M count=$((size_mb / 2 + 1)) status=none
  rm -f scratch.bin
}
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
reset_hwm() { [ -n "$1" ] && echo 5 > "/proc/$1/clear_refs" 2>/dev/null; } # VmHWM := VmRSS
setup_hwm=$(hwm_kb "$pd_pid")
setup_signer_hwm=$([ -n "$signer_pid" ] && hwm_kb "$signer_pid" || echo 0)
hwm_reset=yes
reset_hwm "$pd_pid" || hwm_reset=no
[ -n "$signer_pid" ] && { reset_hwm "$signer_pid" || hwm_reset=no; }

# measure CMD...: prints "seconds maxrss_kb start_epoch" of one run. Wall time from bash's
# microsecond clock; peak RSS from GNU time.
measure() {
  [ "$memory" = warm ] && warm_up
  sync # every command starts from a clean page cache: no writeback left over from the last one
  local start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o t.txt "$@" > cmd.out 2> cmd.err || {
    echo "bench: failed: $*: $(tail -n3 cmd.err)" >&2
    exit 1
  }
  echo "$(echo "$EPOCHREALTIME - $start" | bc -l) $(cat t.txt) $start"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
max() { sort -n | tail -n1; }
cabs() { find "$data/content" -name '*.cab' 2>/dev/null | wc -l; }
logs=$data/logs

# phases START END ACCESS_FROM SDIST_FROM: one line of seconds from the log records of one
# publish (patchpointd.log from line ACCESS_FROM, SoftwareDistribution.log from SDIST_FROM):
# client start and create, chunks but the last, last chunk (completing the upload's digests),
# checks before packing, pack+sign+commit, record, answer and client exit.
phases() {
  { sed -n "$3,\$p" "$logs/patchpointd.log" | sed 's/^/A /'
    sed -n "$4,\$p" "$logs/SoftwareDistribution.log" | sed 's/^/S /'; } |
  awk -v start="$1" -v end="$2" '
    function t(line,   m, h, mi, s, bias) { # seconds of the UTC day of a CMTrace record
      if (!match(line, /time="[0-9:.]+[-+][0-9]+"/)) return -1
      m = substr(line, RSTART + 6, RLENGTH - 7)
      h = substr(m, 1, 2); mi = substr(m, 4, 2); s = substr(m, 7, 6); bias = substr(m, 13) + 0
      return h * 3600 + mi * 60 + s + bias * 60
    }
    function day(x) { x = x - int(x / 86400) * 86400; return x }
    function rel(x,   d) { d = x - day(start); if (d < -43200) d += 86400; if (d > 43200) d -= 86400; return d }
    $1 == "A" && /POST \/api\/v1\/uploads 201/ { up = rel(t($0)) }
    $1 == "A" && /PUT \/api\/v1\/uploads\/[0-9a-f]+ 200/ { prev = last; last = rel(t($0)); n++ }
    $1 == "A" && /POST \/api\/v1\/updates 201/ { rec = rel(t($0)) }
    $1 == "S" && /Publishing update/ { pub = rel(t($0)) }
    $1 == "S" && /Created cab/ { cab = rel(t($0)) }
    END {
      if (n < 2 || up == "" || rec == "" || pub == "" || cab == "") { print "-"; exit }
      printf "%.3f %.3f %.3f %.3f %.3f %.3f %.3f %d\n", up, prev - up, last - prev, pub - last,
        cab - pub, rec - cab, end - rec, n
    }'
}

echo "patchpoint bench/publish: ${size_mb} MB random payload, median of $runs runs (+1 warm-up), $(nproc) cores"
echo "ours: patchpoint publish --new (new update each run) against patchpointd on 127.0.0.1 ($pd)"
echo "peer: gcab -c, osslsigncode sign -h sha256, cp into a content directory; every command after sync"
if [ "$memory" = warm ]; then
  echo "memory: warm (a scratch file of $((2 * size_mb)) MB written and removed before every command)"
else
  echo "memory: cold (a ${cold_pause} s pause before each pipeline: freed pages reported to the host)"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

: > ours.t; : > peer.t; : > phases.t
for i in $(seq 0 "$runs"); do
  before=$(cabs)
  a_from=$(($(wc -l < "$logs/patchpointd.log") + 1))
  s_from=$(($(wc -l < "$logs/SoftwareDistribution.log" 2>/dev/null || echo 0) + 1))
  [ "$memory" = cold ] && sleep "$cold_pause"
  read -r t1 m1 s1 < <(measure "$pp" publish --new --title Bench --vendor Bench --product Bench \
    --version "1.0.$i" --program payload.bin --content payload.bin)
  grep -q '^Content: *http' cmd.out || die "publish run $i printed no content URL: $(cat cmd.out)"
  [ "$(cabs)" -eq $((before + 1)) ] || die "publish run $i stored no new cabinet (the idempotent path?)"
  ph=$(phases "$s1" "$t1" "$a_from" "$s_from")
  [ "$memory" = cold ] && sleep "$cold_pause"
  read -r t2 m2 _ < <(measure gcab -c peer-u.cab payload.bin)
  read -r t3 m3 _ < <(measure osslsigncode sign -certs k.pem -key k.key -h sha256 -in peer-u.cab -out peer.cab)
  read -r t4 m4 _ < <(measure cp peer.cab "peer-content/signed-$i.cab")
  # Like patchpointd, which removes the upload once it is content: the intermediates go, the
  # signed cabinet stays (the content store keeps each of ours too).
  rm -f peer-u.cab peer.cab
  [ "$i" -eq 0 ] && continue # warm-up run: page cache, first-touch costs
  echo "$t1 $m1" >> ours.t
  echo "$(echo "$t2 + $t3 + $t4" | bc -l) $(printf '%s\n' "$m2" "$m3" "$m4" | max) $t2 $t3 $t4" >> peer.t
  [ "$ph" != "-" ] && echo "$ph" >> phases.t
done
kill -0 "$pd_pid" 2>/dev/null || die "patchpointd died: $(tail -n5 pd.err)"

co=$(cut -d' ' -f1 ours.t | median); cp_=$(cut -d' ' -f1 peer.t | median)
rco=$(cut -d' ' -f2 ours.t | max); rcp=$(cut -d' ' -f2 peer.t | max)
ratio=$(echo "$co / $cp_" | bc -l)
printf '%-34s %9s %9s %7s %11s %11s\n' "publish ${size_mb} MB" "ours s" "peer s" "ratio" "client RSS" "peer RSS"
printf '%-34s %9.3f %9.3f %7.2f %8d KB %8d KB\n' "upload+CAB+sign+store" "$co" "$cp_" "$ratio" "$rco" "$rcp"
echo "each run, ours:  $(cut -d' ' -f1 ours.t | awk '{printf "%s%.3f", (NR > 1 ? " " : ""), $1}')"
echo "each run, peer:  $(cut -d' ' -f1 peer.t | awk '{printf "%s%.3f", (NR > 1 ? " " : ""), $1}')"
printf 'peer steps (medians): gcab %.3f s, osslsigncode sign %.3f s, cp %.3f s\n' \
  "$(cut -d' ' -f3 peer.t | median)" "$(cut -d' ' -f4 peer.t | median)" "$(cut -d' ' -f5 peer.t | median)"
echo "target: ratio (ours / peer) <= $target; a miss is reported, not failed"
awk -v r="$ratio" -v t="$target" 'BEGIN { if (r > t) printf "above target: ratio %.2f\n", r }'
echo
if [ -s phases.t ]; then
  echo "where our time goes (medians of each phase, from the server's log timestamps, ms resolution):"
  col() { cut -d' ' -f"$1" phases.t | median; }
  printf '  %-68s %6.3f s\n' \
    "client start, POST /api/v1/uploads" "$(col 1)" \
    "PUT chunks but the last ($(( $(col 8) - 1 )) x, each written and hashed while the next comes)" "$(col 2)" \
    "last PUT (the writes before it, fdatasync, digests final, SHA-256 checked)" "$(col 3)" \
    "POST /api/v1/updates up to packing (the upload's digests reused)" "$(col 4)" \
    "sign the cabinet upload in place (or pack+sign), content_store_commit" "$(col 5)" \
    "record the revision, remove the upload, answer" "$(col 6)" \
    "client: read the answer, exit" "$(col 7)"
  echo
fi
pd_hwm=$(hwm_kb "$pd_pid")
signer_hwm=$([ -n "$signer_pid" ] && hwm_kb "$signer_pid" || echo 0)
if [ "$hwm_reset" = yes ]; then
  echo "peak RSS (VmHWM) during the runs (reset after set-up): patchpointd $((pd_hwm / 1024)) MB," \
    "its signer child $((signer_hwm / 1024)) MB; client (GNU time) $((rco / 1024)) MB"
  echo "(set-up before the runs: patchpointd $((setup_hwm / 1024)) MB, signer $((setup_signer_hwm / 1024)) MB)"
else
  echo "peak RSS (VmHWM) since start: patchpointd $((pd_hwm / 1024)) MB, its signer child" \
    "$((signer_hwm / 1024)) MB; client (GNU time) $((rco / 1024)) MB"
fi
if [ -s pd.err ]; then
  echo "patchpointd stderr:"; sed 's/^/  /' pd.err | tail -n 10
fi
exit 0
