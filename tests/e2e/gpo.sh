#!/usr/bin/env bash
# End to end: group policy (DESIGN 5.8, docs/internals/gpo.md) against a real patchpointd on
# 127.0.0.1 and patchpoint-agent: a GPO with the WSUS signing certificate in Root and
# TrustedPublisher and AcceptTrustedPublisherCerts = 1, linked to a collection holding the
# device, makes an install succeed on a device whose client settings say third-party No
# (0x800b0109 before gpupdate, installed after); gpupdate without --force skips the unchanged
# GPO, --force applies it again; removing a certificate from the GPO, unlinking and deleting it
# take away exactly what it gave (a local-layer certificate stays); the client-settings machine
# policy cycle leaves a gpo: value alone; the server down changes nothing; the export is a
# SYSVOL folder whose Registry.pol Samba's GPPolParser reads; every bad input is refused with
# its exact message and exit code and the GPO unchanged; the device routes answer 401, 404, 304.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
[ -x "${PATCHPOINT_AGENT:-}" ] || { echo "1..0 # SKIP patchpoint-agent not built"; exit 0; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG PATCHPOINT_MACHINE
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/xdg
mkdir -p "$HOME"
# Debian's python3-samba lives in the system Python, whatever python3 is first on PATH.
SPY=${SAMBA_PYTHON:-/usr/bin/python3}

run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
L() { printf '%s\n' "$@"; }
agent() { "$PATCHPOINT_AGENT" "$@"; }
msgs() { sed 's/^<!\[LOG\[\(.*\)\]LOG\]!>.*/\1/' "$1/logs/$2.log"; }
# Lines of gpupdate.log written since the last mark.
mark() { GPLOG_AT=$(wc -l < ma/logs/gpupdate.log 2>/dev/null || echo 0); }
gplog() { msgs ma gpupdate | tail -n "+$((GPLOG_AT + 1))"; }
refused() { # NAME WANT CMD...: exit 1, nothing on stdout, WANT on stderr
  local name=$1 want=$2
  shift 2
  run "$@"
  is "$name: exit 1, one line" "$RC|$OUT|$ERR" "1||$want"
}
usage() { # NAME MESSAGE CMD...: exit 2, the message and the hint to the verb's manual
  local name=$1 want=$2 cmd
  shift 2
  cmd="$2 $3"
  run "$@"
  is "$name: usage error" "$RC|$OUT|$ERR" "2||patchpoint: $want
Try 'patchpoint $cmd --help'."
}
# unchanged NAME: `gpo show` is what it was at the last `snap`.
snap() { SHOWN=$(pp gpo show "Trust WSUS" 2>&1); }
unchanged() { is "$1: the GPO is unchanged" "$(pp gpo show "Trust WSUS" 2>&1)" "$SHOWN"; }

# ---- manuals and usage errors, without a server ----
for v in create list show delete link unlink import-cert remove-cert set-policy export; do
  run pp gpo $v --help
  sections=$(printf '%s\n' "$OUT" | grep -E '^(NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS)$' | tr '\n' ,)
  is "gpo $v --help: exit 0 and the sections of a manual" "$RC $sections" \
    "0 NAME,SYNOPSIS,DESCRIPTION,OPTIONS,EXIT STATUS,"
  like "gpo $v --help names its command" "$(printf '%s\n' "$OUT" | sed -n 2p)" "^    patchpoint gpo $v - "
done
run pp gpo --help
is "gpo --help lists its verbs" "$RC|$(printf '%s\n' "$OUT" | head -n1)" "0|Usage: patchpoint gpo <verb> [options]"
exits "gpo without a verb: 2" 2 pp gpo
like "patchpoint --help lists gpo" "$(pp --help)" 'gpo create\|list\|show\|delete\|link\|unlink\|import-cert\|remove-cert\|set-policy\|export'
run agent gpupdate --help
is "patchpoint-agent gpupdate --help" "$RC|$(printf '%s\n' "$OUT" | sed -n 2p)" \
  "0|    patchpoint-agent gpupdate - refresh group policy now"
like "patchpoint-agent --help lists gpupdate" "$(agent --help)" 'gpupdate +refresh group policy now'
usage "create without a name" "expected a GPO NAME" pp gpo create
usage "show with two" "unexpected argument 'b'" pp gpo show a b
usage "import-cert without --store" "--store Root|TrustedPublisher is required" pp gpo import-cert G x.cer
usage "import-cert --store CA" "--store takes Root or TrustedPublisher, not 'CA'" \
  pp gpo import-cert G --store CA x.cer
usage "import-cert without a file" "expected a GPO (name or id) and a certificate FILE" \
  pp gpo import-cert G --store Root
usage "remove-cert with a bad thumbprint" "'12AB' is not a thumbprint (40 hexadecimal digits)" \
  pp gpo remove-cert G --store Root 12AB
usage "set-policy 2" "AcceptTrustedPublisherCerts is 1 (Enabled), 0 (Disabled) or not-configured, not '2'" \
  pp gpo set-policy G AcceptTrustedPublisherCerts 2
usage "set-policy yes" "AcceptTrustedPublisherCerts is 1 (Enabled), 0 (Disabled) or not-configured, not 'yes'" \
  pp gpo set-policy G AcceptTrustedPublisherCerts yes
usage "set-policy of another policy" "unknown policy 'NoAutoUpdate': a GPO sets AcceptTrustedPublisherCerts" \
  pp gpo set-policy G NoAutoUpdate 1
usage "link without --collection" "--collection C is required" pp gpo link G
usage "link --order 0" "--order takes a link order from 1, not '0'" pp gpo link G --collection C --order 0
usage "unlink --order" "--order is not an option of 'gpo unlink'" pp gpo unlink G --collection C --order 1
usage "export without DIR" "expected a GPO (name or id) and a directory DIR" pp gpo export G
run agent gpupdate --bogus
is "gpupdate --bogus: usage error" "$RC|$ERR" "2|patchpoint-agent: unknown option '--bogus'
Try 'patchpoint-agent gpupdate --help'."
run agent --machine unregistered gpupdate
is "gpupdate on a machine that is not registered: exit 1, one line" "$RC|$OUT|$ERR" \
  "1||patchpoint-agent: this machine is not registered (no unregistered/agent/agent.json); run 'patchpoint-agent register --server URL --enrollment-key KEY'"
ok "and it made no log directory" test ! -e unregistered/logs

# ---- a site with a published custom update deployed to All Systems ----
D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed: $(cat "$TMP/A.err")"; exit 1; }
H=$PD_URL_A
export PATCHPOINT_SERVER=$H PATCHPOINT_TOKEN=$PD_TOKEN
AUTH=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { curl -s --max-time 20 "${AUTH[@]}" "$@"; }
pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
openssl x509 -inform DER -in wsus.cer -out wsus.pem
TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
SUBJ=$(openssl x509 -inform DER -in wsus.cer -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p')
MARK=$TMP/markers
mkdir -p content "$MARK"
cat > content/install.sh <<'EOF'
#!/bin/sh
echo installed > "$1/done"
EOF
pp publish --new --title "Marker Tool" --vendor Contoso --product Tools --version 1.0 \
  --program install.sh --arguments "$MARK" --content content/install.sh >pub.out 2>&1 ||
  { echo "Bail out! publish failed: $(cat pub.out)"; exit 1; }
UPD=$(sed -n 's/^Update ID: *//p' pub.out)
pp deploy "$UPD" >/dev/null 2>&1 || { echo "Bail out! deploy failed"; exit 1; }
KEY=$(pp enrollment-key create --json | jq_py 'd["key"]')
agent --machine ma register --server "$H" --enrollment-key "$KEY" --name desk-a >/dev/null
agent --machine mb register --server "$H" --enrollment-key "$KEY" --name desk-b >/dev/null
pp collection create Servers --member desk-a >/dev/null

# ---- the GPO ----
run pp gpo create "Trust WSUS" --json
is "gpo create --json: exit 0" "$RC" 0
GUID=$(printf '%s' "$OUT" | jq_py 'd["id"]')
like "its id is a GUID in braces, upper case" "$GUID" '^\{[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$'
is "version 0, nothing in it" "$(printf '%s' "$OUT" | jq_py '(d["version"], d["certificates"], d["policies"], d["links"])')" \
  "(0, [], [], [])"
run pp gpo import-cert "Trust WSUS" --store Root wsus.cer
is "import-cert Root (DER)" "$RC|$OUT" "0|Imported certificate $TP ($SUBJ) into the Root store of GPO Trust WSUS (version 1)"
run pp gpo import-cert "trust wsus" --store trustedpublisher wsus.pem
is "import-cert TrustedPublisher (PEM, any case)" "$RC|$OUT" \
  "0|Imported certificate $TP ($SUBJ) into the TrustedPublisher store of GPO Trust WSUS (version 2)"
run pp gpo set-policy "Trust WSUS" AcceptTrustedPublisherCerts 1
is "set-policy 1" "$RC|$OUT" "0|AcceptTrustedPublisherCerts = 1 (Enabled) in GPO Trust WSUS (version 3)"
run pp gpo set-policy "$GUID" AcceptTrustedPublisherCerts 1
is "set-policy 1 again (by id): no new version" "$RC|$OUT" "0|AcceptTrustedPublisherCerts = 1 (Enabled) in GPO Trust WSUS (version 3)"
run pp gpo set-policy "Trust WSUS" AcceptTrustedPublisherCerts not-configured
is "set-policy not-configured" "$RC|$OUT" "0|AcceptTrustedPublisherCerts is not configured in GPO Trust WSUS"
refused "not-configured twice" \
  'patchpoint: GPO "Trust WSUS" does not set AcceptTrustedPublisherCerts (HTTP 404 not_found)' \
  pp gpo set-policy "Trust WSUS" AcceptTrustedPublisherCerts NOT-CONFIGURED
run pp gpo set-policy "Trust WSUS" AcceptTrustedPublisherCerts 1
is "set-policy 1 once more" "$RC|$OUT" "0|AcceptTrustedPublisherCerts = 1 (Enabled) in GPO Trust WSUS (version 5)"
run pp gpo link "Trust WSUS" --collection Servers
is "link to Servers" "$RC|$OUT" "0|Linked GPO Trust WSUS to collection Servers (PP100010) at link order 1"
run pp gpo show "Trust WSUS"
# shellcheck disable=SC2001
is "gpo show" "$RC|$(sed 's/^Changed: .*/Changed: -/' <<<"$OUT")" "0|$(L "Name:         Trust WSUS" \
  "Id:           $GUID" \
  "Version:      5 (machine 5, user 0)" \
  "Changed: -" \
  "Links:" \
  "    1    PP100010  Servers" \
  "Certificates:" \
  "    Root             $TP  $SUBJ" \
  "    TrustedPublisher $TP  $SUBJ" \
  "Policies:" \
  "    AcceptTrustedPublisherCerts = 1 (Enabled)  Software\\Policies\\Microsoft\\Windows\\WindowsUpdate")"
run pp gpo list
is "gpo list" "$RC|$OUT" "0|$(L "$(printf '%-38s  %-7s  %-24s  %s' Id Version Name Links)" \
  "$(printf '%-38s  %-7s  %-24s  %s' "$GUID" 5 "Trust WSUS" "Servers (1)")")"
is "gpo show --json" "$(pp gpo show "Trust WSUS" --json | jq_py '(d["version"], d["machine_version"], d["user_version"], [c["store"] for c in d["certificates"]], d["policies"][0]["key"], d["links"])')" \
  "(5, 5, 0, ['Root', 'TrustedPublisher'], 'Software\\\\Policies\\\\Microsoft\\\\Windows\\\\WindowsUpdate', [{'collection_id': 'PP100010', 'collection': 'Servers', 'link_order': 1}])"
is "gpo list --json" "$(pp gpo list --json | jq_py '[(g["id"], g["version"]) for g in d["gpos"]]')" "[('$GUID', 5)]"

# ---- bad input: refused whole, the GPO unchanged ----
snap
refused "create: a name in use, any case" \
  "patchpoint: a GPO named \"Trust WSUS\" exists already ($GUID) (HTTP 409 already_exists)" \
  pp gpo create "TRUST wsus"
unchanged "duplicate name"
refused "create: a GUID as a name" \
  'patchpoint: a GPO name may not be a GUID in braces: that is how GPO ids are written (HTTP 400 invalid_argument)' \
  pp gpo create '{6AC1786C-016F-11D2-945F-00C04FB984F9}'
refused "show: an unknown GPO" 'patchpoint: GPO "Nope" does not exist (HTTP 404 not_found)' pp gpo show Nope
refused "import-cert into an unknown GPO" 'patchpoint: GPO "Nope" does not exist (HTTP 404 not_found)' \
  pp gpo import-cert Nope --store Root wsus.cer
printf 'not a certificate\n' > junk.cer
refused "import-cert: a file that is not a certificate" \
  'patchpoint: junk.cer is not a certificate that can be read (DER, PEM or Base64 expected), or it is damaged (0x8009310B CRYPT_E_ASN1_BADTAG)' \
  pp gpo import-cert "Trust WSUS" --store Root junk.cer
unchanged "not a certificate"
refused "import-cert: a missing file" \
  'patchpoint: cannot open missing.cer: No such file or directory (0x80070002 ERROR_FILE_NOT_FOUND)' \
  pp gpo import-cert "Trust WSUS" --store Root missing.cer
refused "import-cert: already in that store" \
  "patchpoint: certificate $TP is already in the Root store of GPO \"Trust WSUS\" (HTTP 409 already_exists)" \
  pp gpo import-cert "Trust WSUS" --store Root wsus.cer
unchanged "certificate twice"
refused "link to an unknown collection" 'patchpoint: collection "Nope" does not exist (HTTP 404 not_found)' \
  pp gpo link "Trust WSUS" --collection Nope
refused "link twice" \
  'patchpoint: GPO "Trust WSUS" is already linked to collection "Servers" (link order 1) (HTTP 409 already_exists)' \
  pp gpo link "Trust WSUS" --collection servers
refused "link at an order beyond the last" \
  'patchpoint: link order 3 is not 1 to 1 (collection "All Systems" has 0 GPO link(s)) (HTTP 400 invalid_argument)' \
  pp gpo link "Trust WSUS" --collection "All Systems" --order 3
unchanged "bad links"
refused "unlink what is not linked" \
  'patchpoint: GPO "Trust WSUS" is not linked to collection "All Systems" (HTTP 404 not_found)' \
  pp gpo unlink "Trust WSUS" --collection "All Systems"
refused "unlink from an unknown collection" 'patchpoint: collection "Nope" does not exist (HTTP 404 not_found)' \
  pp gpo unlink "Trust WSUS" --collection Nope
refused "remove-cert that is not there" \
  "patchpoint: certificate 0000000000000000000000000000000000000000 is not in the Root store of GPO \"Trust WSUS\" (HTTP 404 not_found)" \
  pp gpo remove-cert "Trust WSUS" --store Root 0000000000000000000000000000000000000000
refused "delete an unknown GPO" 'patchpoint: GPO "Nope" does not exist (HTTP 404 not_found)' pp gpo delete Nope
refused "export an unknown GPO" 'patchpoint: GPO "Nope" does not exist (HTTP 404 not_found)' pp gpo export Nope out
unchanged "unknown things"
# The API's own checks, as a client other than the CLI meets them.
api_err() { # NAME STATUS CODE MESSAGE CURL-ARGS...
  local name=$1 st=$2 code=$3 msg=$4 b
  shift 4
  b=$(pd_req "${AUTH[@]}" "$@")
  is "API: $name" "$(tail -n1 <<<"$b") $(head -n -1 <<<"$b")" \
    "$st {\"error\":{\"code\":\"$code\",\"message\":\"$msg\"}}"
}
G=$H/api/v1/gpos/Trust%20WSUS
B64=$(base64 -w0 wsus.cer)
api_err "an unknown store" 400 invalid_argument \
  'unknown store \"CA\": a GPO deploys certificates to Root or TrustedPublisher' \
  "${J[@]}" -d "{\"store\":\"CA\",\"der\":\"$B64\"}" "$G/certificates"
api_err "der that is not base64" 400 invalid_argument "field \\\"der\\\" must be the certificate's DER in base64" \
  "${J[@]}" -d '{"store":"Root","der":"%%%"}' "$G/certificates"
api_err "der that is no certificate" 400 invalid_argument 'the data is not one DER-encoded X.509 certificate' \
  "${J[@]}" -d "{\"store\":\"Root\",\"der\":\"$(printf 'hello' | base64)\"}" "$G/certificates"
api_err "a value other than 0 and 1" 400 invalid_argument 'field \"value\" must be 1 (Enabled) or 0 (Disabled)' \
  -X PUT "${J[@]}" -d '{"value":2}' "$G/policies/AcceptTrustedPublisherCerts"
api_err "an unknown policy" 400 invalid_argument 'unknown policy \"WUServer\": a GPO sets AcceptTrustedPublisherCerts' \
  -X PUT "${J[@]}" -d '{"value":1}' "$G/policies/WUServer"
api_err "create without a name" 400 invalid_argument 'field \"name\" is required' "${J[@]}" -d '{}' "$H/api/v1/gpos"
api_err "an unknown field" 400 invalid_argument 'unknown field \"owner\"' "${J[@]}" -d '{"name":"X","owner":"me"}' "$H/api/v1/gpos"
api_err "link without a collection" 400 invalid_argument 'field \"collection\" is required' "${J[@]}" -d '{}' "$G/links"
api_err "a bad thumbprint" 400 invalid_argument '\"xyz\" is not a certificate thumbprint (40 hexadecimal digits)' \
  -X DELETE "$G/certificates/Root/xyz"
b=$(pd_req "$G")
is "API: without the admin token, 401" "$(tail -n1 <<<"$b")" 401
unchanged "the API's refusals"

# ---- the device: third-party No in client settings, so the install fails ----
run agent --machine ma trigger machine-policy
like "machine policy: third-party disabled by Default Client Settings" "$RC|$OUT" \
  '^0\|.*third-party software updates disabled by "Default Client Settings"'
ok "no certificate from client settings in Root" test ! -e "ma/certstores/Root/$TP.cer"
ok "nor in TrustedPublisher" test ! -e "ma/certstores/TrustedPublisher/$TP.cer"
ok "no policy value" test ! -e ma/policy/values/AcceptTrustedPublisherCerts
agent --machine ma trigger software-updates-scan >/dev/null 2>&1
run agent --machine ma trigger software-updates-deployment-evaluation
like "the install fails with 0x800B0109" "$RC|$OUT" \
  "^1\|Update $UPD \(Marker Tool\) failed to install: .*\(0x800B0109 CERT_E_UNTRUSTEDROOT\)$"
is "WUAHandler.log has the Windows line" \
  "$(msgs ma WUAHandler | grep -c -x -F 'Failed to download updates to the WUAgent datastore. Error = 0x800b0109')" 1

# ---- gpupdate ----
mark
run agent --machine ma gpupdate
is "gpupdate: Windows' summary" "$RC|$OUT|$ERR" "0|Updating policy...

Computer Policy update has completed successfully.|"
ok "the certificate is in the policy Root store" cmp wsus.cer "ma/policy/certstores/Root/$TP.cer"
ok "and in the policy TrustedPublisher store" cmp wsus.cer "ma/policy/certstores/TrustedPublisher/$TP.cer"
ok "not in the local stores" test ! -e "ma/certstores/Root/$TP.cer"
is "AcceptTrustedPublisherCerts = 1 with source gpo:Trust WSUS" "$(cat ma/policy/values/AcceptTrustedPublisherCerts)" \
  "$(printf '1\tgpo:Trust WSUS')"
is "gpupdate.log, line by line" "$(gplog)" "$(L "Requesting the group policy objects of this device from $H" \
  "1 GPO(s) apply to this device" \
  "Applying GPO \"Trust WSUS\" $GUID version 5 (1 of 1; link order 1 on Servers): 2 certificate(s), AcceptTrustedPublisherCerts" \
  "Added certificate $TP ($SUBJ) to the policy Root store (GPO \"Trust WSUS\")" \
  "Added certificate $TP ($SUBJ) to the policy TrustedPublisher store (GPO \"Trust WSUS\")" \
  "Set AcceptTrustedPublisherCerts = 1 (GPO \"Trust WSUS\")" \
  "Computer policy update has completed successfully: 1 GPO(s), 1 applied, 0 skipped, 0 no longer apply; 2 certificate(s) added, 0 removed; AcceptTrustedPublisherCerts set; 0 entries ignored, 0 refused")"
like "gpupdate.log is CMTrace, component gpupdate" "$(tail -n1 ma/logs/gpupdate.log | tr -d '\r')" \
  '^<!\[LOG\[.*\]LOG\]!><time="[0-9:.+-]+" date="[0-9-]+" component="gpupdate" context="" type="1" thread="[0-9]+" file="">$'
is "certutil -store -GroupPolicy Root sees it" "$(agent --machine ma certutil -GroupPolicy -store Root "$TP" >/dev/null 2>&1; echo $?)" 0
run agent --machine ma trigger software-updates-deployment-evaluation
is "the install now succeeds" "$RC|$(head -n1 <<<"$OUT")" "0|Update $UPD (Marker Tool) was installed"
is "the installer ran" "$(cat "$MARK/done" 2>&1)" installed
run agent --machine mb gpupdate
is "desk-b is not in Servers: nothing applies" "$RC|$(msgs mb gpupdate | sed -n 2p)" "0|0 GPO(s) apply to this device"
ok "desk-b's policy stores stay empty" test ! -e "mb/policy/certstores/Root/$TP.cer"

mark
run agent --machine ma gpupdate
is "gpupdate again: success" "$RC|$OUT" "0|Updating policy...

Computer Policy update has completed successfully."
is "the unchanged GPO is skipped" "$(gplog)" "$(L "Requesting the group policy objects of this device from $H" \
  "The list of GPOs that apply to this device is unchanged" \
  "GPO \"Trust WSUS\" $GUID is unchanged (version 5): skipped" \
  "Computer policy update has completed successfully: 1 GPO(s), 0 applied, 1 skipped, 0 no longer apply; 0 certificate(s) added, 0 removed; 0 entries ignored, 0 refused")"
