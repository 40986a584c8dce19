#!/usr/bin/env bash
# End to end: patchpoint certutil -addstore/-delstore/-store/-dump and the group policy layer.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP"
mk_selfsigned wsus "WSUS Publishers Self-signed"
mk_ca ca "Contoso Root CA"
thumb=$(openssl x509 -in wsus.pem -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
M=machine

out=$(pp certutil --machine $M -addstore Root wsus.cer)
is "-addstore output" "$out" 'Root "Trusted Root Certification Authorities"
Signature matches Public Key
Certificate "WSUS Publishers Self-signed" added to store.
CertUtil: -addstore command completed successfully.'
ok "stored as <SHA1>.cer" test -f "$M/certstores/Root/$(echo "$thumb" | tr a-f A-F).cer"
out=$(pp certutil --machine $M -addstore Root wsus.pem)
like "duplicate add says already in store" "$out" 'already in store'
ok "-f rewrites" pp certutil --machine $M -f -addstore root wsus.pem
base64 -w 64 wsus.cer > wsus.b64
ok "bare Base64 accepted" pp certutil --machine $M -addstore TrustedPublisher wsus.b64
out=$(pp certutil --machine $M -addstore TrustedPublisher wsus.cer)
like "TrustedPublisher display name" "$out" '^TrustedPublisher "Trusted Publishers"'

out=$(pp certutil --machine $M -store Root)
like "-store title" "$out" '^Root "Trusted Root Certification Authorities"'
like "-store certificate header" "$out" '================ Certificate 0 ================'
like "-store Cert Hash(sha1)" "$out" "Cert Hash\(sha1\): $thumb"
like "-store root line" "$out" 'Root Certificate: Subject matches Issuer'
like "-store NotAfter" "$out" ' NotAfter: [0-9]{1,2}/[0-9]{1,2}/20[0-9]{2} [0-9]{1,2}:[0-9]{2} (AM|PM)'
like "-store completed" "$out" 'CertUtil: -store command completed successfully.'
ok "-store by thumbprint with spaces" pp certutil --machine $M -store Root "$(echo "$thumb" | sed 's/../& /g')"
ok "-store by CN" pp certutil --machine $M -store Root "WSUS Publishers Self-signed"
out=$(pp certutil --machine $M -store Root 0000000000000000000000000000000000000000 2>&1); rc=$?
is "-store of an absent certificate: exit 1" "$rc" "1"
like "-store of an absent certificate: FAILED line" "$out" 'CertUtil: -store command FAILED: 0x80090011 \(-2146893807 NTE_NOT_FOUND\)'
out=$(pp certutil --machine $M -store 2>&1)
like "-store without a store lists every store" "$out" 'Disallowed "Untrusted Certificates"'

out=$(pp certutil --machine $M -delstore Root "WSUS Publishers Self-signed")
like "-delstore by CN" "$out" "Deleting Certificate 0: CN=WSUS Publishers Self-signed:$thumb"
like "-delstore completed" "$out" 'CertUtil: -delstore command completed successfully.'
ok "removed from disk" test ! -e "$M/certstores/Root/$(echo "$thumb" | tr a-f A-F).cer"
out=$(pp certutil --machine $M -delstore Root "$thumb" 2>&1); rc=$?
is "-delstore of an absent certificate: exit 1" "$rc" "1"
like "-delstore of an absent certificate: CRYPT_E_NOT_FOUND" "$out" '0x80092004 \(-2146885628 CRYPT_E_NOT_FOUND\)'

out=$(pp certutil --machine $M -addstore bogus wsus.cer 2>&1); rc=$?
is "unknown store: exit 1" "$rc" "1"
like "unknown store: names the valid stores" "$out" 'TrustedPublisher'
printf 'garbage' > junk.cer
before=$(tree_digest $M)
exits "garbage certificate: exit 1" 1 pp certutil --machine $M -addstore Root junk.cer
is "garbage certificate: stores unchanged" "$(tree_digest $M)" "$before"
exits "-user is refused" 2 pp certutil -user -addstore Root wsus.cer
exits "two verbs: usage error" 2 pp certutil -store -dump x

ok "-GroupPolicy -addstore" pp certutil --machine gp -GroupPolicy -addstore Root wsus.cer
ok "policy layer file" test -f "gp/policy/certstores/Root/$(echo "$thumb" | tr a-f A-F).cer"
out=$(pp certutil --machine gp -store Root)
unlike "local -store does not show policy certificates" "$out" 'Certificate 0'
like "-GroupPolicy -store shows them" "$(pp certutil --machine gp -GroupPolicy -store Root)" "$thumb"
like "the logical store (cert show) sees the policy layer" "$(pp cert show wsus.cer --machine gp)" 'Trusted Root Authority: +Yes'

out=$(pp certutil -dump ca.cer)
like "-dump X509 header" "$out" '^X509 Certificate:'
like "-dump Basic Constraints" "$out" 'Basic Constraints'
like "-dump subject" "$out" 'CN=Contoso Root CA'
like "-dump completed" "$out" 'CertUtil: -dump command completed successfully.'
like "--help" "$(pp certutil --help)" 'addstore'
pp certutil --machine json -addstore TrustedPublisher wsus.cer >/dev/null
out=$(pp certutil --machine json --json -store TrustedPublisher)
like "-store --json names the store" "$out" '"store": "TrustedPublisher"'
like "-store --json lists the thumbprint" "$out" "\"thumbprint\": \"$(echo "$thumb" | tr a-f A-F)\""
like "-store --json without a store lists all five" "$(pp certutil --machine json --json -store | grep -c '"store":')" '^5$'

done_testing
