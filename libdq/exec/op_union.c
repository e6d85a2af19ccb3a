/* op_union.c — UNION (ALL): passes on its inputs' batches, one input after
 * the other, each input closed as soon as it ends (so its readers and
 * generators are released before the next input starts).
 *
 * Inputs may differ in column names and nullability, so a batch is given
 * the union's schema (no copy: the arrays are shared). */
#include <stdlib.h>

#include "exec/exec.h"

typedef struct union_op {
  dq_op op;
  dq_op **more; /* inputs after op.input; closed ones are NULL */
  size_t n_more, cur; /* cur: 0 = op.input, i = more[i - 1] */
} union_op;

static int union_next(dq_op *op, dq_batch **out, dq_error *err) {
  union_op *u = (union_op *)op;
  *out = NULL;
  while (u->cur <= u->n_more) {
    dq_op **in = u->cur == 0 ? &op->input : &u->more[u->cur - 1];
    dq_batch *b = NULL;
    int rc = dq_op_next(*in, &b, err);
    if (rc != 0)
      return rc;
    if (b == NULL) {
      dq_op_close(*in);
      *in = NULL;
      u->cur++;
      continue;
    }
    if (b->schema == op->node->schema) {
      *out = b;
      return 0;
    }
    rc = dq_batch_reschema(b, op->node->schema, out, err);
    dq_batch_unref(b);
    return rc;
  }
  return 0;
}

static void union_close(dq_op *op) {
  union_op *u = (union_op *)op;
  dq_op_close(op->input);
  for (size_t i = 0; i < u->n_more; i++)
    dq_op_close(u->more[i]);
  free(u->more);
  free(u);
}

int dq_op_union_open(const dq_node *n, dq_op *input, dq_op **more,
                     dq_op **out, dq_error *err) {
  (void)input;
  union_op *u = calloc(1, sizeof *u);
  if (u == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a union");
  u->more = more;
  u->n_more = n->n_more;
  u->op.next = union_next;
  u->op.close = union_close;
  *out = &u->op;
  return 0;
}