rm "ma/policy/certstores/TrustedPublisher/$TP.cer"
agent --machine ma gpupdate >/dev/null
ok "without --force a certificate removed by hand is not put back" test ! -e "ma/policy/certstores/TrustedPublisher/$TP.cer"
mark
run agent --machine ma gpupdate --force
is "gpupdate --force: success" "$RC" 0
is "--force applies it again" "$(gplog)" "$(L "Requesting the group policy objects of this device from $H (forced: every GPO is applied again)" \
  "1 GPO(s) apply to this device" \
  "Applying GPO \"Trust WSUS\" $GUID version 5 (1 of 1; link order 1 on Servers): 2 certificate(s), AcceptTrustedPublisherCerts" \
  "Certificate $TP is already in the policy Root store (GPO \"Trust WSUS\")" \
  "Added certificate $TP ($SUBJ) to the policy TrustedPublisher store (GPO \"Trust WSUS\")" \
  "AcceptTrustedPublisherCerts is already 1 (GPO \"Trust WSUS\")" \
  "Computer policy update has completed successfully: 1 GPO(s), 1 applied, 0 skipped, 0 no longer apply; 1 certificate(s) added, 0 removed; 0 entries ignored, 0 refused")"
ok "the certificate is back" cmp wsus.cer "ma/policy/certstores/TrustedPublisher/$TP.cer"

