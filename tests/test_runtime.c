/* test_runtime.c — the distributed runtime end to end, over the transport
 * named by $DQ_TEST_TRANSPORT (default inmem), so every transport runs the
 * same suite: each boundary kind against the single-process answer, early
 * drop (LIMIT) cleanup, error propagation with worker URL and task key,
 * hygiene over 100 queries, partition poll orders, per-stream cancel, the
 * bounded wait for a late plan, and the idle TTL.
 *
 * With DQ_TEST_WORKERS=process the workers are `dq worker` processes
 * ($abs_top_builddir/tools/dq, started by tools/worker_procs.c) instead of
 * objects of this process, so the same suite checks the real deployment
 * shape.  A process cannot be looked inside: task counts then come from
 * the worker itself (it answers SIGUSR1 with `tasks N`), which covers the
 * task table but not task objects still finishing (dq_worker_live_tasks);
 * each worker must also exit 0 on SIGTERM when its cluster stops. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>
#include <dq/transport.h>

#include "runtime/boundary_reader.h"
#include "base/clock.h"
#include "host/context.h"
#include "exec/exec.h"
#include "harness.h"
#include "runtime/task_plan.h"

#define MAX_WORKERS 4

/* Every worker process must stop cleanly on SIGTERM: exit 0 in time. */
static void cluster_stop(dqt_cluster *c) {
  assert_int_equal(dqt_cluster_stop(c, "test_runtime"), 0);
}

/* The standard boundary plans (tests/harness/plans.h); the shuffle's
 * consumer stage has 3 partitions. */
static dq_plan *shuffle_plan(double scale, uint32_t n, int local) {
  return dqt_shuffle_plan(scale, n, 3, local);
}

/* --- boundary kinds against the single-process answer ----------------------*/

static void test_shuffle_equals_local(void **state) {
  (void)state;
  dq_plan *lp = shuffle_plan(0.01, 1, 1);
  result_text want = {0};
  dqt_run_local(lp, &want);
  assert_int_equal(want.n, 1);
  for (size_t w = 1; w <= MAX_WORKERS; w++) {
    dqt_cluster c;
    dqt_cluster_up(&c, w, DQT_WORKERS_FROM_ENV, NULL);
    dq_plan *p = shuffle_plan(0.01, (uint32_t)w, 0);
    dqt_expect_rows(&c, w, p, &want, "shuffle");
    dq_plan_free(p);
    assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
    cluster_stop(&c);
  }
  result_text_free(&want);
  dq_plan_free(lp);
}

static void test_coalesce_equals_local(void **state) {
  (void)state;
  dq_plan *lp = dqt_coalesce_plan(0.01, 1, 1, 1);
  result_text want = {0};
  dqt_run_local(lp, &want);
  dqt_cluster c;
  dqt_cluster_up(&c, 3, DQT_WORKERS_FROM_ENV, NULL);
  /* Groups of N_p over N_c, including consumers with nothing to read. */
  static const uint32_t shapes[][2] = {{1, 1}, {3, 1}, {5, 3}, {2, 4}, {4, 2}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    dq_plan *p = dqt_coalesce_plan(0.01, shapes[i][0], shapes[i][1], 0);
    char what[64];
    snprintf(what, sizeof what, "coalesce %u->%u", shapes[i][0],
             shapes[i][1]);
    dqt_expect_rows(&c, 3, p, &want, what);
    dq_plan_free(p);
  }
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  cluster_stop(&c);
  result_text_free(&want);
  dq_plan_free(lp);
}

static void test_broadcast(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 2, DQT_WORKERS_FROM_ENV, NULL);
  for (uint32_t n = 1; n <= 3; n++) {
    dq_plan *p = dqt_broadcast_plan(n);
    result_text got = {0};
    dq_error err;
    if (dqt_run_cluster(&c, 2, p, &got, &err) < 0)
      fail_msg("%s", err.message);
    /* 25 nations, each seen by all n tasks x 2 partitions; keys 0..24. */
    char want[64];
    snprintf(want, sizeof want, "%u|%u", 25 * n * 2, 300 * n * 2);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.rows[0], want);
    result_text_free(&got);
    dq_plan_free(p);
  }
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  cluster_stop(&c);
}

