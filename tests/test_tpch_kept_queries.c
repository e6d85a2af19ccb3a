/* test_tpch_kept_queries.c — every built-in query's answer is unchanged
 * with its TPC-H tables kept in memory (dq_tpch_materialize_plan), single
 * process and on in-process inmem workers.  The workers read the kept
 * tables of this process's one libdq (the test links libdq.so, as the
 * inmem plugin does), which is what `dq run --materialize` relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>

#include "harness.h"

#define SF 0.01
#define SEED 7

static void run_local(const char *q, result_text *out) {
  dq_plan *p;
  dq_error err;
  if (dq_tpch_query_plan(q, SF, SEED, 0, 0, &p, &err) != 0)
    fail_msg("%s: %s", q, err.message);
  dqt_run_local(p, out);
  dq_plan_free(p);
}

static void run_distributed(dqt_cluster *c, const char *q, result_text *out) {
  dq_plan *p;
  dq_error err;
  if (dq_tpch_query_plan(q, SF, SEED, (uint32_t)c->n, 2, &p, &err) != 0)
    fail_msg("%s: %s", q, err.message);
  if (dqt_run_cluster(c, c->n, p, out, &err) != 0)
    fail_msg("%s: %s", q, err.message);
  dq_plan_free(p);
}

static void test_queries_unchanged(void **state) {
  (void)state;
  dq_error err;
  dqt_cluster c;
  dqt_cluster_up(&c, 2, DQT_WORKERS_IN_PROCESS, NULL);
  const char *const *names = dq_tpch_query_names();
  for (size_t qi = 0; names[qi] != NULL; qi++) {
    result_text generated = {0}, kept = {0}, kept_dist = {0};
    run_local(names[qi], &generated);

    dq_plan *p;
    size_t bytes = 0, again = 0;
    assert_int_equal(dq_tpch_query_plan(names[qi], SF, SEED, 2, 2, &p, &err),
                     0);
    if (dq_tpch_materialize_plan(p, &bytes, &err) != 0)
      fail_msg("%s: %s", names[qi], err.message);
    assert_true(bytes > 0);
    /* Already kept: nothing more is held. */
    assert_int_equal(dq_tpch_materialize_plan(p, &again, &err), 0);
    assert_int_equal(again, bytes);
    dq_plan_free(p);

    run_local(names[qi], &kept);
    run_distributed(&c, names[qi], &kept_dist);
    if (!result_text_equal(&generated, &kept))
      fail_msg("%s: the answer changed with the tables kept", names[qi]);
    if (!result_text_equal(&generated, &kept_dist))
      fail_msg("%s on 2 workers: the answer changed with the tables kept",
               names[qi]);
    result_text_free(&generated);
    result_text_free(&kept);
    result_text_free(&kept_dist);
    dq_tpch_release(NULL, 0, 0);
  }
  dqt_cluster_stop(&c, "test_tpch_kept");
}

int main(void) {
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queries_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
