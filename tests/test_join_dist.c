/* test_join_dist.c — hash joins on the distributed runtime (in-process
 * workers over $DQ_TEST_TRANSPORT, default inmem, with extra settings from
 * $DQ_TEST_EXTRA_CONFIG, as in test_runtime.c): a join whose build side is
 * collected and broadcast to every join task, and one whose two sides are
 * both shuffled on the join key, each for INNER, LEFT, SEMI and ANTI and
 * for 1 to 3 workers, must give exactly the one-stage plan's answer.  A
 * stage with two READ nodes exercises every walker of the plan tree on
 * the way: the task plan's inputs, SetPlan, boundary readers per input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>

#include "harness.h"
#include "join_plan.h"

#define MAX_WORKERS 3

/* Hash join plans in three shapes: tests/join_plan.h. */

static void check_kind(dq_join_kind kind) {
  dq_plan *lp = join_plan(kind, 0, 1, 1);
  result_text want = {0};
  dqt_run_local(lp, &want);
  assert_int_equal(want.n, 25); /* one row per nation */
  if (getenv("DQ_TEST_VERBOSE"))
    for (size_t i = 0; i < want.n; i++)
      printf("kind %d: %s\n", (int)kind, want.rows[i]);
  for (size_t w = 1; w <= MAX_WORKERS; w++) {
    dqt_cluster c;
    dqt_cluster_up(&c, w, DQT_WORKERS_IN_PROCESS, NULL);
    for (int mode = 1; mode <= 2; mode++) {
      dq_plan *p = join_plan(kind, mode, (uint32_t)w, mode == 1 ? 2 : 1);
      char what[64];
      snprintf(what, sizeof what, "join kind %d, %s", (int)kind,
               mode == 1 ? "broadcast" : "shuffle");
      dqt_expect_rows(&c, w, p, &want, what);
      dq_plan_free(p);
    }
    assert_int_equal(dqt_cluster_wait_idle(&c, -1, 1000), 0);
    dqt_cluster_stop(&c, "test_join_dist");
  }
  result_text_free(&want);
  dq_plan_free(lp);
}

static void test_inner(void **state) { (void)state; check_kind(DQ_JOIN_INNER); }
static void test_left(void **state) { (void)state; check_kind(DQ_JOIN_LEFT); }
static void test_semi(void **state) {
  (void)state;
  check_kind(DQ_JOIN_LEFT_SEMI);
}
static void test_anti(void **state) {
  (void)state;
  check_kind(DQ_JOIN_LEFT_ANTI);
}

/* An empty build side: INNER and SEMI never open their probe side's
 * reader, so the probe stage's tasks are never asked for data; the query
 * must still end, with every task gone.  LEFT and ANTI read every probe
 * row. */
static dq_plan *empty_build_plan(dq_join_kind kind, int mode, uint32_t n) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  const char *ccols[] = {"c_custkey"}, *ocols[] = {"o_custkey"};
  dq_node *probe = dq_node_scan_tpch(b, "orders", 0.01, 7, ocols, 1);
  dq_node *build = dq_node_filter(
      b, dq_node_scan_tpch(b, "customer", 0.01, 7, ccols, 1),
      dq_expr_lt(b, dq_expr_column(b, "c_custkey"), dq_expr_int32(b, 0)));
  if (mode == 1) {
    const dq_boundary bc = {DQ_BOUNDARY_BROADCAST, 0, NULL};
    build = dq_node_read(b, dq_plan_stage(b, build, 2, 1, &bc));
  } else {
    const char *pk[] = {"o_custkey"}, *bk[] = {"c_custkey"};
    const dq_boundary ps = {DQ_BOUNDARY_SHUFFLE, 1, pk};
    const dq_boundary bs = {DQ_BOUNDARY_SHUFFLE, 1, bk};
    probe = dq_node_read(b, dq_plan_stage(b, probe, n, 2, &ps));
    build = dq_node_read(b, dq_plan_stage(b, build, n, 1, &bs));
  }
  dq_expr *pk = dq_expr_column(b, "o_custkey");
  dq_expr *bk = dq_expr_column(b, "c_custkey");
  dq_node *j = dq_node_hash_join(b, kind, probe, build, 1, &pk, &bk, NULL,
                                 NULL);
  dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"}};
  dq_node *partial = dq_node_aggregate(b, j, DQ_AGG_PARTIAL, 0, NULL, NULL, 1,
                                       aggs);
  const dq_boundary co = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s = dq_plan_stage(b, partial, n, 2, &co);
  dq_plan_stage(b, dq_node_aggregate_final(b, dq_node_read(b, s), partial), 1,
                1, NULL);
  dq_plan *p;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("plan: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static void test_empty_build(void **state) {
  (void)state;
  dqt_cluster c;
  dqt_cluster_up(&c, 2, DQT_WORKERS_IN_PROCESS, NULL);
  for (int kind = DQ_JOIN_INNER; kind <= DQ_JOIN_LEFT_ANTI; kind++)
    for (int mode = 1; mode <= 2; mode++) {
      dq_plan *p = empty_build_plan((dq_join_kind)kind, mode, 2);
      result_text got = {0};
      dq_error err;
      if (dqt_run_cluster(&c, c.n, p, &got, &err) < 0)
        fail_msg("kind %d mode %d: %s", kind, mode, err.message);
      assert_int_equal(got.n, 1);
      bool all = kind == DQ_JOIN_LEFT || kind == DQ_JOIN_LEFT_ANTI;
      assert_string_equal(got.rows[0], all ? "15000" : "0");
      result_text_free(&got);
      dq_plan_free(p);
      assert_int_equal(dqt_cluster_wait_idle(&c, -1, 2000), 0);
    }
  dqt_cluster_stop(&c, "test_join_dist");
}

int main(void) {
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inner),
      cmocka_unit_test(test_left),
      cmocka_unit_test(test_semi),
      cmocka_unit_test(test_anti),
      cmocka_unit_test(test_empty_build),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
