/* transport_bench.c — what each transport plugin costs, measured through the
 * real ABI (the ops table a dq_context loaded), each figure beside its ratio
 * to the matching machine baseline measured in the same run:
 *
 *  - partition-read throughput (GB/s) for 1 MiB and 64 KiB batches of an
 *    int64, a float64 and a utf8 column, one producer stream to one
 *    consumer and four producer streams to one consumer (one draining thread
 *    per stream, as libdq's boundary reader does), ratio to single-thread
 *    memcpy at 1 MiB (inmem, shm) or to loopback TCP with writes of the
 *    batch size (grpc, and any other transport);
 *  - the small-batch rate (batches/s) for 4 KiB batches;
 *  - plan-delivery latency p50/p99: coord_open + coord_close round trips
 *    carrying a real task plan to a real worker (dq_worker_start), and the
 *    same against a null service (what the transport alone costs);
 *  - a real worker's output: a task scanning TPC-H lineitem (int64,
 *    decimal, utf8 columns) delivered with coord_open and read with
 *    execute_task, beside the same pipeline run in this thread (both
 *    include the generator; --scan-scale, default 0.05).
 *
 * The producer side of the throughput figures is a synthetic worker
 * service served with the transport's own serve(): its streams hand out
 * batches built once before timing, so the figure is the transport's
 * hand-off and not the executor's or the TPC-H generator's (which every
 * scan pays today; see query_bench).  The consumer imports every batch as
 * the boundary reader does (dq_batch_import) and drops it.
 *
 * inmem serves in this process (it must).  Any other transport serves from
 * a child process (this program re-executed with --serve), so data really
 * crosses a process boundary.
 *
 *   transport_bench [--transports a,b] [--seconds S] [--reps N]
 *                   [--listen NAME=URL] [--scan-scale SF]
 *                   [--json FILE] [--tsv FILE] [--plan-only]
 *
 * --plan-only measures plan delivery alone, once per rep (each rep's
 * p50/p99 printed, then the medians), for quick A/B runs of a transport's
 * call latency.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>
#include <dq/transport.h>

#include "bench_util.h"
#include "host/context.h"
#include "exec/exec.h"
#include "plan/plan_internal.h"
#include "runtime/task_plan.h"

/* --- the synthetic data sets ------------------------------------------------
 * The same table in every process, so a child serving and the parent
 * reading agree on what dataset i is without sending it. */
typedef struct dataset {
  const char *column; /* "int64", "float64", "utf8" */
  size_t target;      /* batch size aimed at, bytes */
  dq_schema *schema;
  dq_batch *batch;
  size_t bytes; /* dq_batch_byte_size of the batch actually built */
} dataset;

static dataset datasets[] = {
    {"int64", 1u << 20, NULL, NULL, 0},   {"float64", 1u << 20, NULL, NULL, 0},
    {"utf8", 1u << 20, NULL, NULL, 0},    {"int64", 64u << 10, NULL, NULL, 0},
    {"float64", 64u << 10, NULL, NULL, 0}, {"utf8", 64u << 10, NULL, NULL, 0},
    {"int64", 4u << 10, NULL, NULL, 0},
};
#define N_DATASETS (sizeof datasets / sizeof datasets[0])
#define SMALL_DATASET 6 /* the 4 KiB batches of the small-batch rate */
#define UTF8_LEN 28     /* bytes per string: 32 per row with its offset */

static int build_dataset(dataset *d, dq_error *err) {
  dq_type t = {DQ_TYPE_INT64, 0, 0};
  size_t row_bytes = 8;
  if (strcmp(d->column, "float64") == 0)
    t.id = DQ_TYPE_FLOAT64;
  else if (strcmp(d->column, "utf8") == 0) {
    t.id = DQ_TYPE_UTF8;
    row_bytes = 4 + UTF8_LEN;
  }
  const char *name = d->column;
  bool nullable = false;
  int rc = dq_schema_new(1, &name, &t, &nullable, &d->schema, err);
  if (rc < 0)
    return rc;
  int64_t rows = (int64_t)(d->target / row_bytes);
  dq_batch_builder *b;
  if ((rc = dq_batch_builder_new(d->schema, rows, &b, err)) < 0)
    return rc;
  char s[UTF8_LEN + 1];
  for (int64_t i = 0; i < rows && rc == 0; i++) {
    if (t.id == DQ_TYPE_INT64)
      rc = dq_builder_append_int64(b, 0, i * 7919);
    else if (t.id == DQ_TYPE_FLOAT64)
      rc = dq_builder_append_float64(b, 0, (double)i * 0.25);
    else {
      snprintf(s, sizeof s, "%0*lld", UTF8_LEN, (long long)i * 104729);
      rc = dq_builder_append_utf8(b, 0, s, UTF8_LEN);
    }
  }
  if (rc < 0)
    dq_error_set(err, rc, "building the %s batch: %s", d->column,
                 dq_batch_builder_error(b));
  else
    rc = dq_batch_builder_finish(b, &d->batch, err);
  dq_batch_builder_free(b);
  if (rc == 0)
    d->bytes = dq_batch_byte_size(d->batch);
  return rc;
}

static int build_datasets(dq_error *err) {
  for (size_t i = 0; i < N_DATASETS; i++)
    if (datasets[i].batch == NULL) {
      int rc = build_dataset(&datasets[i], err);
      if (rc < 0)
        return rc;
    }
  return 0;
}

static void free_datasets(void) {
  for (size_t i = 0; i < N_DATASETS; i++) {
    dq_batch_unref(datasets[i].batch);
    dq_schema_unref(datasets[i].schema);
    datasets[i].batch = NULL;
    datasets[i].schema = NULL;
  }
}

/* --- the synthetic worker service ------------------------------------------
 * ExecuteTask's producer_head, opaque to every transport, carries which
 * dataset and how many batches: the service needs nothing else. */
