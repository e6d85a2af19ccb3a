/* stage.c — stages and plans: a stage's own checks, the whole-plan
 * checks (ids, consumers, matching schemas), the accessors of dq/plan.h,
 * and the producer head a stage's output boundary needs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan_internal.h"

void dq_stage_clear(dq_stage *s) {
  dq_node_unref(s->root);
  free(s->keys);
  memset(s, 0, sizeof *s);
}

int dq_stage_check(const dq_stage *s, dq_error *err) {
  if (s->id == 0)
    return dq_error_set(err, DQ_EINVAL, "a stage has id 0; stages are "
                        "numbered from 1");
  if (s->root == NULL)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has no root node",
                        s->id);
  if (s->task_count == 0 || s->partitions == 0)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " needs at least one "
                        "task and one partition (has %" PRIu32 " and %" PRIu32
                        ")", s->id, s->task_count, s->partitions);
  /* Plans arrive from the network and a worker starts a thread per
   * pipeline: bound what one plan can ask for. */
  if (s->task_count > DQ_MAX_TASKS || s->partitions > DQ_MAX_PARTITIONS)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " asks for %" PRIu32
                        " tasks of %" PRIu32 " partitions; the limits are %u "
                        "tasks and %u partitions per task",
                        s->id, s->task_count, s->partitions, DQ_MAX_TASKS,
                        DQ_MAX_PARTITIONS);
  switch (s->out_kind) {
  case DQ_BOUNDARY_NONE:
    if (s->n_keys != 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " is the head but "
                          "has shuffle keys", s->id);
    break;
  case DQ_BOUNDARY_SHUFFLE:
    if (s->n_keys == 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " shuffles on no "
                          "key", s->id);
    for (size_t i = 0; i < s->n_keys; i++)
      if (s->keys[i] >= dq_schema_n_fields(s->root->schema))
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " shuffles on "
                            "column %" PRIu32 ", but its output has %zu "
                            "columns", s->id, s->keys[i],
                            dq_schema_n_fields(s->root->schema));
    break;
  case DQ_BOUNDARY_COALESCE:
  case DQ_BOUNDARY_BROADCAST:
    if (s->n_keys != 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has keys but "
                          "only a shuffle takes keys", s->id);
    break;
  default:
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has an unknown "
                        "boundary kind %d", s->id, (int)s->out_kind);
  }
  if (s->out_kind != DQ_BOUNDARY_NONE && s->consumer != 0) {
    if (s->consumer <= s->id)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " feeds stage %"
                          PRIu32 "; a consumer must come later", s->id,
                          s->consumer);
    if (s->consumer_tasks == 0 || s->consumer_partitions == 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s boundary "
                          "lacks its consumer's task and partition counts",
                          s->id);
  }
  return 0;
}

static const dq_stage *find_stage(const dq_plan *p, uint32_t id) {
  for (size_t i = 0; p != NULL && i < p->n_stages; i++)
    if (p->stages[i].id == id)
      return &p->stages[i];
  return NULL;
}

int dq_plan_check(dq_plan *p, bool complete, dq_error *err) {
  int rc;
  if (complete && p->n_stages == 0)
    return dq_error_set(err, DQ_EINVAL, "the plan has no stages");
  for (size_t i = 0; i < p->n_stages; i++) {
    dq_stage *s = &p->stages[i];
    if ((rc = dq_stage_check(s, err)) != 0)
      return rc;
    for (size_t j = 0; j < i; j++)
      if (p->stages[j].id == s->id)
        return dq_error_set(err, DQ_EINVAL, "two stages have id %" PRIu32,
                            s->id);
    if (complete && s->id != i + 1)
      return dq_error_set(err, DQ_EINVAL, "stage %zu has id %" PRIu32 "; "
                          "stages are numbered 1..n in order", i + 1, s->id);
    bool head = complete && i + 1 == p->n_stages;
    if (head && (s->out_kind != DQ_BOUNDARY_NONE || s->task_count != 1 ||
                 s->partitions != 1))
      return dq_error_set(err, DQ_EINVAL, "the last stage (%" PRIu32 ") is "
                          "the head: it must have no output boundary, one "
                          "task and one partition", s->id);
    if (complete && !head && s->out_kind == DQ_BOUNDARY_NONE)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " is not the last "
                          "stage but has no output boundary", s->id);
    /* Each READ: an earlier producer, read once, with matching schema. */
    const dq_node *reads[64];
    size_t nr = dq_node_reads(s->root, reads, 64);
    if (nr > 64)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads %zu "
                          "boundaries; at most 64 are supported", s->id, nr);
    for (size_t r = 0; r < nr; r++) {
      const dq_node *n = reads[r];
      if (n->producer >= s->id)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 "; a stage reads only earlier stages",
                            s->id, n->producer);
      const dq_stage *q = find_stage(p, n->producer);
      if (q == NULL) {
        if (complete)
          return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage "
                              "%" PRIu32 ", which does not exist", s->id,
                              n->producer);
        continue;
      }
      if (q->out_kind == DQ_BOUNDARY_NONE)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 ", which has no output boundary", s->id,
                            q->id);
      if (q->consumer != s->id)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 ", whose output goes to stage %" PRIu32,
                            s->id, q->id, q->consumer);
      if (q->consumer_tasks != s->task_count ||
          q->consumer_partitions != s->partitions)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s boundary "
                            "expects %" PRIu32 " consumer tasks of %" PRIu32
                            " partitions but stage %" PRIu32 " has %" PRIu32
                            " of %" PRIu32, q->id, q->consumer_tasks,
                            q->consumer_partitions, s->id, s->task_count,
                            s->partitions);
      if (!dq_schema_equal(q->root->schema, n->schema))
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 " with a schema other than its output",
                            s->id, q->id);
    }
  }
  if (complete)
    for (size_t i = 0; i + 1 < p->n_stages; i++) {
      const dq_stage *s = &p->stages[i];
      const dq_stage *c = find_stage(p, s->consumer);
      size_t reads = 0;
      const dq_node *rv[64];
      size_t nr = c ? dq_node_reads(c->root, rv, 64) : 0;
      for (size_t r = 0; r < nr && r < 64; r++)
        reads += rv[r]->producer == s->id;
      if (reads != 1)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s output is "
                            "read %zu times; each boundary has exactly one "
                            "reader", s->id, reads);
    }
  return 0;
}

