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

#include "harness.h"

#define N_WORKERS 3

static void test_kill_mid_stream(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, N_WORKERS, DQT_WORKERS_PROCESSES, NULL);
  const char *const *urls = c.urls;
  dq_error err;

  /* lineitem at SF 1 over 3 tasks, coalesced into the head: long enough
   * (seconds of generation per task) that the kill lands mid-stream. */
  dq_plan *p = dqt_limit_plan(1.0, N_WORKERS, INT64_MAX);
  dq_query *q;
  if (dq_query_start(c.ctx, p, urls, N_WORKERS, &q, &err) < 0)
    fail_msg("query: %s", err.message);
  dq_batch *b;
  if (dq_query_next(q, &b, &err) < 0)
    fail_msg("first batch: %s", err.message);
  assert_non_null(b); /* data is flowing: we are mid-stream */
  dq_batch_unref(b);

  const size_t victim = 1;
  assert_int_equal(dqt_cluster_kill(&c, victim, SIGKILL), 0);
  double t0 = dqt_now_s();
  int rc;
  int64_t rows = 0;
  dq_error_clear(&err);
  while ((rc = dq_query_next(q, &b, &err)) == 0 && b != NULL) {
    rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
    if (dqt_now_s() - t0 > 10)
      break;
  }
  double took = dqt_now_s() - t0;
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
  double t1 = dqt_now_s();
  dq_query_close(q);
  assert_true(dqt_now_s() - t1 < 2.0); /* closing does not wait on the dead */
  dq_plan_free(p);

  /* The survivors still work: Q6 on them equals the local answer. */
  const char *alive[] = {urls[0], urls[2]};
  dq_plan *lp, *dp;
  assert_int_equal(dq_tpch_query_plan("q6", 0.01, 3, 0, 0, &lp, &err), 0);
  assert_int_equal(dq_tpch_query_plan("q6", 0.01, 3, 2, 0, &dp, &err), 0);
  result_text want = {0}, got = {0};
  dqt_run_local(lp, &want);
  if (dqt_run_query(c.ctx, dp, alive, 2, &got, &err) < 0)
    fail_msg("query on the survivors: %s", err.message);
  assert_int_equal(want.n, 1);
  assert_true(result_text_equal(&want, &got));
  result_text_free(&want);
  result_text_free(&got);
  dq_plan_free(lp);
  dq_plan_free(dp);

  /* The killed one is expected dead; the others must exit 0 on SIGTERM. */
  assert_int_equal(dqt_cluster_stop(&c, "test_worker_kill"), 0);
}

int main(void) {
  if (dqt_process_transport() != 0)
    return 77;
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill_mid_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
