/* task_plan.h — a task's plan as SetPlan carries it (proto/task.proto): the
 * task's stage plus, for each boundary it reads, the producer stage's shape,
 * its producer head and the worker of each producer task. */
#ifndef DQ_TASK_PLAN_H
#define DQ_TASK_PLAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>
#include <dq/plan.h>

#include "plan/plan_internal.h"
#include "base/internal_export.h"

typedef struct dq_input_boundary {
  uint32_t producer_stage_id;
  uint32_t producer_task_count;  /* N_p */
  uint32_t producer_partitions;  /* P_p after the producer head */
  dq_producer_head head;         /* decoded */
  uint8_t *head_bytes;           /* encoded, as ExecuteTask sends it */
  size_t head_len;
  char **urls;                   /* producer_task_count worker URLs */
} dq_input_boundary;

/* Immutable once decoded, and reference-counted: a worker shares one
 * decoded plan between the tasks whose SetPlan carried the same bytes. */
typedef struct dq_task_plan {
  atomic_long refs;
  dq_plan *plan;         /* the decoded one-stage plan */
  const dq_stage *stage; /* its stage */
  size_t n_inputs;
  dq_input_boundary *inputs;
} dq_task_plan;

/* Output partitions a producer task has after its head: a shuffle's
 * partition count, a broadcast's single cache, else its own partitions. */
uint32_t dq_head_partitions(const dq_producer_head *h,
                            uint32_t producer_partitions);

/* Encodes stage + inputs (urls: inputs[i].producer_task_count each). */
DQ_INTERNAL
int dq_task_plan_encode(const dq_stage *stage, const dq_input_boundary *inputs,
                        size_t n_inputs, uint8_t **buf, size_t *len,
                        dq_error *err);
/* Decodes and checks: one stage; one input per READ of the stage, no more;
 * a URL per producer task; a valid producer head.  Untrusted input: any
 * inconsistency is DQ_EPROTO or DQ_EINVAL with a sentence. */
DQ_INTERNAL
int dq_task_plan_decode(const uint8_t *buf, size_t len, dq_task_plan **out,
                        dq_error *err);
dq_task_plan *dq_task_plan_ref(dq_task_plan *tp);
/* Drops a reference; the last one frees the plan. */
DQ_INTERNAL
void dq_task_plan_free(dq_task_plan *tp);
/* The input reading producer_stage_id, or NULL. */
const dq_input_boundary *dq_task_plan_input(const dq_task_plan *tp,
                                            uint32_t producer_stage_id);
/* The schema of the stage's READ of producer_stage_id (the producer's
 * output schema), or NULL when the stage has no such READ. */
const dq_schema *dq_stage_read_schema(const dq_stage *s,
                                      uint32_t producer_stage_id);
/* Frees what one input owns (not the struct). */
DQ_INTERNAL
void dq_input_boundary_clear(dq_input_boundary *in);

#endif /* DQ_TASK_PLAN_H */
