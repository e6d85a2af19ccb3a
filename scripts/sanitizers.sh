#!/bin/sh
# sanitizers.sh — the whole test suite (make check) under AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer: configures a build of its
# own with --enable-sanitizers (and -Werror), builds, runs make check.  Any
# sanitizer report fails the test that produced it, so the script fails.
#
#   SAN_BUILD_DIR   where to build (default: build-sanitizers in the tree)
#   Extra arguments go to configure (e.g. CC=clang, --without-grpc).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SAN_BUILD_DIR:-$top/build-sanitizers}
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$#" -gt 0 ]; then
  echo "== configuring $build with --enable-sanitizers"
  "$top/configure" --enable-sanitizers --enable-werror "$@" >configure.log
fi
echo "== building"
make -j"$jobs" >make.log 2>&1 || { tail -n 40 make.log; exit 1; }

# Reports must fail the test, with a stack to act on: UBSan stops at the
# first report (the build already has -fno-sanitize-recover=undefined;
# halt_on_error covers a compiler that ignores it), ASan checks leaks at
# exit, and both print to stderr, which the test's .log keeps.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

echo "== make check under ASan + UBSan"
status=0
make -j"$jobs" check >check.log 2>&1 || status=$?
if [ -f test-suite.log ]; then
  sed -n '/^# TOTAL/,/^# ERROR/p' test-suite.log
  if [ "$status" -ne 0 ]; then
    cat test-suite.log
    # A sanitizer's one-line summary per failing test, for a quick read.
    find . -name '*.log' ! -name config.log ! -name configure.log \
      ! -name make.log ! -name check.log ! -name test-suite.log |
      xargs grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error' \
      2>/dev/null | while read -r f; do
      echo "--- $f"
      grep -E 'SUMMARY|runtime error' "$f" | head -n 5
    done
  fi
else
  tail -n 40 check.log
fi
echo "sanitizers.sh: make check $( [ "$status" -eq 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s"
exit "$status"
