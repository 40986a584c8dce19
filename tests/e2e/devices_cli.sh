#!/usr/bin/env bash
# End to end: the administrator's commands for devices (DESIGN 5.6) against a real patchpointd on
# 127.0.0.1, with exact outputs and exit codes: enrollment keys (shown once, revoked), devices
# registered with curl as the agent would, collections (query globs, include/exclude, direct
# members), client settings with their order, deployments and the Default Client Settings
# refusals, and the resultant settings of a device naming the client setting each value came
# from (which changes with move-down and undeploy), with the third-party line and the minimum
# client version.
. "$(dirname "$0")/../lib.sh"
. "$SRCDIR/tests/daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 0; }

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/xdg
mkdir -p "$HOME"

# run CMD...: runs CMD, sets RC, OUT (stdout) and ERR (stderr).
run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
# jq_py EXPR: a Python expression over the JSON document d read from stdin.
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
L() { printf '%s\n' "$@"; } # the lines of an expected output
# refused NAME WANT CMD...: CMD exits 1, prints nothing on stdout and exactly WANT on stderr.
refused() {
  local name=$1 want=$2
  shift 2
  run "$@"
  is "$name: exit 1, one line" "$RC|$OUT|$ERR" "1||$want"
}
# usage NAME MESSAGE CMD...: CMD exits 2 with MESSAGE and the hint to its manual.
usage() {
  local name=$1 want=$2 cmd
  shift 2
  cmd="$2 $3"
  run "$@"
  is "$name: usage error" "$RC|$OUT|$ERR" "2||patchpoint: $want
Try 'patchpoint $cmd --help'."
}
utc() { date -u -d "@$1" '+%Y-%m-%d %H:%M:%S UTC'; }

# ---- manuals, without a server or a token ----
VERBS=("enrollment-key create" "enrollment-key list" "enrollment-key revoke"
  "collection create" "collection list" "collection show" "collection delete"
  "client-settings list" "client-settings show" "client-settings create" "client-settings set"
  "client-settings move-up" "client-settings move-down" "client-settings deploy"
  "client-settings undeploy" "client-settings delete" "client-settings minimum-version"
  "device list" "device show" "device resultant-settings" "device client-settings")
for v in "${VERBS[@]}"; do
  # shellcheck disable=SC2086
  run pp $v --help
  sections=$(printf '%s\n' "$OUT" | grep -E '^(NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS)$' | tr '\n' ,)
  is "$v --help: exit 0, NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS" "$RC $sections" \
    "0 NAME,SYNOPSIS,DESCRIPTION,OPTIONS,EXIT STATUS,"
  like "$v --help names its command and documents --token-file" \
    "$(printf '%s\n' "$OUT" | sed -n 2p)|$(printf '%s' "$OUT" | grep -c -- '--token-file FILE')" \
    "^    patchpoint $v - .*\|1$"
done
like "client-settings set --help: every setting flag" "$(pp client-settings set --help | tr '\n' ' ')" \
  '--software-updates yes\|no.*--third-party yes\|no.*--scan-days N.*--reevaluation-days N.*--polling-minutes N'
for g in enrollment-key collection client-settings device; do
  run pp $g --help
  is "$g --help lists its verbs" "$RC $(printf '%s' "$OUT" | head -n1)" \
    "0 Usage: patchpoint $g <verb> [options]"
  exits "$g without a verb is a usage error" 2 pp $g
done
like "patchpoint --help lists the commands" "$(pp --help | tr '\n' ' ')" \
  'enrollment-key create\|list\|revoke.*collection create\|list\|show\|delete.*client-settings list.*device list\|show\|resultant-settings\|client-settings'

# ---- usage errors, before any connection ----
usage "a time that is not one" \
  "'tomorrow' is not a time (Unix seconds, now, or YYYY-MM-DDTHH:MM[:SS]Z)" \
  pp enrollment-key create --expires tomorrow
usage "revoke without an id" "expected an enrollment key ID" pp enrollment-key revoke
usage "revoke abc" "'abc' is not an enrollment key id (a positive number)" \
  pp enrollment-key revoke abc
usage "list with an argument" "unexpected argument 'x'" pp enrollment-key list x
usage "collection create without a name" "expected a collection NAME" pp collection create
usage "collection create, an empty query" "--query takes a non-empty value" \
  pp collection create X --query ''
usage "collection create --collection" "--collection is not an option of 'collection create'" \
  pp collection create X --collection Y
