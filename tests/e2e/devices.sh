#!/usr/bin/env bash
# End to end: the device protocol of the mp role (docs/internals/device-protocol.md) and the
# admin API of devices, collections and client settings (docs/api.md), against a real
# patchpointd on 127.0.0.1 driven by curl: registration (new, known, bad keys, revoked key), the
# machine policy (settings with their source, certificates only when third-party updates are on
# and the client is new enough, blocked certificates to remove, 304 on an unchanged version, 401),
# the priority conflict of the seed documents, a deployed update's SDP and content, state
# messages (duplicates) and compliance per update and per deployment; the policy cache (a change
# written by another process is served at the next poll, a poll changes no generation).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG

D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed"; exit 1; }
H=$PD_URL_A
export PATCHPOINT_SERVER=$H PATCHPOINT_TOKEN=$PD_TOKEN
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { pd_req "${A[@]}" "$@"; }
dev() { local cred=$1; shift; pd_req -H "Authorization: Bearer $cred" "$@"; }
status() { tail -n1 <<<"$1"; }
body() { sed '$d' <<<"$1"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- enrollment keys ----
r=$(api -X POST "${J[@]}" -d '{"name":"lab"}' "$H/api/v1/enrollment-keys")
is "an enrollment key: 201" "$(status "$r")" 201
KEY=$(jfield key "$(body "$r")")
like "the key is 64 hex digits, shown once" "$KEY" '^[0-9a-f]{64}$'
KEY_ID=$(jfield id "$(body "$r")")
r=$(api "$H/api/v1/enrollment-keys")
unlike "the list never shows a key" "$(body "$r")" "$KEY"
is "without the admin token: 401" "$(status "$(pd_req -X POST "${J[@]}" -d '{}' "$H/api/v1/enrollment-keys")")" 401

# register MACHINE NAME VERSION [TAGS-JSON] [KEY]: the answer (body and status)
register() {
  pd_req "${J[@]}" -d "{\"enrollment_key\":\"${5:-$KEY}\",\"machine_id\":\"$1\",\"name\":\"$2\",\
\"os\":\"Debian GNU/Linux 12\",\"client_version\":\"$3\",\"tags\":${4:-[]}}" "$H/api/v1/device/register"
}
MA=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
MB=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
MC=cccccccccccccccccccccccccccccccc

# ---- registration ----
r=$(register $MA device-a 5.00.9128.1000 '["lab"]')
is "a new device: 201" "$(status "$r")" 201
is "it is new" "$(jfield new "$(body "$r")")" true
ID_A=$(jfield device_id "$(body "$r")")
CRED_A=$(jfield credential "$(body "$r")")
like "a ConfigMgr-style device id" "$ID_A" '^GUID:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
r=$(register $MA device-a 5.00.9128.1000 '["lab"]')
is "the same machine again: 200" "$(status "$r")" 200
is "it is known" "$(jfield new "$(body "$r")")" false
is "it keeps its identity" "$(jfield device_id "$(body "$r")")" "$ID_A"
OLD_CRED=$CRED_A
CRED_A=$(jfield credential "$(body "$r")")
is "the old credential stops working" "$(status "$(dev "$OLD_CRED" "$H/api/v1/device/policy")")" 401
like "the log says so" "$(cat "$D/logs/patchpointd.log")" \
  "registered device device-a \($ID_A, client 5\.00\.9128\.1000\), a known device: its identity is kept"
r=$(register $MB device-b 5.00.9128.1000)
ID_B=$(jfield device_id "$(body "$r")")
CRED_B=$(jfield credential "$(body "$r")")
r=$(register $MC old-client 5.00.8000.1000)
CRED_C=$(jfield credential "$(body "$r")")
r=$(register dddddddddddddddddddddddddddddddd x 5.00.9128.1000 '[]' ffffffffffffffffffffffffffffffff)
is "an unknown enrollment key: 401" "$(status "$r")" 401
is "with its code and message" "$(body "$r")" \
  '{"error":{"code":"invalid_enrollment_key","message":"the enrollment key is not valid (unknown, revoked or expired)"}}'
is "a bad machine id: 400" "$(status "$(register XYZ x 5.00.9128.1000)")" 400
is "a bad client version: 400" "$(status "$(register dddddddddddddddddddddddddddddddd x 5.0)")" 400
is "a bad tag: 400" "$(status "$(register dddddddddddddddddddddddddddddddd x 5.00.9128.1000 '["a b"]')")" 400
is "no device was made by the refusals" "$(body "$(api "$H/api/v1/devices")" | jq_py 'len(d["devices"])')" 3
is "revoking the key: 204" "$(status "$(api -X POST "$H/api/v1/enrollment-keys/$KEY_ID/revoke")")" 204
is "a revoked key registers nothing: 401" \
  "$(status "$(register dddddddddddddddddddddddddddddddd x 5.00.9128.1000)")" 401
is "the devices it registered stay" "$(status "$(dev "$CRED_B" "$H/api/v1/device/policy")")" 200

# ---- machine policy before third-party updates ----
r=$(dev "$CRED_A" -D hdr.txt "$H/api/v1/device/policy")
is "policy: 200" "$(status "$r")" 200
P=$(body "$r")
is "third-party updates are off by default" "$(printf '%s' "$P" | jq_py 'd["third_party"]["enabled"]')" False
is "from Default Client Settings" "$(printf '%s' "$P" | jq_py 'd["settings"]["software_updates.third_party"]["source"]')" \
  "Default Client Settings"
is "no certificate without it" "$(printf '%s' "$P" | jq_py 'len(d["certificates"])')" 0
V1=$(jfield version "$P")
like "a version" "$V1" '^[0-9a-f]{16}$'
like "the ETag is the version" "$(tr -d '\r' < hdr.txt)" "ETag: \"$V1\""
is "the same version again: 304" "$(status "$(dev "$CRED_A" -H "If-None-Match: \"$V1\"" "$H/api/v1/device/policy")")" 304
is "another version: 200" "$(status "$(dev "$CRED_A" -H 'If-None-Match: "0000000000000000"' "$H/api/v1/device/policy")")" 200
r=$(pd_req "$H/api/v1/device/policy")
is "no credential: 401" "$(status "$r")" 401
is "invalid_credential" "$(jfield code "$(body "$r")")" invalid_credential
is "the admin token is not a device credential" "$(status "$(dev "$PD_TOKEN" "$H/api/v1/device/policy")")" 401

# ---- third-party updates on, a signing certificate ----
pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
r=$(api -X PATCH "${J[@]}" -d '{"settings":{"software_updates.third_party":true}}' \
  "$H/api/v1/client-settings/Default%20Client%20Settings")
is "the default says Yes: 200" "$(status "$r")" 200
r=$(dev "$CRED_A" "$H/api/v1/device/policy")
P=$(body "$r")
is "the policy changed" "$([ "$(jfield version "$P")" != "$V1" ] && echo changed)" changed
is "third-party updates are on, by the default" \
  "$(printf '%s' "$P" | jq_py '(d["third_party"]["enabled"], d["third_party"]["source"])')" \
  "(True, 'Default Client Settings')"
is "the signing certificate comes, for Root and TrustedPublisher" \
  "$(printf '%s' "$P" | jq_py '[(c["thumbprint"], c["stores"]) for c in d["certificates"]]')" \
  "[('$TP', ['Root', 'TrustedPublisher'])]"
printf '%s' "$P" | jq_py 'd["certificates"][0]["der"]' | base64 -d > delivered.cer
is "its DER is the certificate's" "$(openssl x509 -inform DER -in delivered.cer -noout -fingerprint -sha1 |
  sed 's/.*=//; s/://g')" "$TP"
