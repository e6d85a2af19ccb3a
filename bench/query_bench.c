/* query_bench.c — end to end: each built-in TPC-H query (dq_tpch_query_names)
 * at a scale, on 1, 2 and 4 workers per transport, against in-process
 * execution of the same work, median of several runs.
 *
 * Three references per query, all measured in this run:
 *   local-1   dq_plan_run_local on the single-node plan: one thread;
 *   local-T   the *distributed* plan run in this process with the same
 *             threads as the distributed run and no runtime at all: every
 *             stage that reads no other stage runs its task_count x
 *             partitions pipelines on as many threads (exactly the
 *             pipelines the workers run), every later stage runs as one
 *             pipeline over all its producers' batches kept in memory.  The
 *             distributed time over local-T is the distribution overhead
 *             (task plans, workers, boundaries, the transport);
 *   scan      the same scans alone, with 1 and with T threads.
 *
 * Tables are materialized first: before a query's timed runs, every table
 * it reads is generated once and kept in memory (dq_tpch_materialize), the
 * time that took is reported apart, and the scans read the kept rows, so
 * the figures are query execution alone, as an in-memory engine's would
 * be.  Every worker of this program runs in this process (for shm and grpc
 * too: the bytes still cross the transport), so all of them see the kept
 * tables.  --generate restores generation inside the scans (the scan
 * column is then data generation, a cost every figure includes).
 *
 *   query_bench [--scale S] [--runs N] [--workers 1,2,4] [--partitions P]
 *               [--queries q1,q6] [--transports inmem,...] [--seed N]
 *               [--generate] [--json FILE] [--tsv FILE]
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>

#include "bench_util.h"
#include "exec/exec.h"
#include "plan/plan_internal.h"
#include "exchange/routing.h"
#include "runtime/task_plan.h"

/* --- in-process execution of a distributed plan -----------------------------*/

typedef struct blist {
  dq_batch **v;
  size_t n, cap;
  int64_t rows;
} blist;

static int blist_push(blist *l, dq_batch *b, dq_error *err) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    dq_batch **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = b;
  l->rows += dq_batch_n_rows(b);
  return 0;
}

