#!/usr/bin/env bash
# Interop with cabextract (libmspack): our cabinets test, list and extract there byte for byte.
. "$(dirname "$0")/../lib.sh"
cd "$TMP"
mkdir -p src/dir
head -c 65536 /dev/urandom > src/exact-two-blocks.bin
yes 'patchpoint' | head -c 1000000 > src/dir/big.txt
printf 'x' > src/one-byte

for method in none mszip; do
  pp cab create --compress $method -o c-$method.cab src >/dev/null
  ok "cabextract -t passes on our $method cabinet" cabextract -q -t c-$method.cab
  like "cabextract -l lists dir\\big.txt ($method)" "$(cabextract -l c-$method.cab)" 'dir/big\.txt'
  ok "cabextract extracts ($method)" cabextract -q -d x-$method c-$method.cab
  ok "byte-identical after cabextract ($method)" diff -r src x-$method
done
printf 'pw\n' > pw.txt
pp cert new --out-pfx s.pfx --password-file pw.txt >/dev/null 2>&1
pp cab create --sign-pfx s.pfx --password-file pw.txt -o signed.cab src >/dev/null
out=$(cabextract -t signed.cab 2>&1); rc=$?
is "cabextract -t passes on a signed cabinet" "$rc" "0"
like "cabextract sees the appended signature as extra bytes" "$out" 'extra bytes at end of file'

done_testing
