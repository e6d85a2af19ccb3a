/* op_read.c — READ: the leaf that pulls another stage's output from the
 * runtime through the env's reader callbacks.
 *
 * The reader is opened on the first pull, not when the pipeline is built,
 * so a pipeline that is closed unused never asks the runtime for data.
 * Every batch is checked against the producer schema the plan was
 * type-checked with: a mismatch is the peer's fault, DQ_EPROTO. */
#include <inttypes.h>
#include <stdlib.h>

#include "exec/exec.h"

typedef struct read_op {
  dq_op op;
  void *reader;
  bool opened, ended;
} read_op;

static int read_next(dq_op *op, dq_batch **out, dq_error *err) {
  read_op *r = (read_op *)op;
  const dq_exec_env *env = op->env;
  const dq_node *n = op->node;
  *out = NULL;
  if (r->ended)
    return 0;
  if (!r->opened) {
    if (env->read_open == NULL || env->read_next == NULL)
      return dq_error_set(err, DQ_EINVAL, "this pipeline has no reader for "
                          "stage %" PRIu32 "'s output", n->producer);
    int rc = env->read_open(env->reader_ctx, n->producer, op->partition,
                            &r->reader, err);
    if (rc != 0)
      return rc;
    r->opened = true;
  }
  for (;;) {
    dq_batch *b = NULL;
    int rc = env->read_next(env->reader_ctx, r->reader, &b, err);
    if (rc != 0)
      return rc;
    if (b == NULL) {
      r->ended = true;
      return 0;
    }
    if (b->n_rows == 0) {
      dq_batch_unref(b);
      continue;
    }
    bool ok = b->schema->n_fields == n->schema->n_fields;
    for (size_t i = 0; ok && i < n->schema->n_fields; i++)
      ok = dq_type_equal(b->schema->types[i], n->schema->types[i]);
    if (!ok) {
      dq_batch_unref(b);
      return dq_error_set(err, DQ_EPROTO, "a batch read from stage %" PRIu32
                          " does not have that stage's output schema",
                          n->producer);
    }
    dq_error e2;
    rc = dq_batch_reschema(b, n->schema, out, &e2);
    dq_batch_unref(b);
    if (rc != 0)
      return dq_error_set(err, DQ_EPROTO, "a batch read from stage %" PRIu32
                          " does not fit its schema: %s", n->producer,
                          e2.message);
    return 0;
  }
}

static void read_close(dq_op *op) {
  read_op *r = (read_op *)op;
  if (r->opened && op->env->read_close != NULL)
    op->env->read_close(op->env->reader_ctx, r->reader);
  free(r);
}

int dq_op_read_open(const dq_node *n, const dq_exec_env *env,
                    uint32_t partition, dq_op **out, dq_error *err) {
  read_op *r = calloc(1, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a read");
  r->op.next = read_next;
  r->op.close = read_close;
  r->op.node = n;
  r->op.env = env;
  r->op.partition = partition;
  *out = &r->op;
  return 0;
}
