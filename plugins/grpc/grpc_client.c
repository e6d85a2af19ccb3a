/* grpc_client.c — the client side of grpc.so: channels to workers and the
 * three calls of dq.v1.Worker, driven synchronously.
 *
 * Each call has its own pluck completion queue and is driven by the thread
 * that uses its handle (the ABI allows one thread per handle at a time), so
 * the client needs no threads of its own.  Every call starts with a
 * RECV_STATUS_ON_CLIENT batch, plucked only when the call's outcome is
 * needed or the handle closes.  stream_cancel may come from any thread:
 * grpc_call_cancel is thread-safe and completes the pending receive, which
 * wakes the reader.
 *
 * Channels: one grpc_channel per URL per transport instance, created on
 * first use and kept until fini, so connections are reused by every query.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "grpc_internal.h"

struct grpc_chan_entry {
  char url[256];
  grpc_channel *chan;
  grpc_chan_entry *next;
};

struct dq_channel {
  dq_transport *t;
  grpc_chan_entry *e;
};

/* One call in progress. */
typedef struct gcall {
  dq_transport *t;
  char url[256];
  grpc_call *call;
  grpc_completion_queue *cq;
  grpc_metadata_array init_md, trail_md;
  grpc_status_code status;
  grpc_slice details;
  int status_started, status_done;
  int op_pending;
  char tag_op, tag_status; /* their addresses are the tags */
  grpc_metadata auth;
  int has_auth;
} gcall;

struct dq_coord {
  gcall c;
  dq_task_metrics *metrics; /* once coord_finish succeeded */
};

struct dq_stream {
  gcall c;
  atomic_int cancelled;
  dq_wire_frame_decoder *frames;
  int ended;       /* END or an error was returned: repeat it */
  int end_rc;
  dq_error end_err;
};

/* --- channels ----------------------------------------------------------------*/

int grpc_c_channel_open(dq_transport *t, const char *url, dq_channel **out,
                        dq_error *err) {
  char target[280];
  int rc = grpc_tp_target(url, target, sizeof target, err);
  if (rc < 0)
    return rc;
  if (strlen(url) >= sizeof((grpc_chan_entry *)0)->url)
    return dq_error_set(err, DQ_EINVAL, "the URL '%s' is too long", url);
  dq_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  pthread_mutex_lock(&t->lock);
  grpc_chan_entry *e = t->channels;
  while (e != NULL && strcmp(e->url, url) != 0)
    e = e->next;
  if (e == NULL) {
    e = calloc(1, sizeof *e);
    /* A worker serving TLS dials its peers (which serve the same way)
     * over TLS too: one [transport.grpc] section serves both roles.  It
     * trusts tls_ca, else the system's roots (gRPC's default). */
    grpc_channel_credentials *creds =
        grpc_tp_client_tls(t)
            ? grpc_ssl_credentials_create(t->tls_ca, NULL, NULL, NULL)
            : grpc_insecure_credentials_create();
    if (e == NULL || creds == NULL) {
      pthread_mutex_unlock(&t->lock);
      if (creds)
        grpc_channel_credentials_release(creds);
      free(e);
      free(ch);
      return dq_error_set(err, DQ_ENOMEM, "cannot set up a channel to %s",
                          url);
    }
    grpc_arg args[12];
    grpc_channel_args ca = {0, args};
    grpc_tp_fill_args(t, 0, args, &ca.num_args);
    e->chan = grpc_channel_create(target, creds, &ca);
    grpc_channel_credentials_release(creds);
    snprintf(e->url, sizeof e->url, "%s", url);
    e->next = t->channels;
    t->channels = e;
  }
  pthread_mutex_unlock(&t->lock);
  ch->t = t;
  ch->e = e;
  *out = ch;
  return 0;
}

void grpc_c_channel_close(dq_channel *ch) { free(ch); }

void grpc_c_close_all(dq_transport *t) {
  grpc_chan_entry *e = t->channels;
  t->channels = NULL;
  while (e != NULL) {
    grpc_chan_entry *n = e->next;
    grpc_channel_destroy(e->chan);
    free(e);
    e = n;
  }
}

/* --- calls -------------------------------------------------------------------*/

