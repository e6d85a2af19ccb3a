#!/bin/sh
# run.sh — the README's main-job command: installs missing dependencies,
# builds dq in ./build, and runs a distributed query (TPC-H Q1 on generated
# data) over the in-process transport.  Extra arguments go to 'dq run'.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
cd "$top/build"
# Run from the build tree: plugins come from here, not an installed copy.
DQ_PLUGIN_PATH="$PWD/plugins/inmem${DQ_PLUGIN_PATH:+:$DQ_PLUGIN_PATH}"
export DQ_PLUGIN_PATH
./libtool --mode=execute ./tools/dq run tpch:q1 --scale 1 --workers 4 "$@"
