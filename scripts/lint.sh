#!/usr/bin/env bash
# Static checks as TAP: clang-format (the .clang-format of the repo), cppcheck, clang-tidy
# (.clang-tidy) on src/. BUILD is a configured Meson build dir (for compile_commands.json).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
cd "$top"
n=0 failed=0
check() { # name cmd...
  local name=$1 out
  shift
  n=$((n + 1))
  if out=$("$@" 2>&1); then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    printf '%s\n' "$out" | head -n 40 | sed 's/^/# /'
    failed=$((failed + 1))
  fi
}
sources=$(ls src/lib/*.c src/lib/*.h src/cli/*.c src/cli/*.h src/server/*.c src/server/*.h src/agent/*.c src/agent/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c 2>/dev/null)
check "clang-format" clang-format --dry-run -Werror $sources
check "cppcheck" cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
  --std=c11 -D_GNU_SOURCE --inline-suppr -Isrc/lib src/
check "clang-tidy" clang-tidy -p "$build" --quiet src/lib/*.c src/cli/*.c $(ls src/server/*.c src/agent/*.c 2>/dev/null)
echo "1..$n"
[ "$failed" -eq 0 ]
