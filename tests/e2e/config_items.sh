#!/usr/bin/env bash
# End to end: configuration items and baselines (issue 6, docs/internals/configuration-items.md)
# against a real patchpointd on 127.0.0.1. Default Client Settings keep third-party updates No,
# so no device gets the signing certificate from policy; a custom update is published and
# deployed to All Systems. A baseline holds a "certificate present" item for the exported
# signing certificate (Root and TrustedPublisher) and a script item that checks and sets
# AcceptTrustedPublisherCerts through 'patchpoint-agent policy' on the machine directory.
#   1. deployed with remediation to device A: the first evaluation reports Remediated (the
#      certificate in both stores, the value 1), the second Compliant, and the deployment
#      evaluation then installs the update (compliance Installed);
#   2. deployed without remediation to device B: Non-compliant, nothing changed on it, and its
#      install fails with 0x800b0109;
#   3. scripts that exit non-zero or run past their time limit: Error with the code;
#   4. 'patchpoint compliance baseline' and the CIAgent.log lines, exactly;
#   5. bad input: one line naming what is wrong, exit 1 (2 for usage), 'baseline show' as before;
#   6. the server down during an evaluation: the report is queued and sent at the next contact;
#   7. run --once: the baseline before the updates; a second run finds it not due; run on a
#      schedule of a second evaluates it again and again.
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
register() { agent --machine "$1" register --server "$H" --enrollment-key "$KEY" --name "$2" >/dev/null; }
# The compliance report with its times made stable.
baseline_report() { pp compliance baseline "$1" 2>&1 | sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC/<time>/'; }
FAILED_LINE='Failed to download updates to the WUAgent datastore. Error = '
B='Trust the signing certificate'

pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
KEY=$(api -X POST "${J[@]}" -d '{"name":"e2e"}' "$H/api/v1/enrollment-keys" | jq_py 'd["key"]')

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
pp deploy "$UPD" >/dev/null 2>&1 || { echo "Bail out! deploy failed"; exit 1; }

register ma device-a
register mb device-b
register mc device-c
pp collection create Remediate --member device-a --member device-c >/dev/null
pp collection create "Report only" --member device-b >/dev/null

# The script item: 'patchpoint-agent policy' on the machine the agent runs it for
# (PATCHPOINT_MACHINE), as a ConfigMgr script reads and writes the registry.
cat > atpc-discovery.sh <<EOF
case "\$("$PATCHPOINT_AGENT" policy get AcceptTrustedPublisherCerts)" in
"AcceptTrustedPublisherCerts = 1 "*) echo 1 ;;
*) echo 0 ;;
esac
EOF
cat > atpc-remediation.sh <<EOF
"$PATCHPOINT_AGENT" policy set --source "ci:$B" AcceptTrustedPublisherCerts 1
EOF

# ---- the items, the baseline, the deployments ----
run pp ci create-certificate "Signing certificate present" --cert wsus.cer --store Root --store TrustedPublisher
is "ci create-certificate: exit 0" "$RC" 0
is "it shows the item at revision 1" "$OUT" "Configuration item \"Signing certificate present\" (id 1, revision 1)
Kind:        Certificate present
Certificate: $TP (WSUS Publishers Self-signed)
Stores:      Root, TrustedPublisher
Baselines:   0"
run pp ci create-script "AcceptTrustedPublisherCerts is 1" --discovery atpc-discovery.sh \
  --remediation atpc-remediation.sh --type integer --expected 1 --timeout 30
is "ci create-script: exit 0" "$RC" 0
like "with its rule" "$OUT" $'Data type:   Integer\nRule:        equals 1\nTime limit:  30 s\nRemediation: yes'
run pp baseline create "$B" --ci "Signing certificate present" --ci "AcceptTrustedPublisherCerts is 1"
is "baseline create: exit 0" "$RC" 0
run pp baseline deploy "$B" --collection Remediate --remediate
is "deployed with remediation" "$RC|$OUT" "0|Deployed configuration baseline \"$B\" to collection \"Remediate\" (PP100010): remediate noncompliant rules yes, evaluated every 168 hours (deployment 1)"
run pp baseline deploy "$B" --collection "Report only" --schedule-hours 24
is "deployed without remediation" "$RC|$OUT" "0|Deployed configuration baseline \"$B\" to collection \"Report only\" (PP100011): remediate noncompliant rules no, evaluated every 24 hours (deployment 2)"
SHOW_B="Configuration baseline \"$B\" (id 1, revision 1)
Configuration items:
    Signing certificate present (Certificate present, revision 1)
    AcceptTrustedPublisherCerts is 1 (Script, revision 1)
