#!/usr/bin/env bash
# End to end: patchpoint cert new|show|check|export.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP"
printf 'not-the-password\n' > wrong.txt
printf 's3cret\n' > pw.txt

ok "cert new" pp cert new --subject "CN=Contoso Updates, O=Contoso" --out-pfx a.pfx --out-cer a.cer --password-file pw.txt
is "PFX mode is 0600" "$(stat -c %a a.pfx)" "600"
out=$(openssl x509 -inform DER -in a.cer -noout -subject -ext extendedKeyUsage,keyUsage,basicConstraints 2>&1)
like "subject as given" "$out" 'CN ?= ?Contoso Updates'
like "EKU Code Signing" "$out" 'Code Signing'
like "KU Digital Signature" "$out" 'Digital Signature'
like "CA:FALSE" "$out" 'CA:FALSE'
is "SHA-256 signature" "$(openssl x509 -inform DER -in a.cer -noout -text | grep -m1 'Signature Algorithm' | tr -d ' ')" "SignatureAlgorithm:sha256WithRSAEncryption"
serial=$(openssl x509 -inform DER -in a.cer -noout -serial | cut -d= -f2)
is "serial has 16 bytes" "$(( ${#serial} >= 30 && ${#serial} <= 32 ))" "1"
days=$(( ( $(date -d "$(openssl x509 -inform DER -in a.cer -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
is "default validity five years" "$(( days >= 1824 && days <= 1826 ))" "1"

out=$(pp cert new --out-pfx d.pfx --password-file pw.txt 2>&1)
like "default subject" "$out" 'CN=patchpoint Publisher'
ok "3072-bit key" pp cert new --bits 3072 --days 30 --out-pfx b.pfx --password-file pw.txt
like "3072 shows" "$(pp cert show b.pfx --password-file pw.txt)" 'Public Key: +RSA 3072-bit'
exits "1024 bits is a usage error" 2 pp cert new --bits 1024 --out-pfx c.pfx
ok "no file written for a usage error" test ! -e c.pfx
exits "existing PFX is not replaced" 1 pp cert new --out-pfx a.pfx --password-file pw.txt
ok "--force replaces it" pp cert new --force --out-pfx d.pfx --password-file pw.txt
out=$(pp cert new --out-pfx e.pfx 2>&1 >/dev/null)
like "empty password warns" "$out" 'empty password'

out=$(pp cert show a.pfx --password-file pw.txt --machine m)
like "show Issuer" "$out" '^Issuer: +CN=Contoso Updates, O=Contoso'
like "show Subject" "$out" 'Subject: +CN=Contoso Updates, O=Contoso'
like "show Effective Date" "$out" 'Effective Date: +20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC'
like "show Expiration Date" "$out" 'Expiration Date: +20[0-9]{2}-'
like "show Cert Usage" "$out" 'Cert Usage: +Code Signing \(1\.3\.6\.1\.5\.5\.7\.3\.3\)'
like "show Public Key" "$out" 'Public Key: +RSA 2048-bit'
thumb=$(openssl x509 -inform DER -in a.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
like "show Thumbprint (upper-case SHA-1)" "$out" "Thumbprint: +$thumb"
like "show Trusted Publisher No" "$out" 'Trusted Publisher: +No'
like "show Trusted Root No" "$out" 'Trusted Root Authority: +No'
like "show Self Signed Yes" "$out" 'Self Signed: +Yes'
pp certutil --machine m -addstore Root a.cer >/dev/null
pp certutil --machine m -addstore TrustedPublisher a.cer >/dev/null
out=$(pp cert show a.cer --machine m)
like "show Trusted Publisher Yes after -addstore" "$out" 'Trusted Publisher: +Yes'
like "show Trusted Root Yes after -addstore" "$out" 'Trusted Root Authority: +Yes'
like "show --json" "$(pp cert show a.pfx --password-file pw.txt --json --machine m)" "\"thumbprint\": \"$thumb\""

out=$(pp cert show a.pfx --password-file wrong.txt 2>&1); rc=$?
is "wrong password: exit 1" "$rc" "1"
like "wrong password: names the problem" "$out" 'password'
unlike "wrong password: no key material printed" "$out" 'PRIVATE KEY'

ok "check a good PFX" pp cert check a.pfx --password-file pw.txt
out=$(pp cert check a.cer 2>&1); rc=$?
is "check a .cer: exit 1" "$rc" "1"
like "check a .cer: no private key" "$out" 'private key'
ok "check a .cer --public-only" pp cert check a.cer --public-only
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem -subj /CN=EC -days 30 -addext extendedKeyUsage=codeSigning 2>/dev/null
cat ec.pem ec.key > ec-bundle.pem
out=$(pp cert check ec-bundle.pem 2>&1); rc=$?
is "ECDSA: exit 1" "$rc" "1"
like "ECDSA: refused with a reason" "$out" 'ECDSA'
mk_ca ca "Some CA"
mk_issued web "web.example" ca server
cat web.pem web.key > web-bundle.pem
out=$(pp cert check web-bundle.pem 2>&1)
like "serverAuth EKU: reason names Code Signing" "$out" 'Code Signing'
mk_expired old "Old Signer"
cat old.pem old.key > old-bundle.pem
out=$(pp cert check old-bundle.pem 2>&1)
like "expired: reason says expired" "$out" 'expired'
openssl req -x509 -newkey rsa:1024 -nodes -keyout small.key -out small.pem -subj /CN=Small -days 30 2>/dev/null
cat small.pem small.key > small-bundle.pem
like "1024-bit: reason names the size" "$(pp cert check small-bundle.pem 2>&1)" '1024'
like "check --json" "$(pp cert check a.pfx --password-file pw.txt --json)" '"meets_requirements": true'

ok "export .cer" pp cert export a.pfx --password-file pw.txt --out out.cer
ok "exported .cer equals the created one" cmp out.cer a.cer
unlike "exported .cer is public only" "$(openssl x509 -inform DER -in out.cer -text 2>&1; xxd out.cer)" 'PRIVATE'
ok "export PFX of an exportable key" pp cert export a.pfx --password-file pw.txt --out copy.pfx
ok "exported PFX opens in openssl" openssl pkcs12 -in copy.pfx -passin pass:s3cret -nodes -noout
ok "non-exportable key created" pp cert new --no-export --out-pfx nx.pfx --out-cer nx.cer --password-file pw.txt
out=$(pp cert export nx.pfx --password-file pw.txt --out nx-copy.pfx 2>&1); rc=$?
is "non-exportable: PFX export refused" "$rc" "1"
like "non-exportable: NTE_BAD_KEY_STATE" "$out" 'NTE_BAD_KEY_STATE'
ok "non-exportable: nothing written" test ! -e nx-copy.pfx
ok "non-exportable: .cer export still works" pp cert export nx.pfx --password-file pw.txt --out nx2.cer
like "show says not exportable" "$(pp cert show nx.pfx --password-file pw.txt)" 'not exportable'

for verb in new show check export; do
  exits "cert $verb --help exits 0" 0 pp cert $verb --help
  like "cert $verb --help is a manual" "$(pp cert $verb --help)" '^NAME'
done
exits "unknown verb: usage error" 2 pp cert frobnicate
exits "show without file: usage error" 2 pp cert show

done_testing
