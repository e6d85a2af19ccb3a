/* op_filter.c — FILTER: evaluates the predicate over a batch, turns
 * "true and not null" into a selection, and gathers the selected rows.
 *
 * A batch whose rows all pass is passed on as is (no copy); one where none
 * pass is dropped, so the filter never emits an empty batch. */
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

typedef struct filter_op {
  dq_op op;
  uint32_t *idx; /* selection scratch, reused across batches */
  int64_t cap;
} filter_op;

static int filter_next(dq_op *op, dq_batch **out, dq_error *err) {
  filter_op *f = (filter_op *)op;
  for (;;) {
    dq_batch *in;
    int rc = dq_op_next(op->input, &in, err);
    if (rc != 0 || in == NULL)
      return rc;
    dq_array *pred;
    if ((rc = dq_expr_eval(op->node->predicate, in, &pred, err)) != 0) {
      dq_batch_unref(in);
      return rc;
    }
    int64_t n = in->n_rows;
    if (n > f->cap) {
      uint32_t *p = realloc(f->idx, (size_t)n * sizeof *p);
      if (p == NULL) {
        dq_array_unref(pred);
        dq_batch_unref(in);
        return dq_error_set(err, DQ_ENOMEM, "out of memory filtering");
      }
      f->idx = p;
      f->cap = n;
    }
    const uint8_t *v = pred->values->data;
    const uint8_t *valid = pred->validity ? pred->validity->data : NULL;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i += 8) {
      unsigned byte = v[i >> 3];
      if (valid)
        byte &= valid[i >> 3];
      if (n - i < 8)
        byte &= (1u << (n - i)) - 1;
      while (byte) {
        f->idx[k++] = (uint32_t)(i + __builtin_ctz(byte));
        byte &= byte - 1;
      }
    }
    dq_array_unref(pred);
    if (k == n) {
      *out = in;
      return 0;
    }
    if (k == 0) {
      dq_batch_unref(in);
      continue;
    }
    rc = dq_batch_take(in, f->idx, k, out, err);
    dq_batch_unref(in);
    return rc;
  }
}

static void filter_close(dq_op *op) {
  filter_op *f = (filter_op *)op;
  dq_op_close(op->input);
  free(f->idx);
  free(f);
}

int dq_op_filter_open(const dq_node *n, dq_op *input, dq_op **out,
                      dq_error *err) {
  filter_op *f = calloc(1, sizeof *f);
  if (f == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a filter");
  f->op.next = filter_next;
  f->op.close = filter_close;
  *out = &f->op;
  return 0;
}