usage "collection show without a name" "expected a collection NAME or ID" pp collection show
usage "collection delete without a name" "expected a collection NAME or ID" pp collection delete
usage "collection delete --json" "--json is not an option of 'collection delete'" \
  pp collection delete X --json
usage "client-settings show without a name" "expected a client setting NAME" \
  pp client-settings show
usage "client-settings show ''" "expected a client setting NAME, not ''" \
  pp client-settings show ''
usage "client-settings set without a setting" \
  "give at least one setting (--software-updates, --third-party, --scan-days, --reevaluation-days, --polling-minutes)" \
  pp client-settings set X
usage "--third-party maybe" "--third-party takes yes or no, not 'maybe'" \
  pp client-settings set X --third-party maybe
usage "--scan-days seven" "--scan-days takes a whole number, not 'seven'" \
  pp client-settings create X --scan-days seven
usage "--polling-minutes -5" "--polling-minutes takes a whole number, not '-5'" \
  pp client-settings create X --polling-minutes -5
usage "a setting flag on show" "--third-party is not an option of 'client-settings show'" \
  pp client-settings show X --third-party yes
usage "deploy without --collection" "--collection C is required" pp client-settings deploy X
usage "undeploy without --collection" "--collection C is required" pp client-settings undeploy X
usage "move-up without a name" "expected a client setting NAME" pp client-settings move-up
usage "move-down with two names" "unexpected argument 'b'" pp client-settings move-down a b
usage "minimum-version with two versions" "unexpected argument '2'" \
  pp client-settings minimum-version 1 2
usage "device show without a name" "expected a device NAME or ID" pp device show
usage "device resultant-settings without a name" "expected a device NAME or ID" \
  pp device resultant-settings
usage "device client-settings without a name" "expected a device NAME or ID" \
  pp device client-settings
exits "an unknown option: 2" 2 pp device list --bogus
like "no token anywhere: usage error naming where a token comes from" \
  "$(pp device list 2>&1 | tr '\n' ' '; echo "exit ${PIPESTATUS[0]}")" 'no admin token: give --token TOKEN.*exit 2$'

# ---- a real patchpointd ----
D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed: $(cat "$TMP/A.err")"; exit 1; }
export PATCHPOINT_SERVER=$PD_URL_A PATCHPOINT_TOKEN=$PD_TOKEN

# ---- enrollment keys ----
run pp enrollment-key create --name lab
KEY=$(printf '%s\n' "$OUT" | sed -n 's/^Key:     //p')
like "enrollment-key create: a key of 64 hex digits" "$KEY" '^[0-9a-f]{64}$'
is "enrollment-key create: the exact output, the key shown only now" "$RC|$OUT" "0|$(L \
  'Enrollment key 1 created' \
  'Name:    lab' \
  'Expires: never' \
  "Key:     $KEY" \
  'The key is shown only now: the server keeps only its digest.')"
run pp enrollment-key create --name spare --expires 2099-01-01T00:00Z --json
is "enrollment-key create --json: the record with the key" \
  "$RC $(printf '%s' "$OUT" | jq_py '(sorted(d), d["id"], d["name"], d["expires_at"], d["revoked"], d["uses"], len(d["key"]))')" \
  "0 (['created_at', 'expires_at', 'id', 'key', 'name', 'revoked', 'uses'], 2, 'spare', 4070908800, False, 0, 64)"
SPARE=$(printf '%s' "$OUT" | jq_py 'd["key"]')
refused "an expiry in the past" \
  "patchpoint: an enrollment key must expire in the future (HTTP 400 invalid_argument)" \
  pp enrollment-key create --name old --expires 1000
C1=$(pp enrollment-key list --json | jq_py 'd["enrollment_keys"][0]["created_at"]')
C2=$(pp enrollment-key list --json | jq_py 'd["enrollment_keys"][1]["created_at"]')

