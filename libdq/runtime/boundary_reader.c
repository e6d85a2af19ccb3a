/* boundary_reader.c — see boundary_reader.h.
 *
 * One mutex and one condition variable guard all of a reader's queues: a
 * reader moves one batch per lock acquisition (thousands of rows), so a
 * finer scheme would buy nothing measurable.  Every producer frame is
 * checked (schema first and equal to the expected one, partitions inside
 * the requested range) because it may come from another process. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boundary_reader.h"
#include "base/clock.h"
#include "exchange/routing.h"

typedef struct qitem {
  dq_batch *batch;
  struct qitem *next;
} qitem;

typedef struct queue {
  qitem *head, *tail;
} queue;

typedef struct source_state {
  dq_reader *r;
  dq_source src;
  uint32_t producer_task;
  dq_task_key key;     /* the producer task read */
  const char *url;     /* its worker (owned by the input boundary) */
  int opened;
  pthread_t thread;
  int thread_started;
} source_state;

struct dq_reader {
  const dq_schema *schema;
  dq_routing routing;
  uint32_t consumer;
  uint32_t producer_stage_id;
  uint32_t range_start, range_end;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  queue *queues; /* consumer_partitions */
  size_t n_sources;
  source_state *sources;
  size_t sources_done;
  atomic_bool cancelled;
  int failed;
  dq_error error;
  /* metrics, under lock */
  uint64_t bytes, batches, rows, wait_ns, buffered, buffered_peak;
};

static void fail(dq_reader *r, const dq_error *err) {
  pthread_mutex_lock(&r->lock);
  if (!r->failed) {
    r->failed = 1;
    r->error = *err;
  }
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
}

static void push(dq_reader *r, uint32_t local, dq_batch *b) {
  uint32_t lo = local, hi = local + 1;
  if (local == DQ_ROUTE_ALL) {
    lo = 0;
    hi = r->routing.consumer_partitions;
  }
  size_t bytes = dq_batch_byte_size(b);
  pthread_mutex_lock(&r->lock);
  for (uint32_t p = lo; p < hi; p++) {
    qitem *it = malloc(sizeof *it);
    if (it == NULL) {
      pthread_mutex_unlock(&r->lock);
      dq_error e;
      dq_error_clear(&e);
      dq_error_set(&e, DQ_ENOMEM, "out of memory buffering a batch");
      fail(r, &e);
      dq_batch_unref(b);
      return;
    }
    it->batch = p + 1 < hi ? dq_batch_ref(b) : b;
    it->next = NULL;
    queue *q = &r->queues[p];
    if (q->tail)
      q->tail->next = it;
    else
      q->head = it;
    q->tail = it;
    r->buffered += bytes;
  }
  if (r->buffered > r->buffered_peak)
    r->buffered_peak = r->buffered;
  r->bytes += bytes;
  r->batches++;
  r->rows += (uint64_t)dq_batch_n_rows(b);
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
}

