#!/bin/sh
# test.sh — the README's test command: installs missing dependencies,
# builds dq in ./build with -Werror, and runs the whole test suite
# (make check: unit tests, loader fixtures, integration suite over every
# transport that was built).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh" "$@"
cd "$top/build"
status=0
make -j"$(nproc)" check || status=$?
if [ -f test-suite.log ]; then
  # The closing line, in the plain form every reader understands.
  pass=$(sed -n 's/^# PASS: *//p' test-suite.log | head -n 1)
  fail=$(sed -n 's/^# FAIL: *//p' test-suite.log | head -n 1)
  err=$(sed -n 's/^# ERROR: *//p' test-suite.log | head -n 1)
  skip=$(sed -n 's/^# SKIP: *//p' test-suite.log | head -n 1)
  [ "$status" -ne 0 ] && cat test-suite.log
  echo "tests: ${pass:-0} passed, $(( ${fail:-0} + ${err:-0} )) failed, ${skip:-0} skipped"
fi
exit "$status"
