/* query.c — the coordinator: runs a plan on workers.
 *
 * dq_query_start assigns task i of every stage to worker i mod W, sends each
 * task its plan over its own coordinator channel (SetPlan), then opens the
 * head stage's boundary readers, which send the first ExecuteTasks and so
 * start the tasks (each task starts the tasks it reads in turn).  The head
 * stage runs here, pulled by dq_query_next.
 *
 * The query's cancellation token is `cancelled`: set by dq_query_cancel or
 * an error, it stops the head pipeline and its readers; closing the
 * coordinator channels (dq_query_close) then cancels and frees every task
 * on every worker, however the query ended.
 *
 * Worker loss and attempts (docs/runtime.md, "When a worker is lost"): an
 * error that means a worker is gone (DQ_EUNAVAILABLE, DQ_ETIMEDOUT: a
 * hang-up, a deadline or keepalive expiry) before any row reached the
 * caller ends the attempt: every task of it is cancelled and closed, the
 * lost worker is dropped (and avoided process-wide for worker_avoid_ms),
 * and the whole plan runs again on the survivors under a fresh query id,
 * up to [executor] max_task_attempts runs.  Sources are deterministic, so
 * the new attempt computes the same rows, and none of the old one's was
 * delivered: every row is seen once.  After rows were delivered a loss
 * fails the query (a re-run would repeat them) unless the head stage is
 * blocking (sort, top-N, aggregate), in which case the workers' part is
 * over and only their metrics can be lost.  Query errors (a bad plan, an
 * overflow) are never retried.
 */
#include <config.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <dq/runtime.h>
#include <dq/transport.h>

#include "runtime/boundary_reader.h"
#include "base/clock.h"
#include "host/context.h"
#include "exec/exec.h"
#include "plan/plan_internal.h"
#include "runtime/membership.h"
#include "runtime/settings.h"
#include "runtime/task_plan.h"

typedef struct qtask {
  uint32_t stage_id, task_number;
  size_t worker;
  dq_coord *coord;
  dq_task_info info;
} qtask;

struct dq_query {
  dq_context *ctx;
  const dq_transport_ops *ops;
  dq_transport *transport;
  const dq_plan *plan;
  const dq_stage *head;
  uint8_t qid[16];
  size_t n_workers;
  char **urls;
  dq_channel **channels;
  qtask *tasks; /* every non-head task, by stage then task number */
  size_t n_tasks;
  dq_input_boundary *inputs; /* the head stage's */
  size_t n_inputs;
  dq_reader **readers;
  dq_exec *exec;
  dq_exec_env env;
  atomic_bool cancelled;
  int done, failed;
  dq_error error;
  dq_task_info head_info;
  uint64_t t_start;
  dq_query_settings settings; /* sent with every SetPlan */
  /* Attempts.  `lock` orders dq_query_cancel (any thread) against an
   * attempt swapping its readers; `user_cancelled` is the caller's cancel,
   * which no new attempt clears (`cancelled` is per attempt). */
  pthread_mutex_t lock;
  atomic_bool user_cancelled;
  uint32_t attempt;      /* 1-based number of the attempt running */
  uint32_t max_attempts; /* [executor] max_task_attempts */
  int64_t avoid_ms;      /* [executor] worker_avoid_ms */
  int head_blocking;     /* the head's first row comes after all its input */
  dq_worker_loss *losses;
  size_t n_losses;
};

/* Errors that mean the worker is gone rather than that the query is
 * wrong: the transport lost the peer (a hang-up, a refused connection, a
 * keepalive that went unanswered) or a reply's deadline passed. */
static int is_worker_loss(int code) {
  return code == DQ_EUNAVAILABLE || code == DQ_ETIMEDOUT;
}

/* Records a loss (for dq_query_loss_info) and avoids the worker. */
static void note_loss(dq_query *q, const char *url, const dq_error *why,
                      int retried) {
  dq_membership_avoid(url, q->avoid_ms);
  dq_worker_loss *l = realloc(q->losses, (q->n_losses + 1) * sizeof *l);
  if (l == NULL)
    return; /* the record is for reports only */
  q->losses = l;
  l = &q->losses[q->n_losses++];
  memset(l, 0, sizeof *l);
  l->attempt = q->attempt ? q->attempt : 1;
  l->retried = retried;
  snprintf(l->worker_url, sizeof l->worker_url, "%s", url);
  l->reason = *why;
  l->at_ns = dq_now_ns() - q->t_start;
}

