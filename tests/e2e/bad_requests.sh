#!/usr/bin/env bash
# End to end (DESIGN 6, 7: "bad input gets a clear error and changes nothing"): wrong token,
# missing token, oversized body, invalid JSON, unknown fields and wrong types, unknown site, a
# child site, PFX files with a wrong password, an ECDSA key or other defects, unknown ids, wrong
# methods. Each gets its exact 4xx status and the error shape {"error":{"code","message"}} with
# the documented code; after each group the state seen through the API (sites, settings, SUPs,
# Certificates, the latest sync, the publisher certificate) and the signing store on disk are
# unchanged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing (scripts/install-deps.sh)"; exit 0; }

D=$TMP/data
pd_init "$D" || exit 1
pd_start main "$D" --sync-interval 0
H=$PD_URL_main
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { pd_req "${A[@]}" "$@"; }      # body + status line
body() { api "$@" | sed '$d'; }       # body only
wait_sync() { pd_wait_sync "$H" "$PD_TOKEN" "$1"; } # ID: prints the final state
# check_error CODE BODY: first line what is wrong with the error body (empty when it is exactly
# {"error":{"code":CODE,"message":non-empty string}}), then the message. Signing-store errors
# may add "hresult".
check_error() {
  python3 -c 'import json, sys
want, text = sys.argv[1], sys.argv[2]
def done(problem, message=""):
    print(problem); print(message); sys.exit(0)
try:
    d = json.loads(text)
except ValueError as e:
    done("not JSON (%s): %r" % (e, text[:200]))
if not isinstance(d, dict) or list(d) != ["error"] or not isinstance(d["error"], dict):
    done("not {\"error\":{...}}: %s" % text[:300])
e = d["error"]
m = e.get("message")
if set(e) - {"hresult"} != {"code", "message"}:
    done("error members %s, want code and message" % sorted(e), m)
if e["code"] != want:
    done("code %r, want %r" % (e["code"], want), m)
if not isinstance(m, str) or not m.strip():
    done("empty message")
done("", m)' "$1" "$2" 2>&1
}
# bad NAME STATUS CODE MESSAGE-REGEX CURL-ARGS...: the request gets STATUS and the JSON error
# CODE, with a message matching the regex ('' for any message). Sets LAST_BODY.
ERR_RE='^\{"error":\{"code":"([a-z_]+)","message":"(([^"\\]|\\.)+)"(,"hresult":"0x[0-9A-F]{8}")?\}\}$'
bad() {
  local name=$1 want=$2 code=$3 msg=$4 r status b c
  shift 4
  r=$(pd_req "$@")
  status=${r##*$'\n'}
  b=${r%$'\n'*}
  [ "$b" == "$r" ] && b=
  # The compact form the server writes, checked without a fork; anything else goes to python.
  if [[ $b =~ $ERR_RE ]] && [ "${BASH_REMATCH[1]}" == "$code" ]; then
    c=${BASH_REMATCH[2]//\\\"/\"} # the message, \" unescaped
    c=$'\n'"${c//\\\\/\\}"
  else
    c=$(check_error "$code" "$b")
  fi
  is "$name: $want" "$status" "$want"
  is "$name: error $code" "${c%%$'\n'*}" ""
  if [ -n "$msg" ]; then
    like "$name: the message says what is wrong" "${c#*$'\n'}" "$msg"
  fi
  LAST_BODY=$b
}

# ---- the state before: third-party updates on, a managed certificate, a finished sync ----
is "enable third-party updates, managed: 200" "$(api -X PUT "${J[@]}" \
  -d '{"enable_third_party_updates":true,"certificate_mode":"managed"}' \
  $H/api/v1/sites/PP1/third-party-updates | tail -n1)" 200
S=$(body -X POST $H/api/v1/syncs | jget sync.id)
is "the first sync succeeds" "$(wait_sync "$S")" succeeded
TP=$(body $H/api/v1/certificates | jget certificates.0.thumbprint)
like "a managed signing certificate exists" "$TP" '^[0-9A-F]{40}$'
SITE=PP1 # the top-level site, whose settings the snapshot reads

# The state through the API and the signing store on disk.
snapshot() {
  local p
  for p in sites sites/PP1 "sites/$SITE/third-party-updates" sups certificates syncs/latest \
    publisher/certificate; do
    printf '%s: ' "$p"
    api "$H/api/v1/$p" | tr '\n' ' '
    echo
  done
  echo "keys: $(tree_digest "$D/keys")"
  (cd "$D/keys" && ls -la --time-style=+%s . | awk '{print $1, $5, $6, $7}')
  echo "machine: $(tree_digest "$D/machine")"
}
unchanged() { # GROUP: compares with the last snapshot
  local now
  now=$(snapshot)
  if [ "$now" == "$BEFORE" ]; then _tap_result 0 "$1: nothing changed (API state, keys/, machine/)"
  else _tap_result 1 "$1: nothing changed (API state, keys/, machine/)" \
    "$(diff <(echo "$BEFORE") <(echo "$now"))"; fi
}
BEFORE=$(snapshot)
like "the snapshot sees the certificate" "$BEFORE" "$TP"
like "the snapshot sees the keys" "$BEFORE" "$TP\\.key"

# ---- 1. authentication ----
SETTINGS='{"enable_third_party_updates":false,"certificate_mode":"manual"}'
WRONG=$(openssl rand -hex 32)
for t in none wrong basic empty truncated; do
  case $t in
    none) AUTH=() ;;
    wrong) AUTH=(-H "Authorization: Bearer $WRONG") ;;
    basic) AUTH=(-H "Authorization: Basic $(printf 'admin:%s' "$PD_TOKEN" | base64 -w0)") ;;
    empty) AUTH=(-H "Authorization: Bearer ") ;;
    truncated) AUTH=(-H "Authorization: Bearer ${PD_TOKEN:0:63}") ;;
  esac
  bad "$t token, GET sites" 401 unauthorized '' "${AUTH[@]}" $H/api/v1/sites
  bad "$t token, PUT settings" 401 unauthorized '' "${AUTH[@]}" -X PUT "${J[@]}" -d "$SETTINGS" \
    $H/api/v1/sites/PP1/third-party-updates
  bad "$t token, POST syncs" 401 unauthorized '' "${AUTH[@]}" -X POST $H/api/v1/syncs
  bad "$t token, POST publisher certificate" 401 unauthorized '' "${AUTH[@]}" -X POST "${J[@]}" \
    -d '{"force":true}' $H/api/v1/publisher/certificate
  bad "$t token, block" 401 unauthorized '' "${AUTH[@]}" -X POST $H/api/v1/certificates/$TP/block
  bad "$t token, logs" 401 unauthorized '' "${AUTH[@]}" $H/api/v1/logs/wsyncmgr
