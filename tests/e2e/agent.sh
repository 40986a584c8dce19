#!/usr/bin/env bash
# End to end: patchpoint-agent against a real patchpointd on 127.0.0.1 (docs/internals/agent.md,
# docs/internals/device-protocol.md): registration (new, again with the identity kept, a bad key),
# the machine policy cycle by name and by schedule id putting the WSUS signing certificate into
# Root and TrustedPublisher with AcceptTrustedPublisherCerts = 1, the priority conflict (a custom
# setting with order 1 saying No: no certificate, the value cleared, the certificates left), the
# fix by moving the setting down, a certificate deleted by hand coming back on an unchanged
# policy (304), a blocked certificate removed, the old-client gate, a rotated signing certificate
# (the new one delivered, the old one kept until blocked, content signed with either installing), and status output without the
# credential.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
[ -x "${PATCHPOINT_AGENT:-}" ] || { echo "1..0 # SKIP patchpoint-agent not built"; exit 0; }
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG PATCHPOINT_MACHINE

D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed"; exit 1; }
H=$PD_URL_A
export PATCHPOINT_SERVER=$H PATCHPOINT_TOKEN=$PD_TOKEN
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { curl -s --max-time 20 "${A[@]}" "$@"; }
agent() { "$PATCHPOINT_AGENT" "$@"; }
run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ulog() { sed 's/^<!\[LOG\[\(.*\)\]LOG\]!>.*/\1/' "$1/logs/UpdatesDeployment.log"; }

pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
KEY=$(api -X POST "${J[@]}" -d '{"name":"e2e"}' "$H/api/v1/enrollment-keys" | jq_py 'd["key"]')
api -X PATCH "${J[@]}" -d '{"settings":{"third-party":true}}' \
  "$H/api/v1/client-settings/Default%20Client%20Settings" >/dev/null

