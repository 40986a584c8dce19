#!/usr/bin/env bash
# End to end, through the REST API of a real patchpointd on 127.0.0.1: the seed's flow (enable
# third-party updates with a managed certificate -> sync -> the log line -> the certificate ->
# ready), then the rest of DESIGN 5.1/5.2: one sync at a time, Certificates and blocking,
# manual mode, publisher create/import/export, the logs API, the schedule, the hierarchy rule
# and --roles.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP"
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }

D=$TMP/data
pd_init "$D" || exit 1
pd_start main "$D" --sync-interval 3600
H=$PD_URL_main
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { pd_req "${A[@]}" "$@"; }                                  # body + status line
body() { api "$@" | sed '$d'; }                                   # body only
status() { api "$@" | tail -n1; }                                 # status only
wait_sync() { pd_wait_sync "$H" "$PD_TOKEN" "$1"; } # ID: prints the final state
LOGS=$D/logs

# ---- before anything is enabled ----
st=$(body $H/api/v1/publisher/status)
is "status: not ready before third-party updates are enabled" "$(jget ready <<<"$st")" false
is "status: the first failing item is 'enabled'" "$(jget items.0.name <<<"$st")" \
  "Third-party software updates enabled"
is "publisher show without a certificate: 404 no_certificate" \
  "$(status $H/api/v1/publisher/certificate)" 404
like "no_certificate names the signing store" "$(body $H/api/v1/publisher/certificate)" \
  'No certificate found in the signing store of the software update point'

# ---- enable with a managed certificate ----
set=$(api -X PUT "${J[@]}" -d '{"enable_third_party_updates":true,"certificate_mode":"managed"}' \
  $H/api/v1/sites/PP1/third-party-updates)
like "PUT settings on the top-level site: 200" "$set" '200$'
like "settings echo the change" "$set" '"enable_third_party_updates":true,"certificate_mode":"managed","top_level_site":"PP1"'
like "WCM.log records the change" "$(cat "$LOGS/WCM.log")" \
  'Enable third-party software updates = Yes, Configuration Manager manages the certificate \(was No'
like "WCM.log uses the SUP configuration manager component" "$(cat "$LOGS/WCM.log")" \
  'component="SMS_WSUS_CONFIGURATION_MANAGER"'
is "a partial PUT keeps the other field" \
  "$(body -X PUT "${J[@]}" -d '{"certificate_mode":"managed"}' $H/api/v1/sites/PP1/third-party-updates | jget enable_third_party_updates)" true

# ---- sync ----
r=$(api -X POST $H/api/v1/syncs)
is "POST /syncs answers 202" "$(tail -n1 <<<"$r")" 202
SYNC=$(sed '$d' <<<"$r" | jget sync.id)
is "the sync started" "$(sed '$d' <<<"$r" | jget started)" true
is "the sync succeeds" "$(wait_sync "$SYNC")" succeeded
W=$(cat "$LOGS/wsyncmgr.log")
CERT=$(body $H/api/v1/certificates)
TP=$(jget certificates.0.thumbprint <<<"$CERT")
like "one certificate in Certificates" "$TP" '^[0-9A-F]{40}$'
is "its type is Third-party WSUS Signing" "$(jget certificates.0.type <<<"$CERT")" \
  "Third-party WSUS Signing"
is "its subject is the managed default" "$(jget certificates.0.subject <<<"$CERT")" \
  "WSUS Publishers Self-signed"
like "wsyncmgr.log: sync start" "$W" "<!\[LOG\[Sync $SYNC started \(on demand\)\]LOG\]!>"
like "wsyncmgr.log: step 1" "$W" "Sync $SYNC: step 1 of 2, software update point"
like "wsyncmgr.log: step 2" "$W" "Sync $SYNC: step 2 of 2, signing certificate"
like "wsyncmgr.log: the certificate was generated" "$W" "Created WSUS signing certificate $TP"
like "wsyncmgr.log: the insertion line names the thumbprint and says inserted" "$W" \
  "<!\[LOG\[Third-party WSUS Signing certificate $TP inserted into Certificates\]LOG\]!>"
like "wsyncmgr.log: finish" "$W" "Sync $SYNC succeeded in [0-9.]+ s"
like "wsyncmgr.log: the sync manager's component" "$W" 'component="SMS_WSUS_SYNC_MANAGER"'
is "exactly one certificate file in the signer's store" "$(ls "$D"/keys/*.cer | wc -l)" 1

