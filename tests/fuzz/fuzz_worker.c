/* fuzz_worker.c — libFuzzer target for the worker service's message
 * handlers (libdq/runtime/worker.c) as a transport delivers them: an in-process
 * worker over inmem receives fuzzed SetPlan bytes and ExecuteTask requests
 * (partition ranges, producer heads) through the transport's client ops,
 * every stream is drained, and everything is closed again, so each input
 * also checks that the worker frees what it was given.
 *
 * The input is a little program of records, each an opcode byte and its
 * fields (integers little-endian; running out of bytes ends the program):
 *   0 SetPlan      u8 stage, u8 task, u8 task_count, u16 len, len bytes
 *   1 ExecuteTask  u8 stage, u8 task, u8 start, u8 end, u8 flags, u16 len,
 *                  len bytes of producer head (flags bit 0: cancel at once)
 *   2 work unit    u16 len, len bytes (to the newest coordinator channel)
 *   3 finish       the newest coordinator channel: half-close, metrics
 *   4 close        the newest coordinator channel
 *   5 worker info
 * Every task of an input shares one query id; the worker listens at
 * inmem://fuzz, so a task plan may name it as a producer's URL and one
 * input can run a two-stage query on it.
 *
 * Bounds that keep an input fast (documented in docs/fuzzing.md): a plan is
 * only delivered when its stage has at most MAX_PARTITIONS pipelines and
 * every input at most MAX_PRODUCERS producer tasks (the worker itself
 * caps neither: see the report on unbounded pipeline threads), a stream is
 * drained for at most MAX_FRAMES frames, and a watchdog cancels a stream
 * still open after STREAM_BUDGET_MS (a TPC-H scan at a fuzzed scale factor
 * could otherwise run for hours).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dq/dq.h>
#include <dq/runtime.h>
#include <dq/transport.h>

#include "host/context.h"
#include "fuzz.h"
#include "runtime/task_plan.h"
#include "runtime/worker_internal.h"

#ifndef FUZZ_PLUGIN_DIR
#define FUZZ_PLUGIN_DIR "plugins/inmem"
#endif

#define WORKER_URL "inmem://fuzz"
#define MAX_COORDS 8
#define MAX_OPS 32
#define MAX_PARTITIONS 8
#define MAX_PRODUCERS 8
#define MAX_FRAMES 256
#define STREAM_BUDGET_MS 200

static dq_config *cfg;
static int verbose; /* FUZZ_VERBOSE=1: say what each record did */
static dq_context *ctx;
static const dq_transport_ops *ops;

/* The watchdog: cancels the stream being drained once its budget is spent.
 * stream_cancel is the one op any thread may call at any time. */
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static dq_stream *wd_stream;
static struct timespec wd_deadline;

