/* grpc_server.c — the server side of grpc.so: serves libdq's worker service
 * as the gRPC service dq.v1.Worker.
 *
 * Threads.  `cq_threads` threads poll the server's one completion queue and
 * never call the worker service: they accept calls, record completions in
 * the call's state and wake whoever waits.  Each accepted call gets a
 * handler thread of its own for as long as it lives, which makes the
 * blocking calls into the service (a stream_next waits for data; an
 * ExecuteTask may wait for its plan) and drives the call with one batch at
 * a time.  A handler can therefore never starve the queue, and a call costs
 * one thread while it lives — the same trade the worker makes for its
 * pipelines (docs/runtime.md).
 *
 * Handler threads are pooled: creating one per call cost more than the
 * rest of a plan delivery on the 2-core machines we measure on
 * (docs/PERFORMANCE.md).  A thread that finishes a call waits up to
 * POOL_IDLE_MS for the next one, then exits, and at most POOL_MAX_IDLE wait
 * at once, so a worker's thread count still returns to its resting level
 * shortly after its queries end (the hygiene checks allow seconds).  A call
 * never waits for a busy thread: when no thread is idle, one is started.
 *
 * Latency.  The queue thread that accepts a call already starts its first
 * receive (and RECV_CLOSE_ON_SERVER) before handing it over, so the
 * request travels while the handler wakes up; a CoordinatorChannel's
 * "dq-accepted" metadata goes in one batch with the receive that follows.
 * Each saves a round through the queue thread on the path of coord_open.
 *
 * Cancellation.  Every call has a RECV_CLOSE_ON_SERVER batch from the start;
 * when it reports a client cancel (or a lost connection) the queue thread
 * cancels the call's worker stream, so a handler blocked in stream_next
 * returns.  A CoordinatorChannel handler calls coord_close exactly once,
 * when the call has ended in whatever way.
 *
 * CoordinatorChannel.  SetPlan -> coord_open, then "dq-accepted" initial
 * metadata (the client's coord_open waits for it, so plan errors surface
 * there); WorkUnits; the client's half-close -> coord_finish -> TaskMetrics.
 * The call then stays open until the client ends it: closing the channel is
 * what frees the task (DESIGN.md), so the worker must not end it first.
 *
 * stop(): no new calls, worker streams cancelled so their handlers answer
 * "worker stopping" with a proper status, a short grace for those answers,
 * then every remaining call cancelled; waits for all handler threads, then
 * tears gRPC down in the order PLATFORM-NOTES gives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "grpc_internal.h"

enum { TAG_ACCEPT = 1, TAG_OP, TAG_CLOSE, TAG_SHUTDOWN };
enum { M_UNKNOWN = 0, M_COORD, M_EXECUTE, M_INFO };

typedef struct scall scall;

typedef struct stag {
  int kind;
  scall *c;
} stag;

/* Handler threads retire after this long without a call... */
#define POOL_IDLE_MS 1000
/* ...or at once when this many already wait. */
#define POOL_MAX_IDLE 16

typedef struct thr_node {
  pthread_t th;
  dq_server *srv;
  struct thr_node *next;
} thr_node;

struct dq_server {
  dq_transport *t;
  const dq_worker_service *svc;
  grpc_server *server;
  void *rm_coord; /* CoordinatorChannel, registered: SetPlan comes with it */
  grpc_completion_queue *cq;
  char url[300];
  pthread_t *cq_thr;
  int n_cq_thr;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  int stopping;
  int shutdown_done;
  long handlers;  /* accepted calls not yet finished */
  uint64_t refused, last_refused_log_ns; /* calls refused for a bound */
  long streams;   /* ExecuteTask handlers holding a worker stream */
  scall *calls;   /* accepted calls not yet finished */
  thr_node *live; /* handler (pool) threads, to join */
  thr_node *dead; /* exited handler threads, to join soon */
  pthread_cond_t work;      /* idle handler threads wait here */
  scall *queue, *queue_end; /* accepted calls waiting for a thread */
  long queued;
  long idle; /* handler threads waiting for a call */
  stag shutdown_tag;
};

struct scall {
  dq_server *srv;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  stag t_accept, t_op, t_close;
  int registered; /* requested as rm_coord: the method is known, and the
                     first message came with the call (in recv_bb) */
  gpr_timespec deadline; /* of a registered call (unused) */
  int method;     /* M_*, known at accept */
  int authorized; /* the bearer token matched (or none is required) */
  int pre_recv;   /* a RECV_MESSAGE is in flight: recv_msg waits for it */
  int orphan;     /* refused without a handler: 1, then 2 once freed */
  scall *qnext;   /* srv->queue */

  pthread_mutex_t lock;
  pthread_cond_t cond;
  int op_busy, op_ok;
  int closed, cancelled;
  int md_sent;
  grpc_byte_buffer *send_bb; /* in flight, destroyed when the op completes */
  grpc_byte_buffer *recv_bb;
  dq_ws_stream *ws;
  int ws_live;
  scall *prev, *next;
};