r=$(dev "$CRED_C" "$H/api/v1/device/policy")
is "an old client gets no certificate" \
  "$(body "$r" | jq_py '(d["third_party"]["client_version_ok"], len(d["certificates"]))')" "(False, 0)"
r=$(api "$H/api/v1/devices/old-client/resultant-settings")
is "and its resultant settings say why" \
  "$(body "$r" | jq_py '(d["third_party"]["minimum_client_version"], d["third_party"]["certificates_delivered"])')" \
  "('5.00.8692.1003', False)"
is "a lower minimum: 200" "$(status "$(api -X PUT "${J[@]}" -d '{"minimum_client_version":"5.00.7000.1000"}' \
  "$H/api/v1/third-party-client-version")")" 200
is "then it gets the certificate" "$(body "$(dev "$CRED_C" "$H/api/v1/device/policy")" | jq_py 'len(d["certificates"])')" 1
is "a malformed minimum: 400" "$(status "$(api -X PUT "${J[@]}" -d '{"minimum_client_version":"5.0"}' \
  "$H/api/v1/third-party-client-version")")" 400

# ---- the policy cache: another writer's change is served at once, a device's own writes are not changes ----
gen() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT n FROM policy_generation").fetchone()[0])' "$D/patchpoint.db"; }
V_C=$(jfield version "$(body "$(dev "$CRED_C" "$H/api/v1/device/policy")")")
G0=$(gen)
is "polling again changes no generation" "$(dev "$CRED_C" "$H/api/v1/device/policy" >/dev/null; gen)" "$G0"
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE hierarchy_settings SET min_client_version = ? WHERE id = 1", ("5.00.9999.1000",))
db.commit()' "$D/patchpoint.db"
is "a change by another writer moves the generation" "$([ "$(gen)" -gt "$G0" ] && echo moved)" moved
P=$(body "$(dev "$CRED_C" -H "If-None-Match: \"$V_C\"" "$H/api/v1/device/policy")")
is "and the next poll has the new policy, not the cached one" \
  "$(printf '%s' "$P" | jq_py '(d["third_party"]["minimum_client_version"], len(d["certificates"]))')" \
  "('5.00.9999.1000', 0)"
