/* op_scan.c — SCAN: the one operator for every data source.  It hands the
 * source this pipeline's slice (task, partition, and the work units the
 * coordinator sent for this scan) and pulls batches from the reader the
 * source opens; what the source is and how it reads is scan/'s business.
 *
 * A stage's scans are numbered in pre-order (dq_node_scans) and a wrapped
 * work unit names its scan by that number, so each scan takes only its
 * own units out of the task's. */
#include <stdlib.h>

#include "exec/exec.h"

typedef struct scan_op {
  dq_op op;
  dq_source_reader *r;
} scan_op;

static int scan_next(dq_op *op, dq_batch **out, dq_error *err) {
  scan_op *s = (scan_op *)op;
  return s->r->next(s->r, out, err);
}

static void scan_close(dq_op *op) {
  scan_op *s = (scan_op *)op;
  if (s->r != NULL)
    s->r->close(s->r);
  free(s);
}

/* n's number among the stage's scans. */
static int scan_number(const dq_node *n, const dq_exec_env *env,
                       uint32_t *out, dq_error *err) {
  const dq_node *root = env->root ? env->root : n;
  size_t ns = dq_node_scans(root, NULL, 0);
  const dq_node **scans = calloc(ns ? ns : 1, sizeof *scans);
  if (scans == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  dq_node_scans(root, scans, ns);
  size_t k = 0;
  while (k < ns && scans[k] != n)
    k++;
  free(scans);
  if (k == ns)
    return dq_error_set(err, DQ_EINTERNAL, "a scan is not part of the stage "
                        "it runs in");
  *out = (uint32_t)k;
  return 0;
}

int dq_op_scan_open(const dq_node *n, const dq_exec_env *env,
                    uint32_t partition, dq_op **out, dq_error *err) {
  dq_source_slice slice = {
      .task_number = env->task_number,
      .task_count = env->task_count,
      .partition = partition,
      .n_partitions = env->n_partitions,
      .batch_rows = env->batch_rows > 0 ? env->batch_rows
                                        : DQ_EXEC_DEFAULT_BATCH_ROWS,
      .units_sent = env->n_units > 0,
      .files = env->files,
  };
  dq_work_unit *mine = NULL;
  int rc = 0;
  /* Only a source that has work units reads them (others ignore them). */
  if (slice.units_sent && n->source->work_units != NULL) {
    uint32_t k = 0;
    rc = scan_number(n, env, &k, err);
    if (rc == 0)
      rc = dq_source_units_for(env->units, env->n_units, k, &mine,
                               &slice.n_units, err);
    slice.units = mine;
  }
  scan_op *s = rc == 0 ? calloc(1, sizeof *s) : NULL;
  if (rc == 0 && s == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  if (rc == 0) {
    dq_source_projection proj = dq_node_scan_projection(n);
    rc = n->source->open(n->source_state, &proj, &slice, &s->r, err);
  }
  free(mine);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->op.next = scan_next;
  s->op.close = scan_close;
  s->op.node = n;
  s->op.env = env;
  s->op.partition = partition;
  *out = &s->op;
  return 0;
}