static void request_one(dq_server *srv, int registered);

/* --- the completion-queue threads ------------------------------------------*/

static void *handler_main(void *arg);

static void join_dead(dq_server *srv) {
  pthread_mutex_lock(&srv->lock);
  thr_node *d = srv->dead;
  srv->dead = NULL;
  pthread_mutex_unlock(&srv->lock);
  while (d != NULL) {
    thr_node *n = d->next;
    pthread_join(d->th, NULL);
    free(d);
    d = n;
  }
}

static void free_scall(scall *c) {
  if (c->recv_bb != NULL)
    grpc_byte_buffer_destroy(c->recv_bb);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->md);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->cond);
  free(c);
}

static int token_ok(scall *c);
static int start_op(scall *c, const grpc_op *ops, size_t n);

static int method_of(const scall *c) {
  if (c->registered)
    return M_COORD;
  if (grpc_slice_str_cmp(c->details.method, GRPC_M_COORD) == 0)
    return M_COORD;
  if (grpc_slice_str_cmp(c->details.method, GRPC_M_EXECUTE) == 0)
    return M_EXECUTE;
  if (grpc_slice_str_cmp(c->details.method, GRPC_M_INFO) == 0)
    return M_INFO;
  return M_UNKNOWN;
}

/* Starts a handler thread; the caller holds srv->lock.  Its node goes on
 * the live list first; the thread moves it to the dead list (by pointer)
 * when it exits, under the same lock. */
static int spawn_locked(dq_server *srv) {
  thr_node *tn = calloc(1, sizeof *tn);
  if (tn == NULL)
    return -1;
  tn->srv = srv;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&tn->th, &attr, handler_main, tn);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    free(tn);
    return -1;
  }
  tn->next = srv->live;
  srv->live = tn;
  return 0;
}

static void unlink_call(dq_server *srv, scall *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->calls = c->next;
  if (c->next)
    c->next->prev = c->prev;
  srv->handlers--;
  pthread_cond_broadcast(&srv->cond);
}

/* A refused call (no handler) is freed once both its batches are over:
 * whoever sees the last of them, under c->lock, frees it (orphan_free). */
static int orphan_done_locked(scall *c) {
  if (c->orphan != 1 || c->op_busy || !c->closed)
    return 0;
  c->orphan = 2;
  return 1;
}

static void orphan_free(scall *c) {
  dq_server *srv = c->srv;
  grpc_call_unref(c->call);
  pthread_mutex_lock(&srv->lock);
  unlink_call(srv, c);
  pthread_mutex_unlock(&srv->lock);
  free_scall(c);
}

static void on_accept(dq_server *srv, scall *c, int success) {
  if (!success) { /* the server is shutting down */
    free_scall(c);
    return;
  }
  /* Cheap checks that call nothing of the service, done here so that the
   * first receive can start at once, while the handler wakes up.  Only for
   * a call that will read a message: a refusal must not wait for one. */
  c->method = method_of(c);
  c->authorized = token_ok(c);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->cancelled;
  if (grpc_call_start_batch(c->call, &op, 1, &c->t_close, NULL) !=
      GRPC_CALL_OK)
    c->closed = 1; /* no TAG_CLOSE will come: nothing else sees c yet */
  if (c->registered) {
    c->pre_recv = 1; /* received with the call: recv_msg takes recv_bb */
    c->op_ok = 1;
  } else if (c->method != M_UNKNOWN && c->authorized) {
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_bb;
    c->pre_recv = start_op(c, &op, 1);
  }
  /* Once queued, c belongs to its handler, which may finish and free it
   * before this function returns: read what is needed now. */
  int registered = c->registered;
  pthread_mutex_lock(&srv->lock);
  int stopping = srv->stopping;
  srv->handlers++;
  c->next = srv->calls;
  if (srv->calls)
    srv->calls->prev = c;
  srv->calls = c;
  if (srv->queue_end)
    srv->queue_end->qnext = c;
  else
    srv->queue = c;
  srv->queue_end = c;
  srv->queued++;
  int refused = 0, over = 0;
  if (srv->queued <= srv->idle) {
    pthread_cond_signal(&srv->work);
  } else if ((over = srv->handlers > srv->t->max_calls) ||
             spawn_locked(srv) < 0) {
    /* No thread for it: refuse the call rather than leave it waiting for a
     * busy handler, which may wait for it (a stream for its producer). */
    scall **pp = &srv->queue;
    scall *prev = NULL;
    while (*pp != NULL && *pp != c) {
      prev = *pp;
      pp = &(*pp)->qnext;
    }
    if (*pp == c) {
      *pp = c->qnext;
      if (srv->queue_end == c)
        srv->queue_end = prev;
      srv->queued--;
      refused = 1;
    }
  }
  /* A bound hit is logged once a second at most, with the count. */
  int log_now = 0;
  uint64_t n_refused = 0;
  long live = srv->handlers - 1;
  if (refused) {
    n_refused = ++srv->refused;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (now - srv->last_refused_log_ns >= 1000000000u) {
      srv->last_refused_log_ns = now;
      log_now = 1;
    }
  }
  pthread_mutex_unlock(&srv->lock);
  if (!stopping)
    request_one(srv, registered);
  join_dead(srv);
  if (refused) {
    if (log_now)
      dq_log(DQ_LOG_WARN,
             over ? "worker %s: %ld calls in progress, the most "
                    "[transport.grpc] max_calls allows: refusing more with "
                    "RESOURCE_EXHAUSTED (%llu so far)"
                  : "worker %s: cannot start a thread for a call with %ld "
                    "in progress: refusing it with RESOURCE_EXHAUSTED (%llu "
                    "so far)",
             srv->url, live, (unsigned long long)n_refused);
    /* Its batches end now; the queue thread that sees the last of them
     * frees the call (this thread must not wait for them: it may be the
     * only one polling). */
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                 over ? "the worker has as many calls in "
                                        "progress as [transport.grpc] "
                                        "max_calls allows"
                                      : "the worker cannot start a thread",
                                 NULL);
    pthread_mutex_lock(&c->lock);
    c->orphan = 1;
    int last = orphan_done_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (last)
      orphan_free(c);
  }
}

