/* test_worker_kill.c — a worker process killed with SIGKILL in the middle of
 * a query: the query must fail promptly (within 2 s) with an error naming
 * that worker, closing it must not hang, and the next query on the workers
 * still alive must give the single-process answer.  Workers are `dq worker`
 * processes over $DQ_TEST_TRANSPORT (default grpc); run by
 * tests/worker-kill.test. */
#include <setjmp.h>
#include <signal.h>
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

#include "result_text.h"
#include "worker_procs.h"

#define N_WORKERS 3

static const char *transport(void) {
  const char *t = getenv("DQ_TEST_TRANSPORT");
  return t && *t ? t : "grpc";
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* lineitem at SF 1 over n tasks, coalesced into the head: long enough
 * (seconds of generation per task) that the kill lands mid-stream. */
static dq_plan *long_scan(uint32_t n) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  const char *cols[] = {"l_orderkey", "l_quantity"};
  dq_node *scan = dq_node_scan_tpch(b, "lineitem", 1.0, 7, cols, 2);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, n, 1, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p;
  if (dq_plan_builder_finish(b, &p, &err) < 0)
    fail_msg("plan: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static int collect(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  result_text_add(ctx, b);
  return 0;
}

static void test_kill_mid_stream(void **state) {
  (void)state;
  const char *top = getenv("abs_top_builddir");
  if (top == NULL)
    fail_msg("abs_top_builddir is not set: run through make check");
  char exe[1024], text[128];
  snprintf(exe, sizeof exe, "%s/tools/dq", top);
  snprintf(text, sizeof text, "[dq]\ntransport = %s\n", transport());
  /* Each at the worker's default address for the transport. */
  char *argv[] = {exe, (char *)"worker", (char *)"--transport",
                  (char *)transport(), NULL};
  worker_procs *wp;
  dq_error err;
  dq_config *cfg;
  dq_context *ctx;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (worker_procs_spawn(wp, argv, N_WORKERS, 30000, &err) < 0)
    fail_msg("workers: %s", err.message);
  if (dq_config_parse(text, "test", &cfg, &err) < 0 ||
      dq_context_new(cfg, &ctx, &err) < 0)
    fail_msg("context: %s", err.message);
  const char *const *urls = worker_procs_urls(wp);

  dq_plan *p = long_scan(N_WORKERS);
  dq_query *q;
  if (dq_query_start(ctx, p, urls, N_WORKERS, &q, &err) < 0)
    fail_msg("query: %s", err.message);
  dq_batch *b;
  if (dq_query_next(q, &b, &err) < 0)
    fail_msg("first batch: %s", err.message);
  assert_non_null(b); /* data is flowing: we are mid-stream */
  dq_batch_unref(b);

  const size_t victim = 1;
  assert_int_equal(worker_procs_kill(wp, victim, SIGKILL), 0);
  double t0 = now_s();
  int rc;
  int64_t rows = 0;
  dq_error_clear(&err);
  while ((rc = dq_query_next(q, &b, &err)) == 0 && b != NULL) {
    rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
    if (now_s() - t0 > 10)
      break;
  }
  double took = now_s() - t0;
  char msg[1024];
  dq_error_format(&err, msg, sizeof msg);
  print_message("after the kill: %s in %.3f s (%lld more rows): %s\n",
                dq_strerror(rc), took, (long long)rows, msg);
  assert_true(rc < 0);      /* the query failed ... */
  assert_true(b == NULL);
  assert_true(took < 2.0);  /* ... promptly ... */
  /* ... naming the worker that died. */
  if (strstr(msg, urls[victim]) == NULL)
    fail_msg("the error does not name the killed worker %s: %s",
             urls[victim], msg);
  double t1 = now_s();
  dq_query_close(q);
  assert_true(now_s() - t1 < 2.0); /* closing does not wait on the dead */
  dq_plan_free(p);

  /* The survivors still work: Q6 on them equals the local answer. */
  const char *alive[] = {urls[0], urls[2]};
  dq_plan *lp, *dp;
  assert_int_equal(dq_tpch_query_plan("q6", 0.01, 3, 0, 0, &lp, &err), 0);
  assert_int_equal(dq_tpch_query_plan("q6", 0.01, 3, 2, 0, &dp, &err), 0);
  result_text want = {0}, got = {0};
  if (dq_plan_run_local(lp, collect, &want, &err) < 0)
    fail_msg("local: %s", err.message);
  if (dq_query_start(ctx, dp, alive, 2, &q, &err) < 0)
    fail_msg("query on the survivors: %s", err.message);
  while ((rc = dq_query_next(q, &b, &err)) == 0 && b != NULL) {
    result_text_add(&got, b);
    dq_batch_unref(b);
  }
  if (rc < 0)
    fail_msg("query on the survivors: %s", err.message);
  dq_query_close(q);
  assert_int_equal(want.n, 1);
  assert_true(result_text_equal(&want, &got));
  result_text_free(&want);
  result_text_free(&got);
  dq_plan_free(lp);
  dq_plan_free(dp);

  dq_context_free(ctx);
  dq_config_free(cfg);
  /* The killed one is expected dead; the others must exit 0 on SIGTERM. */
  assert_int_equal(worker_procs_stop(wp, 10000, "test_worker_kill"), 0);
}

int main(void) {
  if (strcmp(transport(), "inmem") == 0) {
    printf("SKIP: inmem workers are threads, there is no process to kill\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill_mid_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
