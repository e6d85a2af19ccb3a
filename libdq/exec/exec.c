/* exec.c — pipelines: building a stage's operator tree for one partition
 * (every input of a join or union gets its own subtree for that
 * partition), pulling batches through it, cancellation between batches,
 * the pipeline's memory account (bytes held by operators, and the peak),
 * and the single-process runner for one-stage plans (dq_plan_run_local).
 *
 * Operators live one per file (op_*.c); this file only wires them.  Every
 * pull goes through dq_op_next(), so the cancellation check sits in one
 * place and runs between every two batches at every level. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

struct dq_exec {
  dq_exec_env env; /* operators point at this copy */
  dq_mem_account mem;
  const dq_stage *stage;
  dq_op *root;
  bool done;
};

bool dq_exec_cancelled(const dq_exec_env *env) {
  return env->cancelled != NULL &&
         atomic_load_explicit(env->cancelled, memory_order_relaxed);
}

void dq_mem_add(const dq_exec_env *env, int64_t delta) {
  dq_mem_account *m = env ? env->mem : NULL;
  if (m == NULL)
    return;
  m->cur += delta;
  if (m->cur > m->peak)
    m->peak = m->cur;
}

int64_t dq_exec_memory_peak(const dq_exec *e) { return e ? e->mem.peak : 0; }

int dq_op_next(dq_op *op, dq_batch **out, dq_error *err) {
  *out = NULL;
  if (dq_exec_cancelled(op->env))
    return dq_error_set(err, DQ_ECANCELED, "the query was cancelled");
  return op->next(op, out, err);
}

void dq_op_close(dq_op *op) {
  if (op != NULL)
    op->close(op);
}