# ---- registration ----
run agent --machine ma register --server "$H" --enrollment-key "$KEY" --name device-a
is "register: exit 0" "$RC" 0
like "it says who it is now" "$OUT" '^Registered device-a as GUID:[0-9a-f-]{36}$'
ID_A=${OUT##* as }
is "agent.json is 0600" "$(stat -c %a ma/agent/agent.json)" 600
run agent --machine ma register --server "$H" --enrollment-key "$KEY" --name device-a
is "registering again keeps the identity" "$OUT" "Registered device-a as $ID_A (known device, identity kept)"
run agent --machine mx register --server "$H" --enrollment-key ffffffffffffffffffffffffffffffff --name x
is "a bad enrollment key: exit 1" "$RC" 1
like "in one line with the server's reason" "$ERR" \
  '^patchpoint-agent: the enrollment key is not valid \(unknown, revoked or expired\)'
run agent --machine mb register --server "$H" --enrollment-key "$KEY" --name device-b
ID_B=${OUT##* as }

# ---- seed flow: the machine policy puts the certificate in place ----
run agent --machine ma trigger machine-policy
is "trigger machine-policy: exit 0" "$RC" 0
ok "the signing certificate is in Root" pp certutil --machine ma -store Root "$TP"
ok "and in TrustedPublisher" pp certutil --machine ma -store TrustedPublisher "$TP"
run pp policy get --machine ma AcceptTrustedPublisherCerts
like "AcceptTrustedPublisherCerts = 1, set by client settings" "$OUT" \
  '1.*client-settings:Default Client Settings'
like "UpdatesDeployment.log says what happened" "$(ulog ma)" \
  "Installed certificate $TP \(WSUS Publishers Self-signed\) into the Root store"
like "PolicyAgent.log names the version and the setting" \
  "$(cat ma/logs/PolicyAgent.log)" 'Received machine policy version [0-9a-f]{16}: 0 deployment\(s\), third-party software updates enabled by "Default Client Settings"'
run agent --machine ma trigger '{00000000-0000-0000-0000-000000000021}'
is "by schedule id, unchanged: exit 0" "$RC" 0
like "the unchanged policy is logged" "$(cat ma/logs/PolicyAgent.log)" 'Machine policy is unchanged \(version [0-9a-f]{16}\)'
like "and the certificate is found in place" "$(ulog ma)" "Certificate $TP is already in the Root store"
pp certutil --machine ma -delstore Root "$TP" >/dev/null
agent --machine ma trigger machine-policy >/dev/null 2>&1
ok "a certificate deleted by hand comes back on an unchanged policy" \
  pp certutil --machine ma -store Root "$TP"
run agent --machine ma status
like "status: registered, the device id" "$OUT" "$ID_A"
like "status names the setting" "$OUT" 'Default Client Settings'
unlike "status never shows the credential" "$OUT" "$(jq_py 'd["credential"]' < ma/agent/agent.json)"

# ---- scenario 2: a custom setting with order 1 says No for device B ----
api -X POST "${J[@]}" -d "{\"name\":\"Workstations\",\"rules\":[{\"member\":\"device-b\"}]}" "$H/api/v1/collections" >/dev/null
api -X POST "${J[@]}" -d '{"name":"Workstations","settings":{"third-party":false}}' "$H/api/v1/client-settings" >/dev/null
api -X POST "${J[@]}" -d '{"collection":"Workstations"}' "$H/api/v1/client-settings/Workstations/deployments" >/dev/null
api -X POST "${J[@]}" -d '{"name":"Everyone on","settings":{"third-party":true}}' "$H/api/v1/client-settings" >/dev/null
api -X POST "${J[@]}" -d '{"collection":"All Systems"}' "$H/api/v1/client-settings/Everyone%20on/deployments" >/dev/null
run agent --machine mb trigger machine-policy
is "B's machine policy: exit 0" "$RC" 0
fails "B has no certificate in Root" pp certutil --machine mb -store Root "$TP"
run pp policy get --machine mb AcceptTrustedPublisherCerts
unlike "nor the policy value" "$OUT" '^1'
like "UpdatesDeployment.log names the setting that said No" "$(ulog mb)" \
  'Third-party software updates are disabled by client setting "Workstations"; certificates are left in place'
is "the server says the same" \
  "$(api "$H/api/v1/devices/device-b/resultant-settings" | jq_py 'd["settings"]["software_updates.third_party"]["source"]')" \
  Workstations
# The fix: Workstations below "Everyone on".
api -X POST "$H/api/v1/client-settings/Workstations/move-down" >/dev/null
run agent --machine mb trigger machine-policy
ok "after the move, B has the certificate in Root" pp certutil --machine mb -store Root "$TP"
ok "and in TrustedPublisher" pp certutil --machine mb -store TrustedPublisher "$TP"
like "enabled by \"Everyone on\"" "$(ulog mb)" 'enabled by client setting "Everyone on"'
# Disabled again (moved back up): the value goes, the certificates stay.
api -X POST "$H/api/v1/client-settings/Workstations/move-up" >/dev/null
agent --machine mb trigger machine-policy >/dev/null 2>&1
ok "disabled again: the certificate stays" pp certutil --machine mb -store Root "$TP"
like "the client settings' value is cleared" "$(ulog mb)" \
  'Cleared AcceptTrustedPublisherCerts, which client setting "Everyone on" had set'

# ---- a blocked certificate is removed from where the agent put it ----
api -X POST "$H/api/v1/certificates/$TP/block" >/dev/null
agent --machine ma trigger machine-policy >/dev/null 2>&1
fails "blocked: gone from Root" pp certutil --machine ma -store Root "$TP"
fails "and from TrustedPublisher" pp certutil --machine ma -store TrustedPublisher "$TP"
like "the removal is logged with the reason" "$(ulog ma)" \
  "Removed certificate $TP from the Root store: it is blocked on the site"
api -X POST "$H/api/v1/certificates/$TP/unblock" >/dev/null

# ---- an old client gets no certificate ----
run agent --machine mo register --server "$H" --enrollment-key "$KEY" --name old --report-version 5.00.8000.1000
agent --machine mo trigger machine-policy >/dev/null 2>&1
fails "an old client: no certificate" pp certutil --machine mo -store Root "$TP"
like "and the log says why" "$(ulog mo)" \
  'Client version 5\.00\.8000\.1000 is below the minimum 5\.00\.8692\.1003 for third-party software updates; no certificate is installed'

# ---- scenario 4: the signing certificate rotated on the server ----
# An update signed with the first certificate, published before the rotation.
mkdir -p content marks
printf '#!/bin/sh\necho done > "$1"\n' > content/install.sh
publish_tool() { # VERSION MARK: publishes and deploys a tool whose installer writes MARK
  pp publish --new --title "Tool $1" --vendor Contoso --product Tool --version "$1" \
    --program install.sh --arguments "$2" --content content/install.sh > "pub-$1.out" 2>&1 &&
    pp deploy "$(sed -n 's/^Update ID: *//p' "pub-$1.out")" --collection "All Systems" >/dev/null &&
    sed -n 's/^Signed by: *//p' "pub-$1.out"
}
is "an update signed with the first certificate" "$(publish_tool 1.0 "$TMP/marks/old")" "$TP"
pp publisher cert create --force --subject "CN=WSUS Publishers Rotated" >/dev/null
pp sync --wait >/dev/null
pp publisher cert export --out new.cer >/dev/null
TP2=$(openssl x509 -inform DER -in new.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
is "a new signing certificate" "$([ -n "$TP2" ] && [ "$TP2" != "$TP" ] && echo new)" new
agent --machine ma trigger machine-policy >/dev/null 2>&1
ok "the next policy cycle brings the new one into Root" pp certutil --machine ma -store Root "$TP2"
ok "and into TrustedPublisher" pp certutil --machine ma -store TrustedPublisher "$TP2"
ok "the old one stays until it is blocked" pp certutil --machine ma -store TrustedPublisher "$TP"
is "an update published after the rotation is signed with the new one" \
  "$(publish_tool 2.0 "$TMP/marks/new")" "$TP2"
agent --machine ma trigger machine-policy >/dev/null 2>&1
agent --machine ma trigger software-updates-scan >/dev/null 2>&1
run agent --machine ma trigger software-updates-deployment-evaluation
is "content signed with either certificate installs" "$RC $(cat marks/old marks/new 2>/dev/null | tr '\n' ' ')" \
  "0 done done "
api -X POST "$H/api/v1/certificates/$TP/block" >/dev/null
agent --machine ma trigger machine-policy >/dev/null 2>&1
fails "blocked: the old one goes" pp certutil --machine ma -store TrustedPublisher "$TP"
ok "the new one stays" pp certutil --machine ma -store TrustedPublisher "$TP2"

# ---- the server down: one clear line ----
pd_stop A
run agent --machine ma trigger machine-policy
is "server down: exit 1" "$RC" 1
like "one line naming the server" "$ERR" "^patchpoint-agent: .*127\.0\.0\.1"
like "PolicyAgent.log records the failure" "$(cat ma/logs/PolicyAgent.log)" 'Machine policy request failed: '
done_testing
