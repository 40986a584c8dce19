#!/usr/bin/env bash
# End to end, reliability of publishing (DESIGN 7, "a killed process mid-operation"): kill -9 of
# patchpointd while 'patchpoint publish' uploads its content, and while the server packs and
# signs the cabinet (while it is written to content/.incoming, while the publisher waits for
# the signer's signature, during the commit); kill -9 of the CLI mid-upload. After each
# restart on the same data directory: no partial content file is visible, .incoming is emptied
# (and the log says so), no catalog row points to missing content, no half-made update exists,
# and the publish can be retried. Finally every update_content row names an existing file
# whose SHA-1 is its name, and the start-up scrub finds nothing damaged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing (scripts/install-deps.sh)"; exit 0; }
command -v osslsigncode >/dev/null || { echo "1..0 # SKIP osslsigncode missing (scripts/install-deps.sh)"; exit 0; }

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/xdg
mkdir -p "$HOME"

# The payload: random (incompressible, real) data, large enough that uploading, packing and
# signing it take long enough to be interrupted by a kill from this script.
SIZE=$((300 * 1000 * 1000))
CHUNK=$((4 * 1024 * 1024))
head -c "$SIZE" /dev/urandom >big.bin
[ "$(stat -c %s big.bin)" -eq "$SIZE" ] || { echo "Bail out! cannot write the payload to $TMP"; exit 1; }
BIG_SHA1=$(sha1sum big.bin | cut -d' ' -f1)

D=$TMP/site
INC=$D/content/.incoming
MAINLOG=$D/logs/patchpointd.log
SDIST=$D/logs/SoftwareDistribution.log
NEWARGS=(--title "Crash Tool" --vendor Contoso --product Tools --version 1.0 --program big.bin)
NEW=(publish --new "${NEWARGS[@]}" --content big.bin)

api() { pd_req -H "Authorization: Bearer $PD_TOKEN" "$@"; } # body + status line
# sql QUERY: the rows of QUERY on the site database, one a line, columns tab-separated.
sql() {
  python3 -c 'import sqlite3,sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for r in c.execute(sys.argv[2]): print("\t".join("" if v is None else str(v) for v in r))' \
    "$D/patchpoint.db" "$1"
}
content_files() { find "$D/content" -mindepth 2 -type f ! -path "$INC/*" | sort; }
incoming_files() { find "$INC" -mindepth 1 2>/dev/null | sort; }
rows() { sql 'SELECT update_id, revision, sha1 FROM update_content ORDER BY update_id'; }
updates() { sql 'SELECT id FROM updates ORDER BY id'; }
field() { sed -n "s/^$1: *//p" "$2"; } # a "Name: value" line of a file
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

start() { # the daemon on the data directory, or bail out
  pd_start A "$D" --sync-interval 0 || { echo "Bail out! patchpointd run failed: $(tail -n3 "$TMP/A.err")"; exit 1; }
  H=$PD_URL_A
  PID=$PD_PID_A
  SIGNER=$(pgrep -P "$PID")
  export PATCHPOINT_SERVER=$H PATCHPOINT_TOKEN=$PD_TOKEN
}
# kill -9 of patchpointd at once (no fork between the decision and the kill), then reap it and
# wait until its signer child has died with it.
kill_daemon() {
  kill -KILL "$PID" 2>/dev/null
  { pd_kill A; } 2>/dev/null
  for _ in $(seq 100); do kill -0 "${SIGNER:-999999999}" 2>/dev/null || break; sleep 0.05; done
}
# wait_cli PID: waits for a background CLI; sets CLI_RC.
wait_cli() { wait "$1" 2>/dev/null; CLI_RC=$?; }