/* TPC-H Q1 and Q6 on 1 to 4 workers give exactly the single-process
 * answer (Q1 orders its rows; Q6 has one). */
static void test_tpch_equals_local(void **state) {
  (void)state;
  static const char *queries[] = {"q1", "q6"};
  for (size_t qi = 0; qi < 2; qi++) {
    dq_plan *lp;
    dq_error err;
    if (dq_tpch_query_plan(queries[qi], 0.02, 11, 0, 0, &lp, &err) < 0)
      fail_msg("%s: %s", queries[qi], err.message);
    result_text want = {0};
    dqt_run_local(lp, &want);
    assert_true(want.n >= 1);
    for (size_t w = 1; w <= MAX_WORKERS; w++) {
      dqt_cluster c;
      dqt_cluster_up(&c, w, DQT_WORKERS_FROM_ENV, NULL);
      dq_plan *p;
      assert_int_equal(
          dq_tpch_query_plan(queries[qi], 0.02, 11, (uint32_t)w, 0, &p, &err),
          0);
      dqt_expect_rows(&c, w, p, &want, queries[qi]);
      dq_plan_free(p);
      assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
      cluster_stop(&c);
    }
    result_text_free(&want);
    dq_plan_free(lp);
  }
}

/* --- early drop, errors, hygiene -------------------------------------------*/

static void test_limit_early_drop(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 4, DQT_WORKERS_FROM_ENV, NULL);
  /* SF 5 lineitem would take many seconds to generate: only cancellation
   * can free the tasks within the second the check allows. */
  dq_plan *p = dqt_limit_plan(5, 4, 10);
  dq_query *q;
  dq_error err;
  assert_int_equal(dq_query_start(c.ctx, p, c.urls, 4, &q, &err), 0);
  int64_t rows = 0;
  for (;;) {
    dq_batch *b;
    assert_int_equal(dq_query_next(q, &b, &err), 0);
    if (b == NULL)
      break;
    rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
  }
  assert_int_equal(rows, 10);
  long before = 0;
  for (size_t i = 0; i < c.n; i++)
    before += dqt_cluster_task_count(&c, i);
  assert_int_equal(before, 4); /* still there until the query closes */
  dq_query_close(q);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);

  /* Dropped after one batch, before the LIMIT is reached. */
  assert_int_equal(dq_query_start(c.ctx, p, c.urls, 4, &q, &err), 0);
  dq_batch *b;
  assert_int_equal(dq_query_next(q, &b, &err), 0);
  assert_non_null(b);
  dq_batch_unref(b);
  dq_query_close(q);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);

  /* Cancelled from another thread while the head waits: DQ_ECANCELED. */
  dq_plan *big = dqt_limit_plan(5, 4, 1000000000);
  assert_int_equal(dq_query_start(c.ctx, big, c.urls, 4, &q, &err), 0);
  assert_int_equal(dq_query_next(q, &b, &err), 0);
  dq_batch_unref(b);
  dq_query_cancel(q);
  int rc;
  while ((rc = dq_query_next(q, &b, &err)) == 0 && b != NULL)
    dq_batch_unref(b);
  assert_int_equal(rc, DQ_ECANCELED);
  dq_query_close(q);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  dq_plan_free(big);
  dq_plan_free(p);
  cluster_stop(&c);
}

