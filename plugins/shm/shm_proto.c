/* shm_proto.c — worker.proto messages to and from the ABI's C types.
 * Decoders check what the C types need (a 16-byte query id, sane counts)
 * because the bytes come from another process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_internal.h"
#include "worker.pb-c.h"

static void key_to_proto(const dq_task_key *k, Dq__V1__TaskKey *m) {
  dq__v1__task_key__init(m);
  m->query_id.data = (uint8_t *)k->query_id;
  m->query_id.len = 16;
  m->stage_id = k->stage_id;
  m->task_number = k->task_number;
}

static int key_from_proto(const Dq__V1__TaskKey *m, dq_task_key *k,
                          dq_error *err) {
  if (m == NULL || m->query_id.len != 16)
    return dq_error_set(err, DQ_EPROTO, "a task key without a 16-byte "
                                        "query id");
  memcpy(k->query_id, m->query_id.data, 16);
  k->stage_id = m->stage_id;
  k->task_number = m->task_number;
  return 0;
}

#define PACK(type, msg, buf, len)                                            \
  do {                                                                       \
    *(len) = dq__v1__##type##__get_packed_size(msg);                         \
    *(buf) = malloc(*(len) ? *(len) : 1);                                    \
    if (*(buf) == NULL)                                                      \
      return DQ_ENOMEM;                                                      \
    dq__v1__##type##__pack(msg, *(buf));                                     \
  } while (0)

int shm_encode_set_plan(const dq_set_plan *sp, uint8_t **buf, size_t *len) {
  Dq__V1__SetPlan m = DQ__V1__SET_PLAN__INIT;
  Dq__V1__TaskKey k;
  key_to_proto(&sp->key, &k);
  m.task_key = &k;
  m.task_count = sp->task_count;
  m.plan.data = (uint8_t *)sp->plan;
  m.plan.len = sp->plan_len;
  m.target_worker_url = (char *)(sp->target_worker_url ? sp->target_worker_url
                                                       : "");
  Dq__V1__KeyValue *kv = calloc(sp->n_config ? sp->n_config : 1, sizeof *kv);
  Dq__V1__KeyValue **kvp =
      calloc(sp->n_config ? sp->n_config : 1, sizeof *kvp);
  if (kv == NULL || kvp == NULL) {
    free(kv);
    free(kvp);
    return DQ_ENOMEM;
  }
  for (size_t i = 0; i < sp->n_config; i++) {
    dq__v1__key_value__init(&kv[i]);
    kv[i].key = (char *)sp->config[i].key;
    kv[i].value = (char *)sp->config[i].value;
    kvp[i] = &kv[i];
  }
  m.n_config = sp->n_config;
  m.config = kvp;
  *len = dq__v1__set_plan__get_packed_size(&m);
  *buf = malloc(*len ? *len : 1);
  if (*buf != NULL)
    dq__v1__set_plan__pack(&m, *buf);
  free(kv);
  free(kvp);
  return *buf ? 0 : DQ_ENOMEM;
}

typedef struct set_plan_keep {
  Dq__V1__SetPlan *m;
  dq_kv *kv;
} set_plan_keep;

int shm_decode_set_plan(const void *data, size_t len, dq_set_plan *out,
                        void **keep, dq_error *err) {
  *keep = NULL;
  Dq__V1__SetPlan *m = dq__v1__set_plan__unpack(NULL, len, data);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a malformed SetPlan message");
  memset(out, 0, sizeof *out);
  int rc = key_from_proto(m->task_key, &out->key, err);
  set_plan_keep *k = calloc(1, sizeof *k);
  if (rc == 0 && k == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (rc == 0) {
    k->m = m;
    k->kv = calloc(m->n_config ? m->n_config : 1, sizeof *k->kv);
    if (k->kv == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  if (rc < 0) {
    if (k)
      free(k->kv);
    free(k);
    dq__v1__set_plan__free_unpacked(m, NULL);
    return rc;
  }
  for (size_t i = 0; i < m->n_config; i++) {
    k->kv[i].key = m->config[i]->key;
    k->kv[i].value = m->config[i]->value;
  }
  out->task_count = m->task_count;
  out->plan = m->plan.data;
  out->plan_len = m->plan.len;
  out->target_worker_url = m->target_worker_url;
  out->config = k->kv;
  out->n_config = m->n_config;
  *keep = k;
  return 0;
}

int shm_encode_execute(const dq_execute_task *req, uint8_t **buf,
                       size_t *len) {
  Dq__V1__ExecuteTaskRequest m = DQ__V1__EXECUTE_TASK_REQUEST__INIT;
  Dq__V1__TaskKey k;
  key_to_proto(&req->key, &k);
  m.task_key = &k;
  m.partition_start = req->partition_start;
  m.partition_end = req->partition_end;
  m.producer_head.data = (uint8_t *)req->producer_head;
  m.producer_head.len = req->producer_head_len;
  PACK(execute_task_request, &m, buf, len);
  return 0;
}

int shm_decode_execute(const void *data, size_t len, dq_execute_task *out,
                       void **keep, dq_error *err) {
  *keep = NULL;
  Dq__V1__ExecuteTaskRequest *m =
      dq__v1__execute_task_request__unpack(NULL, len, data);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO,
                        "a malformed ExecuteTaskRequest message");
  memset(out, 0, sizeof *out);
  int rc = key_from_proto(m->task_key, &out->key, err);
  if (rc < 0) {
    dq__v1__execute_task_request__free_unpacked(m, NULL);
    return rc;
  }
  out->partition_start = m->partition_start;
  out->partition_end = m->partition_end;
  out->producer_head = m->producer_head.data;
  out->producer_head_len = m->producer_head.len;
  *keep = m;
  return 0;
}

int shm_encode_metrics(const dq_task_metrics *mt, uint8_t **buf,
                       size_t *len) {
  Dq__V1__TaskMetrics m = DQ__V1__TASK_METRICS__INIT;
  Dq__V1__TaskKey k;
  key_to_proto(&mt->key, &k);
  m.task_key = &k;
  m.plan_bytes = mt->plan_bytes;
  m.queued_ns = mt->queued_ns;
  m.run_ns = mt->run_ns;
  m.rows_out = mt->rows_out;
  m.batches_out = mt->batches_out;
  m.bytes_out = mt->bytes_out;
  size_t n = mt->n_boundaries;
  Dq__V1__BoundaryMetrics *b = calloc(n ? n : 1, sizeof *b);
  Dq__V1__BoundaryMetrics **bp = calloc(n ? n : 1, sizeof *bp);
  if (b == NULL || bp == NULL) {
    free(b);
    free(bp);
    return DQ_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const dq_boundary_metrics *s = &mt->boundaries[i];
    dq__v1__boundary_metrics__init(&b[i]);
    b[i].producer_stage_id = s->producer_stage_id;
    b[i].kind = s->kind;
    b[i].bytes = s->bytes;
    b[i].batches = s->batches;
    b[i].rows = s->rows;
    b[i].latency_ns = s->latency_ns;
    b[i].buffered_peak = s->buffered_peak;
    bp[i] = &b[i];
  }
  m.n_boundaries = n;
  m.boundaries = bp;
  *len = dq__v1__task_metrics__get_packed_size(&m);
  *buf = malloc(*len ? *len : 1);
  if (*buf != NULL)
    dq__v1__task_metrics__pack(&m, *buf);
  free(b);
  free(bp);
  return *buf ? 0 : DQ_ENOMEM;
}

int shm_decode_metrics(const void *data, size_t len, dq_task_metrics *out,
                       dq_boundary_metrics **boundaries, dq_error *err) {
  *boundaries = NULL;
  Dq__V1__TaskMetrics *m = dq__v1__task_metrics__unpack(NULL, len, data);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a malformed TaskMetrics message");
  memset(out, 0, sizeof *out);
  int rc = key_from_proto(m->task_key, &out->key, err);
  dq_boundary_metrics *b = NULL;
  if (rc == 0) {
    b = calloc(m->n_boundaries ? m->n_boundaries : 1, sizeof *b);
    if (b == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  if (rc == 0) {
    for (size_t i = 0; i < m->n_boundaries; i++) {
      b[i].producer_stage_id = m->boundaries[i]->producer_stage_id;
      b[i].kind = m->boundaries[i]->kind;
      b[i].bytes = m->boundaries[i]->bytes;
      b[i].batches = m->boundaries[i]->batches;
      b[i].rows = m->boundaries[i]->rows;
      b[i].latency_ns = m->boundaries[i]->latency_ns;
      b[i].buffered_peak = m->boundaries[i]->buffered_peak;
    }
    out->plan_bytes = m->plan_bytes;
    out->queued_ns = m->queued_ns;
    out->run_ns = m->run_ns;
    out->rows_out = m->rows_out;
    out->batches_out = m->batches_out;
    out->bytes_out = m->bytes_out;
    out->n_boundaries = m->n_boundaries;
    out->boundaries = b;
    *boundaries = b;
  }
  dq__v1__task_metrics__free_unpacked(m, NULL);
  return rc;
}

int shm_encode_info(const dq_worker_info *info, uint8_t **buf, size_t *len) {
  Dq__V1__WorkerInfo m = DQ__V1__WORKER_INFO__INIT;
  m.version = (char *)info->version;
  m.protocol_version = info->protocol_version;
  m.url = (char *)info->url;
  PACK(worker_info, &m, buf, len);
  return 0;
}

int shm_decode_info(const void *data, size_t len, dq_worker_info *out,
                    dq_error *err) {
  Dq__V1__WorkerInfo *m = dq__v1__worker_info__unpack(NULL, len, data);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a malformed WorkerInfo message");
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "%s",
           m->version ? m->version : "");
  out->protocol_version = m->protocol_version;
  snprintf(out->url, sizeof out->url, "%s", m->url ? m->url : "");
  dq__v1__worker_info__free_unpacked(m, NULL);
  return 0;
}

int shm_encode_work_unit(const void *data, size_t len, uint8_t **buf,
                         size_t *out_len) {
  Dq__V1__WorkUnit m = DQ__V1__WORK_UNIT__INIT;
  m.data.data = (uint8_t *)data;
  m.data.len = len;
  PACK(work_unit, &m, buf, out_len);
  return 0;
}

int shm_decode_work_unit(const void *data, size_t len, void **keep,
                         const uint8_t **bytes, size_t *n, dq_error *err) {
  Dq__V1__WorkUnit *m = dq__v1__work_unit__unpack(NULL, len, data);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a malformed WorkUnit message");
  *bytes = m->data.data;
  *n = m->data.len;
  *keep = m;
  return 0;
}

void shm_set_plan_free(void *keep) {
  set_plan_keep *k = keep;
  if (k == NULL)
    return;
  dq__v1__set_plan__free_unpacked(k->m, NULL);
  free(k->kv);
  free(k);
}

void shm_msg_free(void *keep) {
  if (keep != NULL)
    protobuf_c_message_free_unpacked(keep, NULL);
}