is "back to 5.00.7000.1000: 200" "$(status "$(api -X PUT "${J[@]}" -d '{"minimum_client_version":"5.00.7000.1000"}' \
  "$H/api/v1/third-party-client-version")")" 200
is "the old client gets the certificate again" "$(body "$(dev "$CRED_C" "$H/api/v1/device/policy")" | jq_py 'len(d["certificates"])')" 1

# ---- the priority conflict ----
r=$(api -X POST "${J[@]}" -d "{\"name\":\"Workstations\",\"rules\":[{\"member\":\"device-b\"}]}" \
  "$H/api/v1/collections")
is "a collection with device B: 201" "$(status "$r")" 201
is "B is its member" "$(body "$r" | jq_py '[m["name"] for m in d["members"]]')" "['device-b']"
r=$(api -X POST "${J[@]}" -d '{"name":"Workstations","settings":{"third-party":"no"}}' \
  "$H/api/v1/client-settings")
is "a custom setting saying No: 201, order 1" "$(status "$r") $(jfield order "$(body "$r")")" "201 1"
is "deployed to B's collection: 201" "$(status "$(api -X POST "${J[@]}" -d '{"collection":"Workstations"}' \
  "$H/api/v1/client-settings/Workstations/deployments")")" 201
P=$(body "$(dev "$CRED_B" "$H/api/v1/device/policy")")
is "B: third-party No from Workstations, no certificate" \
  "$(printf '%s' "$P" | jq_py '(d["third_party"]["enabled"], d["third_party"]["source"], len(d["certificates"]))')" \
  "(False, 'Workstations', 0)"
P=$(body "$(dev "$CRED_A" "$H/api/v1/device/policy")")
is "A: still Yes from the default" \
  "$(printf '%s' "$P" | jq_py '(d["third_party"]["enabled"], d["third_party"]["source"])')" "(True, 'Default Client Settings')"
r=$(api "$H/api/v1/devices/device-b/client-settings")
is "B's client settings tab, in order" \
  "$(body "$r" | jq_py '[(c["name"], c["order"], c["deployed_to"]) for c in d["client_settings"]]')" \
  "[('Workstations', 1, ['Workstations']), ('Default Client Settings', 10000, [])]"
api -X POST "${J[@]}" -d '{"name":"Everyone on","settings":{"third-party":true}}' "$H/api/v1/client-settings" >/dev/null
api -X POST "${J[@]}" -d '{"collection":"All Systems"}' "$H/api/v1/client-settings/Everyone%20on/deployments" >/dev/null
is "a Yes below it changes nothing for B" \
  "$(body "$(api "$H/api/v1/devices/device-b/resultant-settings")" | jq_py 'd["settings"]["software_updates.third_party"]["source"]')" \
  Workstations
is "moving Workstations down: 200" "$(status "$(api -X POST "$H/api/v1/client-settings/Workstations/move-down")")" 200
P=$(body "$(dev "$CRED_B" "$H/api/v1/device/policy")")
is "B: Yes from \"Everyone on\", with the certificate" \
  "$(printf '%s' "$P" | jq_py '(d["third_party"]["enabled"], d["third_party"]["source"], len(d["certificates"]))')" \
  "(True, 'Everyone on', 1)"

