/* source_tpch.c — source "tpch": a table of the built-in TPC-H generator
 * at (scale, seed), generated a batch at a time.
 *
 * Partition p of task t covers slice t·P+p of N·P contiguous, near-equal
 * slices of the table's generation units (dq_scan_slice), so each task
 * generates only its own rows and the union over all pipelines is the
 * whole table exactly once.  Only the projected columns are generated.
 * When the table is kept in memory (dq_tpch_materialize) the slice is read
 * from there instead: the same rows, without generating them.  The slices
 * are keyed on the table's unit key column (tpch.h), which lets the
 * planner join lineitem and orders where they are. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <dq/tpch.h>

#include "source.pb-c.h"
#include "expr/expr.h"
#include "scan/source.h"
#include "scan/source_tpch.h"
#include "tpch/tpch.h"
#include "tpch/tpch_kept.h"

typedef struct tpch_state {
  dq_tpch_table table;
  double scale;
  uint64_t seed;
  dq_schema *full;
} tpch_state;

static void tpch_free(void *state) {
  tpch_state *s = state;
  if (s == NULL)
    return;
  dq_schema_unref(s->full);
  free(s);
}

int dq_source_tpch_new(const char *table, double scale, uint64_t seed,
                       void **out, dq_error *err) {
  *out = NULL;
  dq_tpch_table t;
  int rc = dq_tpch_table_from_name(table ? table : "(null)", &t, err);
  if (rc != 0)
    return rc;
  if (!isfinite(scale) || dq_tpch_unit_count(t, scale) < 0)
    return dq_error_set(err, DQ_EINVAL, "TPC-H scale factor %g is invalid "
                        "(it must be in (0, 100000])", scale);
  tpch_state *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
  s->table = t;
  s->scale = scale;
  s->seed = seed;
  if ((rc = dq_tpch_schema(t, &s->full, err)) != 0) {
    tpch_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

static int tpch_encode(const void *state, uint8_t **buf, size_t *len,
                       dq_error *err) {
  const tpch_state *s = state;
  Dq__V1__ScanTpch m = DQ__V1__SCAN_TPCH__INIT;
  m.table = (char *)dq_tpch_table_name(s->table);
  m.scale = s->scale;
  m.seed = s->seed;
  *len = dq__v1__scan_tpch__get_packed_size(&m);
  if ((*buf = malloc(*len ? *len : 1)) == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding a scan");
  dq__v1__scan_tpch__pack(&m, *buf);
  return 0;
}

static int tpch_decode(const uint8_t *buf, size_t len, void **state,
                       dq_error *err) {
  Dq__V1__ScanTpch *m = dq__v1__scan_tpch__unpack(NULL, len, buf);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a TPC-H scan's parameters are not "
                        "a dq.v1.ScanTpch message");
  int rc = dq_source_tpch_new(m->table, m->scale, m->seed, state, err);
  dq__v1__scan_tpch__free_unpacked(m, NULL);
  return rc;
}

static const dq_schema *tpch_schema(const void *state) {
  return ((const tpch_state *)state)->full;
}

static void tpch_describe(const void *state, char *buf, size_t len) {
  snprintf(buf, len, "TPC-H table %s",
           dq_tpch_table_name(((const tpch_state *)state)->table));
}

static size_t tpch_explain(const void *state, const dq_source_projection *p,
                           char *buf, size_t len) {
  const tpch_state *s = state;
  size_t n = (size_t)snprintf(buf, len, "ScanTpch %s scale=%g seed=%" PRIu64
                              " [", dq_tpch_table_name(s->table), s->scale,
                              s->seed);
  for (size_t i = 0; i < p->n_columns; i++)
    n += (size_t)snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
                          "%s%s", i ? ", " : "", p->names[i]);
  n += (size_t)snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
                        "]");
  return n;
}

static double tpch_row_estimate(const void *state) {
  const tpch_state *s = state;
  int64_t rows = dq_tpch_row_estimate(s->table, s->scale);
  return rows < 0 ? -1 : (double)rows;
}

static bool tpch_keying(const void *state, dq_source_keying *out) {
  const tpch_state *s = state;
  /* The units of lineitem are orders' (an order and its lines), of
   * partsupp part's: such tables slice alike at one scale. */
  out->column = dq_tpch_unit_key_column(s->table);
  snprintf(out->domain, sizeof out->domain, "tpch %s units at scale %.17g",
           dq_tpch_table_name(dq_tpch_unit_domain(s->table)), s->scale);
  return true;
}