static void *cq_main(void *arg) {
  dq_server *srv = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    stag *tg = ev.tag;
    scall *c = tg->c;
    int last; /* of a refused call's batches: free it */
    switch (tg->kind) {
    case TAG_ACCEPT:
      on_accept(srv, c, ev.success);
      break;
    case TAG_OP:
      pthread_mutex_lock(&c->lock);
      c->op_busy = 0;
      c->op_ok = ev.success;
      last = orphan_done_locked(c);
      pthread_cond_broadcast(&c->cond);
      pthread_mutex_unlock(&c->lock);
      if (last)
        orphan_free(c);
      break;
    case TAG_CLOSE:
      pthread_mutex_lock(&c->lock);
      c->closed = 1;
      if (c->cancelled && c->ws_live)
        srv->svc->stream_cancel(srv->svc->self, c->ws);
      last = orphan_done_locked(c);
      pthread_cond_broadcast(&c->cond);
      pthread_mutex_unlock(&c->lock);
      if (last)
        orphan_free(c);
      break;
    case TAG_SHUTDOWN:
      pthread_mutex_lock(&srv->lock);
      srv->shutdown_done = 1;
      pthread_cond_broadcast(&srv->cond);
      pthread_mutex_unlock(&srv->lock);
      break;
    }
  }
  return NULL;
}

/* Asks for the next call: a CoordinatorChannel (registered) or any other
 * method.  One request of each kind is pending at a time; accepting one
 * asks for the next. */
static void request_one(dq_server *srv, int registered) {
  scall *c = calloc(1, sizeof *c);
  if (c == NULL)
    return; /* out of memory: stop accepting rather than crash */
  c->srv = srv;
  c->registered = registered;
  c->t_accept = (stag){TAG_ACCEPT, c};
  c->t_op = (stag){TAG_OP, c};
  c->t_close = (stag){TAG_CLOSE, c};
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->md);
  grpc_call_error e =
      registered ? grpc_server_request_registered_call(
                       srv->server, srv->rm_coord, &c->call, &c->deadline,
                       &c->md, &c->recv_bb, srv->cq, srv->cq, &c->t_accept)
                 : grpc_server_request_call(srv->server, &c->call,
                                            &c->details, &c->md, srv->cq,
                                            srv->cq, &c->t_accept);
  if (e != GRPC_CALL_OK)
    free_scall(c);
}

/* --- one call's operations (handler thread) --------------------------------*/

/* Waits for the batch in flight, if any; returns its success. */
static int wait_op(scall *c) {
  pthread_mutex_lock(&c->lock);
  while (c->op_busy)
    pthread_cond_wait(&c->cond, &c->lock);
  int ok = c->op_ok;
  pthread_mutex_unlock(&c->lock);
  if (c->send_bb != NULL) {
    grpc_byte_buffer_destroy(c->send_bb);
    c->send_bb = NULL;
  }
  return ok;
}

static int start_op(scall *c, const grpc_op *ops, size_t n) {
  pthread_mutex_lock(&c->lock);
  c->op_busy = 1;
  c->op_ok = 0;
  pthread_mutex_unlock(&c->lock);
  if (grpc_call_start_batch(c->call, ops, n, &c->t_op, NULL) != GRPC_CALL_OK) {
    pthread_mutex_lock(&c->lock);
    c->op_busy = 0;
    pthread_mutex_unlock(&c->lock);
    return 0;
  }
  return 1;
}

/* Receives one message: 1 with *bb (NULL at the client's half-close), or
 * 0 when the call is gone. */
