/* exec.h — the executor's interface to the runtime: running one pipeline of
 * a stage (a stage's node tree for one partition of one task), and the
 * shuffle producer head's hash partitioner.  Below that, the operator
 * interface the op_*.c files implement.
 *
 * Pull model: dq_exec_next() pulls one batch through the pipeline.  Every
 * operator checks env->cancelled between batches and fails with
 * DQ_ECANCELED once it is set.  Output batches never have 0 rows.
 */
#ifndef DQ_EXEC_H
#define DQ_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <dq/batch.h>
#include <dq/plan.h>

#include "plan/plan_internal.h"
#include "base/internal_export.h"
#include "scan/source.h"

typedef struct dq_exec_env {
  uint32_t task_number, task_count; /* this task, in its stage */
  uint32_t n_partitions;            /* the stage's P */
  int64_t batch_rows;               /* target rows per batch, e.g. 8192 */
  const atomic_bool *cancelled;     /* may be NULL: never cancelled */
  /* READ leaves pull from the runtime.  read_open may leave *reader NULL
   * if the runtime needs no per-reader state. */
  void *reader_ctx;
  int (*read_open)(void *ctx, uint32_t producer_stage_id, uint32_t partition,
                   void **reader, dq_error *err);
  int (*read_next)(void *ctx, void *reader, dq_batch **out,
                   dq_error *err); /* *out = NULL at end */
  void (*read_close)(void *ctx, void *reader);
  /* The task's work units, in the order they arrived, each wrapped with
   * its scan's number (none: the scans that need them split their input
   * themselves). */
  const dq_work_unit *units;
  size_t n_units;
  /* Filled in by dq_exec_open (callers leave it NULL): the pipeline's
   * memory account, see dq_mem_add(). */
  struct dq_mem_account *mem;
  /* Filled in by dq_exec_open: the stage's root (a scan finds its
   * number among the stage's scans, which its work units name). */
  const dq_node *root;
  /* Which files scans may open (file_policy.h); NULL: any. */
  const struct dq_file_policy *files;
} dq_exec_env;

/* Bytes held by the operators of one pipeline that keep data across
 * batches (hash tables of aggregates and joins, sorted and top-N rows):
 * `cur` now and the `peak`.  One pipeline runs in one thread, so plain
 * integers do. */
typedef struct dq_mem_account {
  int64_t cur, peak;
} dq_mem_account;

/* Adds delta (negative to release) to the env's account, if any. */
void dq_mem_add(const dq_exec_env *env, int64_t delta);

#define DQ_EXEC_DEFAULT_BATCH_ROWS 8192

typedef struct dq_exec dq_exec; /* one pipeline */

/* Opens partition `partition` (< the stage's P) of the stage for task
 * env->task_number.  The env is copied; the stage must outlive the exec.
 * Nothing is read until the first dq_exec_next(). */
DQ_INTERNAL
int dq_exec_open(const dq_stage *stage, const dq_exec_env *env,
                 uint32_t partition, dq_exec **out, dq_error *err);
/* 0 with *out = a batch (the caller owns the reference), or 0 with
 * *out = NULL at the end.  After an error, only dq_exec_close(). */
DQ_INTERNAL
int dq_exec_next(dq_exec *e, dq_batch **out, dq_error *err);
/* Closes the pipeline (and its readers); safe at any point. */
DQ_INTERNAL
void dq_exec_close(dq_exec *e);
/* The schema of the pipeline's output (the stage root's). */
const dq_schema *dq_exec_schema(const dq_exec *e);
/* The most bytes the pipeline's operators held at once so far (see
 * dq_mem_account); still valid after the pipeline has ended. */
int64_t dq_exec_memory_peak(const dq_exec *e);

/* Producer head for SHUFFLE: splits a batch by a deterministic hash of the
 * key columns into n batches (outs[i] = NULL where a partition gets no
 * rows).  On error every outs[i] is NULL. */
int dq_hash_partition(const dq_batch *b, const uint32_t *key_cols,
                      size_t n_keys, uint32_t n, dq_batch **outs,
                      dq_error *err);
/* The partition of each row (< n), as dq_hash_partition routes it. */
DQ_INTERNAL
int dq_hash_partition_ids(const dq_batch *b, const uint32_t *key_cols,
                          size_t n_keys, uint32_t n, uint32_t *ids,
                          dq_error *err);

/* --- Operators (op_*.c) ----------------------------------------------------
 * An operator pulls from its input through dq_op_next(), which checks for
 * cancellation first.  close() frees the operator and its input (an
 * operator may close its input early and set it to NULL). */
typedef struct dq_op dq_op;
struct dq_op {
  int (*next)(dq_op *op, dq_batch **out, dq_error *err);
  void (*close)(dq_op *op);
  const dq_node *node;
  const dq_exec_env *env;
  uint32_t partition;
  dq_op *input;
};

int dq_op_next(dq_op *op, dq_batch **out, dq_error *err);
void dq_op_close(dq_op *op);
bool dq_exec_cancelled(const dq_exec_env *env);

/* Builds the operator tree for a node (recursively). */
int dq_op_open(const dq_node *node, const dq_exec_env *env,
               uint32_t partition, dq_op **out, dq_error *err);

/* A SCAN: its source's reader of this pipeline's slice. */
int dq_op_scan_open(const dq_node *n, const dq_exec_env *env,
                    uint32_t partition, dq_op **out, dq_error *err);
int dq_op_filter_open(const dq_node *n, dq_op *input, dq_op **out,
                      dq_error *err);
int dq_op_project_open(const dq_node *n, dq_op *input, dq_op **out,
                       dq_error *err);
int dq_op_aggregate_open(const dq_node *n, dq_op *input, dq_op **out,
                         dq_error *err);
int dq_op_sort_open(const dq_node *n, dq_op *input, dq_op **out,
                    dq_error *err);
int dq_op_limit_open(const dq_node *n, dq_op *input, dq_op **out,
                     dq_error *err);
/* build: the operator of n->more[0] (taken over when the join opens). */
int dq_op_hash_join_open(const dq_node *n, dq_op *input, dq_op *build,
                         dq_op **out, dq_error *err);
int dq_op_topn_open(const dq_node *n, dq_op *input, dq_op **out,
                    dq_error *err);
/* more: the operators of n->more[0..n_more) (the array is taken over
 * when the union opens). */
int dq_op_union_open(const dq_node *n, dq_op *input, dq_op **more,
                     dq_op **out, dq_error *err);
int dq_op_read_open(const dq_node *n, const dq_exec_env *env,
                    uint32_t partition, dq_op **out, dq_error *err);

#endif /* DQ_EXEC_H */
