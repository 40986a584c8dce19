# tests/lib.sh - TAP helpers for the interop and e2e scripts. Source it, call the checks, end
# with `done_testing`. Every check prints one "ok N - name" or "not ok N - name" line.
set -u
: "${PATCHPOINT:?PATCHPOINT must point at the patchpoint binary}"
: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${SHARED:=$SRCDIR/../shared}"
_tap_n=0
_tap_failed=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pp-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

pp() { "$PATCHPOINT" "$@"; }

_tap_result() { # status name [diagnostic]
  _tap_n=$((_tap_n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $_tap_n - $2"
  else
    echo "not ok $_tap_n - $2"
    _tap_failed=$((_tap_failed + 1))
    [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
  fi
  return 0
}

# ok NAME CMD...: passes when CMD exits 0.
ok() { local name=$1; shift; local out; out=$("$@" 2>&1); _tap_result $? "$name" "$out"; }

# fails NAME CMD...: passes when CMD exits non-zero.
fails() { local name=$1; shift; local out; out=$("$@" 2>&1); if [ $? -ne 0 ]; then _tap_result 0 "$name"; else _tap_result 1 "$name" "$out"; fi; }

# exits NAME CODE CMD...: passes when CMD exits with CODE.
exits() { local name=$1 want=$2; shift 2; local out rc; out=$("$@" 2>&1); rc=$?; if [ "$rc" -eq "$want" ]; then _tap_result 0 "$name"; else _tap_result 1 "$name" "exit $rc, wanted $want: $out"; fi; }

# is NAME GOT WANT: passes when the strings are equal.
is() { if [ "$2" == "$3" ]; then _tap_result 0 "$1"; else _tap_result 1 "$1" "got:  $2
want: $3"; fi; }

# like NAME GOT REGEX: passes when GOT matches the extended regex.
like() { if printf '%s' "$2" | grep -qE -- "$3"; then _tap_result 0 "$1"; else _tap_result 1 "$1" "got:  $2
want match: $3"; fi; }

# unlike NAME GOT REGEX
unlike() { if printf '%s' "$2" | grep -qE -- "$3"; then _tap_result 1 "$1" "got:  $2
must not match: $3"; else _tap_result 0 "$1"; fi; }

skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP ${2:-}"; }

done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

# Fingerprint of a file's directory tree (names, sizes, digests), to prove nothing changed.
tree_digest() { (cd "$1" 2>/dev/null && find . -type f -print0 | sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1; }