static int recv_msg(scall *c, grpc_byte_buffer **bb) {
  if (!c->pre_recv) {
    wait_op(c); /* a failed earlier send is reported by this receive too */
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    c->recv_bb = NULL;
    op.data.recv_message.recv_message = &c->recv_bb;
    if (!start_op(c, &op, 1))
      return 0;
  }
  c->pre_recv = 0; /* started at accept, or with the metadata */
  int ok = wait_op(c);
  *bb = c->recv_bb;
  c->recv_bb = NULL;
  if (!ok && *bb != NULL) {
    grpc_byte_buffer_destroy(*bb);
    *bb = NULL;
  }
  return ok;
}

/* Appends the call's initial metadata to ops[*n] unless it went already:
 * "dq-accepted: accept" (md holds it), or none when accept is NULL. */
static void add_initial_md(scall *c, grpc_op *ops, size_t *n,
                           grpc_metadata *md, const char *accept) {
  if (c->md_sent)
    return;
  ops[*n].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (accept) {
    md->key = grpc_slice_from_static_string(GRPC_ACCEPT_KEY);
    md->value = grpc_slice_from_static_string(accept);
    ops[*n].data.send_initial_metadata.count = 1;
    ops[*n].data.send_initial_metadata.metadata = md;
  }
  (*n)++;
  c->md_sent = 1;
}

/* Starts sending bb (owned from here on) after the previous send. */
static int send_msg(scall *c, grpc_byte_buffer *bb, const char *accept) {
  if (!wait_op(c)) {
    grpc_byte_buffer_destroy(bb);
    return 0;
  }
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  grpc_metadata md;
  add_initial_md(c, ops, &n, &md, accept);
  if (bb != NULL) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
  }
  c->send_bb = bb;
  if (!start_op(c, ops, n)) {
    if (bb)
      grpc_byte_buffer_destroy(bb);
    c->send_bb = NULL;
    return 0;
  }
  return 1;
}

/* Sends the initial metadata `accept` and starts the next receive in the
 * same batch (one completion instead of two); recv_msg collects it. */
static int send_md_recv(scall *c, const char *accept) {
  if (!wait_op(c))
    return 0;
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  grpc_metadata md;
  add_initial_md(c, ops, &n, &md, accept);
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  c->recv_bb = NULL;
  ops[n].data.recv_message.recv_message = &c->recv_bb;
  n++;
  if (!start_op(c, ops, n))
    return 0;
  c->pre_recv = 1;
  return 1;
}

/* Ends the call with OK or with err (as status + dq-error-bin); status 0
 * picks the gRPC code that matches err's. */
static void send_status_as(scall *c, const dq_error *err,
                           grpc_status_code status) {
  wait_op(c);
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  add_initial_md(c, ops, &n, NULL, NULL);
  grpc_metadata md;
  grpc_slice details;
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  if (err == NULL) {
    ops[n].data.send_status_from_server.status = GRPC_STATUS_OK;
    details = grpc_empty_slice();
  } else {
    md.key = grpc_slice_from_static_string(GRPC_ERROR_KEY);
    md.value = grpc_f_error_slice(err);
    ops[n].data.send_status_from_server.trailing_metadata_count = 1;
    ops[n].data.send_status_from_server.trailing_metadata = &md;
    ops[n].data.send_status_from_server.status =
        status != GRPC_STATUS_OK ? status : grpc_f_status_of(err->code);
    details = grpc_slice_from_copied_string(err->message);
  }
  ops[n].data.send_status_from_server.status_details = &details;
  n++;
  if (start_op(c, ops, n))
    wait_op(c);
  grpc_slice_unref(details);
  if (err != NULL)
    grpc_slice_unref(md.value);
}

static void send_status(scall *c, const dq_error *err) {
  send_status_as(c, err, GRPC_STATUS_OK);
}

static void wait_closed(scall *c) {
  wait_op(c);
  pthread_mutex_lock(&c->lock);
  while (!c->closed)
    pthread_cond_wait(&c->cond, &c->lock);
  pthread_mutex_unlock(&c->lock);
}

static int token_ok(scall *c) {
  const char *tok = c->srv->t->token;
  if (tok == NULL)
    return 1;
  for (size_t i = 0; i < c->md.count; i++) {
    if (grpc_slice_str_cmp(c->md.metadata[i].key, "authorization") != 0)
      continue;
    grpc_slice v = c->md.metadata[i].value;
    const char *p = (const char *)GRPC_SLICE_START_PTR(v);
    size_t n = GRPC_SLICE_LENGTH(v);
    if (n < 7 || memcmp(p, "Bearer ", 7) != 0)
      return 0;
    return grpc_f_token_equal(p + 7, n - 7, tok, strlen(tok));
  }
  return 0;
}

/* Stamps the worker's URL on an error from the service that has none. */
static void origin(scall *c, dq_error *err) {
  if (err->worker_url[0] == '\0')
    dq_error_set_origin(err, c->srv->url, NULL);
}

/* --- the three RPCs ----------------------------------------------------------*/

