/* worker.c — a worker: libdq's implementation of the worker protocol
 * (dq_worker_service), served over the context's transport.
 *
 * A task arrives with SetPlan (coord_open) and waits.  The first
 * ExecuteTask for it fixes its producer head and starts it: one thread per
 * pipeline (the stage's P partitions), each pulling batches through the
 * executor and routing them through the head into the task's output
 * partitions.  Output is buffered without bound, so producers never wait for
 * consumers and no poll order can deadlock; a shuffle or coalesce partition
 * is handed to its single reader and dropped, a broadcast is kept for every
 * reader.  Streams hand batches over as Arrow C structs without copying.
 *
 * Lifetimes: a task is referenced by the worker's table (until its
 * coordinator channel closes, or its idle TTL passes), by the coordinator
 * channel's handle (until it closes: a TTL may retire the task first), by
 * each open stream and by each running pipeline; whichever lets go last
 * frees it.  Pipeline
 * threads are detached and counted, so dq_worker_stop can wait for them.
 * Threads rather than a pool: a pipeline blocks while it waits for another
 * task's output, and a bounded pool could fill with such waiters.
 *
 * Locks: a task's lock, then the worker lock; the worker lock is a leaf
 * (the table, references, thread counts) and nothing is called under it.
 * No lock is held while a starting task opens its inputs (streams from
 * the producer tasks it reads, possibly across the network, possibly
 * waiting for their plans): cancel and close take the task lock and must
 * never wait behind a blocked open.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dq/runtime.h>
#include <dq/transport.h>

#include "arrow/batch_internal.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "exec/exec.h"
#include "host/config.h"
#include "host/context.h"
#include "host/endpoint.h"
#include "runtime/boundary_reader.h"
#include "runtime/settings.h"
#include "runtime/task_plan.h"
#include "runtime/worker_internal.h"
#include "scan/file_policy.h"

/* A producer head may not ask for more output partitions than this. */
#define MAX_OUT_PARTITIONS (1u << 16)

typedef struct out_part {
  dq_batch **items;
  size_t n, cap;
  int claimed; /* shuffle/coalesce: a stream reads it */
} out_part;

typedef dq_work_unit work_unit; /* handed to the executor as they are */

typedef struct task task;
typedef struct ws_stream_impl ws_stream_impl;

struct task {
  dq_worker *w;
  task *next, *prev; /* in w->tasks, while in the table */
  task *all_prev, *all_next; /* in w->all, while the object lives */
  long refs;        /* guarded by w->lock */
  int in_table;
  int handle_open;  /* the coordinator channel holds a reference */
  dq_task_key key;
  uint32_t task_count;
  dq_task_plan *tp;
  dq_query_settings settings; /* the worker's, with SetPlan's applied */
  uint64_t plan_bytes;
  work_unit *units;
  size_t n_units;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  atomic_bool cancelled;
  int starting; /* its inputs are being opened, without the lock */
  int started;
  int failed;
  dq_error error;
  uint8_t *head_bytes;
  size_t head_len;
  dq_producer_head head;
  uint32_t n_out;
  out_part *out;
  atomic_int running; /* pipelines still running (the reaper reads it
                       * without the task lock) */
  int finished; /* every pipeline ended: outputs complete */
  dq_reader **readers; /* one per input of tp */
  uint64_t t_plan, t_start, t_end;
  _Atomic uint64_t last_activity;
  uint64_t rows_out, batches_out, bytes_out;
  dq_boundary_metrics *bm;
  dq_task_metrics metrics;
  long open_streams;
};

struct ws_stream_impl {
  task *t;
  uint32_t start, end;
  size_t *cursor;  /* per partition of the range */
  uint8_t *eos_sent;
  uint32_t n_eos;
  uint32_t rr; /* round-robin position */
  int schema_sent;
  atomic_bool cancelled;
  int served; /* opened through the transport, listed in w->streams */
  ws_stream_impl *prev, *next;
};

/* Decoded task plans by their bytes: every task of a stage gets the same
 * SetPlan bytes (the task number travels in the key), and so does every
 * run of the same query, so decoding once per distinct plan takes the
 * decoder — most of a plan delivery's cost — off the common path. */
#define PLAN_CACHE 8
typedef struct plan_cache_entry {
  uint8_t *bytes;
  size_t len;
  dq_task_plan *tp; /* a reference of the cache's own */
  uint64_t used;
} plan_cache_entry;

typedef struct channel_entry {
  char *url;
  dq_channel *ch;
  struct channel_entry *next;
} channel_entry;

struct dq_worker {
  dq_context *ctx;
  const dq_transport_ops *ops;
  dq_transport *transport;
  dq_server *server;
  char url[256];
  dq_worker_service svc;
  dq_query_settings settings; /* defaults for tasks */
  int64_t ttl_ms, plan_wait_ms;
  /* ExecuteTasks that may wait for their plan at once ([executor]
   * plan_waiters): each holds a transport thread for up to plan_wait_ms,
   * so without a bound a client could pin every thread of the host. */
  int64_t max_plan_waiters;
  long plan_waiters;
  uint64_t refusals, last_refusal_log_ns;

  pthread_mutex_t lock;
  pthread_cond_t cond; /* tasks arrive, threads end */
  /* The reaper's own, signalled only at stop: on `cond` every task that
   * came or went woke it for a scan of the table (12 us of every plan
   * delivery over shm, measured). */
  pthread_cond_t reaper_cond;
  task *tasks;        /* the table: tasks coordinators can reach */
  long n_table;
  /* The table by task key: SetPlan, ExecuteTask and retirement find a
   * task in O(1).  A list walk made 32,768 tasks take 45 s to retire. */
  dq_hmap index;
  /* Which files the tasks' scans may open; NULL for an inmem worker
   * (file_policy.h says why). */
  /* URL -> (void *)1 when it reaches this worker, (void *)2 when not,
   * resolved once per URL (endpoint.h). */
  dq_hmap self_urls;
  dq_file_policy files_store;
  const dq_file_policy *files;
  task *all;          /* every task object still alive */
  ws_stream_impl *streams;
  long live_tasks; /* task objects not yet freed */
  long threads;    /* pipeline threads running */
  int stopping;
  channel_entry *channels;
  plan_cache_entry plans[PLAN_CACHE]; /* guarded by lock */
  uint64_t plans_clock;
  pthread_t reaper;
  int reaper_started;
};