# register NAME MACHINE_ID_HEX_DIGIT VERSION TAGS_JSON [KEY]: prints the device id.
register() {
  local mid
  mid=$(printf "$2%.0s" $(seq 32))
  pd_req -X POST -H 'Content-Type: application/json' "$PD_URL_A/api/v1/device/register" -d \
    "{\"enrollment_key\":\"${5:-$KEY}\",\"machine_id\":\"$mid\",\"name\":\"$1\",\"os\":\"Debian GNU/Linux 12\",\"client_version\":\"$3\",\"tags\":$4}"
}
A_ID=$(register kiosk-01 a 5.00.9128.1000 '["kiosk","floor-2"]' | head -n1 | jq_py 'd["device_id"]')
B_ID=$(register ws-01 b 5.00.9128.1000 '["office"]' | head -n1 | jq_py 'd["device_id"]')
C_ID=$(register old-01 c 5.00.8000.1000 '[]' "$SPARE" | head -n1 | jq_py 'd["device_id"]')
like "three devices registered" "$A_ID $B_ID $C_ID" '^(GUID:[0-9a-f-]{36} ?){3}$'

ekrow() { printf '%-5s %-24s %-24s %-24s %-5s %s\n' "$@"; }
run pp enrollment-key list
is "enrollment-key list: id, name, created, expires, uses, state" "$RC|$OUT" "0|$(ekrow Id Name \
  Created Expires Uses State; ekrow 1 lab "$(utc "$C1")" never 2 active
  ekrow 2 spare "$(utc "$C2")" '2099-01-01 00:00:00 UTC' 1 active)"
run pp enrollment-key revoke 2
is "enrollment-key revoke" "$RC|$OUT" "0|Enrollment key 2 revoked"
is "enrollment-key list: revoked" "$(pp enrollment-key list | tail -n1)" \
  "$(ekrow 2 spare "$(utc "$C2")" '2099-01-01 00:00:00 UTC' 1 revoked)"
is "a revoked key registers no device" "$(register new-01 d 5.00.9128.1000 '[]' "$SPARE" | tail -n1)" 401
refused "revoke an unknown key" \
  "patchpoint: enrollment key 99 does not exist (HTTP 404 not_found)" pp enrollment-key revoke 99
is "enrollment-key list --json: the records, no key" \
  "$(pp enrollment-key list --json | jq_py '[sorted(k) for k in d["enrollment_keys"]]')" \
  "[['created_at', 'expires_at', 'id', 'name', 'revoked', 'uses'], ['created_at', 'expires_at', 'id', 'name', 'revoked', 'uses']]"

# ---- devices ----
devrow() { printf '%-20s %-42s %-24s %-15s %-20s %s\n' "$@"; }
OS='Debian GNU/Linux 12'
run pp device list
is "device list: name, id, OS, client version, tags, last policy" "$RC|$OUT" "0|$(devrow Name Id \
  OS 'Client version' Tags 'Last policy'
  devrow kiosk-01 "$A_ID" "$OS" 5.00.9128.1000 kiosk,floor-2 -
  devrow old-01 "$C_ID" "$OS" 5.00.8000.1000 - -
  devrow ws-01 "$B_ID" "$OS" 5.00.9128.1000 office -)"
is "device list --json" \
  "$(pp device list --json | jq_py '[(x["name"], x["tags"], x["last_policy_at"], sorted(x)) for x in d["devices"]][0]')" \
  "('kiosk-01', ['kiosk', 'floor-2'], None, ['client_version', 'id', 'last_policy_at', 'name', 'os', 'registered_at', 'tags'])"
REG_A=$(pp device show kiosk-01 --json | jq_py 'd["registered_at"]')
run pp device show kiosk-01
is "device show: the device and its collections" "$RC|$OUT" "0|$(L \
  'Name:           kiosk-01' \
  "Id:             $A_ID" \
  "OS:             $OS" \
  'Client version: 5.00.9128.1000' \
  'Tags:           kiosk,floor-2' \
  "Registered:     $(utc "$REG_A")" \
  'Last policy:    -' \
  'Collections:' \
  '    SMS00001  All Systems')"
is "device show --json" \
  "$(pp device show kiosk-01 --json | jq_py '(sorted(d), d["id"], d["collections"])')" \
  "(['client_version', 'collections', 'id', 'last_policy_at', 'name', 'os', 'registered_at', 'tags'], '$A_ID', [{'id': 'SMS00001', 'name': 'All Systems'}])"
run pp device show "$A_ID"
is "device show by id (GUID:..., escaped in the path)" "$RC $(printf '%s\n' "$OUT" | sed -n 1p)" \
  "0 Name:           kiosk-01"
refused "device show of an unknown device" \
  'patchpoint: device "nope" does not exist (HTTP 404 not_found)' pp device show nope
refused "device resultant-settings of an unknown device" \
  'patchpoint: device "nope" does not exist (HTTP 404 not_found)' pp device resultant-settings nope
