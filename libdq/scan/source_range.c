/* source_range.c — source "range": the integers start, start + step, ...
 * up to stop (exclusive), as one INT64 column "value", like
 * generate_series.  Small and deterministic, it lets tests make exactly
 * the rows they want without files, and it is the example of a source
 * that is all in its own file: its parameters are three fixed 64-bit
 * integers, and it registers with one line in source_registry.c.
 *
 * Unit i is the i-th value; partition p of task t reads the slice
 * dq_scan_slice gives it, so the slices are keyed on "value" (each value
 * is in one slice) and two ranges of equal parameters slice alike: the
 * planner joins them where they are. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/batch_internal.h"
#include "scan/source.h"
#include "scan/source_range.h"

#define PARAM_BYTES 24 /* start, stop, step: little-endian int64 */

typedef struct range_state {
  int64_t start, stop, step;
  int64_t count; /* values */
  dq_schema *schema;
} range_state;

static void range_free(void *state) {
  range_state *s = state;
  if (s == NULL)
    return;
  dq_schema_unref(s->schema);
  free(s);
}

int dq_source_range_new(int64_t start, int64_t stop, int64_t step,
                        void **out, dq_error *err) {
  *out = NULL;
  if (step == 0)
    return dq_error_set(err, DQ_EINVAL, "a range needs a step other than 0");
  /* The count in 128 bits: stop - start may overflow 64. */
  __int128 span = (__int128)stop - start;
  __int128 n = 0;
  if (step > 0 && span > 0)
    n = (span + step - 1) / step;
  else if (step < 0 && span < 0)
    n = (-span + (-(__int128)step) - 1) / -(__int128)step;
  if (n > INT64_MAX / 2)
    return dq_error_set(err, DQ_EINVAL, "a range of more than 2^62 values "
                        "(%" PRId64 " to %" PRId64 " by %" PRId64 ")", start,
                        stop, step);
  range_state *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a range");
  s->start = start;
  s->stop = stop;
  s->step = step;
  s->count = (int64_t)n;
  const char *name = "value";
  dq_type t = {DQ_TYPE_INT64, 0, 0};
  bool nullable = false;
  int rc = dq_schema_new(1, &name, &t, &nullable, &s->schema, err);
  if (rc != 0) {
    range_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

static int range_encode(const void *state, uint8_t **buf, size_t *len,
                        dq_error *err) {
  const range_state *s = state;
  uint8_t *p = malloc(PARAM_BYTES);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding a range");
  const int64_t v[3] = {s->start, s->stop, s->step};
  for (int i = 0; i < 3; i++)
    for (int b = 0; b < 8; b++)
      p[8 * i + b] = (uint8_t)((uint64_t)v[i] >> (8 * b));
  *buf = p;
  *len = PARAM_BYTES;
  return 0;
}

static int range_decode(const uint8_t *buf, size_t len, void **state,
                        dq_error *err) {
  if (buf == NULL || len != PARAM_BYTES)
    return dq_error_set(err, DQ_EPROTO, "a range's parameters are %d bytes, "
                        "not %zu", PARAM_BYTES, len);
  uint64_t v[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++)
    for (int b = 0; b < 8; b++)
      v[i] |= (uint64_t)buf[8 * i + b] << (8 * b);
  return dq_source_range_new((int64_t)v[0], (int64_t)v[1], (int64_t)v[2],
                             state, err);
}

static const dq_schema *range_schema(const void *state) {
  return ((const range_state *)state)->schema;
}

static void range_describe(const void *state, char *buf, size_t len) {
  const range_state *s = state;
  snprintf(buf, len, "range %" PRId64 " to %" PRId64 " by %" PRId64,
           s->start, s->stop, s->step);
}

static size_t range_explain(const void *state, const dq_source_projection *p,
                            char *buf, size_t len) {
  const range_state *s = state;
  return (size_t)snprintf(buf, len, "Range %" PRId64 " to %" PRId64
                          " by %" PRId64 " [%s]", s->start, s->stop, s->step,
                          p->n_columns ? p->names[0] : "");
}

static double range_row_estimate(const void *state) {
  return (double)((const range_state *)state)->count;
}

static bool range_keying(const void *state, dq_source_keying *out) {
  const range_state *s = state;
  out->column = 0;
  snprintf(out->domain, sizeof out->domain, "range %" PRId64 ":%" PRId64
           ":%" PRId64, s->start, s->stop, s->step);
  return true;
}

typedef struct range_reader {
  dq_source_reader r;
  const range_state *s;
  dq_source_projection proj;
  int64_t next, end, batch_rows; /* value indices [next, end) */
} range_reader;

static int range_next(dq_source_reader *r, dq_batch **out, dq_error *err) {
  range_reader *t = (range_reader *)r;
  *out = NULL;
  if (t->next >= t->end)
    return 0;
  int64_t n = t->end - t->next < t->batch_rows ? t->end - t->next
                                               : t->batch_rows;
  dq_buffer *values = dq_buffer_new((size_t)n * sizeof(int64_t));
  if (values == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a range");
  int64_t *v = (int64_t *)values->data;
  /* Wraps like the unsigned arithmetic it is; every value is in range. */
  uint64_t x =
      (uint64_t)t->s->start + (uint64_t)t->next * (uint64_t)t->s->step;
  for (int64_t i = 0; i < n; i++, x += (uint64_t)t->s->step)
    v[i] = (int64_t)x;
  t->next += n;
  dq_array *a;
  int rc = dq_array_from_buffers(t->s->schema->types[0], n, 0, NULL, values,
                                 NULL, &a, err);
  if (rc != 0)
    return rc;
  /* A projection of the one column, or of none. */
  rc = dq_batch_new(t->proj.schema, n, t->proj.n_columns ? &a : NULL, out,
                    err);
  dq_array_unref(a);
  return rc;
}

static void range_close(dq_source_reader *r) { free(r); }

static int range_open(const void *state, const dq_source_projection *proj,
                      const dq_source_slice *slice, dq_source_reader **out,
                      dq_error *err) {
  range_reader *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a range");
  t->s = state;
  t->proj = *proj;
  t->batch_rows = slice->batch_rows > 0 ? slice->batch_rows : 8192;
  dq_scan_slice(t->s->count, slice->task_number, slice->task_count,
                slice->partition, slice->n_partitions, &t->next, &t->end);
  t->r.next = range_next;
  t->r.close = range_close;
  *out = &t->r;
  return 0;
}

const dq_source_kind dq_source_range = {
    .name = "range",
    .encode = range_encode,
    .decode = range_decode,
    .free = range_free,
    .schema = range_schema,
    .describe = range_describe,
    .explain = range_explain,
    .row_estimate = range_row_estimate,
    .keying = range_keying,
    .open = range_open,
};
