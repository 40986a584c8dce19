#!/usr/bin/env bash
# End to end: patchpointd init and run on 127.0.0.1 with an ephemeral port, driven by curl: the
# admin token, bearer-token routes, the signer child, the CMTrace log, graceful stop, restart.
. "$(dirname "$0")/../lib.sh"
: "${PATCHPOINTD:?PATCHPOINTD must point at the patchpointd binary}"
cd "$TMP"
command -v curl >/dev/null || { echo "1..0 # SKIP curl missing (scripts/install-deps.sh)"; exit 0; }
D=$TMP/data
C=(curl -s --max-time 10)
req() { "${C[@]}" -w '\n%{http_code}' "$@"; } # "<body>\n<status>"

# ---- usage ----
like "patchpointd --help is a man page" "$("$PATCHPOINTD" --help)" '^NAME'
like "init --help" "$("$PATCHPOINTD" init --help)" 'SYNOPSIS'
like "run --help" "$("$PATCHPOINTD" run --help)" 'SIGTERM'
exits "no command is a usage error" 2 "$PATCHPOINTD"
exits "unknown option is a usage error" 2 "$PATCHPOINTD" run --data-dir "$D" --bogus x
exits "run without an initialised dir fails" 1 "$PATCHPOINTD" run --data-dir "$TMP/none" \
  --listen 127.0.0.1:0

# ---- init ----
mkdir notempty && touch notempty/file
exits "init refuses a non-empty foreign directory" 1 "$PATCHPOINTD" init --data-dir notempty
"$PATCHPOINTD" init --data-dir "$D" >init.out 2>init.err
is "init exits 0" "$?" 0
TOKEN=$(grep -E '^[0-9a-f]{64}$' init.out)
like "init prints a 64-hex-digit admin token" "$TOKEN" '^[0-9a-f]{64}$'
like "init names the site" "$(cat init.out)" 'PP1'
is "data dir is 0700" "$(stat -c %a "$D")" 700
is "keys dir is 0700" "$(stat -c %a "$D/keys")" 700
ok "database created" test -s "$D/patchpoint.db"
ok "logs dir created" test -d "$D/logs"
before=$(tree_digest "$D")
exits "re-init refused" 1 "$PATCHPOINTD" init --data-dir "$D"
is "re-init changed nothing" "$(tree_digest "$D")" "$before"
unlike "the token is not in the database file" "$(grep -c "$TOKEN" "$D/patchpoint.db")" '^[1-9]'