refused "device client-settings of an unknown device" \
  'patchpoint: device "nope" does not exist (HTTP 404 not_found)' pp device client-settings nope

# ---- collections ----
run pp collection create Kiosks --query 'name=kiosk-*'
is "collection create with a glob query: id, name, rules, members" "$RC|$OUT" "0|$(L \
  'Id:      PP100010' \
  'Name:    Kiosks' \
  'Rules:' \
  '    query name=kiosk-*' \
  'Members: 1' \
  "    $(printf '%-42s' "$A_ID") kiosk-01")"
run pp collection create Office --member ws-01 --json
is "collection create --member --json" \
  "$RC $(printf '%s' "$OUT" | jq_py '(sorted(d), d["id"], d["rules"], d["member_count"], [m["name"] for m in d["members"]])')" \
  "0 (['created_at', 'id', 'member_count', 'members', 'name', 'rules'], 'PP100011', [{'member': '$B_ID', 'name': 'ws-01'}], 1, ['ws-01'])"
run pp collection create "Not kiosks" --include "All Systems" --exclude Kiosks
is "collection create with include and exclude" "$RC|$OUT|$ERR" "0|$(L \
  'Id:      PP100012' \
  'Name:    Not kiosks' \
  'Rules:' \
  '    include All Systems (SMS00001)' \
  '    exclude Kiosks (PP100010)' \
  'Members: 2' \
  "    $(printf '%-42s' "$C_ID") old-01" \
  "    $(printf '%-42s' "$B_ID") ws-01")|"
refused "collection create: a name in use" \
  'patchpoint: collection "Kiosks" already exists (PP100010) (HTTP 409 already_exists)' \
  pp collection create kiosks --query 'tag=kiosk'
refused "collection create: an unknown device" \
  'patchpoint: device "nope" does not exist (HTTP 404 not_found)' \
  pp collection create X --member nope
refused "collection create: an unknown collection to include" \
  'patchpoint: collection "Nope" does not exist (HTTP 404 not_found)' \
  pp collection create X --include Nope
refused "collection create: an unknown query field" \
  'patchpoint: unknown field "colour" in query "colour=red": use name, os, client_version or tag (HTTP 400 invalid_argument)' \
  pp collection create X --query colour=red
run pp collection list
is "collection list" "$RC|$OUT" "0|$(L 'Id        Name' 'PP100010  Kiosks' 'PP100011  Office' \
  'PP100012  Not kiosks' 'SMS00001  All Systems')"
is "collection list --json" "$(pp collection list --json | jq_py 'd["collections"][3]')" \
  "{'id': 'SMS00001', 'name': 'All Systems'}"
run pp collection show "All Systems"
is "collection show All Systems: every device" "$RC|$OUT" "0|$(L \
  'Id:      SMS00001' \
  'Name:    All Systems' \
  'Rules:   every device' \
  'Members: 3' \
  "    $(printf '%-42s' "$A_ID") kiosk-01" \
  "    $(printf '%-42s' "$C_ID") old-01" \
  "    $(printf '%-42s' "$B_ID") ws-01")"
is "collection show by id is by name" "$(pp collection show PP100010)" \
  "$(pp collection show Kiosks)"
is "collection show --json: rules and members" \
  "$(pp collection show Kiosks --json | jq_py '(d["rules"], d["members"][0]["name"], d["member_count"])')" \
  "([{'query': 'name=kiosk-*'}], 'kiosk-01', 1)"
refused "collection show of an unknown collection" \
  'patchpoint: collection "Nope" does not exist (HTTP 404 not_found)' pp collection show Nope
run pp device show ws-01
is "device show: its collections" "$(printf '%s\n' "$OUT" | sed -n '/^Collections:/,$p')" "$(L \
  'Collections:' '    SMS00001  All Systems' '    PP100011  Office' '    PP100012  Not kiosks')"
pp collection create Temp >/dev/null
run pp collection delete Temp
is "collection delete" "$RC|$OUT" "0|Collection Temp deleted"
refused "collection delete All Systems" \
  'patchpoint: All Systems cannot be deleted (HTTP 400 invalid_argument)' \
  pp collection delete SMS00001
refused "collection delete of one another includes" \
  'patchpoint: collection "Kiosks" cannot be deleted: collection "Not kiosks" excludes it (HTTP 400 invalid_argument)' \
  pp collection delete Kiosks