done
hdr=$(curl -s -D - -o /dev/null $H/api/v1/sites)
like "401 without a token names the Bearer scheme" "$hdr" $'WWW-Authenticate: Bearer realm="patchpoint"\r'
hdr=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $WRONG" $H/api/v1/sites)
like "401 with a wrong token says invalid_token" "$hdr" 'WWW-Authenticate: Bearer .*error="invalid_token"'
like "the message of a missing token asks for one" \
  "$(pd_req $H/api/v1/sites | sed '$d' | jget error.message)" 'Authorization: Bearer'
like "the message of a wrong token says it is not valid" \
  "$(pd_req -H "Authorization: Bearer $WRONG" $H/api/v1/sites | sed '$d' | jget error.message)" \
  'not valid'
unchanged "authentication"
unlike "the wrong token is not logged" "$(cat "$D"/logs/*)" "$WRONG"

# ---- 2. bodies: size, JSON, fields ----
PUT=(-X PUT "${J[@]}" "$H/api/v1/sites/PP1/third-party-updates")
python3 -c 'import sys; n = 1024 * 1024 + 1 - len("{\"enable_third_party_updates\":false,\"x\":\"\"}")
sys.stdout.write("{\"enable_third_party_updates\":false,\"x\":\"" + "a" * n + "\"}")' >big1.json
is "the big body is 1 MiB + 1 byte" "$(stat -c %s big1.json)" 1048577
bad "a body of 1 MiB + 1 byte" 413 payload_too_large '1048576' "${A[@]}" --data-binary @big1.json "${PUT[@]}"
python3 -c 'import sys; sys.stdout.write("{\"pfx\":\"" + "A" * (17 * 1024 * 1024) + "\",\"password\":\"x\",\"force\":true}")' >big17.json
# Past twice the largest limit of any route (16 MiB: the upload routes take 8 MiB chunks)
# libevent stops reading and answers 413 itself, with its own HTML page (libevent 2.1 has no
# hook for that page; docs/api.md says so).
r=$(api -X POST "${J[@]}" --data-binary @big17.json $H/api/v1/publisher/certificate/import)
is "a body of 17 MiB (an import): 413" "$(tail -n1 <<<"$r")" 413
like "a body of 17 MiB: the page names the reason" "$r" 'Request Entity Too Large'
unchanged "a 17 MiB body"
python3 -c 'import sys; sys.stdout.write("{\"force\":true,\"subject\":\"CN=" + "x" * (1100 * 1024) + "\"}")' >bigcreate.json
bad "a body over 1 MiB to publisher create" 413 payload_too_large '' "${A[@]}" -X POST "${J[@]}" \
  --data-binary @bigcreate.json $H/api/v1/publisher/certificate
