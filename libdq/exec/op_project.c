/* op_project.c — PROJECT: evaluates each output expression over a batch.
 * Column references pass their arrays through without copying. */
#include <stdlib.h>

#include "exec/exec.h"

typedef struct project_op {
  dq_op op;
  dq_array **cols; /* scratch, one per output */
} project_op;

static int project_next(dq_op *op, dq_batch **out, dq_error *err) {
  project_op *p = (project_op *)op;
  const dq_node *n = op->node;
  dq_batch *in;
  int rc = dq_op_next(op->input, &in, err);
  if (rc != 0 || in == NULL)
    return rc;
  size_t done = 0;
  for (; done < n->n_exprs; done++)
    if ((rc = dq_expr_eval(n->exprs[done], in, &p->cols[done], err)) != 0)
      break;
  if (rc == 0)
    rc = dq_batch_new(n->schema, in->n_rows, p->cols, out, err);
  for (size_t i = 0; i < done; i++)
    dq_array_unref(p->cols[i]);
  dq_batch_unref(in);
  return rc;
}

static void project_close(dq_op *op) {
  project_op *p = (project_op *)op;
  dq_op_close(op->input);
  free(p->cols);
  free(p);
}

int dq_op_project_open(const dq_node *n, dq_op *input, dq_op **out,
                       dq_error *err) {
  project_op *p = calloc(1, sizeof *p);
  if (p == NULL ||
      (p->cols = calloc(n->n_exprs ? n->n_exprs : 1, sizeof *p->cols)) ==
          NULL) {
    free(p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a project");
  }
  p->op.next = project_next;
  p->op.close = project_close;
  *out = &p->op;
  return 0;
}
