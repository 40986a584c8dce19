#!/usr/bin/env bash
# End to end, reliability (DESIGN 7, "a killed process mid-operation"): kill -9 of patchpointd
# during a sync that is generating the managed signing certificate, then restart. Whether the
# kill lands before or after the signer stored the files, afterwards there is exactly one
# signing certificate, Certificates agrees with the signing store, the killed sync is marked
# failed, and a new sync runs and succeeds. Also kill -9 while idle: nothing is lost.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing (scripts/install-deps.sh)"; exit 0; }

J=(-H 'Content-Type: application/json')
api() { pd_req -H "Authorization: Bearer $PD_TOKEN" "$@"; } # body + status line
body() { api "$@" | sed '$d'; }                              # body only
wait_sync() { pd_wait_sync "$1" "$PD_TOKEN" "$2"; } # URL ID: prints the final state
thumb_of() { openssl x509 -inform DER -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }
# The WSUS signing rows of Certificates, one thumbprint a line, sorted.
signing_rows() {
  body "$1/api/v1/certificates" | python3 -c 'import json,sys
for c in sorted(c["thumbprint"] for c in json.load(sys.stdin)["certificates"]
                if c["type"] == "Third-party WSUS Signing"):
    print(c)'
}
cer_count() { find "$1/keys" -maxdepth 1 -name '*.cer' | wc -l; }