static void do_info(scall *c) {
  grpc_byte_buffer *bb;
  if (!recv_msg(c, &bb))
    return;
  if (bb)
    grpc_byte_buffer_destroy(bb);
  dq_worker_info info;
  dq_error err;
  memset(&info, 0, sizeof info);
  const dq_worker_service *svc = c->srv->svc;
  if (svc->get_worker_info(svc->self, &info, &err) < 0) {
    origin(c, &err);
    send_status(c, &err);
    return;
  }
  void *buf;
  size_t len;
  if (dq_wire_encode_worker_info(&info, &buf, &len, &err) < 0) {
    origin(c, &err);
    send_status(c, &err);
    return;
  }
  if (send_msg(c, grpc_f_bytes(buf, len), NULL))
    send_status(c, NULL);
}

/* A received CoordinatorMessage, decoded by <dq/wire.h>. */
static int decode_coord(grpc_byte_buffer *bb, dq_set_plan **plan,
                        void **unit, size_t *unit_len, dq_error *err) {
  grpc_slice s = grpc_f_flatten(bb);
  int rc = dq_wire_decode_coord_message(GRPC_SLICE_START_PTR(s),
                                        GRPC_SLICE_LENGTH(s), plan, unit,
                                        unit_len, err);
  grpc_slice_unref(s);
  return rc;
}

static void do_coord(scall *c) {
  const dq_worker_service *svc = c->srv->svc;
  grpc_byte_buffer *bb;
  if (!recv_msg(c, &bb) || bb == NULL)
    return;
  dq_set_plan *plan = NULL;
  void *unit = NULL;
  size_t unit_len;
  dq_error err;
  int rc = decode_coord(bb, &plan, &unit, &unit_len, &err);
  grpc_byte_buffer_destroy(bb);
  if (rc == 0 && plan == NULL) {
    dq_wire_free(unit);
    rc = dq_error_set(&err, DQ_EPROTO,
                      "a CoordinatorChannel must start with a SetPlan, not "
                      "a WorkUnit");
  }
  if (rc < 0) {
    origin(c, &err);
    send_status(c, &err);
    return;
  }
  dq_ws_task *task = NULL;
  rc = svc->coord_open(svc->self, plan, &task, &err);
  dq_wire_set_plan_free(plan);
  if (rc < 0) {
    origin(c, &err);
    send_status(c, &err);
    return;
  }
  int alive = send_md_recv(c, "1");
  while (alive) {
    if (!recv_msg(c, &bb))
      break;
    if (bb == NULL) { /* the coordinator's side ended */
      dq_task_metrics tm;
      memset(&tm, 0, sizeof tm);
      if (svc->coord_finish(svc->self, task, &tm, &err) < 0) {
        origin(c, &err);
        send_status(c, &err);
        break;
      }
      void *buf;
      size_t len;
      if (dq_wire_encode_task_metrics(&tm, &buf, &len, &err) < 0) {
        origin(c, &err);
        send_status(c, &err);
        break;
      }
      send_msg(c, grpc_f_bytes(buf, len), NULL);
      wait_op(c);
      /* The call stays open: the coordinator ends it to free the task. */
      break;
    }
    rc = decode_coord(bb, &plan, &unit, &unit_len, &err);
    grpc_byte_buffer_destroy(bb);
    if (rc == 0 && plan != NULL) {
      dq_wire_set_plan_free(plan);
      plan = NULL;
      rc = dq_error_set(&err, DQ_EPROTO,
                        "after SetPlan a CoordinatorChannel carries only "
                        "WorkUnits");
    }
    if (rc == 0) {
      rc = svc->coord_send_work_unit(svc->self, task, unit, unit_len, &err);
      dq_wire_free(unit);
    }
    if (rc < 0) {
      origin(c, &err);
      send_status(c, &err);
      break;
    }
  }
  wait_closed(c);
  svc->coord_close(svc->self, task);
}

typedef struct emit_ctx {
  scall *c;
} emit_ctx;

/* The frame encoder's emitter: each IPC message (or EOS) as a
 * PartitionFrame. */