#define SYN_MAGIC 0x62716431u /* "1dqb" */
typedef struct syn_req {
  uint32_t magic;
  uint32_t dataset;
  uint64_t n_batches;
} syn_req;

typedef struct syn_stream {
  const dataset *ds;
  uint64_t left;
  int state; /* 0 schema, 1 batches, 2 eos, 3 end */
  atomic_bool cancelled;
} syn_stream;

typedef struct syn_task {
  dq_task_metrics m;
} syn_task;

static int syn_get_worker_info(void *self, dq_worker_info *out,
                               dq_error *err) {
  (void)self;
  (void)err;
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "%s", DQ_VERSION_STRING);
  out->protocol_version = DQ_PROTOCOL_VERSION;
  snprintf(out->url, sizeof out->url, "synthetic");
  return 0;
}

static int syn_coord_open(void *self, const dq_set_plan *plan,
                          dq_ws_task **out, dq_error *err) {
  (void)self;
  syn_task *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  t->m.key = plan->key;
  t->m.plan_bytes = plan->plan_len;
  *out = (dq_ws_task *)t;
  return 0;
}

static int syn_coord_send_work_unit(void *self, dq_ws_task *task,
                                    const void *data, size_t len,
                                    dq_error *err) {
  (void)self;
  (void)task;
  (void)data;
  (void)len;
  (void)err;
  return 0;
}

static int syn_coord_finish(void *self, dq_ws_task *task,
                            dq_task_metrics *out, dq_error *err) {
  (void)self;
  (void)err;
  *out = ((syn_task *)task)->m;
  return 0;
}

static void syn_coord_close(void *self, dq_ws_task *task) {
  (void)self;
  free(task);
}

static int syn_execute_task(void *self, const dq_execute_task *req,
                            dq_ws_stream **out, dq_error *err) {
  (void)self;
  syn_req r;
  if (req->producer_head_len != sizeof r)
    return dq_error_set(err, DQ_EINVAL, "not a benchmark request");
  memcpy(&r, req->producer_head, sizeof r);
  if (r.magic != SYN_MAGIC || r.dataset >= N_DATASETS ||
      req->partition_start != 0 || req->partition_end != 1)
    return dq_error_set(err, DQ_EINVAL, "not a benchmark request");
  syn_stream *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  s->ds = &datasets[r.dataset];
  s->left = r.n_batches;
  *out = (dq_ws_stream *)s;
  return 0;
}

static int syn_stream_next(void *self, dq_ws_stream *ws, dq_frame *out,
                           dq_error *err) {
  (void)self;
  syn_stream *s = (syn_stream *)ws;
  memset(out, 0, sizeof *out);
  if (atomic_load(&s->cancelled))
    return dq_error_set(err, DQ_ECANCELED, "the stream was cancelled");
  switch (s->state) {
  case 0:
    s->state = s->left ? 1 : 2;
    out->kind = DQ_FRAME_SCHEMA;
    return dq_schema_export(s->ds->schema, &out->schema, err);
  case 1:
    if (--s->left == 0)
      s->state = 2;
    out->kind = DQ_FRAME_BATCH;
    out->partition = 0;
    /* Exported by reference: no copy, as a worker hands its output over. */
    return dq_batch_export(s->ds->batch, &out->array, err);
  case 2:
    s->state = 3;
    out->kind = DQ_FRAME_EOS;
    out->partition = 0;
    return 0;
  default:
    out->kind = DQ_FRAME_END;
    return 0;
  }
}

static void syn_stream_cancel(void *self, dq_ws_stream *s) {
  (void)self;
  atomic_store(&((syn_stream *)s)->cancelled, true);
}

static void syn_stream_close(void *self, dq_ws_stream *s) {
  (void)self;
  free(s);
}

static const dq_worker_service syn_service = {
    sizeof(dq_worker_service), NULL,           syn_get_worker_info,
    syn_coord_open,            syn_coord_send_work_unit,
    syn_coord_finish,          syn_coord_close, syn_execute_task,
    syn_stream_next,           syn_stream_cancel, syn_stream_close};

/* --- contexts and hosts ------------------------------------------------------*/

static const char *listen_overrides[8][2];
static size_t n_listen_overrides;

static int make_context(const char *name, dq_config **cfg, dq_context **ctx,
                        dq_error *err) {
  *cfg = NULL;
  *ctx = NULL;
  int rc = dq_config_parse("", "transport_bench", cfg, err);
  if (rc == 0)
    rc = dq_config_set_transport(*cfg, name, err);
  if (rc == 0)
    rc = dq_context_new(*cfg, ctx, err);
  if (rc < 0) {
    dq_config_free(*cfg);
    *cfg = NULL;
  }
  return rc;
}

/* Candidate listen URLs for a transport: an override, else what the
 * network transports accept (an ephemeral loopback port), else the bare
 * scheme (a transport that picks its own address). */
static size_t listen_candidates(const char *name, char urls[2][256]) {
  for (size_t i = 0; i < n_listen_overrides; i++)
    if (strcmp(listen_overrides[i][0], name) == 0) {
      snprintf(urls[0], 256, "%s", listen_overrides[i][1]);
      return 1;
    }
  if (strcmp(name, "inmem") == 0) {
    snprintf(urls[0], 256, "inmem://");
    return 1;
  }
  snprintf(urls[0], 256, "%s://127.0.0.1:0", name);
  snprintf(urls[1], 256, "%s://", name);
  return 2;
}

/* Serves the synthetic service and a real worker in this process. */
typedef struct local_host {
  dq_server *srv;
  dq_worker *worker;
} local_host;