/* --- tasks -----------------------------------------------------------------*/

static void task_free(task *t) {
  for (size_t i = 0; t->readers != NULL && i < t->tp->n_inputs; i++)
    dq_reader_free(t->readers[i]);
  free(t->readers);
  for (uint32_t p = 0; p < t->n_out; p++) {
    for (size_t i = 0; i < t->out[p].n; i++)
      dq_batch_unref(t->out[p].items[i]);
    free(t->out[p].items);
  }
  free(t->out);
  for (size_t i = 0; i < t->n_units; i++)
    free(t->units[i].data);
  free(t->units);
  free(t->head_bytes);
  dq_producer_head_clear(&t->head);
  free(t->bm);
  dq_task_plan_free(t->tp);
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->cond);
  dq_worker *w = t->w;
  pthread_mutex_lock(&w->lock);
  if (t->all_prev)
    t->all_prev->all_next = t->all_next;
  else
    w->all = t->all_next;
  if (t->all_next)
    t->all_next->all_prev = t->all_prev;
  free(t);
  w->live_tasks--;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

static void task_unref(task *t) {
  dq_worker *w = t->w;
  pthread_mutex_lock(&w->lock);
  long refs = --t->refs;
  pthread_mutex_unlock(&w->lock);
  if (refs == 0)
    task_free(t);
}

static void touch(task *t) { atomic_store(&t->last_activity, dq_now_ns()); }

/* Marks the error's origin as this task unless it came from elsewhere. */
static void set_origin(task *t, dq_error *err) {
  if (err != NULL && err->worker_url[0] == '\0' && !err->has_task)
    dq_error_set_origin(err, t->w->url, &t->key);
}

/* Stops the task: pipelines see the flag between batches, readers are
 * cancelled so blocked reads return, streams wake up. */
static void task_cancel(task *t) {
  atomic_store(&t->cancelled, true);
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; t->readers != NULL && i < t->tp->n_inputs; i++)
    dq_reader_cancel(t->readers[i]);
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
}

/* A peer this worker could not reach (refused, TLS trouble) may well be
 * reachable from the coordinator: the message names both ends. */
static void name_both_ends(task *t, dq_error *err) {
  if ((err->code == DQ_EUNAVAILABLE || err->code == DQ_ECONFIG) &&
      err->worker_url[0] != '\0' &&
      strcmp(err->worker_url, t->w->url) != 0 &&
      strstr(err->message, t->w->url) == NULL) {
    char m[sizeof err->message];
    snprintf(m, sizeof m, "%s", err->message);
    dq_error e2 = *err;
    dq_error_set(&e2, err->code, "%s (dialled by worker %s)", m, t->w->url);
    dq_error_set_origin(&e2, err->worker_url, err->has_task ? &err->task : NULL);
    *err = e2;
  }
}

static void task_fail(task *t, dq_error *err) {
  set_origin(t, err);
  name_both_ends(t, err);
  pthread_mutex_lock(&t->lock);
  if (!t->failed) {
    t->failed = 1;
    t->error = *err;
  }
  pthread_mutex_unlock(&t->lock);
  task_cancel(t);
}

/* The index key of a task: its key's bytes, in a fixed layout. */
#define KEY_BYTES 24
static void key_bytes(const dq_task_key *k, uint8_t out[KEY_BYTES]) {
  memcpy(out, k->query_id, 16);
  memcpy(out + 16, &k->stage_id, 4);
  memcpy(out + 20, &k->task_number, 4);
}

/* Removes t from the table (if still there) and drops the table's ref. */
static void task_retire(task *t) {
  dq_worker *w = t->w;
  pthread_mutex_lock(&w->lock);
  int was = t->in_table;
  if (was) {
    if (t->prev)
      t->prev->next = t->next;
    else
      w->tasks = t->next;
    if (t->next)
      t->next->prev = t->prev;
    t->next = t->prev = NULL;
    uint8_t kb[KEY_BYTES];
    key_bytes(&t->key, kb);
    dq_hmap_remove(&w->index, kb, sizeof kb);
    t->in_table = 0;
    w->n_table--;
  }
  pthread_mutex_unlock(&w->lock);
  if (was) {
    task_cancel(t);
    task_unref(t);
  }
}

static int key_equal(const dq_task_key *a, const dq_task_key *b) {
  return a->stage_id == b->stage_id && a->task_number == b->task_number &&
         memcmp(a->query_id, b->query_id, 16) == 0;
}

/* Finds a task in the table and takes a reference; w->lock held. */
static task *find_locked(dq_worker *w, const dq_task_key *key) {
  uint8_t kb[KEY_BYTES];
  key_bytes(key, kb);
  task *t = dq_hmap_get(&w->index, kb, sizeof kb);
  if (t != NULL && key_equal(&t->key, key)) {
    t->refs++;
    return t;
  }
  return NULL;
}

/* --- reading other tasks' output ------------------------------------------*/

static int execute_task(dq_worker *w, const dq_execute_task *req, int served,
                        dq_ws_stream **out, dq_error *err);
static int ws_stream_next(void *self, dq_ws_stream *s, dq_frame *out,
                          dq_error *err);
static void ws_stream_cancel(void *self, dq_ws_stream *s);
static void ws_stream_close(void *self, dq_ws_stream *s);

typedef struct local_src {
  dq_worker *w;
  dq_ws_stream *s;
} local_src;

static int local_next(void *s, dq_frame *out, dq_error *err) {
  local_src *l = s;
  return ws_stream_next(l->w, l->s, out, err);
}
static void local_cancel(void *s) {
  local_src *l = s;
  ws_stream_cancel(l->w, l->s);
}
static void local_close(void *s) {
  local_src *l = s;
  ws_stream_close(l->w, l->s);
  free(l);
}

/* A channel to url from the worker's cache (opened on first use). */
static int worker_channel(dq_worker *w, const char *url, dq_channel **out,
                          dq_error *err) {
  pthread_mutex_lock(&w->lock);
  for (channel_entry *e = w->channels; e != NULL; e = e->next)
    if (strcmp(e->url, url) == 0) {
      *out = e->ch;
      pthread_mutex_unlock(&w->lock);
      return 0;
    }
  pthread_mutex_unlock(&w->lock);
  dq_channel *ch;
  int rc = w->ops->channel_open(w->transport, url, &ch, err);
  if (rc < 0)
    return rc;
  channel_entry *e = calloc(1, sizeof *e);
  char *u = strdup(url);
  if (e == NULL || u == NULL) {
    free(e);
    free(u);
    w->ops->channel_close(ch);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&w->lock);
  for (channel_entry *o = w->channels; o != NULL; o = o->next)
    if (strcmp(o->url, url) == 0) { /* another thread won the race */
      *out = o->ch;
      pthread_mutex_unlock(&w->lock);
      w->ops->channel_close(ch);
      free(e);
      free(u);
      return 0;
    }
  e->url = u;
  e->ch = ch;
  e->next = w->channels;
  w->channels = e;
  pthread_mutex_unlock(&w->lock);
  *out = ch;
  return 0;
}