# ---- client settings ----
csrow() { printf '%-6s %-32s %-32s %s\n' "$@"; }
CSHEAD=$(csrow Order Name 'Groups configured' Deployments)
BOTH='Software Updates, Client Policy'
run pp client-settings list
is "client-settings list: the default alone" "$RC|$OUT" \
  "0|$CSHEAD
$(csrow 10000 'Default Client Settings' "$BOTH" '(every device)')"
run pp client-settings create Workstations --third-party no
is "client-settings create: order 1, the group it configures" "$RC|$OUT" "0|$(L \
  'Name:        Workstations' \
  'Order:       1' \
  'Type:        Custom client device settings' \
  'Groups:      Software Updates' \
  'Deployments: none' \
  'Software Updates' \
  '    Enable software updates on clients         Yes' \
  '    Enable third party software updates        No' \
  '    Software update scan schedule (days)       7' \
  '    Schedule deployment re-evaluation (days)   7')"
run pp client-settings create "Third-party updates" --third-party yes --polling-minutes 30 --json
is "client-settings create --json: order 2, both groups" \
  "$RC $(printf '%s' "$OUT" | jq_py '(sorted(d), d["order"], d["groups"], d["settings"]["software_updates.third_party"], d["settings"]["client_policy.polling_interval_minutes"])')" \
  "0 (['default', 'deployments', 'groups', 'name', 'order', 'settings', 'updated_at'], 2, ['Software Updates', 'Client Policy'], True, 30)"
refused "client-settings create --scan-days 0: the server's message" \
  'patchpoint: Software update scan schedule (days) (software_updates.scan_interval_days) takes a whole number from 1 to 365, not "0" (HTTP 400 invalid_argument)' \
  pp client-settings create Bad --scan-days 0
refused "client-settings create: a name in use" \
  'patchpoint: client setting "Workstations" already exists (HTTP 409 already_exists)' \
  pp client-settings create workstations
is "a refused create makes nothing" "$(pp client-settings list --json | jq_py 'len(d["client_settings"])')" 3

# Workstations (order 1, third-party No) to Office, which holds ws-01; the other to All Systems.
run pp client-settings deploy Workstations --collection Office
is "client-settings deploy by collection name" "$RC|$OUT" "0|Deployed Workstations to Office (PP100011)"
run pp client-settings deploy "Third-party updates" --collection SMS00001
is "client-settings deploy by collection id" "$RC|$OUT" \
  "0|Deployed Third-party updates to All Systems (SMS00001)"
run pp client-settings deploy Workstations --collection Kiosks --json
is "client-settings deploy --json: the client setting with its deployments" \
  "$RC $(printf '%s' "$OUT" | jq_py '(d["name"], d["deployments"])')" \
  "0 ('Workstations', [{'collection_id': 'PP100010', 'collection': 'Kiosks'}, {'collection_id': 'PP100011', 'collection': 'Office'}])"
pp client-settings undeploy Workstations --collection PP100010 >/dev/null
refused "client-settings deploy twice" \
  'patchpoint: client setting "Workstations" is already deployed to "Office" (HTTP 409 already_exists)' \
  pp client-settings deploy Workstations --collection Office
refused "client-settings deploy to an unknown collection" \
  'patchpoint: collection "Nope" does not exist (HTTP 404 not_found)' \
  pp client-settings deploy Workstations --collection Nope
refused "client-settings deploy of an unknown setting" \
  'patchpoint: client setting "Nope" does not exist (HTTP 404 not_found)' \
  pp client-settings deploy Nope --collection Office
refused "Default Client Settings cannot be deleted" \
  'patchpoint: Default Client Settings cannot be deleted (HTTP 400 invalid_argument)' \
  pp client-settings delete "Default Client Settings"
refused "Default Client Settings cannot be deployed" \
  'patchpoint: Default Client Settings cannot be deployed: it applies to every device (HTTP 400 invalid_argument)' \
  pp client-settings deploy "Default Client Settings" --collection Office
refused "Default Client Settings cannot be moved up" \
  'patchpoint: Default Client Settings keeps order 10000; it cannot be moved (HTTP 400 invalid_argument)' \
  pp client-settings move-up "Default Client Settings"
refused "Default Client Settings cannot be moved down" \
  'patchpoint: Default Client Settings keeps order 10000; it cannot be moved (HTTP 400 invalid_argument)' \
  pp client-settings move-down "Default Client Settings"