Deployments:
    Remediate (PP100010): remediate yes, every 168 hours
    Report only (PP100011): remediate no, every 24 hours"
is "baseline show" "$(pp baseline show "$B")" "$SHOW_B"
is "baseline list" "$(pp baseline list)" "Id    Name                                 Rev  Items  Deployments
1     $B        1    2      2"
is "ci list counts the baseline" "$(pp ci list --json | jq_py '[c["baselines"] for c in d["configuration_items"]]')" "[1, 1]"
is "before any report: Unknown" "$(baseline_report "$B")" "Compliance of configuration baseline \"$B\" (revision 1)
Device                   Status         Reported
    Configuration item                   Status         Code         Detail
device-a                 Unknown        -
    Signing certificate present          Unknown        -            
    AcceptTrustedPublisherCerts is 1     Unknown        -            
device-b                 Unknown        -
    Signing certificate present          Unknown        -            
    AcceptTrustedPublisherCerts is 1     Unknown        -            
device-c                 Unknown        -
    Signing certificate present          Unknown        -            
    AcceptTrustedPublisherCerts is 1     Unknown        -            
Summary: Compliant 0, Non-compliant 0, Remediated 0, Error 0, Unknown 3"

# ---- 1. device A: remediated, compliant, then the update installs ----
agent --machine ma trigger machine-policy >/dev/null 2>&1
agent --machine ma trigger software-updates-scan >/dev/null 2>&1
fails "A has no signing certificate from policy (third-party No)" agent --machine ma certutil -store Root "$TP"
run agent --machine ma trigger ci-evaluation
is "A: first evaluation, exit 0" "$RC" 0
is "A: Remediated, each item said" "$OUT" "Configuration baseline \"$B\" (revision 1) is Remediated
    Signing certificate present: Remediated: added certificate $TP (WSUS Publishers Self-signed) to Root, TrustedPublisher
    AcceptTrustedPublisherCerts is 1: Remediated: found \"0\"; after the remediation script \"1\" (expected \"1\")
Sent 1 configuration baseline report(s)"
ok "A: the certificate is in Root" agent --machine ma certutil -store Root "$TP"
ok "A: and in TrustedPublisher" agent --machine ma certutil -store TrustedPublisher "$TP"
ok "in the local layer (as certutil -addstore puts it)" test -f "ma/certstores/Root/$TP.cer"
is "A: AcceptTrustedPublisherCerts is 1, set by the item's script" \
  "$(agent --machine ma policy get AcceptTrustedPublisherCerts)" \
  "AcceptTrustedPublisherCerts = 1 (set by ci:$B)"
JOB1=$(msgs ma CIAgent | sed -n 's/^CIAgentJob(\({[0-9A-F-]*}\)): CAgentJob::Execute - Evaluating baseline.*/\1/p' | head -n1)
like "a ConfigMgr-style job id" "$JOB1" '^\{[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$'
is "CIAgent.log: the first evaluation, line by line" "$(msgs ma CIAgent)" \
"1 configuration baseline(s) deployed to this device (document version $(python3 -c 'import json; print(json.load(open("ma/agent/baselines.json"))["document"]["version"])'))
CIAgentJob($JOB1): CAgentJob::Execute - Evaluating baseline \"$B\" (id 1, revision 1) of deployment 1; remediation is on
Remediating 'Signing certificate present': adding certificate $TP (WSUS Publishers Self-signed) to Root, TrustedPublisher
Setting 'Signing certificate present' (revision 1) was remediated: added certificate $TP (WSUS Publishers Self-signed) to Root, TrustedPublisher
Remediating 'AcceptTrustedPublisherCerts is 1': found \"0\", expected \"1\"; running the remediation script
Setting 'AcceptTrustedPublisherCerts is 1' (revision 1) was remediated: found \"0\"; after the remediation script \"1\" (expected \"1\")
CIAgentJob($JOB1): CAgentJob::Execute - Baseline \"$B\" (revision 1) is Remediated: 0 compliant, 0 non-compliant, 2 remediated, 0 in error
CIAgentJob($JOB1): queued the compliance report of baseline \"$B\" for the site"
like "CIAgent.log records are CMTrace with component CIAgent" "$(head -n1 ma/logs/CIAgent.log)" \
  '^<!\[LOG\[.*\]LOG\]!><time="[0-9:.+-]+" date="[0-9-]+" component="CIAgent" context="" type="1" thread="[0-9]+" file="">'