/* Whether url reaches this very worker: the same string, or another name
 * of the same socket (grpc://localhost:P for grpc://127.0.0.1:P). */
static int is_self(dq_worker *w, const char *url) {
  if (strcmp(url, w->url) == 0)
    return 1;
  size_t len = strlen(url);
  pthread_mutex_lock(&w->lock);
  void *known = dq_hmap_get(&w->self_urls, url, len);
  pthread_mutex_unlock(&w->lock);
  if (known != NULL)
    return known == (void *)1;
  int self = dq_endpoint_same(w->url, url); /* may resolve names: unlocked */
  pthread_mutex_lock(&w->lock);
  dq_hmap_put(&w->self_urls, url, len, self ? (void *)1 : (void *)2);
  pthread_mutex_unlock(&w->lock);
  return self;
}

/* Opens a producer's stream: in-process when the producer task lives on
 * this very worker (no transport), over the transport otherwise. */
static int worker_source_open(void *ctx, const char *url,
                              const dq_execute_task *req, dq_source *out,
                              dq_error *err) {
  dq_worker *w = ctx;
  if (is_self(w, url)) {
    local_src *l = calloc(1, sizeof *l);
    if (l == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    l->w = w;
    int rc = execute_task(w, req, 0, &l->s, err);
    if (rc < 0) {
      free(l);
      return rc;
    }
    out->s = l;
    out->next = local_next;
    out->cancel = local_cancel;
    out->close = local_close;
    return 0;
  }
  dq_channel *ch = NULL;
  int rc = worker_channel(w, url, &ch, err);
  if (rc < 0)
    return rc;
  return dq_source_open_transport(w->ops, ch, req, out, err);
}

/* The executor's READ leaves pull from the task's readers. */
typedef struct read_handle {
  dq_reader *r;
  uint32_t partition;
} read_handle;

static int task_read_open(void *ctx, uint32_t producer_stage_id,
                          uint32_t partition, void **reader, dq_error *err) {
  task *t = ctx;
  for (size_t i = 0; i < t->tp->n_inputs; i++)
    if (t->tp->inputs[i].producer_stage_id == producer_stage_id) {
      read_handle *h = malloc(sizeof *h);
      if (h == NULL)
        return dq_error_set(err, DQ_ENOMEM, "out of memory");
      h->r = t->readers[i];
      h->partition = partition;
      *reader = h;
      return 0;
    }
  return dq_error_set(err, DQ_EINVAL, "task reads no stage %u",
                      producer_stage_id);
}

static int task_read_next(void *ctx, void *reader, dq_batch **out,
                          dq_error *err) {
  (void)ctx;
  read_handle *h = reader;
  return dq_reader_next(h->r, h->partition, out, err);
}

static void task_read_close(void *ctx, void *reader) {
  (void)ctx;
  free(reader);
}

/* --- pipelines -------------------------------------------------------------*/

typedef struct pipeline_arg {
  task *t;
  uint32_t partition;
} pipeline_arg;

/* Routes one output batch of pipeline p through the producer head. */
static int route(task *t, uint32_t p, dq_batch *b, dq_error *err) {
  dq_batch **parts = NULL;
  uint32_t n = 1;
  if (t->head.kind == DQ_BOUNDARY_SHUFFLE) {
    n = t->n_out;
    parts = calloc(n, sizeof *parts);
    if (parts == NULL) {
      dq_batch_unref(b);
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    }
    int rc = dq_hash_partition(b, t->head.keys, t->head.n_keys, n, parts, err);
    dq_batch_unref(b);
    if (rc < 0) {
      free(parts);
      return rc;
    }
  }
  pthread_mutex_lock(&t->lock);
  int rc = 0;
  for (uint32_t i = 0; i < n; i++) {
    dq_batch *piece = parts ? parts[i] : b;
    if (piece == NULL)
      continue;
    uint32_t dest = parts ? i
                    : t->head.kind == DQ_BOUNDARY_BROADCAST ? 0
                                                            : p;
    out_part *o = &t->out[dest];
    if (o->n == o->cap) {
      size_t cap = o->cap ? o->cap * 2 : 16;
      dq_batch **items = realloc(o->items, cap * sizeof *items);
      if (items == NULL) {
        dq_batch_unref(piece);
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
        continue;
      }
      o->items = items;
      o->cap = cap;
    }
    o->items[o->n++] = piece;
    t->batches_out++;
    t->rows_out += (uint64_t)dq_batch_n_rows(piece);
    t->bytes_out += dq_batch_byte_size(piece);
  }
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
  free(parts);
  touch(t);
  return rc;
}

static void *pipeline_main(void *arg) {
  pipeline_arg *pa = arg;
  task *t = pa->t;
  uint32_t p = pa->partition;
  free(pa);
  dq_worker *w = t->w;
  dq_exec_env env;
  memset(&env, 0, sizeof env);
  env.task_number = t->key.task_number;
  env.task_count = t->task_count;
  env.n_partitions = dq_stage_partitions(t->tp->stage);
  env.batch_rows = t->settings.batch_rows;
  env.cancelled = &t->cancelled;
  env.reader_ctx = t;
  env.read_open = task_read_open;
  env.read_next = task_read_next;
  env.read_close = task_read_close;
  /* Units arrive only before the task starts, so no lock is needed. */
  env.units = t->units;
  env.n_units = t->n_units;
  env.files = w->files;
  dq_error err;
  dq_error_clear(&err);
  dq_exec *e = NULL;
  int rc = dq_exec_open(t->tp->stage, &env, p, &e, &err);
  while (rc == 0) {
    dq_batch *b = NULL;
    rc = dq_exec_next(e, &b, &err);
    if (rc < 0 || b == NULL)
      break;
    rc = route(t, p, b, &err);
  }
  dq_exec_close(e);
  if (rc < 0 && !(rc == DQ_ECANCELED && atomic_load(&t->cancelled)))
    task_fail(t, &err);
  pthread_mutex_lock(&t->lock);
  if (--t->running == 0) {
    t->finished = 1;
    t->t_end = dq_now_ns();
  }
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
  task_unref(t);
  /* This thread is detached: dq_worker_stop waits for the count below,
   * and its caller may exit the process before the thread's own exit
   * destructors run, so nothing it holds may outlive the count. */
  dq_buffer_cache_release();
  pthread_mutex_lock(&w->lock);
  w->threads--;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* The first step of starting a task, under t->lock: the producer head,
 * the output partitions and the arrays the inputs go into.  Nothing here
 * waits. */
static int task_prepare_locked(task *t, const dq_execute_task *req,
                               dq_error *err) {
  const dq_stage *stage = t->tp->stage;
  int rc = dq_producer_head_decode(req->producer_head, req->producer_head_len,
                                   &t->head, err);
  if (rc < 0)
    return rc;
  if ((uint32_t)t->head.kind != (uint32_t)dq_stage_boundary_kind(stage))
    return dq_error_set(err, DQ_EPROTO,
                        "producer head asks for boundary kind %d but stage "
                        "%u's output is kind %d",
                        (int)t->head.kind, dq_stage_id(stage),
                        (int)dq_stage_boundary_kind(stage));
  size_t n_cols = dq_schema_n_fields(dq_stage_schema(stage));
  for (size_t i = 0; i < t->head.n_keys; i++)
    if (t->head.keys[i] >= n_cols)
      return dq_error_set(err, DQ_EPROTO,
                          "producer head key column %u is out of range (the "
                          "output has %zu columns)",
                          t->head.keys[i], n_cols);
  uint32_t P = dq_stage_partitions(stage);
  t->n_out = dq_head_partitions(&t->head, P);
  if (t->n_out == 0 || t->n_out > MAX_OUT_PARTITIONS ||
      (t->head.kind == DQ_BOUNDARY_SHUFFLE && t->head.n_keys == 0))
    return dq_error_set(err, DQ_EPROTO,
                        "producer head asks for %u output partitions%s",
                        t->n_out,
                        t->head.n_keys == 0 ? " with no shuffle keys" : "");
  t->out = calloc(t->n_out, sizeof *t->out);
  t->head_bytes = malloc(req->producer_head_len ? req->producer_head_len : 1);
  t->readers = calloc(t->tp->n_inputs ? t->tp->n_inputs : 1,
                      sizeof *t->readers);
  t->bm = calloc(t->tp->n_inputs ? t->tp->n_inputs : 1, sizeof *t->bm);
  if (t->out == NULL || t->head_bytes == NULL || t->readers == NULL ||
      t->bm == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  memcpy(t->head_bytes, req->producer_head, req->producer_head_len);
  t->head_len = req->producer_head_len;
  return 0;
}

/* The second step, with no lock held: opens a reader per input into
 * readers[] (the caller's array, published under the lock afterwards, so
 * task_cancel never sees a half-written one).  On failure the readers
 * opened so far stay in readers[] for the caller to cancel and free. */
static int task_open_inputs(task *t, dq_reader **readers, dq_error *err) {
  const dq_stage *stage = t->tp->stage;
  uint32_t P = dq_stage_partitions(stage);
  for (size_t i = 0; i < t->tp->n_inputs; i++) {
    const dq_input_boundary *in = &t->tp->inputs[i];
    /* The READ node's schema is the producer's output schema. */
    const dq_schema *schema = dq_stage_read_schema(stage, in->producer_stage_id);
    if (schema == NULL)
      return dq_error_set(err, DQ_EPROTO, "stage %u has no READ of stage %u",
                          dq_stage_id(stage), in->producer_stage_id);
    int rc = dq_reader_start(in, schema, t->key.query_id, t->key.task_number,
                             t->task_count, P, worker_source_open, t->w,
                             &readers[i], err);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* The last step, under t->lock with the inputs open: one thread per
 * pipeline. */
static int task_run_locked(task *t, dq_error *err) {
  dq_worker *w = t->w;
  uint32_t P = dq_stage_partitions(t->tp->stage);
  t->started = 1;
  t->t_start = dq_now_ns();
  for (uint32_t p = 0; p < P; p++) {
    pipeline_arg *pa = malloc(sizeof *pa);
    if (pa == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    pa->t = t;
    pa->partition = p;
    pthread_mutex_lock(&w->lock);
    t->refs++;
    w->threads++;
    pthread_mutex_unlock(&w->lock);
    t->running++;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int prc = pthread_create(&th, &attr, pipeline_main, pa);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
      free(pa);
      t->running--;
      if (t->running == 0) {
        t->finished = 1;
        t->t_end = dq_now_ns();
      }
      pthread_mutex_lock(&w->lock);
      t->refs--;
      w->threads--;
      pthread_mutex_unlock(&w->lock);
      return dq_error_set(err, DQ_EIO, "cannot start a pipeline thread: %s",
                          strerror(prc));
    }
  }
  return 0;
}

/* Starts the task: called and returning with t->lock held, which it drops
 * while the inputs open.  t->starting keeps a second ExecuteTask from
 * starting it again meanwhile; a cancel that comes meanwhile is seen when
 * the opens return, and the readers opened are cancelled rather than
 * run. */
static int task_start(task *t, const dq_execute_task *req, dq_error *err) {
  int rc = task_prepare_locked(t, req, err);
  if (rc < 0)
    return rc;
  size_t n = t->tp->n_inputs;
  dq_reader **readers = calloc(n ? n : 1, sizeof *readers);
  if (readers == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  t->starting = 1;
  pthread_mutex_unlock(&t->lock);
  rc = task_open_inputs(t, readers, err);
  pthread_mutex_lock(&t->lock);
  t->starting = 0;
  memcpy(t->readers, readers, (n ? n : 1) * sizeof *readers);
  free(readers);
  if (rc == 0 && atomic_load(&t->cancelled))
    rc = t->failed ? (*err = t->error, t->error.code)
                   : dq_error_set(err, DQ_ECANCELED, "the task was cancelled");
  if (rc == 0)
    rc = task_run_locked(t, err);
  pthread_cond_broadcast(&t->cond);
  return rc;
}

/* --- the worker service ----------------------------------------------------*/

static int ws_get_worker_info(void *self, dq_worker_info *out,
                              dq_error *err) {
  (void)err;
  dq_worker *w = self;
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "%s", DQ_VERSION_STRING);
  out->protocol_version = DQ_PROTOCOL_VERSION;
  snprintf(out->url, sizeof out->url, "%s", w->url);
  return 0;
}

/* The decoded plan for these bytes: from the cache, or decoded (and
 * cached, evicting the least recently used entry). */
static int task_plan_get(dq_worker *w, const uint8_t *bytes, size_t len,
                         dq_task_plan **out, dq_error *err) {
  if (len == 0)
    return dq_task_plan_decode(bytes, len, out, err);
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < PLAN_CACHE; i++) {
    plan_cache_entry *e = &w->plans[i];
    if (e->tp != NULL && e->len == len && memcmp(e->bytes, bytes, len) == 0) {
      e->used = ++w->plans_clock;
      *out = dq_task_plan_ref(e->tp);
      pthread_mutex_unlock(&w->lock);
      return 0;
    }
  }
  pthread_mutex_unlock(&w->lock);
  int rc = dq_task_plan_decode(bytes, len, out, err);
  if (rc < 0)
    return rc;
  uint8_t *copy = malloc(len);
  if (copy == NULL)
    return 0; /* not cached: fine */
  memcpy(copy, bytes, len);
  pthread_mutex_lock(&w->lock);
  plan_cache_entry *victim = &w->plans[0];
  for (size_t i = 1; i < PLAN_CACHE && victim->tp != NULL; i++)
    if (w->plans[i].tp == NULL || w->plans[i].used < victim->used)
      victim = &w->plans[i];
  dq_task_plan *old = victim->tp;
  uint8_t *old_bytes = victim->bytes;
  victim->bytes = copy;
  victim->len = len;
  victim->tp = dq_task_plan_ref(*out);
  victim->used = ++w->plans_clock;
  pthread_mutex_unlock(&w->lock);
  dq_task_plan_free(old);
  free(old_bytes);
  return 0;
}

static int ws_coord_open(void *self, const dq_set_plan *plan,
                         dq_ws_task **out, dq_error *err) {
  dq_worker *w = self;
  task *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  t->w = w;
  t->key = plan->key;
  t->task_count = plan->task_count;
  t->plan_bytes = plan->plan_len;
  t->t_plan = dq_now_ns();
  touch(t);
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->cond, NULL);
  t->settings = w->settings;
  int rc = dq_query_settings_apply(&t->settings, plan->config,
                                   plan->n_config, err);
  if (rc == 0)
    rc = task_plan_get(w, plan->plan, plan->plan_len, &t->tp, err);
  if (rc == 0 && dq_stage_id(t->tp->stage) != plan->key.stage_id)
    rc = dq_error_set(err, DQ_EPROTO,
                      "SetPlan for stage %u carries the plan of stage %u",
                      plan->key.stage_id, dq_stage_id(t->tp->stage));
  if (rc == 0 && (plan->task_count != dq_stage_task_count(t->tp->stage) ||
                  plan->key.task_number >= plan->task_count))
    rc = dq_error_set(err, DQ_EPROTO,
                      "SetPlan for task %u of %u, but the stage has %u tasks",
                      plan->key.task_number, plan->task_count,
                      dq_stage_task_count(t->tp->stage));
  if (rc < 0) {
    dq_task_plan_free(t->tp);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
    dq_error_set_origin(err, w->url, &plan->key);
    return rc;
  }
  pthread_mutex_lock(&w->lock);
  task *dup = NULL;
  uint8_t kb[KEY_BYTES];
  if (w->stopping) {
    rc = dq_error_set(err, DQ_EUNAVAILABLE, "worker %s is stopping", w->url);
  } else if ((dup = find_locked(w, &plan->key)) != NULL) {
    dup->refs--; /* never 0 here: the table holds one */
    rc = dq_error_set(err, DQ_EINVAL, "the task already has a plan");
  } else if (key_bytes(&plan->key, kb),
             dq_hmap_put(&w->index, kb, sizeof kb, t) < 0) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory for the task table");
  } else {
    t->refs = 2; /* the table's and the coordinator handle's */
    t->in_table = 1;
    t->handle_open = 1;
    t->next = w->tasks;
    t->prev = NULL;
    if (w->tasks)
      w->tasks->prev = t;
    w->tasks = t;
    w->n_table++;
    t->all_next = w->all;
    if (w->all)
      w->all->all_prev = t;
    w->all = t;
    w->live_tasks++;
    pthread_cond_broadcast(&w->cond);
  }
  pthread_mutex_unlock(&w->lock);
  if (rc < 0) {
    dq_task_plan_free(t->tp);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
    dq_error_set_origin(err, w->url, &plan->key);
    return rc;
  }
  *out = (dq_ws_task *)t;
  return 0;
}

static int ws_coord_send_work_unit(void *self, dq_ws_task *wt,
                                   const void *data, size_t len,
                                   dq_error *err) {
  (void)self;
  task *t = (task *)wt;
  touch(t);
  pthread_mutex_lock(&t->lock);
  int rc = 0;
  if (t->started) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "work units must arrive before the task starts");
  } else {
    work_unit *u = realloc(t->units, (t->n_units + 1) * sizeof *u);
    void *copy = malloc(len ? len : 1);
    if (u != NULL)
      t->units = u;
    if (u == NULL || copy == NULL) {
      free(copy);
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    } else {
      if (len > 0) /* an empty unit may come with data == NULL */
        memcpy(copy, data, len);
      t->units[t->n_units].data = copy;
      t->units[t->n_units].len = len;
      t->n_units++;
    }
  }
  pthread_mutex_unlock(&t->lock);
  if (rc < 0)
    set_origin(t, err);
  return rc;
}