/* Drains one producer stream into the queues. */
static void *source_main(void *arg) {
  source_state *ss = arg;
  dq_reader *r = ss->r;
  dq_error err;
  dq_error_clear(&err);
  int have_schema = 0;
  for (;;) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    int rc = ss->src.next(ss->src.s, &f, &err);
    if (rc < 0) {
      /* A transport failure (the producer's worker died or stalled) names
       * at most the worker: say which task was being read too.  Errors
       * the producer raised itself keep the origin they carry. */
      if (!err.has_task)
        dq_error_set_origin(&err, err.worker_url[0] ? NULL : ss->url,
                            &ss->key);
      if (!atomic_load(&r->cancelled))
        fail(r, &err);
      break;
    }
    if (f.kind == DQ_FRAME_SCHEMA) {
      dq_schema *s = NULL;
      rc = dq_schema_import(&f.schema, &s, &err);
      if (f.schema.release)
        f.schema.release(&f.schema);
      if (rc == 0 && !dq_schema_equal(s, r->schema))
        rc = dq_error_set(&err, DQ_EPROTO,
                          "stage %u task %u sent a schema that differs "
                          "from the one its consumer expects",
                          r->producer_stage_id, ss->producer_task);
      dq_schema_unref(s);
      if (rc < 0) {
        fail(r, &err);
        break;
      }
      have_schema = 1;
    } else if (f.kind == DQ_FRAME_BATCH || f.kind == DQ_FRAME_EOS) {
      if (!have_schema || f.partition < r->range_start ||
          f.partition >= r->range_end) {
        if (f.array.release)
          f.array.release(&f.array);
        dq_error_set(&err, DQ_EPROTO,
                     "stage %u task %u sent %s for partition %u (expected "
                     "the schema first, then partitions %u to %u)",
                     r->producer_stage_id, ss->producer_task,
                     f.kind == DQ_FRAME_BATCH ? "a batch" : "an end",
                     f.partition, r->range_start, r->range_end - 1);
        fail(r, &err);
        break;
      }
      if (f.kind == DQ_FRAME_BATCH) {
        dq_batch *b = NULL;
        /* Import takes the array, copies nothing: for inmem this is the
         * producer's own memory, handed over by pointer. */
        rc = dq_batch_import(&f.array, (dq_schema *)r->schema, &b, &err);
        if (rc < 0) {
          fail(r, &err);
          break;
        }
        if (dq_batch_n_rows(b) == 0)
          dq_batch_unref(b);
        else
          push(r, dq_routing_local(&r->routing, r->consumer,
                                   ss->producer_task, f.partition),
               b);
      }
    } else if (f.kind == DQ_FRAME_END) {
      break;
    } else {
      if (f.schema.release)
        f.schema.release(&f.schema);
      if (f.array.release)
        f.array.release(&f.array);
      dq_error_set(&err, DQ_EPROTO, "stage %u task %u sent frame kind %u",
                   r->producer_stage_id, ss->producer_task, f.kind);
      fail(r, &err);
      break;
    }
    if (atomic_load(&r->cancelled))
      break;
  }
  pthread_mutex_lock(&r->lock);
  r->sources_done++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

/* --- sources over a transport -------------------------------------------*/

typedef struct remote_src {
  const dq_transport_ops *ops;
  dq_stream *s;
} remote_src;

static int remote_next(void *s, dq_frame *out, dq_error *err) {
  remote_src *r = s;
  return r->ops->stream_next(r->s, out, err);
}
static void remote_cancel(void *s) {
  remote_src *r = s;
  r->ops->stream_cancel(r->s);
}
static void remote_close(void *s) {
  remote_src *r = s;
  r->ops->stream_close(r->s);
  free(r);
}

