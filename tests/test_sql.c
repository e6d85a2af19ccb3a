/* test_sql.c — the SQL front end (libdq/sql): plans from SQL give the
 * answers of the hand-built plans' semantics on small TPC-H data, every
 * kind of bad input gets its message (syntax errors with a caret, unknown
 * names with the closest one, type errors, unsupported constructs), the
 * catalog's specs and CREATE TABLE work, and libpg_query's bundled
 * protobuf-c runtime coexists with Debian's in this process: parsing and
 * dq's own plan codec both work, and Debian's runtime is the one bound. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <protobuf-c/protobuf-c.h>

#include <dq/plan.h>

#include "plan/plan_internal.h"
#include "sql.h"

typedef struct result {
  int n_stmts, n_done;
  int64_t rows;
  char first[256]; /* first row, columns joined by '|' */
  dq_sql_kind kind;
} result;

static int on_batch(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  result *r = ctx;
  if (r->rows == 0 && dq_batch_n_rows(b) > 0) {
    size_t off = 0;
    for (size_t c = 0; c < dq_batch_n_columns(b); c++) {
      const dq_array *a = dq_batch_column(b, c);
      char v[64];
      if (dq_array_is_null(a, 0))
        snprintf(v, sizeof v, "NULL");
      else if (dq_array_type(a).id == DQ_TYPE_INT64)
        snprintf(v, sizeof v, "%lld", (long long)dq_array_int64(a, 0));
      else if (dq_array_type(a).id == DQ_TYPE_INT32)
        snprintf(v, sizeof v, "%d", dq_array_int32(a, 0));
      else if (dq_array_type(a).id == DQ_TYPE_UTF8) {
        size_t n;
        const char *s = dq_array_utf8(a, 0, &n);
        snprintf(v, sizeof v, "%.*s", (int)n, s);
      } else
        snprintf(v, sizeof v, "?");
      off += (size_t)snprintf(r->first + off, sizeof r->first - off, "%s%s",
                              c ? "|" : "", v);
    }
  }
  r->rows += dq_batch_n_rows(b);
  return 0;
}

static int on_stmt(void *ctx, dq_sql_kind kind, const dq_plan *plan,
                   const char *message, dq_error *err) {
  result *r = ctx;
  r->n_stmts++;
  r->kind = kind;
  if (kind == DQ_SQL_DONE) {
    r->n_done++;
    assert_non_null(message);
    return 0;
  }
  r->rows = 0;
  r->first[0] = '\0';
  return dq_plan_run_local(plan, on_batch, r, err);
}

static dq_sql *session(void) {
  dq_sql *s = NULL;
  dq_error err;
  assert_int_equal(dq_sql_new(&s, &err), 0);
  dq_sql_set_tpch(s, 0.01, 0);
  const char *tables[] = {"lineitem", "orders", "customer", "part",
                          "partsupp", "supplier", "nation", "region"};
  for (size_t i = 0; i < 8; i++) {
    char spec[64];
    snprintf(spec, sizeof spec, "tpch:%s", tables[i]);
    assert_int_equal(dq_sql_add_table(s, tables[i], spec, &err), 0);
  }
  return s;
}

static result run_ok(dq_sql *s, const char *sql) {
  result r;
  memset(&r, 0, sizeof r);
  dq_error err;
  dq_error_clear(&err);
  int rc = dq_sql_exec(s, sql, on_stmt, &r, &err);
  if (rc != 0)
    fail_msg("%s: %s", sql, err.message);
  return r;
}

/* Runs sql expecting failure; the message must contain every fragment. */
static void run_fails(dq_sql *s, const char *sql, int code, ...) {
  result r;
  memset(&r, 0, sizeof r);
  dq_error err;
  dq_error_clear(&err);
  int rc = dq_sql_exec(s, sql, on_stmt, &r, &err);
  if (rc != code)
    fail_msg("%s: expected %d, got %d (%s)", sql, code, rc, err.message);
  va_list ap;
  va_start(ap, code);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
    if (strstr(err.message, frag) == NULL)
      fail_msg("%s: message lacks '%s':\n%s", sql, frag, err.message);
  va_end(ap);
}