static int ws_coord_finish(void *self, dq_ws_task *wt, dq_task_metrics *out,
                           dq_error *err) {
  (void)self;
  (void)err;
  task *t = (task *)wt;
  touch(t);
  pthread_mutex_lock(&t->lock);
  dq_task_metrics *m = &t->metrics;
  memset(m, 0, sizeof *m);
  m->key = t->key;
  m->plan_bytes = t->plan_bytes;
  if (t->started) {
    m->queued_ns = t->t_start - t->t_plan;
    m->run_ns = (t->finished ? t->t_end : dq_now_ns()) - t->t_start;
  }
  m->rows_out = t->rows_out;
  m->batches_out = t->batches_out;
  m->bytes_out = t->bytes_out;
  /* A start that failed part-way leaves some readers (or all of them, and
   * the metrics array) unset: report what exists. */
  if (t->started && t->readers != NULL && t->bm != NULL) {
    for (size_t i = 0; i < t->tp->n_inputs; i++)
      if (t->readers[i] != NULL)
        dq_reader_metrics(t->readers[i], &t->bm[i]);
    m->n_boundaries = t->tp->n_inputs;
    m->boundaries = t->bm;
  }
  *out = *m;
  pthread_mutex_unlock(&t->lock);
  return 0;
}

static void ws_coord_close(void *self, dq_ws_task *wt) {
  dq_worker *w = self;
  task *t = (task *)wt;
  pthread_mutex_lock(&w->lock);
  t->handle_open = 0;
  pthread_mutex_unlock(&w->lock);
  task_retire(t);
  task_unref(t);
}

