/* test_source.c — data sources as callback tables (libdq/scan/source.h):
 * the registry, and the range source end to end as a source that lives
 * in its own file: its rows over every pipeline of a stage, its plan
 * through the codec and EXPLAIN, its bad parameters, and the planner
 * reading its keying (two equal ranges join where they are). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/dq.h>
#include <dq/plan.h>

#include "exec/exec.h"
#include "plan.pb-c.h"
#include "plan/plan_internal.h"
#include "scan/source_range.h"

/* Every registered kind has what every caller relies on, and is found by
 * its own name only. */
static void test_registry(void **state) {
  (void)state;
  const dq_source_kind *const *k = dq_source_kinds();
  size_t n = 0;
  for (; k[n] != NULL; n++) {
    assert_non_null(k[n]->name);
    assert_non_null(k[n]->encode);
    assert_non_null(k[n]->decode);
    assert_non_null(k[n]->free);
    assert_non_null(k[n]->schema);
    assert_non_null(k[n]->describe);
    assert_non_null(k[n]->explain);
    assert_non_null(k[n]->row_estimate);
    assert_non_null(k[n]->open);
    assert_ptr_equal(dq_source_find(k[n]->name), k[n]);
    for (size_t j = 0; j < n; j++)
      assert_string_not_equal(k[j]->name, k[n]->name);
  }
  assert_true(n >= 4);
  static const char *const names[] = {"tpch", "csv", "ipc", "range"};
  for (size_t i = 0; i < 4; i++)
    assert_non_null(dq_source_find(names[i]));
  assert_null(dq_source_find("nosuch"));
  assert_null(dq_source_find(NULL));
}

static dq_node *range_node(int64_t start, int64_t stop, int64_t step) {
  void *st;
  dq_node *n;
  dq_error err;
  if (dq_source_range_new(start, stop, step, &st, &err) != 0 ||
      dq_node_new_scan(&dq_source_range, st, NULL, 0, &n, &err) != 0)
    fail_msg("range: %s", err.message);
  return n;
}

/* Stage 1 scans the range on tasks x partitions pipelines; the head reads
 * it (a coalesce). */