static void test_queries(void **state) {
  (void)state;
  dq_sql *s = session();
  result r = run_ok(s, "select count(*) from nation");
  assert_int_equal(r.rows, 1);
  assert_string_equal(r.first, "25");
  r = run_ok(s, "select n_name from nation, region where n_regionkey = "
                "r_regionkey and r_name = 'ASIA' order by n_name limit 1 "
                "offset 1");
  assert_string_equal(r.first, "INDIA");
  /* Correlated EXISTS, NOT IN, scalar subquery, CTE, UNION ALL, DISTINCT,
   * COUNT(DISTINCT), LEFT and RIGHT joins. */
  r = run_ok(s, "select count(*) from nation n where exists (select * from "
                "supplier where s_nationkey = n.n_nationkey)");
  assert_int_equal(r.rows, 1);
  r = run_ok(s, "select count(*) from region where r_regionkey not in "
                "(select n_regionkey from nation where n_nationkey < 3)");
  assert_string_equal(r.first, "3"); /* regions 0 and 1 are taken */
  r = run_ok(s, "select count(*) from nation where n_nationkey > (select "
                "avg(n_nationkey) from nation)");
  assert_string_equal(r.first, "12");
  r = run_ok(s, "with r as (select r_regionkey k from region) select "
                "count(*) from r");
  assert_string_equal(r.first, "5");
  r = run_ok(s, "select r_name from region union all select n_name from "
                "nation");
  assert_int_equal(r.rows, 30);
  r = run_ok(s, "select distinct n_regionkey from nation");
  assert_int_equal(r.rows, 5);
  r = run_ok(s, "select count(distinct n_regionkey) from nation");
  assert_string_equal(r.first, "5");
  r = run_ok(s, "select count(*), count(n_name) from region left join "
                "nation on n_regionkey = r_regionkey and n_nationkey < 0");
  assert_string_equal(r.first, "5|0");
  r = run_ok(s, "select count(*) from nation right join region on "
                "n_regionkey = r_regionkey");
  assert_string_equal(r.first, "25");
  r = run_ok(s, "create view v as select n_name from nation; select count(*) "
                "from v; drop view v");
  assert_int_equal(r.n_stmts, 3);
  assert_int_equal(r.n_done, 2);
  r = run_ok(s, "explain select * from region");
  assert_int_equal(r.kind, DQ_SQL_EXPLAIN);
  r = run_ok(s, "explain analyze select * from region");
  assert_int_equal(r.kind, DQ_SQL_EXPLAIN_ANALYZE);
  /* A correlated scalar subquery in the select list: regions without a
   * nation key below 2 read NULL (a LEFT join), not vanish. */
  r = run_ok(s, "select r_regionkey, (select min(n_nationkey) from nation "
                "where n_regionkey = r_regionkey and n_nationkey < 2) from "
                "region order by r_regionkey");
  assert_int_equal(r.rows, 5);
  assert_string_equal(r.first, "0|0");
  r = run_ok(s, "select count(*) from region where (select max(n_nationkey) "
                "from nation where n_regionkey = r_regionkey and n_nationkey "
                "< 2) is null");
  assert_string_equal(r.first, "3");
  /* Intervals: months clamp to the month's end, as in PostgreSQL. */
  r = run_ok(s, "select count(*) from nation where date '1995-01-31' + "
                "interval '1' month = date '1995-02-28'");
  assert_string_equal(r.first, "25");
  r = run_ok(s, "select n_regionkey, count(*) from nation group by "
                "n_regionkey having count(*) > 4 and min(n_name) < 'B' order "
                "by 1");
  assert_string_equal(r.first, "0|5");
  dq_sql_free(s);
}

static void test_errors(void **state) {
  (void)state;
  dq_sql *s = session();
  /* A syntax error: line, column and a caret under the token. */
  run_fails(s, "select *\nfrom nation\nwehre n_name = 'x'", DQ_EINVAL,
            "line 3, column 7", "syntax error", "wehre n_name", "^", NULL);
  run_fails(s, "select n_nme from nation", DQ_ENOENT,
            "column \"n_nme\" does not exist", "did you mean \"n_name\"",
            "line 1, column 8", NULL);
  run_fails(s, "select * from natoin", DQ_ENOENT,
            "relation \"natoin\" does not exist", "did you mean \"nation\"",
            NULL);
  run_fails(s, "select x.n_name from nation", DQ_ENOENT,
            "missing FROM-clause entry for table \"x\"", NULL);
  run_fails(s, "select n_name + 1 from nation", DQ_EINVAL,
            "operator + does not apply to text and integer", NULL);
  run_fails(s, "select * from nation where n_name > 3", DQ_EINVAL,
            "cannot compare text with integer", NULL);
  run_fails(s, "select n_name, count(*) from nation", DQ_EINVAL,
            "must appear in the GROUP BY clause", NULL);
  run_fails(s, "select * from nation where sum(n_nationkey) > 1", DQ_EINVAL,
            "aggregate function sum is not allowed here", NULL);
  run_fails(s, "select * from nation full join region on n_regionkey = "
               "r_regionkey", DQ_EUNSUPPORTED, "FULL OUTER JOIN", NULL);
  run_fails(s, "select rank() over () from nation", DQ_EUNSUPPORTED,
            "window functions", NULL);
  run_fails(s, "insert into nation values (1)", DQ_EUNSUPPORTED,
            "INSERT statements are not supported", NULL);
  run_fails(s, "select n_nationkey from nation, nation", DQ_EINVAL,
            "specified more than once", NULL);
  run_fails(s, "select date '1995-02-30' from nation", DQ_EINVAL,
            "invalid date '1995-02-30'", NULL);
  run_fails(s, "select n_name from nation where n_name like n_comment",
            DQ_EUNSUPPORTED, "LIKE takes a constant pattern", NULL);
  run_fails(s, "select (select n_name from nation) from region",
            DQ_EUNSUPPORTED, "scalar subquery must be an aggregate", NULL);
  run_fails(s, "select 1", DQ_EUNSUPPORTED, "SELECT without FROM", NULL);
  run_fails(s, "select * from region where (select count(*) from nation "
               "where n_regionkey = r_regionkey) = 0",
            DQ_EUNSUPPORTED, "correlated scalar subquery with count()", NULL);
  run_fails(s, "select * from nation where n_name in (select r_name, "
               "r_regionkey from region)",
            DQ_EINVAL, "subquery has too many columns", NULL);
  run_fails(s, "create table t (a int) with (format = 'csv')", DQ_EINVAL,
            "CREATE TABLE needs WITH (location", NULL);
  run_fails(s, "drop view nosuch", DQ_ENOENT, "view \"nosuch\" does not "
                                              "exist", NULL);
  run_fails(s, "select r_name from region union select r_regionkey from "
               "region", DQ_EINVAL, "different types", NULL);
  dq_sql_free(s);
}