python3 -c 'import sys; n = 1024 * 1024 - len("{\"enable_third_party_updates\":true,\"x\":\"\"}")
sys.stdout.write("{\"enable_third_party_updates\":true,\"x\":\"" + "a" * n + "\"}")' >exact.json
bad "a body of exactly 1 MiB is read (then refused for its unknown field)" 400 \
  invalid_argument '"x"' "${A[@]}" --data-binary @exact.json "${PUT[@]}"
bad "malformed JSON" 400 invalid_json 'line 1, column [0-9]+' "${A[@]}" \
  -d '{"enable_third_party_updates":tru' "${PUT[@]}"
bad "malformed JSON on line 2" 400 invalid_json 'line 2' "${A[@]}" \
  --data-binary $'{\n"enable_third_party_updates" true}' "${PUT[@]}"
bad "an empty body" 400 invalid_json '' "${A[@]}" -d '' "${PUT[@]}"
bad "trailing garbage after the object" 400 invalid_json '' "${A[@]}" \
  -d '{"enable_third_party_updates":false} x' "${PUT[@]}"
bad "a duplicated key" 400 invalid_json '' "${A[@]}" \
  -d '{"enable_third_party_updates":false,"enable_third_party_updates":false}' "${PUT[@]}"
bad "a JSON array instead of an object" 400 invalid_argument 'object' "${A[@]}" \
  -d '[{"enable_third_party_updates":false}]' "${PUT[@]}"
bad "a JSON string instead of an object" 400 invalid_argument 'object' "${A[@]}" \
  -d '"enable_third_party_updates"' "${PUT[@]}"
bad "an unknown field (enable_third_party)" 400 invalid_argument '"enable_third_party"' \
  "${A[@]}" -d '{"enable_third_party":true}' "${PUT[@]}"
bad "an unknown field beside a good one" 400 invalid_argument '"mode"' "${A[@]}" \
  -d '{"enable_third_party_updates":false,"mode":"manual"}' "${PUT[@]}"
bad "a string for a boolean" 400 invalid_argument 'enable_third_party_updates' "${A[@]}" \
  -d '{"enable_third_party_updates":"no"}' "${PUT[@]}"
bad "a number for a boolean" 400 invalid_argument 'enable_third_party_updates' "${A[@]}" \
  -d '{"enable_third_party_updates":0}' "${PUT[@]}"
bad "a boolean for the mode" 400 invalid_argument 'certificate_mode' "${A[@]}" \
  -d '{"certificate_mode":true}' "${PUT[@]}"
bad "an unknown certificate mode" 400 invalid_argument 'certificate_mode|managed|manual' \
  "${A[@]}" -d '{"certificate_mode":"automatic"}' "${PUT[@]}"
bad "a valid field with an invalid one: none applied" 400 invalid_argument '' "${A[@]}" \
  -d '{"enable_third_party_updates":false,"certificate_mode":"automatic"}' "${PUT[@]}"
