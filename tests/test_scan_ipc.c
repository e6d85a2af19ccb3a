/* test_scan_ipc.c — scanning Arrow IPC stream files: the same rows as the
 * generator that wrote them, single-node and distributed (files spread over
 * tasks and pipelines), plus a plan round trip through the codec, and every
 * error a file can cause, each with a message naming the file. */
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
#include <dq/ipc.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>

#include "plan/plan_internal.h"
#include "harness.h"

#define N_FILES 3
static char dir[64];
static char paths[N_FILES][128];

/* lineitem at SF 0.01 split over N_FILES files by unit ranges. */
static int write_files(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dq-scan-ipc-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  int64_t units = dq_tpch_table_units("lineitem", 0.01);
  for (int i = 0; i < N_FILES; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/part%d.arrow", dir, i);
    FILE *f = fopen(paths[i], "wb");
    dq_schema *s;
    dq_error err;
    if (f == NULL || dq_tpch_table_schema("lineitem", &s, &err) < 0)
      return -1;
    dq_ipc_writer *w;
    if (dq_ipc_writer_open_file(f, s, &w, &err) < 0)
      return -1;
    int64_t lo = units * i / N_FILES, hi = units * (i + 1) / N_FILES;
    for (int64_t u = lo; u < hi; u += 700) {
      dq_batch *b;
      if (dq_tpch_table_generate("lineitem", 0.01, 5, u,
                                 u + 700 < hi ? u + 700 : hi, &b, &err) < 0 ||
          dq_ipc_writer_write(w, b, &err) < 0)
        return -1;
      dq_batch_unref(b);
    }
    if (dq_ipc_writer_close(w, &err) < 0)
      return -1;
    fclose(f);
    dq_schema_unref(s);
  }
  return 0;
}

static int remove_files(void **state) {
  (void)state;
  for (int i = 0; i < N_FILES; i++)
    unlink(paths[i]);
  rmdir(dir);
  return 0;
}

static const char *cols[] = {"l_returnflag", "l_quantity", "l_extendedprice"};

/* The rows of p run in this process, sorted. */
static void run_local(const dq_plan *p, result_text *out) {
  dqt_run_local(p, out);
  result_text_sort(out);
}

static void want_answer(result_text *want) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *scan = dq_node_scan_tpch(b, "lineitem", 0.01, 5, cols, 3);
  dq_plan_stage(b, dqt_returnflag_agg(b, scan, DQ_AGG_SINGLE), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  run_local(p, want);
  dq_plan_free(p);
}

static void test_local_equals_generator(void **state) {
  (void)state;
  result_text want = {0}, got = {0};
  want_answer(&want);
  const char *ps[N_FILES] = {paths[0], paths[1], paths[2]};
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *scan = dq_node_scan_ipc(b, N_FILES, ps, cols, 3);
  dq_plan_stage(b, dqt_returnflag_agg(b, scan, DQ_AGG_SINGLE), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  run_local(p, &got);
  assert_true(want.n >= 3);
  assert_true(result_text_equal(&want, &got));
  /* The plan survives the codec: the scan is rebuilt from its files. */
  char e1[2048];
  dq_plan *q = dqt_plan_through_codec(p, e1, sizeof e1);
  assert_non_null(strstr(e1, "ScanIpc 3 files"));
  dq_plan_free(q);
  dq_plan_free(p);
  result_text_free(&want);
  result_text_free(&got);
}

/* Files spread over 2 tasks x 2 pipelines (one pipeline gets none). */
static void test_distributed(void **state) {
  (void)state;
  result_text want = {0}, got = {0};
  want_answer(&want);
  dqt_cluster c;
  dqt_cluster_up(&c, 2, DQT_WORKERS_IN_PROCESS, NULL);
  const char *ps[N_FILES] = {paths[0], paths[1], paths[2]};
  dq_error err;
  dq_plan_builder *b;
  dq_plan_builder_new(&b, &err);
  dq_node *partial = dqt_returnflag_agg(
      b, dq_node_scan_ipc(b, N_FILES, ps, cols, 3), DQ_AGG_PARTIAL);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, partial, 2, 2, &coalesce);
  dq_plan_stage(b, dq_node_aggregate_final(b, dq_node_read(b, s1), partial),
                1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  if (dqt_run_cluster(&c, 2, p, &got, &err) < 0)
    fail_msg("%s", err.message);
  result_text_sort(&got);
  assert_true(result_text_equal(&want, &got));
  dqt_cluster_stop(&c, "test_scan_ipc");
  dq_plan_free(p);
  result_text_free(&want);
  result_text_free(&got);
}

static void expect_build_error(size_t n, const char *const *ps,
                               const char *const *cs, size_t nc,
                               const char *want) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  assert_null(dq_node_scan_ipc(b, n, ps, cs, nc));
  assert_true(dq_plan_builder_error(b, &err) < 0);
  if (strstr(err.message, want) == NULL)
    fail_msg("expected '%s' in '%s'", want, err.message);
  dq_plan_builder_free(b);
}

/* Runs a one-stage scan of ps and returns the error. */
static int run_error(size_t n, const char *const *ps, dq_error *err) {
  dq_plan_builder *b;
  dq_plan_builder_new(&b, err);
  dq_plan_stage(b, dq_node_scan_ipc(b, n, ps, cols, 3), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  result_text got = {0};
  int rc = dq_plan_run_local(p, dqt_collect, &got, err);
  result_text_free(&got);
  dq_plan_free(p);
  return rc;
}

static void test_errors(void **state) {
  (void)state;
  char missing[160], junk[160], other[160];
  snprintf(missing, sizeof missing, "%s/nope.arrow", dir);
  expect_build_error(1, (const char *[]){missing}, NULL, 0,
                     "cannot open Arrow IPC file");
  expect_build_error(0, NULL, NULL, 0, "at least one file");
  expect_build_error(1, (const char *[]){paths[0]},
                     (const char *[]){"l_nosuch"}, 1,
                     "has no column named \"l_nosuch\"");
  snprintf(junk, sizeof junk, "%s/junk.arrow", dir);
  FILE *f = fopen(junk, "wb");
  fputs("this is not an Arrow IPC stream at all", f);
  fclose(f);
  expect_build_error(1, (const char *[]){junk}, NULL, 0, junk);
  /* A later file that is missing or of another table fails at scan time,
   * naming it. */
  dq_error err;
  assert_true(run_error(2, (const char *[]){paths[0], missing}, &err) < 0);
  assert_non_null(strstr(err.message, missing));
  snprintf(other, sizeof other, "%s/nation.arrow", dir);
  f = fopen(other, "wb");
  dq_schema *s;
  assert_int_equal(dq_tpch_table_schema("nation", &s, &err), 0);
  dq_ipc_writer *w;
  assert_int_equal(dq_ipc_writer_open_file(f, s, &w, &err), 0);
  assert_int_equal(dq_ipc_writer_close(w, &err), 0);
  fclose(f);
  dq_schema_unref(s);
  assert_true(run_error(2, (const char *[]){paths[0], other}, &err) < 0);
  assert_non_null(strstr(err.message, "does not have column"));
  assert_non_null(strstr(err.message, other));
  unlink(junk);
  unlink(other);
}

int main(void) {
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_local_equals_generator),
      cmocka_unit_test(test_distributed),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, write_files, remove_files);
}
