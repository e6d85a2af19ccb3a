/* hash_partition.c — the SHUFFLE producer head's router: splits a batch
 * into n batches by a hash of its key columns.
 *
 * The hash (dq_hash_columns, defined exactly in expr_array.c) is a pure
 * function of the key values, identical on every host and build, so every
 * producer task sends a given key to the same consumer partition.  Row p
 * goes to partition floor(h * n / 2^64) (multiply-shift: uniform for any
 * n, no modulo bias, no division).  Rows keep their input order inside
 * each partition; a batch that lands whole in one partition is passed on
 * without copying. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

static int check_keys(const dq_batch *b, const uint32_t *key_cols,
                      size_t n_keys, uint32_t n, dq_error *err) {
  if (b == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_hash_partition: the batch is "
                        "NULL");
  if (n == 0)
    return dq_error_set(err, DQ_EINVAL, "dq_hash_partition: zero partitions");
  if (n_keys == 0 || key_cols == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_hash_partition: no key columns");
  for (size_t k = 0; k < n_keys; k++)
    if (key_cols[k] >= b->schema->n_fields)
      return dq_error_set(err, DQ_EINVAL, "hash partition key column %" PRIu32
                          " is out of range (the batch has %zu columns)",
                          key_cols[k], b->schema->n_fields);
  return 0;
}

int dq_hash_partition_ids(const dq_batch *b, const uint32_t *key_cols,
                          size_t n_keys, uint32_t n, uint32_t *ids,
                          dq_error *err) {
  int rc = check_keys(b, key_cols, n_keys, n, err);
  if (rc != 0)
    return rc;
  int64_t rows = b->n_rows;
  const dq_array **cols = calloc(n_keys, sizeof *cols);
  uint64_t *h = malloc(((size_t)rows + 1) * sizeof *h);
  if (cols == NULL || h == NULL) {
    free(cols);
    free(h);
    return dq_error_set(err, DQ_ENOMEM, "out of memory partitioning");
  }
  for (size_t k = 0; k < n_keys; k++)
    cols[k] = b->columns[key_cols[k]];
  dq_hash_columns(cols, n_keys, rows, h);
  for (int64_t i = 0; i < rows; i++)
    ids[i] = (uint32_t)(((unsigned __int128)h[i] * n) >> 64);
  free(cols);
  free(h);
  return 0;
}

int dq_hash_partition(const dq_batch *b, const uint32_t *key_cols,
                      size_t n_keys, uint32_t n, dq_batch **outs,
                      dq_error *err) {
  if (outs == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_hash_partition: outs is NULL");
  for (uint32_t p = 0; p < n; p++)
    outs[p] = NULL;
  int rc = check_keys(b, key_cols, n_keys, n, err);
  if (rc != 0)
    return rc;
  int64_t rows = b->n_rows;
  if (rows == 0)
    return 0;
  uint32_t *ids = malloc((size_t)rows * sizeof *ids);
  uint32_t *idx = malloc((size_t)rows * sizeof *idx);
  int64_t *start = calloc((size_t)n + 1, sizeof *start);
  if (ids == NULL || idx == NULL || start == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory partitioning");
    goto done;
  }
  if ((rc = dq_hash_partition_ids(b, key_cols, n_keys, n, ids, err)) != 0)
    goto done;
  /* Counting sort of row indices by partition (stable). */
  for (int64_t i = 0; i < rows; i++)
    start[ids[i] + 1]++;
  for (uint32_t p = 0; p < n; p++)
    start[p + 1] += start[p];
  if (start[ids[0] + 1] - start[ids[0]] == rows) {
    outs[ids[0]] = dq_batch_ref((dq_batch *)b);
    goto done;
  }
  {
    int64_t *fill = malloc(((size_t)n + 1) * sizeof *fill);
    if (fill == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory partitioning");
      goto done;
    }
    memcpy(fill, start, ((size_t)n + 1) * sizeof *fill);
    for (int64_t i = 0; i < rows; i++)
      idx[fill[ids[i]]++] = (uint32_t)i;
    free(fill);
  }
  for (uint32_t p = 0; p < n && rc == 0; p++) {
    int64_t len = start[p + 1] - start[p];
    if (len > 0)
      rc = dq_batch_take(b, idx + start[p], len, &outs[p], err);
  }
  if (rc != 0)
    for (uint32_t p = 0; p < n; p++) {
      dq_batch_unref(outs[p]);
      outs[p] = NULL;
    }
done:
  free(ids);
  free(idx);
  free(start);
  return rc;
}
