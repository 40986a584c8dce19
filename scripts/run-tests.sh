#!/usr/bin/env bash
# Runs every test registered in Meson (unit, interop, e2e), each speaking TAP, and closes with
# one line "N passed, N failed" (", N skipped" when any) counted over individual test cases.
set -uo pipefail
build=${1:-build}
log="$build/meson-logs/testlog.txt"

meson test -C "$build" --print-errorlogs --num-processes 2 "${@:2}"
rc=$?

passed=0 failed=0 skipped=0
if [ -f "$log" ]; then
  # TAP lines of every test's stdout as Meson recorded them.
  passed=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ' || true)
  skipped=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$log" || true)
  failed=$(grep -cE '^not ok [0-9]+' "$log" || true)
  passed=$((passed - skipped))
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A test binary crashed or a script died before printing its TAP lines.
  failed=1
fi
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