# ---- run ----
PID=
start() { # start NAME [ARGS...]: starts the daemon, sets PID, PORT and H
  local name=$1
  shift
  rm -f "$name.out"
  "$PATCHPOINTD" run --data-dir "$D" --listen 127.0.0.1:0 --workers 2 "$@" >"$name.out" \
    2>>"$name.err" &
  PID=$!
  local i
  for i in $(seq 200); do
    grep -q '^patchpointd: listening on' "$name.out" 2>/dev/null && break
    sleep 0.05
  done
  sleep 0.1 # the https line follows the http one
  PORT=$(sed -n 's|^patchpointd: listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$name.out")
  TLS_PORT=$(sed -n 's|^patchpointd: listening on https://127\.0\.0\.1:\([0-9]*\)$|\1|p' \
    "$name.out")
  H=http://127.0.0.1:$PORT
}
# stop: SIGTERM, then waits at most 10 s; sets RC (124 when it did not stop)
stop() {
  local i
  kill -TERM "$PID" 2>/dev/null
  for i in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; wait "$PID"; RC=124; else
    wait "$PID"; RC=$?; fi
}

start first
like "run prints the listening line" "$(cat first.out)" \
  '^patchpointd: listening on http://127\.0\.0\.1:[1-9][0-9]*$'
st=$(req $H/api/v1/status)
like "status is public and 200" "$st" '200$'
like "status names the roles" "$st" '"roles":\["site","sup","mp"\]'
like "status names the site" "$st" '"site_code":"PP1"'
unlike "status carries no secret" "$st" "$TOKEN"
is "sites without a token: 401" "$(req $H/api/v1/sites | tail -n1)" 401
like "401 is a JSON error" "$(req $H/api/v1/sites)" '^\{"error":\{"code":"unauthorized","message":'
is "sites with a wrong token: 401" \
  "$(req -H "Authorization: Bearer 0${TOKEN:1}x" $H/api/v1/sites | tail -n1)" 401
AUTH=(-H "Authorization: Bearer $TOKEN")
sites=$(req "${AUTH[@]}" $H/api/v1/sites)
like "sites with the token: 200" "$sites" '200$'
like "sites lists PP1 as the top-level site" "$sites" '"code":"PP1".*"parent_code":null'
site=$(req "${AUTH[@]}" $H/api/v1/sites/PP1)
like "site PP1: 200 with its local sync-source SUP" "$site" \
  '"url":"http://localhost:8530/","location":"local","sync_source":true'
like "sups lists the local SUP" "$(req "${AUTH[@]}" $H/api/v1/sups)" \
  '"site_code":"PP1","url":"http://localhost:8530/","location":"local","sync_source":true'
is "unknown site: 404 JSON" "$(req "${AUTH[@]}" $H/api/v1/sites/ZZ9 | tail -n1)" 404
like "unknown site error body" "$(req "${AUTH[@]}" $H/api/v1/sites/ZZ9)" \
  '^\{"error":\{"code":"not_found","message":"[^"]+"\}\}'
is "sups without a token: 401" "$(req $H/api/v1/sups | tail -n1)" 401
is "unknown route: 404" "$(req $H/api/v1/nothing | tail -n1)" 404

SIGNER=$(pgrep -P "$PID")
like "the signer child runs as a separate process" "$SIGNER" '^[0-9]+$'
ok "the signer child is alive" kill -0 "${SIGNER:-999999999}"
unlike "the daemon has no key file open" "$(ls -l /proc/$PID/fd 2>&1)" "$D/keys"
like "the daemon does have its log open (the fd check sees files)" "$(ls -l /proc/$PID/fd 2>&1)" \
  'patchpointd\.log'
ok "SIGHUP keeps it running" bash -c "kill -HUP $PID && sleep 0.3 && kill -0 $PID"
is "still serving after SIGHUP" "$(req $H/api/v1/status | tail -n1)" 200

stop
is "SIGTERM: exit 0 within 10 s" "$RC" 0
fails "the signer child is gone" kill -0 "${SIGNER:-999999999}"
LOG=$D/logs/patchpointd.log
ok "log file written" test -s "$LOG"
fails "the token never appears in the log" grep -q "$TOKEN" "$LOG"
bad=$(tr -d '\r' <"$LOG" | grep -cvE '^<!\[LOG\[.*\]LOG\]!><time="[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{3}" date="[0-9]{2}-[0-9]{2}-[0-9]{4}" component="patchpointd" context="" type="1" thread="[0-9]+" file="">$')
is "every log line is a CMTrace record of component patchpointd" "$bad" 0
like "requests are logged" "$(cat "$LOG")" 'GET /api/v1/sites 401'

# The second run adds HTTPS with a throwaway self-signed certificate for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem -subj "/CN=127.0.0.1" \
  -days 2 -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
start second --listen-tls 127.0.0.1:0 --tls-cert tls.pem --tls-key tls.key
like "a second run on the same data dir starts" "$(cat second.out)" \
  '^patchpointd: listening on http://127\.0\.0\.1:[1-9][0-9]*$'
like "and serves with the same token" "$(req "${AUTH[@]}" $H/api/v1/sites/PP1)" '200$'
like "it prints the https listening line" "${TLS_PORT:-}" '^[1-9][0-9]*$'
like "status over HTTPS" "$(req --cacert tls.pem https://127.0.0.1:${TLS_PORT:-1}/api/v1/status)" \
  '"site_code":"PP1"'
SIGNER=$(pgrep -P "$PID")
stop
is "second run stops with 0" "$RC" 0
fails "its signer child is gone too" kill -0 "${SIGNER:-999999999}"

# ---- --config: an INI file (docs/patchpointd.conf.sample), flags over it ----
SAMPLE=$SRCDIR/docs/patchpointd.conf.sample
like "run --help names --config" "$("$PATCHPOINTD" run --help)" '--config FILE'
like "init --help names --config" "$("$PATCHPOINTD" init --help)" '--config FILE'
printf '; a test config\n[server]\ndata_dir = %s\nlisten = 127.0.0.1:0\nroles = sup\nworkers = 1\n' \
  "$D" >good.conf
start_conf() { # start_conf NAME ARGS...: like start, with only the given arguments
  local name=$1 i
  shift
  rm -f "$name.out"
  "$PATCHPOINTD" run "$@" >"$name.out" 2>>"$name.err" &
  PID=$!
  for i in $(seq 200); do
    grep -q '^patchpointd: listening on' "$name.out" 2>/dev/null && break
    sleep 0.05
  done
  PORT=$(sed -n 's|^patchpointd: listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$name.out")
  H=http://127.0.0.1:$PORT
}
start_conf conf1 --config good.conf
like "a config file's listen and data_dir start the daemon" "$(cat conf1.out)" \
  '^patchpointd: listening on http://127\.0\.0\.1:[1-9][0-9]*$'
st=$(req $H/api/v1/status)
like "it serves the data dir of the file" "$st" '"site_code":"PP1"'
like "it takes roles from the file" "$st" '"roles":\["sup"\]'
stop
is "config run stops with 0" "$RC" 0
start_conf conf2 --config good.conf --roles site,mp
like "a flag overrides the file" "$(req $H/api/v1/status)" '"roles":\["site","mp"\]'
stop
is "override run stops with 0" "$RC" 0

# A bad file stops everything before the signer, the log or a listener: exit 2, file:line key.
bad_conf() { # bad_conf NAME FILE REGEX
  local out rc size
  size=$(stat -c %s "$LOG")
  out=$(timeout 10 "$PATCHPOINTD" run --config "$2" 2>&1)
  rc=$?
  is "$1: exit 2" "$rc" 2
  like "$1: names file, line and key" "$out" "$3"
  unlike "$1: nothing listening" "$out" 'listening'
  is "$1: nothing started (the log did not grow)" "$(stat -c %s "$LOG")" "$size"
}
printf '[server]\ndata_dir = %s\nlisten = 127.0.0.1:0\nlisten_tsl = 127.0.0.1:0\n' "$D" >unknown.conf
bad_conf "unknown key" unknown.conf '^patchpointd: unknown\.conf:4: \[server\] listen_tsl: unknown key$'
printf '[server]\ndata_dir = %s\n[sever]\nlisten = 127.0.0.1:0\n' "$D" >section.conf
bad_conf "unknown section" section.conf '^patchpointd: section\.conf:4: unknown section \[sever\]$'
printf '[server]\ndata_dir = %s\nlisten = 127.0.0.1:0\n\nworkers = 0\n' "$D" >workers.conf
bad_conf "workers = 0" workers.conf '^patchpointd: workers\.conf:5: \[server\] workers: .*1 to 64'
printf '[server]\ndata_dir = %s\nlisten = nonsense\n' "$D" >listen.conf
bad_conf "listen = nonsense" listen.conf '^patchpointd: listen\.conf:3: \[server\] listen: .*nonsense'
printf '[server]\ndata_dir = %s\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:0\n' "$D" >twice.conf
bad_conf "a key given twice" twice.conf '^patchpointd: twice\.conf:4: \[server\] listen: already set on line 3$'
printf '[server]\ndata_dir = %s\nlisten 127.0.0.1:0\n' "$D" >syntax.conf
bad_conf "a line that is not key = value" syntax.conf '^patchpointd: syntax\.conf:3: '
exits "a missing config file is a usage error" 2 "$PATCHPOINTD" run --config "$TMP/none.conf"
exits "a bad flag value is a usage error too" 2 "$PATCHPOINTD" run --config good.conf --workers 65

# The sample: it passes the check, and names every option the parser knows, each with a value
# that passes the check too once uncommented.
check=$("$PATCHPOINTD" run --config "$SAMPLE" --check-config 2>&1)
is "the sample passes --check-config" "$?" 0
like "--check-config prints the effective settings" "$check" '^\[server\]'
like "--check-config fills in the defaults" "$check" 'listen = 127\.0\.0\.1:8530'
missing=
for key in $(printf '%s\n' "$check" | sed -n 's/^\([a-z_]*\) =.*/\1/p'); do
  grep -qE "^;?$key = " "$SAMPLE" || missing="$missing $key"
done
is "the sample names every option the parser knows" "$missing" ""
is "--check-config knows 15 options" "$(printf '%s\n' "$check" | grep -c ' =')" 15
sed -E 's/^;([a-z_]+ = )/\1/' "$SAMPLE" >all.conf
all=$("$PATCHPOINTD" run --config all.conf --check-config 2>&1)
is "the sample with every option uncommented passes too" "$?" 0
like "and its values are the ones printed" "$all" 'listen_tls = 0\.0\.0\.0:8531'

# init reads data_dir and [site] from the file; flags override it.
printf '[server]\ndata_dir = %s\n[site]\ncode = PP7\nname = From the file\n' "$TMP/d2" >init.conf
like "init --config takes data_dir and [site]" "$("$PATCHPOINTD" init --config init.conf)" \
  'Site: +PP7 \(From the file\)'
like "init: a flag overrides the file" \
  "$("$PATCHPOINTD" init --config init.conf --data-dir "$TMP/d3" --site-code PP8)" \
  'Site: +PP8 \(From the file\)'
printf '[site]\ncode = pp1\n' >badsite.conf
exits "init: a bad site code in the file is a usage error" 2 "$PATCHPOINTD" init \
  --config badsite.conf --data-dir "$TMP/d4"
fails "and nothing was created" test -e "$TMP/d4"

done_testing