/* l_orderkey * 10^18 overflows int64 on stage 1's workers. */
static void test_error_propagation(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 2, DQT_WORKERS_FROM_ENV, NULL);
  dq_error err;
  dq_plan *p = dqt_overflow_plan(0.01, 2);
  result_text got = {0};
  dq_error_clear(&err);
  int rc = dqt_run_cluster(&c, 2, p, &got, &err);
  assert_true(rc < 0);
  assert_int_equal(err.code, rc);
  /* The failing worker and task are named, not just "stream failed". */
  assert_true(strcmp(err.worker_url, c.urls[0]) == 0 ||
              strcmp(err.worker_url, c.urls[1]) == 0);
  assert_true(err.has_task);
  assert_int_equal(err.task.stage_id, 1);
  assert_true(err.task.task_number < 2);
  char buf[1024];
  dq_error_format(&err, buf, sizeof buf);
  assert_non_null(strstr(buf, err.worker_url));
  assert_non_null(strstr(buf, "/1/"));
  result_text_free(&got);
  dq_plan_free(p);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  cluster_stop(&c);
}

static void test_hygiene(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 3, DQT_WORKERS_FROM_ENV, NULL);
  dq_plan *p = dqt_coalesce_plan(0.001, 3, 2, 0);
  dq_plan *lim = dqt_limit_plan(0.05, 3, 1);
  result_text warm = {0};
  dq_error err;
  assert_int_equal(dqt_run_cluster(&c, 3, p, &warm, &err), 0);
  /* A few more of both kinds first: libraries under the transport (gRPC's
   * timer pool) grow to their working size on the first queries, and that
   * is not a leak of the 100 counted below. */
  for (int i = 0; i < 6; i++) {
    result_text w = {0};
    assert_int_equal(dqt_run_cluster(&c, 3, i % 2 ? lim : p, &w, &err), 0);
    result_text_free(&w);
  }
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  /* The warm-up's detached pipeline threads may still be exiting after
   * their task is gone; counting one of them in the baseline would make the
   * check below fail on a loaded machine.  Settle first: the same count
   * for 200 ms (at most 5 s).  gRPC's timer threads are counted apart
   * (tests/harness/usage.h): its pool keeps a thread it started while
   * timers fired at once until grpc_shutdown, a high-water mark that
   * AddressSanitizer's slowness makes likelier, not a leak; it may grow by
   * two, as the soak allows. */
  long threads, fds;
  dqt_self_settle(1, &threads, &fds);
  long timers = dqt_threads_named(0, DQT_GRPC_TIMER_PREFIX);
  for (int i = 0; i < 100; i++) {
    result_text got = {0};
    /* Alternate complete queries and early drops. */
    if (dqt_run_cluster(&c, 3, i % 2 ? lim : p, &got, &err) < 0)
      fail_msg("query %d: %s", i, err.message);
    if (i % 2 == 0)
      assert_true(result_text_equal(&warm, &got));
    result_text_free(&got);
  }
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 2000), 0);
  /* Pipeline threads are detached: a thread that has let go of its task
   * may still be exiting, slowly on a loaded machine.  Leaked threads stay;
   * exiting ones go within the 5 s allowed here. */
  long t_after, f_after;
  dqt_self_wait_down(1, threads, fds, 5000, &t_after, &f_after);
  /* No growth: a count below the baseline is something transient at the
   * baseline (seen under load), never a leak of these queries. */
  if (t_after > threads || f_after > fds)
    fail_msg("after 100 queries: %ld threads (was %ld), %ld fds (was %ld)",
             t_after, threads, f_after, fds);
  long timers_after = dqt_threads_named(0, DQT_GRPC_TIMER_PREFIX);
  if (timers_after > timers + 2)
    fail_msg("after 100 queries: %ld gRPC timer threads (was %ld)",
             timers_after, timers);
  result_text_free(&warm);
  dq_plan_free(p);
  dq_plan_free(lim);
  cluster_stop(&c);
}

/* --- below the query: tasks, streams and readers by hand --------------------*/

/* Delivers every task of stage 1 of p (which reads nothing) to the cluster,
 * task i to worker i mod n.  Returns the coordinator handles. */
