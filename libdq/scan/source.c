/* source.c — what every data source shares: how units of work are sliced
 * over pipelines, file-size row estimates, projecting a batch onto a
 * scan's columns, the wrapping that carries a work unit to its scan, and
 * schemas in source parameters (Arrow IPC schema messages).  The kinds
 * themselves are source_*.c; see source.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <dq/ipc.h>

#include "arrow/batch_internal.h"
#include "scan/source.h"

void dq_scan_slice(int64_t units, uint32_t task, uint32_t n_tasks,
                   uint32_t partition, uint32_t n_partitions, int64_t *start,
                   int64_t *end) {
  /* Slice k of S covers [floor(U*k/S), floor(U*(k+1)/S)): contiguous,
   * sizes differing by at most one, computed in 128 bits. */
  uint64_t s = (uint64_t)n_tasks * n_partitions;
  uint64_t k = (uint64_t)task * n_partitions + partition;
  if (s == 0 || k >= s || units <= 0) {
    *start = *end = 0;
    return;
  }
  *start = (int64_t)((unsigned __int128)units * k / s);
  *end = (int64_t)((unsigned __int128)units * (k + 1) / s);
}

double dq_source_file_rows(char *const *paths, size_t n_paths) {
  double bytes = 0;
  for (size_t i = 0; i < n_paths; i++) {
    struct stat st;
    if (paths[i] == NULL || stat(paths[i], &st) != 0)
      return 1e15;
    bytes += (double)st.st_size;
  }
  return bytes / 100 + 1;
}

int dq_source_prefix_path(dq_error *err, int rc, const char *path) {
  if (err == NULL)
    return rc;
  /* Copied first: the message is formatted into the same buffer. */
  char why[sizeof err->message];
  snprintf(why, sizeof why, "%s", err->message);
  return dq_error_set(err, rc, "%s: %s", path, why);
}

int dq_source_project(dq_batch *b, const dq_source_projection *proj,
                      dq_batch **out, dq_error *err) {
  dq_array *cols[256] = {NULL};
  size_t n = proj->n_columns;
  dq_array **cv = n <= 256 ? cols : malloc(n * sizeof *cv);
  if (cv == NULL) {
    dq_batch_unref(b);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++)
    cv[i] = b->columns[proj->column_idx[i]];
  int rc = dq_batch_new(proj->schema, b->n_rows, cv, out, err);
  if (cv != cols)
    free(cv);
  dq_batch_unref(b);
  return rc;
}

int dq_source_unit_wrap(uint32_t scan, const void *data, size_t len,
                        dq_work_unit *out, dq_error *err) {
  uint8_t *buf = malloc(4 + len);
  if (buf == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  for (int i = 0; i < 4; i++)
    buf[i] = (uint8_t)(scan >> (8 * i));
  if (len > 0)
    memcpy(buf + 4, data, len);
  out->data = buf;
  out->len = 4 + len;
  return 0;
}

int dq_source_units_for(const dq_work_unit *units, size_t n, uint32_t scan,
                        dq_work_unit **out, size_t *n_out, dq_error *err) {
  *out = NULL;
  *n_out = 0;
  dq_work_unit *r = calloc(n ? n : 1, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p = units[i].data;
    if (units[i].len < 4 || p == NULL) {
      free(r);
      return dq_error_set(err, DQ_EPROTO, "work unit %zu has %zu bytes, "
                          "fewer than its 4-byte scan number", i,
                          units[i].len);
    }
    uint32_t s = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (s == scan && units[i].len > 4)
      r[k++] = (dq_work_unit){(void *)(p + 4), units[i].len - 4};
  }
  *out = r;
  *n_out = k;
  return 0;
}

void dq_work_units_free(dq_work_unit *u, size_t n) {
  for (size_t i = 0; u != NULL && i < n; i++)
    free(u[i].data);
  free(u);
}

int dq_source_schema_encode(const dq_schema *s, uint8_t **buf, size_t *len,
                            dq_error *err) {
  void *p = NULL;
  int rc = dq_ipc_encode_schema_flat(s, &p, len, err);
  *buf = p;
  return rc;
}

int dq_source_schema_decode(const uint8_t *buf, size_t len,
                            dq_schema **out, dq_error *err) {
  *out = NULL;
  if (buf == NULL || len == 0)
    return dq_error_set(err, DQ_EINVAL, "the source has no schema");
  return dq_ipc_decode_schema(buf, len, out, err);
}