# ---- client settings do not take the GPO's value away ----
run agent --machine ma trigger machine-policy
is "machine policy (third-party No) after gpupdate: exit 0" "$RC" 0
is "the gpo: value survives the client-settings cycle" "$(cat ma/policy/values/AcceptTrustedPublisherCerts)" \
  "$(printf '1\tgpo:Trust WSUS')"
like "status names the GPO" "$(agent --machine ma status)" 'AcceptTrustedPublisherCerts.*1.*gpo:Trust WSUS'

# ---- the server down: nothing changes ----
PORT=$PD_PORT_A
BEFORE=$(cd ma && find . -path ./logs -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
pd_stop A
run agent --machine ma gpupdate --force
like "server down: exit 1, one line" "$RC|$OUT|$(wc -l <<<"$ERR")|$ERR" "^1\|\|1\|patchpoint-agent: cannot reach $H: "
is "the machine is unchanged" "$(cd ma && find . -path ./logs -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)" "$BEFORE"
like "gpupdate.log says nothing changed" "$(msgs ma gpupdate | tail -n1)" "^Group policy request failed, nothing was changed: cannot reach $H"
pd_start A "$D" --listen "127.0.0.1:$PORT" || { echo "Bail out! restart failed"; exit 1; }

# ---- the device routes ----
CRED=$(jq_py 'd["credential"]' < ma/agent/agent.json)
DEV=(-H "Authorization: Bearer $CRED")
b=$(pd_req "$H/api/v1/device/gpos")
is "device route without a credential: 401" "$(tail -n1 <<<"$b") $(jfield code "$(head -n1 <<<"$b")")" "401 invalid_credential"
b=$(pd_req -D hdr.txt "${DEV[@]}" "$H/api/v1/device/gpos")
is "device list: 200 with the GPO" "$(tail -n1 <<<"$b") $(head -n -1 <<<"$b" | jq_py '[(g["id"], g["name"], g["version"], g["order"], g["collection"], g["link_order"]) for g in d["gpos"]]')" \
  "200 [('$GUID', 'Trust WSUS', 5, 1, 'Servers', 1)]"
ETAG=$(sed -n 's/^ETag: *//Ip' hdr.txt | tr -d '\r')
is "an unchanged list: 304" "$(pd_req "${DEV[@]}" -H "If-None-Match: $ETAG" "$H/api/v1/device/gpos" | tail -n1)" 304
b=$(pd_req "${DEV[@]}" "$H/api/v1/device/gpos/%7B${GUID:1:36}%7D")
is "one GPO: its Registry.pol" "$(tail -n1 <<<"$b") $(head -n -1 <<<"$b" | jq_py 'd["version"]')" "200 5"
is "an unchanged GPO: 304" "$(pd_req "${DEV[@]}" -H 'If-None-Match: "5"' "$H/api/v1/device/gpos/%7B${GUID:1:36}%7D" | tail -n1)" 304
CRED_B=$(jq_py 'd["credential"]' < mb/agent/agent.json)
b=$(pd_req -H "Authorization: Bearer $CRED_B" "$H/api/v1/device/gpos/%7B${GUID:1:36}%7D")
is "a GPO that does not apply to the device: 404" "$(tail -n1 <<<"$b") $(head -n1 <<<"$b")" \
  "404 {\"error\":{\"code\":\"not_found\",\"message\":\"GPO $GUID does not apply to this device\"}}"
b=$(pd_req "${AUTH[@]}" -D hdr2.txt "$G/Machine/Registry.pol" -o admin.pol)
is "admin Registry.pol: 200, application/octet-stream" "$(tail -n1 <<<"$b") $(sed -n 's/^Content-Type: *//Ip' hdr2.txt | tr -d '\r')" \
  "200 application/octet-stream"

# ---- export: a SYSVOL folder Samba reads ----
run pp gpo export "Trust WSUS" sysvol
is "export" "$RC|$OUT" "0|Exported GPO Trust WSUS $GUID version 5 to sysvol/$GUID"
is "GPT.INI as samba-tool writes it, with this version" "$(od -An -c "sysvol/$GUID/GPT.INI" | tr -s ' ')" \
  "$(printf '[General]\r\nVersion=5\r\n' | od -An -c | tr -s ' ')"
ok "Machine/Registry.pol is what the API serves" cmp admin.pol "sysvol/$GUID/Machine/Registry.pol"
ok "and an empty User folder" test -d "sysvol/$GUID/User"
if "$SPY" -c 'import samba.gp_parse.gp_pol' 2>/dev/null; then
  cat > samba_read.py <<'EOF'
import struct, sys
from samba.gp_parse.gp_pol import GPPolParser
p = GPPolParser()
p.parse(open(sys.argv[1], 'rb').read())
der = open(sys.argv[2], 'rb').read()
for e in p.pol_file.entries:
    d = e.data
    if e.type == 3:
        d = bytes(d)
        recs, off = [], 0
        while off < len(d):
            pid, one, cb = struct.unpack_from('<III', d, off)
            recs.append((pid, one, d[off + 12:off + 12 + cb]))
            off += 12 + cb
        props = [(pid, one) for pid, one, _ in recs]
        ok = recs[-1][2] == der and recs[0][2].hex().upper() == e.keyname.rsplit('\\', 1)[1]
        d = 'props=%s der=%s' % (props, 'ok' if ok else 'WRONG')
    print('%s|%s|%d|%s' % (e.keyname, e.valuename, e.type, d))
EOF
  run "$SPY" samba_read.py "sysvol/$GUID/Machine/Registry.pol" wsus.cer
  is "Samba's GPPolParser reads the exported Registry.pol" "$RC|$OUT" "0|$(L \
    "Software\\Policies\\Microsoft\\SystemCertificates\\Root\\Certificates\\$TP|Blob|3|props=[(3, 1), (32, 1)] der=ok" \
    "Software\\Policies\\Microsoft\\SystemCertificates\\TrustedPublisher\\Certificates\\$TP|Blob|3|props=[(3, 1), (32, 1)] der=ok" \
    "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate|AcceptTrustedPublisherCerts|4|1")"
else
  skip "Samba's GPPolParser reads the exported Registry.pol" "python3-samba is not installed"
fi
run pp gpo export "Trust WSUS" sysvol
is "export again replaces the files" "$RC" 0

# ---- a local-layer certificate, then remove-cert, unlink, delete ----
run agent --machine ma certutil -addstore Root wsus.cer
is "certutil -addstore Root (the local layer)" "$RC" 0
run pp gpo remove-cert "Trust WSUS" --store TrustedPublisher "$(tr 'A-F' 'a-f' <<<"$TP")"
is "remove-cert (any case)" "$RC|$OUT" "0|Removed certificate $TP from the TrustedPublisher store of GPO Trust WSUS"
is "the version went up" "$(pp gpo show "Trust WSUS" --json | jq_py 'd["version"]')" 6
mark
agent --machine ma gpupdate >/dev/null
ok "the changed GPO takes its TrustedPublisher certificate away" test ! -e "ma/policy/certstores/TrustedPublisher/$TP.cer"
ok "its Root one stays" test -e "ma/policy/certstores/Root/$TP.cer"
like "gpupdate.log says why" "$(gplog)" "Removed certificate $TP \($SUBJ\) from the policy TrustedPublisher store: no GPO that applies holds it any more"
pp gpo import-cert "Trust WSUS" --store TrustedPublisher wsus.cer >/dev/null
agent --machine ma gpupdate >/dev/null
ok "imported again: back at the next gpupdate" test -e "ma/policy/certstores/TrustedPublisher/$TP.cer"

run pp gpo unlink "Trust WSUS" --collection Servers
is "unlink" "$RC|$OUT" "0|GPO Trust WSUS unlinked from collection Servers"
mark
run agent --machine ma gpupdate
is "gpupdate after the unlink: success" "$RC" 0
is "what the GPO gave is taken away, and only that" "$(gplog)" "$(L "Requesting the group policy objects of this device from $H" \
  "0 GPO(s) apply to this device" \
  "GPO \"Trust WSUS\" $GUID no longer applies to this device: what only it gave is taken away" \
  "Removed certificate $TP ($SUBJ) from the policy Root store: no GPO that applies holds it any more" \
  "Removed certificate $TP ($SUBJ) from the policy TrustedPublisher store: no GPO that applies holds it any more" \
  "Cleared AcceptTrustedPublisherCerts, which GPO \"Trust WSUS\" had set: no GPO that applies sets it any more" \
  "Computer policy update has completed successfully: 0 GPO(s), 0 applied, 0 skipped, 1 no longer apply; 0 certificate(s) added, 2 removed; AcceptTrustedPublisherCerts cleared; 0 entries ignored, 0 refused")"