/* Whether the head's first row can only come after it read all its input:
 * its root, under row-by-row operators, is a sort, top-N or aggregate. */
static int head_is_blocking(const dq_stage *head) {
  const dq_node *n = head->root;
  while (n != NULL && (n->kind == DQ_NODE_FILTER ||
                       n->kind == DQ_NODE_PROJECT || n->kind == DQ_NODE_LIMIT))
    n = n->input;
  return n != NULL && (n->kind == DQ_NODE_SORT || n->kind == DQ_NODE_TOPN ||
                       n->kind == DQ_NODE_AGGREGATE);
}

/* --- assignment and task plans -------------------------------------------*/

static size_t worker_of(const dq_query *q, uint32_t task_number) {
  return task_number % q->n_workers;
}

static void free_inputs(dq_input_boundary *in, size_t n) {
  for (size_t i = 0; i < n; i++)
    dq_input_boundary_clear(&in[i]);
  free(in);
}

/* Describes the boundaries `stage` reads: producer shape, head, workers. */
static int build_inputs(dq_query *q, const dq_stage *stage,
                        dq_input_boundary **out, size_t *n_out,
                        dq_error *err) {
  uint32_t ids[64];
  size_t n = dq_stage_inputs(stage, ids, 64);
  *out = NULL;
  *n_out = 0;
  if (n > 64)
    return dq_error_set(err, DQ_EINVAL, "stage %u reads more than 64 stages",
                        dq_stage_id(stage));
  dq_input_boundary *in = calloc(n ? n : 1, sizeof *in);
  if (in == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const dq_stage *ps = dq_plan_stage_by_id(q->plan, ids[i]);
    if (ps == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "stage %u reads missing stage %u",
                        dq_stage_id(stage), ids[i]);
      break;
    }
    dq_producer_head h;
    rc = dq_stage_producer_head(ps, &h, err);
    if (rc < 0)
      break;
    /* Encoded once: the bytes every ExecuteTask of this boundary sends, and
     * decoded back into a copy the input owns. */
    rc = dq_producer_head_encode(&h, &in[i].head_bytes, &in[i].head_len, err);
    if (rc == 0)
      rc = dq_producer_head_decode(in[i].head_bytes, in[i].head_len,
                                   &in[i].head, err);
    if (rc < 0)
      break;
    in[i].producer_stage_id = ids[i];
    in[i].producer_task_count = dq_stage_task_count(ps);
    in[i].producer_partitions = dq_stage_partitions(ps);
    in[i].urls = calloc(in[i].producer_task_count, sizeof *in[i].urls);
    if (in[i].urls == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
      break;
    }
    for (uint32_t t = 0; t < in[i].producer_task_count; t++) {
      in[i].urls[t] = strdup(q->urls[worker_of(q, t)]);
      if (in[i].urls[t] == NULL) {
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
        break;
      }
    }
  }
  if (rc < 0) {
    free_inputs(in, n);
    return rc;
  }
  *out = in;
  *n_out = n;
  return 0;
}