static int tpch_materialize(const void *state, dq_error *err) {
  const tpch_state *s = state;
  return dq_tpch_materialize(dq_tpch_table_name(s->table), s->scale, s->seed,
                             NULL, err);
}

size_t dq_source_tpch_kept_bytes(void) { return dq_tpch_kept_bytes(); }

typedef struct tpch_reader {
  dq_source_reader r;
  const tpch_state *s;
  dq_source_projection proj;
  int64_t next_unit, end_unit, units_per_batch;
  dq_tpch_kept *kept; /* NULL: generate */
} tpch_reader;

/* The next rows of the slice from the kept table: the projection shares
 * the chunk's arrays, and a slice of it is shared too where it starts the
 * chunk (copied otherwise). */
static int kept_next(tpch_reader *t, dq_batch **out, dq_error *err) {
  *out = NULL;
  const dq_batch *chunk;
  int64_t r0, n;
  int rc = dq_tpch_kept_next(t->kept, &t->next_unit, t->end_unit, &chunk,
                             &r0, &n, err);
  if (rc != 0 || chunk == NULL)
    return rc;
  dq_batch *all;
  rc = dq_source_project(dq_batch_ref((dq_batch *)chunk), &t->proj, &all,
                         err);
  if (rc != 0)
    return rc;
  rc = dq_batch_slice(all, r0, n, out, err);
  dq_batch_unref(all);
  return rc;
}

static int tpch_next(dq_source_reader *r, dq_batch **out, dq_error *err) {
  tpch_reader *t = (tpch_reader *)r;
  const tpch_state *s = t->s;
  if (t->kept != NULL)
    return kept_next(t, out, err);
  while (t->next_unit < t->end_unit) {
    int64_t start = t->next_unit;
    int64_t end = start + t->units_per_batch;
    if (end > t->end_unit || end < start)
      end = t->end_unit;
    dq_batch *b;
    int rc = dq_tpch_generate_columns(s->table, s->scale, s->seed, start, end,
                                      t->proj.column_idx, t->proj.n_columns,
                                      &b, err);
    if (rc != 0)
      return rc;
    t->next_unit = end;
    if (b->n_rows == 0) {
      dq_batch_unref(b);
      continue;
    }
    /* The generator names the projection as the node does; rebind to the
     * node's schema object so downstream checks are pointer-cheap. */
    rc = dq_batch_reschema(b, t->proj.schema, out, err);
    dq_batch_unref(b);
    return rc;
  }
  *out = NULL;
  return 0;
}

static void tpch_close(dq_source_reader *r) {
  dq_tpch_kept_unref(((tpch_reader *)r)->kept);
  free(r);
}

static int tpch_open(const void *state, const dq_source_projection *proj,
                     const dq_source_slice *slice, dq_source_reader **out,
                     dq_error *err) {
  const tpch_state *s = state;
  int64_t units = dq_tpch_unit_count(s->table, s->scale);
  if (units < 0)
    return dq_error_set(err, DQ_EINVAL, "TPC-H table %s at scale %g has no "
                        "valid unit count", dq_tpch_table_name(s->table),
                        s->scale);
  tpch_reader *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  t->s = s;
  t->proj = *proj;
  dq_scan_slice(units, slice->task_number, slice->task_count,
                slice->partition, slice->n_partitions, &t->next_unit,
                &t->end_unit);
  /* lineitem and partsupp yield about 4 rows per unit (tpch.h). */
  int64_t rows_per_unit =
      (s->table == DQ_TPCH_LINEITEM || s->table == DQ_TPCH_PARTSUPP) ? 4 : 1;
  t->units_per_batch = slice->batch_rows / rows_per_unit;
  if (t->units_per_batch < 1)
    t->units_per_batch = 1;
  t->kept = dq_tpch_kept_find(s->table, s->scale, s->seed);
  t->r.next = tpch_next;
  t->r.close = tpch_close;
  *out = &t->r;
  return 0;
}

const dq_source_kind dq_source_tpch = {
    .name = "tpch",
    .encode = tpch_encode,
    .decode = tpch_decode,
    .free = tpch_free,
    .schema = tpch_schema,
    .describe = tpch_describe,
    .explain = tpch_explain,
    .row_estimate = tpch_row_estimate,
    .keying = tpch_keying,
    .materialize = tpch_materialize,
    .open = tpch_open,
};