bad "a body sent as text/plain" 415 unsupported_media_type 'application/json' "${A[@]}" \
  -X PUT -H 'Content-Type: text/plain' -d '{"enable_third_party_updates":false}' \
  $H/api/v1/sites/PP1/third-party-updates
bad "a body without a content type" 415 unsupported_media_type '' "${A[@]}" -X PUT \
  -H 'Content-Type:' -d '{"enable_third_party_updates":false}' $H/api/v1/sites/PP1/third-party-updates
bad "publisher create: key_bits 1024" 400 invalid_argument 'key_bits' "${A[@]}" -X POST "${J[@]}" \
  -d '{"key_bits":1024,"force":true}' $H/api/v1/publisher/certificate
bad "publisher create: years 0" 400 invalid_argument 'years' "${A[@]}" -X POST "${J[@]}" \
  -d '{"years":0,"force":true}' $H/api/v1/publisher/certificate
bad "publisher create: force as a string" 400 invalid_argument 'force' "${A[@]}" -X POST "${J[@]}" \
  -d '{"force":"yes"}' $H/api/v1/publisher/certificate
bad "publisher create: an unknown field" 400 invalid_argument '"keybits"' "${A[@]}" -X POST \
  "${J[@]}" -d '{"keybits":2048,"force":true}' $H/api/v1/publisher/certificate
bad "POST sites: a bad code" 400 invalid_argument '' "${A[@]}" -X POST "${J[@]}" \
  -d '{"code":"p!1","name":"Bad"}' $H/api/v1/sites
bad "POST sites: no code" 400 invalid_argument 'code' "${A[@]}" -X POST "${J[@]}" \
  -d '{"name":"No code"}' $H/api/v1/sites
bad "POST sites: an existing code" 409 already_exists '' "${A[@]}" -X POST "${J[@]}" \
  -d '{"code":"PP1","name":"Again"}' $H/api/v1/sites
bad "POST sites: an unknown parent" 404 not_found '' "${A[@]}" -X POST "${J[@]}" \
  -d '{"code":"PP3","name":"Orphan","parent_code":"ZZ9"}' $H/api/v1/sites
bad "POST sups: the same URL twice" 409 already_exists '' "${A[@]}" -X POST "${J[@]}" \
  -d '{"url":"http://localhost:8530/","location":"local"}' $H/api/v1/sups
bad "POST sups: an unknown location" 400 invalid_argument '' "${A[@]}" -X POST "${J[@]}" \
  -d '{"url":"http://other:8530/","location":"nearby"}' $H/api/v1/sups
unchanged "bodies"

# ---- 3. PFX imports ----
mk_selfsigned good "Bad Requests Signing"
mk_pfx good "right-password"
GOOD=$(base64 -w0 good.pfx)
# ECDSA P-256 code-signing certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ec.key \
  -out ec.pem -subj "/CN=ECDSA Signing" -days 365 -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=codeSigning" 2>/dev/null
mk_pfx ec "pw"
# RSA 1024, TLS-server-only usage, expired
openssl req -x509 -newkey rsa:1024 -nodes -keyout small.key -out small.pem -subj "/CN=Small" \
  -days 365 -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
  2>/dev/null
mk_pfx small "pw"
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem -subj "/CN=TLS only" \
  -days 365 -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
  -addext "extendedKeyUsage=serverAuth" 2>/dev/null
mk_pfx tls "pw"
mk_expired old "Expired Signing"
mk_pfx old "pw"
openssl pkcs12 -export -nokeys -in good.pem -out nokey.pfx -passout pass:pw 2>/dev/null
IMPORT=(-X POST "${J[@]}" "$H/api/v1/publisher/certificate/import")
imp() { printf '{"pfx":"%s","password":"%s","force":true}' "$1" "$2"; }

bad "import: a wrong password" 422 import_failed 'password' "${A[@]}" \
  -d "$(imp "$GOOD" wrong-password)" "${IMPORT[@]}"
