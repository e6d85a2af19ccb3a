/* wire.c — <dq/wire.h>: the worker protocol's messages to and from their
 * protobuf bytes (proto/worker.proto, through protobuf-c, which stays
 * inside libdq), and a partition stream's frames to and from Arrow IPC
 * messages, splitting batches larger than a message limit.
 *
 * Decoders are strict on purpose: a transport that silently dropped a
 * malformed task key (as one once did for metrics) hides a peer's bug, so
 * every check here refuses with a sentence naming the message and the
 * fault, and every transport built on this file behaves the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/batch.h>
#include <dq/ipc.h>
#include <dq/wire.h>

#include "worker.pb-c.h"

void dq_wire_free(void *buf) { free(buf); }

/* --- helpers -------------------------------------------------------------*/

static void key_to_pb(const dq_task_key *k, Dq__V1__TaskKey *m) {
  dq__v1__task_key__init(m);
  m->query_id.data = (uint8_t *)k->query_id;
  m->query_id.len = sizeof k->query_id;
  m->stage_id = k->stage_id;
  m->task_number = k->task_number;
}

static int key_from_pb(const Dq__V1__TaskKey *m, const char *what,
                       dq_task_key *k, dq_error *err) {
  memset(k, 0, sizeof *k);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a %s message without a task key",
                        what);
  if (m->query_id.len != sizeof k->query_id)
    return dq_error_set(err, DQ_EPROTO,
                        "a %s message whose task key has a %zu-byte query id "
                        "(a query id is a 16-byte UUID)",
                        what, m->query_id.len);
  memcpy(k->query_id, m->query_id.data, sizeof k->query_id);
  k->stage_id = m->stage_id;
  k->task_number = m->task_number;
  return 0;
}

/* Packs any message into a fresh buffer (at least one byte, so that *buf is
 * never NULL on success). */
static int pack(const ProtobufCMessage *m, void **buf, size_t *len,
                dq_error *err) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *p = malloc(n ? n : 1);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM,
                        "out of memory encoding a %zu-byte %s message", n,
                        m->descriptor->short_name);
  protobuf_c_message_pack(m, p);
  *buf = p;
  *len = n;
  return 0;
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d,
                                const void *data, size_t len, dq_error *err) {
  if (data == NULL && len > 0) {
    dq_error_set(err, DQ_EINVAL, "no bytes to decode a %s message from",
                 d->short_name);
    return NULL;
  }
  ProtobufCMessage *m =
      protobuf_c_message_unpack(d, NULL, len, data ? data : (const void *)"");
  if (m == NULL)
    dq_error_set(err, DQ_EPROTO,
                 "a malformed %s message (%zu bytes: truncated or corrupt)",
                 d->short_name, len);
  return m;
}

static int null_check(const void *p, size_t n, const char *what,
                      dq_error *err) {
  if (p == NULL && n > 0)
    return dq_error_set(err, DQ_EINVAL, "%s: %zu items but a NULL pointer",
                        what, n);
  return 0;
}

/* --- SetPlan ---------------------------------------------------------------*/

/* The pb form of a SetPlan; kv/kvp are allocated and freed by the caller. */
static int set_plan_to_pb(const dq_set_plan *sp, Dq__V1__SetPlan *m,
                          Dq__V1__TaskKey *k, Dq__V1__KeyValue **kv,
                          Dq__V1__KeyValue ***kvp, dq_error *err) {
  *kv = NULL;
  *kvp = NULL;
  int rc = null_check(sp->plan, sp->plan_len, "SetPlan plan", err);
  if (rc == 0)
    rc = null_check(sp->config, sp->n_config, "SetPlan config", err);
  if (rc < 0)
    return rc;
  dq__v1__set_plan__init(m);
  key_to_pb(&sp->key, k);
  m->task_key = k;
  m->task_count = sp->task_count;
  m->plan.data = (uint8_t *)sp->plan;
  m->plan.len = sp->plan_len;
  m->target_worker_url =
      (char *)(sp->target_worker_url ? sp->target_worker_url : "");
  size_t n = sp->n_config;
  *kv = calloc(n ? n : 1, sizeof **kv);
  *kvp = calloc(n ? n : 1, sizeof **kvp);
  if (*kv == NULL || *kvp == NULL) {
    free(*kv);
    free(*kvp);
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding SetPlan");
  }
  for (size_t i = 0; i < n; i++) {
    if (sp->config[i].key == NULL || sp->config[i].value == NULL) {
      free(*kv);
      free(*kvp);
      return dq_error_set(err, DQ_EINVAL,
                          "SetPlan config pair %zu has a NULL key or value",
                          i);
    }
    dq__v1__key_value__init(&(*kv)[i]);
    (*kv)[i].key = (char *)sp->config[i].key;
    (*kv)[i].value = (char *)sp->config[i].value;
    (*kvp)[i] = &(*kv)[i];
  }
  m->n_config = n;
  m->config = *kvp;
  return 0;
}

