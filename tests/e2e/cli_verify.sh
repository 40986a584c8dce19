#!/usr/bin/env bash
# End to end: patchpoint verify gives the exact HRESULT of every row of the DESIGN 5.7 table,
# with the device state set up through the CLI itself (certutil, policy).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP"

msg_untrusted='A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.'

mkdir -p content
printf 'PATCHPOINT-MARKER-%0100d\n' 0 > content/setup.cmd
head -c 100000 /dev/urandom > content/payload.bin
printf 'pw\n' > pw.txt

pp cert new --subject "CN=E2E Publisher" --out-pfx pub.pfx --out-cer pub.cer --password-file pw.txt >/dev/null 2>&1
ok "signed cabinet created" pp cab create --compress none --sign-pfx pub.pfx --password-file pw.txt -o signed.cab content
ok "unsigned cabinet created" pp cab create -o unsigned.cab content

trust_fully() { # machine cert
  pp certutil --machine "$1" -addstore Root "$2" >/dev/null &&
    pp certutil --machine "$1" -addstore TrustedPublisher "$2" >/dev/null &&
    pp policy set --machine "$1" AcceptTrustedPublisherCerts 1 >/dev/null
}
trust_fully good pub.cer

out=$(pp verify --machine good signed.cab 2>&1); rc=$?
is "trusted device: OK" "$out" "OK"
is "trusted device: exit 0" "$rc" "0"

out=$(pp verify --machine good unsigned.cab 2>/dev/null); rc=$?
is "unsigned: 0x800B0100" "$out" "0x800B0100 TRUST_E_NOSIGNATURE: No signature was present in the subject."
is "unsigned: exit 1" "$rc" "1"

# One flipped byte inside a CFDATA block (the marker text of setup.cmd).
cp signed.cab tampered.cab
off=$(grep -obUa 'PATCHPOINT-MARKER' tampered.cab | head -n1 | cut -d: -f1)
printf 'Q' | dd of=tampered.cab bs=1 seek="$off" conv=notrunc status=none
out=$(pp verify --machine good tampered.cab 2>/dev/null)
is "flipped CFDATA byte: 0x80096010" "$out" "0x80096010 TRUST_E_BAD_DIGEST: The digital signature of the object did not verify."

sha1=$(openssl dgst -sha1 -binary signed.cab | base64)
sha256=$(openssl dgst -sha256 -binary signed.cab | xxd -p -c 64)
is "metadata digests that match: OK" "$(pp verify --machine good --sha1 "$sha1" --sha256 "$sha256" signed.cab 2>&1)" "OK"
wrong=$(openssl dgst -sha1 -binary unsigned.cab | base64)
out=$(pp verify --machine good --sha1 "$wrong" signed.cab 2>/dev/null)
like "metadata SHA-1 differs: 0x80246002" "$out" '^0x80246002 WU_E_DM_INCORRECTFILEHASH: '
out=$(pp verify --machine good --sha256 "$(openssl dgst -sha256 -binary unsigned.cab | base64)" signed.cab 2>/dev/null)
like "metadata SHA-256 differs: 0x80246002" "$out" '^0x80246002 WU_E_DM_INCORRECTFILEHASH: '
exits "malformed --sha1 is a usage error" 2 pp verify --machine good --sha1 nonsense signed.cab

trust_fully distrust pub.cer
pp certutil --machine distrust -addstore Disallowed pub.cer >/dev/null
out=$(pp verify --machine distrust signed.cab 2>/dev/null)
is "signer in Disallowed: 0x800B0111" "$out" "0x800B0111 TRUST_E_EXPLICIT_DISTRUST: The certificate was explicitly marked as untrusted by the user."

out=$(pp verify --machine fresh signed.cab 2>err.txt); rc=$?
is "fresh device: 0x800B0109" "$out" "0x800B0109 CERT_E_UNTRUSTEDROOT: $msg_untrusted"
is "fresh device: exit 1" "$rc" "1"
like "fresh device: stderr names the signer" "$(cat err.txt)" 'E2E Publisher'

pp certutil --machine nopolicy -addstore Root pub.cer >/dev/null
pp certutil --machine nopolicy -addstore TrustedPublisher pub.cer >/dev/null
out=$(pp verify --machine nopolicy signed.cab 2>err.txt)
is "AcceptTrustedPublisherCerts not set: 0x800B0109" "$out" "0x800B0109 CERT_E_UNTRUSTEDROOT: $msg_untrusted"
like "policy off: stderr names AcceptTrustedPublisherCerts" "$(cat err.txt)" 'AcceptTrustedPublisherCerts'
is "policy off, authenticode policy: OK" "$(pp verify --machine nopolicy --policy authenticode signed.cab 2>&1)" "OK"
pp policy set --machine nopolicy AcceptTrustedPublisherCerts 0 >/dev/null
out=$(pp verify --machine nopolicy signed.cab 2>/dev/null)
is "AcceptTrustedPublisherCerts = 0: 0x800B0109" "$out" "0x800B0109 CERT_E_UNTRUSTEDROOT: $msg_untrusted"