static gpr_timespec after_ms(int64_t ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static int gcall_start(gcall *c, dq_channel *ch, const char *method,
                       gpr_timespec deadline, dq_error *err) {
  memset(c, 0, sizeof *c);
  c->t = ch->t;
  snprintf(c->url, sizeof c->url, "%s", ch->e->url);
  c->cq = grpc_completion_queue_create_for_pluck(NULL);
  c->call = grpc_channel_create_call(
      ch->e->chan, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
      grpc_slice_from_static_string(method), NULL, deadline, NULL);
  grpc_metadata_array_init(&c->init_md);
  grpc_metadata_array_init(&c->trail_md);
  c->details = grpc_empty_slice();
  if (c->call == NULL) {
    grpc_completion_queue_shutdown(c->cq);
    grpc_completion_queue_destroy(c->cq);
    grpc_metadata_array_destroy(&c->init_md);
    grpc_metadata_array_destroy(&c->trail_md);
    dq_error_set(err, DQ_EUNAVAILABLE, "cannot start a call to %s", c->url);
    dq_error_set_origin(err, c->url, NULL);
    return DQ_EUNAVAILABLE;
  }
  if (ch->t->token != NULL) {
    char buf[1024];
    snprintf(buf, sizeof buf, "Bearer %s", ch->t->token);
    c->auth.key = grpc_slice_from_static_string("authorization");
    c->auth.value = grpc_slice_from_copied_string(buf);
    c->has_auth = 1;
  }
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &c->trail_md;
  op.data.recv_status_on_client.status = &c->status;
  op.data.recv_status_on_client.status_details = &c->details;
  if (grpc_call_start_batch(c->call, &op, 1, &c->tag_status, NULL) ==
      GRPC_CALL_OK)
    c->status_started = 1;
  return 0;
}

/* The SEND_INITIAL_METADATA op every call starts with. */
static void initial_md_op(gcall *c, grpc_op *op) {
  memset(op, 0, sizeof *op);
  op->op = GRPC_OP_SEND_INITIAL_METADATA;
  if (c->has_auth) {
    op->data.send_initial_metadata.count = 1;
    op->data.send_initial_metadata.metadata = &c->auth;
  }
}

/* Runs a batch and waits for it; 1 on success, 0 if the call failed, -1 if
 * the deadline (ms > 0) passed first — the call is cancelled then. */
static int gcall_run(gcall *c, const grpc_op *ops, size_t n, int64_t ms) {
  if (grpc_call_start_batch(c->call, ops, n, &c->tag_op, NULL) !=
      GRPC_CALL_OK)
    return 0;
  c->op_pending = 1;
  gpr_timespec dl =
      ms > 0 ? after_ms(ms) : gpr_inf_future(GPR_CLOCK_MONOTONIC);
  grpc_event ev = grpc_completion_queue_pluck(c->cq, &c->tag_op, dl, NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    grpc_call_cancel(c->call, NULL);
    grpc_completion_queue_pluck(c->cq, &c->tag_op,
                                gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    c->op_pending = 0;
    return -1;
  }
  c->op_pending = 0;
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void gcall_wait_status(gcall *c) {
  if (c->status_started && !c->status_done) {
    grpc_completion_queue_pluck(c->cq, &c->tag_status,
                                gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    c->status_done = 1;
  }
}

/* The call's final status as a dq error (the call must be over or about to
 * be: waits for its status). */
static int gcall_error(gcall *c, dq_error *err) {
  gcall_wait_status(c);
  if (!c->status_started) {
    dq_error_set(err, DQ_EUNAVAILABLE, "the call to worker %s failed",
                 c->url);
    dq_error_set_origin(err, c->url, NULL);
    return DQ_EUNAVAILABLE;
  }
  if (c->status == GRPC_STATUS_OK) {
    dq_error_set(err, DQ_EPROTO,
                 "worker %s ended the call without the expected answer",
                 c->url);
    dq_error_set_origin(err, c->url, NULL);
    return DQ_EPROTO;
  }
  return grpc_f_status_error(c->status, c->details, &c->trail_md, c->url,
                             err);
}

static int accepted(const gcall *c) {
  for (size_t i = 0; i < c->init_md.count; i++)
    if (grpc_slice_str_cmp(c->init_md.metadata[i].key, GRPC_ACCEPT_KEY) == 0)
      return 1;
  return 0;
}

static void gcall_end(gcall *c) {
  if (c->status_started && !c->status_done) {
    grpc_call_cancel(c->call, NULL);
    gcall_wait_status(c);
  }
  grpc_call_unref(c->call);
  grpc_completion_queue_shutdown(c->cq);
  grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                              NULL);
  grpc_completion_queue_destroy(c->cq);
  grpc_metadata_array_destroy(&c->init_md);
  grpc_metadata_array_destroy(&c->trail_md);
  grpc_slice_unref(c->details);
  if (c->has_auth)
    grpc_slice_unref(c->auth.value);
}

/* --- GetWorkerInfo ------------------------------------------------------------*/

int grpc_c_get_worker_info(dq_channel *ch, dq_worker_info *out,
                           dq_error *err) {
  gcall c;
  int rc = gcall_start(&c, ch, GRPC_M_INFO, after_ms(ch->t->deadline_ms),
                       err);
  if (rc < 0)
    return rc;
  /* GetWorkerInfoRequest has no fields: its encoding is empty. */
  grpc_byte_buffer *send = grpc_raw_byte_buffer_create(NULL, 0), *recv = NULL;
  grpc_op ops[5];
  initial_md_op(&c, &ops[0]);
  memset(&ops[1], 0, sizeof ops - sizeof ops[0]);
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &c.init_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &recv;
  int ok = gcall_run(&c, ops, 5, 0);
  grpc_byte_buffer_destroy(send);
  gcall_wait_status(&c);
  if (ok == 1 && c.status == GRPC_STATUS_OK && recv != NULL) {
    grpc_slice s = grpc_f_flatten(recv);
    rc = dq_wire_decode_worker_info(GRPC_SLICE_START_PTR(s),
                                    GRPC_SLICE_LENGTH(s), out, err);
    grpc_slice_unref(s);
    if (rc < 0)
      dq_error_set_origin(err, c.url, NULL);
  } else {
    rc = gcall_error(&c, err);
  }
  if (recv)
    grpc_byte_buffer_destroy(recv);
  gcall_end(&c);
  return rc;
}

/* --- CoordinatorChannel ---------------------------------------------------------*/

int grpc_c_coord_open(dq_channel *ch, const dq_set_plan *plan, dq_coord **out,
                      dq_error *err) {
  void *buf;
  size_t size;
  int rc = dq_wire_encode_coord_set_plan(plan, &buf, &size, err);
  if (rc < 0)
    return rc;
  if (size > (size_t)ch->t->max_message_size) {
    dq_wire_free(buf);
    dq_error_set(err, DQ_ETOOBIG,
                 "the task's plan needs a %zu-byte SetPlan message, more "
                 "than [transport.grpc] max_message_size (%lld)",
                 size, (long long)ch->t->max_message_size);
    dq_error_set_origin(err, ch->e->url, &plan->key);
    return DQ_ETOOBIG;
  }
  grpc_byte_buffer *send = grpc_f_bytes(buf, size);
  dq_coord *co = calloc(1, sizeof *co);
  if (co == NULL) {
    grpc_byte_buffer_destroy(send);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  rc = gcall_start(&co->c, ch, GRPC_M_COORD,
                       gpr_inf_future(GPR_CLOCK_REALTIME), err);
  if (rc < 0) {
    grpc_byte_buffer_destroy(send);
    free(co);
    return rc;
  }
  grpc_op ops[3];
  initial_md_op(&co->c, &ops[0]);
  memset(&ops[1], 0, 2 * sizeof ops[0]);
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[2].data.recv_initial_metadata.recv_initial_metadata = &co->c.init_md;
  int ok = gcall_run(&co->c, ops, 3, ch->t->deadline_ms);
  grpc_byte_buffer_destroy(send);
  if (ok == 1 && accepted(&co->c)) {
    *out = co;
    return 0;
  }
  if (ok < 0) {
    dq_error_set(err, DQ_ETIMEDOUT,
                 "delivering the plan to worker %s took longer than "
                 "[transport.grpc] deadline_ms (%lld ms)",
                 co->c.url, (long long)ch->t->deadline_ms);
    dq_error_set_origin(err, co->c.url, &plan->key);
    rc = DQ_ETIMEDOUT;
  } else {
    rc = gcall_error(&co->c, err);
    if (!err->has_task)
      dq_error_set_origin(err, NULL, &plan->key);
  }
  gcall_end(&co->c);
  free(co);
  return rc;
}

int grpc_c_coord_send_work_unit(dq_coord *co, const void *data, size_t len,
                                dq_error *err) {
  void *buf;
  size_t size;
  int rc = dq_wire_encode_coord_work_unit(data, len, &buf, &size, err);
  if (rc < 0)
    return rc;
  if (size > (size_t)co->c.t->max_message_size) {
    dq_wire_free(buf);
    dq_error_set(err, DQ_ETOOBIG,
                 "a %zu-byte work unit exceeds [transport.grpc] "
                 "max_message_size (%lld)",
                 len, (long long)co->c.t->max_message_size);
    dq_error_set_origin(err, co->c.url, NULL);
    return DQ_ETOOBIG;
  }
  grpc_byte_buffer *send = grpc_f_bytes(buf, size);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_MESSAGE;
  op.data.send_message.send_message = send;
  int ok = gcall_run(&co->c, &op, 1, 0);
  grpc_byte_buffer_destroy(send);
  if (ok == 1)
    return 0;
  return gcall_error(&co->c, err);
}

int grpc_c_coord_finish(dq_coord *co, dq_task_metrics *out, dq_error *err) {
  if (co->metrics != NULL) {
    *out = *co->metrics;
    return 0;
  }
  grpc_byte_buffer *recv = NULL;
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &recv;
  int ok = gcall_run(&co->c, ops, 2, 0);
  if (ok != 1 || recv == NULL) {
    if (recv)
      grpc_byte_buffer_destroy(recv);
    return gcall_error(&co->c, err);
  }
  grpc_slice s = grpc_f_flatten(recv);
  grpc_byte_buffer_destroy(recv);
  /* A malformed answer (a task key that is not 16 bytes, say) is refused,
   * as on every transport, not half-read. */
  int rc = dq_wire_decode_task_metrics(GRPC_SLICE_START_PTR(s),
                                       GRPC_SLICE_LENGTH(s), &co->metrics,
                                       err);
  grpc_slice_unref(s);
  if (rc < 0) {
    dq_error_set_origin(err, co->c.url, NULL);
    return rc;
  }
  *out = *co->metrics;
  return 0;
}

void grpc_c_coord_close(dq_coord *co) {
  if (co == NULL)
    return;
  /* The worker keeps the call open until we end it: ending it is what
   * frees the task.  Cancel returns at once; the status follows promptly. */
  gcall_end(&co->c);
  dq_wire_task_metrics_free(co->metrics);
  free(co);
}

/* --- ExecuteTask ---------------------------------------------------------------*/

int grpc_c_execute_task(dq_channel *ch, const dq_execute_task *req,
                        dq_stream **out, dq_error *err) {
  void *buf;
  size_t size;
  int rc = dq_wire_encode_execute_task(req, &buf, &size, err);
  if (rc < 0)
    return rc;
  dq_stream *s = calloc(1, sizeof *s);
  if (s == NULL) {
    dq_wire_free(buf);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  atomic_init(&s->cancelled, 0);
  rc = dq_wire_frame_decoder_new(&s->frames, err);
  if (rc == 0)
    rc = gcall_start(&s->c, ch, GRPC_M_EXECUTE,
                     gpr_inf_future(GPR_CLOCK_REALTIME), err);
  if (rc < 0) {
    dq_wire_free(buf);
    dq_wire_frame_decoder_free(s->frames);
    free(s);
    return rc;
  }
  grpc_byte_buffer *send = grpc_f_bytes(buf, size);
  grpc_op ops[4];
  initial_md_op(&s->c, &ops[0]);
  memset(&ops[1], 0, 3 * sizeof ops[0]);
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->c.init_md;
  int ok = gcall_run(&s->c, ops, 4, 0);
  grpc_byte_buffer_destroy(send);
  if (ok == 1 && accepted(&s->c)) {
    *out = s;
    return 0;
  }
  rc = gcall_error(&s->c, err);
  gcall_end(&s->c);
  dq_wire_frame_decoder_free(s->frames);
  free(s);
  return rc;
}

static int stream_end(dq_stream *s, int rc, dq_frame *out, dq_error *err) {
  s->ended = 1;
  s->end_rc = rc;
  if (rc < 0) {
    s->end_err = *err;
  } else {
    memset(out, 0, sizeof *out);
    out->kind = DQ_FRAME_END;
  }
  return rc;
}

int grpc_c_stream_next(dq_stream *s, dq_frame *out, dq_error *err) {
  if (s->ended) {
    memset(out, 0, sizeof *out);
    if (s->end_rc < 0) {
      *err = s->end_err;
      return s->end_rc;
    }
    out->kind = DQ_FRAME_END;
    return 0;
  }
  if (atomic_load(&s->cancelled))
    return stream_end(s,
                      dq_error_set(err, DQ_ECANCELED,
                                   "the stream was cancelled"),
                      out, err);
  grpc_byte_buffer *recv = NULL;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &recv;
  int ok = gcall_run(&s->c, &op, 1, 0);
  if (atomic_load(&s->cancelled)) {
    if (recv)
      grpc_byte_buffer_destroy(recv);
    return stream_end(s,
                      dq_error_set(err, DQ_ECANCELED,
                                   "the stream was cancelled"),
                      out, err);
  }
  if (ok == 1 && recv != NULL) {
    int rc = grpc_f_decode_frame(recv, s->frames, out, err);
    grpc_byte_buffer_destroy(recv);
    if (rc < 0) {
      if (err->worker_url[0] == '\0')
        dq_error_set_origin(err, s->c.url, NULL);
      grpc_call_cancel(s->c.call, NULL);
      return stream_end(s, rc, out, err);
    }
    return 0;
  }
  if (recv)
    grpc_byte_buffer_destroy(recv);
  gcall_wait_status(&s->c);
  if (s->c.status == GRPC_STATUS_OK)
    return stream_end(s, 0, out, err);
  int rc = gcall_error(&s->c, err);
  return stream_end(s, rc, out, err);
}

void grpc_c_stream_cancel(dq_stream *s) {
  atomic_store(&s->cancelled, 1);
  grpc_call_cancel(s->c.call, NULL);
}

void grpc_c_stream_close(dq_stream *s) {
  if (s == NULL)
    return;
  gcall_end(&s->c);
  dq_wire_frame_decoder_free(s->frames);
  free(s);
}
