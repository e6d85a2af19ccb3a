/* test_scan_csv.c — CSV scans with a declared schema: lineitem as `dq gen`
 * writes it, read back into the very rows the generator makes, whole and
 * cut into byte ranges that split lines in the middle; spread as work
 * units over 1-3 in-process workers, with the same answer; every kind of
 * malformed input, each with the exact FILE:LINE:COLUMN; and RFC 4180
 * quoting (commas, line breaks, doubled quotes, CRLF) read back exactly. */
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
#include <dq/tpch.h>

#include "scan/csv.h"
#include "exec/exec.h"
#include "source.pb-c.h"
#include "plan/plan_internal.h"
#include "harness.h"

#define SEED 5
#define N_FILES 3
static char dir[64];
static char paths[N_FILES][160];
static dq_schema *lineitem;

static const char *tool(void) {
  static char buf[512];
  const char *b = getenv("abs_top_builddir");
  if (b == NULL)
    return DQ_TOOL;
  snprintf(buf, sizeof buf, "%s/tools/dq", b);
  return buf;
}

/* lineitem at SF 0.01 from `dq gen`, cut by lines into N_FILES files,
 * each with the header line. */
static int write_files(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dq-scan-csv-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' gen --scale 0.01 --seed %d --tables "
           "lineitem --format csv --out '%s' 2>/dev/null", tool(), SEED, dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "failed: %s\n", cmd);
    return -1;
  }
  char whole[128];
  snprintf(whole, sizeof whole, "%s/lineitem.csv", dir);
  FILE *in = fopen(whole, "rb");
  if (in == NULL)
    return -1;
  static char line[4096], header[4096];
  if (fgets(header, sizeof header, in) == NULL)
    return -1;
  long lines = 0;
  while (fgets(line, sizeof line, in) != NULL)
    lines++;
  rewind(in);
  if (fgets(line, sizeof line, in) == NULL)
    return -1;
  long k = 0;
  for (int i = 0; i < N_FILES; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/part%d.csv", dir, i);
    FILE *out = fopen(paths[i], "wb");
    if (out == NULL)
      return -1;
    fputs(header, out);
    for (; k < lines * (i + 1) / N_FILES; k++) {
      if (fgets(line, sizeof line, in) == NULL)
        return -1;
      fputs(line, out);
    }
    fclose(out);
  }
  fclose(in);
  unlink(whole);
  dq_error err;
  return dq_tpch_table_schema("lineitem", &lineitem, &err) < 0 ? -1 : 0;
}

static int remove_files(void **state) {
  (void)state;
  for (int i = 0; i < N_FILES; i++)
    unlink(paths[i]);
  rmdir(dir);
  dq_schema_unref(lineitem);
  return 0;
}

/* The rows of p run in this process, sorted. */
static void run_local(const dq_plan *p, result_text *out) {
  dqt_run_local(p, out);
  result_text_sort(out);
}

/* The generator's own rows (all columns, or the aggregate over them). */
static void want_answer(result_text *want, bool aggregate) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *scan = dq_node_scan_tpch(b, "lineitem", 0.01, SEED, NULL, 0);
  dq_plan_stage(b, aggregate ? dqt_returnflag_agg(b, scan, DQ_AGG_SINGLE) : scan, 1, 1,
                NULL);
  dq_plan *p = dqt_plan_finish(b);
  run_local(p, want);
  dq_plan_free(p);
}

static dq_node *csv_scan(dq_plan_builder *b, int64_t split) {
  const char *ps[N_FILES] = {paths[0], paths[1], paths[2]};
  dq_csv_options o = {true, split, 0};
  return dq_node_scan_csv_with(b, N_FILES, ps, lineitem, &o);
}

/* Every row, exactly once, whatever the ranges: whole files, and ranges
 * of an odd size that cut nearly every boundary mid-line. */