pp certutil --machine notp -addstore Root pub.cer >/dev/null
pp policy set --machine notp AcceptTrustedPublisherCerts 1 >/dev/null
out=$(pp verify --machine notp signed.cab 2>err.txt)
is "not in TrustedPublisher: 0x800B0004" "$out" "0x800B0004 TRUST_E_SUBJECT_NOT_TRUSTED: The subject is not trusted for the specified action."
like "not in TrustedPublisher: stderr names the store" "$(cat err.txt)" 'TrustedPublisher'

# A CA-issued signer whose intermediate is neither in the signature nor in the CA store.
mk_ca root "E2E Root CA"
mk_issued inter "E2E Intermediate CA" root ca
mk_issued leaf "E2E Leaf Signer" inter leaf
mk_pfx leaf pw
ok "leaf-only signature" pp sign --pfx leaf.pfx --password-file pw.txt -o leafonly.cab unsigned.cab
pp certutil --machine chain -addstore Root root.cer >/dev/null
pp certutil --machine chain -addstore TrustedPublisher leaf.cer >/dev/null
pp policy set --machine chain AcceptTrustedPublisherCerts 1 >/dev/null
out=$(pp verify --machine chain leafonly.cab 2>/dev/null)
is "missing intermediate: 0x800B010A" "$out" "0x800B010A CERT_E_CHAINING: A certificate chain could not be built to a trusted root authority."
pp certutil --machine chain -addstore CA inter.cer >/dev/null
is "intermediate in the CA store: OK" "$(pp verify --machine chain leafonly.cab 2>&1)" "OK"
mk_pfx leaf pw inter.pem
ok "signature carrying the intermediate" pp sign --pfx leaf.pfx --password-file pw.txt -o withchain.cab unsigned.cab
pp certutil --machine chain2 -addstore Root root.cer >/dev/null
pp certutil --machine chain2 -addstore TrustedPublisher leaf.cer >/dev/null
pp policy set --machine chain2 AcceptTrustedPublisherCerts 1 >/dev/null
is "intermediate embedded in the signature: OK" "$(pp verify --machine chain2 withchain.cab 2>&1)" "OK"
pp certutil --machine chain2 -addstore Disallowed inter.cer >/dev/null
out=$(pp verify --machine chain2 withchain.cab 2>/dev/null)
like "intermediate in Disallowed: 0x800B0111" "$out" '^0x800B0111 '

mk_issued server "E2E Web Server" root server
mk_pfx server pw
pp sign --pfx server.pfx --password-file pw.txt -o wrongeku.cab unsigned.cab >/dev/null 2>&1
pp certutil --machine eku -addstore Root root.cer >/dev/null
pp certutil --machine eku -addstore TrustedPublisher server.cer >/dev/null
pp policy set --machine eku AcceptTrustedPublisherCerts 1 >/dev/null
out=$(pp verify --machine eku wrongeku.cab 2>/dev/null)
is "signer without Code Signing: 0x800B0110" "$out" "0x800B0110 CERT_E_WRONG_USAGE: The certificate is not valid for the requested usage."

mk_expired old "E2E Expired Signer"
mk_pfx old pw
pp sign --pfx old.pfx --password-file pw.txt -o expired.cab unsigned.cab >/dev/null 2>&1
trust_fully expired old.cer
out=$(pp verify --machine expired expired.cab 2>/dev/null)
is "expired signer, no timestamp: 0x800B0101" "$out" "0x800B0101 CERT_E_EXPIRED: A required certificate is not within its validity period when verifying against the current system clock or the timestamp in the signed file."

out=$(pp verify --machine good --json signed.cab)
like "verify --json reports trusted" "$out" '"trusted": true'
out=$(pp verify --machine fresh --json signed.cab 2>/dev/null)
like "verify --json carries the HRESULT" "$out" '"hresult": "0x800B0109"'

printf 'not a cabinet at all' > text.cab
out=$(pp verify --machine good text.cab 2>/dev/null); rc=$?
like "not a cabinet: an HRESULT, exit 1" "$out $rc" '^0x[0-9A-F]{8} [A-Z_]+: .* 1$'
exits "missing file: exit 1" 1 pp verify --machine good does-not-exist.cab
exits "no file: usage error" 2 pp verify --machine good
exits "bad policy name: usage error" 2 pp verify --policy sometimes signed.cab

done_testing
