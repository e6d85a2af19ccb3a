#!/bin/sh
# fuzz.sh [SECONDS] — bounded fuzzing: builds the libFuzzer targets of
# tests/fuzz with clang (ASan + UBSan + libFuzzer, everything instrumented)
# in a build directory of their own, runs each for SECONDS (default 30)
# from its committed seed corpus, and fails on any crash, leak, timeout,
# out-of-memory or oracle failure.  Prints the executions each target
# reached.  Needs clang and its fuzzer runtime (Debian: clang,
# libclang-rt-14-dev).
#
#   FUZZ_BUILD_DIR   where to build (default: build-fuzz in the source tree)
#   FUZZ_TARGETS     a subset, e.g. "ipc plan" (default: all six)
#   FUZZ_ALLOW_KNOWN=1  get past findings reported but not fixed yet:
#                    UBSan reports and leaks listed in
#                    tests/fuzz/known-{issues,leaks}.supp are ignored, and
#                    a huge allocation returns NULL (finding F1) instead of
#                    stopping the run.  Default: strict, every report fails.
#
# The build has no gRPC (--without-grpc): no target needs it, and it halves
# the build.
#
# Inputs the fuzzer finds interesting go to $FUZZ_BUILD_DIR/fuzz-corpus/NAME
# (kept between runs, never into the source tree); a failing input is saved
# as $FUZZ_BUILD_DIR/fuzz-artifacts/NAME-crash-* (or -leak-, -timeout-,
# -oom-): replay it with  $FUZZ_BUILD_DIR/tests/fuzz/fuzz_NAME FILE
set -eu
secs=${1:-30}
case $secs in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
targets=${FUZZ_TARGETS:-ipc plan task_plan config worker sql}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] || jobs=2

command -v clang >/dev/null 2>&1 || {
  echo "fuzz.sh: clang is missing: apt-get install clang libclang-rt-14-dev" >&2
  exit 1
}
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' |
     clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
  echo "fuzz.sh: clang cannot link libFuzzer: apt-get install libclang-rt-14-dev" >&2
  exit 1
fi

cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi

# Everything, libdq and the inmem plugin included, carries the fuzzer's
# coverage instrumentation and the sanitizers: a target only sees coverage
# in code built with -fsanitize=fuzzer-no-link.
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
  echo "== configuring $build"
  "$top/configure" CC=clang --enable-fuzzing --without-grpc \
    CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" >configure.log
fi
echo "== building the fuzz targets"
progs=
for t in $targets; do progs="$progs tests/fuzz/fuzz_$t"; done
make -j"$jobs" >make.log 2>&1 || { tail -n 40 make.log; exit 1; }
# shellcheck disable=SC2086
make -j"$jobs" $progs >>make.log 2>&1 || { tail -n 40 make.log; exit 1; }

# halt_on_error: a UBSan report is a failure, not a warning.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
limits="-rss_limit_mb=2048"
if [ "${FUZZ_ALLOW_KNOWN:-0}" = 1 ]; then
  UBSAN_OPTIONS="$UBSAN_OPTIONS:suppressions=$top/tests/fuzz/known-issues.supp"
  LSAN_OPTIONS="suppressions=$top/tests/fuzz/known-leaks.supp"
  export LSAN_OPTIONS
  # F1: a huge claimed body fails fast instead of poisoning gigabytes of
  # shadow memory (which slows fuzz_ipc to a crawl).
  ASAN_OPTIONS="$ASAN_OPTIONS:allocator_may_return_null=1:max_allocation_size_mb=512"
  # Untouched pages of a huge allocation cost no memory: only RSS counts.
  limits="$limits -malloc_limit_mb=1048576"
fi
DQ_PLUGIN_PATH="$build/plugins/inmem"
export UBSAN_OPTIONS ASAN_OPTIONS DQ_PLUGIN_PATH
mkdir -p fuzz-artifacts
status=0
summary=
for t in $targets; do
  seeds="$top/tests/fuzz/corpus/$t"
  regress="$top/tests/fuzz/regress/$t"
  [ -d "$regress" ] || regress=
  work="$build/fuzz-corpus/$t"
  mkdir -p "$work"
  dict=
  [ -f "$top/tests/fuzz/dict/$t.dict" ] && dict="-dict=$top/tests/fuzz/dict/$t.dict"
  log="$build/fuzz-$t.log"
  echo "== fuzz_$t for ${secs} s"
  rc=0
  # -timeout: one input taking 10 s is a hang.  -rss_limit_mb: what a
  # worker on a small host could spare; a larger allocation is a finding.
  # shellcheck disable=SC2086
  "./tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 $limits \
    -print_final_stats=1 -close_fd_mask=1 \
    -artifact_prefix="$build/fuzz-artifacts/$t-" $dict \
    "$work" "$seeds" $regress >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    status=1
    grep -E 'ERROR|SUMMARY|fuzz oracle|Test unit written|runtime error' "$log" |
      head -n 20 >&2 || true
  fi
  summary="$summary$(printf '%-10s %12s %8s  %s' "$t" "${execs:-?}" "${cov:-?}" "$result")
"
done
echo
printf '%-10s %12s %8s  %s\n' TARGET EXECUTIONS COVERAGE RESULT
printf '%s' "$summary"
[ "$status" -eq 0 ] || echo "fuzz.sh: failures; inputs in $build/fuzz-artifacts, logs in $build/fuzz-*.log" >&2
exit "$status"