static dq_coord **deliver_stage1(dqt_cluster *c, const dq_plan *p,
                                 const uint8_t qid[16]) {
  const dq_stage *s = dq_plan_stage_by_id(p, 1);
  const dq_transport_ops *ops = dq_context_ops(c->ctx);
  uint8_t *bytes;
  size_t len;
  dq_error err;
  assert_int_equal(dq_task_plan_encode(s, NULL, 0, &bytes, &len, &err), 0);
  uint32_t n = dq_stage_task_count(s);
  dq_coord **coords = calloc(n, sizeof *coords);
  for (uint32_t t = 0; t < n; t++) {
    dq_channel *ch;
    assert_int_equal(
        ops->channel_open(dq_context_transport(c->ctx), c->urls[t % c->n], &ch,
                          &err),
        0);
    dq_set_plan sp = {0};
    memcpy(sp.key.query_id, qid, 16);
    sp.key.stage_id = 1;
    sp.key.task_number = t;
    sp.task_count = n;
    sp.plan = bytes;
    sp.plan_len = len;
    sp.target_worker_url = c->urls[t % c->n];
    if (ops->coord_open(ch, &sp, &coords[t], &err) < 0)
      fail_msg("coord_open: %s", err.message);
    ops->channel_close(ch); /* the coord handle outlives its channel */
  }
  free(bytes);
  return coords;
}

static void close_coords(dqt_cluster *c, dq_coord **coords, uint32_t n) {
  for (uint32_t t = 0; t < n; t++)
    dq_context_ops(c->ctx)->coord_close(coords[t]);
  free(coords);
}

typedef struct open_ctx {
  dqt_cluster *c;
  dq_channel *ch[MAX_WORKERS];
} open_ctx;

static int open_by_url(void *ctx, const char *url, const dq_execute_task *req,
                       dq_source *out, dq_error *err) {
  open_ctx *oc = ctx;
  for (size_t i = 0; i < oc->c->n; i++)
    if (strcmp(url, oc->c->urls[i]) == 0)
      return dq_source_open_transport(dq_context_ops(oc->c->ctx), oc->ch[i],
                                      req, out, err);
  return DQ_EINVAL;
}

/* Reads stage 1's shuffle output as consumer 0 of 1 with 4 partitions, in
 * the given order, and checks each row's partition. */
static int64_t read_shuffle(dqt_cluster *c, const dq_plan *p, const uint8_t *qid,
                            int order) {
  const dq_stage *s1 = dq_plan_stage_by_id(p, 1);
  dq_error err;
  dq_producer_head h;
  assert_int_equal(dq_stage_producer_head(s1, &h, &err), 0);
  dq_input_boundary in = {0};
  assert_int_equal(dq_producer_head_encode(&h, &in.head_bytes, &in.head_len,
                                           &err), 0);
  assert_int_equal(dq_producer_head_decode(in.head_bytes, in.head_len,
                                           &in.head, &err), 0);
  assert_int_equal(in.head.partition_count, 4);
  in.producer_stage_id = 1;
  in.producer_task_count = dq_stage_task_count(s1);
  in.producer_partitions = dq_stage_partitions(s1);
  in.urls = calloc(in.producer_task_count, sizeof *in.urls);
  for (uint32_t t = 0; t < in.producer_task_count; t++)
    in.urls[t] = strdup(c->urls[t % c->n]);
  open_ctx oc = {.c = c};
  for (size_t i = 0; i < c->n; i++)
    assert_int_equal(dq_context_ops(c->ctx)->channel_open(
                         dq_context_transport(c->ctx), c->urls[i], &oc.ch[i],
                         &err),
                     0);
  dq_reader *r;
  if (dq_reader_start(&in, dq_stage_schema(s1), qid, 0, 1, 4, open_by_url, &oc,
                      &r, &err) < 0)
    fail_msg("reader: %s", err.message);
  int64_t rows = 0;
  int done[4] = {0};
  int n_done = 0;
  uint32_t key = 0;
  for (uint32_t step = 0; n_done < 4; step++) {
    /* order 0: drain 3, then 2, 1, 0; order 1: one batch from each in turn */
    uint32_t part = order == 0 ? 3 - (uint32_t)n_done : step % 4;
    if (done[part])
      continue;
    dq_batch *b;
    assert_int_equal(dq_reader_next(r, part, &b, &err), 0);
    if (b == NULL) {
      done[part] = 1;
      n_done++;
      continue;
    }
    uint32_t ids[8192];
    assert_true(dq_batch_n_rows(b) <= 8192);
    assert_int_equal(dq_hash_partition_ids(b, &key, 1, 4, ids, &err), 0);
    for (int64_t i = 0; i < dq_batch_n_rows(b); i++)
      assert_int_equal(ids[i], part);
    rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
  }
  dq_boundary_metrics m;
  dq_reader_metrics(r, &m);
  assert_int_equal((int64_t)m.rows, rows);
  if (order == 0)
    assert_true(m.buffered_peak > 0); /* partitions 0-2 waited for us */
  dq_reader_free(r);
  for (size_t i = 0; i < c->n; i++)
    dq_context_ops(c->ctx)->channel_close(oc.ch[i]);
  dq_input_boundary_clear(&in);
  return rows;
}

