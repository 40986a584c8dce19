#!/usr/bin/env bash
# Interop with the openssl CLI: our PFX/CER open there; its PFX/PEM/DER open here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP"
printf 'not-the-password\n' > wrong.txt
printf 'Pa55 word\n' > pw.txt
pp cert new --subject "CN=Openssl Interop" --out-pfx ours.pfx --out-cer ours.cer --password-file pw.txt >/dev/null 2>&1
ok "openssl pkcs12 opens our PFX (no -legacy)" openssl pkcs12 -in ours.pfx -passin "pass:Pa55 word" -nodes -noout
out=$(openssl pkcs12 -in ours.pfx -passin "pass:Pa55 word" -nodes 2>/dev/null)
like "our PFX holds the private key" "$out" 'BEGIN PRIVATE KEY'
like "our PFX holds the certificate" "$out" 'subject=CN ?= ?Openssl Interop'
fails "openssl refuses our PFX with the wrong password" openssl pkcs12 -in ours.pfx -passin pass:nope -nodes -noout
ok "openssl x509 reads our .cer as DER" openssl x509 -inform DER -in ours.cer -noout
thumb_theirs=$(openssl x509 -inform DER -in ours.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
like "same thumbprint both sides" "$(pp cert show ours.cer --machine m)" "Thumbprint: +$thumb_theirs"

mk_selfsigned peer "OpenSSL Made"
mk_pfx peer 'Pa55 word'
like "openssl PFX opens here" "$(pp cert show peer.pfx --password-file pw.txt --machine m)" 'Subject: +CN=OpenSSL Made'
ok "openssl PFX meets the requirements" pp cert check peer.pfx --password-file pw.txt
if openssl pkcs12 -export -legacy -in peer.pem -inkey peer.key -out legacy.pfx -passout 'pass:Pa55 word' 2>/dev/null; then
  like "openssl -legacy PFX (RC2/3DES) opens here" "$(pp cert show legacy.pfx --password-file pw.txt --machine m 2>&1)" 'CN=OpenSSL Made'
else
  skip "openssl -legacy PFX" "legacy provider not available"
fi
like "openssl PEM certificate opens here" "$(pp cert show peer.pem --machine m)" 'CN=OpenSSL Made'
like "openssl DER certificate opens here" "$(pp cert show peer.cer --machine m)" 'CN=OpenSSL Made'
cat peer.pem peer.key > bundle.pem
ok "PEM certificate + key signs" sh -c "gcab -c u.cab pw.txt && $PATCHPOINT sign --pfx bundle.pem u.cab"
openssl pkcs8 -topk8 -in peer.key -out enc.key -passout 'pass:Pa55 word' 2>/dev/null
cat peer.pem enc.key > enc-bundle.pem
ok "PEM with an encrypted key and a password file checks" pp cert check enc-bundle.pem --password-file pw.txt
out=$(pp cert show peer.pfx --password-file wrong.txt --machine m 2>&1); rc=$?
is "wrong PFX password: exit 1" "$rc" "1"
like "wrong PFX password: ERROR_INVALID_PASSWORD" "$out" 'ERROR_INVALID_PASSWORD'
head -c 700 peer.pfx > trunc.pfx
out=$(pp cert show trunc.pfx --password-file pw.txt 2>&1); rc=$?
is "truncated PFX: exit 1" "$rc" "1"
like "truncated PFX: names the file" "$out" 'trunc\.pfx'

done_testing