unlike "import: the refused password is not echoed" "$LAST_BODY" 'wrong-password'
bad "import: no password for a protected PFX" 422 import_failed 'password' "${A[@]}" \
  -d "{\"pfx\":\"$GOOD\",\"force\":true}" "${IMPORT[@]}"
bad "import: an ECDSA key" 422 import_failed 'ECDSA|RSA' "${A[@]}" \
  -d "$(imp "$(base64 -w0 ec.pfx)" pw)" "${IMPORT[@]}"
bad "import: RSA 1024" 422 import_failed '2048|1024' "${A[@]}" \
  -d "$(imp "$(base64 -w0 small.pfx)" pw)" "${IMPORT[@]}"
bad "import: no Code Signing usage" 422 import_failed '[Cc]ode [Ss]igning|usage' "${A[@]}" \
  -d "$(imp "$(base64 -w0 tls.pfx)" pw)" "${IMPORT[@]}"
bad "import: an expired certificate" 422 import_failed 'expire|valid' "${A[@]}" \
  -d "$(imp "$(base64 -w0 old.pfx)" pw)" "${IMPORT[@]}"
bad "import: a PFX without a private key" 422 import_failed 'key' "${A[@]}" \
  -d "$(imp "$(base64 -w0 nokey.pfx)" pw)" "${IMPORT[@]}"
bad "import: a truncated PFX" 422 import_failed '' "${A[@]}" \
  -d "$(imp "$(head -c 1000 good.pfx | base64 -w0)" right-password)" "${IMPORT[@]}"
bad "import: base64 of something that is not a PFX" 422 import_failed '' "${A[@]}" \
  -d "$(imp "$(base64 -w0 good.cer)" right-password)" "${IMPORT[@]}"
bad "import: pfx that is not base64" 400 invalid_argument 'base64|pfx' "${A[@]}" \
  -d "$(imp 'not*base64!' right-password)" "${IMPORT[@]}"
bad "import: an empty pfx" 400 invalid_argument '' "${A[@]}" \
  -d "$(imp '' right-password)" "${IMPORT[@]}"
bad "import: no pfx field" 400 invalid_argument 'pfx' "${A[@]}" \
  -d '{"password":"right-password","force":true}' "${IMPORT[@]}"
bad "import: pfx as a number" 400 invalid_argument 'pfx' "${A[@]}" \
  -d '{"pfx":12,"password":"x","force":true}' "${IMPORT[@]}"
bad "import: a valid PFX without force over a valid certificate" 409 certificate_exists "$TP" \
  "${A[@]}" -d "{\"pfx\":\"$GOOD\",\"password\":\"right-password\"}" "${IMPORT[@]}"
bad "publisher create without force over a valid certificate" 409 certificate_exists "$TP" \
  "${A[@]}" -X POST "${J[@]}" -d '{"subject":"CN=Not Now"}' $H/api/v1/publisher/certificate
bad "publisher create with force:false" 409 certificate_exists '' \
  "${A[@]}" -X POST "${J[@]}" -d '{"force":false}' $H/api/v1/publisher/certificate
like "Publisher.log records the failed imports" "$(cat "$D/logs/Publisher.log")" \
  'Certificate Import Failed: '
unchanged "PFX imports"

# ---- 4. unknown ids ----
Z=0000000000000000000000000000000000000000
bad "block an unknown certificate" 404 not_found "$Z" "${A[@]}" -X POST $H/api/v1/certificates/$Z/block
bad "unblock an unknown certificate" 404 not_found '' "${A[@]}" -X POST $H/api/v1/certificates/$Z/unblock
bad "get an unknown certificate" 404 not_found '' "${A[@]}" $H/api/v1/certificates/$Z
bad "block a thumbprint that is not hex" 404 not_found '' "${A[@]}" -X POST \
  $H/api/v1/certificates/not-a-thumbprint/block
bad "an unknown sync id" 404 not_found '' "${A[@]}" $H/api/v1/syncs/999999
bad "a sync id that is not a number" 404 not_found '' "${A[@]}" $H/api/v1/syncs/abc
bad "an unknown SUP id" 404 not_found '' "${A[@]}" $H/api/v1/sups/999999
bad "an unknown site" 404 not_found 'ZZ9' "${A[@]}" $H/api/v1/sites/ZZ9
bad "settings of an unknown site" 404 not_found 'ZZ9' "${A[@]}" \
  $H/api/v1/sites/ZZ9/third-party-updates