/* Opens a stream on a task's output.  `served`: requested through the
 * transport (listed, so dq_worker_stop can close it if its client never
 * will); otherwise a same-worker read, owned and closed by its reader. */
static int execute_task(dq_worker *w, const dq_execute_task *req, int served,
                        dq_ws_stream **out, dq_error *err) {
  /* The plan may still be on its way: wait for it a bounded time. */
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += w->plan_wait_ms / 1000;
  deadline.tv_nsec += (w->plan_wait_ms % 1000) * 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&w->lock);
  task *t = find_locked(w, &req->key);
  int timed_out = 0;
  if (t == NULL && !w->stopping && w->plan_waiters >= w->max_plan_waiters) {
    /* Refused at once, and said in the log (once a second at most, with
     * the count, so a flood does not become a flood of log lines). */
    uint64_t now = dq_now_ns(), n = ++w->refusals;
    int log_now = now - w->last_refusal_log_ns >= 1000000000u;
    if (log_now)
      w->last_refusal_log_ns = now;
    long waiting = w->plan_waiters;
    pthread_mutex_unlock(&w->lock);
    if (log_now)
      dq_log(DQ_LOG_WARN,
             "worker %s: %ld ExecuteTask calls are waiting for their plans, "
             "the most [executor] plan_waiters allows: refusing more (%llu "
             "refused so far)",
             w->url, waiting, (unsigned long long)n);
    dq_error_set(err, DQ_ETOOBIG,
                 "worker %s has %ld ExecuteTask calls waiting for their "
                 "plans already ([executor] plan_waiters); refused",
                 w->url, waiting);
    dq_error_set_origin(err, w->url, &req->key);
    return DQ_ETOOBIG;
  }
  int waited = t == NULL;
  w->plan_waiters += waited;
  while (t == NULL && (t = find_locked(w, &req->key)) == NULL &&
         !w->stopping && !timed_out)
    timed_out = pthread_cond_timedwait(&w->cond, &w->lock, &deadline) ==
                ETIMEDOUT;
  w->plan_waiters -= waited;
  int stopping = w->stopping;
  pthread_mutex_unlock(&w->lock);
  if (t == NULL) {
    if (stopping)
      dq_error_set(err, DQ_EUNAVAILABLE, "worker %s is stopping", w->url);
    else
      dq_error_set(err, DQ_ETIMEDOUT,
                   "no plan arrived for the task within %lld ms of its "
                   "ExecuteTask",
                   (long long)w->plan_wait_ms);
    dq_error_set_origin(err, w->url, &req->key);
    return stopping ? DQ_EUNAVAILABLE : DQ_ETIMEDOUT;
  }
  touch(t);
  ws_stream_impl *s = calloc(1, sizeof *s);
  int rc = s ? 0 : dq_error_set(err, DQ_ENOMEM, "out of memory");
  pthread_mutex_lock(&t->lock);
  /* Another ExecuteTask is opening this task's inputs: its outcome decides
   * ours (task_start signals the condition when it is done). */
  while (rc == 0 && t->starting && !atomic_load(&t->cancelled))
    pthread_cond_wait(&t->cond, &t->lock);
  if (rc == 0 && atomic_load(&t->cancelled))
    rc = t->failed ? (*err = t->error, t->error.code)
                   : dq_error_set(err, DQ_ECANCELED, "the task was cancelled");
  if (rc == 0 && !t->started) {
    rc = task_start(t, req, err);
    if (rc < 0) {
      /* Half-started (say, a producer was unreachable): fail the task for
       * good rather than start it again on the next ExecuteTask. */
      set_origin(t, err);
      name_both_ends(t, err);
      t->started = 1;
      t->failed = 1;
      t->error = *err;
      atomic_store(&t->cancelled, true);
      for (size_t i = 0; t->readers != NULL && i < t->tp->n_inputs; i++)
        dq_reader_cancel(t->readers[i]);
      if (t->running == 0) {
        t->finished = 1;
        t->t_end = dq_now_ns();
      }
      pthread_cond_broadcast(&t->cond);
    }
  } else if (rc == 0 && (req->producer_head_len != t->head_len ||
                       memcmp(req->producer_head, t->head_bytes,
                              t->head_len) != 0))
    rc = dq_error_set(err, DQ_EINVAL,
                      "ExecuteTask's producer head differs from the one the "
                      "task was started with");
  if (rc == 0 && (req->partition_start >= req->partition_end ||
                  req->partition_end > t->n_out))
    rc = dq_error_set(err, DQ_EINVAL,
                      "partition range [%u, %u) is not within the task's %u "
                      "output partitions",
                      req->partition_start, req->partition_end, t->n_out);
  if (rc == 0 && t->head.kind != DQ_BOUNDARY_BROADCAST)
    for (uint32_t g = req->partition_start; g < req->partition_end; g++)
      if (t->out[g].claimed) {
        rc = dq_error_set(err, DQ_EINVAL,
                          "partition %u is already being read", g);
        break;
      }
  uint32_t n = rc == 0 ? req->partition_end - req->partition_start : 0;
  if (rc == 0) {
    s->cursor = calloc(n, sizeof *s->cursor);
    s->eos_sent = calloc(n, 1);
    if (s->cursor == NULL || s->eos_sent == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  if (rc == 0) {
    if (t->head.kind != DQ_BOUNDARY_BROADCAST)
      for (uint32_t g = req->partition_start; g < req->partition_end; g++)
        t->out[g].claimed = 1;
    t->open_streams++;
  }
  pthread_mutex_unlock(&t->lock);
  if (rc < 0) {
    if (s) {
      free(s->cursor);
      free(s->eos_sent);
      free(s);
    }
    set_origin(t, err);
    task_unref(t);
    return rc;
  }
  s->t = t; /* keeps the reference taken by find_locked */
  s->start = req->partition_start;
  s->end = req->partition_end;
  s->served = served;
  if (served) {
    pthread_mutex_lock(&w->lock);
    s->next = w->streams;
    if (w->streams)
      w->streams->prev = s;
    w->streams = s;
    pthread_mutex_unlock(&w->lock);
  }
  *out = (dq_ws_stream *)s;
  return 0;
}

static int ws_execute_task(void *self, const dq_execute_task *req,
                           dq_ws_stream **out, dq_error *err) {
  return execute_task(self, req, 1, out, err);
}

static int ws_stream_next(void *self, dq_ws_stream *ws, dq_frame *out,
                          dq_error *err) {
  (void)self;
  ws_stream_impl *s = (ws_stream_impl *)ws;
  task *t = s->t;
  memset(out, 0, sizeof *out);
  touch(t);
  pthread_mutex_lock(&t->lock);
  int rc = 0;
  if (!s->schema_sent && !t->failed && !atomic_load(&s->cancelled)) {
    rc = dq_schema_export(dq_stage_schema(t->tp->stage), &out->schema, err);
    if (rc == 0) {
      out->kind = DQ_FRAME_SCHEMA;
      s->schema_sent = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
  }
  uint32_t n = s->end - s->start;
  for (;;) {
    if (t->failed) {
      *err = t->error;
      rc = t->error.code < 0 ? t->error.code : DQ_EEXEC;
      break;
    }
    if (atomic_load(&s->cancelled) || atomic_load(&t->cancelled)) {
      rc = dq_error_set(err, DQ_ECANCELED, "the stream was cancelled");
      set_origin(t, err);
      break;
    }
    int found = 0;
    for (uint32_t k = 0; k < n && !found; k++) {
      uint32_t i = (s->rr + k) % n;
      out_part *o = &t->out[s->start + i];
      if (s->cursor[i] < o->n) {
        dq_batch *b = o->items[s->cursor[i]];
        if (t->head.kind == DQ_BOUNDARY_BROADCAST) {
          rc = dq_batch_export(b, &out->array, err);
        } else {
          /* The partition's only reader: hand the batch over and drop it. */
          o->items[s->cursor[i]] = NULL;
          rc = dq_batch_export(b, &out->array, err);
          dq_batch_unref(b);
        }
        s->cursor[i]++;
        out->kind = DQ_FRAME_BATCH;
        out->partition = s->start + i;
        s->rr = (i + 1) % n;
        found = 1;
      } else if (t->finished && !s->eos_sent[i]) {
        s->eos_sent[i] = 1;
        s->n_eos++;
        out->kind = DQ_FRAME_EOS;
        out->partition = s->start + i;
        found = 1;
      }
    }
    if (found)
      break;
    if (s->n_eos == n) {
      out->kind = DQ_FRAME_END;
      break;
    }
    pthread_cond_wait(&t->cond, &t->lock);
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

static void ws_stream_cancel(void *self, dq_ws_stream *ws) {
  (void)self;
  ws_stream_impl *s = (ws_stream_impl *)ws;
  atomic_store(&s->cancelled, true);
  pthread_mutex_lock(&s->t->lock);
  pthread_cond_broadcast(&s->t->cond);
  pthread_mutex_unlock(&s->t->lock);
}

static void ws_stream_close(void *self, dq_ws_stream *ws) {
  dq_worker *w = self;
  ws_stream_impl *s = (ws_stream_impl *)ws;
  if (s->served) {
    pthread_mutex_lock(&w->lock);
    if (s->prev)
      s->prev->next = s->next;
    else
      w->streams = s->next;
    if (s->next)
      s->next->prev = s->prev;
    pthread_mutex_unlock(&w->lock);
  }
  task *t = s->t;
  pthread_mutex_lock(&t->lock);
  t->open_streams--;
  pthread_mutex_unlock(&t->lock);
  touch(t);
  free(s->cursor);
  free(s->eos_sent);
  free(s);
  task_unref(t);
}

/* --- idle TTL --------------------------------------------------------------*/

/* Frees tasks nobody has touched for the TTL: the fallback for a
 * coordinator that vanished without closing its channels. */
static void *reaper_main(void *arg) {
  dq_worker *w = arg;
  uint64_t ttl_ns = (uint64_t)w->ttl_ms * 1000000u;
  int64_t period_ms = w->ttl_ms / 4 < 200 ? w->ttl_ms / 4 : 200;
  if (period_ms < 1)
    period_ms = 1;
  pthread_mutex_lock(&w->lock);
  while (!w->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (period_ms % 1000) * 1000000;
    ts.tv_sec += period_ms / 1000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(&w->reaper_cond, &w->lock, &ts);
    uint64_t now = dq_now_ns();
    /* Every idle task of this pass at once (one per pass made a table of
     * 65,536 abandoned tasks take hours to empty). */
    task **expired = NULL;
    size_t n_expired = 0, cap = 0;
    for (task *t = w->tasks; t != NULL; t = t->next) {
      /* Another thread may touch the task after `now` was read: only a
       * task last touched more than ttl before now is idle. */
      uint64_t last = atomic_load(&t->last_activity);
      if (last < now && now - last > ttl_ns && t->running == 0) {
        if (n_expired == cap) {
          size_t nc = cap ? cap * 2 : 16;
          task **grown = realloc(expired, nc * sizeof *grown);
          if (grown == NULL)
            break; /* the rest waits for the next pass */
          expired = grown;
          cap = nc;
        }
        t->refs++;
        expired[n_expired++] = t;
      }
    }
    if (n_expired > 0) {
      pthread_mutex_unlock(&w->lock);
      for (size_t i = 0; i < n_expired; i++) {
        task_retire(expired[i]);
        task_unref(expired[i]);
      }
      pthread_mutex_lock(&w->lock);
    }
    free(expired);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* --- public API --------------------------------------------------------------*/

int dq_worker_start(dq_context *ctx, const char *listen_url, dq_worker **out,
                    dq_error *err) {
  return dq_worker_start_advertised(ctx, listen_url, NULL, out, err);
}

/* The URL a worker reports must be the one coordinators reach it by: it
 * is what GetWorkerInfo answers, what its errors name (a coordinator
 * matches that against its worker list to tell which worker it lost) and
 * how it recognises its own tasks among a consumer's producers. */
int dq_worker_start_advertised(dq_context *ctx, const char *listen_url,
                               const char *advertise_url, dq_worker **out,
                               dq_error *err) {
  *out = NULL;
  if (advertise_url != NULL) {
    const char *a = strstr(advertise_url, "://");
    const char *l = listen_url ? strstr(listen_url, "://") : NULL;
    if (a == NULL || a == advertise_url || a[3] == '\0' ||
        strlen(advertise_url) >= sizeof(((dq_worker *)0)->url))
      return dq_error_set(err, DQ_EINVAL,
                          "the advertised URL '%s' is not SCHEME://ADDRESS",
                          advertise_url);
    if (l != NULL && (a - advertise_url != l - listen_url ||
                      strncmp(advertise_url, listen_url,
                              (size_t)(a - advertise_url)) != 0))
      return dq_error_set(err, DQ_EINVAL,
                          "the advertised URL '%s' has another scheme than "
                          "the listen URL '%s'",
                          advertise_url, listen_url);
  }
  dq_worker *w = calloc(1, sizeof *w);
  if (w == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  const dq_config *cfg = dq_context_config(ctx);
  w->ctx = ctx;
  w->ops = dq_context_ops(ctx);
  w->transport = dq_context_transport(ctx);
  dq_query_settings_from_config(cfg, &w->settings);
  w->ttl_ms = dq_config_executor(cfg, "task_ttl_ms");
  w->plan_wait_ms = dq_config_executor(cfg, "plan_wait_ms");
  w->max_plan_waiters = dq_config_executor(cfg, "plan_waiters");
  if (strcmp(dq_context_transport_name(ctx), "inmem") != 0) {
    size_t n_dirs;
    const char *const *dirs;
    int given = dq_config_data_dirs(cfg, &n_dirs, &dirs);
    int prc = dq_file_policy_init(&w->files_store, given, n_dirs, dirs, err);
    if (prc < 0) {
      free(w);
      return prc;
    }
    w->files = &w->files_store;
  }
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  pthread_cond_init(&w->reaper_cond, NULL);
  w->svc.size = sizeof w->svc;
  w->svc.self = w;
  w->svc.get_worker_info = ws_get_worker_info;
  w->svc.coord_open = ws_coord_open;
  w->svc.coord_send_work_unit = ws_coord_send_work_unit;
  w->svc.coord_finish = ws_coord_finish;
  w->svc.coord_close = ws_coord_close;
  w->svc.execute_task = ws_execute_task;
  w->svc.stream_next = ws_stream_next;
  w->svc.stream_cancel = ws_stream_cancel;
  w->svc.stream_close = ws_stream_close;
  int rc = w->ops->serve(w->transport, listen_url, &w->svc, &w->server, err);
  if (rc < 0) {
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->reaper_cond);
    dq_file_policy_clear(&w->files_store);
    free(w);
    return rc;
  }
  snprintf(w->url, sizeof w->url, "%s",
           advertise_url ? advertise_url : w->ops->server_url(w->server));
  if (pthread_create(&w->reaper, NULL, reaper_main, w) == 0)
    w->reaper_started = 1;
  else {
    dq_worker_stop(w);
    return dq_error_set(err, DQ_EIO, "cannot start the worker's TTL thread");
  }
  *out = w;
  return 0;
}

const char *dq_worker_url(const dq_worker *w) { return w->url; }

long dq_worker_task_count(const dq_worker *w) {
  dq_worker *mw = (dq_worker *)w;
  pthread_mutex_lock(&mw->lock);
  long n = mw->n_table;
  pthread_mutex_unlock(&mw->lock);
  return n;
}

long dq_worker_live_tasks(const dq_worker *w) {
  dq_worker *mw = (dq_worker *)w;
  pthread_mutex_lock(&mw->lock);
  long n = mw->live_tasks;
  pthread_mutex_unlock(&mw->lock);
  return n;
}

void dq_worker_stop(dq_worker *w) {
  if (w == NULL)
    return;
  /* First the transport: no new calls, and calls in flight return. */
  w->ops->stop(w->server);
  pthread_mutex_lock(&w->lock);
  w->stopping = 1;
  pthread_cond_broadcast(&w->cond);
  pthread_cond_broadcast(&w->reaper_cond);
  pthread_mutex_unlock(&w->lock);
  if (w->reaper_started)
    pthread_join(w->reaper, NULL);
  /* Cancel and retire every task. */
  for (;;) {
    pthread_mutex_lock(&w->lock);
    task *t = w->tasks;
    if (t != NULL)
      t->refs++;
    pthread_mutex_unlock(&w->lock);
    if (t == NULL)
      break;
    task_retire(t);
    task_unref(t);
  }
  /* Coordinator handles nobody will close now (the transport has stopped,
   * so no call can race with this). */
  for (;;) {
    pthread_mutex_lock(&w->lock);
    task *t = w->all;
    while (t != NULL && !t->handle_open)
      t = t->all_next;
    if (t != NULL)
      t->handle_open = 0;
    pthread_mutex_unlock(&w->lock);
    if (t == NULL)
      break;
    task_unref(t);
  }
  /* Streams whose clients will never close them now. */
  for (;;) {
    pthread_mutex_lock(&w->lock);
    ws_stream_impl *s = w->streams;
    pthread_mutex_unlock(&w->lock);
    if (s == NULL)
      break;
    ws_stream_close(w, (dq_ws_stream *)s);
  }
  pthread_mutex_lock(&w->lock);
  while (w->threads > 0 || w->live_tasks > 0)
    pthread_cond_wait(&w->cond, &w->lock);
  channel_entry *e = w->channels;
  w->channels = NULL;
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < PLAN_CACHE; i++) {
    dq_task_plan_free(w->plans[i].tp);
    free(w->plans[i].bytes);
  }
  dq_hmap_clear(&w->index);
  dq_hmap_clear(&w->self_urls);
  dq_file_policy_clear(&w->files_store);
  while (e != NULL) {
    channel_entry *next = e->next;
    w->ops->channel_close(e->ch);
    free(e->url);
    free(e);
    e = next;
  }
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->cond);
  pthread_cond_destroy(&w->reaper_cond);
  free(w);
}
