#!/usr/bin/env bash
# End to end: task sequences and packages (issue 6, DESIGN 5.8, docs/internals/task-sequences.md)
# with a real patchpointd on 127.0.0.1 and patchpoint-agent. Default client settings keep
# third-party updates off, so no machine policy puts the signing certificate on a device; a
# custom update (install.sh writes a marker) is deployed to devices A and B.
#   1. device A runs "Trust and install": Run Command Line of a package holding
#      WSUSSigningCertificate.cer and Import-Certificates.sh (certutil -addstore Root and
#      TrustedPublisher for every .cer beside it, policy set AcceptTrustedPublisherCerts 1),
#      Install Software Updates, Restart: it succeeds, the update is installed (compliance
#      Installed), smsts.log has every line, ts status every step;
#   2. with the first step removed, device B fails at Install Software Updates with
#      0x800b0109 (reported; the Restart after it skipped), and with the step on
#      continue-on-error the Restart runs and the task sequence succeeds;
#   3. bad input: exact one-line errors, exit 1 (2 for usage), ts show unchanged;
#   4. a package file whose digest the site records wrongly: the agent refuses it
#      (0x80246002), nothing is cached, the step fails;
#   5. the server down during a run: the run is kept, said in one line, reported at the next
#      contact; an agent killed during a run: recorded as interrupted, run again with ts run;
#   6. the daemon: run --once runs a newly available deployment once, not twice, and not one
#      that is not available yet; a new version of a package is downloaded, an unchanged one
#      is not.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/daemon_lib.sh
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
[ -x "${PATCHPOINT_AGENT:-}" ] || { echo "1..0 # SKIP patchpoint-agent not built"; exit 0; }
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG PATCHPOINT_MACHINE

D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed"; exit 1; }
H=$PD_URL_A
PORT=$PD_PORT_A
export PATCHPOINT_SERVER=$H PATCHPOINT_TOKEN=$PD_TOKEN
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { curl -s --max-time 20 "${A[@]}" "$@"; }
agent() { "$PATCHPOINT_AGENT" "$@"; }
run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
msgs() { sed 's/^<!\[LOG\[\(.*\)\]LOG\]!>.*/\1/' "$1/logs/$2.log"; }
compliance() { # DEVICE: "<status> <hresult>" of the update on that device
  api "$H/api/v1/compliance/updates/$UPD" |
    jq_py "' '.join(str(x['status']) + ' ' + str(x['hresult']) for x in d['devices'] if x['device'] == '$1')"
}
register() { # MACHINE NAME
  agent --machine "$1" register --server "$H" --enrollment-key "$KEY" --name "$2" >/dev/null
}
# steps DEVICE: "<state> <hresult>" of each step of the device's latest run of TS "$2"
steps() {
  pp ts status "$2" --json |
    jq_py "' | '.join(s['state'] + ' ' + str(s['hresult']) for x in d['devices'] if x['device'] == '$1' for s in x['steps'])"
}
run_state() { # DEVICE TS: the state of its latest run
  pp ts status "$2" --json | jq_py "' '.join(x['state'] for x in d['devices'] if x['device'] == '$1')"
}
db() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()' "$D/patchpoint.db" "$1"; }

pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
mkdir -p certs
pp publisher cert export --out certs/WSUSSigningCertificate.cer >/dev/null
TP=$(openssl x509 -inform DER -in certs/WSUSSigningCertificate.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
KEY=$(api -X POST "${J[@]}" -d '{"name":"e2e"}' "$H/api/v1/enrollment-keys" | jq_py 'd["key"]')
register ma device-a
register mb device-b
register mc device-c
pp collection create "Lab A" --member device-a >/dev/null
pp collection create "Lab B" --member device-b >/dev/null
pp collection create "Lab C" --member device-c >/dev/null
pp collection create "Patch targets" --member device-a --member device-b >/dev/null

# The update: install.sh writes a marker named after the machine directory.
MARK=$TMP/markers
mkdir -p content "$MARK"
cat > content/install.sh <<'EOF'
#!/bin/sh
m=$(cd ../../.. && basename "$PWD")
echo installed > "$1/$m"
EOF
pp publish --new --title "Marker Tool" --vendor Contoso --product Tools --version 1.0 \
  --program install.sh --arguments "$MARK" --content content/install.sh >pub.out 2>&1 ||
  { echo "Bail out! publish failed: $(cat pub.out)"; exit 1; }
UPD=$(sed -n 's/^Update ID: *//p' pub.out)
pp deploy "$UPD" --collection "Patch targets" >/dev/null 2>&1 || { echo "Bail out! deploy failed"; exit 1; }

# The package of PMPC's task sequence method: the exported certificate and a script that
# imports every .cer next to it (Import-Certificates.cmd, here for /bin/sh).
cat > certs/Import-Certificates.sh <<'EOF'
#!/bin/sh
# Every .cer next to this script into Trusted Root and Trusted Publishers, then the policy
# value (line 5 of PMPC's Import-Certificates.cmd). patchpoint finds the machine directory in
# $PATCHPOINT_MACHINE, which the task sequence sets.
set -e
cd "$(dirname "$0")"
for c in *.cer; do
  patchpoint certutil -addstore Root "$c"
  patchpoint certutil -addstore TrustedPublisher "$c"
done
patchpoint policy set --source "task-sequence:$_SMSTSPackageName" AcceptTrustedPublisherCerts 1
EOF

# ---- 1. device A: certificates, then the update ----
run pp package create "Import Certificates" --version 1.0 certs
is "package create, exit 0" "$RC" 0
PKG=$(sed -n 's/^Package \(PP1[0-9A-F]*\) .*/\1/p' <<<"$OUT")
like "it names the id, version and both files" "$OUT" \
  "^Package PP1[0-9A-F]{5} \"Import Certificates\" version 1.0 \(source version 1\): 2 file\(s\), [0-9]+ bytes"
like "the certificate is a file of it" "$OUT" "WSUSSigningCertificate.cer +[0-9]+ bytes  SHA-256 $(sha256sum certs/WSUSSigningCertificate.cer | cut -d' ' -f1)"
is "package list" "$(pp package list | tail -n +2 | awk '{print $1, $NF}')" "$PKG $(($(stat -c %s certs/WSUSSigningCertificate.cer) + $(stat -c %s certs/Import-Certificates.sh)))"
CER_SHA1=$(sha1sum certs/WSUSSigningCertificate.cer | cut -d' ' -f1 | tr a-f A-F)
ok "the file is in the content store under its SHA-1" test -f "$D/content/${CER_SHA1: -2}/$CER_SHA1.cab"

TS="Trust and install"
pp ts create "$TS" >/dev/null
TSID=$(pp ts show "$TS" --json | jq_py 'd["id"]')
run pp ts add-step "$TS" --type run-command-line --package "Import Certificates" \
  --command Import-Certificates.sh --step-name "Import certificates"
is "add-step run-command-line, exit 0" "$RC" 0
pp ts add-step "$TS" --type install-software-updates >/dev/null
pp ts add-step "$TS" --type restart >/dev/null
run pp ts show "$TS"
is "ts show" "$OUT" "Task sequence $TSID \"$TS\", revision 4
Steps:
  1. Import certificates (Run Command Line)
       package $PKG \"Import Certificates\"
       command line: Import-Certificates.sh (time limit 3600 s)
  2. Install Software Updates
  3. Restart
Deployments: none"
run pp ts deploy "$TS" --collection "Lab A"
is "ts deploy, exit 0" "$RC" 0
DEP_A=$(sed -n 's/.*(deployment \([0-9]*\)).*/\1/p' <<<"$OUT")
like "it says where and from when" "$OUT" "^Deployed task sequence \"$TS\" to collection \"Lab A\" \(deployment [0-9]+\), available from 20"

run agent --machine ma ts list
like "agent ts list" "$OUT" "^Deployment $DEP_A: task sequence \"$TS\" \($TSID\) revision 4, 3 step\(s\), available from .*; this device: not run yet$"
is "device A has no certificate yet" "$(find ma/certstores -name '*.cer' 2>/dev/null | wc -l)" 0
run agent --machine ma ts run "$TS"
is "A: ts run, exit 0" "$RC|$ERR" "0|"
RUN_A=$(sed -n 's/.*, run \([0-9a-f-]*\):$/\1/p' <<<"$OUT")
is "it prints each step" "$OUT" "Task sequence \"$TS\" ($TSID) revision 4, deployment $DEP_A, run $RUN_A:
  1. Import certificates: Succeeded (exit code 0)
  2. Install Software Updates: Succeeded: 1 update(s) installed, 0 already installed, 1 deployed
  3. Restart: Succeeded: a restart was requested; patchpoint-agent does not restart the device
Task sequence \"$TS\" succeeded
Sent 1 task sequence run(s)"
is "the update's installer ran" "$(cat "$MARK/ma" 2>&1)" installed
is "compliance: Installed" "$(compliance device-a)" "Installed None"
ok "the certificate is in Root" test -f "ma/certstores/Root/$TP.cer"
ok "and in TrustedPublisher" test -f "ma/certstores/TrustedPublisher/$TP.cer"
is "AcceptTrustedPublisherCerts set by the script" "$(pp policy get --machine ma AcceptTrustedPublisherCerts)" \
  "AcceptTrustedPublisherCerts = 1 (set by task-sequence:$TS)"
MA=$(cd ma && pwd -P)
is "smsts.log, line by line" "$(msgs ma smsts | sed -E 's/\.[A-Za-z0-9]{6}, time limit/.XXXXXX, time limit/')" \
  "Starting task sequence \"$TS\" ($TSID) revision 4 of deployment $DEP_A: 3 step(s), run $RUN_A
Start executing an instruction. Instruction name: Import certificates. Instruction pointer: 0
Resolving package $PKG \"Import Certificates\" version 1.0 (source version 1): 2 file(s)
Downloading file Import-Certificates.sh of package $PKG from $H/Content/$(sha1sum certs/Import-Certificates.sh | cut -c39-40 | tr a-f A-F)/$(sha1sum certs/Import-Certificates.sh | cut -d' ' -f1 | tr a-f A-F).cab ($(stat -c %s certs/Import-Certificates.sh) bytes)
Downloading file WSUSSigningCertificate.cer of package $PKG from $H/Content/${CER_SHA1: -2}/$CER_SHA1.cab ($(stat -c %s certs/WSUSSigningCertificate.cer) bytes)
Executing command line: Import-Certificates.sh (in $MA/agent/ts/work/${RUN_A:0:8}.1.XXXXXX, time limit 3600 s)
Command line Import-Certificates.sh returned 0
Successfully completed the action (Import certificates) with the exit win32 code 0
Start executing an instruction. Instruction name: Install Software Updates. Instruction pointer: 1
Installing the software updates deployed to this device (scan, then deployment evaluation)
Update $UPD (Marker Tool): Installed: The installer install.sh exited with code 0: Succeeded
1 update(s) installed, 0 already installed, 1 deployed
Successfully completed the action (Install Software Updates) with the exit win32 code 0
Start executing an instruction. Instruction name: Restart. Instruction pointer: 2
The action (Restart) requests a restart of the computer. patchpoint-agent records it and does not restart the device; the task sequence continues
Successfully completed the action (Restart) with the exit win32 code 0
Task sequence \"$TS\" completed 0x00000000
Task Sequence Engine finished"
like "the component is TSManager, CMTrace format" "$(head -n1 ma/logs/smsts.log)" \
  '^<!\[LOG\[Starting task sequence .*\]LOG\]!><time="[0-9:.+-]+" date="[0-9-]+" component="TSManager" context="" type="1" thread="[0-9]+" file="">'
like "the script's output is in smsts.out" "$(cat ma/logs/smsts.out)" 'CertUtil: -addstore command completed successfully\.'
is "the work directory is gone" "$(ls ma/agent/ts/work)" ""
is "ts status: each step of device A" "$(steps device-a "$TS")" \
  "succeeded 0x00000000 | succeeded 0x00000000 | succeeded 0x00000000"
run pp ts status "$TS"
like "ts status as text" "$OUT" "^Task sequence $TSID \"$TS\", revision 4: 1 succeeded, 0 failed, 0 running, 0 interrupted, 0 unknown
device-a: Succeeded 0x00000000, revision 4, started .*, run $RUN_A
  1\. Import certificates +Succeeded +exit code 0 *
  2\. Install Software Updates +Succeeded +0x00000000 +1 update\(s\) installed, 0 already installed, 1 deployed
  3\. Restart +Succeeded +0x00000000 +a restart was requested"
is "the exit code and times are kept" "$(pp ts status "$TS" --json | jq_py "d['devices'][0]['steps'][0]['exit_code'], d['devices'][0]['steps'][0]['started_at'] > 0, d['devices'][0]['steps'][0]['finished_at'] >= d['devices'][0]['steps'][0]['started_at']")" \
  "0 True True"
run agent --machine ma ts list
like "agent ts list: ran here" "$OUT" "; this device: Succeeded 20"

# ---- 2. without the certificates step: device B ----
run pp ts remove-step "$TS" 1
is "remove-step 1, exit 0" "$RC" 0
like "the steps moved up, revision 5" "$OUT" "revision 5
Steps:
  1\. Install Software Updates
  2\. Restart"
pp ts deploy "$TS" --collection "Lab B" >/dev/null
run agent --machine mb ts run "$TS"
is "B: the task sequence fails, exit 1" "$RC" 1
RUN_B=$(sed -n 's/.*, run \([0-9a-f-]*\):$/\1/p' <<<"$OUT")
like "B's run is the one status shows" "$(pp ts status "$TS" --json | jq_py "[x['run_id'] for x in d['devices'] if x['device'] == 'device-b'][0]")" "^$RUN_B$"
like "at Install Software Updates with 0x800B0109, in one line" "$ERR" \
  "^patchpoint-agent: task sequence \"$TS\" failed at step 1 \(Install Software Updates\): 0x800B0109 CERT_E_UNTRUSTEDROOT: .*; see mb/logs/smsts.log$"
like "the step and the skipped restart" "$OUT" "  1\. Install Software Updates: Failed \(0x800B0109 CERT_E_UNTRUSTEDROOT\): update $UPD \(Marker Tool\) failed to install: .*
  2\. Restart: Skipped: not run: step 1 failed
Task sequence \"$TS\" failed with 0x800B0109 CERT_E_UNTRUSTEDROOT"
is "no marker on B" "$(ls "$MARK")" ma
is "compliance: Failed 0x800B0109" "$(compliance device-b)" "Failed 0x800B0109"
like "smsts.log: the failure" "$(msgs mb smsts)" "Failed to run the action: Install Software Updates\. Error 0x800B0109"
like "smsts.log: the engine failed" "$(msgs mb smsts)" "The task sequence execution engine failed execution of a task sequence$"
like "smsts.log: the restart skipped" "$(msgs mb smsts)" "Skipping the action \(Restart\): the task sequence stopped at step 1"
unlike "no restart action on B" "$(msgs mb smsts)" "The action \(Restart\) requests"
is "WUAHandler.log has the Windows line" "$(msgs mb WUAHandler | grep -c -x -F 'Failed to download updates to the WUAgent datastore. Error = 0x800b0109')" 1
is "reported: ts status B" "$(steps device-b "$TS")" "failed 0x800B0109 | skipped None"
is "B's run is Failed" "$(run_state device-b "$TS")" failed
is "A's run still reported" "$(run_state device-a "$TS")" succeeded
# The same step with continue-on-error: the restart after it runs.
pp ts remove-step "$TS" 1 >/dev/null
run pp ts add-step "$TS" --type install-software-updates --continue-on-error --position 1
like "continue-on-error shown" "$OUT" "  1\. Install Software Updates, continue on error
  2\. Restart"
run agent --machine mb ts run "$TS"
is "B again: the task sequence succeeds, exit 0" "$RC|$ERR" "0|"
like "step 1 failed, the restart ran" "$OUT" "  1\. Install Software Updates: Failed \(0x800B0109 CERT_E_UNTRUSTEDROOT\): .*
  2\. Restart: Succeeded: a restart was requested"
like "smsts.log: continue on error" "$(msgs mb smsts)" "The action \(Install Software Updates\) failed, but it has continue on error set: the task sequence goes on"
is "ts status B: the latest run" "$(steps device-b "$TS")" "failed 0x800B0109 | succeeded 0x00000000"
is "B's latest run is Succeeded" "$(run_state device-b "$TS")" succeeded

# ---- 3. bad input ----
SHOW=$(pp ts show "$TS" --json)
bad() { # NAME EXIT STDERR CMD...
  local name=$1 want=$2 line=$3
  shift 3
  run "$@"
  is "$name: exit $want, one line" "$RC|$ERR" "$want|$line"
}
bad "unknown package" 1 'patchpoint: package "Nope" does not exist (HTTP 404 not_found)' \
  pp ts add-step "$TS" --type run-command-line --package Nope --command x.sh
bad "unknown collection" 1 'patchpoint: collection "Nowhere" does not exist (HTTP 404 not_found)' \
  pp ts deploy "$TS" --collection Nowhere
bad "unknown step type" 1 "patchpoint: unknown step type 'reboot'; known: run-command-line, install-software-updates, set-policy, restart (HTTP 400 invalid_argument)" \
  pp ts add-step "$TS" --type reboot
bad "timeout 0" 1 'patchpoint: the timeout must be 1 to 604800 seconds (HTTP 400 invalid_argument)' \
  pp ts add-step "$TS" --type run-command-line --command x.sh --timeout 0
bad "timeout not a number (usage)" 2 "patchpoint: --timeout takes a number of seconds, not '5m'
Try 'patchpoint ts add-step --help'." \
  pp ts add-step "$TS" --type run-command-line --command x.sh --timeout 5m
bad "a timeout on a restart" 1 'patchpoint: only a Run Command Line step takes a timeout (HTTP 400 invalid_argument)' \
  pp ts add-step "$TS" --type restart --timeout 10
bad "duplicate task sequence name" 1 "patchpoint: task sequence \"$TS\" already exists ($TSID) (HTTP 409 already_exists)" \
  pp ts create "trust AND install"
bad "duplicate package name" 1 "patchpoint: package \"Import Certificates\" already exists ($PKG) (HTTP 409 already_exists)" \
  pp package create "Import Certificates" --version 2 certs
bad "unknown policy value" 1 "patchpoint: unknown policy value 'AcceptAll'; known: AcceptTrustedPublisherCerts (HTTP 400 invalid_argument)" \
  pp ts add-step "$TS" --type set-policy --name AcceptAll --value 1
bad "an unclosed quote" 1 'patchpoint: the command line has an unclosed quote (HTTP 400 invalid_argument)' \
  pp ts add-step "$TS" --type run-command-line --command 'sh -c "echo'
bad "no such step" 1 "patchpoint: task sequence \"$TS\" has no step 7 (it has 2) (HTTP 404 not_found)" \
  pp ts remove-step "$TS" 7
bad "deployed twice" 1 "patchpoint: task sequence \"$TS\" is already deployed to collection \"Lab A\" (HTTP 409 already_exists)" \
  pp ts deploy "$TS" --collection "lab a"
bad "delete while deployed" 1 "patchpoint: task sequence \"$TS\" is deployed to collection \"Lab A\"; undeploy it first (HTTP 409 deployed)" \
  pp ts delete "$TS"
bad "no --type (usage)" 2 "patchpoint: --type is required: run-command-line, install-software-updates, set-policy or restart
Try 'patchpoint ts add-step --help'." \
  pp ts add-step "$TS" --command x
bad "unknown task sequence" 1 'patchpoint: task sequence "Nope" does not exist (HTTP 404 not_found)' \
  pp ts add-step Nope --type restart
is "ts show is unchanged after all of them" "$(pp ts show "$TS" --json)" "$SHOW"
pp ts create Empty >/dev/null
bad "an empty task sequence is not deployed" 1 'patchpoint: task sequence "Empty" has no steps; add one before deploying it (HTTP 400 invalid_argument)' \
  pp ts deploy Empty --collection "Lab A"
pp ts add-step Empty --type run-command-line --package "Import Certificates" --command x.sh >/dev/null
bad "a package a step uses is not deleted" 1 'patchpoint: package "Import Certificates" is used by step 1 of task sequence "Empty"; remove that step first (HTTP 409 in_use)' \
  pp package delete "Import Certificates"
ok "ts delete of an undeployed one" pp ts delete Empty
bad "a collection a task sequence is deployed to is not deleted" 1 \
  'patchpoint: site database: delete the collection: a task sequence is deployed to the collection; undeploy it first (HTTP 400 invalid_argument)' \
  pp collection delete "Lab A"
is "package list unchanged" "$(pp package list | tail -n +2 | wc -l)" 1
is "ts list" "$(pp ts list | tail -n +2 | awk '{print $1, $(NF-1), $NF}')" "$TSID 2 2"
run curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "${J[@]}" -X POST \
  -d '{"type":"restart","command_line":"x"}' "$H/api/v1/task-sequences/$TSID/steps"
is "API: a restart with a command line is 400" "$OUT" 400
run curl -s "${A[@]}" "${J[@]}" -X POST -d '{"type":"restart","colour":"red"}' "$H/api/v1/task-sequences/$TSID/steps"
is "API: an unknown field is named" "$OUT" '{"error":{"code":"invalid_argument","message":"unknown field \"colour\""}}'
run curl -s -H 'Authorization: Bearer nope' "$H/api/v1/device/task-sequences"
is "device API: a bad credential is 401" "$(jq_py 'd["error"]["code"]' <<<"$OUT")" invalid_credential

# ---- 4. a package file that is not what the site says ----
mkdir -p dmg
printf 'echo "the damaged package ran" >&2\n' > dmg/run.sh
pp package create Damaged --version 1 dmg >/dev/null
DPKG=$(pp package show Damaged --json | jq_py 'd["id"]')
pp ts create "Damaged run" >/dev/null
pp ts add-step "Damaged run" --type run-command-line --package Damaged --command run.sh >/dev/null
pp ts deploy "Damaged run" --collection "Lab A" >/dev/null
WRONG=$(printf '0%.0s' $(seq 64))
db "UPDATE package_files SET sha256 = '$WRONG' WHERE package_id = '$DPKG'"
run agent --machine ma ts run "Damaged run"
is "the agent refuses it: exit 1" "$RC" 1
like "with 0x80246002 in one line" "$ERR" \
  '^patchpoint-agent: task sequence "Damaged run" failed at step 1 \(Run Command Line\): 0x80246002 WU_E_DM_INCORRECTFILEHASH: '
like "smsts.log names the file and both digests" "$(msgs ma smsts)" \
  "File run.sh of package $DPKG does not match the site's digests: the content .* has SHA-256 $(sha256sum dmg/run.sh | cut -d' ' -f1), but the update's metadata says $WRONG"
like "smsts.log: the action failed" "$(msgs ma smsts)" 'Failed to run the action: Run Command Line\. Error 0x80246002'
is "nothing of it is kept" "$(find ma/agent/ts/cache \( -name "$WRONG*" -o -name '*.part' \) | wc -l)" 0
unlike "its command did not run" "$(cat ma/logs/smsts.out)" 'the damaged package ran'
is "reported" "$(steps device-a "Damaged run")" "failed 0x80246002"

# ---- 5. the server down during a run; an agent killed during one ----
rm -f "$MARK/started" "$MARK/go"
pp ts create Offline >/dev/null
pp ts add-step Offline --type run-command-line \
  --command "sh -c \"touch $MARK/started; while [ ! -f $MARK/go ]; do sleep 0.1; done\"" >/dev/null
pp ts add-step Offline --type restart >/dev/null
pp ts deploy Offline --collection "Lab A" >/dev/null
wait_for() { local _; for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
"$PATCHPOINT_AGENT" --machine ma ts run Offline >off.out 2>off.err &
APID=$!
ok "the step started" wait_for "$MARK/started"
pd_stop A
touch "$MARK/go"
wait "$APID"
is "the run finishes with the server down: exit 0" "$?" 0
like "the run stays queued, said in one line" "$(cat off.err)" \
  "^patchpoint-agent: the run stays queued: cannot reach http://127\.0\.0\.1:$PORT"
like "it succeeded" "$(cat off.out)" 'Task sequence "Offline" succeeded'
is "status: one run queued" "$(agent --machine ma status --json | jq_py 'd["queued_task_sequence_runs"]')" 1
like "status text" "$(agent --machine ma status)" 'Task sequence runs queued: 1 \(sent at the next contact with the server\)'
pd_start A "$D" --listen "127.0.0.1:$PORT" || { echo "Bail out! restart failed"; exit 1; }
ok "package files survive the start-up sweep" test -f "$D/content/${CER_SHA1: -2}/$CER_SHA1.cab"
unlike "the sweep removed nothing" "$(cat "$D/logs/patchpointd.log")" 'content sweep: removed'
RUN_OFF=$(sed -n 's/.*, run \([0-9a-f-]*\):$/\1/p' off.out)
run agent --machine ma trigger machine-policy
is "the next contact sends it" "$RC|$(agent --machine ma status --json | jq_py 'd["queued_task_sequence_runs"]')" "0|0"
like "StateMessage.log says so" "$(msgs ma StateMessage)" "Sent task sequence run $RUN_OFF \(Offline, succeeded\) to the site"
is "ts status has it" "$(steps device-a Offline)" "succeeded 0x00000000 | succeeded 0x00000000"

rm -f "$MARK/started" "$MARK/go"
"$PATCHPOINT_AGENT" --machine ma ts run Offline >kill.out 2>&1 &
APID=$! # the agent itself, not a subshell around it
ok "the step started again" wait_for "$MARK/started"
kill -KILL "$APID"
wait "$APID" 2>/dev/null
touch "$MARK/go" # the step's own process group outlives the agent: let it end
RUN_KILLED=$(cd ma/agent/ts/runs && python3 -c 'import json,glob; r=[json.load(open(f)) for f in glob.glob("*.json")]; print([x["run_id"] for x in r if x["state"] == "running"][0])')
is "the killed agent left its run running on disk" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["state"])' "ma/agent/ts/runs/$RUN_KILLED.json")" running
run agent --machine ma run --once
is "run --once afterwards, exit 0" "$RC" 0
like "smsts.log: recorded as interrupted" "$(msgs ma smsts)" \
  "Task sequence \"Offline\" run $RUN_KILLED was interrupted at step 1 \(Run Command Line\): the agent stopped while it ran\. It is recorded as interrupted; 'patchpoint-agent ts run' runs the task sequence again"
is "reported interrupted, the restart never ran" "$(run_state device-a Offline)|$(steps device-a Offline)" \
  "interrupted|interrupted 0x80004004 | skipped None"
is "not run again on its own" "$(msgs ma smsts | grep -c '^Starting task sequence "Offline"')" 2
like "agent ts list: Interrupted" "$(agent --machine ma ts list)" "task sequence \"Offline\" .*; this device: Interrupted"
is "its work directory was removed" "$(ls ma/agent/ts/work)" ""
run agent --machine ma ts run Offline
is "ts run runs it again" "$RC|$(run_state device-a Offline)" "0|succeeded"

# ---- 6. the daemon; package versions ----
mkdir -p tools
# shellcheck disable=SC2016 # $PATCHPOINT_MACHINE is the step's, not ours
printf 'echo v1 > "%s/tool-$(basename "$PATCHPOINT_MACHINE")"\n' "$MARK" > tools/tool.sh
pp package create Tools --version 1.0 tools >/dev/null
TOOLS=$(pp package show Tools --json | jq_py 'd["id"]')
pp ts create Daemon >/dev/null
pp ts add-step Daemon --type set-policy --name AcceptTrustedPublisherCerts --value 1 >/dev/null
pp ts add-step Daemon --type run-command-line --package Tools --command "sh tool.sh" >/dev/null
pp ts deploy Daemon --collection "Lab C" >/dev/null
pp ts create Later >/dev/null
pp ts add-step Later --type restart >/dev/null
LATER=$(( $(date +%s) + 3600 ))
run pp ts deploy Later --collection "Lab C" --available "$LATER"
DEP_LATER=$(sed -n 's/.*(deployment \([0-9]*\)).*/\1/p' <<<"$OUT")
run agent --machine mc run --once
is "device C: run --once, exit 0" "$RC" 0
is "it ran the available deployment once" "$(msgs mc smsts | grep -c '^Starting task sequence "Daemon"')" 1
is "and not the later one" "$(msgs mc smsts | grep -c '^Starting task sequence "Later"')" 0
is "the policy value's source" "$(pp policy get --machine mc AcceptTrustedPublisherCerts)" \
  "AcceptTrustedPublisherCerts = 1 (set by task-sequence:Daemon)"
is "the package's script ran" "$(cat "$MARK/tool-mc" 2>&1)" v1
is "reported without ts run" "$(run_state device-c Daemon)" succeeded
run pp ts status Later
like "ts status: targeted, nothing reported" "$OUT" "0 unknown|1 unknown
device-c: Unknown \(nothing reported yet\)$"
run agent --machine mc run --once
is "a second run --once runs nothing again" "$RC|$(msgs mc smsts | grep -c '^Starting task sequence')" "0|1"
run agent --machine mc ts run Later
like "ts run of a deployment not yet available: exit 1, one line" "$RC|$ERR" \
  "^1\|patchpoint-agent: deployment $DEP_LATER of task sequence \"Later\" is available from [0-9-]+ [0-9:]+ UTC \(0x80070057 E_INVALIDARG\)$"
run agent --machine mc ts run Daemon
is "the unchanged package is not downloaded again" "$RC|$(msgs mc smsts | grep -c 'Downloading file tool.sh')|$(msgs mc smsts | grep -c "File tool.sh of package $TOOLS is in the cache")" "0|1|1"
# shellcheck disable=SC2016
printf 'echo v2 > "%s/tool-$(basename "$PATCHPOINT_MACHINE")"\n' "$MARK" > tools/tool.sh
run pp package update Tools --version 2.0 tools
like "a new version: source version 2" "$OUT" "^Package $TOOLS \"Tools\" version 2.0 \(source version 2\): 1 file\(s\)"
run pp package update Tools tools
like "the same files again: still source version 2" "$OUT" "^Package $TOOLS \"Tools\" version 2.0 \(source version 2\)"
run agent --machine mc ts run Daemon
is "the new version is downloaded and runs" "$RC|$(msgs mc smsts | grep -c 'Downloading file tool.sh')|$(cat "$MARK/tool-mc")" "0|2|v2"
like "smsts.log names the new version" "$(msgs mc smsts)" "Resolving package $TOOLS \"Tools\" version 2.0 \(source version 2\): 1 file\(s\)"
run pp ts undeploy Later --collection "Lab C"
is "undeploy" "$RC|$OUT" "0|Task sequence Later is no longer deployed to Lab C"
like "the device no longer lists it" "$(agent --machine mc ts list)" '^Deployment [0-9]+: task sequence "Daemon"'
is "one deployment left on C" "$(agent --machine mc ts list --json | jq_py 'len(d["deployments"])')" 1

# ---- manuals ----
for v in create list show update delete; do
  like "package $v --help" "$(pp package "$v" --help | head -n2 | tail -n1)" "^    patchpoint package $v - "
done
for v in create add-step remove-step list show delete deploy undeploy status; do
  like "ts $v --help" "$(pp ts "$v" --help | head -n2 | tail -n1)" "^    patchpoint ts $v - "
done
like "patchpoint-agent ts --help" "$(agent ts --help | head -n2 | tail -n1)" '^    patchpoint-agent ts - '
run agent --machine mc ts frobnicate
is "agent ts: unknown verb is a usage error" "$RC|$(head -n1 <<<"$ERR")" "2|patchpoint-agent: unknown verb 'frobnicate' for 'ts' (list, run)"

pd_stop A
is "the server stopped cleanly" "$PD_RC" 0
done_testing