static void test_shuffle_poll_orders(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 2, DQT_WORKERS_FROM_ENV, NULL);
  /* stage 1: 3 tasks, shuffled for one consumer task of 4 partitions */
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  const char *keys[] = {"l_orderkey"};
  dq_boundary shuffle = {DQ_BOUNDARY_SHUFFLE, 1, keys};
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(
      b, dq_node_scan_tpch(b, "lineitem", 0.01, 7, dqt_lineitem_cols, 1), 3, 1,
      &shuffle);
  uint32_t s2 = dq_plan_stage(b, dq_node_read(b, s1), 1, 4, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s2), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  result_text total = {0};
  dq_plan *lp = dqt_coalesce_plan(0.01, 1, 1, 1); /* count(*) is its 1st column */
  dqt_run_local(lp, &total);
  int64_t want = atoll(total.rows[0]);
  for (int order = 0; order < 2; order++) {
    uint8_t qid[16] = {0xab, (uint8_t)order};
    dq_coord **coords = deliver_stage1(&c, p, qid);
    assert_int_equal(read_shuffle(&c, p, qid, order), want);
    close_coords(&c, coords, 3);
  }
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  result_text_free(&total);
  dq_plan_free(lp);
  dq_plan_free(p);
  cluster_stop(&c);
}

/* Drains a stream; returns rows, or the error code. */
static int64_t drain(const dq_transport_ops *ops, dq_stream *s, dq_error *err) {
  int64_t rows = 0;
  for (;;) {
    dq_frame f;
    int rc = ops->stream_next(s, &f, err);
    if (rc < 0)
      return rc;
    if (f.kind == DQ_FRAME_SCHEMA)
      f.schema.release(&f.schema);
    if (f.kind == DQ_FRAME_BATCH) {
      rows += f.array.length;
      f.array.release(&f.array);
    }
    if (f.kind == DQ_FRAME_END)
      return rows;
  }
}