int dq_op_open(const dq_node *node, const dq_exec_env *env,
               uint32_t partition, dq_op **out, dq_error *err) {
  *out = NULL;
  if (node->kind == DQ_NODE_SCAN)
    return dq_op_scan_open(node, env, partition, out, err);
  if (node->kind == DQ_NODE_READ)
    return dq_op_read_open(node, env, partition, out, err);
  dq_op *input = NULL;
  int rc = dq_op_open(node->input, env, partition, &input, err);
  if (rc != 0)
    return rc;
  /* Every further input gets its own operator tree for this partition:
   * a join's build side, a union's other inputs. */
  dq_op **more = NULL;
  if (node->n_more > 0) {
    more = calloc(node->n_more, sizeof *more);
    if (more == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory opening a pipeline");
    for (size_t i = 0; rc == 0 && i < node->n_more; i++)
      rc = dq_op_open(node->more[i], env, partition, &more[i], err);
    if (rc != 0) {
      for (size_t i = 0; more != NULL && i < node->n_more; i++)
        dq_op_close(more[i]);
      free(more);
      dq_op_close(input);
      return rc;
    }
  }
  switch (node->kind) {
  case DQ_NODE_HASH_JOIN:
    rc = dq_op_hash_join_open(node, input, more[0], out, err);
    break;
  case DQ_NODE_UNION:
    rc = dq_op_union_open(node, input, more, out, err);
    break;
  case DQ_NODE_TOPN: rc = dq_op_topn_open(node, input, out, err); break;
  case DQ_NODE_FILTER: rc = dq_op_filter_open(node, input, out, err); break;
  case DQ_NODE_PROJECT: rc = dq_op_project_open(node, input, out, err); break;
  case DQ_NODE_AGGREGATE:
    rc = dq_op_aggregate_open(node, input, out, err);
    break;
  case DQ_NODE_SORT: rc = dq_op_sort_open(node, input, out, err); break;
  case DQ_NODE_LIMIT: rc = dq_op_limit_open(node, input, out, err); break;
  default:
    rc = dq_error_set(err, DQ_EINTERNAL, "no operator for node kind %d",
                      (int)node->kind);
    break;
  }
  /* An operator takes over its inputs only when it opens: a join its
   * build operator, a union the `more` array too. */
  if (rc != 0) {
    for (size_t i = 0; more != NULL && i < node->n_more; i++)
      dq_op_close(more[i]);
    free(more);
    dq_op_close(input);
    return rc;
  }
  if (node->kind != DQ_NODE_UNION)
    free(more);
  (*out)->node = node;
  (*out)->env = env;
  (*out)->partition = partition;
  (*out)->input = input;
  return 0;
}

int dq_exec_open(const dq_stage *stage, const dq_exec_env *env,
                 uint32_t partition, dq_exec **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_exec_open: out is NULL");
  *out = NULL;
  if (stage == NULL || env == NULL || stage->root == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_exec_open: no stage or env");
  if (partition >= stage->partitions)
    return dq_error_set(err, DQ_EINVAL, "partition %" PRIu32 " is out of "
                        "range: stage %" PRIu32 " has %" PRIu32
                        " partitions", partition, stage->id,
                        stage->partitions);
  if (env->task_count == 0 || env->task_number >= env->task_count)
    return dq_error_set(err, DQ_EINVAL, "task %" PRIu32 " of %" PRIu32
                        " is not a valid task", env->task_number,
                        env->task_count);
  dq_exec *e = calloc(1, sizeof *e);
  if (e == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a pipeline");
  e->env = *env;
  e->env.mem = &e->mem;
  e->env.root = stage->root;
  if (e->env.batch_rows <= 0)
    e->env.batch_rows = DQ_EXEC_DEFAULT_BATCH_ROWS;
  if (e->env.n_partitions == 0)
    e->env.n_partitions = stage->partitions;
  e->stage = stage;
  int rc = dq_op_open(stage->root, &e->env, partition, &e->root, err);
  if (rc != 0) {
    free(e);
    return rc;
  }
  *out = e;
  return 0;
}

int dq_exec_next(dq_exec *e, dq_batch **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_exec_next: out is NULL");
  *out = NULL;
  if (e == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_exec_next: the pipeline is "
                        "NULL");
  if (e->done)
    return 0;
  int rc = dq_op_next(e->root, out, err);
  if (rc == 0 && *out == NULL) {
    /* Release inputs (readers, generators) as soon as the end is known. */
    e->done = true;
    dq_op_close(e->root);
    e->root = NULL;
  }
  return rc;
}

void dq_exec_close(dq_exec *e) {
  if (e == NULL)
    return;
  dq_op_close(e->root);
  free(e);
}

const dq_schema *dq_exec_schema(const dq_exec *e) {
  return e ? dq_stage_schema(e->stage) : NULL;
}

int dq_plan_run_local(const dq_plan *p, dq_batch_fn on_batch, void *ctx,
                      dq_error *err) {
  if (p == NULL || on_batch == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_run_local: the plan or the "
                        "callback is NULL");
  if (p->n_stages != 1)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_run_local runs one-stage "
                        "plans; this one has %zu stages", p->n_stages);
  const dq_stage *s = &p->stages[0];
  if (dq_node_reads(s->root, NULL, 0) > 0)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_run_local cannot run a "
                        "plan that reads other stages");
  dq_exec_env env;
  memset(&env, 0, sizeof env);
  env.task_number = 0;
  env.task_count = 1;
  env.n_partitions = 1;
  env.batch_rows = DQ_EXEC_DEFAULT_BATCH_ROWS;
  /* The head has one partition; a lone non-head stage is run as one task
   * covering all its partitions, one after the other. */
  int rc = 0;
  env.n_partitions = s->partitions;
  for (uint32_t part = 0; part < s->partitions && rc == 0; part++) {
    dq_exec *e;
    if ((rc = dq_exec_open(s, &env, part, &e, err)) != 0)
      return rc;
    for (;;) {
      dq_batch *b;
      if ((rc = dq_exec_next(e, &b, err)) != 0 || b == NULL)
        break;
      rc = on_batch(ctx, b, err);
      dq_batch_unref(b);
      if (rc != 0)
        break;
    }
    dq_exec_close(e);
    if (rc > 0)
      return 0;
  }
  if (rc < 0 && err != NULL && err->code == 0)
    dq_error_set(err, rc, "the result callback failed (%s)",
                 dq_strerror(rc));
  return rc;
}