like "CIAgent.out keeps what the scripts wrote" "$(cat ma/logs/CIAgent.out)" \
  "==== [0-9]+: remediation script of 'AcceptTrustedPublisherCerts is 1' \(revision 1\): exit code 0"$'\n'"AcceptTrustedPublisherCerts = 1 \(REG_DWORD\)"
is "no script directory is left" "$(ls ma/agent/ci)" ""
like "StateMessage.log: the report was sent" "$(msgs ma StateMessage)" \
  "Sent 1 configuration baseline report\(s\) to $H \(1 accepted\)"
run agent --machine ma trigger '{00000000-0000-0000-0000-000000000110}'
is "A: the second evaluation (by schedule id): Compliant" "$RC|$OUT" "0|Configuration baseline \"$B\" (revision 1) is Compliant
    Signing certificate present: Compliant: certificate $TP (WSUS Publishers Self-signed) is in Root, TrustedPublisher
    AcceptTrustedPublisherCerts is 1: Compliant: found \"1\" (expected \"1\")
Sent 1 configuration baseline report(s)"
like "status shows the last evaluation" "$(agent --machine ma status)" \
  "Configuration baselines:
  \"$B\" revision 1: Compliant, evaluated [0-9-]+ [0-9:]+ UTC \(2 compliant, 0 non-compliant, 0 remediated, 0 in error\)
Baseline reports queued: 0"
is "status --json too" "$(agent --machine ma status --json | jq_py '(d["configuration_baselines"]["baselines"][0]["state"], d["configuration_baselines"]["queued_reports"])')" "('compliant', 0)"
run agent --machine ma trigger software-updates-deployment-evaluation
is "A: then the deployment evaluation installs the update" "$RC|$(head -n1 <<<"$OUT")" \
  "0|Update $UPD (Marker Tool) was installed"
is "A's marker" "$(cat "$MARK/ma" 2>&1)" installed
is "A: compliance Installed" "$(compliance device-a)" "Installed None"

# ---- 2. device B: report only ----
agent --machine mb trigger machine-policy >/dev/null 2>&1
agent --machine mb trigger software-updates-scan >/dev/null 2>&1
BEFORE=$(tree_digest mb/certstores)$(tree_digest mb/policy)
run agent --machine mb trigger ci-evaluation
is "B: Non-compliant, said exactly" "$RC|$OUT" "0|Configuration baseline \"$B\" (revision 1) is Non-compliant
    Signing certificate present: Non-compliant: certificate $TP (WSUS Publishers Self-signed) is not in Root, TrustedPublisher
    AcceptTrustedPublisherCerts is 1: Non-compliant: found \"0\", expected \"1\"
Sent 1 configuration baseline report(s)"
is "B: no store and no policy value changed" "$(tree_digest mb/certstores)$(tree_digest mb/policy)" "$BEFORE"
is "B: remediation is off, so no Remediating line" "$(msgs mb CIAgent | grep -c '^Remediating')" 0
like "B: CIAgent.log names what is non-compliant" "$(msgs mb CIAgent)" \
  "Setting 'Signing certificate present' \(revision 1\) is non-compliant: certificate $TP \(WSUS Publishers Self-signed\) is not in Root, TrustedPublisher"
like "B: of deployment 2, remediation off" "$(msgs mb CIAgent)" \
  "Evaluating baseline \"$B\" \(id 1, revision 1\) of deployment 2; remediation is off"
exits "B: the install fails" 1 agent --machine mb trigger software-updates-deployment-evaluation
is "B: with 0x800b0109" "$(msgs mb WUAHandler | grep -c -x -F "${FAILED_LINE}0x800b0109")" 1
is "B: compliance Failed 0x800B0109" "$(compliance device-b)" "Failed 0x800B0109"