static int local_host_start(dq_context *ctx, const char *name, local_host *h,
                            char *syn_url, char *worker_url, dq_error *err) {
  const dq_transport_ops *ops = dq_context_ops(ctx);
  char urls[2][256];
  size_t n = listen_candidates(name, urls);
  int rc = DQ_EINVAL;
  memset(h, 0, sizeof *h);
  for (size_t i = 0; i < n; i++) {
    rc = ops->serve(dq_context_transport(ctx), urls[i], &syn_service, &h->srv,
                    err);
    if (rc == 0) {
      snprintf(syn_url, 256, "%s", ops->server_url(h->srv));
      rc = dq_worker_start(ctx, urls[i], &h->worker, err);
      if (rc == 0) {
        snprintf(worker_url, 256, "%s", dq_worker_url(h->worker));
        return 0;
      }
      ops->stop(h->srv);
      h->srv = NULL;
    }
  }
  return rc;
}

static void local_host_stop(dq_context *ctx, local_host *h) {
  if (h->worker != NULL)
    dq_worker_stop(h->worker);
  if (h->srv != NULL)
    dq_context_ops(ctx)->stop(h->srv);
  memset(h, 0, sizeof *h);
}

/* --serve NAME: the child's side.  Prints "URLS <syn> <worker>" and serves
 * until its stdin reaches end of file (the parent closed it or died). */
static int serve_main(const char *name) {
  dq_error err;
  dq_config *cfg;
  dq_context *ctx;
  char syn_url[256], worker_url[256];
  local_host h;
  if (build_datasets(&err) < 0 || make_context(name, &cfg, &ctx, &err) < 0) {
    printf("ERROR %s\n", err.message);
    return 1;
  }
  if (local_host_start(ctx, name, &h, syn_url, worker_url, &err) < 0) {
    printf("ERROR %s\n", err.message);
    fflush(stdout);
    dq_context_free(ctx);
    dq_config_free(cfg);
    return 1;
  }
  printf("URLS %s %s\n", syn_url, worker_url);
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0)
    ;
  local_host_stop(ctx, &h);
  dq_context_free(ctx);
  dq_config_free(cfg);
  free_datasets();
  return 0;
}

typedef struct child_host {
  pid_t pid;
  int to_child; /* closing it tells the child to stop */
} child_host;