void dq_plan_free(dq_plan *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n_stages; i++)
    dq_stage_clear(&p->stages[i]);
  free(p->stages);
  free(p);
}

size_t dq_plan_n_stages(const dq_plan *p) { return p ? p->n_stages : 0; }

const dq_stage *dq_plan_stage_by_id(const dq_plan *p, uint32_t id) {
  return find_stage(p, id);
}

const dq_stage *dq_plan_head(const dq_plan *p) {
  const dq_stage *h = NULL;
  for (size_t i = 0; p != NULL && i < p->n_stages; i++)
    if (h == NULL || p->stages[i].id > h->id)
      h = &p->stages[i];
  return h;
}

uint32_t dq_stage_id(const dq_stage *s) { return s ? s->id : 0; }
uint32_t dq_stage_task_count(const dq_stage *s) {
  return s ? s->task_count : 0;
}
uint32_t dq_stage_partitions(const dq_stage *s) {
  return s ? s->partitions : 0;
}
const dq_schema *dq_stage_schema(const dq_stage *s) {
  return s && s->root ? s->root->schema : NULL;
}
dq_boundary_kind dq_stage_boundary_kind(const dq_stage *s) {
  return s ? s->out_kind : DQ_BOUNDARY_NONE;
}
uint32_t dq_stage_consumer(const dq_stage *s) { return s ? s->consumer : 0; }
const uint32_t *dq_stage_boundary_keys(const dq_stage *s, size_t *n_keys) {
  if (n_keys)
    *n_keys = s ? s->n_keys : 0;
  return s ? s->keys : NULL;
}

size_t dq_stage_inputs(const dq_stage *s, uint32_t *ids, size_t cap) {
  size_t count = 0;
  /* Ascending insertion; stages have few reads. */
  uint32_t tmp[64];
  const dq_node *reads[64];
  size_t nr = s ? dq_node_reads(s->root, reads, 64) : 0;
  for (size_t r = 0; r < nr && r < 64; r++) {
    const dq_node *n = reads[r];
    size_t j = count++;
    while (j > 0 && tmp[j - 1] > n->producer) {
      tmp[j] = tmp[j - 1];
      j--;
    }
    tmp[j] = n->producer;
  }
  for (size_t i = 0; i < count && i < cap; i++)
    ids[i] = tmp[i];
  return count;
}

int dq_stage_producer_head(const dq_stage *s, dq_producer_head *out,
                           dq_error *err) {
  memset(out, 0, sizeof *out);
  out->kind = s->out_kind;
  switch (s->out_kind) {
  case DQ_BOUNDARY_SHUFFLE: {
    uint64_t n = (uint64_t)s->consumer_tasks * s->consumer_partitions;
    if (n == 0 || n > UINT32_MAX)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s shuffle has "
                          "no valid consumer partition count", s->id);
    out->n_keys = s->n_keys;
    out->keys = s->keys;
    out->partition_count = (uint32_t)n;
    return 0;
  }
  case DQ_BOUNDARY_COALESCE:
  case DQ_BOUNDARY_BROADCAST:
    /* Pass-through: the task's own pipelines are its partitions. */
    out->partition_count = s->partitions;
    return 0;
  default:
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has no output "
                        "boundary", s->id);
  }
}

void dq_producer_head_clear(dq_producer_head *h) {
  free(h->keys);
  memset(h, 0, sizeof *h);
}
