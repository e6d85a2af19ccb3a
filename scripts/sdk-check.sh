#!/bin/sh
# sdk-check.sh — proves the installed package is a complete transport SDK:
# configures dq with a throw-away prefix, installs it, and runs
# `make installcheck`, which builds examples/transport-tcp against the
# installed headers, libdq and libdq.pc with pkg-config only, then runs the
# integration suite and the installed dq-transport-check over it.
#
#   scripts/sdk-check.sh [configure options...]
#
# Builds in $SDK_CHECK_BUILD (default ./build-sdk-check; removed first,
# kept afterwards for inspection) and installs under its prefix/.  JOBS sets
# make's -j (default 2).  Exit status 0 only if everything passed.  CI calls
# it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SDK_CHECK_BUILD:-"$top/build-sdk-check"}
prefix="$build/prefix"
jobs=${JOBS:-2}

if [ ! -x "$top/configure" ]; then
  (cd "$top" && autoreconf -fi)
fi
rm -rf "$build"
mkdir -p "$build"
cd "$build"
start=$(date +%s)
echo "sdk-check: configure --prefix=$prefix $*"
"$top/configure" --prefix="$prefix" --enable-werror "$@" >configure.log 2>&1 ||
  { cat configure.log; echo "sdk-check: configure failed"; exit 1; }
echo "sdk-check: make install"
make -j"$jobs" install >install.log 2>&1 ||
  { tail -50 install.log; echo "sdk-check: make install failed"; exit 1; }
echo "sdk-check: make installcheck"
status=0
make -j"$jobs" installcheck >installcheck.log 2>&1 || status=$?
grep -E '^(PASS|FAIL) |checks:|^\[  (PASSED|FAILED)' installcheck.log || true
end=$(date +%s)
if [ "$status" -ne 0 ]; then
  tail -50 installcheck.log
  echo "sdk-check: FAILED after $((end - start)) s (logs in $build)"
  exit 1
fi
echo "sdk-check: passed in $((end - start)) s (logs in $build)"
