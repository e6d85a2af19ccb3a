/* op_limit.c — LIMIT: skips `offset` rows, passes `count` rows, then
 * closes its input at once instead of pulling it to the end.  Closing is
 * what lets the runtime cancel upstream work early: readers are closed,
 * generators stop. */
#include <stdlib.h>

#include "exec/exec.h"

typedef struct limit_op {
  dq_op op;
  int64_t skip, left;
} limit_op;

static void limit_stop(dq_op *op) {
  dq_op_close(op->input);
  op->input = NULL;
}

static int limit_next(dq_op *op, dq_batch **out, dq_error *err) {
  limit_op *l = (limit_op *)op;
  while (l->left > 0 && op->input != NULL) {
    dq_batch *in;
    int rc = dq_op_next(op->input, &in, err);
    if (rc != 0)
      return rc;
    if (in == NULL)
      break;
    int64_t n = in->n_rows, start = 0;
    if (l->skip >= n) {
      l->skip -= n;
      dq_batch_unref(in);
      continue;
    }
    start = l->skip;
    l->skip = 0;
    int64_t take = n - start < l->left ? n - start : l->left;
    l->left -= take;
    rc = dq_batch_slice(in, start, take, out, err);
    dq_batch_unref(in);
    if (l->left == 0)
      limit_stop(op);
    return rc;
  }
  limit_stop(op);
  *out = NULL;
  return 0;
}

static void limit_close(dq_op *op) {
  dq_op_close(op->input);
  free(op);
}

int dq_op_limit_open(const dq_node *n, dq_op *input, dq_op **out,
                     dq_error *err) {
  limit_op *l = calloc(1, sizeof *l);
  if (l == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a limit");
  l->skip = n->offset;
  l->left = n->count;
  l->op.next = limit_next;
  l->op.close = limit_close;
  *out = &l->op;
  return 0;
}