# ---- a blocked certificate is named for removal ----
pp certificates block "$TP" >/dev/null 2>&1 || api -X POST "$H/api/v1/certificates/$TP/block" >/dev/null
P=$(body "$(dev "$CRED_A" "$H/api/v1/device/policy")")
is "blocked: not delivered, to be removed" \
  "$(printf '%s' "$P" | jq_py '(len(d["certificates"]), d["remove_certificates"])')" \
  "(0, [{'thumbprint': '$TP', 'reason': 'blocked'}])"
api -X POST "$H/api/v1/certificates/$TP/unblock" >/dev/null

# ---- a deployed update: its SDP and content for the device ----
mkdir -p content && head -c 100000 /dev/urandom > content/tool.exe
pp publish --new --title "Contoso Tool" --vendor Contoso --product Tools --version 1.0 --program tool.exe \
  --content content/tool.exe > pub.out 2>&1 || { echo "Bail out! publish failed: $(cat pub.out)"; exit 1; }
UPD=$(sed -n 's/^Update ID: *//p' pub.out)
SHA1=$(sed -n 's/^SHA-1: *//p' pub.out)
is "before a deployment the device may not see it: 404" "$(status "$(dev "$CRED_B" "$H/api/v1/device/updates/$UPD")")" 404
pp deploy "$UPD" --collection Workstations > dep.out 2>&1
DEP=$(sed -n 's/^Deployment: *//p; s/^Deployment ID: *//p' dep.out | head -n1)
[ -n "$DEP" ] || DEP=$(api "$H/api/v1/deployments" | sed '$d' | jq_py 'd["deployments"][0]["id"]')
P=$(body "$(dev "$CRED_B" "$H/api/v1/device/policy")")
is "B's policy lists the deployment" "$(printf '%s' "$P" | jq_py '[(x["id"], x["update_id"]) for x in d["deployments"]]')" \
  "[($DEP, '$UPD')]"
is "A's does not (not in Workstations)" "$(body "$(dev "$CRED_A" "$H/api/v1/device/policy")" | jq_py 'len(d["deployments"])')" 0
r=$(dev "$CRED_B" "$H/api/v1/device/updates/$UPD")
is "the deployed update for B: 200" "$(status "$r")" 200
is "its content URL names the digest" "$(jfield url "$(body "$r")")" "/Content/${SHA1: -2}/$SHA1.cab"
like "and its SDP comes along" "$(body "$r" | jq_py 'd["sdp"]')" 'SoftwareDistributionPackage'
is "A may not see it: 404" "$(status "$(dev "$CRED_A" "$H/api/v1/device/updates/$UPD")")" 404

# ---- state messages and compliance ----
msg() { # ID TOPIC STATE HRESULT TIME
  printf '{"id":"%s","time":%s,"topic":"%s","update_id":"%s","revision":1,"deployment_id":%s,"state":"%s","hresult":%s}' \
    "$1" "$5" "$2" "$UPD" "$DEP" "$3" "$4"
}
M1=11111111-1111-4111-8111-111111111111
M2=22222222-2222-4222-8222-222222222222
r=$(dev "$CRED_B" "${J[@]}" -d "{\"messages\":[$(msg $M1 scan required null 1000),$(msg $M2 install failed '"0x800B0109"' 1001)]}" \
  "$H/api/v1/device/state")
is "two state messages: 200" "$(status "$r")" 200
is "both accepted" "$(body "$r")" '{"accepted":2,"duplicates":0}'
r=$(dev "$CRED_B" "${J[@]}" -d "{\"messages\":[$(msg $M2 install failed '"0x800B0109"' 1001)]}" "$H/api/v1/device/state")
is "sent again: a duplicate" "$(body "$r")" '{"accepted":0,"duplicates":1}'
like "the failure is logged with its code" "$(cat "$D/logs/patchpointd.log")" \
  "device device-b: install of update $UPD failed with 0x800B0109"