static void test_stream_cancel_alone(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 1, DQT_WORKERS_FROM_ENV, NULL);
  /* One producer task with 2 coalesce partitions: two sibling streams. */
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(
      b, dq_node_scan_tpch(b, "lineitem", 0.01, 7, dqt_lineitem_cols, 2), 1, 2,
      &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  uint8_t qid[16] = {0xcd};
  dq_coord **coords = deliver_stage1(&c, p, qid);
  const dq_transport_ops *ops = dq_context_ops(c.ctx);
  dq_channel *ch;
  assert_int_equal(
      ops->channel_open(dq_context_transport(c.ctx), c.urls[0], &ch, &err), 0);
  dq_producer_head h;
  assert_int_equal(dq_stage_producer_head(dq_plan_stage_by_id(p, 1), &h, &err),
                   0);
  uint8_t *hb;
  size_t hl;
  assert_int_equal(dq_producer_head_encode(&h, &hb, &hl, &err), 0);
  dq_execute_task req = {0};
  memcpy(req.key.query_id, qid, 16);
  req.key.stage_id = 1;
  req.producer_head = hb;
  req.producer_head_len = hl;
  dq_stream *s0, *s1s;
  req.partition_start = 0;
  req.partition_end = 1;
  assert_int_equal(ops->execute_task(ch, &req, &s0, &err), 0);
  req.partition_start = 1;
  req.partition_end = 2;
  assert_int_equal(ops->execute_task(ch, &req, &s1s, &err), 0);
  /* A partition has one reader: asking again is refused. */
  dq_stream *again;
  assert_int_equal(ops->execute_task(ch, &req, &again, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "already being read"));
  ops->stream_cancel(s0);
  assert_int_equal(drain(ops, s0, &err), DQ_ECANCELED);
  int64_t rows = drain(ops, s1s, &err);
  assert_true(rows > 0); /* the sibling ran to its end */
  ops->stream_close(s0);
  ops->stream_close(s1s);
  ops->channel_close(ch);
  free(hb);
  close_coords(&c, coords, 1);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  dq_plan_free(p);
  cluster_stop(&c);
}

typedef struct late_exec {
  dqt_cluster *c;
  dq_execute_task req;
  int rc;
  dq_error err;
} late_exec;

static void *execute_thread(void *arg) {
  late_exec *le = arg;
  const dq_transport_ops *ops = dq_context_ops(le->c->ctx);
  dq_channel *ch;
  le->rc = ops->channel_open(dq_context_transport(le->c->ctx), le->c->urls[0],
                             &ch, &le->err);
  dq_stream *s = NULL;
  if (le->rc == 0)
    le->rc = ops->execute_task(ch, &le->req, &s, &le->err);
  if (le->rc == 0) {
    int64_t rows = drain(ops, s, &le->err);
    le->rc = rows < 0 ? (int)rows : 0;
    ops->stream_close(s);
  }
  ops->channel_close(ch);
  return NULL;
}

static void test_plan_wait(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 1, DQT_WORKERS_FROM_ENV, "[executor]\nplan_wait_ms = 300\n");
  dq_plan *p = dqt_limit_plan(0.001, 1, 1);
  dq_error err;
  dq_producer_head h;
  assert_int_equal(dq_stage_producer_head(dq_plan_stage_by_id(p, 1), &h, &err),
                   0);
  late_exec le = {.c = &c};
  uint8_t *hb;
  size_t hl;
  assert_int_equal(dq_producer_head_encode(&h, &hb, &hl, &err), 0);
  le.req.key.query_id[0] = 0xee;
  le.req.key.stage_id = 1;
  le.req.partition_end = 1;
  le.req.producer_head = hb;
  le.req.producer_head_len = hl;

  /* No plan ever: a clear timeout naming the worker and the task. */
  execute_thread(&le);
  assert_int_equal(le.rc, DQ_ETIMEDOUT);
  assert_non_null(strstr(le.err.message, "no plan arrived for the task "
                                         "within 300 ms"));
  assert_string_equal(le.err.worker_url, c.urls[0]);
  assert_true(le.err.has_task);
  assert_int_equal(le.err.task.stage_id, 1);

  /* The plan arrives while ExecuteTask waits: it goes through. */
  memcpy(le.req.key.query_id, (uint8_t[16]){0xef}, 16);
  pthread_t th;
  pthread_create(&th, NULL, execute_thread, &le);
  usleep(50000);
  dq_coord **coords = deliver_stage1(&c, p, le.req.key.query_id);
  pthread_join(th, NULL);
  if (le.rc != 0)
    fail_msg("late plan: %s", le.err.message);
  close_coords(&c, coords, 1);
  free(hb);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  dq_plan_free(p);
  cluster_stop(&c);
}