static void test_catalog(void **state) {
  (void)state;
  dq_sql *s = NULL;
  dq_error err;
  assert_int_equal(dq_sql_new(&s, &err), 0);
  char dir[] = "/tmp/dq-test-sql-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/t.csv", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("id,price,day,name\n1,1.50,1995-01-02,\"a, b\"\n2,,1996-03-04,c\n",
        f);
  fclose(f);
  char arg[300];
  snprintf(arg, sizeof arg, "t=csv:%s/*.csv", dir);
  assert_int_equal(dq_sql_add_table_arg(s, arg, &err), 0);
  result r = run_ok(s, "select count(*), count(price), max(day), min(name) "
                       "from t");
  assert_string_equal(r.first, "2|1|?|a, b"); /* dates print as '?' here */
  char ddl[512];
  snprintf(ddl, sizeof ddl,
           "create table u (id bigint, price decimal(10,2), day date, name "
           "text) with (location = '%s/t.csv', format = 'csv'); select "
           "count(*) from u where day > '1995-06-01'",
           dir);
  r = run_ok(s, ddl);
  assert_string_equal(r.first, "1");
  assert_int_equal(dq_sql_add_table_arg(s, "bad", &err), DQ_EINVAL);
  assert_int_equal(dq_sql_add_table(s, "x", "parquet:/a", &err), DQ_EINVAL);
  assert_int_equal(dq_sql_add_table(s, "x", "csv:/nonexistent/*.csv", &err),
                   DQ_ENOENT);
  assert_int_equal(dq_sql_add_table(s, "x", "tpch:nosuch", &err), DQ_ENOENT);
  unlink(path);
  rmdir(dir);
  dq_sql_free(s);
}

/* libpg_query bundles protobuf-c 1.4.0 under the names of Debian's
 * libprotobuf-c: the link order makes Debian's serve the whole process,
 * and both users work in it. */
static void test_protobuf_runtimes(void **state) {
  (void)state;
  Dl_info info;
  assert_true(dladdr((void *)protobuf_c_message_unpack, &info) != 0);
  assert_non_null(strstr(info.dli_fname, "libprotobuf-c"));
  dq_sql *s = session();
  result r = run_ok(s, "select count(*) from region");
  assert_string_equal(r.first, "5");
  /* dq's plan codec on a plan made from SQL. */
  dq_plan *p = NULL;
  dq_plan_builder *b = NULL;
  dq_error err;
  assert_int_equal(dq_plan_builder_new(&b, &err), 0);
  dq_node *n = dq_node_scan_tpch(b, "region", 0.01, 0, NULL, 0);
  dq_plan_stage(b, n, 1, 1, NULL);
  assert_int_equal(dq_plan_builder_finish(b, &p, &err), 0);
  dq_plan_builder_free(b);
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(dq_plan_encode(p, &buf, &len, &err), 0);
  dq_plan *back = NULL;
  assert_int_equal(dq_plan_decode(buf, len, &back, &err), 0);
  char e1[2048], e2[2048];
  dq_plan_explain(p, e1, sizeof e1);
  dq_plan_explain(back, e2, sizeof e2);
  assert_string_equal(e1, e2);
  free(buf);
  dq_plan_free(back);
  dq_plan_free(p);
  dq_sql_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queries),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_catalog),
      cmocka_unit_test(test_protobuf_runtimes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