r=$(dev "$CRED_B" "${J[@]}" -d '{"messages":[{"id":"x"}]}' "$H/api/v1/device/state")
is "a malformed message: 400" "$(status "$r")" 400
is "naming the field" "$(jfield message "$(body "$r")")" "state message 0: bad or missing id (a UUID)"
r=$(api "$H/api/v1/compliance/deployments/$DEP")
is "compliance of the deployment: B failed with 0x800B0109" \
  "$(body "$r" | jq_py '[(x["device"], x["status"], x["hresult"]) for x in d["devices"]]')" \
  "[('device-b', 'Failed', '0x800B0109')]"
M3=33333333-3333-4333-8333-333333333333
dev "$CRED_B" "${J[@]}" -d "{\"messages\":[$(msg $M3 install installed null 1002)]}" "$H/api/v1/device/state" >/dev/null
M4=44444444-4444-4444-8444-444444444444
dev "$CRED_B" "${J[@]}" -d "{\"messages\":[$(msg $M4 scan required null 900)]}" "$H/api/v1/device/state" >/dev/null
is "an older message does not undo a newer state: Installed" \
  "$(body "$(api "$H/api/v1/compliance/deployments/$DEP")" | jq_py '[(x["device"], x["status"]) for x in d["devices"]]')" \
  "[('device-b', 'Installed')]"
api -X POST "${J[@]}" -d "{\"update\":\"$UPD\",\"collection\":\"All Systems\"}" "$H/api/v1/deployments" >/dev/null
r=$(api "$H/api/v1/compliance/updates/$UPD")
is "compliance of the update: every targeted device, Unknown without a message" \
  "$(body "$r" | jq_py '[(x["device"], x["status"]) for x in d["devices"]]')" \
  "[('device-a', 'Unknown'), ('device-b', 'Installed'), ('old-client', 'Unknown')]"
is "with a summary" "$(body "$r" | jq_py '(d["summary"]["installed"], d["summary"]["unknown"])')" "(1, 2)"
is "an unknown deployment: 404" "$(status "$(api "$H/api/v1/compliance/deployments/999")")" 404
out=$(pp compliance "$UPD")
like "patchpoint compliance UPDATE: the header" "$out" "^Compliance of update $UPD"
like "a line per device" "$out" 'device-b +Installed +- '
like "Unknown for the silent ones" "$out" 'old-client +Unknown'
is "and the summary" "$(tail -n1 <<<"$out")" \
  "Summary: Installed 1, Required 0, Failed 0, Pending restart 0, Not required 0, Unknown 2"
out=$(pp compliance "$DEP")
like "patchpoint compliance DEPLOYMENT" "$out" "^Compliance of deployment $DEP \(update $UPD\)"
is "--json is the server's answer" "$(pp compliance "$DEP" --json | jq_py 'd["deployment_id"]')" "$DEP"
exits "no argument: usage" 2 pp compliance
exits "neither an update nor a deployment: usage" 2 pp compliance kiosk
exits "an unknown deployment: exit 1" 1 pp compliance 999

# ---- collections and client settings refusals through the API ----
r=$(api -X DELETE "$H/api/v1/collections/Workstations")
is "a collection a client setting is deployed to cannot go: 400" "$(status "$r")" 400
like "and the message says why" "$(jfield message "$(body "$r")")" 'cannot be deleted'
r=$(api -X POST "${J[@]}" -d '{"name":"Q","rules":[{"query":"colour=red"}]}' "$H/api/v1/collections")
is "an unknown query field: 400" "$(status "$r")" 400
r=$(api -X POST "${J[@]}" -d '{"name":"Labs","rules":[{"query":"tag=lab"},{"exclude":"Workstations"}]}' "$H/api/v1/collections")
is "a tag query excluding a collection: 201" "$(status "$r")" 201
is "a tag query: A" "$(body "$r" | jq_py '[m["name"] for m in d["members"]]')" "['device-a']"
r=$(api -X POST "${J[@]}" -d '{"collection":"All Systems"}' "$H/api/v1/client-settings/Default%20Client%20Settings/deployments")
is "the default cannot be deployed: 400" "$(status "$r")" 400
r=$(api -X PATCH "${J[@]}" -d '{"settings":{"scan-days":0}}' "$H/api/v1/client-settings/Workstations")
is "an out-of-range value: 400" "$(status "$r")" 400
is "with the range" "$(body "$r" | jq_py 'd["error"]["message"]')" \
  'Software update scan schedule (days) (software_updates.scan_interval_days) takes a whole number from 1 to 365, not "0"'

pd_stop A
is "patchpointd stops cleanly" "$PD_RC" 0
done_testing