# ---- 3. scripts that fail ----
printf 'echo "no such setting" >&2\nexit 3\n' > exits3.sh
printf 'sleep 30\necho late\n' > sleeps.sh
printf 'echo maybe\n' > maybe.sh
pp ci create-script "Exits 3" --discovery exits3.sh --type string --expected present >/dev/null
pp ci create-script "Sleeps" --discovery sleeps.sh --type boolean --expected true --timeout 1 >/dev/null
pp ci create-script "Not a Boolean" --discovery maybe.sh --type boolean --expected true >/dev/null
pp baseline create Broken --ci "Exits 3" --ci Sleeps --ci "Not a Boolean" >/dev/null
pp baseline deploy Broken --collection "Report only" >/dev/null
run agent --machine mb trigger ci-evaluation
is "B: the failing scripts are in Error, each with its code" "$RC|$OUT" "0|Configuration baseline \"Broken\" (revision 1) is Error
    Exits 3: Error: the discovery script exited with code 3: no such setting (exit code 3)
    Sleeps: Error: the discovery script ran past its time limit of 1 s and was stopped (0x80070102)
    Not a Boolean: Error: the discovered value \"maybe\" is not a Boolean (true or false) (0x8007000D)
Configuration baseline \"$B\" (revision 1) is Non-compliant
    Signing certificate present: Non-compliant: certificate $TP (WSUS Publishers Self-signed) is not in Root, TrustedPublisher
    AcceptTrustedPublisherCerts is 1: Non-compliant: found \"0\", expected \"1\"
Sent 2 configuration baseline report(s)"
like "CIAgent.log: the error lines" "$(msgs mb CIAgent)" \
  "Setting 'Exits 3' \(revision 1\) is in error: the discovery script exited with code 3: no such setting \(exit code 3\)"
like "CIAgent.log: the time limit" "$(msgs mb CIAgent)" \
  "Setting 'Sleeps' \(revision 1\) is in error: the discovery script ran past its time limit of 1 s and was stopped \(0x80070102\)"
is "the killed script left no process" "$(pgrep -f "mb/agent/ci/" | wc -l)" 0
is "Broken on the fleet" "$(baseline_report Broken)" "Compliance of configuration baseline \"Broken\" (revision 1)
Device                   Status         Reported
    Configuration item                   Status         Code         Detail
device-b                 Error          <time>
    Exits 3                              Error          exit 3       the discovery script exited with code 3: no such setting
    Sleeps                               Error          0x80070102   the discovery script ran past its time limit of 1 s and was stopped
    Not a Boolean                        Error          0x8007000D   the discovered value \"maybe\" is not a Boolean (true or false)
Summary: Compliant 0, Non-compliant 0, Remediated 0, Error 1, Unknown 0"

# ---- 4. the fleet, exactly ----
is "compliance baseline: per device, per item, and the counts" "$(baseline_report "$B")" "Compliance of configuration baseline \"$B\" (revision 1)
Device                   Status         Reported
    Configuration item                   Status         Code         Detail
device-a                 Compliant      <time>
    Signing certificate present          Compliant      -            certificate $TP (WSUS Publishers Self-signed) is in Root, TrustedPublisher
    AcceptTrustedPublisherCerts is 1     Compliant      -            found \"1\" (expected \"1\")
device-b                 Non-compliant  <time>
    Signing certificate present          Non-compliant  -            certificate $TP (WSUS Publishers Self-signed) is not in Root, TrustedPublisher
    AcceptTrustedPublisherCerts is 1     Non-compliant  -            found \"0\", expected \"1\"
device-c                 Unknown        -
    Signing certificate present          Unknown        -            
    AcceptTrustedPublisherCerts is 1     Unknown        -            
Summary: Compliant 1, Non-compliant 1, Remediated 0, Error 0, Unknown 1"
is "compliance baseline --json: the summary" \
  "$(pp compliance baseline "$B" --json | jq_py 'd["summary"]')" \
  "{'compliant': 1, 'non_compliant': 1, 'remediated': 0, 'error': 0, 'unknown': 1}"
is "and an item's exit code as a number" \
  "$(pp compliance baseline Broken --json | jq_py '[x["exit_code"] for x in d["devices"][0]["items"]]')" "[3, None, None]"