static void test_local_equals_generator(void **state) {
  (void)state;
  result_text want = {0};
  want_answer(&want, false);
  assert_true(want.n > 50000);
  int64_t splits[] = {0, 4099, 65536};
  for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
    result_text got = {0};
    dq_plan_builder *b;
    dq_error err;
    dq_plan_builder_new(&b, &err);
    dq_plan_stage(b, csv_scan(b, splits[i]), 1, 1, NULL);
    dq_plan *p = dqt_plan_finish(b);
    run_local(p, &got);
    if (!result_text_equal(&want, &got))
      fail_msg("split %lld: rows differ", (long long)splits[i]);
    dq_plan_free(p);
    result_text_free(&got);
  }
  result_text_free(&want);
}

static void test_codec_and_explain(void **state) {
  (void)state;
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_plan_stage(b,
                dqt_returnflag_agg(b, csv_scan(b, 100000), DQ_AGG_SINGLE), 1,
                1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  char e1[4096];
  dq_plan *q = dqt_plan_through_codec(p, e1, sizeof e1);
  assert_non_null(strstr(e1, "ScanCsv 3 files"));
  assert_non_null(strstr(e1, " header split=100000 [l_orderkey int64, "));
  assert_non_null(strstr(e1, "l_quantity decimal(15,2)"));
  const dq_stage *s = dq_plan_head(q);
  assert_true(dq_schema_equal(dq_stage_schema(s), dq_stage_schema(
                                                      dq_plan_head(p))));
  dq_plan_free(q);
  dq_plan_free(p);
  /* Bad arguments fail at the node. */
  dq_plan_builder_new(&b, &err);
  assert_null(dq_node_scan_csv(b, 0, NULL, lineitem, false));
  assert_true(dq_plan_builder_error(b, &err) < 0);
  assert_non_null(strstr(err.message, "at least one file"));
  dq_plan_builder_free(b);
  dq_plan_builder_new(&b, &err);
  assert_null(dq_node_scan_csv(b, 1, (const char *[]){paths[0]}, NULL,
                               false));
  assert_true(dq_plan_builder_error(b, &err) < 0);
  assert_non_null(strstr(err.message, "declared schema"));
  dq_plan_builder_free(b);
}

/* Runs partial aggregates over `tasks` x 2 pipelines on n_workers inmem
 * workers and a final one in the coordinator. */
/* Two CSV scans in one stage (the first file, and the other two with
 * another range size), under a union: each scan gets its own units. */
static dq_node *two_scans(dq_plan_builder *b, int64_t split) {
  dq_csv_options o1 = {true, split, 0}, o2 = {true, split / 3 + 1, 0};
  const char *ps[2] = {paths[1], paths[2]};
  dq_node *in[2] = {
      dq_node_scan_csv_with(b, 1, (const char *[]){paths[0]}, lineitem, &o1),
      dq_node_scan_csv_with(b, 2, ps, lineitem, &o2)};
  return dq_node_union(b, 2, in);
}

static bool use_two_scans;

static void run_distributed(size_t n_workers, uint32_t tasks, int64_t split,
                            result_text *got, size_t *busy_tasks,
                            dq_error *err_out) {
  dqt_cluster c;
  dqt_cluster_up(&c, n_workers, DQT_WORKERS_IN_PROCESS, NULL);
  dq_error err;
  dq_plan_builder *b;
  dq_plan_builder_new(&b, &err);
  dq_node *partial =
      dqt_returnflag_agg(b, use_two_scans ? two_scans(b, split)
                                          : csv_scan(b, split),
                         DQ_AGG_PARTIAL);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, partial, tasks, 2, &coalesce);
  dq_plan_stage(b, dq_node_aggregate_final(b, dq_node_read(b, s1), partial),
                1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  dq_query *q;
  int rc = dq_query_start(c.ctx, p, c.urls, n_workers, &q, &err);
  if (rc == 0) {
    dq_batch *batch;
    while ((rc = dq_query_next(q, &batch, &err)) == 0 && batch != NULL) {
      result_text_add(got, batch);
      dq_batch_unref(batch);
    }
    *busy_tasks = 0;
    for (size_t i = 0; rc == 0 && i + 1 < dq_query_n_tasks(q); i++) {
      dq_task_info info;
      assert_int_equal(dq_query_task_info(q, i, &info), 0);
      *busy_tasks += info.rows_out > 0;
    }
    dq_query_close(q);
  }
  if (rc < 0 && err_out == NULL)
    fail_msg("%s", err.message);
  if (err_out != NULL)
    *err_out = err;
  result_text_sort(got);
  dqt_cluster_stop(&c, "test_scan_csv");
  dq_plan_free(p);
}

/* Each file spans several ranges and so several tasks; every task reads
 * its units, and the answer equals the generator's. */
static void test_distributed(void **state) {
  (void)state;
  result_text want = {0};
  want_answer(&want, true);
  assert_int_equal(want.n, 3);
  for (size_t nw = 1; nw <= 3; nw++) {
    result_text got = {0};
    size_t busy = 0;
    run_distributed(nw, 3, 100003, &got, &busy, NULL);
    if (!result_text_equal(&want, &got))
      fail_msg("%zu workers: answers differ", nw);
    assert_int_equal(busy, 3); /* every task had ranges to read */
    result_text_free(&got);
  }
  /* More tasks than ranges (one 8 MiB range per file): the tasks without
   * one get an empty unit and read nothing, so nothing is read twice. */
  result_text got = {0};
  size_t busy = 0;
  run_distributed(2, 5, 0, &got, &busy, NULL);
  assert_true(result_text_equal(&want, &got));
  assert_int_equal(busy, 3);
  result_text_free(&got);
  /* Two scans in one stage: units name their scan. */
  use_two_scans = true;
  for (size_t nw = 1; nw <= 3; nw += 2) {
    result_text two = {0};
    run_distributed(nw, 3, 150001, &two, &busy, NULL);
    assert_true(result_text_equal(&want, &two));
    assert_int_equal(busy, 3);
    result_text_free(&two);
  }
  use_two_scans = false;
  result_text_free(&want);
}

static int cmp_range(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Reads every pipeline of one task of `stage` with the given units. */
static int read_task(const dq_stage *stage, uint32_t task,
                     const dq_work_unit *units, size_t n_units,
                     result_text *rows, dq_error *err) {
  dq_exec_env env;
  memset(&env, 0, sizeof env);
  env.task_number = task;
  env.task_count = dq_stage_task_count(stage);
  env.n_partitions = dq_stage_partitions(stage);
  env.units = units;
  env.n_units = n_units;
  for (uint32_t p = 0; p < env.n_partitions; p++) {
    dq_exec *e;
    int rc = dq_exec_open(stage, &env, p, &e, err);
    if (rc != 0)
      return rc;
    dq_batch *b;
    while ((rc = dq_exec_next(e, &b, err)) == 0 && b != NULL) {
      result_text_add(rows, b);
      dq_batch_unref(b);
    }
    dq_exec_close(e);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* The coordinator's cut: contiguous ranges covering every file once,
 * grouped by task; each task reading only its units gives every row
 * once; and a task reads what its units say, not its own cut. */
static void test_work_units(void **state) {
  (void)state;
  result_text want = {0};
  want_answer(&want, false);
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, csv_scan(b, 100003), 3, 2, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  const dq_stage *st = dq_plan_stage_by_id(p, s1);
  dq_work_unit *u;
  uint32_t *task_of;
  size_t n;
  assert_int_equal(dq_stage_work_units(st, &u, &task_of, &n, &err), 0);
  assert_true(n > 60);
  static int64_t rng[N_FILES][512][2];
  size_t nrng[N_FILES] = {0};
  size_t first[4] = {0}; /* first unit of each task, and n */
  first[3] = n;
  for (size_t i = 0; i < n; i++) {
    assert_true(i == 0 || task_of[i] >= task_of[i - 1]);
    if (i > 0 && task_of[i] != task_of[i - 1])
      first[task_of[i]] = i;
    /* Each unit names its scan (number 0: the stage's only one), then
     * carries a CsvSplit. */
    const uint8_t *w = u[i].data;
    assert_true(u[i].len > 4);
    assert_int_equal(w[0] | w[1] << 8 | w[2] << 16 | w[3] << 24, 0);
    Dq__V1__CsvSplit *m = dq__v1__csv_split__unpack(NULL, u[i].len - 4,
                                                    w + 4);
    assert_non_null(m);
    int f = -1;
    for (int k = 0; k < N_FILES; k++)
      if (strcmp(m->path, paths[k]) == 0)
        f = k;
    assert_true(f >= 0);
    /* Task t gets ranges t, t + 3, ... of each file list in order. */
    assert_true(m->length > 0 && m->length <= 100003);
    assert_true(nrng[f] < 512);
    rng[f][nrng[f]][0] = (int64_t)m->offset;
    rng[f][nrng[f]++][1] = (int64_t)m->length;
    dq__v1__csv_split__free_unpacked(m, NULL);
  }
  /* Each file is covered once, end to end. */
  for (int f = 0; f < N_FILES; f++) {
    qsort(rng[f], nrng[f], sizeof rng[f][0], cmp_range);
    int64_t at = 0;
    for (size_t i = 0; i < nrng[f]; i++) {
      assert_int_equal(rng[f][i][0], at);
      at += rng[f][i][1];
    }
    FILE *fp = fopen(paths[f], "rb");
    fseek(fp, 0, SEEK_END);
    assert_int_equal(at, ftell(fp));
    fclose(fp);
  }
  /* Every row once over the three tasks, each reading its own units. */
  result_text got = {0};
  for (uint32_t t = 0; t < 3; t++) {
    size_t lo = first[t], hi = t < 2 ? first[t + 1] : n;
    assert_true(hi > lo);
    if (read_task(st, t, u + lo, hi - lo, &got, &err) != 0)
      fail_msg("%s", err.message);
  }
  result_text_sort(&got);
  assert_true(result_text_equal(&want, &got));
  result_text_free(&got);
  /* Task 0 handed every unit reads everything: units, not its own cut,
   * decide (on its own it would read a third). */
  if (read_task(st, 0, u, n, &got, &err) != 0)
    fail_msg("%s", err.message);
  result_text_sort(&got);
  assert_true(result_text_equal(&want, &got));
  result_text_free(&got);
  /* An empty unit: nothing to read, and no cutting either. */
  dq_work_unit none;
  assert_int_equal(dq_source_unit_wrap(0, NULL, 0, &none, &err), 0);
  assert_int_equal(read_task(st, 1, &none, 1, &got, &err), 0);
  assert_int_equal(got.n, 0);
  free(none.data);
  /* Units that are not CsvSplits, or name a file the scan lacks. */
  dq_work_unit junk = {(void *)"\xff\xff\xff", 3};
  assert_int_equal(read_task(st, 0, &junk, 1, &got, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "4-byte scan number"));
  assert_int_equal(dq_source_unit_wrap(0, "\xff\xff\xff", 3, &junk, &err),
                   0);
  assert_int_equal(read_task(st, 0, &junk, 1, &got, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "not a CsvSplit"));
  free(junk.data);
  {
    Dq__V1__CsvSplit m = DQ__V1__CSV_SPLIT__INIT;
    m.path = (char *)"/etc/passwd";
    m.length = 100;
    size_t len = dq__v1__csv_split__get_packed_size(&m);
    uint8_t *buf = malloc(len + 1);
    dq__v1__csv_split__pack(&m, buf);
    dq_work_unit w;
    assert_int_equal(dq_source_unit_wrap(0, buf, len, &w, &err), 0);
    free(buf);
    assert_int_equal(read_task(st, 0, &w, 1, &got, &err), DQ_EINVAL);
    assert_non_null(strstr(err.message, "/etc/passwd"));
    free(w.data);
  }
  result_text_free(&got);
  dq_work_units_free(u, n);
  free(task_of);
  dq_plan_free(p);
  result_text_free(&want);
}

/* --- malformed input ------------------------------------------------------*/

static dq_schema *small_schema(void) {
  const char *names[] = {"s", "i", "d", "day"};
  dq_type types[] = {{DQ_TYPE_UTF8, 0, 0},
                     {DQ_TYPE_INT32, 0, 0},
                     {DQ_TYPE_DECIMAL, 5, 2},
                     {DQ_TYPE_DATE32, 0, 0}};
  bool nullable[] = {true, false, true, true};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(4, names, types, nullable, &s, &err), 0);
  return s;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Scans `path` (written from text unless NULL) and returns the message. */
static int scan_text(const char *path, const char *text, dq_csv_options o,
                     const dq_schema *schema, result_text *rows,
                     dq_error *err) {
  if (text != NULL)
    write_text(path, text);
  dq_plan_builder *b;
  dq_plan_builder_new(&b, err);
  dq_plan_stage(b, dq_node_scan_csv_with(b, 1, &path, schema, &o), 1, 1,
                NULL);
  dq_plan *p = dqt_plan_finish(b);
  result_text tmp = {0};
  int rc = dq_plan_run_local(p, dqt_collect, rows ? rows : &tmp, err);
  result_text_free(&tmp);
  dq_plan_free(p);
  return rc;
}

static void expect_error(const char *text, dq_csv_options o,
                         const char *where, const char *what) {
  char path[128], want[512];
  snprintf(path, sizeof path, "%s/bad.csv", dir);
  snprintf(want, sizeof want, "%s:%s: %s", path, where, what);
  dq_schema *s = small_schema();
  dq_error err;
  dq_error_clear(&err);
  int rc = scan_text(path, text, o, s, NULL, &err);
  dq_schema_unref(s);
  unlink(path);
  if (rc >= 0)
    fail_msg("no error for %s", want);
  if (strcmp(err.message, want) != 0)
    fail_msg("expected\n  %s\ngot\n  %s", want, err.message);
}

static void test_errors(void **state) {
  (void)state;
  dq_csv_options o = {false, 0, 0};
  expect_error("a,1,2.5,2020-01-01\nb,2\n", o, "2:4",
               "too few fields: 2 of the schema's 4");
  expect_error("a,1,2.5,2020-01-01,x\n", o, "1:20",
               "too many fields: the schema has 4 columns");
  expect_error("a,1,2.5,2020-01-01\r\nb,x1,,\r\n", o, "2:3",
               "column \"i\" (int32): \"x1\" is not an integer in range");
  expect_error("a,99999999999,,\n", o, "1:3",
               "column \"i\" (int32): \"99999999999\" is not an integer in "
               "range");
  expect_error("a,1,1.234,\n", o, "1:5",
               "column \"d\" (decimal(5,2)): \"1.234\" is too many digits "
               "after the point");
  expect_error("a,1,1234.5,\n", o, "1:5",
               "column \"d\" (decimal(5,2)): \"1234.5\" is too many digits "
               "before the point");
  expect_error("a,1,1.2.3,\n", o, "1:5",
               "column \"d\" (decimal(5,2)): \"1.2.3\" is not a decimal "
               "number");
  expect_error("a,1,,2021-02-29\n", o, "1:6",
               "column \"day\" (date32): \"2021-02-29\" is not a date "
               "(YYYY-MM-DD)");
  expect_error("a,1,,\nb,,,\n", o, "2:3",
               "column \"i\" (int32) is not nullable but the field is empty "
               "(NULL)");
  expect_error("a,1,,\n\"b,2,,\nc,3,,\n", o, "2:1",
               "unterminated quoted field (the file ends inside it)");
  expect_error("\"a\"x,1,,\n", o, "1:4",
               "unexpected 'x' after a closing quote (a quote inside a "
               "quoted field is written twice)");
  expect_error("a,1,,\nok\xff\xfe,2,,\n", o, "2:1",
               "column \"s\" (utf8): \"ok??\" is not valid UTF-8");
  expect_error("\"\xc3\xa9t\xc3\xa9\",1,,\n\"\xc3\",2,,\n", o, "2:1",
               "column \"s\" (utf8): \"?\" is not valid UTF-8");
  dq_csv_options small = {false, 0, 16};
  expect_error("a,1,,\nb,2,,\nccccccccccccccccccccccccc,3,,\n", small, "3:1",
               "record longer than 16 bytes (the scan's max_line_bytes)");
  /* A record longer than the whole read buffer (1 MiB). */
  size_t big = (2u << 20) + 10;
  char *text = malloc(big + 32);
  assert_non_null(text);
  strcpy(text, "a,1,,\n");
  memset(text + 6, 'x', big);
  strcpy(text + 6 + big, ",1,,\n");
  expect_error(text, o, "2:1",
               "record longer than 1048576 bytes (the scan's "
               "max_line_bytes)");
  free(text);

  /* A file that does not exist: single-node, and on workers (where the
   * coordinator, cutting the files, finds out first). */
  char missing[160];
  snprintf(missing, sizeof missing, "%s/nope.csv", dir);
  dq_schema *s = small_schema();
  dq_error err;
  assert_true(scan_text(missing, NULL, o, s, NULL, &err) < 0);
  assert_int_equal(err.code, DQ_ENOENT);
  char want[256];
  snprintf(want, sizeof want, "cannot open CSV file %s: No such file or "
           "directory", missing);
  assert_string_equal(err.message, want);

  /* An error far into a file, read as a range in the middle of it: the
   * line is still counted from the start of the file. */
  char path[128];
  snprintf(path, sizeof path, "%s/late.csv", dir);
  FILE *f = fopen(path, "wb");
  fputs("s,i,d,day\n", f);
  for (int i = 0; i < 5000; i++)
    fprintf(f, "row%d,%d,%d.%02d,2020-03-%02d\n", i, i, i % 999, i % 100,
            1 + i % 28);
  fputs("bad,7,1.5,2020-13-01\n", f);
  fclose(f);
  dq_csv_options ranged = {true, 4096, 0};
  assert_true(scan_text(path, NULL, ranged, s, NULL, &err) < 0);
  snprintf(want, sizeof want, "%s:5002:11: column \"day\" (date32): "
           "\"2020-13-01\" is not a date (YYYY-MM-DD)", path);
  assert_string_equal(err.message, want);
  /* Without the error, every row of the ranged file is read once. */
  f = fopen(path, "r+b");
  fseek(f, -21, SEEK_END);
  fputs("bad,7,1.5,2020-12-01\n", f);
  fclose(f);
  result_text rows = {0};
  assert_int_equal(scan_text(path, NULL, ranged, s, &rows, &err), 0);
  assert_int_equal(rows.n, 5001);
  result_text_free(&rows);
  unlink(path);
  dq_schema_unref(s);
}

static void test_missing_file_distributed(void **state) {
  (void)state;
  char missing[160];
  snprintf(missing, sizeof missing, "%s/gone.csv", dir);
  char save[160];
  snprintf(save, sizeof save, "%s", paths[1]);
  snprintf(paths[1], sizeof paths[1], "%s", missing);
  result_text got = {0};
  size_t busy;
  dq_error err;
  dq_error_clear(&err);
  run_distributed(2, 2, 0, &got, &busy, &err);
  snprintf(paths[1], sizeof paths[1], "%s", save);
  assert_int_equal(err.code, DQ_ENOENT);
  assert_non_null(strstr(err.message, missing));
  result_text_free(&got);
}

/* --- quoting ----------------------------------------------------------------*/

static void test_quoting(void **state) {
  (void)state;
  const char *names[] = {"id", "text", "flag", "x"};
  dq_type types[] = {{DQ_TYPE_INT64, 0, 0},
                     {DQ_TYPE_UTF8, 0, 0},
                     {DQ_TYPE_BOOL, 0, 0},
                     {DQ_TYPE_FLOAT64, 0, 0}};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(4, names, types, NULL, &s, &err), 0);
  const char *text =
      "id,text,flag,x\r\n"
      "1,\"a, b\",true,1.5\r\n"
      "2,\"line one\nline two\",false,-2e3\n"
      "3,\"she said \"\"hi\"\"\",t,0\n"
      "4,\"\",f,\n"
      "5,,1,\"7.25\"\n"
      "-6,\"\"\"\",0,1e-3";
  static const char *const want_text[] = {
      "a, b", "line one\nline two", "she said \"hi\"", "", NULL, "\""};
  static const int want_flag[] = {1, 0, 1, 0, 1, 0};
  char path[128];
  snprintf(path, sizeof path, "%s/quoted.csv", dir);
  write_text(path, text);
  /* Read through the executor directly, to look at the values. */
  dq_plan_builder *b;
  dq_plan_builder_new(&b, &err);
  const char *ps[1] = {path};
  dq_csv_options o = {true, 0, 0};
  dq_plan_stage(b, dq_node_scan_csv_with(b, 1, ps, s, &o), 1, 1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  dq_exec_env env;
  memset(&env, 0, sizeof env);
  env.task_count = 1;
  env.n_partitions = 1;
  dq_exec *e;
  assert_int_equal(dq_exec_open(dq_plan_head(p), &env, 0, &e, &err), 0);
  dq_batch *batch;
  assert_int_equal(dq_exec_next(e, &batch, &err), 0);
  assert_non_null(batch);
  assert_int_equal(dq_batch_n_rows(batch), 6);
  const dq_array *id = dq_batch_column(batch, 0),
                 *tx = dq_batch_column(batch, 1),
                 *fl = dq_batch_column(batch, 2),
                 *x = dq_batch_column(batch, 3);
  for (int64_t r = 0; r < 6; r++) {
    assert_int_equal(dq_array_int64(id, r), r == 5 ? -6 : r + 1);
    if (want_text[r] == NULL) {
      assert_true(dq_array_is_null(tx, r));
    } else {
      size_t n;
      const char *v = dq_array_utf8(tx, r, &n);
      assert_false(dq_array_is_null(tx, r));
      assert_int_equal(n, strlen(want_text[r]));
      assert_memory_equal(v, want_text[r], n);
    }
    assert_int_equal(dq_array_bool(fl, r), want_flag[r]);
  }
  assert_true(dq_array_float64(x, 0) == 1.5);
  assert_true(dq_array_float64(x, 1) == -2000.0);
  assert_true(dq_array_is_null(x, 3));
  assert_true(dq_array_float64(x, 4) == 7.25);
  assert_true(dq_array_float64(x, 5) == 1e-3);
  dq_batch_unref(batch);
  assert_int_equal(dq_exec_next(e, &batch, &err), 0);
  assert_null(batch);
  dq_exec_close(e);
  dq_plan_free(p);
  /* Cut into ranges of every size: a boundary inside the quoted line
   * break fails the query saying so; every other cut reads the same
   * rows.  Never rows read wrong. */
  result_text whole = {0};
  assert_int_equal(scan_text(path, NULL, o, s, &whole, &err), 0);
  result_text_sort(&whole);
  int failed = 0, same = 0;
  for (int64_t split = 1; split <= (int64_t)strlen(text) + 1; split++) {
    result_text got = {0};
    o.split_bytes = split;
    if (scan_text(path, NULL, o, s, &got, &err) != 0) {
      if (strstr(err.message, "holds a line break across the boundary of "
                              "a byte range") == NULL)
        fail_msg("split %lld: %s", (long long)split, err.message);
      failed++;
    } else {
      result_text_sort(&got);
      if (!result_text_equal(&whole, &got))
        fail_msg("split %lld: rows differ", (long long)split);
      same++;
    }
    result_text_free(&got);
  }
  assert_true(failed > 0 && same > 0);
  /* The boundary at byte 41, inside "line one\nline two" (the break is
   * byte 41 of the file), is reported at that break: line 3, column 12. */
  o.split_bytes = 41;
  assert_true(scan_text(path, NULL, o, s, NULL, &err) < 0);
  char want[512];
  snprintf(want, sizeof want, "%s:3:12: a quoted field holds a line break "
           "across the boundary of a byte range (at byte 41): read files "
           "with line breaks in quoted fields as one range (split_bytes "
           "above the file size)", path);
  assert_string_equal(err.message, want);
  result_text_free(&whole);
  unlink(path);
  dq_schema_unref(s);
}

/* Ranges of every size from 1 byte: each boundary position, in a quoted
 * field, on a comma, a CR or LF, gives the same rows as one range. */
static void test_every_boundary(void **state) {
  (void)state;
  const char *names[] = {"id", "text"};
  dq_type types[] = {{DQ_TYPE_INT32, 0, 0}, {DQ_TYPE_UTF8, 0, 0}};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(2, names, types, NULL, &s, &err), 0);
  const char *text = "id,text\r\n"
                     "1,\"a, \"\"b\"\"\"\r\n"
                     "2,plain\n"
                     "3,\n"
                     "4,\"\"\r\n"
                     "5,\",,\"\n";
  char path[128];
  snprintf(path, sizeof path, "%s/every.csv", dir);
  write_text(path, text);
  result_text whole = {0};
  dq_csv_options o = {true, 0, 0};
  assert_int_equal(scan_text(path, NULL, o, s, &whole, &err), 0);
  result_text_sort(&whole);
  assert_int_equal(whole.n, 5);
  for (int64_t split = 1; split <= (int64_t)strlen(text) + 1; split++) {
    result_text got = {0};
    o.split_bytes = split;
    if (scan_text(path, NULL, o, s, &got, &err) != 0)
      fail_msg("split %lld: %s", (long long)split, err.message);
    result_text_sort(&got);
    if (!result_text_equal(&whole, &got))
      fail_msg("split %lld: rows differ", (long long)split);
    result_text_free(&got);
  }
  result_text_free(&whole);
  /* A header with the wrong number of fields is reported on line 1. */
  write_text(path, "id\n1,x\n");
  o.split_bytes = 0;
  assert_true(scan_text(path, NULL, o, s, NULL, &err) < 0);
  char want[256];
  snprintf(want, sizeof want, "%s:1:3: too few fields: 1 of the schema's 2",
           path);
  assert_string_equal(err.message, want);
  unlink(path);
  dq_schema_unref(s);
}

/* A head stage that scans runs in the coordinator, which sends itself no
 * units: it cuts the files and reads them all. */
static void test_head_scan(void **state) {
  (void)state;
  result_text want = {0}, got = {0};
  want_answer(&want, true);
  dqt_cluster c; /* no worker: the coordinator alone */
  dqt_cluster_up(&c, 0, DQT_WORKERS_IN_PROCESS, NULL);
  dq_error err;
  dq_plan_builder *b;
  dq_plan_builder_new(&b, &err);
  dq_plan_stage(b,
                dqt_returnflag_agg(b, csv_scan(b, 70001), DQ_AGG_SINGLE), 1,
                1, NULL);
  dq_plan *p = dqt_plan_finish(b);
  if (dqt_run_query(c.ctx, p, NULL, 0, &got, &err) < 0)
    fail_msg("%s", err.message);
  result_text_sort(&got);
  assert_true(result_text_equal(&want, &got));
  dqt_cluster_stop(&c, "test_scan_csv");
  dq_plan_free(p);
  result_text_free(&want);
  result_text_free(&got);
}

int main(void) {
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_local_equals_generator),
      cmocka_unit_test(test_codec_and_explain),
      cmocka_unit_test(test_work_units),
      cmocka_unit_test(test_distributed),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_missing_file_distributed),
      cmocka_unit_test(test_quoting),
      cmocka_unit_test(test_every_boundary),
      cmocka_unit_test(test_head_scan),
  };
  return cmocka_run_group_tests(tests, write_files, remove_files);
}