is "the policy stores are empty" "$(ls ma/policy/certstores/Root ma/policy/certstores/TrustedPublisher)" \
  "ma/policy/certstores/Root:

ma/policy/certstores/TrustedPublisher:"
ok "the local-layer certificate stays" cmp wsus.cer "ma/certstores/Root/$TP.cer"
ok "the value is gone" test ! -e ma/policy/values/AcceptTrustedPublisherCerts

# A value set by someone else after the GPO is not the GPO's to clear.
pp gpo link "Trust WSUS" --collection "All Systems" >/dev/null
agent --machine ma gpupdate >/dev/null
agent --machine ma policy set AcceptTrustedPublisherCerts 1 >/dev/null
run pp gpo delete "Trust WSUS"
is "delete" "$RC|$OUT" "0|GPO Trust WSUS deleted"
refused "the GPO is gone" 'patchpoint: GPO "Trust WSUS" does not exist (HTTP 404 not_found)' pp gpo show "Trust WSUS"
is "gpo list is empty" "$(pp gpo list)" "$(printf '%-38s  %-7s  %-24s  %s' Id Version Name Links)"
mark
agent --machine ma gpupdate >/dev/null
ok "delete: the certificates go" test ! -e "ma/policy/certstores/Root/$TP.cer"
is "the value set locally since stays" "$(cat ma/policy/values/AcceptTrustedPublisherCerts)" "$(printf '1\tlocal')"
like "gpupdate.log says so" "$(gplog)" 'AcceptTrustedPublisherCerts was set by GPO "Trust WSUS", but local has set it since: left as it is'

