# tests/daemon_lib.sh - start and stop real patchpointd processes on 127.0.0.1 for the e2e
# scripts. Source it after tests/lib.sh.
#
#   pd_init DIR [ARGS...]         patchpointd init; sets PD_TOKEN (the admin token it printed)
#   pd_start NAME DIR [ARGS...]   patchpointd run on an ephemeral port; sets PD_PID_<NAME>,
#                                 PD_PORT_<NAME>, PD_TLS_PORT_<NAME> and PD_URL_<NAME>
#                                 (http://127.0.0.1:PORT, or https:// when only TLS listens);
#                                 output in $TMP/NAME.out and $TMP/NAME.err
#   pd_stop NAME                  SIGTERM, waits at most 10 s; sets PD_RC (124 when it hung)
#   pd_kill NAME                  SIGKILL (and its signer child) without waiting for cleanup
#   pd_req ARGS...                curl printing "<body>\n<status>"
: "${PATCHPOINTD:?PATCHPOINTD must point at the patchpointd binary}"
command -v curl >/dev/null || { echo "1..0 # SKIP curl missing (scripts/install-deps.sh)"; exit 0; }

pd_req() { curl -s --max-time 20 -w '\n%{http_code}' "$@"; }

pd_init() { # DIR [ARGS...]
  local dir=$1
  shift
  "$PATCHPOINTD" init --data-dir "$dir" "$@" >"$TMP/init.$$.out" 2>"$TMP/init.$$.err" || {
    cat "$TMP/init.$$.err" >&2
    return 1
  }
  PD_TOKEN=$(grep -E '^[0-9a-f]{64}$' "$TMP/init.$$.out")
}

pd_start() { # NAME DIR [ARGS...]
  local name=$1 dir=$2 i pid port tls_port listen=(--listen 127.0.0.1:0)
  shift 2
  case " $* " in *" --listen "*) listen=() ;; esac
  rm -f "$TMP/$name.out"
  "$PATCHPOINTD" run --data-dir "$dir" "${listen[@]}" --workers 2 "$@" >"$TMP/$name.out" \
    2>>"$TMP/$name.err" &
  pid=$!
  for i in $(seq 300); do
    grep -q '^patchpointd: listening on' "$TMP/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  sleep 0.1 # the https line follows the http one
  port=$(sed -n 's|^patchpointd: listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$TMP/$name.out")
  tls_port=$(sed -n 's|^patchpointd: listening on https://127\.0\.0\.1:\([0-9]*\)$|\1|p' \
    "$TMP/$name.out")
  printf -v "PD_PID_$name" '%s' "$pid"
  printf -v "PD_PORT_$name" '%s' "$port"
  printf -v "PD_TLS_PORT_$name" '%s' "$tls_port"
  if [ -n "$port" ]; then
    printf -v "PD_URL_$name" 'http://127.0.0.1:%s' "$port"
  else
    printf -v "PD_URL_$name" 'https://127.0.0.1:%s' "$tls_port"
  fi
  [ -n "$port$tls_port" ]
}

pd_stop() { # NAME
  local var="PD_PID_$1" i pid
  pid=${!var:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid"; PD_RC=124; else
    wait "$pid"; PD_RC=$?; fi
  printf -v "PD_PID_$1" '%s' ""
}

pd_kill() { # NAME
  local var="PD_PID_$1" pid child
  pid=${!var:-}
  [ -n "$pid" ] || return 0
  child=$(pgrep -P "$pid" || true)
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # The signer dies with its parent (PR_SET_PDEATHSIG); wait until it has.
  for i in $(seq 100); do [ -z "$child" ] || ! kill -0 "$child" 2>/dev/null && break; sleep 0.05; done
  printf -v "PD_PID_$1" '%s' ""
}

# Stops every daemon this script started when it exits (before lib.sh removes $TMP).
pd_cleanup() {
  local v
  for v in ${!PD_PID_*}; do [ -n "${!v}" ] && kill -KILL "${!v}" 2>/dev/null; done
  rm -rf "$TMP"
}
trap pd_cleanup EXIT

# jget PATH: a value of the JSON document on stdin, PATH a dotted list of keys and indexes
# ("items.0.name"); strings print as text, the rest as JSON.
jget() {
  python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(json.dumps(d) if isinstance(d, (dict, list, bool)) or d is None else d)' "$1"
}

# jfield NAME [JSON]: the first "NAME": value of JSON (default: stdin): a string's text, or a
# number, true, false, null; read with bash alone (python starts slowly on a loaded machine).
jfield() {
  local j
  if [ $# -ge 2 ]; then j=$2; else IFS= read -r -d '' j; fi
  [[ $j =~ \"$1\":(\"(([^\"\\]|\\.)*)\"|[-0-9.]+|true|false|null) ]] || return 1
  if [ -n "${BASH_REMATCH[2]}" ] || [ "${BASH_REMATCH[1]}" == '""' ]; then
    echo "${BASH_REMATCH[2]}"
  else
    echo "${BASH_REMATCH[1]}"
  fi
}

# pd_wait_sync URL TOKEN ID: waits (at most 60 s) until the sync is no longer running and prints
# its state.
pd_wait_sync() {
  local i b
  for i in $(seq 600); do
    b=$(curl -s --max-time 20 -H "Authorization: Bearer $2" "$1/api/v1/syncs/$3")
    [[ $b == *'"state":"running"'* ]] || break
    sleep 0.1
  done
  jfield state "$b"
}