/* Sends every task of `stage` its plan. */
static int deliver_stage(dq_query *q, const dq_stage *stage, size_t *next,
                         dq_error *err) {
  dq_input_boundary *in;
  size_t n_in;
  int rc = build_inputs(q, stage, &in, &n_in, err);
  if (rc < 0)
    return rc;
  uint8_t *bytes = NULL;
  size_t len = 0;
  rc = dq_task_plan_encode(stage, in, n_in, &bytes, &len, err);
  free_inputs(in, n_in);
  if (rc < 0)
    return rc;
  /* The stage's sources with work units (CSV files) are cut once, for
   * all its tasks. */
  dq_work_unit *units = NULL;
  uint32_t *task_of = NULL;
  size_t n_units = 0;
  rc = dq_stage_work_units(stage, &units, &task_of, &n_units, err);
  if (rc < 0) {
    free(bytes);
    return rc;
  }
  uint32_t n_tasks = dq_stage_task_count(stage);
  /* The coordinator's executor settings hold for every task. */
  dq_kv settings[DQ_QUERY_SETTINGS_MAX];
  char settings_buf[DQ_QUERY_SETTINGS_BUF];
  size_t n_settings = dq_query_settings_to_kv(&q->settings, settings,
                                              settings_buf);
  size_t u = 0; /* units come grouped by task, in task order */
  for (uint32_t t = 0; rc == 0 && t < n_tasks; t++) {
    qtask *qt = &q->tasks[(*next)++];
    qt->stage_id = dq_stage_id(stage);
    qt->task_number = t;
    qt->worker = worker_of(q, t);
    dq_task_info *info = &qt->info;
    memcpy(info->key.query_id, q->qid, 16);
    info->key.stage_id = qt->stage_id;
    info->key.task_number = t;
    snprintf(info->worker_url, sizeof info->worker_url, "%s",
             q->urls[qt->worker]);
    dq_set_plan sp;
    memset(&sp, 0, sizeof sp);
    sp.key = info->key;
    sp.task_count = n_tasks;
    sp.plan = bytes;
    sp.plan_len = len;
    sp.target_worker_url = q->urls[qt->worker];
    sp.config = settings;
    sp.n_config = n_settings;
    uint64_t t0 = dq_now_ns();
    rc = q->ops->coord_open(q->channels[qt->worker], &sp, &qt->coord, err);
    info->plan_send_ns = dq_now_ns() - t0;
    info->plan_bytes = len;
    if (rc < 0) {
      qt->coord = NULL;
      if (!err->has_task)
        dq_error_set_origin(err, q->urls[qt->worker], &info->key);
      break;
    }
    /* Work units (e.g. CSV ranges) follow SetPlan: all of them arrive before
     * the task can start, since nothing starts it until the head's
     * readers open. */
    for (; rc == 0 && u < n_units && task_of[u] == t; u++) {
      rc = q->ops->coord_send_work_unit(qt->coord, units[u].data,
                                        units[u].len, err);
      if (rc < 0 && !err->has_task)
        dq_error_set_origin(err, q->urls[qt->worker], &info->key);
    }
  }
  free(bytes);
  dq_work_units_free(units, n_units);
  free(task_of);
  return rc;
}

/* --- the head stage -------------------------------------------------------*/

static int head_read_open(void *ctx, uint32_t producer_stage_id,
                          uint32_t partition, void **reader, dq_error *err) {
  dq_query *q = ctx;
  (void)partition; /* the head has one partition */
  for (size_t i = 0; i < q->n_inputs; i++)
    if (q->inputs[i].producer_stage_id == producer_stage_id) {
      *reader = q->readers[i];
      return 0;
    }
  return dq_error_set(err, DQ_EINVAL, "the head stage reads no stage %u",
                      producer_stage_id);
}

static int head_read_next(void *ctx, void *reader, dq_batch **out,
                          dq_error *err) {
  (void)ctx;
  return dq_reader_next(reader, 0, out, err);
}

static void head_read_close(void *ctx, void *reader) {
  (void)ctx;
  (void)reader; /* the readers belong to the query */
}

static int coord_source_open(void *ctx, const char *url,
                             const dq_execute_task *req, dq_source *out,
                             dq_error *err) {
  dq_query *q = ctx;
  for (size_t i = 0; i < q->n_workers; i++)
    if (strcmp(q->urls[i], url) == 0)
      return dq_source_open_transport(q->ops, q->channels[i], req, out, err);
  return dq_error_set(err, DQ_EINVAL, "%s is not a worker of this query",
                      url);
}

/* --- lifecycle ------------------------------------------------------------*/

/* Stops everything still running; the error (if any) is kept. */
static void stop_all(dq_query *q) {
  pthread_mutex_lock(&q->lock);
  atomic_store(&q->cancelled, true);
  for (size_t i = 0; q->readers != NULL && i < q->n_inputs; i++)
    dq_reader_cancel(q->readers[i]);
  pthread_mutex_unlock(&q->lock);
}

/* Frees what one attempt holds: the head's executor and readers, and its
 * tasks.  Closing their coordinator channels frees the tasks on the
 * workers (a lost worker's transport gives up on its own). */
