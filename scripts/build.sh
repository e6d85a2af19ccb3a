#!/bin/sh
# build.sh — configures and builds dq in ./build (out of tree), after
# installing missing dependencies.  Extra arguments go to configure.
# Re-running it reuses the existing build directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p build
cd build
if [ ! -f Makefile ] || [ "$#" -gt 0 ]; then
  ../configure --enable-werror "$@"
fi
make -j"$(nproc)"
