#!/bin/sh
# valgrind.sh — runs every unit-test program (tests/test_*; the shell-script
# tests are skipped; also plugins/*/test_*) under valgrind memcheck in a build of its own, without
# sanitizers (valgrind and ASan cannot share a process).  Zero errors
# required: invalid reads/writes, uninitialised values, bad frees and
# definite leaks all fail the script.
#
#   VG_BUILD_DIR  where to build (default: build-valgrind in the tree)
#   VG_TESTS      a subset, e.g. "test_ipc test_grpc" (default: all)
#   VG_TIMEOUT    seconds allowed per test program (default 900)
#
# Which programs: every check program named test_* that make check runs
# directly.  Plugins are dlopen'ed by the tests: valgrind must run the real program,
# not a libtool wrapper script, so a wrapper is run through
# `libtool --mode=execute` (which execs the real binary with the build
# tree's library path); programs linked with libdqcore.la are already
# real binaries.  The test environment is the one make check sets
# (AM_TESTS_ENVIRONMENT, read from the Makefile): plugins and fixtures from
# the build tree only.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VG_BUILD_DIR:-$top/build-valgrind}
jobs=$(nproc 2>/dev/null || echo 2)
limit=${VG_TIMEOUT:-900}
start=$(date +%s)

"$top/scripts/install-deps.sh"
command -v valgrind >/dev/null 2>&1 || {
  echo "valgrind.sh: valgrind is missing: apt-get install valgrind" >&2
  exit 1
}
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
  echo "== configuring $build"
  # -O1 -g: stacks valgrind can name, without -O0's slowness.
  "$top/configure" --enable-werror CFLAGS="-g -O1" >configure.log
fi
echo "== building the test programs"
{ make -j"$jobs" && make -j"$jobs" check TESTS=; } >make.log 2>&1 ||
  { tail -n 40 make.log; exit 1; }

# The unit-test programs make check runs directly: check_PROGRAMS named
# test_* that are in TESTS (tests/test_*, plugins/*/test_*).  Programs only
# a shell-script test runs (with its own environment, e.g. test_worker_kill
# under worker-kill.test) are skipped, like the scripts themselves.
printf 'vg-print:\n\t@echo $(check_PROGRAMS)\n\t@echo $(TESTS)\n' |
  make -s -f Makefile -f - vg-print >vg-lists.txt
if [ -n "${VG_TESTS:-}" ]; then
  progs=
  for t in $VG_TESTS; do
    p=$(head -n 1 vg-lists.txt | tr ' ' '\n' | grep -E "(^|/)${t##*/}\$" | head -n 1)
    [ -n "$p" ] || { echo "valgrind.sh: no test program $t" >&2; exit 1; }
    progs="$progs $p"
  done
else
  progs=
  for p in $(head -n 1 vg-lists.txt); do
    case ${p##*/} in test_*) ;; *) continue ;; esac
    if tail -n 1 vg-lists.txt | tr ' ' '\n' | grep -qx "$p"; then
      progs="$progs $p"
    else
      echo "skip: $p (run by a shell-script test only)"
    fi
  done
fi
[ -n "$progs" ] || { echo "valgrind.sh: no test programs found" >&2; exit 1; }

# The environment make check gives every test (AM_TESTS_ENVIRONMENT),
# written out by make itself so its quoting survives.
printf 'vg-env:\n\t@:$(file >vg-env.sh,$(AM_TESTS_ENVIRONMENT))\n' |
  make -s -f Makefile -f - vg-env
# shellcheck disable=SC1091
. ./vg-env.sh
# Not dq's: glibc 2.36 leaks 32 bytes in _dl_close_worker (dl-close.c:343)
# on each dlclose of a module that uses a library which cannot be unloaded
# (grpc.so and libgrpc).
# Nor is the dependency list glibc's dlopen allocates for a module that is
# never unloaded (dl-deps.c, inside _dl_map_object_deps): transports are
# resident (<dq/transport.h>), and valgrind reports that list as lost at
# exit though the loader keeps the module; seen as 736 bytes in test_grpc
# and test_resident, wholly inside dlopen.
cat >vg.supp <<'SUPP'
{
   glibc-dl_close_worker-leak
   Memcheck:Leak
   match-leak-kinds: definite
   ...
   fun:_dl_close_worker
   ...
}
{
   glibc-dl_map_object_deps-resident-module
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   ...
   fun:_dl_map_object_deps
   fun:dl_open_worker_begin
   ...
   fun:dlopen*
}
SUPP
# plugins/shm/test_shm_uid forks while the worker's connection thread may
# still hold the buffers of the request it just answered; the child never
# has that thread, so valgrind calls them lost there and the child exits 99.
# Only for that program, only that thread's allocations (reported to the
# lead: the test should fork when the worker is idle, or exec).
cat >vg-fork.supp <<'SUPP'
{
   shm-test-fork-child-inherits-conn-thread-buffers
   Memcheck:Leak
   match-leak-kinds: definite
   ...
   fun:conn_main
   ...
}
SUPP
mkdir -p valgrind-logs
status=0
for p in $progs; do
  name=$(echo "$p" | tr / _)
  log="valgrind-logs/$name.log"
  # A libtool wrapper is a shell script; a real program is ELF.
  if head -c 4 "$p" | grep -q ELF; then
    run=
  else
    run="./libtool --mode=execute"
  fi
  extra=
  [ "$name" = plugins_shm_test_shm_uid ] && extra=--suppressions=vg-fork.supp
  t0=$(date +%s)
  rc=0
  # --error-exitcode: any error, or a definite leak (errors-for-leak-kinds),
  # makes the program exit 99.  Possible/reachable leaks are reported in the
  # log only: threads and dlopen'ed plugins legitimately hold such memory.
  # --child-silent-after-fork: a test that forks a multi-threaded process
  # (plugins/shm/test_shm_uid) leaves the child the memory other threads
  # held at the fork; the child only _exits, and checking it is noise.
  # shellcheck disable=SC2086
  timeout "$limit" $run valgrind --quiet --error-exitcode=99 \
    --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=30 \
    --child-silent-after-fork=yes --suppressions=vg.supp $extra \
    --log-file="$log" "./$p" >"valgrind-logs/$name.out" 2>&1 || rc=$?
  secs=$(( $(date +%s) - t0 ))
  case $rc in
    0) echo "PASS: $name (${secs} s)" ;;
    99) echo "FAIL: $name: valgrind errors (${secs} s)"; status=1
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|.*definitely lost|Syscall param|Source and dest)' \
          "$log" | head -n 10 ;;
    124) echo "FAIL: $name: over ${limit} s under valgrind"; status=1 ;;
    *) echo "FAIL: $name: the test failed under valgrind (exit $rc, ${secs} s)"
       status=1; tail -n 15 "valgrind-logs/$name.out" ;;
  esac
done
echo "valgrind.sh: $( [ "$status" -eq 0 ] && echo 'no errors' || echo FAILED ) in $(( $(date +%s) - start )) s; logs in $build/valgrind-logs"
exit "$status"