static bool past(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > t->tv_sec ||
         (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  for (;;) {
    usleep(5000);
    pthread_mutex_lock(&wd_lock);
    if (wd_stream != NULL && past(&wd_deadline)) {
      ops->stream_cancel(wd_stream);
      wd_stream = NULL;
    }
    pthread_mutex_unlock(&wd_lock);
  }
  return NULL;
}

static void watch(dq_stream *s) {
  pthread_mutex_lock(&wd_lock);
  wd_stream = s;
  if (s != NULL) {
    clock_gettime(CLOCK_MONOTONIC, &wd_deadline);
    wd_deadline.tv_nsec += (STREAM_BUDGET_MS % 1000) * 1000000L;
    wd_deadline.tv_sec += STREAM_BUDGET_MS / 1000 +
                          wd_deadline.tv_nsec / 1000000000L;
    wd_deadline.tv_nsec %= 1000000000L;
  }
  pthread_mutex_unlock(&wd_lock);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  unsetenv("DQ_CONFIG");
  unsetenv("DQ_TRANSPORT");
  verbose = getenv("FUZZ_VERBOSE") != NULL;
  if (getenv("DQ_PLUGIN_PATH") == NULL)
    setenv("DQ_PLUGIN_PATH", FUZZ_PLUGIN_DIR, 1);
  /* No waiting for plans that never come; no TTL racing the input. */
  const char *text = "[dq]\ntransport = inmem\n"
                     "[executor]\nplan_wait_ms = 0\nbatch_rows = 512\n"
                     "task_ttl_ms = 86400000\n";
  dq_error err;
  if (dq_config_parse(text, "fuzz_worker", &cfg, &err) < 0 ||
      dq_context_new(cfg, &ctx, &err) < 0) {
    fprintf(stderr, "fuzz_worker: cannot start inmem (DQ_PLUGIN_PATH=%s): "
                    "%s\n", getenv("DQ_PLUGIN_PATH"), err.message);
    exit(1);
  }
  ops = dq_context_ops(ctx);
  pthread_t th;
  if (pthread_create(&th, NULL, watchdog_main, NULL) != 0)
    exit(1);
  pthread_detach(th);
  return 0;
}

typedef struct reader {
  const uint8_t *p, *end;
} reader;

static bool get_u8(reader *r, uint32_t *v) {
  if (r->p >= r->end)
    return false;
  *v = *r->p++;
  return true;
}

static bool get_bytes(reader *r, const uint8_t **b, size_t *len) {
  if (r->end - r->p < 2)
    return false;
  size_t n = (size_t)r->p[0] | (size_t)r->p[1] << 8;
  r->p += 2;
  if ((size_t)(r->end - r->p) < n)
    n = (size_t)(r->end - r->p); /* a short tail is still worth trying */
  *b = r->p;
  *len = n;
  r->p += n;
  return true;
}

/* Whether the worker may be given this plan within the target's bounds
 * (an undecodable plan is always given: rejecting it is the point). */
static bool within_bounds(const uint8_t *b, size_t len) {
  dq_task_plan *tp;
  dq_error err;
  if (dq_task_plan_decode(b, len, &tp, &err) != 0)
    return true;
  bool ok = dq_stage_partitions(tp->stage) <= MAX_PARTITIONS;
  for (size_t i = 0; i < tp->n_inputs; i++)
    ok = ok && tp->inputs[i].producer_task_count <= MAX_PRODUCERS;
  dq_task_plan_free(tp);
  return ok;
}

static void drain(dq_stream *s, bool cancel) {
  watch(s);
  if (cancel)
    ops->stream_cancel(s);
  dq_error err;
  bool schema_seen = false;
  long rows = 0;
  for (int i = 0; i < MAX_FRAMES; i++) {
    dq_frame f;
    int rc = ops->stream_next(s, &f, &err);
    if (rc < 0) {
      fuzz_require(err.message[0] != '\0', "stream error without a reason");
      if (verbose)
        fprintf(stderr, "  stream: %s after %ld rows\n", err.message, rows);
      break;
    }
    if (f.kind == DQ_FRAME_BATCH)
      rows += f.array.length;
    if (verbose && f.kind == DQ_FRAME_END)
      fprintf(stderr, "  stream: END after %ld rows\n", rows);
    if (f.kind == DQ_FRAME_SCHEMA) {
      fuzz_require(!schema_seen, "a second SCHEMA frame");
      schema_seen = true;
      f.schema.release(&f.schema);
    } else if (f.kind == DQ_FRAME_BATCH) {
      fuzz_require(schema_seen, "a BATCH before the SCHEMA");
      f.array.release(&f.array);
    } else if (f.kind == DQ_FRAME_END) {
      break;
    } else {
      fuzz_require(f.kind == DQ_FRAME_EOS, "frame kind %u", f.kind);
    }
  }
  watch(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dq_error err;
  dq_worker *w;
  if (dq_worker_start(ctx, WORKER_URL, &w, &err) < 0) {
    fprintf(stderr, "fuzz_worker: worker: %s\n", err.message);
    abort();
  }
  dq_channel *ch;
  fuzz_require(ops->channel_open(dq_context_transport(ctx), WORKER_URL, &ch,
                                 &err) == 0,
               "channel: %s", err.message);
  dq_coord *coords[MAX_COORDS];
  size_t n_coords = 0;
  static const dq_kv no_config[1];
  reader r = {data, data + size};
  uint32_t op;
  for (int step = 0; step < MAX_OPS && get_u8(&r, &op); step++) {
    uint32_t stage, task, a, b, flags;
    const uint8_t *bytes;
    size_t len;
    switch (op % 6) {
    case 0: { /* SetPlan */
      if (!get_u8(&r, &stage) || !get_u8(&r, &task) || !get_u8(&r, &a) ||
          !get_bytes(&r, &bytes, &len))
        goto out;
      if (n_coords == MAX_COORDS || !within_bounds(bytes, len))
        break;
      dq_set_plan sp;
      memset(&sp, 0, sizeof sp);
      sp.key.query_id[0] = 0xf0;
      sp.key.stage_id = stage;
      sp.key.task_number = task;
      sp.task_count = a;
      sp.plan = bytes;
      sp.plan_len = len;
      sp.target_worker_url = WORKER_URL;
      sp.config = no_config;
      sp.n_config = 0;
      dq_coord *c;
      int rc = ops->coord_open(ch, &sp, &c, &err);
      if (verbose)
        fprintf(stderr, "SetPlan %u/%u: %s\n", stage, task,
                rc == 0 ? "ok" : err.message);
      if (rc == 0)
        coords[n_coords++] = c;
      else
        fuzz_require(err.message[0] != '\0', "SetPlan refused silently");
      break;
    }
    case 1: { /* ExecuteTask */
      if (!get_u8(&r, &stage) || !get_u8(&r, &task) || !get_u8(&r, &a) ||
          !get_u8(&r, &b) || !get_u8(&r, &flags) ||
          !get_bytes(&r, &bytes, &len))
        goto out;
      dq_execute_task req;
      memset(&req, 0, sizeof req);
      req.key.query_id[0] = 0xf0;
      req.key.stage_id = stage;
      req.key.task_number = task;
      req.partition_start = a;
      req.partition_end = b;
      req.producer_head = bytes;
      req.producer_head_len = len;
      dq_stream *s;
      int rc = ops->execute_task(ch, &req, &s, &err);
      if (verbose)
        fprintf(stderr, "ExecuteTask %u/%u [%u, %u): %s\n", stage, task, a, b,
                rc == 0 ? "ok" : err.message);
      if (rc == 0) {
        drain(s, flags & 1);
        ops->stream_close(s);
      } else {
        fuzz_require(err.message[0] != '\0', "ExecuteTask refused silently");
      }
      break;
    }
    case 2: /* work unit */
      if (!get_bytes(&r, &bytes, &len))
        goto out;
      if (n_coords > 0)
        ops->coord_send_work_unit(coords[n_coords - 1], bytes, len, &err);
      break;
    case 3: /* finish */
      if (n_coords > 0) {
        dq_task_metrics m;
        if (ops->coord_finish(coords[n_coords - 1], &m, &err) == 0)
          fuzz_require(m.n_boundaries == 0 || m.boundaries != NULL,
                       "metrics name %zu boundaries without data",
                       m.n_boundaries);
      }
      break;
    case 4: /* close */
      if (n_coords > 0)
        ops->coord_close(coords[--n_coords]);
      break;
    case 5: { /* worker info */
      dq_worker_info info;
      fuzz_require(ops->get_worker_info(ch, &info, &err) == 0,
                   "worker info: %s", err.message);
      fuzz_require(strcmp(info.url, WORKER_URL) == 0, "worker URL %s",
                   info.url);
      break;
    }
    }
  }
out:
  while (n_coords > 0)
    ops->coord_close(coords[--n_coords]);
  ops->channel_close(ch);
  /* Every coordinator channel is closed: nothing of the query may stay. */
  fuzz_require(dq_worker_task_count(w) == 0, "%ld tasks left in the table",
               dq_worker_task_count(w));
  dq_worker_stop(w);
  return 0;
}
