#!/usr/bin/env bash
# End to end: the software update cycles of patchpoint-agent against a real patchpointd on
# 127.0.0.1 (docs/internals/agent.md "Software updates"): a custom update whose install.sh
# writes a marker, deployed to All Systems, then
#   1. the seed flow: machine policy, scan (Required), evaluation (installed, marker written,
#      compliance Installed), a second scan Installed (the agent remembers what it installed);
#   2. the priority conflict: "Workstations" (order 1, third-party No) holds device B: the
#      install fails with 0x800b0109 in WUAHandler.log, compliance Failed 0x800B0109, diagnose
#      names the missing Root certificate, the policy value and "Workstations"; moved below a
#      Yes setting, the three cycles install it;
#   3. the trust cases: TrustedPublisher missing 0x800b0004, Root missing 0x800b0109, an old
#      client 0x800b0109; content damaged on the server (it refuses to serve it: the download
#      fails with E_FAIL and the server's reason), a damaged partial download (0x80246002, the
#      file removed), a resumed download that succeeds;
#   4. the server down: the install goes on from the cache, its state message waits in the
#      queue and reaches compliance once the server is back; run --once; run killed with -9
#      during an install and restarted: the staging directory is removed, the install done,
#      SIGTERM stops it with exit 0 and the queue sent.
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
msgs() { sed 's/^<!\[LOG\[\(.*\)\]LOG\]!>.*/\1/' "$1/logs/$2.log"; }
# compliance DEVICE: "<status> <hresult>" of the update on that device
compliance() {
  api "$H/api/v1/compliance/updates/$UPD" |
    jq_py "' '.join(str(x['status']) + ' ' + str(x['hresult']) for x in d['devices'] if x['device'] == '$1')"
}
register() { # MACHINE NAME [ARGS...]
  local m=$1 n=$2
  shift 2
  agent --machine "$m" register --server "$H" --enrollment-key "$KEY" --name "$n" "$@" >/dev/null
}
cycles() { # MACHINE: the three cycles, their output in $TMP/cycles.out
  agent --machine "$1" trigger machine-policy >"$TMP/cycles.out" 2>&1
  agent --machine "$1" trigger software-updates-scan >>"$TMP/cycles.out" 2>&1
  agent --machine "$1" trigger software-updates-deployment-evaluation >>"$TMP/cycles.out" 2>&1
}
FAILED_LINE='Failed to download updates to the WUAgent datastore. Error = '

pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
SUBJECT=$(openssl x509 -inform DER -in wsus.cer -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
KEY=$(api -X POST "${J[@]}" -d '{"name":"e2e"}' "$H/api/v1/enrollment-keys" | jq_py 'd["key"]')
api -X PATCH "${J[@]}" -d '{"settings":{"third-party":true}}' \
  "$H/api/v1/client-settings/Default%20Client%20Settings" >/dev/null

# The update: install.sh writes a marker named after the machine directory (its working
# directory is <machine>/agent/staging/<id>.XXXXXX) into the directory given as argument, and
# waits first while a file "slow" is there.
MARK=$TMP/markers
mkdir -p content "$MARK"
cat > content/install.sh <<'EOF'
#!/bin/sh
m=$(cd ../../.. && basename "$PWD")
while [ -f "$1/slow" ]; do sleep 0.1; done
echo "installing on $m"
echo installed > "$1/$m"
EOF
pp publish --new --title "Marker Tool" --vendor Contoso --product Tools --version 1.0 \
  --program install.sh --arguments "$MARK" --content content/install.sh >pub.out 2>&1 ||
  { echo "Bail out! publish failed: $(cat pub.out)"; exit 1; }
UPD=$(sed -n 's/^Update ID: *//p' pub.out)
SHA1=$(sed -n 's/^SHA-1: *//p' pub.out)
CAB=$D/content/${SHA1: -2}/$SHA1.cab
pp deploy "$UPD" >/dev/null 2>&1 || { echo "Bail out! deploy failed"; exit 1; }
[ -f "$CAB" ] || { echo "Bail out! no CAB at $CAB"; exit 1; }

# ---- 1. the seed flow ----
register ma device-a
register mb device-b
run agent --machine ma trigger machine-policy
is "A: machine policy, exit 0" "$RC" 0
like "it lists the deployment" "$OUT" '1 deployment\(s\), third-party software updates enabled by "Default Client Settings"'
run agent --machine ma trigger software-updates-scan
is "A: scan, exit 0" "$RC" 0
is "the update is Required, its message sent" "$OUT" "Update $UPD (Marker Tool) is Required
Sent 1 state message(s)"
like "ScanAgent.log says so" "$(msgs ma ScanAgent)" "^Update $UPD \(Marker Tool\) is Required$"
ok "the SDP is kept by id and revision" test -s "ma/agent/updates/$UPD.1.xml"
is "compliance: Required" "$(compliance device-a)" "Required None"
run agent --machine ma trigger '{00000000-0000-0000-0000-000000000108}'
is "A: evaluation by schedule id, exit 0" "$RC" 0
is "it says what it did" "$OUT" "Update $UPD (Marker Tool) was installed
Sent 1 state message(s)"
is "the installer wrote its marker" "$(cat "$MARK/ma" 2>&1)" installed
is "compliance: Installed" "$(compliance device-a)" "Installed None"
like "WUAHandler.log: downloaded and trusted" "$(msgs ma WUAHandler)" \
  "Content of update $UPD is trusted: signed by $SUBJECT, trusted"
like "UpdatesHandler.log: how it ran" "$(msgs ma UpdatesHandler)" \
  "^Running /bin/sh install.sh $MARK in .*/ma/agent/staging/$UPD\.[A-Za-z0-9]{6}, time limit 7200 s"
like "UpdatesHandler.log: its result" "$(msgs ma UpdatesHandler)" \
  '^The installer install.sh exited with code 0: Succeeded$'
like "its output is kept" "$(cat ma/logs/UpdatesHandler.out)" 'installing on ma'
like "UpdatesDeployment.log: installed" "$(msgs ma UpdatesDeployment)" "^Update $UPD \(Marker Tool\) is installed$"
is "the staging directory is gone" "$(ls ma/agent/staging)" ""
is "the queue is empty" "$(ls ma/agent/queue)" ""
is "the installed content left the cache" "$(ls ma/agent/cache)" ""
run agent --machine ma trigger software-updates-scan
is "scanned again: Installed (no IsInstalled rule; this agent installed it)" "$OUT" \
  "Update $UPD (Marker Tool) is Installed
Sent 1 state message(s)"
run agent --machine ma trigger software-updates-deployment-evaluation
is "evaluated again: nothing to install" "$(head -n1 <<<"$OUT")" \
  "Update $UPD (Marker Tool) is Installed: nothing to install"
run agent --machine ma diagnose
is "diagnose: nothing failed" "$RC|$OUT" "0|No install has failed."

# ---- 2. the priority conflict ----
api -X POST "${J[@]}" -d '{"name":"Workstations","rules":[{"member":"device-b"}]}' "$H/api/v1/collections" >/dev/null
api -X POST "${J[@]}" -d '{"name":"Workstations","settings":{"third-party":false}}' "$H/api/v1/client-settings" >/dev/null
api -X POST "${J[@]}" -d '{"collection":"Workstations"}' "$H/api/v1/client-settings/Workstations/deployments" >/dev/null
api -X POST "${J[@]}" -d '{"name":"Everyone on","settings":{"third-party":true}}' "$H/api/v1/client-settings" >/dev/null
api -X POST "${J[@]}" -d '{"collection":"All Systems"}' "$H/api/v1/client-settings/Everyone%20on/deployments" >/dev/null
cycles mb
EVAL_RC=$(agent --machine mb trigger software-updates-deployment-evaluation >eval.out 2>eval.err; echo $?)
is "B: the evaluation fails" "$EVAL_RC" 1
is "in one line" "$(cat eval.err)" \
  "patchpoint-agent: 1 update(s) failed to install; 'patchpoint-agent diagnose' explains why"
like "with the code on stdout" "$(cat eval.out)" \
  "^Update $UPD \(Marker Tool\) failed to install: the chain ends in root .* \(0x800B0109 CERT_E_UNTRUSTEDROOT\)$"
is "WUAHandler.log has the Windows line, exactly" \
  "$(msgs mb WUAHandler | grep -c -x -F "${FAILED_LINE}0x800b0109")" 2
is "no marker" "$(ls "$MARK")" ma
is "compliance: Failed 0x800B0109" "$(compliance device-b)" "Failed 0x800B0109"
is "the detail reaches the server" \
  "$(api "$H/api/v1/compliance/updates/$UPD" | jq_py "[x['detail'] for x in d['devices'] if x['device'] == 'device-b'][0]")" \
  "the chain ends in root $SUBJECT (thumbprint $TP), which is not in the Root store of mb"
VERSION_B=$(agent --machine mb status --json | jq_py 'd["machine_policy"]["version"]')
run agent --machine mb diagnose
is "diagnose explains it in one paragraph" "$RC|$OUT" "0|Update $UPD (Marker Tool), revision 1: the last install failed with 0x800B0109 CERT_E_UNTRUSTEDROOT: A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider. The content is signed by $SUBJECT (thumbprint $TP), a self-signed certificate that is not in the Root store (Trusted Root Certification Authorities) and not in the TrustedPublisher store (Trusted Publishers). The policy value AcceptTrustedPublisherCerts is not set. Third-party software updates are disabled by client setting \"Workstations\" (machine policy $VERSION_B), so the machine policy cycle neither installs the signing certificate nor sets AcceptTrustedPublisherCerts."
is "diagnose --json names the winning setting" \
  "$(agent --machine mb diagnose --json | jq_py '(d["failures"][0]["third_party"]["source"], d["failures"][0]["signer"]["in_root"], d["failures"][0]["hresult"])')" \
  "('Workstations', False, '0x800B0109')"
api -X POST "$H/api/v1/client-settings/Workstations/move-down" >/dev/null
cycles mb
like "after the move: installed" "$(cat "$TMP/cycles.out")" "Update $UPD \(Marker Tool\) was installed"
is "B's marker" "$(cat "$MARK/mb" 2>&1)" installed
is "compliance: Installed" "$(compliance device-b)" "Installed None"
is "diagnose: nothing failed any more" "$(agent --machine mb diagnose)" "No install has failed."

# ---- 3. TrustedPublisher missing, Root missing, an old client ----
register mc device-c
agent --machine mc trigger machine-policy >/dev/null 2>&1
run agent --machine mc certutil -delstore TrustedPublisher "$TP"
is "certutil -delstore through the agent: exit 0" "$RC" 0
fails "the certificate is gone from TrustedPublisher" agent --machine mc certutil -store TrustedPublisher "$TP"
ok "but still in Root" agent --machine mc certutil -store Root "$TP"
agent --machine mc trigger software-updates-scan >/dev/null 2>&1
exits "C: the evaluation fails" 1 agent --machine mc trigger software-updates-deployment-evaluation
is "0x800b0004 in WUAHandler.log" "$(msgs mc WUAHandler | grep -c -x -F "${FAILED_LINE}0x800b0004")" 1
is "compliance: Failed 0x800B0004" "$(compliance device-c)" "Failed 0x800B0004"
like "diagnose: in Root but not in TrustedPublisher" "$(agent --machine mc diagnose)" \
  'a self-signed certificate that is in the Root store \(Trusted Root Certification Authorities\) but not in the TrustedPublisher store \(Trusted Publishers\)\. The policy value AcceptTrustedPublisherCerts is 1, set by client-settings:Everyone on\. Third-party software updates are enabled by client setting "Everyone on"'

register md device-d
agent --machine md trigger machine-policy >/dev/null 2>&1
agent --machine md certutil -delstore Root "$TP" >/dev/null
agent --machine md trigger software-updates-scan >/dev/null 2>&1
exits "D (Root missing): the evaluation fails" 1 agent --machine md trigger software-updates-deployment-evaluation
is "0x800b0109 in WUAHandler.log" "$(msgs md WUAHandler | grep -c -x -F "${FAILED_LINE}0x800b0109")" 1
is "compliance: Failed 0x800B0109" "$(compliance device-d)" "Failed 0x800B0109"
is "the content stays in the cache for the next attempt" "$(ls md/agent/cache)" "$SHA1.cab"

register me old-client --report-version 5.00.8000.1000
cycles me
like "an old client: no certificate, the install fails with 0x800B0109" "$(cat "$TMP/cycles.out")" \
  "failed to install: .*0x800B0109 CERT_E_UNTRUSTEDROOT"
like "diagnose says why" "$(agent --machine me diagnose)" \
  "but this client's version 5\.00\.8000\.1000 is below the minimum 5\.00\.8692\.1003, so the site sends it no signing certificate\.$"
exits "run --once with a failing step: exit 1" 1 agent --machine me run --once

# ---- 3b. damaged content ----
register mf device-f
agent --machine mf trigger machine-policy >/dev/null 2>&1
agent --machine mf trigger software-updates-scan >/dev/null 2>&1
flip() { # FILE OFFSET: inverts one byte
  python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}
chmod u+w "$CAB"
flip "$CAB" 100
run agent --machine mf trigger software-updates-deployment-evaluation
is "the server refuses damaged content: exit 1" "$RC" 1
like "the download fails with the server's reason" "$OUT" \
  'failed to install: cannot download .*/Content/.*\.cab: .* \(HTTP 503 content_damaged\) \(0x80004005 E_FAIL\)$'
is "WUAHandler.log: the download failure code" "$(msgs mf WUAHandler | grep -c -x -F "${FAILED_LINE}0x80004005")" 1
flip "$CAB" 100
chmod a-w "$CAB"
# A partial download whose bytes are wrong: the resumed whole does not match the metadata.
head -c 200 /dev/zero > "mf/agent/cache/$SHA1.cab.part"
run agent --machine mf trigger software-updates-deployment-evaluation
like "a damaged partial download: 0x80246002" "$OUT" \
  "failed to install: the content .*$SHA1\.cab\.part has SHA-1 [0-9a-f]{40}, but the update's metadata says $SHA1 \(0x80246002 WU_E_DM_INCORRECTFILEHASH\)"
is "WUAHandler.log: 0x80246002" "$(msgs mf WUAHandler | grep -c -x -F "${FAILED_LINE}0x80246002")" 1
is "the bad file is removed" "$(ls mf/agent/cache)" ""
like "WUAHandler.log: it was a resume" "$(msgs mf WUAHandler)" 'Resumed the download at byte 200 of'
head -c 300 "$CAB" > "mf/agent/cache/$SHA1.cab.part"
run agent --machine mf trigger software-updates-deployment-evaluation
is "a good partial download resumes and installs" "$RC|$(head -n1 <<<"$OUT")" "0|Update $UPD (Marker Tool) was installed"
like "from byte 300" "$(msgs mf WUAHandler | tail -n 4)" "Resumed the download at byte 300 of $(stat -c %s "$CAB")"
is "F's marker" "$(cat "$MARK/mf" 2>&1)" installed

# ---- 4. the server down ----
agent --machine md certutil -addstore Root wsus.cer >/dev/null
PORT=$PD_PORT_A
pd_stop A
run agent --machine md trigger software-updates-deployment-evaluation
is "server down, content cached: the install goes on (exit 0)" "$RC|$(head -n1 <<<"$OUT")" \
  "0|Update $UPD (Marker Tool) was installed"
like "the state message stays queued, said in one line" "$ERR" \
  '^patchpoint-agent: 1 state message\(s\) stay queued: cannot reach http://127\.0\.0\.1:'
is "one file in the queue" "$(ls md/agent/queue | wc -l)" 1
like "status counts it" "$("$PATCHPOINT_AGENT" --machine md status)" \
  'State messages queued: 1 \(sent at the next contact with the server\)'
like "StateMessage.log says so" "$(msgs md StateMessage)" '1 state message\(s\) stay queued: cannot reach'
run agent --machine md trigger machine-policy
is "machine policy with the server down: exit 1" "$RC" 1
pd_start A "$D" --listen "127.0.0.1:$PORT" || { echo "Bail out! restart failed"; exit 1; }
is "compliance still shows the failure" "$(compliance device-d)" "Failed 0x800B0109"
run agent --machine md trigger machine-policy
is "the next contact sends the queue" "$RC|$(tail -n1 <<<"$OUT")" "0|Sent 1 state message(s)"
is "the queue is empty" "$(ls md/agent/queue)" ""
is "status: nothing queued" "$("$PATCHPOINT_AGENT" --machine md status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["queued_state_messages"])')" 0
is "compliance: Installed" "$(compliance device-d)" "Installed None"

run agent --machine mc run --once
is "run --once on C (the policy cycle puts TrustedPublisher back): exit 0" "$RC" 0
is "C's marker" "$(cat "$MARK/mc" 2>&1)" installed
is "compliance: Installed" "$(compliance device-c)" "Installed None"

# kill -9 while the installer runs, then a restart finishes the job.
register mh device-h
touch "$MARK/slow"
"$PATCHPOINT_AGENT" --machine mh run --poll-seconds 2 >run1.out 2>&1 &
RUN=$!
for i in $(seq 200); do grep -q 'Running /bin/sh' mh/logs/UpdatesHandler.log 2>/dev/null && break; sleep 0.05; done
for i in $(seq 100); do
  INSTALLER=$(pgrep -f "mh/agent/staging/.*install.sh" | head -n1)
  [ -n "$INSTALLER" ] && break
  sleep 0.05
done
kill -KILL "$RUN"
wait "$RUN" 2>/dev/null
[ -n "$INSTALLER" ] && kill -KILL -- "-$INSTALLER" 2>/dev/null
like "killed during the install: its staging directory is left" "$(ls mh/agent/staging)" "^$UPD\."
rm -f "$MARK/slow"
"$PATCHPOINT_AGENT" --machine mh run --poll-seconds 2 >run2.out 2>&1 &
RUN=$!
for i in $(seq 300); do [ -f "$MARK/mh" ] && [ -z "$(ls mh/agent/queue)" ] && break; sleep 0.05; done
is "restarted: installed" "$(cat "$MARK/mh" 2>&1)" installed
like "the leftover was removed first" "$(msgs mh UpdatesHandler)" \
  "^Removed (.*/)?mh/agent/staging/$UPD\.[A-Za-z0-9]{6}, left over by an installation that was cut short$"
kill -TERM "$RUN"
wait "$RUN"
is "SIGTERM: exit 0" "$?" 0
like "CcmExec.log: stopped" "$(msgs mh CcmExec)" 'Stopping on signal 15; sending the queue'
is "the queue is empty" "$(ls mh/agent/queue)" ""
is "compliance: Installed" "$(compliance device-h)" "Installed None"
is "no staging directory left" "$(ls mh/agent/staging)" ""
for m in m?; do
  unlike "no credential of $m in any log or output" \
    "$(cat ./m?/logs/* ./*.out ./*.err 2>/dev/null)" "$(jq_py 'd["credential"]' < "$m/agent/agent.json")"
done
pd_stop A
done_testing