# ---- show, export, status ----
show=$(body $H/api/v1/publisher/certificate)
is "show: thumbprint" "$(jget certificate.thumbprint <<<"$show")" "$TP"
is "show: subject" "$(jget certificate.subject <<<"$show")" "CN=WSUS Publishers Self-signed"
is "show: issuer = subject" "$(jget certificate.issuer <<<"$show")" "CN=WSUS Publishers Self-signed"
is "show: public key" "$(jget certificate.public_key <<<"$show")" "RSA 2048-bit"
like "show: cert usage" "$(jget certificate.cert_usage <<<"$show")" 'Code Signing'
is "show: trusted publisher on this server" "$(jget certificate.trusted_publisher <<<"$show")" true
is "show: trusted root on this server" "$(jget certificate.trusted_root <<<"$show")" true
is "show: self signed" "$(jget certificate.self_signed <<<"$show")" true
is "show: validate trust chain" "$(jget certificate.trust_chain.symbol <<<"$show")" S_OK
curl -s "${A[@]}" -o cert.cer -w '%{content_type}' $H/api/v1/publisher/certificate/cer >ctype
is "export: application/pkix-cert" "$(cat ctype)" application/pkix-cert
is "export: DER of the signing certificate" \
  "$(openssl x509 -inform DER -in cert.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')" "$TP"
unlike "export: no private key" "$(openssl pkey -inform DER -in cert.cer 2>&1)" '^-----BEGIN'
st=$(body $H/api/v1/publisher/status)
is "status: ready after the sync" "$(jget ready <<<"$st")" true
is "status: five items" "$(jget items <<<"$st" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 5

# ---- a second sync imports instead of generating ----
SYNC2=$(body -X POST $H/api/v1/syncs | jget sync.id)
is "second sync succeeds" "$(wait_sync "$SYNC2")" succeeded
like "second sync finds the same certificate" "$(cat "$LOGS/wsyncmgr.log")" \
  "Third-party WSUS Signing certificate $TP is already in Certificates"
is "still one row in Certificates" \
  "$(body $H/api/v1/certificates | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')" 1

# ---- one sync at a time, across processes ----
python3 - "$D/patchpoint.db" <<'EOF'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute("INSERT INTO syncs (state, started_at) VALUES ('running', ?)", (int(time.time()),))
c.commit()
EOF
RUN_ID=$(body $H/api/v1/syncs/latest | jget sync.id)
r=$(body -X POST $H/api/v1/syncs)
is "a request while a sync runs does not start another" "$(jget started <<<"$r")" false
is "...and answers with the running sync's id" "$(jget sync.id <<<"$r")" "$RUN_ID"
python3 - "$D/patchpoint.db" <<'EOF'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute("UPDATE syncs SET state = 'succeeded', finished_at = ? WHERE state = 'running'", (int(time.time()),))
c.commit()
EOF

# ---- block / unblock ----
b=$(api -X POST $H/api/v1/certificates/$TP/block)
is "block: 200" "$(tail -n1 <<<"$b")" 200
is "block: the row says blocked" "$(sed '$d' <<<"$b" | jget certificate.blocked)" true
st=$(body $H/api/v1/publisher/status)
is "status: not ready while the signing certificate is blocked" "$(jget ready <<<"$st")" false
like "status names the blocked certificate" "$(jget items.4.detail <<<"$st")" "$TP is blocked"
is "unblock: not blocked any more" "$(body -X POST $H/api/v1/certificates/$TP/unblock | jget certificate.blocked)" false
like "WCM.log records the block" "$(cat "$LOGS/WCM.log")" "Certificate $TP blocked"
is "block an unknown certificate: 404" "$(status -X POST $H/api/v1/certificates/0000000000000000000000000000000000000000/block)" 404

# ---- manual mode, publisher create and import ----
body -X PUT "${J[@]}" -d '{"certificate_mode":"manual"}' $H/api/v1/sites/PP1/third-party-updates >/dev/null
r=$(api -X POST "${J[@]}" -d '{"subject":"CN=Contoso Publisher","years":2}' $H/api/v1/publisher/certificate)
is "create without --force over a valid certificate: 409" "$(tail -n1 <<<"$r")" 409
like "409 certificate_exists names the current one" "$r" "\"certificate_exists\".*$TP"
r=$(api -X POST "${J[@]}" -d '{"subject":"CN=Contoso Publisher","years":2,"key_bits":3072,"force":true}' \
  $H/api/v1/publisher/certificate)
is "create --force: 201" "$(tail -n1 <<<"$r")" 201
TP2=$(sed '$d' <<<"$r" | jget certificate.thumbprint)
is "create: the subject asked for" "$(sed '$d' <<<"$r" | jget certificate.subject)" "CN=Contoso Publisher"
is "create: the key length asked for" "$(sed '$d' <<<"$r" | jget certificate.public_key)" "RSA 3072-bit"
is "the new certificate replaced the old in the signing store" "$(ls "$D"/keys/*.cer)" "$D/keys/$TP2.cer"
like "Publisher.log records the creation" "$(cat "$LOGS/Publisher.log")" \
  "Created self-signed certificate $TP2 .*1 previous certificate\(s\) removed"
