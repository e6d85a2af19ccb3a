/* test_tpch_kept.c — TPC-H tables kept in memory (libdq/tpch/tpch_kept.c):
 * a scan of a kept table gives, pipeline by pipeline, exactly the rows
 * generation gives; a table released while scans read it stays valid for
 * them; bad arguments are refused with a sentence.  A unit test of the
 * operators, no plugin: it links the static core.  The queries over kept
 * tables on workers are tests/test_tpch_kept_queries.c. */
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

#include "exec/exec.h"
#include "plan/plan_internal.h"
#include "harness.h"

#define SF 0.01
#define SEED 7

/* Every row one pipeline (task t of nt, partition p of np) of a scan of
 * `table` gives, as text, batch by batch. */
static void scan_pipeline(const dq_node *scan, uint32_t t, uint32_t nt,
                          uint32_t p, uint32_t np, int64_t batch_rows,
                          result_text *out) {
  dq_exec_env env = {0};
  env.task_number = t;
  env.task_count = nt;
  env.n_partitions = np;
  env.batch_rows = batch_rows;
  dq_error err;
  dq_op *op;
  if (dq_op_open(scan, &env, p, &op, &err) != 0)
    fail_msg("open: %s", err.message);
  for (;;) {
    dq_batch *b;
    if (dq_op_next(op, &b, &err) != 0)
      fail_msg("next: %s", err.message);
    if (b == NULL)
      break;
    assert_true(dq_schema_equal(dq_batch_schema(b), scan->schema));
    result_text_add(out, b);
    dq_batch_unref(b);
  }
  dq_op_close(op);
}

/* Columns in an order unlike the table's, the last one repeated; the
 * names belong to *schema, which the caller drops. */
static size_t some_columns(const char *table, const char **names,
                           dq_schema **schema) {
  dq_error err;
  assert_int_equal(dq_tpch_table_schema(table, schema, &err), 0);
  size_t n = dq_schema_n_fields(*schema), k = 0;
  for (size_t i = n; i-- > 0;)
    if (i % 2 == 0)
      names[k++] = dq_schema_field_name(*schema, i);
  names[k] = names[k - 1];
  return k + 1;
}

static void test_scans_match_generation(void **state) {
  (void)state;
  static const uint32_t shapes[][2] = {{1, 1}, {3, 2}, {7, 1}};
  static const int64_t batch_rows[] = {8192, 1000};
  const char *const *tables = dq_tpch_table_names();
  for (size_t ti = 0; tables[ti] != NULL; ti++) {
    const char *cols[32];
    dq_schema *full;
    size_t nc = some_columns(tables[ti], cols, &full);
    dq_node *scan;
    dq_error err;
    if (dq_node_new_scan_tpch(tables[ti], SF, SEED, cols, nc, &scan, &err))
      fail_msg("%s: %s", tables[ti], err.message);
    dq_schema_unref(full);
    result_text want[3][7][2], got[3][7][2];
    memset(want, 0, sizeof want);
    memset(got, 0, sizeof got);
    for (int kept = 0; kept < 2; kept++) {
      if (kept && dq_tpch_materialize(tables[ti], SF, SEED, NULL, &err))
        fail_msg("materialize %s: %s", tables[ti], err.message);
      for (size_t si = 0; si < 3; si++)
        for (uint32_t task = 0; task < shapes[si][0]; task++)
          for (uint32_t p = 0; p < shapes[si][1]; p++)
            scan_pipeline(scan, task, shapes[si][0], p, shapes[si][1],
                          batch_rows[si % 2], kept ? &got[si][task][p]
                                                   : &want[si][task][p]);
    }
    for (size_t si = 0; si < 3; si++)
      for (uint32_t task = 0; task < shapes[si][0]; task++)
        for (uint32_t p = 0; p < shapes[si][1]; p++) {
          if (!result_text_equal(&want[si][task][p], &got[si][task][p]))
            fail_msg("%s: task %u of %u, partition %u differs when kept",
                     tables[ti], task, shapes[si][0], p);
          result_text_free(&want[si][task][p]);
          result_text_free(&got[si][task][p]);
        }
    dq_node_unref(scan);
  }
  dq_tpch_release(NULL, 0, 0);
}

/* Released while a scan reads it: the scan keeps its reference (ASan and
 * valgrind would see a use after free), and scans opened afterwards
 * generate. */
static void test_release_while_scanning(void **state) {
  (void)state;
  dq_error err;
  const char *cols[] = {"o_orderkey", "o_comment"};
  dq_node *scan;
  assert_int_equal(
      dq_node_new_scan_tpch("orders", SF, SEED, cols, 2, &scan, &err), 0);
  size_t bytes;
  assert_int_equal(dq_tpch_materialize("orders", SF, SEED, &bytes, &err), 0);
  assert_true(bytes > 0);

  dq_exec_env env = {0};
  env.task_count = 1;
  env.n_partitions = 1;
  env.batch_rows = 8192;
  dq_op *op;
  assert_int_equal(dq_op_open(scan, &env, 0, &op, &err), 0);
  dq_batch *b;
  assert_int_equal(dq_op_next(op, &b, &err), 0);
  assert_non_null(b);
  int64_t rows = dq_batch_n_rows(b);
  dq_batch_unref(b);
  dq_tpch_release("orders", SF, SEED);
  for (;;) {
    assert_int_equal(dq_op_next(op, &b, &err), 0);
    if (b == NULL)
      break;
    rows += dq_batch_n_rows(b);
    dq_batch_unref(b);
  }
  dq_op_close(op);
  assert_int_equal(rows, dq_tpch_table_rows("orders", SF));

  /* Released: the same scan generates, with the same rows. */
  result_text once = {0}, twice = {0};
  scan_pipeline(scan, 0, 1, 0, 1, 8192, &once);
  assert_int_equal(dq_tpch_materialize("orders", SF, SEED, NULL, &err), 0);
  scan_pipeline(scan, 0, 1, 0, 1, 8192, &twice);
  assert_true(result_text_equal(&once, &twice));
  result_text_free(&once);
  result_text_free(&twice);
  /* Releasing a table not kept, or an unknown one, is harmless. */
  dq_tpch_release("orders", SF, SEED + 1);
  dq_tpch_release("nosuch", SF, SEED);
  dq_tpch_release(NULL, 0, 0);
  dq_node_unref(scan);
}

static void test_bad_arguments(void **state) {
  (void)state;
  dq_error err;
  size_t bytes = 1;
  assert_int_equal(dq_tpch_materialize("nosuch", SF, SEED, &bytes, &err),
                   DQ_ENOENT);
  assert_non_null(strstr(err.message, "nosuch"));
  assert_non_null(strstr(err.message, "lineitem"));
  assert_int_equal(bytes, 0);
  assert_int_equal(dq_tpch_materialize(NULL, SF, SEED, NULL, &err),
                   DQ_ENOENT);
  assert_int_equal(dq_tpch_materialize("orders", -1, SEED, NULL, &err),
                   DQ_EINVAL);
  assert_non_null(strstr(err.message, "orders"));
  assert_int_equal(dq_tpch_materialize_plan(NULL, NULL, &err), DQ_EINVAL);
}

int main(void) {
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scans_match_generation),
      cmocka_unit_test(test_release_while_scanning),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