static void attempt_free(dq_query *q) {
  dq_exec_close(q->exec);
  q->exec = NULL;
  pthread_mutex_lock(&q->lock);
  dq_reader **readers = q->readers;
  dq_input_boundary *inputs = q->inputs;
  size_t n_inputs = q->n_inputs;
  q->readers = NULL;
  q->inputs = NULL;
  q->n_inputs = 0;
  pthread_mutex_unlock(&q->lock);
  for (size_t i = 0; readers != NULL && i < n_inputs; i++)
    dq_reader_free(readers[i]);
  free(readers);
  free_inputs(inputs, n_inputs);
  for (size_t i = 0; q->tasks != NULL && i < q->n_tasks; i++)
    if (q->tasks[i].coord != NULL)
      q->ops->coord_close(q->tasks[i].coord);
  free(q->tasks);
  q->tasks = NULL;
  q->n_tasks = 0;
}

static void query_free(dq_query *q) {
  attempt_free(q);
  for (size_t i = 0; q->channels != NULL && i < q->n_workers; i++)
    if (q->channels[i] != NULL)
      q->ops->channel_close(q->channels[i]);
  free(q->channels);
  for (size_t i = 0; q->urls != NULL && i < q->n_workers; i++)
    free(q->urls[i]);
  free(q->urls);
  free(q->losses);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

static void new_query_id(uint8_t qid[16]) {
  if (getrandom(qid, 16, 0) != 16) {
    for (size_t i = 0; i < 16; i++) /* never reached in practice */
      qid[i] = (uint8_t)(dq_now_ns() >> (i % 8));
  }
  qid[6] = (uint8_t)((qid[6] & 0x0f) | 0x40); /* UUID version 4 */
  qid[8] = (uint8_t)((qid[8] & 0x3f) | 0x80);
}

/* One run of the whole plan on q's workers: a fresh query id (so nothing
 * of an earlier attempt can be mistaken for this one's), every non-head
 * task delivered, the head's readers opened (their ExecuteTasks start the
 * work) and its executor ready.  On failure what was built stays for
 * attempt_free. */
static int attempt_begin(dq_query *q, dq_error *err) {
  new_query_id(q->qid);
  pthread_mutex_lock(&q->lock);
  atomic_store(&q->cancelled, atomic_load(&q->user_cancelled));
  pthread_mutex_unlock(&q->lock);
  memset(&q->head_info, 0, sizeof q->head_info);
  memcpy(q->head_info.key.query_id, q->qid, 16);
  q->head_info.key.stage_id = dq_stage_id(q->head);
  snprintf(q->head_info.worker_url, sizeof q->head_info.worker_url,
           "coordinator");

  /* Deliver every non-head stage's task plans, bottom-up. */
  int rc = 0;
  size_t n_stages = dq_plan_n_stages(q->plan);
  q->n_tasks = 0;
  for (size_t s = 0; s + 1 < n_stages; s++)
    q->n_tasks +=
        dq_stage_task_count(dq_plan_stage_by_id(q->plan, (uint32_t)s + 1));
  q->tasks = calloc(q->n_tasks ? q->n_tasks : 1, sizeof *q->tasks);
  if (q->tasks == NULL) {
    q->n_tasks = 0;
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  size_t next = 0;
  for (size_t s = 0; rc == 0 && s + 1 < n_stages; s++)
    rc = deliver_stage(q, dq_plan_stage_by_id(q->plan, (uint32_t)s + 1),
                       &next, err);

  /* Open the head's readers: their ExecuteTasks start the work.  They are
   * built aside and published under the lock, for dq_query_cancel. */
  dq_input_boundary *inputs = NULL;
  size_t n_inputs = 0;
  dq_reader **readers = NULL;
  if (rc == 0)
    rc = build_inputs(q, q->head, &inputs, &n_inputs, err);
  if (rc == 0) {
    readers = calloc(n_inputs ? n_inputs : 1, sizeof *readers);
    if (readers == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  for (size_t i = 0; rc == 0 && i < n_inputs; i++) {
    const dq_schema *schema =
        dq_stage_read_schema(q->head, inputs[i].producer_stage_id);
    rc = dq_reader_start(&inputs[i], schema, q->qid, 0, 1, 1,
                         coord_source_open, q, &readers[i], err);
  }
  pthread_mutex_lock(&q->lock);
  q->inputs = inputs;
  q->n_inputs = readers != NULL ? n_inputs : 0;
  q->readers = readers;
  if (inputs != NULL && readers == NULL) {
    free_inputs(inputs, n_inputs);
    q->inputs = NULL;
  }
  if (atomic_load(&q->user_cancelled)) /* a cancel raced with the attempt */
    for (size_t i = 0; q->readers != NULL && i < q->n_inputs; i++)
      if (q->readers[i] != NULL)
        dq_reader_cancel(q->readers[i]);
  pthread_mutex_unlock(&q->lock);
  if (rc == 0) {
    dq_exec_env *env = &q->env;
    memset(env, 0, sizeof *env);
    env->task_number = 0;
    env->task_count = 1;
    env->n_partitions = 1;
    env->batch_rows = q->settings.batch_rows;
    env->cancelled = &q->cancelled;
    env->reader_ctx = q;
    env->read_open = head_read_open;
    env->read_next = head_read_next;
    env->read_close = head_read_close;
    rc = dq_exec_open(q->head, env, 0, &q->exec, err);
  }
  return rc;
}

/* Appends a sentence to err's message (code and origin stay). */
static void append_message(dq_error *err, const char *fmt, ...)
    DQ_PRINTF(2, 3);
static void append_message(dq_error *err, const char *fmt, ...) {
  size_t len = strlen(err->message);
  if (len + 1 >= sizeof err->message)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message + len, sizeof err->message - len, fmt, ap);
  va_end(ap);
}

/* Which of the attempt's workers err names, or n_workers. */
static size_t lost_worker(const dq_query *q, const dq_error *err) {
  for (size_t i = 0; i < q->n_workers; i++)
    if (strcmp(q->urls[i], err->worker_url) == 0)
      return i;
  return q->n_workers;
}

static void drop_worker(dq_query *q, size_t w) {
  if (q->channels[w] != NULL)
    q->ops->channel_close(q->channels[w]);
  free(q->urls[w]);
  memmove(&q->urls[w], &q->urls[w + 1],
          (q->n_workers - w - 1) * sizeof *q->urls);
  memmove(&q->channels[w], &q->channels[w + 1],
          (q->n_workers - w - 1) * sizeof *q->channels);
  q->n_workers--;
}

/* An attempt ended with error rc (in *err) before any row reached the
 * caller.  When it is a worker loss and attempts are left, runs the plan
 * again on the survivors (repeatedly, if the next attempt loses one too)
 * and returns 0; otherwise returns the error to report, in *err. */
static int recover(dq_query *q, int rc, dq_error *err) {
  while (rc < 0) {
    if (!is_worker_loss(rc) || atomic_load(&q->user_cancelled))
      return rc; /* a query error, or the caller's cancel: as it was */
    size_t w = lost_worker(q, err);
    if (w == q->n_workers)
      return rc; /* names no worker of ours: nothing to re-place */
    if (q->n_workers == 1) {
      note_loss(q, q->urls[w], err, 0);
      append_message(err, " (every worker of the query was lost: %u "
                          "attempt%s)",
                     q->attempt, q->attempt == 1 ? "" : "s");
      return rc;
    }
    if (q->attempt >= q->max_attempts) {
      note_loss(q, q->urls[w], err, 0);
      append_message(err, " (a worker was lost in each of the query's %u "
                          "attempts: [executor] max_task_attempts)",
                     q->attempt);
      return rc;
    }
    note_loss(q, q->urls[w], err, 1);
    stop_all(q);
    attempt_free(q);
    drop_worker(q, w);
    q->attempt++;
    rc = attempt_begin(q, err);
  }
  return 0;
}

int dq_query_start(dq_context *ctx, const dq_plan *plan,
                   const char *const *worker_urls, size_t n_workers,
                   dq_query **out, dq_error *err) {
  *out = NULL;
  if (ctx == NULL || plan == NULL || (worker_urls == NULL && n_workers > 0))
    return dq_error_set(err, DQ_EINVAL, "dq_query_start: NULL argument");
  const dq_stage *head = dq_plan_head(plan);
  if (head == NULL)
    return dq_error_set(err, DQ_EINVAL, "the plan has no stages");
  if (dq_stage_task_count(head) != 1 || dq_stage_partitions(head) != 1)
    return dq_error_set(err, DQ_EINVAL,
                        "the head stage (stage %u) must have one task and "
                        "one partition; it has %u and %u",
                        dq_stage_id(head), dq_stage_task_count(head),
                        dq_stage_partitions(head));
  if (n_workers == 0 && dq_plan_n_stages(plan) > 1)
    return dq_error_set(err, DQ_EINVAL,
                        "a plan of %zu stages needs at least one worker",
                        dq_plan_n_stages(plan));
  dq_query *q = calloc(1, sizeof *q);
  if (q == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  pthread_mutex_init(&q->lock, NULL);
  q->ctx = ctx;
  const dq_config *cfg = dq_context_config(ctx);
  dq_query_settings_from_config(cfg, &q->settings);
  q->max_attempts = (uint32_t)dq_config_executor(cfg, "max_task_attempts");
  if (q->max_attempts == 0)
    q->max_attempts = 1;
  q->avoid_ms = dq_config_executor(cfg, "worker_avoid_ms");
  q->attempt = 1;
  q->ops = dq_context_ops(ctx);
  q->transport = dq_context_transport(ctx);
  q->plan = plan;
  q->head = head;
  q->head_blocking = head_is_blocking(head);
  q->t_start = dq_now_ns();

  /* Workers lost recently (by any query of this process) are skipped,
   * unless that would leave none: then they get another chance. */
  size_t n_avoided = 0;
  for (size_t i = 0; i < n_workers; i++)
    n_avoided += dq_membership_avoided(worker_urls[i]) != 0;
  int skip_avoided = n_avoided < n_workers;

  int rc = 0;
  q->urls = calloc(n_workers ? n_workers : 1, sizeof *q->urls);
  q->channels = calloc(n_workers ? n_workers : 1, sizeof *q->channels);
  if (q->urls == NULL || q->channels == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  for (size_t i = 0; rc == 0 && i < n_workers; i++) {
    if (skip_avoided && dq_membership_avoided(worker_urls[i]))
      continue;
    size_t k = q->n_workers;
    q->urls[k] = strdup(worker_urls[i]);
    if (q->urls[k] == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
      break;
    }
    q->n_workers++;
    rc = q->ops->channel_open(q->transport, q->urls[k], &q->channels[k], err);
    if (rc < 0) {
      q->channels[k] = NULL;
      if (err->worker_url[0] == '\0')
        dq_error_set_origin(err, q->urls[k], NULL);
      /* An unreachable worker is left out while others remain to try. */
      if (is_worker_loss(rc)) {
        note_loss(q, q->urls[k], err, 0);
        free(q->urls[k]);
        q->urls[k] = NULL;
        q->n_workers--;
        rc = 0;
      }
    }
  }
  if (rc == 0 && q->n_workers == 0 && q->n_losses > 0 &&
      dq_plan_n_stages(plan) > 1) {
    *err = q->losses[q->n_losses - 1].reason;
    rc = err->code;
    append_message(err, " (none of the query's %zu workers could be "
                        "reached)", n_workers);
  }
  if (rc == 0) {
    rc = attempt_begin(q, err);
    if (rc < 0)
      rc = recover(q, rc, err);
  }
  if (rc < 0) {
    stop_all(q);
    query_free(q);
    return rc;
  }
  *out = q;
  return 0;
}

const dq_schema *dq_query_schema(const dq_query *q) {
  return dq_stage_schema(q->head);
}

/* The query ran to its end: ask every task for its metrics.  A worker lost
 * by now costs its tasks' metrics only (the answer is out); it is asked
 * once, not once per task, so a stopped one costs one deadline. */
static void collect_metrics(dq_query *q) {
  for (size_t i = 0; i < q->n_tasks; i++) {
    qtask *qt = &q->tasks[i];
    int gone = 0;
    for (size_t l = 0; l < q->n_losses && !gone; l++)
      gone = q->losses[l].attempt == q->attempt &&
             strcmp(q->losses[l].worker_url, q->urls[qt->worker]) == 0;
    if (gone)
      continue;
    dq_task_metrics m;
    dq_error err;
    dq_error_clear(&err);
    if (q->ops->coord_finish(qt->coord, &m, &err) < 0) {
      if (is_worker_loss(err.code))
        note_loss(q, q->urls[qt->worker], &err, 0);
      continue; /* metrics are best effort: the answer is already out */
    }
    dq_task_info *info = &qt->info;
    info->queued_ns = m.queued_ns;
    info->run_ns = m.run_ns;
    info->rows_out = m.rows_out;
    info->batches_out = m.batches_out;
    info->bytes_out = m.bytes_out;
    for (size_t b = 0; b < m.n_boundaries; b++) {
      info->in_bytes += m.boundaries[b].bytes;
      info->in_batches += m.boundaries[b].batches;
      info->in_rows += m.boundaries[b].rows;
      info->in_wait_ns += m.boundaries[b].latency_ns;
      if (m.boundaries[b].buffered_peak > info->in_buffered_peak)
        info->in_buffered_peak = m.boundaries[b].buffered_peak;
    }
    info->has_metrics = 1;
  }
  dq_task_info *h = &q->head_info;
  h->run_ns = dq_now_ns() - q->t_start;
  for (size_t i = 0; i < q->n_inputs; i++) {
    dq_boundary_metrics bm;
    dq_reader_metrics(q->readers[i], &bm);
    h->in_bytes += bm.bytes;
    h->in_batches += bm.batches;
    h->in_rows += bm.rows;
    h->in_wait_ns += bm.latency_ns;
    if (bm.buffered_peak > h->in_buffered_peak)
      h->in_buffered_peak = bm.buffered_peak;
  }
  h->has_metrics = 1;
}

int dq_query_next(dq_query *q, dq_batch **out, dq_error *err) {
  *out = NULL;
  if (q->failed) {
    if (err != NULL)
      *err = q->error;
    return q->error.code;
  }
  if (q->done)
    return 0;
  dq_error e;
  dq_error_clear(&e);
  int rc;
  while ((rc = dq_exec_next(q->exec, out, &e)) < 0) {
    if (e.code == 0)
      dq_error_set(&e, rc, "%s", dq_strerror(rc));
    if (!is_worker_loss(rc) || atomic_load(&q->user_cancelled))
      break;
    if (q->head_info.batches_out == 0) {
      /* Nothing reached the caller: run the plan again elsewhere. */
      rc = recover(q, rc, &e);
      if (rc < 0)
        break;
      continue;
    }
    /* Rows were handed out.  A blocking head (head_blocking) read all its
     * input before its first row, so only a streaming head gets here; a
     * re-run would return the rows again. */
    size_t w = lost_worker(q, &e);
    if (w < q->n_workers)
      note_loss(q, q->urls[w], &e, 0);
    append_message(&e, " (worker lost after %llu rows were returned%s; "
                       "running the query again would return them twice, "
                       "so it fails: only resumable streams could "
                       "continue it)",
                   (unsigned long long)q->head_info.rows_out,
                   q->head_blocking ? ""
                                    : " by a head that streams its input");
    break;
  }
  if (rc < 0) {
    q->failed = 1;
    q->error = e;
    if (err != NULL)
      *err = e;
    stop_all(q);
    return rc;
  }
  if (*out == NULL) {
    q->done = 1;
    collect_metrics(q);
  } else {
    q->head_info.rows_out += (uint64_t)dq_batch_n_rows(*out);
    q->head_info.batches_out++;
    q->head_info.bytes_out += dq_batch_byte_size(*out);
  }
  return 0;
}

void dq_query_cancel(dq_query *q) {
  if (q == NULL)
    return;
  atomic_store(&q->user_cancelled, true);
  stop_all(q);
}

void dq_query_close(dq_query *q) {
  if (q == NULL)
    return;
  if (!q->done)
    stop_all(q);
  query_free(q);
}

uint32_t dq_query_attempt(const dq_query *q) { return q->attempt; }

size_t dq_query_n_losses(const dq_query *q) { return q->n_losses; }

int dq_query_loss_info(const dq_query *q, size_t i, dq_worker_loss *out) {
  if (i >= q->n_losses)
    return DQ_EINVAL;
  *out = q->losses[i];
  return 0;
}

size_t dq_query_n_tasks(const dq_query *q) { return q->n_tasks + 1; }

int dq_query_task_info(const dq_query *q, size_t i, dq_task_info *out) {
  if (i < q->n_tasks) {
    *out = q->tasks[i].info;
    return 0;
  }
  if (i == q->n_tasks) {
    *out = q->head_info;
    return 0;
  }
  return DQ_EINVAL;
}

const char *dq_query_task_worker(const dq_query *q, uint32_t stage_id,
                                 uint32_t task_number) {
  if (stage_id == dq_stage_id(q->head))
    return "coordinator";
  for (size_t i = 0; i < q->n_tasks; i++)
    if (q->tasks[i].stage_id == stage_id &&
        q->tasks[i].task_number == task_number)
      return q->urls[q->tasks[i].worker];
  return NULL;
}
