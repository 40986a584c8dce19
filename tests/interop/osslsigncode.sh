#!/usr/bin/env bash
# Interop with osslsigncode both ways: our signatures verify there, its signatures verify here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP"
mkdir -p src
printf 'interop\n' > src/readme.txt
head -c 200000 /dev/urandom > src/setup.bin
printf 'pw\n' > pw.txt
pp cert new --subject "CN=Interop Publisher" --out-pfx pub.pfx --out-cer pub.cer --password-file pw.txt >/dev/null 2>&1
openssl x509 -inform DER -in pub.cer -out pub.pem

for method in none mszip; do
  pp cab create --compress $method --sign-pfx pub.pfx --password-file pw.txt -o ours-$method.cab src >/dev/null
  out=$(osslsigncode verify -CAfile pub.pem -in ours-$method.cab 2>&1); rc=$?
  is "osslsigncode verify accepts our $method cabinet (exit status)" "$rc" "0"
  like "osslsigncode: digest matches ($method)" "$out" 'Calculated message digest *: *[0-9A-F]+'
  like "osslsigncode: signature verification ok ($method)" "$out" 'Signature verification: ok'
done
gcab -c -z plain.cab src/readme.txt src/setup.bin
pp sign --pfx pub.pfx --password-file pw.txt -o ours-resigned.cab plain.cab >/dev/null
ok "osslsigncode verify accepts a gcab cabinet signed by patchpoint sign" osslsigncode verify -CAfile pub.pem -in ours-resigned.cab
ok "osslsigncode remove-signature on our cabinet" osslsigncode remove-signature -in ours-resigned.cab -out removed.cab
ok "... gives back the gcab original byte for byte" cmp removed.cab plain.cab

# The other way: osslsigncode signs, patchpoint verifies.
mk_selfsigned peer "Peer Signer"
osslsigncode sign -certs peer.pem -key peer.key -h sha256 -n "Peer" -i https://example.invalid -in plain.cab -out theirs.cab >/dev/null 2>&1
ok "osslsigncode signed a cabinet" test -s theirs.cab
pp certutil --machine dev -addstore Root peer.cer >/dev/null
pp certutil --machine dev -addstore TrustedPublisher peer.cer >/dev/null
pp policy set --machine dev AcceptTrustedPublisherCerts 1 >/dev/null
is "patchpoint verify accepts osslsigncode's signature" "$(pp verify --machine dev theirs.cab 2>&1)" "OK"
out=$(pp verify --machine nobody theirs.cab 2>/dev/null)
like "and reports 0x800B0109 where the signer is not trusted" "$out" '^0x800B0109 CERT_E_UNTRUSTEDROOT'
osslsigncode sign -certs peer.pem -key peer.key -h sha1 -in plain.cab -out theirs-sha1.cab >/dev/null 2>&1
is "patchpoint verify accepts a SHA-1 signature" "$(pp verify --machine dev theirs-sha1.cab 2>&1)" "OK"
# Re-signing an osslsigncode-signed cabinet with ours replaces the signature and stays valid for both.
pp sign --pfx pub.pfx --password-file pw.txt -o resigned.cab theirs.cab >/dev/null
ok "osslsigncode verifies our re-signature of its cabinet" osslsigncode verify -CAfile pub.pem -in resigned.cab
ok "patchpoint extracts osslsigncode's signed cabinet" pp cab extract theirs.cab -d ex
ok "... byte-identically" cmp ex/src/setup.bin src/setup.bin

done_testing