static int child_host_start(const char *name, child_host *c, char *syn_url,
                            char *worker_url, dq_error *err) {
  int in[2], out[2];
  memset(c, 0, sizeof *c);
  c->pid = -1;
  c->to_child = -1;
  if (pipe(in) < 0 || pipe(out) < 0)
    return dq_error_set(err, DQ_EIO, "pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    return dq_error_set(err, DQ_EIO, "fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    /* Re-executed, not just forked: the child starts with no threads or
     * transport state inherited from this process. */
    execl("/proc/self/exe", "transport_bench", "--serve", name, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  c->pid = pid;
  c->to_child = in[1];
  FILE *f = fdopen(out[0], "r");
  char line[1024] = "";
  if (f == NULL || fgets(line, sizeof line, f) == NULL)
    snprintf(line, sizeof line, "ERROR the serving child exited");
  if (f != NULL)
    fclose(f);
  else
    close(out[0]);
  line[strcspn(line, "\n")] = '\0';
  if (strncmp(line, "URLS ", 5) != 0 ||
      sscanf(line + 5, "%255s %255s", syn_url, worker_url) != 2) {
    close(c->to_child);
    waitpid(c->pid, NULL, 0);
    c->pid = -1;
    return dq_error_set(err, DQ_EPLUGIN, "serving %s in a child process: %s",
                        name, strncmp(line, "ERROR ", 6) == 0 ? line + 6 : line);
  }
  return 0;
}

static void child_host_stop(child_host *c) {
  if (c->pid <= 0)
    return;
  close(c->to_child);
  waitpid(c->pid, NULL, 0);
  c->pid = -1;
}

/* --- measurements -------------------------------------------------------------*/

typedef struct reader_arg {
  const dq_transport_ops *ops;
  dq_channel *ch;
  uint32_t dataset;
  uint64_t n_batches;
  uint32_t task_number;
  int import; /* import each batch (as a reader does) or just release it */
  uint64_t got; /* batches received */
  int rc;
  dq_error err;
} reader_arg;

/* Drains one stream as the boundary reader does: import the schema, then
 * import every batch against it and drop it. */
static void *drain_stream(void *p) {
  reader_arg *a = p;
  syn_req r = {SYN_MAGIC, a->dataset, a->n_batches};
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.key.stage_id = 1;
  req.key.task_number = a->task_number;
  req.partition_start = 0;
  req.partition_end = 1;
  req.producer_head = (const uint8_t *)&r;
  req.producer_head_len = sizeof r;
  dq_stream *s;
  dq_schema *schema = NULL;
  a->got = 0;
  a->rc = a->ops->execute_task(a->ch, &req, &s, &a->err);
  if (a->rc < 0)
    return NULL;
  for (;;) {
    dq_frame f;
    int rc = a->ops->stream_next(s, &f, &a->err);
    if (rc < 0) {
      a->rc = rc;
      break;
    }
    if (f.kind == DQ_FRAME_SCHEMA) {
      rc = dq_schema_import(&f.schema, &schema, &a->err);
      if (f.schema.release)
        f.schema.release(&f.schema);
    } else if (f.kind == DQ_FRAME_BATCH) {
      dq_batch *b = NULL;
      if (a->import)
        rc = schema ? dq_batch_import(&f.array, schema, &b, &a->err)
                    : dq_error_set(&a->err, DQ_EPROTO, "batch before schema");
      if (f.array.release)
        f.array.release(&f.array);
      dq_batch_unref(b);
      a->got++;
    } else if (f.kind == DQ_FRAME_END) {
      break;
    }
    if (rc < 0) {
      a->rc = rc;
      break;
    }
  }
  a->ops->stream_close(s);
  dq_schema_unref(schema);
  return NULL;
}

/* One timed read: n_producers streams of n_batches each.  Seconds, or a
 * negative code with err filled. */
static double read_once(const dq_transport_ops *ops, dq_channel *ch,
                        uint32_t ds_index, int n_producers, uint64_t n_batches,
                        int import, dq_error *err) {
  reader_arg a[4];
  pthread_t th[4];
  for (int i = 0; i < n_producers; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].ops = ops;
    a[i].ch = ch;
    a[i].dataset = ds_index;
    a[i].n_batches = n_batches;
    a[i].task_number = (uint32_t)i;
    a[i].import = import;
  }
  double t0 = bench_now();
  if (n_producers == 1) {
    drain_stream(&a[0]);
  } else {
    for (int i = 0; i < n_producers; i++)
      if (pthread_create(&th[i], NULL, drain_stream, &a[i]) != 0)
        a[i].rc = dq_error_set(&a[i].err, DQ_EIO, "pthread_create failed");
    for (int i = 0; i < n_producers; i++)
      pthread_join(th[i], NULL);
  }
  double t = bench_now() - t0;
  for (int i = 0; i < n_producers; i++) {
    if (a[i].rc == 0 && a[i].got != n_batches)
      a[i].rc = dq_error_set(&a[i].err, DQ_EPROTO,
                             "stream ended after %llu of %llu batches",
                             (unsigned long long)a[i].got,
                             (unsigned long long)n_batches);
    if (a[i].rc < 0) {
      *err = a[i].err;
      return a[i].rc;
    }
  }
  return t;
}

typedef struct rate {
  double batches_per_s; /* median over reps */
  double gbps;
  uint64_t n_batches;   /* per stream, per rep */
} rate;

/* Calibrates the batch count to about `seconds` per rep, then takes the
 * median of `reps` reps. */
static int measure_read(const dq_transport_ops *ops, dq_channel *ch,
                        uint32_t ds_index, int n_producers, int import,
                        double seconds, int reps, rate *out, dq_error *err) {
  uint64_t n = 16;
  double t;
  for (;;) {
    t = read_once(ops, ch, ds_index, n_producers, n, import, err);
    if (t < 0)
      return (int)t;
    if (t >= seconds / 4 || n >= (1ull << 32))
      break;
    n *= t < seconds / 64 ? 16 : 4;
  }
  n = (uint64_t)((double)n * seconds / (t > 0 ? t : 1e-9));
  if (n < 1)
    n = 1;
  double r[64];
  if (reps > 64)
    reps = 64;
  for (int k = 0; k < reps; k++) {
    t = read_once(ops, ch, ds_index, n_producers, n, import, err);
    if (t < 0)
      return (int)t;
    r[k] = (double)(n * (uint64_t)n_producers) / t;
  }
  out->batches_per_s = bench_median(r, (size_t)reps);
  out->gbps = out->batches_per_s * (double)datasets[ds_index].bytes / BENCH_GB;
  out->n_batches = n;
  return 0;
}

typedef struct latency {
  double p50_us, p99_us;
  size_t samples;
} latency;

static int plan_only; /* --plan-only */

/* coord_open + coord_close round trips; each opens a new task (a new query
 * id) so the worker sees what a query start looks like. */
static int measure_plan_delivery(const dq_transport_ops *ops, dq_channel *ch,
                                 const uint8_t *plan, size_t plan_len,
                                 double seconds, latency *out, dq_error *err) {
  size_t cap = 200000, n = 0;
  double *v = malloc(cap * sizeof *v);
  if (v == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  dq_set_plan sp;
  memset(&sp, 0, sizeof sp);
  sp.key.stage_id = 1;
  sp.task_count = 1;
  sp.plan = plan;
  sp.plan_len = plan_len;
  sp.target_worker_url = "";
  uint64_t qid = 0x5eed0000u;
  double t_end = bench_now() + seconds;
  int rc = 0;
  /* A few untimed round trips first: the first ones pay for connections. */
  for (int warm = 1; n < cap; warm = warm > 0 && warm < 16 ? warm + 1 : 0) {
    qid++;
    memcpy(sp.key.query_id, &qid, sizeof qid);
    dq_coord *c;
    double t0 = bench_now();
    rc = ops->coord_open(ch, &sp, &c, err);
    if (rc < 0)
      break;
    ops->coord_close(c);
    double t1 = bench_now();
    if (!warm)
      v[n++] = (t1 - t0) * 1e6;
    if (t1 > t_end && n >= 100)
      break;
  }
  if (rc == 0) {
    out->samples = n;
    out->p50_us = bench_percentile(v, n, 50);
    out->p99_us = bench_percentile(v, n, 99);
  }
  free(v);
  return rc;
}

/* The task plan delivered: stage 1 of distributed TPC-H Q6 (a scan, a
 * filter, a partial aggregate), as dq_query_start would send it. */
static int q6_task_plan(dq_plan **plan, uint8_t **bytes, size_t *len,
                        dq_error *err) {
  int rc = dq_tpch_query_plan("q6", 1.0, 42, 1, 1, plan, err);
  if (rc < 0)
    return rc;
  return dq_task_plan_encode(dq_plan_stage_by_id(*plan, 1), NULL, 0, bytes,
                             len, err);
}

/* A real worker's output: a task scanning TPC-H lineitem (an int64, a
 * decimal and a utf8 column) delivered with coord_open and read with
 * execute_task, as a consumer task would read it; beside it the same
 * pipeline run in this thread.  Both include the generator, which is the
 * point: it says how much of a real scan's rate the transport keeps. */
typedef struct worker_scan {
  dq_plan *plan;
  const dq_stage *stage;
  uint8_t *task_plan, *head;
  size_t task_plan_len, head_len;
  double scale;
} worker_scan;

static int worker_scan_init(worker_scan *ws, double scale, dq_error *err) {
  static const char *const cols[] = {"l_orderkey", "l_extendedprice",
                                     "l_comment"};
  memset(ws, 0, sizeof *ws);
  ws->scale = scale;
  dq_plan_builder *b;
  int rc = dq_plan_builder_new(&b, err);
  if (rc < 0)
    return rc;
  dq_node *scan = dq_node_scan_tpch(b, "lineitem", scale, 42, cols, 3);
  const dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, 1, 1, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  rc = dq_plan_builder_finish(b, &ws->plan, err);
  dq_plan_builder_free(b);
  if (rc < 0)
    return rc;
  ws->stage = dq_plan_stage_by_id(ws->plan, 1);
  dq_producer_head h;
  rc = dq_task_plan_encode(ws->stage, NULL, 0, &ws->task_plan,
                           &ws->task_plan_len, err);
  if (rc == 0)
    rc = dq_stage_producer_head(ws->stage, &h, err);
  if (rc == 0)
    rc = dq_producer_head_encode(&h, &ws->head, &ws->head_len, err);
  return rc;
}

static void worker_scan_free(worker_scan *ws) {
  free(ws->task_plan);
  free(ws->head);
  dq_plan_free(ws->plan);
}

/* One read of the task's output over the transport; bytes in *bytes. */
static double worker_scan_once(const dq_transport_ops *ops, dq_channel *ch,
                               const worker_scan *ws, uint64_t qid,
                               uint64_t *bytes, dq_error *err) {
  dq_set_plan sp;
  memset(&sp, 0, sizeof sp);
  memcpy(sp.key.query_id, &qid, sizeof qid);
  sp.key.stage_id = 1;
  sp.task_count = 1;
  sp.plan = ws->task_plan;
  sp.plan_len = ws->task_plan_len;
  sp.target_worker_url = "";
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.key = sp.key;
  req.partition_start = 0;
  req.partition_end = 1;
  req.producer_head = ws->head;
  req.producer_head_len = ws->head_len;
  *bytes = 0;
  double t0 = bench_now();
  dq_coord *c;
  dq_stream *s;
  int rc = ops->coord_open(ch, &sp, &c, err);
  if (rc < 0)
    return rc;
  rc = ops->execute_task(ch, &req, &s, err);
  if (rc < 0) {
    ops->coord_close(c);
    return rc;
  }
  dq_schema *schema = NULL;
  for (;;) {
    dq_frame f;
    if ((rc = ops->stream_next(s, &f, err)) < 0)
      break;
    if (f.kind == DQ_FRAME_SCHEMA) {
      rc = dq_schema_import(&f.schema, &schema, err);
      if (f.schema.release)
        f.schema.release(&f.schema);
    } else if (f.kind == DQ_FRAME_BATCH) {
      dq_batch *b = NULL;
      rc = schema ? dq_batch_import(&f.array, schema, &b, err)
                  : dq_error_set(err, DQ_EPROTO, "batch before schema");
      if (f.array.release)
        f.array.release(&f.array);
      if (b != NULL)
        *bytes += dq_batch_byte_size(b);
      dq_batch_unref(b);
    } else if (f.kind == DQ_FRAME_END) {
      break;
    }
    if (rc < 0)
      break;
  }
  ops->stream_close(s);
  ops->coord_close(c);
  dq_schema_unref(schema);
  return rc < 0 ? rc : bench_now() - t0;
}

/* The same pipeline in this thread, no transport. */
static double worker_scan_local(const worker_scan *ws, uint64_t *bytes,
                                dq_error *err) {
  dq_exec_env env;
  memset(&env, 0, sizeof env);
  env.task_count = 1;
  env.n_partitions = 1;
  env.batch_rows = DQ_EXEC_DEFAULT_BATCH_ROWS;
  *bytes = 0;
  double t0 = bench_now();
  dq_exec *e;
  int rc = dq_exec_open(ws->stage, &env, 0, &e, err);
  if (rc < 0)
    return rc;
  for (;;) {
    dq_batch *b;
    if ((rc = dq_exec_next(e, &b, err)) < 0 || b == NULL)
      break;
    *bytes += dq_batch_byte_size(b);
    dq_batch_unref(b);
  }
  dq_exec_close(e);
  return rc < 0 ? rc : bench_now() - t0;
}

/* Medians of reps reads, interleaved with local runs, in GB/s. */
static int measure_worker_scan(const dq_transport_ops *ops, dq_channel *ch,
                               const worker_scan *ws, int reps, double *remote,
                               double *local, uint64_t *bytes, dq_error *err) {
  double r[64], l[64];
  static uint64_t qid = 0x5ca40000u;
  if (reps > 64)
    reps = 64;
  for (int k = 0; k < reps; k++) {
    uint64_t br, bl;
    double t = worker_scan_once(ops, ch, ws, ++qid, &br, err);
    if (t < 0)
      return (int)t;
    double tl = worker_scan_local(ws, &bl, err);
    if (tl < 0)
      return (int)tl;
    r[k] = (double)br / t / BENCH_GB;
    l[k] = (double)bl / tl / BENCH_GB;
    *bytes = br;
  }
  *remote = bench_median(r, (size_t)reps);
  *local = bench_median(l, (size_t)reps);
  return 0;
}

/* --- discovery ---------------------------------------------------------------*/

typedef struct found {
  char names[16][64];
  char why[16][512];
  int loads[16];
  size_t n;
} found;

static int on_plugin(const dq_plugin_info *info, void *user) {
  found *f = user;
  if (info->shadowed || f->n >= 16)
    return 0;
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->names[i], info->name) == 0)
      return 0;
  snprintf(f->names[f->n], 64, "%s", info->name);
  snprintf(f->why[f->n], 512, "%s", info->loads ? "" : info->error.message);
  f->loads[f->n] = info->loads;
  f->n++;
  return 0;
}

