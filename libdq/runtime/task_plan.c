/* task_plan.c — encoding and checking task plans (see task_plan.h).  The
 * worker decodes them from the network, so the decoder checks every count
 * against the stage it describes before anything uses it. */
#include <stdlib.h>
#include <string.h>

#include "task.pb-c.h"
#include "runtime/task_plan.h"

#define MAX_PRODUCER_TASKS 65536

uint32_t dq_head_partitions(const dq_producer_head *h,
                            uint32_t producer_partitions) {
  switch (h->kind) {
  case DQ_BOUNDARY_SHUFFLE: return h->partition_count;
  case DQ_BOUNDARY_BROADCAST: return 1;
  default: return producer_partitions;
  }
}

int dq_task_plan_encode(const dq_stage *stage, const dq_input_boundary *inputs,
                        size_t n_inputs, uint8_t **buf, size_t *len,
                        dq_error *err) {
  *buf = NULL;
  uint8_t *stage_bytes = NULL;
  size_t stage_len = 0;
  int rc = dq_stage_encode(stage, &stage_bytes, &stage_len, err);
  if (rc < 0)
    return rc;
  Dq__V1__TaskPlan tp = DQ__V1__TASK_PLAN__INIT;
  tp.stage.data = stage_bytes;
  tp.stage.len = stage_len;
  Dq__V1__InputBoundary *ib = calloc(n_inputs ? n_inputs : 1, sizeof *ib);
  Dq__V1__InputBoundary **ibp = calloc(n_inputs ? n_inputs : 1, sizeof *ibp);
  if (ib == NULL || ibp == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n_inputs; i++) {
    dq__v1__input_boundary__init(&ib[i]);
    ib[i].producer_stage_id = inputs[i].producer_stage_id;
    ib[i].producer_task_count = inputs[i].producer_task_count;
    ib[i].producer_partitions = inputs[i].producer_partitions;
    ib[i].producer_head.data = inputs[i].head_bytes;
    ib[i].producer_head.len = inputs[i].head_len;
    ib[i].n_producer_worker_urls = inputs[i].producer_task_count;
    ib[i].producer_worker_urls = inputs[i].urls;
    ibp[i] = &ib[i];
  }
  tp.n_inputs = n_inputs;
  tp.inputs = ibp;
  *len = dq__v1__task_plan__get_packed_size(&tp);
  *buf = malloc(*len ? *len : 1);
  if (*buf == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    goto out;
  }
  dq__v1__task_plan__pack(&tp, *buf);
out:
  free(ib);
  free(ibp);
  free(stage_bytes);
  return rc;
}

void dq_input_boundary_clear(dq_input_boundary *in) {
  dq_producer_head_clear(&in->head);
  free(in->head_bytes);
  if (in->urls != NULL)
    for (uint32_t i = 0; i < in->producer_task_count; i++)
      free(in->urls[i]);
  free(in->urls);
  memset(in, 0, sizeof *in);
}

dq_task_plan *dq_task_plan_ref(dq_task_plan *tp) {
  atomic_fetch_add(&tp->refs, 1);
  return tp;
}