# ---- 5. bad input ----
SHOW_BROKEN=$(pp baseline show Broken)
LIST_CI=$(pp ci list)
printf 'not a certificate\n' > junk.cer
bad() { # NAME CODE MESSAGE CMD...: exit CODE, exactly one line MESSAGE on stderr, nothing on stdout
  local name=$1 code=$2 msg=$3
  shift 3
  run "$@"
  is "$name" "$RC|$OUT|$ERR" "$code||$msg"
}
bad "an expected value that is not of the type" 1 \
  'patchpoint: the expected value "abc" is not an integer (a signed 64-bit decimal number) (HTTP 400 invalid_argument)' \
  pp ci create-script "Bad value" --discovery maybe.sh --type integer --expected abc
bad "a Boolean that is not one" 1 \
  'patchpoint: the expected value "perhaps" is not a Boolean (true or false) (HTTP 400 invalid_argument)' \
  pp ci create-script "Bad value" --discovery maybe.sh --type boolean --expected perhaps
bad "an unknown data type" 1 \
  'patchpoint: unknown data type "float"; a script item'"'"'s data type is boolean, string or integer (HTTP 400 invalid_argument)' \
  pp ci create-script "Bad value" --discovery maybe.sh --type float --expected 1
bad "not a certificate" 1 \
  'patchpoint: junk.cer is not a certificate that can be read (DER, PEM or Base64 expected), or it is damaged (0x8009310B CRYPT_E_ASN1_BADTAG)' \
  pp ci create-certificate "Bad cert" --cert junk.cer --store Root
bad "an unknown store" 1 \
  'patchpoint: unknown certificate store "Trusted"; a configuration item checks Root or TrustedPublisher (HTTP 400 invalid_argument)' \
  pp ci create-certificate "Bad cert" --cert wsus.cer --store Trusted
bad "a store a configuration item does not check" 1 \
  'patchpoint: a configuration item checks Root or TrustedPublisher, not the Disallowed store (HTTP 400 invalid_argument)' \
  pp ci create-certificate "Bad cert" --cert wsus.cer --store Disallowed
bad "an unknown thumbprint" 1 \
  'patchpoint: certificate 0000000000000000000000000000000000000000 is not in Certificates (HTTP 404 not_found)' \
  pp ci create-certificate "Bad cert" --thumbprint 0000000000000000000000000000000000000000 --store Root
bad "a duplicate item name, in another case" 1 \
  'patchpoint: a configuration item named "Sleeps" already exists (HTTP 409 already_exists)' \
  pp ci create-script SLEEPS --discovery maybe.sh --type boolean --expected true
bad "no store: usage" 2 \
  "patchpoint: give the stores it must be in: --store Root and/or --store TrustedPublisher
Try 'patchpoint ci create-certificate --help'." \
  pp ci create-certificate "Bad cert" --cert wsus.cer
bad "two certificates: usage" 2 \
  "patchpoint: give the certificate with --cert FILE or --thumbprint T
Try 'patchpoint ci create-certificate --help'." \
  pp ci create-certificate "Bad cert" --cert wsus.cer --thumbprint "$TP" --store Root
bad "a timeout that is not a number: usage" 2 \
  "patchpoint: --timeout takes a number of seconds, not 'soon'
Try 'patchpoint ci create-script --help'." \
  pp ci create-script "Bad value" --discovery maybe.sh --type boolean --expected true --timeout soon
is "no item was made" "$(pp ci list)" "$LIST_CI"
bad "a duplicate baseline name" 1 \
  'patchpoint: a configuration baseline named "Broken" already exists (HTTP 409 already_exists)' \
  pp baseline create broken --ci Sleeps
bad "a baseline of an unknown item" 1 \
  'patchpoint: configuration item "Nothing" does not exist (HTTP 404 not_found)' \
  pp baseline create Other --ci Sleeps --ci Nothing
bad "so it was not made" 1 \
  'patchpoint: configuration baseline "Other" does not exist (HTTP 404 not_found)' \
  pp baseline show Other
bad "an item twice" 1 \
  'patchpoint: configuration item "Sleeps" is in baseline "Broken" already (HTTP 409 already_exists)' \
  pp baseline add-ci Broken --ci sleeps
bad "removing an item it does not hold" 1 \
  'patchpoint: configuration item "Signing certificate present" is not in baseline "Broken" (HTTP 404 not_found)' \
  pp baseline remove-ci Broken --ci "Signing certificate present"
bad "an unknown collection" 1 \
  'patchpoint: collection "Nowhere" does not exist (HTTP 404 not_found)' \
  pp baseline deploy Broken --collection Nowhere
