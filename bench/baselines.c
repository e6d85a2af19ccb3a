/* baselines.c — what this machine can do without dq: single-thread memcpy
 * bandwidth (1 MiB, cache-resident; 64 MiB), one loopback TCP stream
 * (64 KiB and 1 MiB writes), and a two-process shared-memory SPSC ring of
 * 64 KiB slots copying in and out.  Every transport figure of the other
 * bench programs is quoted as a ratio to one of these, re-measured in the
 * same program run.
 *
 *   baselines [--reps N] [--seconds S] [--json FILE]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

int main(int argc, char **argv) {
  int reps = 5;
  double seconds = 0.2; /* per memcpy trial */
  const char *json_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = bench_opt(argc, argv, &i, "--reps")) != NULL)
      reps = atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--seconds")) != NULL)
      seconds = atof(v);
    else if ((v = bench_opt(argc, argv, &i, "--json")) != NULL)
      json_path = v;
    else {
      fprintf(stderr, "usage: %s [--reps N] [--seconds S] [--json FILE]\n",
              argv[0]);
      return 2;
    }
  }
  if (reps < 1)
    reps = 1;
  /* Stream volumes scale with the trial time so --seconds shortens all. */
  size_t tcp_total = (size_t)(seconds * 5e9);   /* ~1 s at 5 GB/s */
  size_t ring_total = (size_t)(seconds * 20e9);
  if (tcp_total < (64u << 20))
    tcp_total = 64u << 20;
  if (ring_total < (64u << 20))
    ring_total = 64u << 20;

  bench_json j;
  if (bench_json_open(&j, json_path) < 0)
    return 1;
  bench_json_begin_object(&j, NULL);
  bench_json_str(&j, "program", "baselines");
  bench_machine(&j, stdout);
  printf("baselines: median of %d trials (GB/s, 1 GB = 1e9 bytes)\n\n", reps);
  printf("| baseline | GB/s |\n|---|---:|\n");

  struct {
    const char *name, *key;
    double v;
  } r[5] = {
      {"memcpy 1 MiB, one thread", "memcpy_1MiB", 0},
      {"memcpy 64 MiB, one thread", "memcpy_64MiB", 0},
      {"loopback TCP, 64 KiB writes", "tcp_64KiB", 0},
      {"loopback TCP, 1 MiB writes", "tcp_1MiB", 0},
      {"shm SPSC ring, 2 processes, 64 KiB slots, copy in+out", "shm_ring_64KiB",
       0},
  };
  r[0].v = bench_memcpy_gbps(1u << 20, seconds, reps);
  r[1].v = bench_memcpy_gbps(64u << 20, seconds, reps);
  r[2].v = bench_tcp_gbps(64u << 10, tcp_total, reps);
  r[3].v = bench_tcp_gbps(1u << 20, tcp_total, reps);
  r[4].v = bench_shm_ring_gbps(64u << 10, ring_total, reps);

  bench_json_begin_object(&j, "baselines_gbps");
  for (int i = 0; i < 5; i++) {
    printf("| %s | %.2f |\n", r[i].name, r[i].v);
    bench_json_num(&j, r[i].key, r[i].v);
  }
  bench_json_end_object(&j);
  bench_json_int(&j, "reps", reps);
  bench_json_end_object(&j);
  bench_json_close(&j);
  return 0;
}