# ---- the daemon refreshes group policy too ----
pp gpo create Later >/dev/null
pp gpo import-cert Later --store Root wsus.cer >/dev/null
pp gpo link Later --collection "All Systems" >/dev/null
run agent --machine mb run --once
like "run --once ran the group policy refresh" "$(msgs mb gpupdate | tail -n1)" \
  '^Computer policy update has completed successfully: 1 GPO\(s\), 1 applied'
ok "desk-b got the certificate from the daemon" test -e "mb/policy/certstores/Root/$TP.cer"
"$PATCHPOINT_AGENT" --machine mb run --poll-seconds 60 >run.out 2>&1 &
RUNPID=$!
for _ in $(seq 100); do grep -q 'run started' mb/logs/CcmExec.log 2>/dev/null && break; sleep 0.05; done
kill -TERM "$RUNPID"
wait "$RUNPID"
like "CcmExec.log: the schedule names group policy" "$(msgs mb CcmExec)" \
  'run started \(pid [0-9]+\): machine policy every 60 s, software updates scan every 60 s, deployment re-evaluation every 60 s, group policy every 60 s'

# (init.*.out is patchpointd init's, which prints the token once, as it should.)
unlike "no device credential in any log or output" "$(cat ./m?/logs/* run.* pub.out A.* 2>/dev/null)" "$CRED"
unlike "no admin token in any log or output" "$(cat ./m?/logs/* run.* pub.out A.* 2>/dev/null)" "$PD_TOKEN"
pd_stop A
done_testing