static int emit_frame(void *ctx, uint32_t kind, uint32_t partition,
                      dq_ipc_message *m, dq_error *err) {
  emit_ctx *ec = ctx;
  (void)kind;
  grpc_byte_buffer *bb = m != NULL ? grpc_f_ipc_frame(partition, m)
                                   : grpc_f_eos_frame(partition);
  if (bb == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (!send_msg(ec->c, bb, "1"))
    return dq_error_set(err, DQ_ECANCELED, "the client went away");
  return 0;
}

static void do_execute(scall *c) {
  dq_server *srv = c->srv;
  const dq_worker_service *svc = srv->svc;
  grpc_byte_buffer *bb;
  if (!recv_msg(c, &bb) || bb == NULL)
    return;
  dq_execute_task *req = NULL;
  dq_error err;
  grpc_slice sl = grpc_f_flatten(bb);
  grpc_byte_buffer_destroy(bb);
  int rc = dq_wire_decode_execute_task(GRPC_SLICE_START_PTR(sl),
                                       GRPC_SLICE_LENGTH(sl), &req, &err);
  grpc_slice_unref(sl);
  if (rc < 0) {
    origin(c, &err);
    send_status(c, &err);
    return;
  }
  dq_task_key key = req->key;
  dq_ws_stream *ws;
  rc = svc->execute_task(svc->self, req, &ws, &err);
  dq_wire_execute_task_free(req);
  if (rc < 0) {
    origin(c, &err);
    /* No plan arrived for the task in plan_wait_ms: the request came
     * before its precondition (SetPlan), which DEADLINE_EXCEEDED would
     * hide among the client's own deadlines.  The dq error (DQ_ETIMEDOUT)
     * still travels in the trailer. */
    send_status_as(c, &err, rc == DQ_ETIMEDOUT
                                ? GRPC_STATUS_FAILED_PRECONDITION
                                : GRPC_STATUS_OK);
    return;
  }
  pthread_mutex_lock(&srv->lock);
  int stopping = srv->stopping;
  srv->streams++;
  pthread_mutex_unlock(&srv->lock);
  pthread_mutex_lock(&c->lock);
  c->ws = ws;
  c->ws_live = 1;
  if ((c->closed && c->cancelled) || stopping)
    svc->stream_cancel(svc->self, ws);
  pthread_mutex_unlock(&c->lock);

  /* Batches larger than the message limit are split into row ranges. */
  size_t limit = (size_t)srv->t->max_message_size - GRPC_FRAME_OVERHEAD;
  dq_wire_frame_encoder *enc = NULL;
  int alive = send_msg(c, NULL, "1");
  if (alive && dq_wire_frame_encoder_new(limit, &enc, &err) < 0) {
    origin(c, &err);
    send_status(c, &err);
    alive = 0;
  }
  emit_ctx ec = {c};
  while (alive) {
    dq_frame f;
    rc = svc->stream_next(svc->self, ws, &f, &err);
    if (rc < 0) {
      pthread_mutex_lock(&c->lock);
      int gone = c->closed;
      pthread_mutex_unlock(&c->lock);
      if (gone)
        break; /* the client cancelled: nobody to tell */
      pthread_mutex_lock(&srv->lock);
      stopping = srv->stopping;
      pthread_mutex_unlock(&srv->lock);
      if (stopping && rc == DQ_ECANCELED) {
        dq_error_set(&err, DQ_EUNAVAILABLE,
                     "worker %s stopped while the stream was being read",
                     srv->url);
        dq_error_set_origin(&err, srv->url, &key);
      }
      origin(c, &err);
      send_status(c, &err);
      break;
    }
    if (f.kind == DQ_FRAME_END) {
      send_status(c, NULL);
      break;
    }
    rc = dq_wire_frame_encode(enc, &f, emit_frame, &ec, &err);
    if (rc == DQ_ECANCELED)
      break;
    if (rc == DQ_ETOOBIG) {
      /* Name the setting that bounds the message. */
      char msg[sizeof err.message];
      snprintf(msg, sizeof msg, "%s", err.message);
      dq_error_set(&err, DQ_ETOOBIG, "%s ([transport.grpc] max_message_size)",
                   msg);
    }
    if (rc < 0) {
      dq_error_set_origin(&err, srv->url, &key);
      send_status(c, &err);
      break;
    }
  }
  dq_wire_frame_encoder_free(enc);
  wait_op(c);
  pthread_mutex_lock(&c->lock);
  c->ws_live = 0;
  pthread_mutex_unlock(&c->lock);
  svc->stream_close(svc->self, ws);
  pthread_mutex_lock(&srv->lock);
  srv->streams--;
  pthread_cond_broadcast(&srv->cond);
  pthread_mutex_unlock(&srv->lock);
}

/* One call, from its hand-over to its end. */
static void run_call(scall *c) {
  dq_server *srv = c->srv;
  if (c->method == M_UNKNOWN) {
    dq_error e;
    dq_error_set(&e, DQ_EUNSUPPORTED, "dq.v1.Worker has no such method");
    dq_error_set_origin(&e, srv->url, NULL);
    send_status(c, &e);
  } else if (!c->authorized) {
    dq_error e;
    dq_error_set(&e, DQ_ECONFIG, /* a misconfiguration, not a lost worker */
                 "worker %s rejected the token: the bearer token is missing "
                 "or differs from its [transport.grpc] token",
                 srv->url);
    dq_error_set_origin(&e, srv->url, NULL);
    send_status_as(c, &e, GRPC_STATUS_UNAUTHENTICATED);
  } else if (c->method == M_COORD) {
    do_coord(c);
  } else if (c->method == M_EXECUTE) {
    do_execute(c);
  } else {
    do_info(c);
  }
  /* A call that ended without a status (the client left) still owes one
   * to gRPC's bookkeeping: cancel makes sure it is finished.  A receive
   * started for a handler that did not collect it ends with it. */
  pthread_mutex_lock(&c->lock);
  int closed = c->closed;
  pthread_mutex_unlock(&c->lock);
  if (!closed && c->pre_recv)
    grpc_call_cancel(c->call, NULL);
  wait_op(c);
  if (c->recv_bb != NULL) {
    grpc_byte_buffer_destroy(c->recv_bb);
    c->recv_bb = NULL;
  }
  pthread_mutex_lock(&c->lock);
  closed = c->closed;
  pthread_mutex_unlock(&c->lock);
  if (!closed)
    grpc_call_cancel(c->call, NULL);
  wait_closed(c);
  grpc_call_unref(c->call);

  pthread_mutex_lock(&srv->lock);
  unlink_call(srv, c);
  pthread_mutex_unlock(&srv->lock);
  free_scall(c);
}

/* A pooled handler thread: runs queued calls one after another; exits
 * after POOL_IDLE_MS without one, when POOL_MAX_IDLE others already wait,
 * or once the server stops and nothing is queued. */
static void *handler_main(void *arg) {
  thr_node *me = arg;
  dq_server *srv = me->srv;
  pthread_mutex_lock(&srv->lock);
  for (;;) {
    if (srv->queue == NULL) {
      if (srv->stopping || srv->idle >= POOL_MAX_IDLE)
        break;
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until); /* srv->work's clock */
      until.tv_sec += POOL_IDLE_MS / 1000;
      until.tv_nsec += (long)(POOL_IDLE_MS % 1000) * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      int timed_out = 0;
      srv->idle++;
      while (srv->queue == NULL && !srv->stopping && !timed_out)
        timed_out = pthread_cond_timedwait(&srv->work, &srv->lock, &until) ==
                    ETIMEDOUT;
      srv->idle--;
      if (srv->queue == NULL)
        break;
    }
    scall *c = srv->queue;
    srv->queue = c->qnext;
    if (srv->queue == NULL)
      srv->queue_end = NULL;
    srv->queued--;
    pthread_mutex_unlock(&srv->lock);
    run_call(c);
    pthread_mutex_lock(&srv->lock);
  }
  /* Move our node from the live list to the dead one, to be joined; if
   * stop() took the live list, it joins us from there.  Those that went
   * before are joined first, so few wait. */
  thr_node *dead = srv->dead;
  srv->dead = NULL;
  for (thr_node **pp = &srv->live; *pp != NULL; pp = &(*pp)->next)
    if (*pp == me) {
      *pp = me->next;
      me->next = srv->dead;
      srv->dead = me;
      break;
    }
  pthread_mutex_unlock(&srv->lock);
  while (dead != NULL) {
    thr_node *n = dead->next;
    pthread_join(dead->th, NULL);
    free(dead);
    dead = n;
  }
  return NULL;
}