# ---- kill -9 during the generation of the managed certificate, three times ----
# Polling the log for the generation line and killing at once always lands before the signer
# stored anything (a 4096-bit key takes seconds), so each round kills at a different point to
# cover both timings for certain:
#   gen     at "generating a self-signed one" (4096-bit key): before the store
#   cer     as soon as the .cer appears in keys/ (the signer stores it last): after the store,
#           usually before the Certificates insert
#   created at "Created WSUS signing certificate": after the store, before or after the insert
# The restart uses the default 2048-bit key so that a regeneration is fast.
for round in gen cer created; do
  D=$TMP/data-$round
  pd_init "$D" || exit 1
  bits=()
  [ $round = gen ] && bits=(--managed-key-bits 4096)
  pd_start gen "$D" "${bits[@]}" --sync-interval 0
  H=$PD_URL_gen
  PID=$PD_PID_gen
  SIGNER=$(pgrep -P "$PID")
  like "$round: the signer child runs" "$SIGNER" '^[0-9]+$'
  is "$round: enable third-party updates, managed: 200" "$(api -X PUT "${J[@]}" \
    -d '{"enable_third_party_updates":true,"certificate_mode":"managed"}' \
    $H/api/v1/sites/PP1/third-party-updates | tail -n1)" 200
  r=$(api -X POST $H/api/v1/syncs)
  is "$round: POST /syncs: 202" "$(tail -n1 <<<"$r")" 202
  KILLED=$(sed '$d' <<<"$r" | jfield id)
  # Poll with bash builtins only (no fork between seeing the moment and the kill), every 10 ms
  # for the log line and without sleeping for the .cer (it lives some ms before the insert),
  # then SIGKILL the daemon directly; pd_kill then reaps it.
  end=$((SECONDS + 30))
  while [ $SECONDS -lt $end ]; do
    case $round in
      gen) mapfile -t lines <"$D/logs/wsyncmgr.log" 2>/dev/null
        [[ "${lines[*]}" == *'generating a self-signed one'* ]] && break
        sleep 0.01 ;;
      cer) compgen -G "$D/keys/*.cer" >/dev/null && break ;;
      created) mapfile -t lines <"$D/logs/wsyncmgr.log" 2>/dev/null
        [[ "${lines[*]}" == *'Created WSUS signing certificate'* ]] && break ;;
    esac
  done
  { kill -KILL "$PID"; pd_kill gen; } 2>/dev/null # (and no "Killed" job notice)
  for i in $(seq 100); do kill -0 "${SIGNER:-999999999}" 2>/dev/null || break; sleep 0.05; done
  like "$round: the sync reached the generation before the kill" \
    "$(cat "$D/logs/wsyncmgr.log")" 'generating a self-signed one \(CN=WSUS Publishers Self-signed, RSA'
  fails "$round: patchpointd is gone after SIGKILL" kill -0 "$PID"
  fails "$round: the signer child died with its parent (PDEATHSIG)" kill -0 "${SIGNER:-999999999}"
  # Which timing happened: did the signer store the certificate before it died?
  n=$(cer_count "$D")
  SURVIVOR=
  if [ "$n" -gt 0 ]; then
    SURVIVOR=$(basename "$(find "$D/keys" -maxdepth 1 -name '*.cer' | head -n1)" .cer)
    echo "# $round: killed AFTER the signer stored the certificate ($n .cer in keys/: $SURVIVOR)"
  else
    echo "# $round: killed BEFORE the signer stored the certificate (no .cer in keys/)"
  fi
  if grep -q 'inserted into Certificates' "$D/logs/wsyncmgr.log"; then
    echo "# $round: ... and after the Certificates insert"
  else
    echo "# $round: ... and before the Certificates insert"
  fi
  FINISHED=$(sed -n "s/.*<!\[LOG\[Sync $KILLED \(succeeded\|failed\)[ :].*/\1/p" "$D/logs/wsyncmgr.log")
  if [ -n "$FINISHED" ]; then
    echo "# $round: ... and after the sync had $FINISHED (the kill came too late)"
  else
    echo "# $round: ... while the sync was running"
  fi
  ls -a "$D/keys" | grep -vxE '\.|\.\.' | sed "s/^/# $round: keys\/ after the kill: /"
  case $round in
    gen) is "$round: nothing stored yet when killed at the generation line" "$n" 0 ;;
    *) is "$round: the certificate was stored when killed after it" "$n" 1 ;;
  esac
  if [ -n "$SURVIVOR" ]; then
    ok "$round: the stored certificate has its key" test -s "$D/keys/$SURVIVOR.key"
  fi

  pd_start gen "$D" --sync-interval 0
  H=$PD_URL_gen
  like "$round: restart after the kill serves again" "$(pd_req $H/api/v1/status)" '200$'
  k=$(body $H/api/v1/syncs/$KILLED)
  if [ -n "$FINISHED" ]; then
    # The kill came after the sync had finished: it keeps its own outcome.
    is "$round: the sync that finished before the kill keeps its state" \
      "$(jfield state <<<"$k")" "$FINISHED"
    unlike "$round: no recovery needed" "$(cat "$D/logs/wsyncmgr.log")" 'marked failed'
  else
    is "$round: the killed sync is marked failed" "$(jfield state <<<"$k")" failed
    like "$round: its error says patchpointd stopped" "$(jfield error <<<"$k")" \
      'patchpointd stopped'
    like "$round: wsyncmgr.log records the recovery" "$(cat "$D/logs/wsyncmgr.log")" \
      'left running by a stopped patchpointd; marked failed'
  fi
  like "$round: its finish time is set" "$(jfield finished_at <<<"$k")" '^[1-9][0-9]*$'
  r=$(body -X POST $H/api/v1/syncs)
  is "$round: a new sync starts (started:true)" "$(jfield started <<<"$r")" true
  NEW=$(jfield id <<<"$r")
  like "$round: the new sync has an id" "$NEW" "^[0-9]+$"
  [ "$NEW" != "$KILLED" ]
  is "$round: the new sync's id differs from the killed one" "$?" 0
  is "$round: the new sync succeeds" "$(wait_sync $H "$NEW")" succeeded
  is "$round: latest is the new sync" "$(body $H/api/v1/syncs/latest | jfield id)" "$NEW"

  is "$round: exactly one .cer in the signing store" "$(cer_count "$D")" 1
  CER=$(find "$D/keys" -maxdepth 1 -name '*.cer' | head -n1)
  TP=$(thumb_of "${CER:-/dev/null}" 2>/dev/null)
  is "$round: the .cer file is named by its SHA-1 thumbprint" "$(basename "${CER:-x}" .cer)" "$TP"
  ok "$round: its key file exists" test -s "$D/keys/$TP.key"
  if [ -n "$SURVIVOR" ]; then
    is "$round: the certificate stored before the kill is the one kept (no second one)" \
      "$TP" "$SURVIVOR"
  fi
  rows=$(signing_rows $H)
  is "$round: exactly one Third-party WSUS Signing row in Certificates" \
    "$(grep -c . <<<"$rows")" 1
  is "$round: the row has the thumbprint of the .cer" "$rows" "$TP"
  show=$(body $H/api/v1/publisher/certificate)
  is "$round: the publisher certificate is that one" "$(jfield thumbprint <<<"$show")" "$TP"
  is "$round: with its private key" "$(jfield has_private_key <<<"$show")" true
  st=$(body $H/api/v1/publisher/status)
  is "$round: publisher status ready" "$(jfield ready <<<"$st")" true
  [ "$(jfield ready <<<"$st")" = true ] || python3 -c 'import json,sys