SYNC3=$(body -X POST $H/api/v1/syncs | jget sync.id)
is "manual-mode sync succeeds" "$(wait_sync "$SYNC3")" succeeded
like "manual mode inserts the registered certificate" "$(cat "$LOGS/wsyncmgr.log")" \
  "Third-party WSUS Signing certificate $TP2 inserted into Certificates"
is "the old certificate stays in Certificates (history)" \
  "$(body $H/api/v1/certificates | python3 -c 'import json,sys; print(sorted(c["thumbprint"] for c in json.load(sys.stdin)["certificates"]) == sorted(sys.argv[1:]))' "$TP" "$TP2")" True

openssl req -x509 -newkey rsa:2048 -nodes -keyout pki.key -out pki.pem -days 400 \
  -subj '/CN=Contoso PKI Signing' -addext keyUsage=critical,digitalSignature \
  -addext extendedKeyUsage=codeSigning 2>/dev/null
openssl pkcs12 -export -inkey pki.key -in pki.pem -out pki.pfx -passout pass:s3cret 2>/dev/null
PFX=$(base64 -w0 pki.pfx)
r=$(api -X POST "${J[@]}" -d "{\"pfx\":\"$PFX\",\"password\":\"wrong\",\"force\":true}" \
  $H/api/v1/publisher/certificate/import)
is "import with a wrong password: 422" "$(tail -n1 <<<"$r")" 422
like "422 import_failed with the reason" "$r" '"code":"import_failed","message":"[^"]+'
like "Publisher.log: Certificate Import Failed" "$(cat "$LOGS/Publisher.log")" 'Certificate Import Failed: '
is "a failed import changes nothing in the signing store" "$(ls "$D"/keys/*.cer)" "$D/keys/$TP2.cer"
r=$(api -X POST "${J[@]}" -d "{\"pfx\":\"$PFX\",\"password\":\"s3cret\",\"force\":true}" \
  $H/api/v1/publisher/certificate/import)
is "import a PKI-issued PFX: 201" "$(tail -n1 <<<"$r")" 201
is "import: the PFX's certificate is registered" "$(sed '$d' <<<"$r" | jget certificate.thumbprint)" \
  "$(openssl x509 -in pki.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')"

# ---- the logs API ----
l=$(body "$H/api/v1/logs/wsyncmgr")
is "logs: the file name" "$(jget name <<<"$l")" wsyncmgr.log
like "logs: the text carries the insertion line" "$(jget text <<<"$l")" "$TP inserted into Certificates"
NEXT=$(jget next_offset <<<"$l")
is "logs: next_offset is the size" "$NEXT" "$(stat -c %s "$LOGS/wsyncmgr.log")"
is "logs: nothing new after next_offset" "$(body "$H/api/v1/logs/wsyncmgr?offset=$NEXT" | jget text)" ""
is "logs: an offset past the end (rolled over) restarts at 0" \
  "$(body "$H/api/v1/logs/WCM.log?offset=999999999" | jget offset)" 0
is "logs: unknown name 404" "$(status $H/api/v1/logs/secrets)" 404
is "logs: bad offset 400" "$(status "$H/api/v1/logs/wsyncmgr?offset=-1")" 400
# logrotate's way: move the files away, SIGHUP, and patchpointd writes new ones
ID1=$(body "$H/api/v1/logs/wsyncmgr" | jget file_id)
mv "$LOGS/wsyncmgr.log" "$LOGS/wsyncmgr.log.1"
kill -HUP "$PD_PID_main"
for i in $(seq 50); do [ -f "$LOGS/wsyncmgr.log" ] && break; sleep 0.05; done
SYNC4=$(body -X POST $H/api/v1/syncs | jget sync.id)
is "a sync after SIGHUP succeeds" "$(wait_sync "$SYNC4")" succeeded
like "SIGHUP: the sync writes to the new wsyncmgr.log" "$(cat "$LOGS/wsyncmgr.log")" "Sync $SYNC4 started"
unlike "SIGHUP: nothing more in the moved file" "$(cat "$LOGS/wsyncmgr.log.1")" "Sync $SYNC4 started"
l=$(body "$H/api/v1/logs/wsyncmgr?offset=$NEXT")
unlike "logs: the new file has a new file_id" "$(jget file_id <<<"$l")" "^$ID1\$"
pd_stop main
is "graceful stop" "$PD_RC" 0