/* --- serve / stop ------------------------------------------------------------*/

int grpc_s_serve(dq_transport *t, const char *listen_url,
                 const dq_worker_service *svc, dq_server **out,
                 dq_error *err) {
  char target[280];
  /* "grpc://" alone: a fresh address of our choosing (dq-transport(7)),
   * a free port on loopback. */
  if (listen_url != NULL && strcmp(listen_url, GRPC_SCHEME) == 0)
    listen_url = GRPC_SCHEME "127.0.0.1:0";
  int rc = grpc_tp_target(listen_url, target, sizeof target, err);
  if (rc < 0)
    return rc;
  if (svc == NULL || svc->size < sizeof(dq_worker_service))
    return dq_error_set(err, DQ_EINVAL, "grpc: worker service too old");
  int loopback = 0;
  rc = grpc_listen_check(listen_url, target, &loopback, err);
  if (rc < 0)
    return rc;
  /* TLS alone does not say who the client is: only the token does. */
  if (!loopback && t->token == NULL && !t->allow_unauthenticated)
    return dq_error_set(err, DQ_ECONFIG,
                        "refusing to serve at %s without authentication: "
                        "anyone who can reach it could run plans, and plans "
                        "read files.  Set [transport.grpc] token (and TLS), "
                        "listen on a loopback address, or set "
                        "[transport.grpc] allow_unauthenticated = true",
                        listen_url);
  dq_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  srv->t = t;
  srv->svc = svc;
  srv->shutdown_tag = (stag){TAG_SHUTDOWN, NULL};
  pthread_mutex_init(&srv->lock, NULL);
  pthread_cond_init(&srv->cond, NULL);
  pthread_condattr_t ca_mono;
  pthread_condattr_init(&ca_mono);
  pthread_condattr_setclock(&ca_mono, CLOCK_MONOTONIC);
  pthread_cond_init(&srv->work, &ca_mono);
  pthread_condattr_destroy(&ca_mono);

  grpc_arg args[12];
  grpc_channel_args ca = {0, args};
  grpc_tp_fill_args(t, 1, args, &ca.num_args);
  srv->server = grpc_server_create(&ca, NULL);
  /* gRPC delivers a registered method's call together with its first
   * message: the SetPlan is there when the handler starts, one completion
   * fewer on the path of coord_open. */
  srv->rm_coord = grpc_server_register_method(
      srv->server, GRPC_M_COORD, NULL,
      GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  srv->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
  grpc_server_credentials *creds;
  if (t->tls_cert != NULL) {
    grpc_ssl_pem_key_cert_pair pair = {t->tls_key, t->tls_cert};
    creds = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
  } else {
    creds = grpc_insecure_server_credentials_create();
  }
  int port = creds ? grpc_server_add_http2_port(srv->server, target, creds)
                   : 0;
  if (creds)
    grpc_server_credentials_release(creds);
  if (port == 0) {
    grpc_server_destroy(srv->server);
    grpc_completion_queue_shutdown(srv->cq);
    while (grpc_completion_queue_next(srv->cq,
                                      gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
      ;
    grpc_completion_queue_destroy(srv->cq);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    pthread_cond_destroy(&srv->work);
    free(srv);
    /* The address itself was bound by grpc_listen_check's probe: what is
     * left is gRPC refusing the credentials, or a race for the port. */
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        t->tls_cert != NULL
                            ? "cannot listen at %s: gRPC refused the TLS "
                              "certificate or key ([transport.grpc] "
                              "tls_cert, tls_key)"
                            : "cannot listen at %s: the address was taken "
                              "while gRPC was binding it",
                        listen_url);
  }
  const char *colon = strrchr(target, ':');
  snprintf(srv->url, sizeof srv->url, GRPC_SCHEME "%.*s:%d",
           (int)(colon - target), target, port);
  grpc_server_start(srv->server);
  srv->cq_thr = calloc((size_t)t->cq_threads, sizeof *srv->cq_thr);
  for (int i = 0; srv->cq_thr != NULL && i < t->cq_threads; i++)
    if (pthread_create(&srv->cq_thr[i], NULL, cq_main, srv) == 0)
      srv->n_cq_thr++;
  if (srv->n_cq_thr == 0) {
    dq_server *s = srv;
    grpc_s_stop(s);
    return dq_error_set(err, DQ_EIO,
                        "cannot start the gRPC server's threads");
  }
  request_one(srv, 0);
  if (srv->rm_coord != NULL)
    request_one(srv, 1);
  *out = srv;
  return 0;
}

const char *grpc_s_server_url(const dq_server *srv) { return srv->url; }

static void timed_wait(dq_server *srv, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
  ts.tv_nsec %= 1000000000L;
  pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
}

void grpc_s_stop(dq_server *srv) {
  if (srv == NULL)
    return;
  pthread_mutex_lock(&srv->lock);
  srv->stopping = 1;
  pthread_mutex_unlock(&srv->lock);
  grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);

  /* Wake the streams so their handlers can say why they end... */
  pthread_mutex_lock(&srv->lock);
  for (scall *c = srv->calls; c != NULL; c = c->next) {
    pthread_mutex_lock(&c->lock);
    if (c->ws_live)
      srv->svc->stream_cancel(srv->svc->self, c->ws);
    pthread_mutex_unlock(&c->lock);
  }
  /* ...give them a moment to, then end whatever is left. */
  for (int i = 0; i < 25 && srv->streams > 0; i++)
    timed_wait(srv, 10);
  pthread_mutex_unlock(&srv->lock);
  grpc_server_cancel_all_calls(srv->server);

  pthread_mutex_lock(&srv->lock);
  while (srv->n_cq_thr > 0 && (!srv->shutdown_done || srv->handlers > 0))
    pthread_cond_wait(&srv->cond, &srv->lock);
  /* Every call is over: the idle handler threads exit (stopping is set). */
  pthread_cond_broadcast(&srv->work);
  thr_node *live = srv->live;
  srv->live = NULL;
  pthread_mutex_unlock(&srv->lock);
  for (thr_node *n; live != NULL; live = n) {
    n = live->next;
    pthread_join(live->th, NULL);
    free(live);
  }
  join_dead(srv);
  if (srv->n_cq_thr == 0) {
    /* serve() failed to start threads: drain the shutdown tag here. */
    grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                               NULL);
  }
  grpc_server_destroy(srv->server);
  grpc_completion_queue_shutdown(srv->cq);
  for (int i = 0; i < srv->n_cq_thr; i++)
    pthread_join(srv->cq_thr[i], NULL);
  if (srv->n_cq_thr == 0)
    while (grpc_completion_queue_next(srv->cq,
                                      gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
      ;
  grpc_completion_queue_destroy(srv->cq);
  free(srv->cq_thr);
  pthread_mutex_destroy(&srv->lock);
  pthread_cond_destroy(&srv->cond);
  pthread_cond_destroy(&srv->work);
  free(srv);
}