# published TAG OUT: checks a successful publish whose output is in OUT: a content URL, the
# CAB downloaded from it (no token) has the SHA-1 of its name, verifies against the WSUS
# signing certificate, and its row and file exist.
published() {
  local tag=$1 out=$2 url path sha1 got code
  url=$(field Content "$out")
  sha1=$(field SHA-1 "$out")
  like "$tag: prints a content URL" "$url" '^https?://[^/]+/Content/[0-9A-F]{2}/[0-9A-F]{40}\.cab$'
  path=/${url#*://*/}
  is "$tag: the URL's path names the SHA-1" "$path" "/Content/${sha1:38:2}/$sha1.cab"
  code=$(curl -s --max-time 60 -o "$TMP/pub.cab" -w '%{http_code}' "$H$path")
  is "$tag: GET $path without a token: 200" "$code" 200
  got=$(sha1sum "$TMP/pub.cab" | cut -d' ' -f1)
  is "$tag: the downloaded CAB has the SHA-1 of its name" "${got^^}" "$sha1"
  is "$tag: it is as large as the CLI said" "$(size_of "$TMP/pub.cab")" "$(field Size "$out" | cut -d' ' -f1)"
  ok "$tag: osslsigncode verify accepts it against the WSUS signing certificate" \
    osslsigncode verify -in "$TMP/pub.cab" -CAfile "$TMP/wsus.pem"
  is "$tag: its update_content row exists" \
    "$(sql "SELECT count(*) FROM update_content WHERE sha1 = '$sha1'")" 1
  ok "$tag: its file is in the content store" test -f "$D/content/${sha1:38:2}/$sha1.cab"
}

pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
start
pp sup set --third-party on --cert-mode managed >/dev/null || { echo "Bail out! sup set failed"; exit 1; }
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
r=$(api "$H/api/v1/publisher/certificate/cer" -o "$TMP/wsus.cer")
is "the WSUS signing certificate (DER): 200" "$(tail -n1 <<<"$r")" 200
openssl x509 -inform DER -in "$TMP/wsus.cer" -out "$TMP/wsus.pem" 2>/dev/null
ok "it converts to PEM" test -s "$TMP/wsus.pem"
is "no update before the scenarios" "$(updates)" ""

# ---- 1. kill -9 of patchpointd while the CLI uploads ----
"$PATCHPOINT" "${NEW[@]}" >"$TMP/s1.out" 2>"$TMP/s1.err" &
CLI=$!
# The upload's .part file appears when the upload is created and grows chunk by chunk; kill once
# a few chunks have arrived (well before the end).
PART=
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
  [ -z "$PART" ] && PART=$(compgen -G "$D/uploads/*.part" | head -n1)
  [ -n "$PART" ] && [ "$(size_of "$PART")" -ge $((4 * CHUNK)) ] && break
  kill -0 "$CLI" 2>/dev/null || break
  sleep 0.01
done
kill_daemon
PART_AT_KILL=$(size_of "${PART:-/nonexistent}") # (more may have arrived since the last look)
echo "# 1: killed with the upload at $PART_AT_KILL of $SIZE bytes"
ok "1: the kill came during the upload" test "$PART_AT_KILL" -ge $((4 * CHUNK)) -a "$PART_AT_KILL" -lt "$SIZE"
UP1=$(basename "${PART:-x}" .part)
# The CLI retries from the acknowledged offset for a few seconds, then gives up. Wait for it
# first: the restarted daemon listens on another ephemeral port, and must not be found by it.
wait_cli "$CLI"
is "1: the CLI run failed: exit 1" "$CLI_RC" 1
is "1: with one line on stderr" "$(wc -l <"$TMP/s1.err")" 1
like "1: the line says it cannot reach the server, and how far the upload got" \
  "$(cat "$TMP/s1.err")" "^patchpoint: .*upload $UP1 of big.bin: [0-9]+ of $SIZE bytes sent\)$"
start
like "1: restart after the kill serves" "$(pd_req "$H/api/v1/status")" '200$'
is "1: no file under content/XX/" "$(content_files)" ""
is "1: .incoming is empty" "$(incoming_files)" ""
is "1: no update_content row" "$(rows)" ""
is "1: no update row" "$(updates)" ""
u=$(api "$H/api/v1/uploads/$UP1")
is "1: the interrupted upload is still there: 200" "$(tail -n1 <<<"$u")" 200
is "1: ... not complete" "$(sed '$d' <<<"$u" | jfield complete)" false
RECV=$(sed '$d' <<<"$u" | jfield received)
ok "1: ... with whole chunks received, at most what was on disk ($RECV)" \
  test "$RECV" -gt 0 -a $((RECV % CHUNK)) -eq 0 -a "$RECV" -le "$PART_AT_KILL"
"$PATCHPOINT" "${NEW[@]}" >"$TMP/s1r.out" 2>"$TMP/s1r.err"
is "1: the same publish again succeeds" "$?" 0
published "1: retry" "$TMP/s1r.out"
ok "1: the CAB extracts" pp cab extract "$TMP/pub.cab" -d "$TMP/x1"
is "1: and holds the payload, byte for byte" "$(sha1sum "$TMP/x1/big.bin" 2>/dev/null | cut -d' ' -f1)" "$BIG_SHA1"
rm -rf "$TMP/x1" "$TMP/pub.cab"
is "1: one update now" "$(updates | wc -l)" 1

# ---- 2. kill -9 while the server packs and signs ----
# Two content files, so that the CLI sends plain uploads and the server packs them (a lone file
# arrives as a cabinet upload, signed in place: 2d). A publish: the CLI uploads, then the server
# hashes the files, writes the CAB to a temporary
# file in .incoming (".<name>.<hex>", hashing it for the signature as it goes), has the signer
# sign the digest, appends the signature and renames the file to its incoming name
# ("<32 hex>.tmp"); the commit then hashes and fsyncs it, renames it into content/XX/ and the
# row is recorded. Three kills, polled with bash builtins (no fork between seeing the moment
# and the kill):
#   2a  the CLI's publish, at the first sight of the temporary file: the CAB is being written
#   2b  over the API with the kept upload: the signer child is stopped (SIGSTOP) as soon as the
#       CAB is begun, so the publisher writes the whole CAB and then waits for its signature;
#       the kill comes while it waits (deterministic, whatever the machine's speed)
#   2c  over the API with the kept upload, at the first sight of the signed file under its
#       incoming name: during the commit
TEMP_GLOB='.[0-9a-f]*' # the temporary file of the CAB writer
FINAL_GLOB='[0-9a-f]*' # the signed CAB under its incoming name
publishing() { grep -c 'PublishPackage(): Publishing update' "$SDIST"; }
snapshot() { BEFORE_FILES=$(content_files); BEFORE_ROWS=$(rows); BEFORE_UPDATES=$(updates); }
# after_kill TAG: the checks after the restart that follows a kill with one file in .incoming.
after_kill() {
  local m0
  m0=$(grep -c "removed 1 unfinished file(s) from $D/content/.incoming" "$MAINLOG")
  start
  like "$1: restart after the kill serves" "$(pd_req "$H/api/v1/status")" '200$'
  is "$1: patchpointd.log says the leftover was removed" \
    "$(grep -c "removed 1 unfinished file(s) from $D/content/.incoming" "$MAINLOG")" $((m0 + 1))
  is "$1: .incoming is empty" "$(incoming_files)" ""
  is "$1: no new file under content/XX/" "$(content_files)" "$BEFORE_FILES"
  is "$1: no new update_content row" "$(rows)" "$BEFORE_ROWS"
  is "$1: no update row for the custom update" "$(updates)" "$BEFORE_UPDATES"
}

payload=big.bin
printf 'read me\r\n' >readme.txt
S2A=
for attempt in 1 2; do
  snapshot
  n0=$(publishing)
  "$PATCHPOINT" publish --new "${NEWARGS[@]/big.bin/$payload}" --content "$payload" \
    --content readme.txt >"$TMP/s2.out" 2>"$TMP/s2.err" &
  CLI=$!
  # While the CLI hashes and uploads and the server hashes, poll gently: until the server logs
  # that it publishes (right before it starts the CAB).
  end=$((SECONDS + 90))
  while [ $SECONDS -lt $end ] && [ "$(publishing)" -le "$n0" ]; do
    kill -0 "$CLI" 2>/dev/null || break
    sleep 0.01
  done
  SEEN=
  while [ $SECONDS -lt $end ]; do
    compgen -G "$INC/$TEMP_GLOB" >/dev/null && { SEEN=1; break; }
    kill -0 "$CLI" 2>/dev/null || break
  done
  kill_daemon
  LEFT=$(incoming_files)
  wait_cli "$CLI"
  if [ -n "$SEEN" ] && [[ $LEFT == "$INC"/.* ]] && [ "$CLI_RC" -ne 0 ]; then
    S2A=1
    break
  fi
  echo "# 2a: attempt $attempt came too late (temporary file seen: ${SEEN:-no}, left: ${LEFT:-none}, CLI exit $CLI_RC)"
  start
  [ $attempt = 2 ] && break
  cat big.bin big.bin >big2.bin # again with twice the data, so that packing takes longer
  payload=big2.bin
done
if [ -z "$S2A" ]; then
  skip "2a: kill -9 while the CAB is written" \
    "the CAB was complete before the kill twice (machine too fast for a ${SIZE}-byte payload)"
else
  echo "# 2a: killed with $(size_of "$LEFT") of about $(size_of "$payload") bytes of the CAB written ($(basename "$LEFT"))"
  is "2a: the kill left one file in .incoming, the CAB writer's temporary one" \
    "$(wc -l <<<"$LEFT")" 1
  ok "2a: it is shorter than the payload (the CAB was being written)" \
    test "$(size_of "$LEFT")" -lt "$(size_of "$payload")"
  is "2a: the CLI run failed: exit 1" "$CLI_RC" 1
  is "2a: with one line on stderr" "$(wc -l <"$TMP/s2.err")" 1
  like "2a: the line names the server" "$(cat "$TMP/s2.err")" '^patchpoint: .*127\.0\.0\.1'
  is "2a: nothing on stdout" "$(cat "$TMP/s2.out")" ""
  after_kill 2a
fi

# The complete upload of the killed publish is still there (a failed publish keeps its
# uploads): 2b and 2c publish it over the API.
UP2=
for p in "$D"/uploads/*.part; do
  [ "$(size_of "$p")" -eq "$(size_of "$payload")" ] && UP2=$(basename "$p" .part)
done
u=$(api "$H/api/v1/uploads/${UP2:-none}")
is "2: the complete upload of the killed publish is kept: 200" "$(tail -n1 <<<"$u")" 200
is "2: ... complete" "$(sed '$d' <<<"$u" | jfield complete)" true
BODY='{"title":"Crash Tool","vendor":"Contoso","product":"Tools","version":"1.0","program":"'$payload'","content":[{"upload":"'$UP2'","name":"'$payload'"}]}'

# post_update TAG BODY: POST /api/v1/updates with BODY in the background (CURL, the answer's
# status in $TMP/TAG.code), returning once the server logs that it publishes; sets end, the
# deadline for what follows.
post_update() {
  local n0
  n0=$(publishing)
  curl -s --max-time 120 -o "$TMP/$1.out" -w '%{http_code}' -H "Authorization: Bearer $PD_TOKEN" \
    -H 'Content-Type: application/json' -d "$2" "$H/api/v1/updates" >"$TMP/$1.code" 2>/dev/null &
  CURL=$!
  end=$((SECONDS + 60))
  while [ $SECONDS -lt $end ] && [ "$(publishing)" -le "$n0" ]; do
    kill -0 "$CURL" 2>/dev/null || break
    sleep 0.01
  done
}
# api_round TAG MODE: POST /api/v1/updates with the kept upload and kill at MODE (written or
# signed); sets LEFT and CODE, and LATE when the kill came after the commit.
api_round() {
  local tag=$1 mode=$2 f
  snapshot
  post_update "$tag" "$BODY"
  if [ "$mode" = signing ]; then
    # The signer was asked for the certificates before the CAB is begun; the next thing the
    # publisher asks of it is the signature. Stop it as soon as the CAB is begun, so that the
    # publisher waits for the signature with the CAB written, then kill.
    while [ $SECONDS -lt $end ]; do
      compgen -G "$INC/$TEMP_GLOB" >/dev/null && break
      kill -0 "$CURL" 2>/dev/null || break
    done
    kill -STOP "$SIGNER" 2>/dev/null
    f=$(compgen -G "$INC/$TEMP_GLOB")
    local last=-1 now
    while [ $SECONDS -lt $end ] && [ -n "$f" ]; do
      now=$(size_of "$f")
      [ "$now" -ge "$(size_of "$payload")" ] && [ "$now" -eq "$last" ] && break
      last=$now
      kill -0 "$CURL" 2>/dev/null || break
      sleep 0.05
    done
    # The publisher waits on the stopped signer: the CAB is still unsigned, under its temporary
    # name, as long as nothing has been renamed.
    compgen -G "$INC/$FINAL_GLOB" >/dev/null && echo "# $tag: a signed CAB appeared while the signer was stopped"
  else
    while [ $SECONDS -lt $end ]; do
      compgen -G "$INC/$FINAL_GLOB" >/dev/null && break
      kill -0 "$CURL" 2>/dev/null || break
    done
  fi
  kill_daemon
  LEFT=$(incoming_files)
  wait "$CURL" 2>/dev/null
  CODE=$(cat "$TMP/$tag.code")
  LATE=
  if [ -z "$LEFT" ] || [ "$CODE" != 000 ]; then
    LATE=1
    echo "# $tag: the kill came after the commit (left in .incoming: ${LEFT:-none}, HTTP $CODE)"
    skip "$tag: kill -9 $mode" "the CAB was committed before the kill"
    start
    snapshot
  fi
}

KEPT=${UP2:+1} # the kept upload is there to publish (a publish that succeeds consumes it)
if [ -n "$KEPT" ]; then
  api_round 2b signing
  [ -n "$LATE" ] && KEPT=
else
  skip "2b: kill -9 while the publisher waits for the signature" "no complete upload kept"
fi
if [ -n "$KEPT" ]; then
  echo "# 2b: killed waiting for the signature: $(basename "$LEFT"), $(size_of "$LEFT") bytes"
  is "2b: the request got no answer" "$CODE" 000
  is "2b: the kill left one file in .incoming" "$(wc -l <<<"$LEFT")" 1
  like "2b: the CAB writer's temporary file, not yet renamed" "$LEFT" "^$INC/\.[0-9a-f]{32}\.tmp\.[0-9a-f]+$"
  ok "2b: with the payload written" test "$(size_of "$LEFT")" -ge "$(size_of "$payload")"
  fails "2b: and no signature (osslsigncode verify refuses it)" \
    osslsigncode verify -in "$LEFT" -CAfile "$TMP/wsus.pem"
  after_kill 2b
fi

if [ -n "$KEPT" ]; then
  api_round 2c commit
  [ -n "$LATE" ] && KEPT=
else
  skip "2c: kill -9 during the commit" "no complete upload kept"
fi
if [ -n "$KEPT" ]; then
  echo "# 2c: killed during the commit: $(basename "$LEFT"), $(size_of "$LEFT") bytes"
  is "2c: the request got no answer" "$CODE" 000
  like "2c: the kill left the signed CAB under its incoming name" "$LEFT" "^$INC/[0-9a-f]{32}\.tmp$"
  ok "2c: a complete, signed CAB (osslsigncode verify)" \
    osslsigncode verify -in "$LEFT" -CAfile "$TMP/wsus.pem"
  after_kill 2c
fi

# ---- 2. the retries ----
"$PATCHPOINT" publish --new "${NEWARGS[@]/big.bin/$payload}" --content "$payload" \
  --content readme.txt >"$TMP/s2r.out" 2>"$TMP/s2r.err"
is "2: the same publish command again succeeds" "$?" 0
published "2: retry" "$TMP/s2r.out"
rm -f "$TMP/pub.cab"
if [ -n "$KEPT" ]; then
  r=$(api -H 'Content-Type: application/json' -d "$BODY" "$H/api/v1/updates")
  is "2: the same request with the kept upload succeeds: 201" "$(tail -n1 <<<"$r")" 201
  sed '$d' <<<"$r" | python3 -c 'import json,sys; c=json.load(sys.stdin)["content"]
print("Content: %s\nSHA-1: %s\nSize: %s bytes" % (c["url"], c["sha1"], c["size"]))' >"$TMP/s2api.out"
  published "2: retry over the API" "$TMP/s2api.out"
  rm -f "$TMP/pub.cab"
  is "2: the consumed upload is removed: 404" "$(api "$H/api/v1/uploads/$UP2" | tail -n1)" 404
fi
rm -f big2.bin

# ---- 2d. kill -9 while a cabinet upload waits for its signature ----
# A lone file is uploaded as the cabinet it will be published in; publishing then only asks the
# signer for the signature and writes it in place. With the signer stopped, the publisher waits
# for it with the upload untouched; the kill comes then. After the restart the upload is still
# complete, as it was, and publishing it over the API makes a CAB that verifies and holds the
# payload.
head -c $((40 * 1000 * 1000)) /dev/urandom >cab.bin
CAB_SHA1=$(sha1sum cab.bin | cut -d' ' -f1)
u=$(api -H 'Content-Type: application/json' \
  -d '{"size":40000000,"name":"cab.bin","cabinet":true}' "$H/api/v1/uploads")
is "2d: a cabinet upload is created: 201" "$(tail -n1 <<<"$u")" 201
is "2d: ... and is one" "$(sed '$d' <<<"$u" | jfield cabinet)" true
UPD=$(sed '$d' <<<"$u" | jfield id)
for off in $(seq 0 $((8 * 1024 * 1024)) 39999999); do
  dd if=cab.bin bs=1M iflag=skip_bytes,count_bytes skip="$off" count=$((8 * 1024 * 1024)) \
    status=none >chunk.bin
  last=$(api -X PUT -H 'Content-Type: application/octet-stream' --data-binary @chunk.bin \
    "$H/api/v1/uploads/$UPD?offset=$off" | tail -n1)
done
rm -f chunk.bin
is "2d: its chunks are acknowledged: 200" "$last" 200
STAMP=$(stat -c '%s %Y' "$D/uploads/$UPD.part" 2>/dev/null)
snapshot
kill -STOP "$SIGNER"
BODYD='{"title":"Cab Tool","vendor":"Contoso","product":"Tools","version":"1.0","program":"cab.bin","content":[{"upload":"'$UPD'"}]}'
post_update s2d "$BODYD"
sleep 0.3 # the publisher is at the stopped signer by now, and waits
kill_daemon
wait "$CURL" 2>/dev/null
is "2d: the request got no answer" "$(cat "$TMP/s2d.code")" 000
is "2d: the cabinet upload's file is as it was before the kill" \
  "$(stat -c '%s %Y' "$D/uploads/$UPD.part" 2>/dev/null)" "$STAMP"
start
like "2d: restart after the kill serves" "$(pd_req "$H/api/v1/status")" '200$'
is "2d: .incoming is empty" "$(incoming_files)" ""
is "2d: no new file under content/XX/" "$(content_files)" "$BEFORE_FILES"
is "2d: no new update_content row" "$(rows)" "$BEFORE_ROWS"
is "2d: no update row for the custom update" "$(updates)" "$BEFORE_UPDATES"
u=$(api "$H/api/v1/uploads/$UPD")
is "2d: the cabinet upload is still there: 200" "$(tail -n1 <<<"$u")" 200
is "2d: ... complete" "$(sed '$d' <<<"$u" | jfield complete)" true
is "2d: ... a cabinet upload" "$(sed '$d' <<<"$u" | jfield cabinet)" true
is "2d: ... with the payload's SHA-1" "$(sed '$d' <<<"$u" | jfield sha1)" "$CAB_SHA1"
r=$(api -H 'Content-Type: application/json' -d "$BODYD" "$H/api/v1/updates")
is "2d: publishing the kept cabinet upload over the API: 201" "$(tail -n1 <<<"$r")" 201
sed '$d' <<<"$r" | python3 -c 'import json,sys; c=json.load(sys.stdin)["content"]
print("Content: %s\nSHA-1: %s\nSize: %s bytes" % (c["url"], c["sha1"], c["size"]))' >"$TMP/s2d.api"
published "2d: retry over the API" "$TMP/s2d.api"
ok "2d: the CAB extracts" pp cab extract "$TMP/pub.cab" -d "$TMP/xd"
is "2d: and holds the payload, byte for byte" "$(sha1sum "$TMP/xd/cab.bin" 2>/dev/null | cut -d' ' -f1)" "$CAB_SHA1"
like "2d: SoftwareDistribution.log says it was signed in place" "$(tail -n3 "$SDIST")" \
  'Created cab [0-9A-F]{40}\.cab for update .*\(packed as it was uploaded\)'
is "2d: the upload became the content: 404" "$(api "$H/api/v1/uploads/$UPD" | tail -n1)" 404
is "2d: its file left the uploads directory" "$(compgen -G "$D/uploads/$UPD.*")" ""
rm -rf "$TMP/xd" "$TMP/pub.cab" cab.bin

# ---- the CLI killed mid-upload: a new publish works ----
known=$(compgen -G "$D/uploads/*.part" | sort)
"$PATCHPOINT" "${NEW[@]}" >"$TMP/c.out" 2>"$TMP/c.err" &
CLI=$!
PART=
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
  if [ -z "$PART" ]; then
    PART=$(compgen -G "$D/uploads/*.part" | sort | comm -13 <(printf '%s\n' "$known") - | head -n1)
  fi
  [ -n "$PART" ] && [ "$(size_of "$PART")" -ge $((2 * CHUNK)) ] && break
  kill -0 "$CLI" 2>/dev/null || break
  sleep 0.01
done
kill -KILL "$CLI" 2>/dev/null
wait_cli "$CLI"
is "client: the CLI died of SIGKILL" "$CLI_RC" 137
UPC=$(basename "${PART:-x}" .part)
u=$(api "$H/api/v1/uploads/$UPC")
is "client: its upload stays (until it expires): 200" "$(tail -n1 <<<"$u")" 200
is "client: ... not complete" "$(sed '$d' <<<"$u" | jfield complete)" false
"$PATCHPOINT" "${NEW[@]}" >"$TMP/c2.out" 2>"$TMP/c2.err"
is "client: the publish run again succeeds" "$?" 0
published "client: second run" "$TMP/c2.out"
rm -f "$TMP/pub.cab"

# ---- 3. after all of it ----
n_rows=$(rows | wc -l)
is "3: one update_content row per update" "$n_rows" "$(updates | wc -l)"
ok "3: at least the five successful publishes ($n_rows rows)" test "$n_rows" -ge 5
bad=
while IFS=$'\t' read -r id rev sha1; do
  f=$D/content/${sha1:38:2}/$sha1.cab
  if [ ! -f "$f" ]; then bad+="$id/$rev: $f missing; "
  elif [ "$(sha1sum "$f" | cut -d' ' -f1 | tr a-f A-F)" != "$sha1" ]; then bad+="$id/$rev: $f damaged; "
  fi
done < <(rows)
is "3: every update_content row points to an existing file whose SHA-1 is its name" "$bad" ""
is "3: no content file without its row" "$(content_files | sed 's|.*/||; s|\.cab$||' | sort)" \
  "$(rows | cut -f3 | sort)"
is "3: every update is published" "$(sql "SELECT count(*) FROM updates WHERE state != 'published'")" 0
ok "3: the database passes integrity_check" python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1]); r = c.execute("PRAGMA integrity_check").fetchone()[0]
sys.exit(0 if r == "ok" else print(r) or 1)' "$D/patchpoint.db"
pd_stop A
is "3: graceful stop" "$PD_RC" 0
start
scrubs=$(sed -n 's/.*<!\[LOG\[\(content scrub: [0-9]* files checked, [0-9]* damaged\)\]LOG.*/\1/p' "$MAINLOG")
is "3: the last start-up scrub checked every file, 0 damaged" "$(tail -n1 <<<"$scrubs")" \
  "content scrub: $n_rows files checked, 0 damaged"
unlike "3: no start-up scrub found damage" "$scrubs" ', [1-9][0-9]* damaged'
unlike "3: no damaged-content warning in patchpointd.log" "$(cat "$MAINLOG")" 'is damaged'
pd_stop A
is "3: graceful stop again" "$PD_RC" 0

done_testing