# ---- the schedule ----
D2=$TMP/sched
pd_init "$D2" || exit 1
pd_start sched "$D2" --sync-interval 1
for i in $(seq 100); do grep -q 'started (scheduled)' "$D2/logs/wsyncmgr.log" 2>/dev/null && break; sleep 0.1; done
like "a scheduled sync runs by itself" "$(cat "$D2/logs/wsyncmgr.log")" 'Sync 1 started \(scheduled\)'
like "the scheduled sync skips the certificate while third-party updates are off" \
  "$(cat "$D2/logs/wsyncmgr.log")" 'Third-party software updates are not enabled'
pd_stop sched

# ---- the hierarchy: settings only on the top-level site ----
pd_start main "$D" --sync-interval 0
H=$PD_URL_main
r=$(api -X POST "${J[@]}" -d '{"code":"CAS","name":"Central","cas":true}' $H/api/v1/sites)
is "add a CAS above the primary: 201" "$(tail -n1 <<<"$r")" 201
is "the CAS is the top-level site" "$(body $H/api/v1/sites | jget sites.0.code)" CAS
is "PP1 is its child" "$(body $H/api/v1/sites/PP1 | jget parent_code)" CAS
is "a second primary under the CAS, with a UTF-8 name: 201" \
  "$(status -X POST "${J[@]}" -d '{"code":"ZH1","name":"Zürich Primär","parent_code":"CAS"}' $H/api/v1/sites)" 201
like "logs: UTF-8 text comes back whole" "$(body $H/api/v1/logs/WCM | jget text)" 'Site ZH1 \(Zürich Primär\) added under CAS'
r=$(api -X PUT "${J[@]}" -d '{"enable_third_party_updates":false}' $H/api/v1/sites/PP1/third-party-updates)
is "settings on a child site: 409" "$(tail -n1 <<<"$r")" 409
like "409 not_top_level names the top-level site" "$r" '"not_top_level","message":"[^"]*CAS'
like "WCM.log records the refusal" "$(cat "$LOGS/WCM.log")" 'Refused third-party updates settings on site PP1'
is "the settings did not change" "$(body $H/api/v1/sites/CAS/third-party-updates | jget enable_third_party_updates)" true
is "settings on the CAS: 200" "$(status -X PUT "${J[@]}" -d '{"certificate_mode":"managed"}' $H/api/v1/sites/CAS/third-party-updates)" 200
r=$(api -X POST "${J[@]}" -d '{"url":"https://sup.cas.example:8531/","location":"remote","site_code":"CAS","sync_source":true}' $H/api/v1/sups)
is "add the CAS's remote sync-source SUP: 201" "$(tail -n1 <<<"$r")" 201
is "a second sync source on the CAS takes over: 201" "$(status -X POST "${J[@]}" -d '{"url":"https://other:8531/","location":"remote","site_code":"CAS","sync_source":true}' $H/api/v1/sups)" 201
is "the CAS has one sync source, the new one" \
  "$(body "$H/api/v1/sups?site=CAS" | python3 -c 'import json,sys; print([s["url"] for s in json.load(sys.stdin)["sups"] if s["sync_source"]])')" "['https://other:8531/']"
like "WCM.log records the takeover" "$(cat "$LOGS/WCM.log")" 'https://sup.cas.example:8531/ is no longer the sync source of site CAS'
is "the same URL twice on a site: 409" "$(status -X POST "${J[@]}" -d '{"url":"https://other:8531/","location":"remote","site_code":"CAS"}' $H/api/v1/sups)" 409
pd_stop main

# ---- roles ----
pd_start suponly "$D" --roles sup --sync-interval 0
is "--roles sup: status answers" "$(pd_req $PD_URL_suponly/api/v1/status | tail -n1)" 200
like "--roles sup: status names the role" "$(pd_req $PD_URL_suponly/api/v1/status)" '"roles":\["sup"\]'
is "--roles sup: no site routes" "$(pd_req "${A[@]}" $PD_URL_suponly/api/v1/sites | tail -n1)" 404
ok "--roles sup: the signer runs" pgrep -P "$PD_PID_suponly"
pd_stop suponly
pd_start siteonly "$D" --roles site --sync-interval 0
is "--roles site: site routes answer" "$(pd_req "${A[@]}" $PD_URL_siteonly/api/v1/sites | tail -n1)" 200
fails "--roles site: no signer child" pgrep -P "$PD_PID_siteonly"
is "--roles site: no signing-store routes" "$(pd_req "${A[@]}" $PD_URL_siteonly/api/v1/signing-store | tail -n1)" 404
pd_stop siteonly
done_testing