static dq_plan *range_plan(int64_t start, int64_t stop, int64_t step,
                           uint32_t tasks, uint32_t parts) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *scan = range_node(start, stop, step);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, tasks, parts, &coalesce);
  dq_node_unref(scan); /* the stage holds its own reference */
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p = NULL;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("finish: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

/* Runs every pipeline of every task of stage 1; counts how often each
 * value in [lo, lo + n) comes. */
static void read_all(const dq_plan *p, uint32_t tasks, uint32_t parts,
                     int64_t lo, size_t n, unsigned *seen) {
  const dq_stage *s = dq_plan_stage_by_id(p, 1);
  for (uint32_t t = 0; t < tasks; t++)
    for (uint32_t q = 0; q < parts; q++) {
      dq_exec_env env;
      memset(&env, 0, sizeof env);
      env.task_number = t;
      env.task_count = tasks;
      env.n_partitions = parts;
      env.batch_rows = 7; /* several batches per pipeline */
      dq_exec *e;
      dq_error err;
      if (dq_exec_open(s, &env, q, &e, &err) != 0)
        fail_msg("open: %s", err.message);
      for (;;) {
        dq_batch *b;
        if (dq_exec_next(e, &b, &err) != 0)
          fail_msg("next: %s", err.message);
        if (b == NULL)
          break;
        assert_true(dq_batch_n_rows(b) <= 7);
        const dq_array *a = dq_batch_column(b, 0);
        for (int64_t i = 0; i < dq_batch_n_rows(b); i++) {
          int64_t v = dq_array_int64(a, i);
          assert_true(v >= lo && v < lo + (int64_t)n);
          seen[v - lo]++;
        }
        dq_batch_unref(b);
      }
      dq_exec_close(e);
    }
}

static void test_range_rows(void **state) {
  (void)state;
  /* -5, -2, ..., 997: 335 values, over 3 x 2 pipelines, each once. */
  dq_plan *p = range_plan(-5, 1000, 3, 3, 2);
  static unsigned seen[1005];
  memset(seen, 0, sizeof seen);
  read_all(p, 3, 2, -5, 1005, seen);
  size_t count = 0;
  for (int64_t v = -5; v < 1000; v++) {
    unsigned want = (v + 5) % 3 == 0;
    assert_int_equal(seen[v + 5], want);
    count += want;
  }
  assert_int_equal(count, 335);
  dq_plan_free(p);
  /* Down by 4 from 10 to -10 (exclusive): 10, 6, 2, -2, -6. */
  p = range_plan(10, -10, -4, 2, 2);
  memset(seen, 0, sizeof seen);
  read_all(p, 2, 2, -10, 21, seen);
  for (int64_t v = -10; v <= 10; v++)
    assert_int_equal(seen[v + 10], v == 10 || v == 6 || v == 2 ||
                                       v == -2 || v == -6);
  dq_plan_free(p);
  /* Empty: stop at start, or stepping away from stop. */
  p = range_plan(4, 4, 1, 1, 1);
  read_all(p, 1, 1, 0, 1, seen);
  dq_plan_free(p);
}

static char *explain(const dq_plan *p) {
  size_t need = dq_plan_explain(p, NULL, 0);
  char *buf = malloc(need);
  assert_non_null(buf);
  dq_plan_explain(p, buf, need);
  return buf;
}

/* The plan survives the codec, and a worker decoding it gets the same
 * source and rows. */
static void test_range_codec(void **state) {
  (void)state;
  dq_plan *p = range_plan(-5, 1000, 3, 2, 1);
  char *x = explain(p);
  assert_non_null(strstr(x, "Range -5 to 1000 by 3 [value]"));
  uint8_t *bytes;
  size_t len;
  dq_error err;
  assert_int_equal(dq_plan_encode(p, &bytes, &len, &err), 0);
  dq_plan *d = NULL;
  if (dq_plan_decode(bytes, len, &d, &err) != 0)
    fail_msg("decode: %s", err.message);
  char *y = explain(d);
  assert_string_equal(x, y);
  assert_ptr_equal(dq_plan_stage_by_id(d, 1)->root->source,
                   &dq_source_range);
  static unsigned seen[1005];
  memset(seen, 0, sizeof seen);
  read_all(d, 2, 1, -5, 1005, seen);
  for (int64_t v = -5; v < 1000; v++)
    assert_int_equal(seen[v + 5], (v + 5) % 3 == 0);
  free(x);
  free(y);
  free(bytes);
  dq_plan_free(d);
  dq_plan_free(p);
}

/* A one-stage plan of one Scan node with these fields, decoded. */
static int decode_scan(const char *source, const uint8_t *params,
                       size_t n_params, dq_error *err) {
  Dq__V1__Scan scan = DQ__V1__SCAN__INIT;
  scan.source = (char *)source;
  scan.params.data = (uint8_t *)params;
  scan.params.len = n_params;
  Dq__V1__Node node = DQ__V1__NODE__INIT;
  node.kind_case = DQ__V1__NODE__KIND_SCAN;
  node.scan = &scan;
  Dq__V1__Stage st = DQ__V1__STAGE__INIT;
  st.id = 1;
  st.task_count = 1;
  st.partitions = 1;
  st.root = &node;
  Dq__V1__Stage *stages[] = {&st};
  Dq__V1__Plan plan = DQ__V1__PLAN__INIT;
  plan.version = 1;
  plan.n_stages = 1;
  plan.stages = stages;
  size_t len = dq__v1__plan__get_packed_size(&plan);
  uint8_t *buf = malloc(len);
  dq__v1__plan__pack(&plan, buf);
  dq_plan *d = NULL;
  int rc = dq_plan_decode(buf, len, &d, err);
  free(buf);
  dq_plan_free(d);
  return rc;
}

static void test_bad_sources(void **state) {
  (void)state;
  dq_error err;
  void *st = NULL;
  assert_int_equal(dq_source_range_new(1, 10, 0, &st, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "step"));
  assert_null(st);
  assert_int_equal(dq_source_range_new(INT64_MIN, INT64_MAX, 1, &st, &err),
                   DQ_EINVAL);
  assert_null(st);
  /* Good parameters decode; the wrong length, a step of 0, an unknown
   * source or another source's parameters do not. */
  uint8_t good[24] = {1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,
                      1, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(decode_scan("range", good, 24, &err), 0);
  assert_int_equal(decode_scan("range", good, 23, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "24 bytes"));
  uint8_t zero_step[24] = {0};
  assert_int_equal(decode_scan("range", zero_step, 24, &err), DQ_EINVAL);
  assert_int_equal(decode_scan("nosuch", good, 24, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "\"nosuch\""));
  assert_int_equal(decode_scan("tpch", good, 24, &err) < 0, 1);
  assert_int_equal(decode_scan("csv", NULL, 0, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "no schema"));
  assert_int_equal(decode_scan("ipc", NULL, 0, &err) < 0, 1);
}

/* range a JOIN range b ON value: equal ranges are keyed alike, so the
 * join runs where the scans are (one stage under the head); different
 * ranges are shuffled on both sides first. */
static dq_plan *range_join(int64_t stop_b) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *l = range_node(0, 1000, 1), *r = range_node(0, stop_b, 1);
  dq_expr *pk = dq_expr_column(b, "value"), *bk = dq_expr_column(b, "value");
  static const char *const names[] = {"a", "b"};
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, l, r, 1, &pk, &bk, NULL,
                                 names);
  dq_node_unref(l);
  dq_node_unref(r);
  dq_agg count = {DQ_AGG_COUNT_STAR, NULL, "n"};
  dq_plan_stage(b, dq_node_aggregate(b, j, DQ_AGG_SINGLE, 0, NULL, NULL, 1,
                                     &count),
                1, 1, NULL);
  dq_plan *p = NULL;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("finish: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static int count_rows(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  *(int64_t *)ctx = dq_array_int64(dq_batch_column(b, 0), 0);
  return 0;
}

static void test_range_keyed_join(void **state) {
  (void)state;
  dq_distribute_opts o = {sizeof o, 3, 2, -1};
  dq_error err;
  for (int alike = 1; alike >= 0; alike--) {
    dq_plan *s = range_join(alike ? 1000 : 500);
    int64_t n = -1;
    assert_int_equal(dq_plan_run_local(s, count_rows, &n, &err), 0);
    assert_int_equal(n, alike ? 1000 : 500);
    dq_plan *p = NULL;
    if (dq_plan_distribute(s, &o, &p, &err) != 0)
      fail_msg("distribute: %s", err.message);
    char *x = explain(p);
    if (alike) {
      /* scans + join + PARTIAL in one stage; FINAL in the head. */
      assert_int_equal(dq_plan_n_stages(p), 2);
      assert_null(strstr(x, "SHUFFLE"));
    } else {
      assert_true(dq_plan_n_stages(p) > 2);
      assert_non_null(strstr(x, "SHUFFLE"));
    }
    free(x);
    dq_plan_free(p);
    dq_plan_free(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_range_rows),
      cmocka_unit_test(test_range_codec),
      cmocka_unit_test(test_bad_sources),
      cmocka_unit_test(test_range_keyed_join),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