bad "deployed twice to one collection" 1 \
  'patchpoint: configuration baseline "Broken" is deployed to collection "Report only" already (HTTP 409 already_exists)' \
  pp baseline deploy Broken --collection "report only"
bad "a schedule out of range" 1 \
  "patchpoint: a baseline's evaluation schedule is 1 to 8760 hours, not 9000 (HTTP 400 invalid_argument)" \
  pp baseline deploy Broken --collection Remediate --schedule-hours 9000
bad "deleting a deployed baseline" 1 \
  'patchpoint: configuration baseline "Broken" cannot be deleted: it is deployed to collection "Report only"; undeploy it first (HTTP 400 invalid_argument)' \
  pp baseline delete Broken
bad "deleting an item a baseline holds" 1 \
  'patchpoint: configuration item "Sleeps" cannot be deleted: baseline "Broken" holds it; remove it from the baseline first (HTTP 400 invalid_argument)' \
  pp ci delete Sleeps
bad "deleting a collection a baseline is deployed to" 1 \
  "patchpoint: collection \"Report only\" cannot be deleted: configuration baseline \"$B\" is deployed to it (HTTP 400 invalid_argument)" \
  pp collection delete "Report only"
bad "add-ci with two items: usage" 2 \
  "patchpoint: give one configuration item with --ci ITEM
Try 'patchpoint baseline add-ci --help'." \
  pp baseline add-ci Broken --ci Sleeps --ci "Exits 3"
is "baseline show Broken is as it was" "$(pp baseline show Broken)" "$SHOW_BROKEN"
pp baseline create Empty >/dev/null
bad "an empty baseline cannot be deployed" 1 \
  'patchpoint: configuration baseline "Empty" has no configuration items; add one before deploying it (HTTP 400 invalid_argument)' \
  pp baseline deploy Empty --collection Remediate
is "baseline show Empty: not deployed" "$(pp baseline show Empty)" 'Configuration baseline "Empty" (id 3, revision 1)
Configuration items: none
Deployments: none'
run pp ci create-certificate "By thumbprint" --thumbprint "$TP" --store TrustedPublisher
is "by the thumbprint of a certificate in Certificates" "$RC|$(sed -n 3p <<<"$OUT")" "0|Certificate: $TP (WSUS Publishers Self-signed)"
run pp baseline add-ci Empty --ci "By thumbprint"
is "add-ci: the revision moves" "$RC|$(head -n1 <<<"$OUT")" '0|Configuration baseline "Empty" (id 3, revision 2)'
run pp baseline remove-ci Empty --ci "By thumbprint"
is "remove-ci: again" "$RC|$(head -n1 <<<"$OUT")" '0|Configuration baseline "Empty" (id 3, revision 3)'
run pp ci set "Not a Boolean" --expected false
is "ci set: the item's revision moves" "$RC|$(head -n1 <<<"$OUT")" '0|Configuration item "Not a Boolean" (id 5, revision 2)'
bad "ci set with a value not of the type" 1 \
  'patchpoint: the expected value "7" is not a Boolean (true or false) (HTTP 400 invalid_argument)' \
  pp ci set "Not a Boolean" --expected 7
is "and that changed nothing" "$(pp ci show "Not a Boolean" | head -n1)" 'Configuration item "Not a Boolean" (id 5, revision 2)'
run pp ci delete "By thumbprint"
is "ci delete" "$RC|$OUT" '0|Configuration item "By thumbprint" deleted'
run pp baseline delete Empty
is "baseline delete" "$RC|$OUT" '0|Configuration baseline "Empty" deleted'
is "every verb has a manual" "$(for v in create-certificate create-script set list show delete; do pp ci "$v" --help | head -n1; done; for v in create add-ci remove-ci list show delete deploy undeploy; do pp baseline "$v" --help | head -n1; done; pp compliance baseline --help | head -n1)" \
  "$(printf 'NAME\n%.0s' $(seq 15))"

# ---- 6. the server down during an evaluation ----
agent --machine ma certutil -delstore TrustedPublisher "$TP" >/dev/null
PORT=$PD_PORT_A
pd_stop A
run agent --machine ma trigger ci-evaluation
is "server down: the stored baselines are evaluated (exit 0)" "$RC|$OUT" "0|The site could not be reached: the baselines received last were evaluated
Configuration baseline \"$B\" (revision 1) is Remediated
    Signing certificate present: Remediated: added certificate $TP (WSUS Publishers Self-signed) to TrustedPublisher
    AcceptTrustedPublisherCerts is 1: Compliant: found \"1\" (expected \"1\")"