refused "client-settings show of an unknown setting" \
  'patchpoint: client setting "Nope" does not exist (HTTP 404 not_found)' pp client-settings show Nope
refused "client-settings set of an unknown setting" \
  'patchpoint: client setting "Nope" does not exist (HTTP 404 not_found)' \
  pp client-settings set Nope --third-party yes
refused "client-settings delete of an unknown setting" \
  'patchpoint: client setting "Nope" does not exist (HTTP 404 not_found)' pp client-settings delete Nope
refused "the first cannot move up" \
  'patchpoint: client setting "Workstations" already has the first order (1) (HTTP 400 invalid_argument)' \
  pp client-settings move-up Workstations
refused "a deployment to a collection blocks its deletion" \
  'patchpoint: collection "Office" cannot be deleted: client setting "Workstations" is deployed to it (HTTP 400 invalid_argument)' \
  pp collection delete Office
run pp client-settings list
is "client-settings list: order, name, groups, deployments" "$RC|$OUT" "0|$CSHEAD
$(csrow 1 Workstations 'Software Updates' Office
  csrow 2 'Third-party updates' "$BOTH" 'All Systems'
  csrow 10000 'Default Client Settings' "$BOTH" '(every device)')"
is "client-settings list --json" \
  "$(pp client-settings list --json | jq_py '[(c["order"], c["name"], c["default"], c["groups"], [x["collection"] for x in c["deployments"]]) for c in d["client_settings"]]')" \
  "[(1, 'Workstations', False, ['Software Updates'], ['Office']), (2, 'Third-party updates', False, ['Software Updates', 'Client Policy'], ['All Systems']), (10000, 'Default Client Settings', True, ['Software Updates', 'Client Policy'], [])]"
is "client-settings show --json: the values of the groups it configures" \
  "$(pp client-settings show Workstations --json | jq_py 'd["settings"]')" \
  "{'software_updates.enabled': True, 'software_updates.third_party': False, 'software_updates.scan_interval_days': 7, 'software_updates.reevaluation_interval_days': 7}"
run pp client-settings show "third-party updates"
is "client-settings show (names ignore case): deployments and values" "$RC|$OUT" "0|$(L \
  'Name:        Third-party updates' \
  'Order:       2' \
  'Type:        Custom client device settings' \
  "Groups:      $BOTH" \
  'Deployments:' \
  '    SMS00001  All Systems' \
  'Software Updates' \
  '    Enable software updates on clients         Yes' \
  '    Enable third party software updates        Yes' \
  '    Software update scan schedule (days)       7' \
  '    Schedule deployment re-evaluation (days)   7' \
  'Client Policy' \
  '    Client policy polling interval (minutes)   30')"

# resultant NAME ID SU TP SCAN REEVAL POLL: the expected resultant settings, each "VALUE SOURCE".
resultant() {
  local name=$1 id=$2
  shift 2
  L "Resultant client settings of $name ($id)" 'Software Updates'
  printf '    %-42s %-4s from %s\n' 'Enable software updates on clients' "${1%% *}" "${1#* }" \
    'Enable third party software updates' "${2%% *}" "${2#* }" \
    'Software update scan schedule (days)' "${3%% *}" "${3#* }" \
    'Schedule deployment re-evaluation (days)' "${4%% *}" "${4#* }"
  L 'Client Policy'
  printf '    %-42s %-4s from %s\n' 'Client policy polling interval (minutes)' "${5%% *}" "${5#* }"
}
W=Workstations T=Third-party\ updates DEF=Default\ Client\ Settings
run pp device resultant-settings ws-01
is "resultant settings of B: third-party No from Workstations (order 1 wins)" "$RC|$OUT" "0|$(
  resultant ws-01 "$B_ID" "Yes $W" "No $W" "7 $W" "7 $W" "30 $T"
  L 'Third-party software updates: No, from Workstations' \
    'Client version: 5.00.9128.1000, at least the minimum 5.00.8692.1003' \
    'Signing certificates delivered: No (third-party software updates are disabled)')"
run pp device resultant-settings kiosk-01
is "resultant settings of A: third-party Yes from the other setting" "$RC|$OUT" "0|$(
  resultant kiosk-01 "$A_ID" "Yes $T" "Yes $T" "7 $T" "7 $T" "30 $T"
  L 'Third-party software updates: Yes, from Third-party updates' \
    'Client version: 5.00.9128.1000, at least the minimum 5.00.8692.1003' \
    'Signing certificates delivered: Yes')"