void dq_task_plan_free(dq_task_plan *tp) {
  if (tp == NULL || atomic_fetch_sub(&tp->refs, 1) != 1)
    return;
  for (size_t i = 0; i < tp->n_inputs; i++)
    dq_input_boundary_clear(&tp->inputs[i]);
  free(tp->inputs);
  dq_plan_free(tp->plan);
  free(tp);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static int decode_input(const Dq__V1__InputBoundary *m, dq_input_boundary *in,
                        dq_error *err) {
  if (m->producer_task_count == 0 ||
      m->producer_task_count > MAX_PRODUCER_TASKS)
    return dq_error_set(err, DQ_EPROTO,
                        "task plan: input from stage %u has %u producer "
                        "tasks (expected 1 to %u)",
                        m->producer_stage_id, m->producer_task_count,
                        MAX_PRODUCER_TASKS);
  if (m->n_producer_worker_urls != m->producer_task_count)
    return dq_error_set(err, DQ_EPROTO,
                        "task plan: input from stage %u names %zu workers "
                        "for %u producer tasks",
                        m->producer_stage_id, m->n_producer_worker_urls,
                        m->producer_task_count);
  if (m->producer_partitions == 0)
    return dq_error_set(err, DQ_EPROTO,
                        "task plan: input from stage %u has 0 partitions",
                        m->producer_stage_id);
  in->producer_stage_id = m->producer_stage_id;
  in->producer_task_count = m->producer_task_count;
  in->producer_partitions = m->producer_partitions;
  int rc = dq_producer_head_decode(m->producer_head.data, m->producer_head.len,
                                   &in->head, err);
  if (rc < 0)
    return rc;
  if (in->head.kind != DQ_BOUNDARY_SHUFFLE &&
      in->head.kind != DQ_BOUNDARY_COALESCE &&
      in->head.kind != DQ_BOUNDARY_BROADCAST)
    return dq_error_set(err, DQ_EPROTO,
                        "task plan: input from stage %u has no boundary kind",
                        m->producer_stage_id);
  if (dq_head_partitions(&in->head, in->producer_partitions) == 0)
    return dq_error_set(err, DQ_EPROTO,
                        "task plan: input from stage %u has 0 partitions "
                        "after its producer head",
                        m->producer_stage_id);
  in->head_len = m->producer_head.len;
  in->head_bytes = malloc(in->head_len ? in->head_len : 1);
  in->urls = calloc(m->producer_task_count, sizeof *in->urls);
  if (in->head_bytes == NULL || in->urls == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  memcpy(in->head_bytes, m->producer_head.data, in->head_len);
  for (uint32_t i = 0; i < m->producer_task_count; i++) {
    in->urls[i] = dup_str(m->producer_worker_urls[i]);
    if (in->urls[i] == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  return 0;
}

int dq_task_plan_decode(const uint8_t *buf, size_t len, dq_task_plan **out,
                        dq_error *err) {
  *out = NULL;
  Dq__V1__TaskPlan *m = dq__v1__task_plan__unpack(NULL, len, buf);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO,
                        "task plan: %zu bytes are not a dq.v1.TaskPlan", len);
  dq_task_plan *tp = calloc(1, sizeof *tp);
  int rc = tp ? 0 : dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (tp != NULL)
    atomic_init(&tp->refs, 1);
  if (rc == 0)
    rc = dq_plan_decode(m->stage.data, m->stage.len, &tp->plan, err);
  if (rc == 0 && dq_plan_n_stages(tp->plan) != 1)
    rc = dq_error_set(err, DQ_EPROTO,
                      "task plan: holds %zu stages, expected exactly one",
                      dq_plan_n_stages(tp->plan));
  if (rc == 0) {
    tp->stage = dq_plan_head(tp->plan);
    uint32_t ids[64];
    size_t n_reads = dq_stage_inputs(tp->stage, ids, 64);
    if (n_reads > 64 || n_reads != m->n_inputs)
      rc = dq_error_set(err, DQ_EPROTO,
                        "task plan: stage %u reads %zu boundaries but the "
                        "plan describes %zu",
                        dq_stage_id(tp->stage), n_reads, m->n_inputs);
    tp->inputs = calloc(m->n_inputs ? m->n_inputs : 1, sizeof *tp->inputs);
    if (rc == 0 && tp->inputs == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < m->n_inputs; i++) {
      tp->n_inputs = i + 1;
      rc = decode_input(m->inputs[i], &tp->inputs[i], err);
      if (rc == 0 && tp->inputs[i].producer_stage_id != ids[i])
        rc = dq_error_set(err, DQ_EPROTO,
                          "task plan: input %zu is from stage %u, but stage "
                          "%u reads stage %u there",
                          i, tp->inputs[i].producer_stage_id,
                          dq_stage_id(tp->stage), ids[i]);
    }
  }
  dq__v1__task_plan__free_unpacked(m, NULL);
  if (rc < 0) {
    dq_task_plan_free(tp);
    return rc;
  }
  *out = tp;
  return 0;
}

const dq_input_boundary *dq_task_plan_input(const dq_task_plan *tp,
                                            uint32_t producer_stage_id) {
  for (size_t i = 0; i < tp->n_inputs; i++)
    if (tp->inputs[i].producer_stage_id == producer_stage_id)
      return &tp->inputs[i];
  return NULL;
}

/* Walks every input of every node (a join has two, a union several), the
 * way dq_stage_inputs does. */
static const dq_schema *find_read(const dq_node *n, uint32_t producer) {
  const dq_node *reads[64];
  size_t nr = dq_node_reads(n, reads, 64);
  for (size_t i = 0; i < nr && i < 64; i++)
    if (reads[i]->producer == producer)
      return reads[i]->schema;
  return NULL;
}

const dq_schema *dq_stage_read_schema(const dq_stage *s,
                                      uint32_t producer_stage_id) {
  return find_read(s->root, producer_stage_id);
}