like "the report stays queued, said in one line" "$ERR" \
  '^patchpoint-agent: 1 configuration baseline report\(s\) stay queued: cannot reach http://127\.0\.0\.1:'
is "one report in the queue" "$(find ma/agent/ci-queue -name '*.json' | wc -l)" 1
like "status counts it" "$(agent --machine ma status)" \
  'Baseline reports queued: 1 \(sent at the next contact with the server\)'
like "CIAgent.log: why the stored document" "$(msgs ma CIAgent)" \
  'Cannot refresh the configuration baselines \(cannot reach http://127\.0\.0\.1:[0-9]+.*\); evaluating the ones received at [0-9-]+ [0-9:]+ UTC'
pd_start A "$D" --listen "127.0.0.1:$PORT" || { echo "Bail out! restart failed"; exit 1; }
is "the site still has the Compliant report" "$(baseline_report "$B" | sed -n 4p)" "device-a                 Compliant      <time>"
run agent --machine ma trigger machine-policy
is "the next contact sends the report" "$RC|$(tail -n1 <<<"$OUT")" "0|Sent 1 configuration baseline report(s)"
is "the queue is empty" "$(ls ma/agent/ci-queue)" ""
is "and the site has it" "$(baseline_report "$B" | sed -n 4,6p)" "device-a                 Remediated     <time>
    Signing certificate present          Remediated     -            added certificate $TP (WSUS Publishers Self-signed) to TrustedPublisher
    AcceptTrustedPublisherCerts is 1     Compliant      -            found \"1\" (expected \"1\")"

# ---- 7. run --once: the baseline first, then the updates; not due the second time ----
run agent --machine mc run --once
is "C: run --once, exit 0" "$RC" 0
is "C: the update installed (the baseline remediated first)" "$(cat "$MARK/mc" 2>&1)" installed
is "C: compliance Installed" "$(compliance device-c)" "Installed None"
is "C: Remediated on the fleet" "$(baseline_report "$B" | sed -n 10p)" "device-c                 Remediated     <time>"
run agent --machine mc run --once
is "C: run --once again, exit 0" "$RC" 0
like "C: the baseline is not due yet" "$(msgs mc CIAgent | tail -n1)" \
  "^Baseline \"$B\" \(revision 1\) was evaluated already; next evaluation at [0-9-]+ [0-9:]+ UTC$"
is "C: one evaluation only" "$(msgs mc CIAgent | grep -c 'CAgentJob::Execute - Evaluating')" 1

# The daemon: with --poll-seconds 1 every baseline's schedule is a second, so it is evaluated
# again and again; SIGTERM stops it with exit 0.
"$PATCHPOINT_AGENT" --machine mc run --poll-seconds 1 >run.out 2>&1 &
RUN=$!
for _ in $(seq 200); do
  [ "$(msgs mc CIAgent | grep -c 'CAgentJob::Execute - Evaluating')" -ge 3 ] && break
  sleep 0.05
done
kill -TERM "$RUN"
wait "$RUN"
is "run: SIGTERM, exit 0" "$?" 0
like "run: evaluated on its schedule" "$(msgs mc CIAgent | grep -c 'CAgentJob::Execute - Evaluating')" '^([3-9]|[1-9][0-9]+)$'
like "CcmExec.log: the baselines' interval" "$(msgs mc CcmExec)" 'configuration baselines checked every 1 s'
is "run: every report sent" "$(ls mc/agent/ci-queue)" ""

# ---- undeploy ----
run pp baseline undeploy Broken --collection "Report only"
is "undeploy" "$RC|$OUT" '0|Configuration baseline "Broken" is no longer deployed to collection "Report only"'
run agent --machine mb trigger ci-evaluation
like "B: Broken is no longer evaluated" "$(msgs mb CIAgent)" 'Baseline "Broken" \(id 2\) is no longer deployed to this device'
unlike "and not in the output" "$OUT" 'Broken'
for m in ma mb mc; do
  unlike "no credential of $m in any log or output" \
    "$(cat ./m?/logs/* ./*.out ./*.err 2>/dev/null)" "$(jq_py 'd["credential"]' < "$m/agent/agent.json")"
done
pd_stop A
done_testing