run pp device resultant-settings old-01
is "resultant settings of an old client: below the minimum" \
  "$RC|$(printf '%s\n' "$OUT" | tail -n3)" "0|$(L \
  'Third-party software updates: Yes, from Third-party updates' \
  'Client version: 5.00.8000.1000, below the minimum 5.00.8692.1003' \
  'Signing certificates delivered: No (the client version is below the minimum)')"
is "device resultant-settings --json" \
  "$(pp device resultant-settings ws-01 --json | jq_py '(sorted(d), d["settings"]["software_updates.third_party"], d["third_party"])')" \
  "(['device', 'settings', 'third_party'], {'value': False, 'source': 'Workstations', 'group': 'Software Updates', 'label': 'Enable third party software updates'}, {'enabled': False, 'source': 'Workstations', 'minimum_client_version': '5.00.8692.1003', 'client_version_ok': True, 'certificates_delivered': False})"
dsrow() { printf '%-6s %-32s %s\n' "$@"; }
run pp device client-settings ws-01
is "device client-settings: every one deployed to it, in order, the default last" "$RC|$OUT" "0|$(
  L "Client settings deployed to ws-01 ($B_ID), in order"
  dsrow Order Name 'Deployed through'
  dsrow 1 Workstations Office
  dsrow 2 'Third-party updates' 'All Systems'
  dsrow 10000 'Default Client Settings' '(every device)')"
is "device client-settings --json" \
  "$(pp device client-settings kiosk-01 --json | jq_py '[(c["name"], c["order"], c["deployed_to"]) for c in d["client_settings"]]')" \
  "[('Third-party updates', 2, ['All Systems']), ('Default Client Settings', 10000, [])]"

# Move Item Down: Workstations gets order 2, and B its third-party value from the other.
run pp client-settings move-down Workstations
is "client-settings move-down: the new order" "$RC|$OUT" "0|Workstations now has order 2
$CSHEAD
$(csrow 1 'Third-party updates' "$BOTH" 'All Systems'
  csrow 2 Workstations 'Software Updates' Office
  csrow 10000 'Default Client Settings' "$BOTH" '(every device)')"
run pp device resultant-settings ws-01
is "after move-down B gets third-party Yes from Third-party updates" \
  "$RC|$(printf '%s\n' "$OUT" | sed -n 4p)|$(printf '%s\n' "$OUT" | grep '^Third-party')" \
  "0|    $(printf '%-42s %-4s from %s' 'Enable third party software updates' Yes "$T")|Third-party software updates: Yes, from Third-party updates"
refused "the last cannot move down" \
  'patchpoint: client setting "Workstations" already has the last order (2) (HTTP 400 invalid_argument)' \
  pp client-settings move-down Workstations
run pp client-settings move-up Workstations --json
is "client-settings move-up --json: the list in its new order" \
  "$RC $(printf '%s' "$OUT" | jq_py '[(c["order"], c["name"]) for c in d["client_settings"]]')" \
  "0 [(1, 'Workstations'), (2, 'Third-party updates'), (10000, 'Default Client Settings')]"
is "moved back up: B is No from Workstations again" \
  "$(pp device resultant-settings ws-01 | grep '^Third-party')" \
  'Third-party software updates: No, from Workstations'

# Undeploy: B no longer gets Workstations.
run pp client-settings undeploy Workstations --collection office
is "client-settings undeploy" "$RC|$OUT" "0|Removed the deployment of Workstations to office"
is "after undeploy B gets third-party Yes from Third-party updates" \
  "$(pp device resultant-settings ws-01 | grep '^Third-party')" \
  'Third-party software updates: Yes, from Third-party updates'
is "after undeploy: B's client settings" "$(pp device client-settings ws-01 | tail -n +3)" \
  "$(dsrow 2 'Third-party updates' 'All Systems'; dsrow 10000 'Default Client Settings' '(every device)')"
refused "client-settings undeploy twice" \
  'patchpoint: client setting "Workstations" is not deployed to "Office" (HTTP 404 not_found)' \
  pp client-settings undeploy Workstations --collection Office

