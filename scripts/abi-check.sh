#!/bin/sh
# abi-check.sh — compares the ABI of the built libdq.so, as its installed
# headers (include/dq) declare it, with the committed baseline abi/libdq.abi
# (libabigail's abidw/abidiff; Debian package abigail-tools).
#
#   abi-check.sh check BUILDDIR SRCDIR   fail on an incompatible change
#   abi-check.sh dump  BUILDDIR SRCDIR   rewrite the baseline (a release
#                                        that adds to the ABI, or a major)
#
# The dump covers every function libdq exports and every type reachable
# from them, which includes the transport plugin ABI (dq_transport_ops,
# dq_transport_plugin, dq_worker_service and the message structs): the
# check below makes sure they stay in it, so a change to them cannot slip
# through unexamined.  Compatible changes (a new function, a new member at
# the end of a size-prefixed table) pass with a note asking for a new
# baseline; anything abidiff calls incompatible fails.  docs/abi.md is the
# policy this enforces.
set -u
mode=${1:-check}
build=${2:?usage: abi-check.sh check|dump BUILDDIR SRCDIR}
src=${3:?usage: abi-check.sh check|dump BUILDDIR SRCDIR}
so="$build/libdq/.libs/libdq.so"
baseline="$src/abi/libdq.abi"

for tool in abidw abidiff; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "abi-check: $tool not found: install abigail-tools" >&2
    exit 2
  }
done
[ -f "$so" ] || { echo "abi-check: $so not built (run make first)" >&2; exit 2; }

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
# No locations and no path: the dump must not depend on where it was built.
abidw --headers-dir "$src/include/dq" --drop-private-types --no-show-locs \
  --no-corpus-path --no-comp-dir-path --out-file "$tmp/libdq.abi" "$so" || {
  echo "abi-check: abidw failed on $so (built without -g?)" >&2
  exit 2
}

# The plugin ABI is reachable only through exported functions' types: if a
# refactoring ever cut that path, the check would stop seeing it.
for t in dq_transport_plugin dq_transport_ops dq_worker_service dq_frame \
  dq_set_plan dq_execute_task dq_task_metrics dq_boundary_metrics \
  dq_worker_info dq_error dq_kv ArrowArray ArrowSchema; do
  grep -q "class-decl name='$t'" "$tmp/libdq.abi" || {
    echo "abi-check: type $t is missing from the ABI dump" >&2
    exit 1
  }
done

if [ "$mode" = dump ]; then
  mkdir -p "$src/abi"
  cp "$tmp/libdq.abi" "$baseline"
  echo "abi-check: wrote $baseline"
  exit 0
fi
[ -f "$baseline" ] || { echo "abi-check: no baseline $baseline" >&2; exit 2; }

# First without additions: any change left (a struct's size or layout, a
# signature, a removal) fails, even where libabigail would only call it a
# "change" — a member appended to a size-prefixed table is compatible by
# docs/abi.md, but only a deliberate new baseline may say so.
abidiff --no-show-locs --no-added-syms "$baseline" "$tmp/libdq.abi" \
  > "$tmp/diff"
rc=$?
# abidiff's status is a bit set: 1 error, 2 usage, 4 ABI changed,
# 8 incompatible change.
if [ $((rc & 3)) -ne 0 ]; then
  cat "$tmp/diff"
  echo "abi-check: abidiff failed (status $rc)" >&2
  exit 2
fi
if [ "$rc" -ne 0 ]; then
  cat "$tmp/diff"
  echo "abi-check: FAIL: the ABI changed against abi/libdq.abi." >&2
  echo "  An incompatible change needs a major version (docs/abi.md)." >&2
  echo "  A compatible one (a member appended to a size-prefixed struct)" \
    "needs a new baseline: make abi-dump, committed with the change." >&2
  exit 1
fi
abidiff --no-show-locs "$baseline" "$tmp/libdq.abi" > "$tmp/diff"
if [ $? -ne 0 ]; then
  cat "$tmp/diff"
  echo "abi-check: compatible additions only; record them with" \
    "'make abi-dump' in the release that ships them"
  exit 0
fi
echo "abi-check: libdq.so matches abi/libdq.abi"
exit 0
