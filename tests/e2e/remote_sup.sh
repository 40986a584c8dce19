#!/usr/bin/env bash
# End to end, DESIGN 5.3: a site server whose top-level SUP is remote. Two real processes on
# 127.0.0.1: a `patchpointd --roles sup` with TLS (its own signer holds the signing store) and
# site servers reaching it. Over http:// the certificate step logs the exact warning and gets
# nothing; over https:// (CA bundle trusted by the site server) it works as for a local SUP; a
# site server that does not trust the SUP's CA gets nothing either.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP"
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }

J=(-H 'Content-Type: application/json')
NOT_HTTPS='Remote WSUS connection is not HTTPS. This prevents software update point from getting the signing certificate for third-party updates'

# ---- TLS material: a CA and the SUP's server certificate for 127.0.0.1 ----
mkca() { # NAME
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 30 \
    -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
mkca supca
mkca otherca
openssl req -newkey rsa:2048 -nodes -keyout sup.key -out sup.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >sup.ext
openssl x509 -req -in sup.csr -CA supca.pem -CAkey supca.key -CAcreateserial -days 30 \
  -extfile sup.ext -out sup.pem 2>/dev/null
ok "TLS material made" test -s sup.pem

# ---- the remote SUP ----
pd_init "$TMP/sup" || exit 1
SUP_TOKEN=$PD_TOKEN
(umask 077 && printf '%s\n' "$SUP_TOKEN" >sup.token)
pd_start sup "$TMP/sup" --roles sup --listen 127.0.0.1:0 --listen-tls 127.0.0.1:0 \
  --tls-cert sup.pem --tls-key sup.key
SUP_HTTP=http://127.0.0.1:$PD_PORT_sup
SUP_HTTPS=https://127.0.0.1:$PD_TLS_PORT_sup
like "the SUP listens on https" "$SUP_HTTPS" '^https://127\.0\.0\.1:[1-9][0-9]*$'
like "the SUP plays the sup role only" "$(pd_req --cacert supca.pem $SUP_HTTPS/api/v1/status)" \
  '"roles":\["sup"\]'
r=$(pd_req -H "Authorization: Bearer $SUP_TOKEN" $SUP_HTTP/api/v1/signing-store)
is "the signing store over plain HTTP: 403" "$(tail -n1 <<<"$r")" 403
like "403 https_required" "$r" '"code":"https_required"'
is "the signing store over HTTPS: 200" \
  "$(pd_req --cacert supca.pem -H "Authorization: Bearer $SUP_TOKEN" $SUP_HTTPS/api/v1/signing-store | tail -n1)" 200
is "the signing store without the token: 401" \
  "$(pd_req --cacert supca.pem $SUP_HTTPS/api/v1/signing-store | tail -n1)" 401

# site NAME SUP_URL [ARGS...]: a site server whose top-level site is a CAS with that remote SUP
# as its sync source, third-party updates on with a managed certificate; sets SITE_<NAME> (URL)
# and AUTH_<NAME> (its token).
site() {
  local name=$1 url=$2 h auth
  shift 2
  pd_init "$TMP/$name" || return 1
  auth="Authorization: Bearer $PD_TOKEN"
  pd_start "$name" "$TMP/$name" --sync-interval 0 --sup-token-file "$TMP/sup.token" "$@"
  local v="PD_URL_$name"
  h=${!v}
  pd_req -H "$auth" "${J[@]}" -X POST -d '{"code":"CAS","name":"Central","cas":true}' \
    $h/api/v1/sites >/dev/null
  pd_req -H "$auth" "${J[@]}" -X POST \
    -d "{\"url\":\"$url\",\"location\":\"remote\",\"site_code\":\"CAS\",\"sync_source\":true}" \
    $h/api/v1/sups >/dev/null
  pd_req -H "$auth" "${J[@]}" -X PUT \
    -d '{"enable_third_party_updates":true,"certificate_mode":"managed"}' \
    $h/api/v1/sites/CAS/third-party-updates >/dev/null
  printf -v "SITE_$name" '%s' "$h"
  printf -v "AUTH_$name" '%s' "$auth"
}
sync_wait() { # URL AUTH: runs a sync, prints its final state
  local id
  id=$(pd_req -H "$2" -X POST "$1/api/v1/syncs" | sed '$d' | jget sync.id)
  pd_wait_sync "$1" "${2#Authorization: Bearer }" "$id"
}

# ---- over http:// ----
site plain "$SUP_HTTP/" --sup-ca-bundle supca.pem
is "http: the sync itself completes" "$(sync_wait "$SITE_plain" "$AUTH_plain")" succeeded
W=$(cat "$TMP/plain/logs/wsyncmgr.log")
like "http: wsyncmgr.log carries the exact warning, type 2" "$W" \
  "<!\[LOG\[$NOT_HTTPS\]LOG\]!><time=\"[^\"]+\" date=\"[^\"]+\" component=\"SMS_WSUS_SYNC_MANAGER\" context=\"\" type=\"2\""
unlike "http: nothing was generated or inserted" "$W" 'Created WSUS signing certificate|inserted into Certificates'
is "http: Certificates stays empty" \
  "$(pd_req -H "$AUTH_plain" $SITE_plain/api/v1/certificates | sed '$d')" '{"certificates":[]}'
is "http: the SUP's signing store stays empty" "$(ls "$TMP/sup/keys/" | grep -c '\.cer$')" 0
st=$(pd_req -H "$AUTH_plain" $SITE_plain/api/v1/publisher/status | sed '$d')
is "http: status not ready" "$(jget ready <<<"$st")" false
is "http: the failing item is the HTTPS connection" "$(jget items.1.name <<<"$st")" \
  "Software update point reachable over HTTPS"
is "http: with the same reason" "$(jget items.1.detail <<<"$st")" "$NOT_HTTPS"
r=$(pd_req -H "$AUTH_plain" $SITE_plain/api/v1/publisher/certificate)
is "http: publisher show refused with 409" "$(tail -n1 <<<"$r")" 409
like "http: 409 not_https" "$r" '"code":"not_https"'
pd_stop plain

# ---- over https:// with the SUP's CA trusted ----
site tls "$SUP_HTTPS/" --sup-ca-bundle supca.pem
is "https: the sync succeeds" "$(sync_wait "$SITE_tls" "$AUTH_tls")" succeeded
W=$(cat "$TMP/tls/logs/wsyncmgr.log")
unlike "https: no warning" "$W" 'Remote WSUS connection is not HTTPS'
CER=$(ls "$TMP/sup/keys/" | grep '\.cer$')
TP=${CER%.cer}
like "https: the certificate was generated in the remote SUP's signer" "$TP" '^[0-9A-F]{40}$'
like "https: the log names the remote store" "$W" "Created WSUS signing certificate $TP in $SUP_HTTPS/"
like "https: the insertion line" "$W" "Third-party WSUS Signing certificate $TP inserted into Certificates"
is "https: Certificates holds it" \
  "$(pd_req -H "$AUTH_tls" $SITE_tls/api/v1/certificates | sed '$d' | jget certificates.0.thumbprint)" "$TP"
is "https: the site server holds no key" "$(ls "$TMP/tls/keys/" | grep -c '\.key$')" 0
st=$(pd_req -H "$AUTH_tls" $SITE_tls/api/v1/publisher/status | sed '$d')
is "https: status ready" "$(jget ready <<<"$st")" true
is "https: the HTTPS item passed" "$(jget items.1.name <<<"$st")" \
  "Software update point reachable over HTTPS"
pd_req -H "$AUTH_tls" -o remote.cer $SITE_tls/api/v1/publisher/certificate/cer >/dev/null
is "https: export through the site server" \
  "$(openssl x509 -inform DER -in remote.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')" "$TP"
is "https: a second sync finds the same certificate" "$(sync_wait "$SITE_tls" "$AUTH_tls")" succeeded
like "https: ...already in Certificates" "$(cat "$TMP/tls/logs/wsyncmgr.log")" \
  "$TP is already in Certificates"
is "https: still one certificate on the SUP" "$(ls "$TMP/sup/keys/" | grep -c '\.cer$')" 1
pd_stop tls

# ---- a standalone primary whose remote SUP takes over as sync source from the local one ----
pd_init "$TMP/standalone" || exit 1
AUTH_sa="Authorization: Bearer $PD_TOKEN"
pd_start sa "$TMP/standalone" --sync-interval 0 --sup-token-file "$TMP/sup.token" \
  --sup-ca-bundle supca.pem
r=$(pd_req -H "$AUTH_sa" "${J[@]}" -X POST \
  -d "{\"url\":\"$SUP_HTTPS/\",\"location\":\"remote\",\"sync_source\":true}" $PD_URL_sa/api/v1/sups)
is "standalone: the remote SUP is added to the top-level site" "$(sed '$d' <<<"$r" | jget sup.site_code)" PP1
pd_req -H "$AUTH_sa" "${J[@]}" -X PUT -d '{"enable_third_party_updates":true}' \
  $PD_URL_sa/api/v1/sites/PP1/third-party-updates >/dev/null
is "standalone: the sync succeeds" "$(sync_wait "$PD_URL_sa" "$AUTH_sa")" succeeded
like "standalone: it uses the remote SUP's certificate" "$(cat "$TMP/standalone/logs/wsyncmgr.log")" \
  "Found WSUS signing certificate $TP in $SUP_HTTPS/"
is "standalone: nothing generated locally" "$(ls "$TMP/standalone/keys/" | grep -c '\.cer$')" 0
pd_stop sa

# ---- over https:// without trusting the SUP's CA ----
site untrusting "$SUP_HTTPS/" --sup-ca-bundle otherca.pem
is "untrusted CA: the sync fails" "$(sync_wait "$SITE_untrusting" "$AUTH_untrusting")" failed
like "untrusted CA: the log says why" "$(cat "$TMP/untrusting/logs/wsyncmgr.log")" \
  "Sync [0-9]+ failed: .*$SUP_HTTPS.*(certificate|SSL)"
is "untrusted CA: nothing new on the SUP" "$(ls "$TMP/sup/keys/" | grep -c '\.cer$')" 1
pd_stop untrusting

pd_stop sup
is "the SUP stops gracefully" "$PD_RC" 0
done_testing