for i in json.load(sys.stdin)["items"]:
    if not i["ok"]: print("#   status item not ok: %s: %s" % (i["name"], i["detail"]))' <<<"$st"
  # Orphans: a key or meta file whose certificate never got stored (the kill came between them).
  orphans=$(cd "$D/keys" && for f in *.key *.meta; do [ -e "$f" ] || continue
    [ -e "${f%.*}.cer" ] || echo "$f"; done)
  [ -n "$orphans" ] && printf '%s\n' "$orphans" | sed "s/^/# $round: orphan left by the kill: /"
  # A second sync after the recovery finds the same certificate: stable.
  S2=$(body -X POST $H/api/v1/syncs | jfield id)
  is "$round: a further sync succeeds" "$(wait_sync $H "$S2")" succeeded
  is "$round: and still one signing row, the same" "$(signing_rows $H)" "$TP"
  is "$round: and still one .cer" "$(cer_count "$D")" 1
  pd_stop gen
  is "$round: graceful stop after the recovery" "$PD_RC" 0
done

# ---- kill -9 while idle: the database opens, nothing lost ----
D=$TMP/idle
pd_init "$D" || exit 1
pd_start idle "$D" --sync-interval 0
H=$PD_URL_idle
api -X PUT "${J[@]}" -d '{"enable_third_party_updates":true,"certificate_mode":"managed"}' \
  $H/api/v1/sites/PP1/third-party-updates >/dev/null
S=$(body -X POST $H/api/v1/syncs | jfield id)
is "idle: a sync succeeds" "$(wait_sync $H "$S")" succeeded
BLK=$(signing_rows $H)
is "idle: block the certificate: 200" \
  "$(api -X POST $H/api/v1/certificates/$BLK/block | tail -n1)" 200
is "idle: add a CAS above PP1: 201" "$(api -X POST "${J[@]}" \
  -d '{"code":"CAS","name":"Central","cas":true}' $H/api/v1/sites | tail -n1)" 201
is "idle: add a remote SUP to PP1: 201" "$(api -X POST "${J[@]}" \
  -d '{"url":"https://sup2.example:8531/","location":"remote","site_code":"PP1"}' \
  $H/api/v1/sups | tail -n1)" 201
snapshot() { # the database as the API shows it, plus the signing store and machine stores
  body $H/api/v1/sites
  body $H/api/v1/sites/CAS/third-party-updates
  body $H/api/v1/sups
  body $H/api/v1/certificates
  body $H/api/v1/syncs/latest
  echo "keys $(tree_digest "$D/keys") machine $(tree_digest "$D/machine")"
}
before=$(snapshot)
like "idle: the snapshot has the sites" "$before" '"code":"CAS".*"code":"PP1"'
# Let the process go quiet (no request in flight), then kill it.
sleep 0.2
SIGNER=$(pgrep -P "$PD_PID_idle")
PID=$PD_PID_idle
pd_kill idle
fails "idle: patchpointd is gone" kill -0 "$PID"
fails "idle: its signer is gone" kill -0 "${SIGNER:-999999999}"
pd_start idle "$D" --sync-interval 0
H=$PD_URL_idle
like "idle: restart after kill -9 serves" "$(pd_req $H/api/v1/status)" '200$'
after=$(snapshot)
is "idle: sites, settings, SUPs, Certificates, latest sync, keys/ and machine/ unchanged" "$after" "$before"
is "idle: the blocked certificate is still blocked" \
  "$(body $H/api/v1/certificates/$BLK | jfield blocked)" true
ok "idle: the database passes integrity_check" python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1]); r = c.execute("PRAGMA integrity_check").fetchone()[0]
sys.exit(0 if r == "ok" else print(r) or 1)' "$D/patchpoint.db"
unlike "idle: no sync was marked failed by the recovery" "$(cat "$D/logs/wsyncmgr.log")" \
  'marked failed'
pd_stop idle
is "idle: graceful stop" "$PD_RC" 0

done_testing
