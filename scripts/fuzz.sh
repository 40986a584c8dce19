#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for FUZZ_SECONDS
# (default 60) from a seed corpus of real cabinets and signatures made here.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=build-fuzz
if [ ! -f $build/build.ninja ]; then
  CC=clang meson setup $build -Dfuzz=true -Dtests=disabled -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C $build

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/cab" "$seeds/sig" fuzz/corpus-cab fuzz/corpus-signature
printf 'seed file\n' > "$seeds/a.txt"
head -c 40000 /dev/urandom > "$seeds/b.bin"
(cd "$seeds" && gcab -c cab/none.cab a.txt b.bin && gcab -c -z cab/mszip.cab a.txt b.bin)
# Signed seeds, made with the patchpoint of the fuzz build itself and with osslsigncode.
pp=$build/patchpoint
printf 'pw\n' > "$seeds/pw"
"$pp" cert new --out-pfx "$seeds/k.pfx" --out-cer "$seeds/k.cer" --password-file "$seeds/pw" >/dev/null 2>&1
"$pp" cab create --sign-pfx "$seeds/k.pfx" --password-file "$seeds/pw" -o "$seeds/cab/signed.cab" \
  "$seeds/a.txt" >/dev/null
openssl pkcs12 -in "$seeds/k.pfx" -passin pass:pw -nodes -out "$seeds/k.pem" 2>/dev/null
osslsigncode sign -certs "$seeds/k.pem" -key "$seeds/k.pem" -h sha1 -n seed -i https://example.invalid \
  -in "$seeds/cab/none.cab" -out "$seeds/cab/ossl-signed.cab" >/dev/null
for f in signed ossl-signed; do
  osslsigncode extract-signature -in "$seeds/cab/$f.cab" -out "$seeds/sig/$f.der" >/dev/null
done

status=0
run() { # target corpus seeds
  echo "== $1 for ${seconds}s"
  "$build/$1" -max_total_time="$seconds" -max_len=262144 -timeout=10 "$2" "$3" || status=1
}
[ -x $build/fuzz_cab ] && run fuzz_cab fuzz/corpus-cab "$seeds/cab"
[ -x $build/fuzz_signature ] && run fuzz_signature fuzz/corpus-signature "$seeds/sig"
exit $status