int dq_wire_encode_set_plan(const dq_set_plan *sp, void **buf, size_t *len,
                            dq_error *err) {
  Dq__V1__SetPlan m;
  Dq__V1__TaskKey k;
  Dq__V1__KeyValue *kv, **kvp;
  int rc = set_plan_to_pb(sp, &m, &k, &kv, &kvp, err);
  if (rc < 0)
    return rc;
  rc = pack(&m.base, buf, len, err);
  free(kv);
  free(kvp);
  return rc;
}

/* A decoded SetPlan: the public struct first, so the pointer handed out is
 * also the pointer to free. */
typedef struct set_plan_owned {
  dq_set_plan pub;
  Dq__V1__SetPlan *m; /* the strings and bytes point into it */
  dq_kv kv[];
} set_plan_owned;

/* Takes m (frees it on failure). */
static int set_plan_from_pb(Dq__V1__SetPlan *m, dq_set_plan **out,
                            dq_error *err) {
  dq_task_key key;
  int rc = key_from_pb(m->task_key, "SetPlan", &key, err);
  set_plan_owned *o = NULL;
  if (rc == 0) {
    o = calloc(1, sizeof *o + m->n_config * sizeof(dq_kv));
    if (o == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding SetPlan");
  }
  if (rc < 0) {
    dq__v1__set_plan__free_unpacked(m, NULL);
    return rc;
  }
  o->m = m;
  for (size_t i = 0; i < m->n_config; i++) {
    o->kv[i].key = m->config[i]->key;
    o->kv[i].value = m->config[i]->value;
  }
  o->pub.key = key;
  o->pub.task_count = m->task_count;
  o->pub.plan = m->plan.data;
  o->pub.plan_len = m->plan.len;
  o->pub.target_worker_url = m->target_worker_url;
  o->pub.config = o->kv;
  o->pub.n_config = m->n_config;
  *out = &o->pub;
  return 0;
}

int dq_wire_decode_set_plan(const void *data, size_t len, dq_set_plan **out,
                            dq_error *err) {
  *out = NULL;
  Dq__V1__SetPlan *m = (Dq__V1__SetPlan *)unpack(
      &dq__v1__set_plan__descriptor, data, len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  return set_plan_from_pb(m, out, err);
}

void dq_wire_set_plan_free(dq_set_plan *p) {
  if (p == NULL)
    return;
  set_plan_owned *o = (set_plan_owned *)p;
  dq__v1__set_plan__free_unpacked(o->m, NULL);
  free(o);
}

/* --- WorkUnit and CoordinatorMessage ----------------------------------------*/

static int copy_bytes(const ProtobufCBinaryData *b, void **out,
                      size_t *out_len, dq_error *err) {
  void *p = malloc(b->len ? b->len : 1);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM,
                        "out of memory decoding a %zu-byte work unit",
                        b->len);
  if (b->len)
    memcpy(p, b->data, b->len);
  *out = p;
  *out_len = b->len;
  return 0;
}

int dq_wire_encode_work_unit(const void *unit, size_t unit_len, void **buf,
                             size_t *len, dq_error *err) {
  int rc = null_check(unit, unit_len, "WorkUnit data", err);
  if (rc < 0)
    return rc;
  Dq__V1__WorkUnit m = DQ__V1__WORK_UNIT__INIT;
  m.data.data = (uint8_t *)unit;
  m.data.len = unit_len;
  return pack(&m.base, buf, len, err);
}

int dq_wire_decode_work_unit(const void *data, size_t len, void **out,
                             size_t *out_len, dq_error *err) {
  *out = NULL;
  *out_len = 0;
  Dq__V1__WorkUnit *m = (Dq__V1__WorkUnit *)unpack(
      &dq__v1__work_unit__descriptor, data, len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  int rc = copy_bytes(&m->data, out, out_len, err);
  dq__v1__work_unit__free_unpacked(m, NULL);
  return rc;
}

int dq_wire_encode_coord_set_plan(const dq_set_plan *sp, void **buf,
                                  size_t *len, dq_error *err) {
  Dq__V1__SetPlan m;
  Dq__V1__TaskKey k;
  Dq__V1__KeyValue *kv, **kvp;
  int rc = set_plan_to_pb(sp, &m, &k, &kv, &kvp, err);
  if (rc < 0)
    return rc;
  Dq__V1__CoordinatorMessage cm = DQ__V1__COORDINATOR_MESSAGE__INIT;
  cm.msg_case = DQ__V1__COORDINATOR_MESSAGE__MSG_SET_PLAN;
  cm.set_plan = &m;
  rc = pack(&cm.base, buf, len, err);
  free(kv);
  free(kvp);
  return rc;
}

int dq_wire_encode_coord_work_unit(const void *unit, size_t unit_len,
                                   void **buf, size_t *len, dq_error *err) {
  int rc = null_check(unit, unit_len, "WorkUnit data", err);
  if (rc < 0)
    return rc;
  Dq__V1__WorkUnit wu = DQ__V1__WORK_UNIT__INIT;
  wu.data.data = (uint8_t *)unit;
  wu.data.len = unit_len;
  Dq__V1__CoordinatorMessage cm = DQ__V1__COORDINATOR_MESSAGE__INIT;
  cm.msg_case = DQ__V1__COORDINATOR_MESSAGE__MSG_WORK_UNIT;
  cm.work_unit = &wu;
  return pack(&cm.base, buf, len, err);
}

int dq_wire_decode_coord_message(const void *data, size_t len,
                                 dq_set_plan **set_plan, void **unit,
                                 size_t *unit_len, dq_error *err) {
  *set_plan = NULL;
  *unit = NULL;
  *unit_len = 0;
  Dq__V1__CoordinatorMessage *m = (Dq__V1__CoordinatorMessage *)unpack(
      &dq__v1__coordinator_message__descriptor, data, len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  int rc;
  if (m->msg_case == DQ__V1__COORDINATOR_MESSAGE__MSG_SET_PLAN &&
      m->set_plan != NULL) {
    Dq__V1__SetPlan *sp = m->set_plan;
    m->set_plan = NULL; /* detached: set_plan_from_pb owns it now */
    m->msg_case = DQ__V1__COORDINATOR_MESSAGE__MSG__NOT_SET;
    rc = set_plan_from_pb(sp, set_plan, err);
  } else if (m->msg_case == DQ__V1__COORDINATOR_MESSAGE__MSG_WORK_UNIT &&
             m->work_unit != NULL) {
    rc = copy_bytes(&m->work_unit->data, unit, unit_len, err);
  } else {
    rc = dq_error_set(err, DQ_EPROTO,
                      "a CoordinatorMessage carrying neither a SetPlan nor a "
                      "WorkUnit");
  }
  dq__v1__coordinator_message__free_unpacked(m, NULL);
  return rc;
}

/* --- ExecuteTaskRequest -----------------------------------------------------*/

int dq_wire_encode_execute_task(const dq_execute_task *r, void **buf,
                                size_t *len, dq_error *err) {
  int rc = null_check(r->producer_head, r->producer_head_len,
                      "ExecuteTaskRequest producer head", err);
  if (rc < 0)
    return rc;
  Dq__V1__ExecuteTaskRequest m = DQ__V1__EXECUTE_TASK_REQUEST__INIT;
  Dq__V1__TaskKey k;
  key_to_pb(&r->key, &k);
  m.task_key = &k;
  m.partition_start = r->partition_start;
  m.partition_end = r->partition_end;
  m.producer_head.data = (uint8_t *)r->producer_head;
  m.producer_head.len = r->producer_head_len;
  return pack(&m.base, buf, len, err);
}

typedef struct execute_owned {
  dq_execute_task pub;
  Dq__V1__ExecuteTaskRequest *m;
} execute_owned;

int dq_wire_decode_execute_task(const void *data, size_t len,
                                dq_execute_task **out, dq_error *err) {
  *out = NULL;
  Dq__V1__ExecuteTaskRequest *m = (Dq__V1__ExecuteTaskRequest *)unpack(
      &dq__v1__execute_task_request__descriptor, data, len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  dq_task_key key;
  int rc = key_from_pb(m->task_key, "ExecuteTaskRequest", &key, err);
  execute_owned *o = NULL;
  if (rc == 0) {
    o = calloc(1, sizeof *o);
    if (o == NULL)
      rc = dq_error_set(err, DQ_ENOMEM,
                        "out of memory decoding ExecuteTaskRequest");
  }
  if (rc < 0) {
    dq__v1__execute_task_request__free_unpacked(m, NULL);
    return rc;
  }
  o->m = m;
  o->pub.key = key;
  o->pub.partition_start = m->partition_start;
  o->pub.partition_end = m->partition_end;
  o->pub.producer_head = m->producer_head.data;
  o->pub.producer_head_len = m->producer_head.len;
  *out = &o->pub;
  return 0;
}

void dq_wire_execute_task_free(dq_execute_task *r) {
  if (r == NULL)
    return;
  execute_owned *o = (execute_owned *)r;
  dq__v1__execute_task_request__free_unpacked(o->m, NULL);
  free(o);
}

/* --- TaskMetrics -------------------------------------------------------------*/

int dq_wire_encode_task_metrics(const dq_task_metrics *mt, void **buf,
                                size_t *len, dq_error *err) {
  int rc = null_check(mt->boundaries, mt->n_boundaries,
                      "TaskMetrics boundaries", err);
  if (rc < 0)
    return rc;
  Dq__V1__TaskMetrics m = DQ__V1__TASK_METRICS__INIT;
  Dq__V1__TaskKey k;
  key_to_pb(&mt->key, &k);
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
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding TaskMetrics");
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
  rc = pack(&m.base, buf, len, err);
  free(b);
  free(bp);
  return rc;
}

typedef struct metrics_owned {
  dq_task_metrics pub;
  dq_boundary_metrics b[];
} metrics_owned;

int dq_wire_decode_task_metrics(const void *data, size_t len,
                                dq_task_metrics **out, dq_error *err) {
  *out = NULL;
  Dq__V1__TaskMetrics *m = (Dq__V1__TaskMetrics *)unpack(
      &dq__v1__task_metrics__descriptor, data, len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  dq_task_key key;
  int rc = key_from_pb(m->task_key, "TaskMetrics", &key, err);
  metrics_owned *o = NULL;
  if (rc == 0) {
    o = calloc(1, sizeof *o + m->n_boundaries * sizeof(dq_boundary_metrics));
    if (o == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding TaskMetrics");
  }
  if (rc == 0) {
    for (size_t i = 0; i < m->n_boundaries; i++) {
      const Dq__V1__BoundaryMetrics *s = m->boundaries[i];
      o->b[i].producer_stage_id = s->producer_stage_id;
      o->b[i].kind = s->kind;
      o->b[i].bytes = s->bytes;
      o->b[i].batches = s->batches;
      o->b[i].rows = s->rows;
      o->b[i].latency_ns = s->latency_ns;
      o->b[i].buffered_peak = s->buffered_peak;
    }
    o->pub.key = key;
    o->pub.plan_bytes = m->plan_bytes;
    o->pub.queued_ns = m->queued_ns;
    o->pub.run_ns = m->run_ns;
    o->pub.rows_out = m->rows_out;
    o->pub.batches_out = m->batches_out;
    o->pub.bytes_out = m->bytes_out;
    o->pub.n_boundaries = m->n_boundaries;
    o->pub.boundaries = m->n_boundaries ? o->b : NULL;
    *out = &o->pub;
  }
  dq__v1__task_metrics__free_unpacked(m, NULL);
  return rc;
}

void dq_wire_task_metrics_free(dq_task_metrics *m) { free(m); }

/* --- WorkerInfo --------------------------------------------------------------*/

int dq_wire_encode_worker_info(const dq_worker_info *wi, void **buf,
                               size_t *len, dq_error *err) {
  Dq__V1__WorkerInfo m = DQ__V1__WORKER_INFO__INIT;
  /* The fields are fixed arrays: bound the strings even if unterminated. */
  char version[sizeof wi->version], url[sizeof wi->url];
  snprintf(version, sizeof version, "%.*s", (int)sizeof version - 1,
           wi->version);
  snprintf(url, sizeof url, "%.*s", (int)sizeof url - 1, wi->url);
  m.version = version;
  m.protocol_version = wi->protocol_version;
  m.url = url;
  return pack(&m.base, buf, len, err);
}

int dq_wire_decode_worker_info(const void *data, size_t len,
                               dq_worker_info *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  Dq__V1__WorkerInfo *m = (Dq__V1__WorkerInfo *)unpack(
      &dq__v1__worker_info__descriptor, data, len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  int rc = 0;
  size_t vn = strlen(m->version), un = strlen(m->url);
  if (vn >= sizeof out->version)
    rc = dq_error_set(err, DQ_EPROTO,
                      "a WorkerInfo message with a %zu-byte version (at most "
                      "%zu bytes fit)",
                      vn, sizeof out->version - 1);
  else if (un >= sizeof out->url)
    rc = dq_error_set(err, DQ_EPROTO,
                      "a WorkerInfo message with a %zu-byte URL (at most %zu "
                      "bytes fit)",
                      un, sizeof out->url - 1);
  if (rc == 0) {
    memcpy(out->version, m->version, vn + 1);
    memcpy(out->url, m->url, un + 1);
    out->protocol_version = m->protocol_version;
  }
  dq__v1__worker_info__free_unpacked(m, NULL);
  return rc;
}

/* --- Error ------------------------------------------------------------------*/

int dq_wire_encode_error(const dq_error *e, void **buf, size_t *len,
                         dq_error *err) {
  Dq__V1__Error m = DQ__V1__ERROR__INIT;
  Dq__V1__TaskKey k;
  char msg[sizeof e->message], url[sizeof e->worker_url];
  snprintf(msg, sizeof msg, "%.*s", (int)sizeof msg - 1, e->message);
  snprintf(url, sizeof url, "%.*s", (int)sizeof url - 1, e->worker_url);
  m.code = e->code;
  m.message = msg;
  m.worker_url = url;
  if (e->has_task) {
    key_to_pb(&e->task, &k);
    m.task_key = &k;
  }
  return pack(&m.base, buf, len, err);
}

int dq_wire_decode_error(const void *data, size_t len, dq_error *out,
                         dq_error *err) {
  Dq__V1__Error *m = (Dq__V1__Error *)unpack(&dq__v1__error__descriptor, data,
                                             len, err);
  if (m == NULL)
    return err ? err->code : DQ_EPROTO;
  dq_task_key key;
  int has_task = m->task_key != NULL;
  if (has_task && key_from_pb(m->task_key, "Error", &key, err) < 0) {
    dq__v1__error__free_unpacked(m, NULL);
    return DQ_EPROTO;
  }
  if (m->code < 0 && m->code >= DQ_EPERM) /* DQ_EPERM: the last code */
    dq_error_set(out, m->code, "%s",
                 m->message[0] ? m->message : dq_strerror(m->code));
  else
    dq_error_set(out, DQ_EPROTO, "%s (the peer sent error code %d, which is "
                 "not a DQ_E* code)",
                 m->message[0] ? m->message : "an error", (int)m->code);
  dq_error_set_origin(out, m->worker_url[0] ? m->worker_url : NULL,
                      has_task ? &key : NULL);
  dq__v1__error__free_unpacked(m, NULL);
  return 0;
}

/* --- Frames: encoding ----------------------------------------------------------*/

struct dq_wire_frame_encoder {
  size_t max_message; /* 0: no limit */
  dq_schema *schema;  /* the stream's, once its SCHEMA frame went by */
};

int dq_wire_frame_encoder_new(size_t max_message, dq_wire_frame_encoder **out,
                              dq_error *err) {
  *out = calloc(1, sizeof **out);
  if (*out == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  (*out)->max_message = max_message;
  return 0;
}

void dq_wire_frame_encoder_free(dq_wire_frame_encoder *e) {
  if (e == NULL)
    return;
  dq_schema_unref(e->schema);
  free(e);
}

/* Rows [start, start+n) of a batch as a new batch whose IPC encoding holds
 * only those rows.  Importing an ArrowArray with an offset would keep the
 * whole of a utf8 column's character data (its offsets would not start at
 * 0), so the slice is built by hand: fixed-width values and characters are
 * pointed into, not copied; only bitmaps (shifted) and utf8 offsets
 * (rebased) are made anew, which is small next to the data. */
typedef struct slice_owner {
  struct ArrowArray full; /* the whole batch, exported */
  struct ArrowArray *kids;
  struct ArrowArray **kidp;
  const void **bufs; /* 3 per child */
  const void *root_buf[1];
  void **allocs;
  size_t n_allocs;
} slice_owner;

static void slice_child_release(struct ArrowArray *a) { a->release = NULL; }

static void slice_root_release(struct ArrowArray *a) {
  slice_owner *o = a->private_data;
  if (o->full.release)
    o->full.release(&o->full);
  for (size_t i = 0; i < o->n_allocs; i++)
    free(o->allocs[i]);
  free(o->allocs);
  free(o->kids);
  free(o->kidp);
  free(o->bufs);
  free(o);
  a->release = NULL;
}

static uint8_t *copy_bits(slice_owner *o, const uint8_t *src, int64_t off,
                          int64_t n, int64_t *zeros) {
  uint8_t *b = calloc((size_t)(n + 7) / 8 + 1, 1);
  if (b == NULL)
    return NULL;
  o->allocs[o->n_allocs++] = b;
  int64_t z = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t j = off + i;
    if (src[j >> 3] >> (j & 7) & 1)
      b[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
      z++;
  }
  if (zeros)
    *zeros = z;
  return b;
}

static int slice_batch(dq_batch *b, dq_schema *schema, int64_t start,
                       int64_t n, dq_batch **out, dq_error *err) {
  size_t nc = dq_schema_n_fields(schema);
  slice_owner *o = calloc(1, sizeof *o);
  if (o == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  o->kids = calloc(nc ? nc : 1, sizeof *o->kids);
  o->kidp = calloc(nc ? nc : 1, sizeof *o->kidp);
  o->bufs = calloc(3 * (nc ? nc : 1), sizeof *o->bufs);
  o->allocs = calloc(3 * (nc ? nc : 1), sizeof *o->allocs);
  struct ArrowArray root;
  memset(&root, 0, sizeof root);
  root.private_data = o;
  root.release = slice_root_release;
  if (o->kids == NULL || o->kidp == NULL || o->bufs == NULL ||
      o->allocs == NULL) {
    slice_root_release(&root);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  int rc = dq_batch_export(b, &o->full, err);
  if (rc < 0) {
    slice_root_release(&root);
    return rc;
  }
  for (size_t i = 0; i < nc; i++) {
    const struct ArrowArray *c = o->full.children[i];
    struct ArrowArray *k = &o->kids[i];
    const void **bufs = &o->bufs[3 * i];
    dq_type t = dq_schema_field_type(schema, i);
    int64_t off = o->full.offset + c->offset + start;
    k->length = n;
    k->n_buffers = t.id == DQ_TYPE_UTF8 ? 3 : 2;
    k->buffers = bufs;
    k->release = slice_child_release;
    int64_t nulls = 0;
    if (c->null_count != 0 && c->buffers[0] != NULL) {
      bufs[0] = copy_bits(o, c->buffers[0], off, n, &nulls);
      if (bufs[0] == NULL)
        rc = DQ_ENOMEM;
    }
    k->null_count = nulls;
    if (t.id == DQ_TYPE_BOOL) {
      bufs[1] = copy_bits(o, c->buffers[1], off, n, NULL);
      if (bufs[1] == NULL)
        rc = DQ_ENOMEM;
    } else if (t.id == DQ_TYPE_UTF8) {
      const int32_t *src = c->buffers[1];
      int32_t *dst = malloc((size_t)(n + 1) * sizeof *dst);
      if (dst == NULL) {
        rc = DQ_ENOMEM;
      } else {
        o->allocs[o->n_allocs++] = dst;
        for (int64_t r = 0; r <= n; r++)
          dst[r] = src[off + r] - src[off];
        bufs[1] = dst;
        bufs[2] = (const uint8_t *)c->buffers[2] + src[off];
      }
    } else {
      bufs[1] =
          (const uint8_t *)c->buffers[1] + off * (int64_t)dq_type_width(t);
    }
    o->kidp[i] = k;
  }
  if (rc < 0) {
    slice_root_release(&root);
    return dq_error_set(err, DQ_ENOMEM, "out of memory slicing a batch");
  }
  root.length = n;
  root.n_buffers = 1;
  root.buffers = o->root_buf;
  root.n_children = (int64_t)nc;
  root.children = o->kidp;
  return dq_batch_import(&root, schema, out, err);
}

/* Emits batch as IPC messages of at most e->max_message bytes each. */
static int encode_batch(dq_wire_frame_encoder *e, dq_batch *batch,
                        uint32_t partition, dq_wire_emit_fn emit, void *ctx,
                        dq_error *err) {
  dq_ipc_message *m;
  int rc = dq_ipc_encode_batch(batch, &m, err);
  if (rc < 0)
    return rc;
  size_t size = dq_ipc_message_size(m), limit = e->max_message;
  if (limit == 0 || size <= limit) {
    rc = emit(ctx, DQ_FRAME_BATCH, partition, m, err);
    dq_ipc_message_unref(m);
    return rc;
  }
  dq_ipc_message_unref(m);
  int64_t rows = dq_batch_n_rows(batch);
  /* A first guess from the average row size, then halve until it fits. */
  int64_t per = (int64_t)((double)rows * ((double)limit / (double)size) * 0.9);
  if (per < 1)
    per = 1;
  for (int64_t start = 0; start < rows;) {
    int64_t n = rows - start < per ? rows - start : per;
    for (;;) {
      dq_batch *part;
      rc = slice_batch(batch, e->schema, start, n, &part, err);
      if (rc < 0)
        return rc;
      rc = dq_ipc_encode_batch(part, &m, err);
      dq_batch_unref(part);
      if (rc < 0)
        return rc;
      size = dq_ipc_message_size(m);
      if (size <= limit)
        break;
      dq_ipc_message_unref(m);
      if (n == 1)
        return dq_error_set(err, DQ_ETOOBIG,
                            "one row of a batch needs a %zu-byte IPC message, "
                            "more than the transport's %zu-byte message "
                            "limit allows; raise the limit",
                            size, limit);
      n /= 2;
      per = n;
    }
    rc = emit(ctx, DQ_FRAME_BATCH, partition, m, err);
    dq_ipc_message_unref(m);
    if (rc != 0)
      return rc;
    start += n;
  }
  return 0;
}

int dq_wire_frame_encode(dq_wire_frame_encoder *e, dq_frame *f,
                         dq_wire_emit_fn emit, void *ctx, dq_error *err) {
  int rc;
  switch (f->kind) {
  case DQ_FRAME_SCHEMA: {
    if (f->array.release)
      f->array.release(&f->array);
    dq_schema *s = NULL;
    if (e->schema != NULL)
      rc = dq_error_set(err, DQ_EPROTO,
                        "the stream produced a second schema frame");
    else if (f->schema.release == NULL)
      rc = dq_error_set(err, DQ_EPROTO, "a schema frame without a schema");
    else
      rc = dq_schema_import(&f->schema, &s, err);
    if (f->schema.release)
      f->schema.release(&f->schema);
    if (rc < 0)
      return rc;
    e->schema = s;
    dq_ipc_message *m;
    rc = dq_ipc_encode_schema(s, &m, err);
    if (rc < 0)
      return rc;
    rc = emit(ctx, DQ_FRAME_SCHEMA, 0, m, err);
    dq_ipc_message_unref(m);
    return rc;
  }
  case DQ_FRAME_BATCH: {
    if (f->schema.release)
      f->schema.release(&f->schema);
    if (e->schema == NULL) {
      if (f->array.release)
        f->array.release(&f->array);
      return dq_error_set(err, DQ_EPROTO,
                          "the stream produced a batch before its schema");
    }
    dq_batch *b = NULL;
    rc = dq_batch_import(&f->array, e->schema, &b, err);
    if (rc < 0) {
      if (f->array.release)
        f->array.release(&f->array);
      return rc;
    }
    rc = encode_batch(e, b, f->partition, emit, ctx, err);
    dq_batch_unref(b);
    return rc;
  }
  case DQ_FRAME_EOS:
  case DQ_FRAME_END:
    return emit(ctx, f->kind, f->kind == DQ_FRAME_EOS ? f->partition : 0,
                NULL, err);
  default:
    if (f->schema.release)
      f->schema.release(&f->schema);
    if (f->array.release)
      f->array.release(&f->array);
    return dq_error_set(err, DQ_EINTERNAL, "a frame of unknown kind %u",
                        f->kind);
  }
}

/* --- Frames: decoding -----------------------------------------------------------*/

struct dq_wire_frame_decoder {
  dq_schema *schema;
};

int dq_wire_frame_decoder_new(dq_wire_frame_decoder **out, dq_error *err) {
  *out = calloc(1, sizeof **out);
  if (*out == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  return 0;
}

void dq_wire_frame_decoder_free(dq_wire_frame_decoder *d) {
  if (d == NULL)
    return;
  dq_schema_unref(d->schema);
  free(d);
}

dq_schema *dq_wire_frame_decoder_schema(const dq_wire_frame_decoder *d) {
  return d->schema;
}

int dq_wire_frame_decode(dq_wire_frame_decoder *d, uint32_t partition,
                         const void *data, size_t len,
                         void (*release)(void *ctx), void *ctx,
                         dq_frame *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  dq_ipc_info info;
  int rc = data == NULL ? dq_error_set(err, DQ_EPROTO,
                                       "an empty partition stream message")
                        : dq_ipc_peek(data, len, &info, err);
  if (rc == 0 && info.type == DQ_IPC_SCHEMA) {
    dq_schema *s = NULL;
    if (d->schema != NULL)
      rc = dq_error_set(err, DQ_EPROTO,
                        "the partition stream sent a second schema");
    else
      rc = dq_ipc_decode_schema(data, len, &s, err);
    if (rc == 0)
      rc = dq_schema_export(s, &out->schema, err);
    if (release)
      release(ctx);
    if (rc < 0) {
      dq_schema_unref(s);
      return rc;
    }
    d->schema = s;
    out->kind = DQ_FRAME_SCHEMA;
    return 0;
  }
  if (rc == 0 && info.type != DQ_IPC_RECORD_BATCH)
    rc = dq_error_set(err, DQ_EPROTO,
                      "a partition stream message is an IPC message of type "
                      "%d, not a schema or record batch",
                      (int)info.type);
  if (rc == 0 && d->schema == NULL)
    rc = dq_error_set(err, DQ_EPROTO,
                      "the partition stream sent a batch before its schema");
  if (rc < 0) {
    if (release)
      release(ctx);
    return rc;
  }
  dq_batch *b;
  rc = dq_ipc_decode_batch(d->schema, data, len, release, ctx, &b, err);
  if (rc < 0)
    return rc;
  rc = dq_batch_export(b, &out->array, err);
  dq_batch_unref(b);
  if (rc < 0)
    return rc;
  out->kind = DQ_FRAME_BATCH;
  out->partition = partition;
  return 0;
}
