#!/usr/bin/env bash
# Bad input through the CLI: every damaged cabinet or signature gives a clear error, exit 1,
# no crash, and nothing written.
. "$(dirname "$0")/../lib.sh"
cd "$TMP"
mkdir -p src
head -c 90000 /dev/urandom > src/a.bin
printf 'text\n' > src/b.txt
printf 'pw\n' > pw.txt
pp cert new --out-pfx s.pfx --out-cer s.cer --password-file pw.txt >/dev/null 2>&1
pp cab create --compress mszip -o good.cab src >/dev/null
pp cab create --compress none --sign-pfx s.pfx --password-file pw.txt -o signed.cab src >/dev/null
size=$(stat -c %s good.cab)

# put FILE OFFSET HEXBYTES: overwrite bytes in place.
put() { printf "$(echo "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# refused NAME FILE: list/extract/verify each fail cleanly (exit 1, one message) and extract
# writes nothing.
refused() {
  local name=$1 f=$2 out rc
  mkdir -p target && : > target/keep
  out=$(pp cab extract "$f" -d target 2>&1); rc=$?
  is "$name: extract exits 1" "$rc" "1"
  like "$name: extract says what is wrong" "$out" '^patchpoint: .+'
  is "$name: nothing written" "$(ls -A target | tr '\n' ' ')" "keep "
  rm -rf target
  out=$(pp verify --machine m "$f" 2>&1); rc=$?
  is "$name: verify exits 1, no crash" "$rc" "1"
}

for cut in 10 36 44 100 $((size / 2)) $((size - 1)); do
  head -c $cut good.cab > trunc-$cut.cab
  refused "truncated at $cut" trunc-$cut.cab
done
cp good.cab folders.cab; put folders.cab 26 ff00           # cFolders = 255
refused "cFolders past the end" folders.cab
cp good.cab files.cab; put files.cab 28 ffff               # cFiles = 65535
refused "cFiles past the end" files.cab
cp good.cab coff.cab; put coff.cab 16 ffffff00             # coffFiles far away
refused "coffFiles outside the file" coff.cab
cp good.cab start.cab; put start.cab 36 ffffff00           # CFFOLDER[0].coffCabStart
refused "coffCabStart outside the file" start.cab
cp good.cab cbcab.cab; put cbcab.cab 8 ffffff7f            # cbCabinet
refused "cbCabinet larger than the file" cbcab.cab

# The signature locator of signed.cab sits at 0x2C (offset) and 0x30 (length).
sigoff=$(xxd -s 44 -l 4 -e signed.cab | awk '{print $2}')
cp signed.cab siglen.cab; put siglen.cab 48 ffff0000
out=$(pp verify --machine m siglen.cab 2>/dev/null); rc=$?
is "signature length past the end: exit 1" "$rc" "1"
like "signature length past the end: an HRESULT" "$out" '^0x[0-9A-F]{8} '
cp signed.cab sigpos.cab; put sigpos.cab 44 40000000
out=$(pp verify --machine m sigpos.cab 2>/dev/null); rc=$?
is "signature offset inside the data: exit 1" "$rc" "1"
cp signed.cab pkcs7.cab
put pkcs7.cab $((16#$sigoff + 4)) deadbeefdeadbeef
out=$(pp verify --machine m pkcs7.cab 2>err.txt); rc=$?
is "corrupt PKCS#7: exit 1" "$rc" "1"
like "corrupt PKCS#7: an HRESULT line" "$out" '^0x[0-9A-F]{8} [A-Z_0-9]+: '
like "corrupt PKCS#7: stderr explains" "$(cat err.txt)" '.+'
before=$(sha256sum pkcs7.cab)
out=$(pp sign --pfx s.pfx --password-file pw.txt -o resigned-corrupt.cab trunc-100.cab 2>&1); rc=$?
is "signing a truncated cabinet fails" "$rc" "1"
ok "and writes no output" test ! -e resigned-corrupt.cab
ok "no temporary file left behind" test -z "$(ls -A | grep -E 'resigned-corrupt' || true)"
head -c 5000 /dev/urandom > noise.cab
refused "random bytes" noise.cab
: > empty.cab
refused "empty file" empty.cab

done_testing
