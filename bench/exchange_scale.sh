#!/bin/sh
# exchange_scale.sh — what a query costs as its task count grows, and what
# memory its worker processes hold: the exchange's scaling figures.
#
# For each transport and task count it runs `dq run QUERY --transport T
# --workers W --tasks N` (W `dq worker` processes), samples every worker
# process's thread count and peak RSS (VmHWM) while it runs, checks the
# answer equals `dq run QUERY --local`, and prints the median wall time of
# --runs runs beside its ratio to the smallest task count (the baseline,
# measured in the same run), the most threads any worker had, and the sum
# of the workers' peak RSS beside the single process's.
#
#   exchange_scale.sh [--dq PATH] [--query tpch:q18] [--scale 0.1]
#                     [--workers 4] [--tasks "4 16 64 256 512"]
#                     [--transports "shm grpc"] [--runs 3] [--timeout 300]
#
# Exit status 1 when any run failed or gave a different answer (the table
# says which); timings themselves never fail it.
set -u
dq=${DQ:-tools/dq}
query=tpch:q18
scale=0.1
workers=4
tasks="4 16 64 256 512"
transports="shm grpc"
runs=3
timeout_s=300
while [ $# -gt 0 ]; do
  case $1 in
    --dq) dq=$2; shift 2 ;;
    --query) query=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --transports) transports=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    *) echo "exchange_scale.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$dq" ] || { echo "exchange_scale.sh: no dq at $dq (--dq PATH)" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# The result table without its timing line.
answer() { grep -v -E '^[0-9]+ rows? in ' "$1"; }

# Runs "$@" in the background and samples its child processes until it
# ends; prints "wall_s max_threads sum_hwm_kib status".
sample_run() {
  out=$1; shift
  t0=$(now)
  timeout "$timeout_s" "$@" > "$out" 2> "$out.err" &
  pid=$!
  : > "$tmp/hwm"
  maxthr=0
  while kill -0 "$pid" 2>/dev/null; do
    # timeout's child is dq run; dq run's children are the workers.
    for run in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
      for w in $(ps -o pid= --ppid "$run" 2>/dev/null); do
        st=/proc/$w/status
        thr=$(awk '/^Threads:/ { print $2 }' "$st" 2>/dev/null)
        hwm=$(awk '/^VmHWM:/ { print $2 }' "$st" 2>/dev/null)
        [ -n "$thr" ] && [ "$thr" -gt "$maxthr" ] && maxthr=$thr
        [ -n "$hwm" ] && echo "$w $hwm" >> "$tmp/hwm"
      done
    done
    sleep 0.05
  done
  wait "$pid"
  status=$?
  t1=$(now)
  # The highest VmHWM seen per worker, summed over the workers.
  sum=$(awk '{ if ($2 > m[$1]) m[$1] = $2 } END { s = 0; for (p in m) s += m[p]; print s }' "$tmp/hwm")
  echo "$(echo "$t1 - $t0" | bc -l) $maxthr $sum $status"
}

echo "== $query at scale $scale: the single-process answer"
/usr/bin/time -f '%M' "$dq" run "$query" --scale "$scale" --local \
  > "$tmp/local" 2> "$tmp/local.time" || { cat "$tmp/local.time"; exit 1; }
local_kib=$(tail -n 1 "$tmp/local.time")
echo "single process: peak RSS $((local_kib / 1024)) MiB"
echo
printf '| transport | tasks | wall s (median of %s) | vs %s tasks | max threads per worker | workers peak RSS MiB | vs one process | answer |\n' "$runs" "${tasks%% *}"
echo '|---|---|---|---|---|---|---|---|'
fail=0
for t in $transports; do
  base=
  for n in $tasks; do
    : > "$tmp/walls"
    thr=0; hwm=0; verdict=equal
    i=0
    while [ "$i" -lt "$runs" ]; do
      i=$((i + 1))
      set -- $(sample_run "$tmp/out" "$dq" run "$query" --scale "$scale" \
        --transport "$t" --workers "$workers" --tasks "$n")
      wall=$1; th=$2; hw=$3; st=$4
      if [ "$st" -ne 0 ]; then
        verdict="FAILED: $(head -n 1 "$tmp/out.err")"
        fail=1
        break
      fi
      if [ "$(answer "$tmp/out")" != "$(answer "$tmp/local")" ]; then
        verdict=DIFFERENT
        fail=1
        break
      fi
      echo "$wall" >> "$tmp/walls"
      [ "$th" -gt "$thr" ] && thr=$th
      [ "$hw" -gt "$hwm" ] && hwm=$hw
    done
    med=$(median < "$tmp/walls")
    if [ -z "$med" ]; then
      printf '| %s | %s | - | - | %s | - | - | %s |\n' "$t" "$n" "$thr" "$verdict"
      continue
    fi
    [ -z "$base" ] && base=$med
    printf '| %s | %s | %.3f | %.2fx | %s | %d | %.2fx | %s |\n' "$t" "$n" \
      "$med" "$(echo "$med / $base" | bc -l)" "$thr" "$((hwm / 1024))" \
      "$(echo "$hwm / $local_kib" | bc -l)" "$verdict"
  done
done
exit $fail