bad "PUT settings on an unknown site" 404 not_found 'ZZ9' "${A[@]}" -X PUT "${J[@]}" \
  -d '{"enable_third_party_updates":false}' $H/api/v1/sites/ZZ9/third-party-updates
# A misspelt site in the filter is named rather than answered with an empty list.
bad "sups of an unknown site" 404 not_found 'ZZ9' "${A[@]}" "$H/api/v1/sups?site=ZZ9"
bad "an unknown log" 404 not_found '' "${A[@]}" $H/api/v1/logs/secrets
bad "a log path that climbs out" 404 not_found '' "${A[@]}" "$H/api/v1/logs/..%2Fpatchpoint.db"
bad "a negative log offset" 400 invalid_argument '' "${A[@]}" "$H/api/v1/logs/WCM?offset=-1"
bad "an unknown route" 404 not_found '' "${A[@]}" $H/api/v1/nothing
unchanged "unknown ids"

# ---- 5. wrong methods ----
meth() { # NAME METHOD PATH ALLOW-REGEX
  local hdr
  bad "$1" 405 method_not_allowed '' "${A[@]}" -X "$2" "$H$3"
  hdr=$(curl -s -D - -o /dev/null "${A[@]}" -X "$2" "$H$3")
  like "$1: the Allow header" "$hdr" $'\r\nAllow: '"$4"$'\r'
}
meth "DELETE /sites" DELETE /api/v1/sites 'GET, POST'
meth "PATCH /syncs" PATCH /api/v1/syncs 'POST'
meth "GET /syncs" GET /api/v1/syncs 'POST'
meth "DELETE a certificate" DELETE /api/v1/certificates/$TP 'GET'
meth "GET block" GET /api/v1/certificates/$TP/block 'POST'
meth "DELETE the publisher certificate" DELETE /api/v1/publisher/certificate 'GET, POST'
meth "PUT the publisher .cer" PUT /api/v1/publisher/certificate/cer 'GET'
meth "POST settings" POST /api/v1/sites/PP1/third-party-updates 'GET, PUT'
meth "POST status" POST /api/v1/status 'GET'
unchanged "wrong methods"

# ---- 6. the hierarchy: settings only on the top-level site ----
r=$(api -X POST "${J[@]}" -d '{"code":"CAS","name":"Central","cas":true}' $H/api/v1/sites)
is "add a CAS above PP1: 201" "$(tail -n1 <<<"$r")" 201
is "PP1 is now its child" "$(body $H/api/v1/sites/PP1 | jget parent_code)" CAS
SITE=CAS
BEFORE=$(snapshot)
bad "PUT settings on a child site" 409 not_top_level 'CAS' "${A[@]}" -X PUT "${J[@]}" \
  -d '{"enable_third_party_updates":false}' $H/api/v1/sites/PP1/third-party-updates
bad "PUT only the mode on a child site" 409 not_top_level 'CAS' "${A[@]}" -X PUT "${J[@]}" \
  -d '{"certificate_mode":"manual"}' $H/api/v1/sites/PP1/third-party-updates
bad "a second CAS" 400 invalid_argument 'one central administration site' "${A[@]}" -X POST "${J[@]}" \
  -d '{"code":"CA2","name":"Second","cas":true}' $H/api/v1/sites
bad "PUT settings on an unknown site, with a CAS" 404 not_found 'ZZ9' "${A[@]}" -X PUT "${J[@]}" \
  -d '{"enable_third_party_updates":false}' $H/api/v1/sites/ZZ9/third-party-updates
bad "a bad body on a child site is still a bad body" 400 invalid_json '' "${A[@]}" -X PUT \
  "${J[@]}" -d '{' $H/api/v1/sites/PP1/third-party-updates
unchanged "hierarchy"

# ---- the daemon survived all of it ----
like "still serving" "$(pd_req $H/api/v1/status)" '200$'
pd_stop main
is "graceful stop after the bad requests" "$PD_RC" 0
done_testing
