# bench/lib.sh - what the patchpointd benchmarks (publish.sh, catalog.sh) share. Source it after
# `set -euo pipefail`:
#   bench_binaries "$@"   sets pp and pd (absolute paths) from [BUILD_DIR | PATCHPOINT [PATCHPOINTD]]
#   bench_workdir NAME    makes $work, cd's into it; at exit stops $pd_pid and removes $work
#   bench_daemon DATA     patchpointd init + run --access-log all on 127.0.0.1:0 (any previous
#                         one stopped first); sets pd_pid, exports PATCHPOINT_SERVER and
#                         PATCHPOINT_TOKEN
#   die MESSAGE           one line on stderr, exit 1

bench_binaries() {
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ $# -ge 1 ] && [ -d "$1" ]; then
    pp=$1/patchpoint; pd=$1/patchpointd
  else
    pp=${1:-$repo/build/patchpoint}
    pd=${2:-$(dirname "$pp")/patchpointd}
  fi
  for b in "$pp" "$pd"; do
    [ -x "$b" ] || { echo "bench: $b is not an executable (build it first)" >&2; exit 1; }
  done
  pp=$(cd "$(dirname "$pp")" && pwd)/$(basename "$pp")
  pd=$(cd "$(dirname "$pd")" && pwd)/$(basename "$pd")
}

die() { echo "bench: $*" >&2; exit 1; }

# shellcheck disable=SC2317 # stop and bench_cleanup run from the EXIT trap
stop() { # pid: SIGTERM, then SIGKILL after 10 s; reaps it
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317
bench_cleanup() {
  local rc=$?
  stop "$pd_pid"
  rm -rf "$work"
  exit "$rc"
}

bench_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench-$1.XXXXXX")
  pd_pid=""
  trap bench_cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 141' PIPE
  cd "$work"
  export XDG_CONFIG_HOME=$work/xdg # no cli.conf of the user's
}

# --access-log all: one record per request, whose timestamps give the benchmarks' phases.
bench_daemon() {
  local data=$1 token port
  stop "$pd_pid"; pd_pid=""
  "$pd" init --data-dir "$data" --site-code PP1 > init.out 2> init.err ||
    die "patchpointd init failed: $(cat init.err)"
  token=$(grep -E '^[0-9a-f]{64}$' init.out | head -n1) || true
  [ -n "$token" ] || die "patchpointd init printed no admin token"
  : > pd.out
  "$pd" run --data-dir "$data" --listen 127.0.0.1:0 --workers 2 --access-log all > pd.out 2> pd.err &
  pd_pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's#^patchpointd: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' pd.out)
    [ -n "$port" ] && break
    kill -0 "$pd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || die "patchpointd did not start listening: $(cat pd.err)"
  export PATCHPOINT_SERVER=http://127.0.0.1:$port PATCHPOINT_TOKEN=$token
}
