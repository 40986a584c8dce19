#!/usr/bin/env bash
# bench/sign.sh - create+sign and verify of one large input, patchpoint against its peers in
# the same run: (a) patchpoint cab create --sign-pfx vs (b) gcab -c then osslsigncode sign;
# patchpoint verify vs osslsigncode verify. Prints medians, ratios and peak RSS.
# Usage: bench/sign.sh [PATCHPOINT] ; env SIZE_MB (default 100), RUNS (default 5).
set -euo pipefail
pp=${1:-build/patchpoint}
pp=$(cd "$(dirname "$pp")" && pwd)/$(basename "$pp")
size_mb=${SIZE_MB:-100}
runs=${RUNS:-7}
for tool in gcab osslsigncode openssl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

printf 'bench\n' > pw.txt
"$pp" cert new --subject "CN=Bench Signer" --out-pfx k.pfx --out-cer k.cer --password-file pw.txt >/dev/null 2>&1
openssl pkcs12 -in k.pfx -passin pass:bench -nokeys -out k.pem 2>/dev/null
openssl pkcs12 -in k.pfx -passin pass:bench -nocerts -nodes -out k.key 2>/dev/null
head -c $((size_mb * 1024 * 1024)) /dev/urandom > input.bin
"$pp" certutil --machine m -addstore Root k.cer >/dev/null

# measure CMD...: prints "seconds maxrss_kb" of one run. Wall time from bash's microsecond
# clock (GNU time rounds to 10 ms); peak RSS from GNU time.
measure() {
  sync # start every command from a clean page cache: no writeback left over from the last one
  local start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o t.txt "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
  echo "$(echo "$EPOCHREALTIME - $start" | bc -l) $(cat t.txt)"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
max() { sort -n | tail -n1; }

bench_pair() { # label compress gcab_flag
  local label=$1 compress=$2 zflag=$3 i
  : > ours.t; : > peer.t; : > vours.t; : > vpeer.t
  for i in $(seq 0 "$runs"); do
    rm -f ours.cab peer-u.cab peer.cab
    read -r t1 m1 < <(measure "$pp" cab create --compress "$compress" --sign-pfx k.pfx --password-file pw.txt -o ours.cab input.bin)
    read -r t2 m2 < <(measure gcab -c $zflag peer-u.cab input.bin)
    read -r t3 m3 < <(measure osslsigncode sign -certs k.pem -key k.key -h sha256 -in peer-u.cab -out peer.cab)
    [ "$i" -eq 0 ] && continue # warm-up run: page cache, first-touch costs
    echo "$t1 $m1" >> ours.t
    echo "$(echo "$t2 + $t3" | bc -l) $(( m2 > m3 ? m2 : m3 ))" >> peer.t
  done
  # Verify both tools on the same cabinet (ours), alternating which goes first.
  for i in $(seq 0 "$runs"); do
    if [ $((i % 2)) -eq 0 ]; then
      read -r t4 m4 < <(measure "$pp" verify --policy authenticode --machine m ours.cab)
      read -r t5 m5 < <(measure osslsigncode verify -CAfile k.pem -in ours.cab)
    else
      read -r t5 m5 < <(measure osslsigncode verify -CAfile k.pem -in ours.cab)
      read -r t4 m4 < <(measure "$pp" verify --policy authenticode --machine m ours.cab)
    fi
    [ "$i" -eq 0 ] && continue
    echo "$t4 $m4" >> vours.t
    echo "$t5 $m5" >> vpeer.t
  done
  local co cp vo vp rco rcp rvo rvp
  co=$(cut -d' ' -f1 ours.t | median); cp=$(cut -d' ' -f1 peer.t | median)
  vo=$(cut -d' ' -f1 vours.t | median); vp=$(cut -d' ' -f1 vpeer.t | median)
  rco=$(cut -d' ' -f2 ours.t | max); rcp=$(cut -d' ' -f2 peer.t | max)
  rvo=$(cut -d' ' -f2 vours.t | max); rvp=$(cut -d' ' -f2 vpeer.t | max)
  printf '%-28s %9s %9s %7s %11s %11s\n' "$label" "ours s" "peer s" "ratio" "ours RSS" "peer RSS"
  printf '%-28s %9.3f %9.3f %7.2f %8d KB %8d KB\n' "create+sign" "$co" "$cp" "$(echo "$co / $cp" | bc -l)" "$rco" "$rcp"
  printf '%-28s %9.3f %9.3f %7.2f %8d KB %8d KB\n' "verify" "$vo" "$vp" "$(echo "$vo / $vp" | bc -l)" "$rvo" "$rvp"
  echo
}

echo "patchpoint bench/sign: ${size_mb} MB random input, median of $runs runs (+1 warm-up), $(nproc) cores"
echo "each command starts after sync; verify runs alternate which tool goes first"
echo "peer pipeline: gcab -c [-z] then osslsigncode sign -h sha256; verify peer: osslsigncode verify"
echo
bench_pair "no compression (gcab -c)" none ""
bench_pair "MSZIP (gcab -c -z)" mszip "-z"