# set: the default, and one value of a custom setting.
run pp client-settings set "Default Client Settings" --third-party yes --polling-minutes 120
is "client-settings set on Default Client Settings" \
  "$RC|$(printf '%s\n' "$OUT" | sed -n '1,4p;7p;11p')" "0|$(L \
  'Name:        Default Client Settings' \
  'Order:       10000' \
  'Type:        Default Client Settings (applies to every device)' \
  "Groups:      $BOTH" \
  '    Enable third party software updates        Yes' \
  '    Client policy polling interval (minutes)   120')"
run pp client-settings set Workstations --scan-days 14 --json
is "client-settings set: the other values stay" \
  "$RC $(printf '%s' "$OUT" | jq_py '(d["settings"]["software_updates.scan_interval_days"], d["settings"]["software_updates.third_party"], d["groups"])')" \
  "0 (14, False, ['Software Updates'])"
refused "client-settings set --reevaluation-days 400: the server's message" \
  'patchpoint: Schedule deployment re-evaluation (days) (software_updates.reevaluation_interval_days) takes a whole number from 1 to 365, not "400" (HTTP 400 invalid_argument)' \
  pp client-settings set Workstations --reevaluation-days 400

# delete, with a name that needs escaping; those after it move up.
pp client-settings create "Temp 50% & more" --software-updates yes >/dev/null
run pp client-settings delete "Temp 50% & more"
is "client-settings delete" "$RC|$OUT" "0|Client setting Temp 50% & more deleted"
pp client-settings create "Lab machines" --polling-minutes 15 >/dev/null
pp client-settings move-up "Lab machines" >/dev/null
run pp client-settings delete Workstations
is "delete the first: the others move up" \
  "$RC|$OUT|$(pp client-settings list | tail -n +2 | cut -c1-40 | sed 's/ *$//')" \
  "0|Client setting Workstations deleted|$(L '1      Lab machines' '2      Third-party updates' \
  '10000  Default Client Settings')"

# ---- the minimum client version ----
run pp client-settings minimum-version
is "minimum-version: the default" "$RC|$OUT" \
  "0|Minimum client version for third-party software updates: 5.00.8692.1003"
run pp client-settings minimum-version 5.00.9200.1000
is "minimum-version VERSION" "$RC|$OUT" \
  "0|Minimum client version for third-party software updates: 5.00.9200.1000"
is "minimum-version --json" "$(pp client-settings minimum-version --json | jq_py 'd')" \
  "{'minimum_client_version': '5.00.9200.1000'}"
is "a raised minimum: A is below it now" \
  "$(pp device resultant-settings kiosk-01 | tail -n2)" "$(L \
  'Client version: 5.00.9128.1000, below the minimum 5.00.9200.1000' \
  'Signing certificates delivered: No (the client version is below the minimum)')"
refused "minimum-version of what is not a version" \
  'patchpoint: client version "5.00" is not four dot-separated numbers (5.00.8692.1003) (HTTP 400 invalid_argument)' \
  pp client-settings minimum-version 5.00
pp client-settings minimum-version 5.00.8692.1003 >/dev/null

# Software updates off: third-party updates are off whatever their own value, and the line says
# which client setting turned software updates off.
pp client-settings undeploy "Third-party updates" --collection "All Systems" >/dev/null
pp client-settings set "Default Client Settings" --software-updates no >/dev/null
run pp device resultant-settings kiosk-01
is "software updates disabled: the third-party line names why" "$RC|$(printf '%s\n' "$OUT" | tail -n3)" \
  "0|$(L 'Third-party software updates: No (software updates are disabled), from Default Client Settings' \
  'Client version: 5.00.9128.1000, at least the minimum 5.00.8692.1003' \
  'Signing certificates delivered: No (third-party software updates are disabled)')"

# ---- the CMTrace log of what the commands changed (never the enrollment key) ----
pp --log "$TMP/cli.log" enrollment-key create --name logged >"$TMP/logged.out"
LOGGED=$(sed -n 's/^Key:     //p' "$TMP/logged.out")
pp --log "$TMP/cli.log" client-settings deploy "Lab machines" --collection Office >/dev/null
like "the log records the changes" "$(cat "$TMP/cli.log")" \
  'Created enrollment key 3 \(logged\)'
like "the log records the deployment" "$(cat "$TMP/cli.log")" \
  'Deployed client setting Lab machines to Office'
unlike "the log never holds the key" "$(cat "$TMP/cli.log")" "$LOGGED"

pd_stop A
is "patchpointd stops cleanly" "$PD_RC" 0
done_testing
