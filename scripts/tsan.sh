#!/bin/sh
# tsan.sh — the runtime, transport and soak tests under ThreadSanitizer:
# configures a build of its own with --enable-tsan (and -Werror), builds,
# and runs those tests.  Any race report fails the test that produced it
# (TSan exits 66), so the script fails.
#
# Without gRPC: Debian's libgrpc is not built with TSan, so the hand-offs
# gRPC synchronizes inside itself (a buffer passed through a completion
# queue, freed on another thread) look like races to TSan, by the hundred,
# none of them dq's.  What TSan checks here is dq's own code: libdq's
# worker, coordinator, boundary readers and buffer cache on inmem, and the
# shm transport's rings (the Dekker handshake between the two sides) and
# connection threads, in one process and across worker processes.
#
#   TSAN_BUILD_DIR  where to build (default: build-tsan in the tree)
#   DQ_SOAK_QUERIES queries per soak run (default here: 200)
#   Extra arguments go to configure (e.g. CC=clang).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${TSAN_BUILD_DIR:-$top/build-tsan}
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$#" -gt 0 ]; then
  echo "== configuring $build with --enable-tsan --without-grpc"
  "$top/configure" --enable-tsan --without-grpc --enable-werror "$@" \
    >configure.log
fi
echo "== building"
make -j"$jobs" >make.log 2>&1 || { tail -n 40 make.log; exit 1; }

TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1}
DQ_SOAK_QUERIES=${DQ_SOAK_QUERIES:-200}
DQ_SOAK_RUNS="inmem shm:process"
export TSAN_OPTIONS DQ_SOAK_QUERIES DQ_SOAK_RUNS

tests="tests/test_runtime tests/test_join_dist tests/test_planner
  tests/test_bad_input tests/worker-kill.test tests/soak.test
  plugins/shm/test_shm_ring"
echo "== make check under ThreadSanitizer:" $tests
status=0
make -j"$jobs" check TESTS="$(echo $tests)" >check.log 2>&1 || status=$?
if [ -f test-suite.log ]; then
  sed -n '/^# TOTAL/,/^# ERROR/p' test-suite.log
  if [ "$status" -ne 0 ]; then
    cat test-suite.log
    find . -name '*.log' ! -name config.log ! -name configure.log \
      ! -name make.log ! -name check.log ! -name test-suite.log |
      xargs grep -l 'WARNING: ThreadSanitizer' 2>/dev/null | while read -r f; do
      echo "--- $f"
      grep 'SUMMARY: ThreadSanitizer' "$f" | sort | uniq -c | head -n 5
    done
  fi
else
  tail -n 40 check.log
fi
echo "tsan.sh: $( [ "$status" -eq 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s"
exit "$status"