static void blist_clear(blist *l) {
  for (size_t i = 0; i < l->n; i++)
    dq_batch_unref(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* A stage's output, as the runtime's producer head leaves it: per producer
 * task, per output partition (after the head: the shuffle's P_c*N_c, a
 * coalesce's own P, one for a broadcast), the batches in order. */
typedef struct stage_out {
  uint32_t n_tasks, n_parts;
  blist *parts; /* [task * n_parts + partition] */
  int64_t rows; /* the head stage: rows of the result */
} stage_out;

typedef struct runner {
  const dq_plan *plan;
  stage_out *out; /* by stage index (id - 1) */
} runner;

typedef struct pipe_arg pipe_arg;

/* What consumer pipeline (task t, partition p) reads of a producer stage:
 * exactly the runtime's routing (libdq/exchange/routing.h). */
typedef struct cursor {
  const stage_out *src;
  dq_routing routing;
  uint32_t t, p, first, count, g0, g1; /* producers, global partitions */
  uint32_t j, g;                       /* position */
  size_t i;
} cursor;

struct pipe_arg {
  runner *r;
  const dq_stage *stage;
  dq_exec_env env;
  uint32_t partition;
  uint32_t n_out;   /* output partitions after the producer head */
  blist *out;       /* n_out lists of this pipeline's output */
  int64_t rows;     /* the head stage: rows out */
  int rc;
  dq_error err;
};

static int r_read_open(void *ctx, uint32_t producer, uint32_t partition,
                       void **reader, dq_error *err) {
  pipe_arg *a = ctx;
  runner *r = a->r;
  if (producer < 1 || producer > dq_plan_n_stages(r->plan))
    return dq_error_set(err, DQ_EINVAL, "no stage %u", producer);
  const dq_stage *ps = dq_plan_stage_by_id(r->plan, producer);
  cursor *c = calloc(1, sizeof *c);
  if (c == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  c->src = &r->out[producer - 1];
  c->routing = (dq_routing){ps->out_kind, c->src->n_tasks, c->src->n_parts,
                            a->env.task_count, a->env.n_partitions};
  c->t = a->env.task_number;
  c->p = partition;
  dq_routing_producers(&c->routing, c->t, &c->first, &c->count);
  dq_routing_range(&c->routing, c->t, &c->g0, &c->g1);
  c->j = c->first;
  c->g = c->g0;
  *reader = c;
  return 0;
}

static int r_read_next(void *ctx, void *reader, dq_batch **out,
                       dq_error *err) {
  (void)ctx;
  (void)err;
  cursor *c = reader;
  for (; c->j < c->first + c->count; c->j++, c->g = c->g0) {
    for (; c->g < c->g1; c->g++, c->i = 0) {
      uint32_t local = dq_routing_local(&c->routing, c->t, c->j, c->g);
      if (local != DQ_ROUTE_ALL && local != c->p)
        continue;
      const blist *l = &c->src->parts[(size_t)c->j * c->src->n_parts + c->g];
      if (c->i < l->n) {
        *out = dq_batch_ref(l->v[c->i++]);
        return 0;
      }
    }
  }
  *out = NULL;
  return 0;
}

static void r_read_close(void *ctx, void *reader) {
  (void)ctx;
  free(reader);
}

/* Routes one output batch through the stage's producer head, as the
 * worker does (libdq/runtime/worker.c). */
static int route(pipe_arg *a, dq_batch *b) {
  const dq_stage *s = a->stage;
  if (s->out_kind == DQ_BOUNDARY_NONE) {
    a->rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
    return 0;
  }
  if (s->out_kind != DQ_BOUNDARY_SHUFFLE) {
    uint32_t dest = s->out_kind == DQ_BOUNDARY_BROADCAST ? 0 : a->partition;
    int rc = blist_push(&a->out[dest], b, &a->err);
    if (rc < 0)
      dq_batch_unref(b);
    return rc;
  }
  dq_batch *parts[4096];
  if (a->n_out > 4096)
    return dq_error_set(&a->err, DQ_EINVAL, "too many partitions");
  int rc = dq_hash_partition(b, s->keys, s->n_keys, a->n_out, parts, &a->err);
  dq_batch_unref(b);
  for (uint32_t i = 0; i < a->n_out; i++) {
    if (parts[i] == NULL)
      continue;
    if (rc == 0)
      rc = blist_push(&a->out[i], parts[i], &a->err);
    else
      dq_batch_unref(parts[i]);
  }
  return rc;
}

static void *pipe_main(void *p) {
  pipe_arg *a = p;
  dq_exec *e;
  a->rc = dq_exec_open(a->stage, &a->env, a->partition, &e, &a->err);
  if (a->rc < 0)
    return NULL;
  for (;;) {
    dq_batch *b;
    a->rc = dq_exec_next(e, &b, &a->err);
    if (a->rc < 0 || b == NULL)
      break;
    if ((a->rc = route(a, b)) < 0)
      break;
  }
  dq_exec_close(e);
  return NULL;
}

/* Output partitions of a stage after its producer head, as the
 * coordinator tells its workers (libdq's own functions). */
static uint32_t head_partitions(const dq_stage *s) {
  dq_producer_head h; /* borrows the stage's keys: not cleared */
  dq_error err;
  if (s->out_kind == DQ_BOUNDARY_NONE ||
      dq_stage_producer_head(s, &h, &err) != 0)
    return s->partitions; /* the head: its own pipelines */
  return dq_head_partitions(&h, s->partitions);
}

/* Runs n_tasks x n_parts pipelines of `stage` (what its task count and
 * partitions say, unless the caller splits it otherwise), each on its own
 * thread (one: the calling thread), and keeps their output routed by the
 * stage's producer head in *out. */
static int run_stage(runner *r, const dq_stage *stage, uint32_t n_tasks,
                     uint32_t n_parts, stage_out *out, dq_error *err) {
  size_t n = (size_t)n_tasks * n_parts;
  out->n_tasks = n_tasks;
  out->n_parts = head_partitions(stage);
  out->parts = calloc((size_t)n_tasks * out->n_parts, sizeof *out->parts);
  pipe_arg *a = calloc(n, sizeof *a);
  pthread_t *th = calloc(n, sizeof *th);
  int rc = 0;
  for (size_t i = 0; a != NULL && i < n; i++)
    if ((a[i].out = calloc(out->n_parts, sizeof *a[i].out)) == NULL)
      rc = -1;
  if (out->parts == NULL || a == NULL || th == NULL || rc < 0) {
    for (size_t i = 0; a != NULL && i < n; i++)
      free(a[i].out);
    free(a);
    free(th);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    a[i].r = r;
    a[i].stage = stage;
    a[i].n_out = out->n_parts;
    a[i].env.task_number = (uint32_t)(i / n_parts);
    a[i].env.task_count = n_tasks;
    a[i].env.n_partitions = n_parts;
    a[i].env.batch_rows = DQ_EXEC_DEFAULT_BATCH_ROWS;
    a[i].env.reader_ctx = &a[i];
    a[i].env.read_open = r_read_open;
    a[i].env.read_next = r_read_next;
    a[i].env.read_close = r_read_close;
    a[i].partition = (uint32_t)(i % n_parts);
  }
  if (n == 1) {
    pipe_main(&a[0]);
  } else {
    for (size_t i = 0; i < n; i++)
      if (pthread_create(&th[i], NULL, pipe_main, &a[i]) != 0) {
        a[i].rc = dq_error_set(&a[i].err, DQ_EIO, "pthread_create failed");
        th[i] = 0;
      }
    for (size_t i = 0; i < n; i++)
      if (th[i] != 0)
        pthread_join(th[i], NULL);
  }
  /* The task's pipelines in order, as the worker appends them. */
  for (size_t i = 0; i < n; i++) {
    if (rc == 0 && a[i].rc < 0) {
      rc = a[i].rc;
      *err = a[i].err;
    }
    out->rows += a[i].rows;
    for (uint32_t d = 0; d < out->n_parts; d++) {
      blist *to = &out->parts[(size_t)a[i].env.task_number * out->n_parts + d];
      for (size_t k = 0; k < a[i].out[d].n && rc == 0; k++) {
        rc = blist_push(to, a[i].out[d].v[k], err);
        if (rc == 0)
          a[i].out[d].v[k] = NULL;
      }
      blist_clear(&a[i].out[d]);
    }
    free(a[i].out);
  }
  free(a);
  free(th);
  return rc;
}

static void stage_out_clear(stage_out *o) {
  for (size_t i = 0; o->parts != NULL && i < (size_t)o->n_tasks * o->n_parts;
       i++)
    blist_clear(&o->parts[i]);
  free(o->parts);
  memset(o, 0, sizeof *o);
}

/* The distributed plan in this process (see the top of this file).  Rows
 * of the result in *rows. */
static int run_threaded(const dq_plan *plan, int64_t *rows, dq_error *err) {
  size_t n = dq_plan_n_stages(plan);
  runner r = {plan, calloc(n, sizeof(stage_out))};
  if (r.out == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const dq_stage *s = dq_plan_stage_by_id(plan, (uint32_t)i + 1);
    rc = run_stage(&r, s, s->task_count, s->partitions, &r.out[i], err);
    /* Inputs are read once: free them as soon as their reader is done. */
    uint32_t ids[16];
    int n_in = dq_stage_inputs(s, ids, 16);
    for (int k = 0; k < n_in && k < 16; k++)
      stage_out_clear(&r.out[ids[k] - 1]);
  }
  *rows = rc == 0 ? r.out[n - 1].rows : 0;
  for (size_t i = 0; i < n; i++)
    stage_out_clear(&r.out[i]);
  free(r.out);
  return rc;
}

/* --- scans alone --------------------------------------------------------------*/

typedef struct scan_list {
  const dq_node *v[16];
  size_t n;
} scan_list;

static void find_scans(const dq_node *n, scan_list *l) {
  if (n == NULL)
    return;
  if (n->kind == DQ_NODE_SCAN && strcmp(n->source->name, "tpch") == 0 &&
      l->n < 16)
    l->v[l->n++] = n;
  for (size_t i = 0; i < dq_node_n_inputs(n); i++)
    find_scans(dq_node_input_at(n, i), l);
}

/* Each scan of the single-node plan as a plan of its own. */
static int scan_plans(const dq_plan *single, dq_plan **plans, size_t *n,
                      char *tables, size_t tables_len, dq_error *err) {
  scan_list l = {{NULL}, 0};
  find_scans(dq_plan_head(single)->root, &l);
  tables[0] = '\0';
  *n = 0;
  for (size_t i = 0; i < l.n; i++) {
    const dq_node *s = l.v[i];
    dq_plan_builder *b;
    int rc = dq_plan_builder_new(&b, err);
    if (rc < 0)
      return rc;
    /* Nodes are immutable and shared: the scan itself is the stage. */
    dq_plan_stage(b, (dq_node *)s, 1, 1, NULL);
    rc = dq_plan_builder_finish(b, &plans[*n], err);
    dq_plan_builder_free(b);
    if (rc < 0)
      return rc;
    (*n)++;
    size_t used = strlen(tables);
    char what[128];
    s->source->describe(s->source_state, what, sizeof what);
    snprintf(tables + used, tables_len - used, "%s%s(%zu cols)",
             used ? " + " : "", what, s->n_columns);
  }
  return 0;
}

/* Every scan with n_tasks x n_parts pipelines on as many threads, output
 * dropped as it comes. */
static int run_scans(dq_plan **plans, size_t n, uint32_t n_tasks,
                     uint32_t n_parts, int64_t *rows, dq_error *err) {
  *rows = 0;
  for (size_t i = 0; i < n; i++) {
    stage_out out;
    memset(&out, 0, sizeof out);
    runner r = {plans[i], &out};
    /* The stage is declared 1x1; the slices come from the env, so T
     * pipelines split the table exactly as T workers' tasks would. */
    int rc = run_stage(&r, dq_plan_head(plans[i]), n_tasks * n_parts, 1,
                       &out, err);
    *rows += out.rows;
    stage_out_clear(&out);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* --- distributed runs -----------------------------------------------------------*/

static int count_rows(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  *(int64_t *)ctx += dq_batch_n_rows(b);
  return 0;
}

static int run_distributed(dq_context *ctx, const dq_plan *plan,
                           const char *const *urls, size_t n_workers,
                           int64_t *rows, dq_error *err) {
  dq_query *q;
  *rows = 0;
  int rc = dq_query_start(ctx, plan, urls, n_workers, &q, err);
  if (rc < 0)
    return rc;
  for (;;) {
    dq_batch *b;
    rc = dq_query_next(q, &b, err);
    if (rc < 0 || b == NULL)
      break;
    *rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
  }
  dq_query_close(q);
  return rc;
}

/* --- main -----------------------------------------------------------------------*/

typedef struct opts {
  double scale;
  int runs;
  uint32_t workers[8];
  size_t n_workers;
  uint32_t partitions;
  uint64_t seed;
  const char *queries, *transports;
  int generate; /* 1: scans generate as they go instead of reading kept tables */
} opts;

static int in_list(const char *list, const char *name) {
  if (list == NULL)
    return 1;
  size_t nl = strlen(name);
  for (const char *p = list; *p;) {
    size_t l = strcspn(p, ",");
    if (l == nl && strncmp(p, name, nl) == 0)
      return 1;
    p += l + (p[l] == ',');
  }
  return 0;
}

#define MAX_RUNS 32

/* Times fn `runs` times; median seconds, or a negative code. */
#define TIME_RUNS(med, runs, rows_var, call)                                  \
  do {                                                                        \
    double v_[MAX_RUNS];                                                      \
    int rc_ = 0;                                                              \
    for (int k_ = 0; k_ < (runs) && rc_ == 0; k_++) {                         \
      double t0_ = bench_now();                                               \
      rc_ = (call);                                                           \
      v_[k_] = bench_now() - t0_;                                             \
    }                                                                         \
    (med) = rc_ < 0 ? (double)rc_ : bench_median(v_, (size_t)(runs));         \
  } while (0)

typedef struct transport_ctx {
  char name[64];
  dq_config *cfg;
  dq_context *ctx;
} transport_ctx;

static int open_transport(const char *name, transport_ctx *t, dq_error *err) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  int rc = dq_config_parse("", "query_bench", &t->cfg, err);
  if (rc == 0)
    rc = dq_config_set_transport(t->cfg, name, err);
  if (rc == 0)
    rc = dq_context_new(t->cfg, &t->ctx, err);
  if (rc < 0) {
    dq_config_free(t->cfg);
    t->cfg = NULL;
  }
  return rc;
}

/* Listen URLs tried in order: what the network transports accept (an
 * ephemeral loopback port), then the bare scheme (a transport that picks
 * its own address, as shm does); inmem takes only the latter. */
static int start_workers(transport_ctx *t, uint32_t n, dq_worker **w,
                         const char **urls, dq_error *err) {
  char listen[2][768];
  size_t n_listen = 0;
  if (strcmp(t->name, "inmem") != 0)
    snprintf(listen[n_listen++], sizeof listen[0], "%s://127.0.0.1:0",
             t->name);
  snprintf(listen[n_listen++], sizeof listen[0], "%s://", t->name);
  int rc = DQ_EINVAL;
  for (size_t c = 0; c < n_listen; c++) {
    uint32_t i;
    for (i = 0; i < n; i++) {
      rc = dq_worker_start(t->ctx, listen[c], &w[i], err);
      if (rc < 0)
        break;
      urls[i] = dq_worker_url(w[i]);
    }
    if (rc == 0)
      return 0;
    while (i-- > 0)
      dq_worker_stop(w[i]);
  }
  return rc;
}

static int bench_query(const char *qname, const opts *o, transport_ctx *tr,
                       size_t n_tr, bench_json *j, FILE *tsv) {
  dq_error err;
  dq_plan *single = NULL, *scans[16];
  size_t n_scans = 0;
  char tables[256];
  int rc = dq_tpch_query_plan(qname, o->scale, o->seed, 0, 0, &single, &err);
  if (rc == 0)
    rc = scan_plans(single, scans, &n_scans, tables, sizeof tables, &err);
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", qname, err.message);
    dq_plan_free(single);
    return 1;
  }
  /* Generation, once and apart: what the timed runs no longer include. */
  double t_gen = 0;
  size_t kept_bytes = 0;
  if (rc == 0 && !o->generate) {
    double t0 = bench_now();
    rc = dq_tpch_materialize_plan(single, &kept_bytes, &err);
    t_gen = bench_now() - t0;
    if (rc < 0) {
      fprintf(stderr, "%s: materializing its tables: %s\n", qname,
              err.message);
      for (size_t i = 0; i < n_scans; i++)
        dq_plan_free(scans[i]);
      dq_plan_free(single);
      return 1;
    }
  }
  int64_t rows_local = 0, rows_scan = 0;
  double t_local1, t_scan1;
  TIME_RUNS(t_local1, o->runs, rows_local,
            (rows_local = 0,
             dq_plan_run_local(single, count_rows, &rows_local, &err)));
  TIME_RUNS(t_scan1, o->runs, rows_scan,
            run_scans(scans, n_scans, 1, 1, &rows_scan, &err));
  if (t_local1 < 0 || t_scan1 < 0) {
    fprintf(stderr, "%s: local run failed: %s\n", qname, err.message);
    rc = -1;
  }
  printf("\n### %s at SF %g: scans %s, %lld rows\n\n", qname, o->scale,
         tables, (long long)rows_scan);
  if (!o->generate)
    printf("Tables materialized before timing: %.3f s to generate what was "
           "not yet kept (%.1f MB kept in all).\n\n",
           t_gen, (double)kept_bytes / 1e6);
  printf("| run | threads | median s | of which scan (%s) s | "
         "ratio to local-T | ratio to local-1 |\n"
         "|---|---:|---:|---:|---:|---:|\n",
         o->generate ? "generation" : "reading kept tables");
  if (rc == 0)
    printf("| local-1 (dq_plan_run_local) | 1 | %.3f | %.3f | | 1.00 |\n",
           t_local1, t_scan1);
  bench_json_begin_object(j, NULL);
  bench_json_str(j, "query", qname);
  bench_json_num(j, "scale", o->scale);
  bench_json_str(j, "scans", tables);
  bench_json_int(j, "rows_scanned", rows_scan);
  bench_json_int(j, "materialized", !o->generate);
  bench_json_num(j, "generate_s", t_gen);
  bench_json_int(j, "kept_bytes", (int64_t)kept_bytes);
  bench_json_num(j, "local1_s", t_local1);
  bench_json_num(j, "scan1_s", t_scan1);
  bench_json_begin_array(j, "runs");
  for (size_t wi = 0; rc == 0 && wi < o->n_workers; wi++) {
    uint32_t W = o->workers[wi], T = W * o->partitions;
    dq_plan *dist = NULL;
    rc = dq_tpch_query_plan(qname, o->scale, o->seed, W, o->partitions, &dist,
                            &err);
    if (rc < 0) {
      fprintf(stderr, "%s: %s\n", qname, err.message);
      break;
    }
    /* Every transport's workers first, then the runs interleaved (local,
     * scan, each transport; again): on a busy machine a load change then
     * hits every configuration alike instead of one of them. */
    dq_worker *w[8][64];
    const char *urls[8][64];
    int started[8];
    dq_error terr[8];
    double v_local[MAX_RUNS], v_scan[MAX_RUNS], v_dist[8][MAX_RUNS];
    int64_t rows_t = 0, rows_st = 0, rows_d[8];
    for (size_t ti = 0; ti < n_tr; ti++) {
      rows_d[ti] = 0;
      started[ti] = W <= 64 && start_workers(&tr[ti], W, w[ti], urls[ti],
                                             &terr[ti]) == 0;
      if (W > 64)
        dq_error_set(&terr[ti], DQ_EINVAL, "at most 64 workers");
    }
    for (int k = 0; rc == 0 && k < o->runs; k++) {
      double t0 = bench_now();
      rc = run_threaded(dist, &rows_t, &err);
      v_local[k] = bench_now() - t0;
      t0 = bench_now();
      if (rc == 0)
        rc = run_scans(scans, n_scans, W, o->partitions, &rows_st, &err);
      v_scan[k] = bench_now() - t0;
      for (size_t ti = 0; rc == 0 && ti < n_tr; ti++) {
        if (!started[ti])
          continue;
        t0 = bench_now();
        int trc = run_distributed(tr[ti].ctx, dist, urls[ti], W, &rows_d[ti],
                                  &terr[ti]);
        v_dist[ti][k] = bench_now() - t0;
        if (trc < 0) { /* this transport is out; the others go on */
          for (uint32_t i = 0; i < W; i++)
            dq_worker_stop(w[ti][i]);
          started[ti] = 0;
        }
      }
    }
    if (rc < 0) {
      fprintf(stderr, "%s: local run on %u threads failed: %s\n", qname, T,
              err.message);
      for (size_t ti = 0; ti < n_tr; ti++)
        if (started[ti])
          for (uint32_t i = 0; i < W; i++)
            dq_worker_stop(w[ti][i]);
      dq_plan_free(dist);
      break;
    }
    double t_localT = bench_median(v_local, (size_t)o->runs);
    double t_scanT = bench_median(v_scan, (size_t)o->runs);
    if (rows_t != rows_local)
      printf("(warning: local-%u gave %lld rows, local-1 %lld)\n", T,
             (long long)rows_t, (long long)rows_local);
    printf("| local-%u (same pipelines, no runtime) | %u | %.3f | %.3f | 1.00 "
           "| %.2f |\n",
           T, T, t_localT, t_scanT, t_localT / t_local1);
    bench_json_begin_object(j, NULL);
    bench_json_str(j, "run", "local");
    bench_json_int(j, "workers", W);
    bench_json_int(j, "threads", T);
    bench_json_num(j, "median_s", t_localT);
    bench_json_num(j, "scan_s", t_scanT);
    bench_json_end_object(j);
    for (size_t ti = 0; ti < n_tr; ti++) {
      if (!started[ti]) {
        char buf[1024];
        printf("| %s, %u workers | %u | failed: %s | | | |\n", tr[ti].name, W,
               T, dq_error_format(&terr[ti], buf, sizeof buf));
        bench_json_begin_object(j, NULL);
        bench_json_str(j, "run", tr[ti].name);
        bench_json_int(j, "workers", W);
        bench_json_str(j, "error", terr[ti].message);
        bench_json_end_object(j);
        continue;
      }
      for (uint32_t i = 0; i < W; i++)
        dq_worker_stop(w[ti][i]);
      double t_dist = bench_median(v_dist[ti], (size_t)o->runs);
      if (rows_d[ti] != rows_local)
        printf("(warning: %s on %u workers gave %lld rows, local-1 %lld)\n",
               tr[ti].name, W, (long long)rows_d[ti], (long long)rows_local);
      printf("| %s, %u worker%s | %u | %.3f | (%.3f) | **%.2f** | %.2f |\n",
             tr[ti].name, W, W > 1 ? "s" : "", T, t_dist, t_scanT,
             t_dist / t_localT, t_dist / t_local1);
      if (strcmp(qname, "q1") == 0 && W == 2 &&
          strcmp(tr[ti].name, "inmem") == 0)
        printf("| (target: q1 at SF 1 on 2 inmem workers <= 1.15 x local-2; "
               "measured here at SF %g: %.2f) | | | | | |\n",
               o->scale, t_dist / t_localT);
      bench_json_begin_object(j, NULL);
      bench_json_str(j, "run", tr[ti].name);
      bench_json_int(j, "workers", W);
      bench_json_int(j, "threads", T);
      bench_json_num(j, "median_s", t_dist);
      bench_json_num(j, "ratio_to_local_same_threads", t_dist / t_localT);
      bench_json_num(j, "ratio_to_local1", t_dist / t_local1);
      bench_json_end_object(j);
      if (tsv != NULL)
        fprintf(tsv, "%s\t%s\t%u\t%g\t%g\t%g\n", qname, tr[ti].name, W, t_dist,
                t_dist / t_localT, t_dist / t_local1);
    }
    dq_plan_free(dist);
  }
  bench_json_end_array(j);
  bench_json_end_object(j);
  for (size_t i = 0; i < n_scans; i++)
    dq_plan_free(scans[i]);
  dq_plan_free(single);
  return rc < 0;
}

int main(int argc, char **argv) {
  opts o = {1.0, 3, {1, 2, 4}, 3, 1, 42, NULL, NULL, 0};
  const char *json_path = NULL, *tsv_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = bench_opt(argc, argv, &i, "--scale")) != NULL)
      o.scale = atof(v);
    else if ((v = bench_opt(argc, argv, &i, "--runs")) != NULL)
      o.runs = atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--partitions")) != NULL)
      o.partitions = (uint32_t)atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--seed")) != NULL)
      o.seed = strtoull(v, NULL, 10);
    else if ((v = bench_opt(argc, argv, &i, "--queries")) != NULL)
      o.queries = v;
    else if ((v = bench_opt(argc, argv, &i, "--transports")) != NULL)
      o.transports = v;
    else if ((v = bench_opt(argc, argv, &i, "--json")) != NULL)
      json_path = v;
    else if ((v = bench_opt(argc, argv, &i, "--tsv")) != NULL)
      tsv_path = v;
    else if (strcmp(argv[i], "--generate") == 0)
      o.generate = 1;
    else if ((v = bench_opt(argc, argv, &i, "--workers")) != NULL) {
      o.n_workers = 0;
      for (const char *p = v; *p && o.n_workers < 8;) {
        int w = atoi(p);
        if (w >= 1 && w <= 64)
          o.workers[o.n_workers++] = (uint32_t)w;
        p += strcspn(p, ",");
        p += *p == ',';
      }
    } else {
      fprintf(stderr,
              "usage: %s [--scale S] [--runs N] [--workers 1,2,4] "
              "[--partitions P] [--queries q1,q6] [--transports a,b] "
              "[--seed N] [--generate] [--json FILE] [--tsv FILE]\n",
              argv[0]);
      return 2;
    }
  }
  if (o.runs < 1)
    o.runs = 1;
  if (o.runs > MAX_RUNS)
    o.runs = MAX_RUNS;
  if (o.partitions < 1)
    o.partitions = 1;
  if (o.scale <= 0 || o.n_workers == 0) {
    fprintf(stderr, "query_bench: --scale must be > 0 and --workers name at "
                    "least one count from 1 to 64\n");
    return 2;
  }

  /* Transports: the three of the design that load here (or the ones
   * named), each with a note when skipped. */
  transport_ctx tr[8];
  size_t n_tr = 0;
  static const char *const design[] = {"inmem", "shm", "grpc"};
  dq_error err;
  bench_json j;
  if (bench_json_open(&j, json_path) < 0)
    return 1;
  FILE *tsv = NULL;
  if (tsv_path != NULL && (tsv = fopen(tsv_path, "w")) == NULL) {
    fprintf(stderr, "cannot write %s: %s\n", tsv_path, strerror(errno));
    return 1;
  }
  bench_json_begin_object(&j, NULL);
  bench_json_str(&j, "program", "query_bench");
  bench_machine(&j, stdout);
  bench_json_num(&j, "scale", o.scale);
  bench_json_int(&j, "runs", o.runs);
  bench_json_int(&j, "partitions", o.partitions);
  bench_json_begin_array(&j, "skipped");
  for (size_t i = 0; i < 3; i++) {
    if (!in_list(o.transports, design[i]))
      continue;
    if (open_transport(design[i], &tr[n_tr], &err) < 0) {
      printf("%s: skipped: %s\n", design[i], err.message);
      bench_json_begin_object(&j, NULL);
      bench_json_str(&j, "transport", design[i]);
      bench_json_str(&j, "why", err.message);
      bench_json_end_object(&j);
      continue;
    }
    n_tr++;
  }
  bench_json_end_array(&j);
  if (o.generate)
    printf("median of %d runs per figure; %u partition(s) per task; the "
           "TPC-H generator runs inside every scan (--generate), so every "
           "time below includes data generation: the scan column shows how "
           "much\n", o.runs, o.partitions);
  else
    printf("median of %d runs per figure; %u partition(s) per task; each "
           "query's tables are generated once and kept in memory before its "
           "timed runs, so the times are query execution alone\n",
           o.runs, o.partitions);
  bench_json_int(&j, "materialized", !o.generate);

  int failed = 0;
  bench_json_begin_array(&j, "queries");
  for (const char *const *q = dq_tpch_query_names(); *q != NULL; q++)
    if (in_list(o.queries, *q))
      failed |= bench_query(*q, &o, tr, n_tr, &j, tsv);
  bench_json_end_array(&j);
  bench_json_end_object(&j);
  bench_json_close(&j);
  dq_tpch_release(NULL, 0, 0);
  if (tsv != NULL)
    fclose(tsv);
  for (size_t i = 0; i < n_tr; i++) {
    dq_context_free(tr[i].ctx);
    dq_config_free(tr[i].cfg);
  }
  return failed;
}
