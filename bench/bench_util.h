/* bench_util.h — what the bench programs share: a clock, medians and
 * percentiles, a tiny JSON writer, argument helpers, and the machine
 * baselines (memcpy, loopback TCP, a two-process shared-memory ring) that
 * every figure is divided by.
 *
 * The baselines live here, not only in baselines.c, because a ratio is only
 * meaningful against a baseline measured in the same run on the same busy
 * or quiet machine: each program re-measures the baselines it divides by.
 */
#ifndef DQ_BENCH_UTIL_H
#define DQ_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Monotonic seconds. */
double bench_now(void);

/* Median and p-th percentile (0..100, nearest rank) of v[0..n); both sort v
 * in place.  0 for n == 0. */
double bench_median(double *v, size_t n);
double bench_percentile(double *v, size_t n, double p);

/* "2.5 GB/s" style helpers: 1 GB = 1e9 bytes, as bandwidths are quoted. */
#define BENCH_GB 1e9

/* --- machine baselines ------------------------------------------------------
 * Each returns the median of `reps` trials in GB/s, or a negative value when
 * the measurement could not be made (the reason is printed on stderr). */

/* Copies a buffer of `size` bytes into another, repeatedly, on one thread. */
double bench_memcpy_gbps(size_t size, double seconds_per_trial, int reps);
/* One TCP stream over 127.0.0.1: a sender thread writes `total` bytes in
 * write() calls of `chunk` bytes; the receiver reads into a 1 MiB buffer. */
double bench_tcp_gbps(size_t chunk, size_t total, int reps);
/* A single-producer single-consumer ring of 64 KiB slots in a memfd mapped
 * by two processes (fork): the parent copies each slot in from a private
 * buffer, the child copies it out into one. */
double bench_shm_ring_gbps(size_t slot, size_t total, int reps);

/* --- JSON --------------------------------------------------------------------
 * Enough to write nested objects and arrays of numbers and strings without a
 * library: the caller writes the structure, these keep commas right. */
typedef struct bench_json {
  FILE *f;
  int depth;
  int first[32]; /* per depth: no member written yet */
} bench_json;

/* Opens path for writing (NULL or "" -> a writer that discards). */
int bench_json_open(bench_json *j, const char *path);
void bench_json_close(bench_json *j);
/* key may be NULL inside arrays. */
void bench_json_begin_object(bench_json *j, const char *key);
void bench_json_end_object(bench_json *j);
void bench_json_begin_array(bench_json *j, const char *key);
void bench_json_end_array(bench_json *j);
void bench_json_num(bench_json *j, const char *key, double v);
void bench_json_int(bench_json *j, const char *key, long long v);
void bench_json_str(bench_json *j, const char *key, const char *v);

/* Writes the machine description (CPU model, nproc, memory, kernel) as
 * members of the current JSON object, and prints it on `out` when not NULL. */
void bench_machine(bench_json *j, FILE *out);

/* "--name=value" or "--name value": returns the value and advances *i, or
 * NULL when argv[*i] is not that option. */
const char *bench_opt(int argc, char **argv, int *i, const char *name);

#endif /* DQ_BENCH_UTIL_H */