int dq_source_open_transport(const dq_transport_ops *ops, dq_channel *ch,
                             const dq_execute_task *req, dq_source *out,
                             dq_error *err) {
  remote_src *r = calloc(1, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  r->ops = ops;
  int rc = ops->execute_task(ch, req, &r->s, err);
  if (rc < 0) {
    free(r);
    return rc;
  }
  out->s = r;
  out->next = remote_next;
  out->cancel = remote_cancel;
  out->close = remote_close;
  return 0;
}

/* --- the reader ------------------------------------------------------------*/

int dq_reader_start(const dq_input_boundary *in, const dq_schema *schema,
                    const uint8_t query_id[16], uint32_t consumer,
                    uint32_t n_consumers, uint32_t consumer_partitions,
                    dq_source_open_fn open, void *open_ctx, dq_reader **out,
                    dq_error *err) {
  *out = NULL;
  dq_routing routing = {
      .kind = in->head.kind,
      .n_producers = in->producer_task_count,
      .producer_partitions =
          dq_head_partitions(&in->head, in->producer_partitions),
      .n_consumers = n_consumers,
      .consumer_partitions = consumer_partitions,
  };
  uint32_t first, count, range_start, range_end;
  dq_routing_producers(&routing, consumer, &first, &count);
  dq_routing_range(&routing, consumer, &range_start, &range_end);
  if (consumer_partitions == 0 || consumer >= n_consumers ||
      range_end > routing.producer_partitions)
    return dq_error_set(err, DQ_EINVAL,
                        "consumer task %u of %u with %u partitions needs "
                        "partitions up to %u of stage %u, which produces %u",
                        consumer, n_consumers, consumer_partitions, range_end,
                        in->producer_stage_id, routing.producer_partitions);
  dq_reader *r = calloc(1, sizeof *r);
  if (r != NULL) {
    r->queues = calloc(consumer_partitions, sizeof *r->queues);
    r->sources = calloc(count ? count : 1, sizeof *r->sources);
  }
  if (r == NULL || r->queues == NULL || r->sources == NULL) {
    if (r != NULL) {
      free(r->queues);
      free(r->sources);
    }
    free(r);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  r->schema = schema;
  r->consumer = consumer;
  r->producer_stage_id = in->producer_stage_id;
  r->routing = routing;
  r->range_start = range_start;
  r->range_end = range_end;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
  r->n_sources = count;
  *out = r; /* from here on, dq_reader_free cleans up */
  for (uint32_t i = 0; i < count; i++) {
    source_state *ss = &r->sources[i];
    ss->r = r;
    ss->producer_task = first + i;
    dq_execute_task req;
    memset(&req, 0, sizeof req);
    memcpy(req.key.query_id, query_id, 16);
    req.key.stage_id = in->producer_stage_id;
    req.key.task_number = first + i;
    req.partition_start = r->range_start;
    req.partition_end = r->range_end;
    req.producer_head = in->head_bytes;
    req.producer_head_len = in->head_len;
    ss->key = req.key;
    ss->url = in->urls[first + i];
    int rc = open(open_ctx, in->urls[first + i], &req, &ss->src, err);
    if (rc < 0) {
      if (err != NULL && !err->has_task)
        dq_error_set_origin(err, in->urls[first + i], &req.key);
      r->n_sources = i;
      dq_reader_free(r);
      *out = NULL;
      return rc;
    }
    ss->opened = 1;
  }
  for (uint32_t i = 0; i < count; i++) {
    source_state *ss = &r->sources[i];
    if (pthread_create(&ss->thread, NULL, source_main, ss) != 0) {
      dq_reader_free(r);
      *out = NULL;
      return dq_error_set(err, DQ_EIO, "cannot start a reader thread");
    }
    ss->thread_started = 1;
  }
  return 0;
}

int dq_reader_next(dq_reader *r, uint32_t p, dq_batch **out, dq_error *err) {
  *out = NULL;
  if (p >= r->routing.consumer_partitions)
    return dq_error_set(err, DQ_EINVAL, "reader has no partition %u", p);
  queue *q = &r->queues[p];
  uint64_t t0 = dq_now_ns();
  pthread_mutex_lock(&r->lock);
  while (q->head == NULL && !r->failed && !atomic_load(&r->cancelled) &&
         r->sources_done < r->n_sources)
    pthread_cond_wait(&r->cond, &r->lock);
  r->wait_ns += dq_now_ns() - t0;
  int rc = 0;
  if (r->failed) {
    if (err != NULL)
      *err = r->error;
    rc = r->error.code < 0 ? r->error.code : DQ_EEXEC;
  } else if (atomic_load(&r->cancelled)) {
    rc = dq_error_set(err, DQ_ECANCELED, "the read of stage %u was cancelled",
                      r->producer_stage_id);
  } else if (q->head != NULL) {
    qitem *it = q->head;
    q->head = it->next;
    if (q->head == NULL)
      q->tail = NULL;
    r->buffered -= dq_batch_byte_size(it->batch);
    *out = it->batch;
    free(it);
  }
  pthread_mutex_unlock(&r->lock);
  return rc;
}

void dq_reader_cancel(dq_reader *r) {
  if (r == NULL)
    return;
  atomic_store(&r->cancelled, true);
  for (size_t i = 0; i < r->n_sources; i++)
    if (r->sources[i].opened)
      r->sources[i].src.cancel(r->sources[i].src.s);
  pthread_mutex_lock(&r->lock);
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
}

void dq_reader_free(dq_reader *r) {
  if (r == NULL)
    return;
  pthread_mutex_lock(&r->lock);
  int finished = r->sources_done == r->n_sources;
  pthread_mutex_unlock(&r->lock);
  if (!finished)
    dq_reader_cancel(r);
  for (size_t i = 0; i < r->n_sources; i++) {
    source_state *ss = &r->sources[i];
    if (ss->thread_started)
      pthread_join(ss->thread, NULL);
    if (ss->opened)
      ss->src.close(ss->src.s);
  }
  for (uint32_t p = 0; p < r->routing.consumer_partitions; p++)
    for (qitem *it = r->queues[p].head; it != NULL;) {
      qitem *next = it->next;
      dq_batch_unref(it->batch);
      free(it);
      it = next;
    }
  free(r->queues);
  free(r->sources);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->cond);
  free(r);
}

void dq_reader_metrics(dq_reader *r, dq_boundary_metrics *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&r->lock);
  out->producer_stage_id = r->producer_stage_id;
  out->kind = (uint32_t)r->routing.kind;
  out->bytes = r->bytes;
  out->batches = r->batches;
  out->rows = r->rows;
  out->latency_ns = r->wait_ns;
  out->buffered_peak = r->buffered_peak;
  pthread_mutex_unlock(&r->lock);
}
