/* tpch_kept.c — TPC-H tables generated once and kept in this process's
 * memory (dq_tpch_materialize), and which rows of them a scan of a unit
 * range reads (the TPC-H source, scan/source_tpch.c, reads them).
 *
 * Why: a query's time should be comparable with an in-memory engine's, so
 * benchmarks and `dq run --materialize` generate the tables before the
 * timed runs.  Keeping them here, keyed by (table, scale, seed), rather
 * than as a new kind of scan leaves every plan, its wire form and the
 * planner untouched: a TPC-H scan that finds its table kept reads it
 * instead of generating it, and the rows are the same rows in the same
 * order (the generator is a pure function of table, scale, seed and unit),
 * so no answer can change.  Only scans run in this process see the kept
 * tables: inmem workers and the single-process executor; a worker in
 * another process generates as before.
 *
 * A table is kept as chunks of CHUNK_ROWS-ish rows, each a whole number
 * of generation units, so a scan's unit range maps to whole chunks
 * (shared, no copy) plus at most a partial chunk at each end: the end one
 * a prefix (shared), the start one copied. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <dq/tpch.h>

#include "arrow/batch_internal.h"
#include "tpch/tpch.h"
#include "tpch/tpch_kept.h"

/* Rows per kept chunk: the executor's default batch size, so a scan of a
 * kept table hands on batches of the size generation would. */
#define CHUNK_ROWS 8192

