/* op_scan_tpch.c — SCAN_TPCH: generates this pipeline's slice of a TPC-H
 * table, a batch at a time.
 *
 * Partition p of task t covers slice t·P+p of N·P contiguous, near-equal
 * slices of the table's generation units (dq_scan_slice), so each task
 * generates only its own rows and the union over all pipelines is the
 * whole table exactly once.  Only the projected columns are generated.
 * When the table is kept in memory (dq_tpch_materialize) the slice is read
 * from there instead: the same rows, without generating them. */
#include <stdlib.h>

#include "exec/exec.h"
#include "tpch/tpch.h"
#include "tpch/tpch_kept.h"

typedef struct scan_op {
  dq_op op;
  int64_t next_unit, end_unit, units_per_batch;
  dq_tpch_kept *kept; /* NULL: generate */
} scan_op;

static int scan_next(dq_op *op, dq_batch **out, dq_error *err) {
  scan_op *s = (scan_op *)op;
  const dq_node *n = op->node;
  if (s->kept != NULL)
    return dq_tpch_kept_read(s->kept, &s->next_unit, s->end_unit,
                             n->column_idx, n->n_columns, n->schema, out,
                             err);
  while (s->next_unit < s->end_unit) {
    int64_t start = s->next_unit;
    int64_t end = start + s->units_per_batch;
    if (end > s->end_unit || end < start)
      end = s->end_unit;
    dq_batch *b;
    int rc = dq_tpch_generate_columns((dq_tpch_table)n->table_id, n->scale,
                                      n->seed, start, end, n->column_idx,
                                      n->n_columns, &b, err);
    if (rc != 0)
      return rc;
    s->next_unit = end;
    if (b->n_rows == 0) {
      dq_batch_unref(b);
      continue;
    }
    /* The generator names the projection as the node does; rebind to the
     * node's schema object so downstream checks are pointer-cheap. */
    rc = dq_batch_reschema(b, n->schema, out, err);
    dq_batch_unref(b);
    return rc;
  }
  *out = NULL;
  return 0;
}

static void scan_close(dq_op *op) {
  dq_tpch_kept_unref(((scan_op *)op)->kept);
  free(op);
}

int dq_op_scan_tpch_open(const dq_node *n, const dq_exec_env *env,
                         uint32_t partition, dq_op **out, dq_error *err) {
  dq_tpch_table t = (dq_tpch_table)n->table_id;
  int64_t units = dq_tpch_unit_count(t, n->scale);
  if (units < 0)
    return dq_error_set(err, DQ_EINVAL, "TPC-H table %s at scale %g has no "
                        "valid unit count", n->table, n->scale);
  scan_op *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  dq_scan_slice(units, env->task_number, env->task_count, partition,
                env->n_partitions, &s->next_unit, &s->end_unit);
  /* lineitem and partsupp yield about 4 rows per unit (tpch.h). */
  int64_t rows_per_unit =
      (t == DQ_TPCH_LINEITEM || t == DQ_TPCH_PARTSUPP) ? 4 : 1;
  s->units_per_batch = env->batch_rows / rows_per_unit;
  if (s->units_per_batch < 1)
    s->units_per_batch = 1;
  s->kept = dq_tpch_kept_find(t, n->scale, n->seed);
  s->op.next = scan_next;
  s->op.close = scan_close;
  s->op.node = n;
  s->op.env = env;
  s->op.partition = partition;
  *out = &s->op;
  return 0;
}