static void test_idle_ttl(void **state) {
  (void)state;
  dqt_cluster c;
  /* 500 ms: long enough that the delivery below (slow under valgrind)
   * cannot outlast it, short enough to keep the test quick. */
  dqt_cluster_up(&c, 1, DQT_WORKERS_FROM_ENV, "[executor]\ntask_ttl_ms = 500\n");
  dq_plan *p = dqt_limit_plan(0.001, 2, 1);
  uint8_t qid[16] = {0x77};
  /* A coordinator that delivers plans and then never comes back. */
  dq_coord **coords = deliver_stage1(&c, p, qid);
  assert_int_equal(dqt_cluster_task_count(&c, 0), 2);
  uint64_t deadline = dq_now_ns() + 2000000000u;
  while (dqt_cluster_task_count(&c, 0) > 0 && dq_now_ns() < deadline)
    usleep(5000);
  assert_int_equal(dqt_cluster_task_count(&c, 0), 0);
  /* Its handles still close cleanly afterwards. */
  close_coords(&c, coords, 2);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  dq_plan_free(p);
  cluster_stop(&c);
}

static void test_unreachable_worker(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 1, DQT_WORKERS_FROM_ENV, NULL);
  char bad[160];
  snprintf(bad, sizeof bad, "%s://%s", dqt_transport(),
           strcmp(dqt_transport(), "inmem") == 0 || strcmp(dqt_transport(), "shm") == 0
               ? "nobody-here"
               : "127.0.0.1:1");
  const char *urls[] = {c.urls[0], bad};
  dq_plan *p = dqt_coalesce_plan(0.001, 2, 1, 0);
  dq_query *q;
  dq_error err;
  dq_error_clear(&err);
  /* Beside a reachable worker, the unreachable one is a lost worker: the
   * query runs on the other (docs/runtime.md, "When a worker is lost"),
   * and says whom it lost and why. */
  int rc = dq_query_start(c.ctx, p, urls, 2, &q, &err);
  if (rc < 0)
    fail_msg("a query with one reachable worker failed: %s", err.message);
  dq_batch *b;
  while ((rc = dq_query_next(q, &b, &err)) == 0 && b != NULL)
    dq_batch_unref(b);
  assert_int_equal(rc, 0);
  assert_true(dq_query_n_losses(q) >= 1);
  dq_worker_loss loss;
  assert_int_equal(dq_query_loss_info(q, 0, &loss), 0);
  assert_string_equal(loss.worker_url, bad);
  assert_int_equal(loss.reason.code, DQ_EUNAVAILABLE);
  assert_int_equal(dq_query_loss_info(q, dq_query_n_losses(q), &loss),
                   DQ_EINVAL);
  dq_query_close(q);
  /* Alone, it is the query's error, naming it. */
  const char *only_bad[] = {bad};
  dq_error_clear(&err);
  rc = dq_query_start(c.ctx, p, only_bad, 1, &q, &err);
  assert_int_equal(rc, DQ_EUNAVAILABLE);
  assert_string_equal(err.worker_url, bad);
  assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
  dq_plan_free(p);
  cluster_stop(&c);
}

int main(void) {
  if (dqt_process_mode() && strcmp(dqt_transport(), "inmem") == 0) {
    /* Not a failure of anything: the combination does not exist. */
    printf("SKIP: DQ_TEST_WORKERS=process needs a transport that crosses "
           "processes (DQ_TEST_TRANSPORT is inmem)\n");
    return 77;
  }
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shuffle_equals_local),
      cmocka_unit_test(test_coalesce_equals_local),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_tpch_equals_local),
      cmocka_unit_test(test_limit_early_drop),
      cmocka_unit_test(test_error_propagation),
      cmocka_unit_test(test_hygiene),
      cmocka_unit_test(test_shuffle_poll_orders),
      cmocka_unit_test(test_stream_cancel_alone),
      cmocka_unit_test(test_plan_wait),
      cmocka_unit_test(test_idle_ttl),
      cmocka_unit_test(test_unreachable_worker),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