struct dq_tpch_kept {
  atomic_long refs;
  dq_tpch_kept *next; /* in `kept`, under kept_lock */
  dq_tpch_table table;
  double scale;
  uint64_t seed;
  int64_t units, chunk_units;
  size_t n_chunks;
  dq_batch **chunks; /* chunk k: units [k*chunk_units, (k+1)*chunk_units) */
  size_t bytes;
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static dq_tpch_kept *kept; /* every kept table of this process */

static void kept_free(dq_tpch_kept *k) {
  for (size_t i = 0; i < k->n_chunks; i++)
    dq_batch_unref(k->chunks[i]);
  free(k->chunks);
  free(k);
}

void dq_tpch_kept_unref(dq_tpch_kept *k) {
  if (k != NULL && atomic_fetch_sub(&k->refs, 1) == 1)
    kept_free(k);
}

static dq_tpch_kept *find_locked(dq_tpch_table t, double scale,
                                 uint64_t seed) {
  for (dq_tpch_kept *k = kept; k != NULL; k = k->next)
    if (k->table == t && k->scale == scale && k->seed == seed)
      return k;
  return NULL;
}

dq_tpch_kept *dq_tpch_kept_find(dq_tpch_table t, double scale,
                                uint64_t seed) {
  pthread_mutex_lock(&kept_lock);
  dq_tpch_kept *k = find_locked(t, scale, seed);
  if (k != NULL)
    atomic_fetch_add(&k->refs, 1);
  pthread_mutex_unlock(&kept_lock);
  return k;
}

int dq_tpch_kept_next(const dq_tpch_kept *k, int64_t *next_unit,
                      int64_t end_unit, const dq_batch **chunk_out,
                      int64_t *row0, int64_t *n_rows, dq_error *err) {
  *chunk_out = NULL;
  while (*next_unit < end_unit) {
    int64_t start = *next_unit;
    size_t c = (size_t)(start / k->chunk_units);
    int64_t chunk_lo = (int64_t)c * k->chunk_units;
    int64_t end = chunk_lo + k->chunk_units;
    if (end > end_unit)
      end = end_unit;
    const dq_batch *chunk = k->chunks[c];
    int64_t r0 = dq_tpch_unit_rows(k->table, k->scale, k->seed, chunk_lo,
                                   start);
    int64_t n = dq_tpch_unit_rows(k->table, k->scale, k->seed, start, end);
    if (r0 < 0 || n < 0 || r0 + n > dq_batch_n_rows(chunk))
      return dq_error_set(err, DQ_EINVAL, "kept TPC-H %s: units [%" PRId64
                          ", %" PRId64 ") do not match the kept chunk",
                          dq_tpch_table_name(k->table), start, end);
    *next_unit = end;
    if (n == 0)
      continue;
    *chunk_out = chunk;
    *row0 = r0;
    *n_rows = n;
    return 0;
  }
  return 0;
}

static int keep_table(dq_tpch_table t, double scale, uint64_t seed,
                      dq_error *err) {
  pthread_mutex_lock(&kept_lock);
  bool have = find_locked(t, scale, seed) != NULL;
  pthread_mutex_unlock(&kept_lock);
  if (have)
    return 0;

  int64_t units = dq_tpch_unit_count(t, scale);
  if (units < 0)
    return dq_error_set(err, DQ_EINVAL, "TPC-H %s cannot be generated at "
                        "scale %g", dq_tpch_table_name(t), scale);
  int64_t rows = dq_tpch_row_estimate(t, scale);
  int64_t per_unit = units > 0 && rows > units ? rows / units : 1;
  dq_tpch_kept *k = calloc(1, sizeof *k);
  if (k == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory keeping TPC-H %s",
                        dq_tpch_table_name(t));
  atomic_init(&k->refs, 1);
  k->table = t;
  k->scale = scale;
  k->seed = seed;
  k->units = units;
  k->chunk_units = CHUNK_ROWS / per_unit > 0 ? CHUNK_ROWS / per_unit : 1;
  k->n_chunks = (size_t)((units + k->chunk_units - 1) / k->chunk_units);
  k->chunks = calloc(k->n_chunks ? k->n_chunks : 1, sizeof *k->chunks);
  if (k->chunks == NULL) {
    free(k);
    return dq_error_set(err, DQ_ENOMEM, "out of memory keeping TPC-H %s",
                        dq_tpch_table_name(t));
  }
  for (size_t c = 0; c < k->n_chunks; c++) {
    int64_t lo = (int64_t)c * k->chunk_units;
    int64_t hi = lo + k->chunk_units < units ? lo + k->chunk_units : units;
    int rc = dq_tpch_generate(t, scale, seed, lo, hi, &k->chunks[c], err);
    if (rc != 0) {
      kept_free(k);
      return rc;
    }
    k->bytes += dq_batch_byte_size(k->chunks[c]);
  }

  pthread_mutex_lock(&kept_lock);
  if (find_locked(t, scale, seed) != NULL) { /* another thread won */
    pthread_mutex_unlock(&kept_lock);
    kept_free(k);
    return 0;
  }
  k->next = kept;
  kept = k;
  pthread_mutex_unlock(&kept_lock);
  return 0;
}

size_t dq_tpch_kept_bytes(void) {
  size_t bytes = 0;
  pthread_mutex_lock(&kept_lock);
  for (dq_tpch_kept *k = kept; k != NULL; k = k->next)
    bytes += k->bytes;
  pthread_mutex_unlock(&kept_lock);
  return bytes;
}

int dq_tpch_materialize(const char *table, double scale, uint64_t seed,
                        size_t *bytes, dq_error *err) {
  dq_tpch_table t;
  int rc = dq_tpch_table_from_name(table ? table : "(null)", &t, err);
  if (rc == 0)
    rc = keep_table(t, scale, seed, err);
  if (bytes != NULL)
    *bytes = dq_tpch_kept_bytes();
  return rc;
}

void dq_tpch_release(const char *table, double scale, uint64_t seed) {
  dq_tpch_table t = 0;
  if (table != NULL && dq_tpch_table_from_name(table, &t, NULL) != 0)
    return;
  pthread_mutex_lock(&kept_lock);
  dq_tpch_kept **link = &kept;
  while (*link != NULL) {
    dq_tpch_kept *k = *link;
    if (table == NULL ||
        (k->table == t && k->scale == scale && k->seed == seed)) {
      *link = k->next;
      dq_tpch_kept_unref(k); /* a scan reading it keeps its own reference */
    } else {
      link = &k->next;
    }
  }
  pthread_mutex_unlock(&kept_lock);
}
