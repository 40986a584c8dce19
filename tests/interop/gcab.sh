#!/usr/bin/env bash
# Interop with gcab (libgcab): its cabinets read here, ours read there, byte for byte.
. "$(dirname "$0")/../lib.sh"
cd "$TMP"
mkdir -p src
printf 'first\n' > src/one.txt
head -c 100000 /dev/urandom > src/two.bin
yes 'compressible line of text' | head -c 500000 > src/three.txt
: > src/zero.dat

for method in none mszip; do
  pp cab create --compress $method -o ours-$method.cab src >/dev/null
  ok "gcab -t lists our $method cabinet" gcab -t ours-$method.cab
  is "gcab lists every file ($method)" "$(gcab -t ours-$method.cab | sort | tr '\n' ' ')" "one.txt three.txt two.bin zero.dat "
  mkdir -p g-$method
  ok "gcab -x extracts our $method cabinet" gcab -x -C g-$method ours-$method.cab
  ok "byte-identical after gcab extraction ($method)" diff -r src g-$method
done
(cd src && gcab -c ../theirs.cab one.txt two.bin three.txt zero.dat)
(cd src && gcab -c -z ../theirs-z.cab one.txt two.bin three.txt zero.dat)
for c in theirs theirs-z; do
  ok "patchpoint lists gcab's $c.cab" pp cab list $c.cab
  ok "patchpoint extracts gcab's $c.cab" pp cab extract $c.cab -d p-$c
  ok "byte-identical after patchpoint extraction ($c)" diff -r src p-$c
done
pp cab create --compress mszip -o signed-src.cab src >/dev/null
printf 'pw\n' > pw.txt
pp cert new --out-pfx s.pfx --password-file pw.txt >/dev/null 2>&1
pp sign --pfx s.pfx --password-file pw.txt signed-src.cab >/dev/null
ok "gcab reads our signed cabinet" gcab -t signed-src.cab
ok "gcab -D dumps the signature reserve" gcab -D signed-src.cab
hdr=$(xxd -p -l 4 signed-src.cab.header 2>/dev/null)
is "the reserve starts 00 00 10 00" "$hdr" "00001000"

done_testing
