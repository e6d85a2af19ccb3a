# procs_lib.sh — shell helpers for the worker-process tests (sourced, not
# run): the grpc prerequisite, starting a `dq worker` in the background and
# reading its listening line, and stopping it with a check of its exit.
: "${abs_top_builddir:?run through make check}"
dq="$abs_top_builddir/tools/dq"
# Tests find plugins in the build tree only; each lives in its own folder.
DQ_PLUGIN_PATH="$abs_top_builddir/plugins/grpc:$abs_top_builddir/plugins/shm${DQ_PLUGIN_PATH:+:$DQ_PLUGIN_PATH}"
export DQ_PLUGIN_PATH

# built NAME: whether transport plugin NAME was built in this tree.
built() {
  [ -e "$abs_top_builddir/plugins/$1/$1.la" ] ||
    [ -e "$abs_top_builddir/plugins/$1/.libs/$1.so" ]
}

# Exits 77 unless grpc.so was built (configure --without-grpc, or no gRPC).
need_grpc() {
  if ! built grpc; then
    echo "SKIP: grpc.so is not built (configured without gRPC)"
    exit 77
  fi
}

# Helpers use variables starting with _ only, so callers' loops survive.

# start_worker NAME [CMD-PREFIX...] -- [dq worker ARGS...]: starts
# `dq worker` (after the prefix, e.g. `ip netns exec NS`) in the
# background with stdout in $tmp/NAME.out and stderr in $tmp/NAME.err; sets
# $worker_pid and $worker_url once it is listening, or returns 1.
start_worker() {
  _name=$1
  shift
  _prefix=
  while [ $# -gt 0 ] && [ "$1" != -- ]; do _prefix="$_prefix $1"; shift; done
  [ $# -gt 0 ] && shift
  # shellcheck disable=SC2086 # the prefix is words on purpose
  $_prefix "$dq" worker "$@" >"$tmp/$_name.out" 2>"$tmp/$_name.err" &
  worker_pid=$!
  worker_url=
  _n=0
  while [ $_n -lt 200 ]; do
    _line=$(head -n 1 "$tmp/$_name.out" 2>/dev/null)
    case $_line in
      "listening on "*) worker_url=${_line#listening on }; return 0 ;;
    esac
    kill -0 "$worker_pid" 2>/dev/null || break
    sleep 0.1
    _n=$((_n + 1))
  done
  echo "FAIL: worker $_name did not start listening:"
  cat "$tmp/$_name.out" "$tmp/$_name.err"
  return 1
}

# stop_worker PID NAME: SIGTERM, then the worker must exit 0 within 10 s.
stop_worker() {
  kill -TERM "$1" 2>/dev/null
  _n=0
  while kill -0 "$1" 2>/dev/null && [ $_n -lt 100 ]; do sleep 0.1; _n=$((_n + 1)); done
  if kill -0 "$1" 2>/dev/null; then
    echo "FAIL: worker $2 did not stop within 10 s of SIGTERM"
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 1
  fi
  wait "$1"
  _rc=$?
  if [ "$_rc" -ne 0 ]; then
    echo "FAIL: worker $2 exited $_rc after SIGTERM:"
    cat "$tmp/$2.err"
    return 1
  fi
  return 0
}