/* --- main --------------------------------------------------------------------*/

typedef struct baselines {
  double memcpy_1m, tcp_64k, tcp_1m;
} baselines;

static const char *baseline_for(const char *transport, size_t batch_bytes,
                                const baselines *b, double *value) {
  if (strcmp(transport, "inmem") == 0 || strcmp(transport, "shm") == 0) {
    *value = b->memcpy_1m;
    return "memcpy 1 MiB";
  }
  if (batch_bytes >= (512u << 10)) {
    *value = b->tcp_1m;
    return "TCP 1 MiB writes";
  }
  *value = b->tcp_64k;
  return "TCP 64 KiB writes";
}

static const char *size_label(size_t bytes, char *buf, size_t len) {
  if (bytes >= (1u << 20))
    snprintf(buf, len, "%zu MiB", bytes >> 20);
  else
    snprintf(buf, len, "%zu KiB", bytes >> 10);
  return buf;
}

static int bench_transport(const char *name, double seconds, int reps,
                           const baselines *bl, bench_json *j, FILE *tsv,
                           const uint8_t *plan, size_t plan_len,
                           const worker_scan *ws) {
  dq_error err;
  dq_error_clear(&err);
  dq_config *cfg;
  dq_context *ctx;
  char syn_url[256], worker_url[256];
  local_host lh;
  child_host ch_host;
  memset(&lh, 0, sizeof lh);
  memset(&ch_host, 0, sizeof ch_host);
  ch_host.pid = -1;
  int in_process = strcmp(name, "inmem") == 0;
  int rc = make_context(name, &cfg, &ctx, &err);
  if (rc == 0)
    rc = in_process
             ? local_host_start(ctx, name, &lh, syn_url, worker_url, &err)
             : child_host_start(name, &ch_host, syn_url, worker_url, &err);
  bench_json_begin_object(j, NULL);
  bench_json_str(j, "transport", name);
  if (rc < 0) {
    printf("\n%s: skipped: %s\n", name, err.message);
    bench_json_str(j, "skipped", err.message);
    bench_json_end_object(j);
    if (ctx != NULL) {
      dq_context_free(ctx);
      dq_config_free(cfg);
    }
    return 0;
  }
  const dq_transport_ops *ops = dq_context_ops(ctx);
  bench_json_str(j, "version", dq_context_transport_version(ctx));
  bench_json_str(j, "producer",
                 in_process ? "threads of this process"
                            : "a child process (re-executed --serve)");
  printf("\n### %s %s (producers: %s)\n\n", name,
         dq_context_transport_version(ctx),
         in_process ? "threads of this process" : "a child process");
  dq_channel *syn_ch = NULL, *w_ch = NULL;
  rc = ops->channel_open(dq_context_transport(ctx), syn_url, &syn_ch, &err);
  if (rc == 0)
    rc = ops->channel_open(dq_context_transport(ctx), worker_url, &w_ch, &err);

  printf("| column | batch | producers | GB/s | batches/s | ratio | to |\n"
         "|---|---|---:|---:|---:|---:|---|\n");
  bench_json_begin_array(j, "throughput");
  for (uint32_t d = 0; rc == 0 && !plan_only && d < N_DATASETS; d++) {
    if (d == SMALL_DATASET)
      continue;
    for (int np = 1; rc == 0 && np <= 4; np += 3) {
      rate r;
      rc = measure_read(ops, syn_ch, d, np, 1, seconds, reps, &r, &err);
      if (rc < 0)
        break;
      double base;
      const char *bname = baseline_for(name, datasets[d].target, bl, &base);
      char sz[32];
      size_label(datasets[d].target, sz, sizeof sz);
      printf("| %s | %s | %d→1 | %.2f | %.0f | %.2f | %s |\n",
             datasets[d].column, sz, np, r.gbps, r.batches_per_s,
             r.gbps / base, bname);
      bench_json_begin_object(j, NULL);
      bench_json_str(j, "column", datasets[d].column);
      bench_json_int(j, "batch_bytes", (long long)datasets[d].bytes);
      bench_json_int(j, "producers", np);
      bench_json_num(j, "gbps", r.gbps);
      bench_json_num(j, "batches_per_s", r.batches_per_s);
      bench_json_str(j, "baseline", bname);
      bench_json_num(j, "ratio", r.gbps / base);
      bench_json_end_object(j);
      if (tsv != NULL)
        fprintf(tsv, "%s\t\"%s %s %s %d:1\"\t%g\t%g\n", name, name,
                datasets[d].column, sz, np, r.gbps, r.gbps / base);
    }
  }
  bench_json_end_array(j);

  bench_json_begin_array(j, "small_batches");
  for (int np = 1; rc == 0 && !plan_only && np <= 4; np += 3) {
    /* With the consumer's import (what a reader pays) and without it (the
     * transport's hand-off alone: each frame released as it arrives). */
    rate r, raw;
    rc = measure_read(ops, syn_ch, SMALL_DATASET, np, 1, seconds, reps, &r,
                      &err);
    if (rc == 0)
      rc = measure_read(ops, syn_ch, SMALL_DATASET, np, 0, seconds, reps, &raw,
                        &err);
    if (rc < 0)
      break;
    printf("%ssmall batches (4 KiB int64, %d→1): %.3g batches/s imported, "
           "%.3g released unread (target for inmem: >= 5e6 hand-offs/s)\n",
           np == 1 ? "\n" : "", np, r.batches_per_s, raw.batches_per_s);
    bench_json_begin_object(j, NULL);
    bench_json_int(j, "batch_bytes", (long long)datasets[SMALL_DATASET].bytes);
    bench_json_int(j, "producers", np);
    bench_json_num(j, "batches_per_s", r.batches_per_s);
    bench_json_num(j, "batches_per_s_no_import", raw.batches_per_s);
    bench_json_end_object(j);
  }
  bench_json_end_array(j);

  latency lw = {0, 0, 0}, ln = {0, 0, 0};
  if (plan_only) {
    /* One measurement per rep, interleaved worker/null; medians below. */
    double w50[64], w99[64], n50[64], n99[64];
    int nr = reps < 64 ? reps : 64;
    for (int k = 0; rc == 0 && k < nr; k++) {
      rc = measure_plan_delivery(ops, w_ch, plan, plan_len, seconds, &lw,
                                 &err);
      if (rc == 0)
        rc = measure_plan_delivery(ops, syn_ch, plan, plan_len, seconds, &ln,
                                   &err);
      if (rc < 0)
        break;
      w50[k] = lw.p50_us, w99[k] = lw.p99_us;
      n50[k] = ln.p50_us, n99[k] = ln.p99_us;
      printf("rep %d: real worker p50 %.1f p99 %.1f µs; null service p50 "
             "%.1f p99 %.1f µs\n",
             k + 1, lw.p50_us, lw.p99_us, ln.p50_us, ln.p99_us);
    }
    if (rc == 0) {
      lw.p50_us = bench_median(w50, (size_t)nr);
      lw.p99_us = bench_median(w99, (size_t)nr);
      ln.p50_us = bench_median(n50, (size_t)nr);
      ln.p99_us = bench_median(n99, (size_t)nr);
      printf("medians of %d reps: ", nr);
    }
  } else {
    if (rc == 0)
      rc = measure_plan_delivery(ops, w_ch, plan, plan_len, seconds, &lw,
                                 &err);
    if (rc == 0)
      rc = measure_plan_delivery(ops, syn_ch, plan, plan_len, seconds, &ln,
                                 &err);
  }
  if (rc == 0) {
    printf("plan delivery (coord_open+coord_close, %zu-byte task plan): "
           "real worker p50 %.2f µs, p99 %.2f µs (%zu samples); "
           "null service p50 %.2f µs, p99 %.2f µs "
           "(target for inmem: p50 <= 5 µs)\n",
           plan_len, lw.p50_us, lw.p99_us, lw.samples, ln.p50_us, ln.p99_us);
    bench_json_begin_object(j, "plan_delivery");
    bench_json_int(j, "plan_bytes", (long long)plan_len);
    bench_json_num(j, "worker_p50_us", lw.p50_us);
    bench_json_num(j, "worker_p99_us", lw.p99_us);
    bench_json_int(j, "worker_samples", (long long)lw.samples);
    bench_json_num(j, "null_p50_us", ln.p50_us);
    bench_json_num(j, "null_p99_us", ln.p99_us);
    bench_json_end_object(j);
  }
  if (rc == 0 && ws != NULL && !plan_only) {
    double remote = 0, local = 0;
    uint64_t bytes = 0;
    rc = measure_worker_scan(ops, w_ch, ws, reps, &remote, &local, &bytes,
                             &err);
    if (rc == 0) {
      printf("real worker, lineitem scan at SF %g (int64, decimal, utf8 "
             "columns, %.1f MB, generator included): %.2f GB/s read through "
             "the transport, %.2f GB/s running the same pipeline in this "
             "thread: ratio %.2f\n",
             ws->scale, (double)bytes / 1e6, remote, local, remote / local);
      bench_json_begin_object(j, "worker_scan");
      bench_json_num(j, "scale", ws->scale);
      bench_json_int(j, "bytes", (long long)bytes);
      bench_json_num(j, "gbps", remote);
      bench_json_num(j, "local_gbps", local);
      bench_json_num(j, "ratio", remote / local);
      bench_json_end_object(j);
    }
  }
  if (rc < 0) {
    char buf[1024];
    printf("%s: failed: %s\n", name, dq_error_format(&err, buf, sizeof buf));
    bench_json_str(j, "error", err.message);
  }
  bench_json_end_object(j);

  if (syn_ch != NULL)
    ops->channel_close(syn_ch);
  if (w_ch != NULL)
    ops->channel_close(w_ch);
  if (in_process)
    local_host_stop(ctx, &lh);
  else
    child_host_stop(&ch_host);
  dq_context_free(ctx);
  dq_config_free(cfg);
  return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
  double seconds = 0.2, scan_scale = 0.05;
  int reps = 5;
  const char *json_path = NULL, *tsv_path = NULL, *only = NULL;
  /* A pipe whose reader (a serving child) died must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = bench_opt(argc, argv, &i, "--serve")) != NULL)
      return serve_main(v);
    if (strcmp(argv[i], "--plan-only") == 0)
      plan_only = 1;
    else if ((v = bench_opt(argc, argv, &i, "--seconds")) != NULL)
      seconds = atof(v);
    else if ((v = bench_opt(argc, argv, &i, "--reps")) != NULL)
      reps = atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--json")) != NULL)
      json_path = v;
    else if ((v = bench_opt(argc, argv, &i, "--tsv")) != NULL)
      tsv_path = v;
    else if ((v = bench_opt(argc, argv, &i, "--transports")) != NULL)
      only = v;
    else if ((v = bench_opt(argc, argv, &i, "--scan-scale")) != NULL)
      scan_scale = atof(v);
    else if ((v = bench_opt(argc, argv, &i, "--listen")) != NULL &&
             strchr(v, '=') != NULL && n_listen_overrides < 8) {
      char *kv = strdup(v);
      if (kv == NULL)
        return 1;
      char *eq = strchr(kv, '=');
      *eq = '\0';
      listen_overrides[n_listen_overrides][0] = kv;
      listen_overrides[n_listen_overrides][1] = eq + 1;
      n_listen_overrides++;
    } else {
      fprintf(stderr,
              "usage: %s [--transports a,b] [--seconds S] [--reps N] "
              "[--listen NAME=URL] [--scan-scale SF] [--json FILE] "
              "[--tsv FILE] [--plan-only]\n",
              argv[0]);
      return 2;
    }
  }
  if (reps < 1)
    reps = 1;

  dq_error err;
  if (build_datasets(&err) < 0) {
    fprintf(stderr, "transport_bench: %s\n", err.message);
    return 1;
  }
  bench_json j;
  if (bench_json_open(&j, json_path) < 0)
    return 1;
  FILE *tsv = NULL;
  if (tsv_path != NULL && (tsv = fopen(tsv_path, "w")) == NULL) {
    fprintf(stderr, "cannot write %s: %s\n", tsv_path, strerror(errno));
    return 1;
  }
  bench_json_begin_object(&j, NULL);
  bench_json_str(&j, "program", "transport_bench");
  bench_machine(&j, stdout);

  /* The baselines the ratios divide by, measured now, in this run. */
  baselines bl;
  int breps = reps < 3 ? reps : 3;
  bl.memcpy_1m = bl.tcp_64k = bl.tcp_1m = 1; /* unused by --plan-only */
  if (!plan_only) {
    bl.memcpy_1m = bench_memcpy_gbps(1u << 20, seconds / 2, breps);
    bl.tcp_64k = bench_tcp_gbps(64u << 10, (size_t)(seconds * 2.5e9), breps);
    bl.tcp_1m = bench_tcp_gbps(1u << 20, (size_t)(seconds * 2.5e9), breps);
  }
  printf("baselines (this run): memcpy 1 MiB %.2f GB/s, loopback TCP "
         "%.2f GB/s (64 KiB writes), %.2f GB/s (1 MiB writes)\n",
         bl.memcpy_1m, bl.tcp_64k, bl.tcp_1m);
  printf("throughput: median of %d reps of ~%.2f s; batches are built once "
         "and handed out by the transport (no executor, no generator)\n",
         reps, seconds);
  bench_json_begin_object(&j, "baselines_gbps");
  bench_json_num(&j, "memcpy_1MiB", bl.memcpy_1m);
  bench_json_num(&j, "tcp_64KiB", bl.tcp_64k);
  bench_json_num(&j, "tcp_1MiB", bl.tcp_1m);
  bench_json_end_object(&j);

  /* Which transports: the three of the design, plus anything else found
   * on the search path; those that do not load are skipped with a note. */
  dq_config *cfg = NULL;
  found f;
  memset(&f, 0, sizeof f);
  if (dq_config_parse("", "transport_bench", &cfg, &err) == 0) {
    dq_plugin_list(cfg, on_plugin, &f, &err);
    dq_config_free(cfg);
  }
  const char *want[20];
  size_t n_want = 0;
  static const char *const design[] = {"inmem", "shm", "grpc"};
  for (size_t i = 0; i < 3; i++)
    want[n_want++] = design[i];
  for (size_t i = 0; i < f.n && n_want < 20; i++) {
    int dup = 0;
    for (size_t k = 0; k < n_want; k++)
      dup |= strcmp(want[k], f.names[i]) == 0;
    /* The test fixtures are not transports anyone benchmarks. */
    if (!dup && strncmp(f.names[i], "fx_", 3) != 0)
      want[n_want++] = f.names[i];
  }

  dq_plan *qplan = NULL;
  uint8_t *plan = NULL;
  size_t plan_len = 0;
  if (q6_task_plan(&qplan, &plan, &plan_len, &err) < 0) {
    fprintf(stderr, "transport_bench: building the task plan: %s\n",
            err.message);
    return 1;
  }

  worker_scan ws;
  int have_ws = worker_scan_init(&ws, scan_scale, &err) == 0;
  if (!have_ws)
    printf("real-worker scan: skipped: %s\n", err.message);

  int failed = 0;
  bench_json_begin_array(&j, "transports");
  for (size_t i = 0; i < n_want; i++) {
    if (only != NULL) {
      /* --transports a,b: exact names from a comma list. */
      size_t nl = strlen(want[i]);
      const char *p = only;
      int hit = 0;
      while (*p && !hit) {
        size_t l = strcspn(p, ",");
        hit = l == nl && strncmp(p, want[i], nl) == 0;
        p += l + (p[l] == ',');
      }
      if (!hit)
        continue;
    }
    int found_it = 0, loads = 0;
    for (size_t k = 0; k < f.n; k++)
      if (strcmp(f.names[k], want[i]) == 0) {
        found_it = 1;
        loads = f.loads[k];
        if (!loads) {
          printf("\n%s: skipped: it does not load: %s\n", want[i], f.why[k]);
          bench_json_begin_object(&j, NULL);
          bench_json_str(&j, "transport", want[i]);
          bench_json_str(&j, "skipped", f.why[k]);
          bench_json_end_object(&j);
        }
      }
    if (!found_it) {
      printf("\n%s: skipped: not built (no %s.la or %s.so on the plugin "
             "path)\n",
             want[i], want[i], want[i]);
      bench_json_begin_object(&j, NULL);
      bench_json_str(&j, "transport", want[i]);
      bench_json_str(&j, "skipped", "not built");
      bench_json_end_object(&j);
      continue;
    }
    if (loads)
      failed |= bench_transport(want[i], seconds, reps, &bl, &j, tsv, plan,
                                plan_len, have_ws ? &ws : NULL);
  }
  bench_json_end_array(&j);
  bench_json_end_object(&j);
  bench_json_close(&j);
  if (tsv != NULL)
    fclose(tsv);
  free(plan);
  dq_plan_free(qplan);
  worker_scan_free(&ws);
  free_datasets();
  return failed;
}
