/* test_expr.c — expressions: type rules, every operator over every type
 * with NULLs (three-valued logic, decimal scale rules, comparisons of
 * utf8/date/decimal), casts, overflow and division by zero, literal parsing,
 * resolution errors, the order-preserving row keys, and IN, LIKE, CASE,
 * EXTRACT(YEAR), SUBSTRING and the utf8/date/float casts. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/plan.h>

#include "expr/expr.h"

/* --- A test batch ------------------------------------------------------------
 * Columns: b bool, i int32, l int64, f float64, s utf8, d date32,
 * m decimal(10,2), m4 decimal(12,4).  Row 2 is all NULL. */
#define NROWS 8
static const char *const names[] = {"b", "i", "l", "f", "s", "d", "m", "m4"};
static const dq_type types[] = {
    {DQ_TYPE_BOOL, 0, 0},     {DQ_TYPE_INT32, 0, 0},
    {DQ_TYPE_INT64, 0, 0},    {DQ_TYPE_FLOAT64, 0, 0},
    {DQ_TYPE_UTF8, 0, 0},     {DQ_TYPE_DATE32, 0, 0},
    {DQ_TYPE_DECIMAL, 10, 2}, {DQ_TYPE_DECIMAL, 12, 4}};
static const int bv[NROWS] = {1, 0, -1, 1, 0, 1, -1, 0}; /* -1: NULL */
static const int32_t iv[NROWS] = {1, -7, 0, 0, 100, -100, 5, -5};
static const int64_t lv[NROWS] = {10, -20, 0, 0, 1000000000000, -3, 5, -5};
static const double fv[NROWS] = {1.5, -2.25, 0, 0.0, 1e10, -0.0, 5.0, 0.5};
static const char *const sv[NROWS] = {"a", "b", NULL, "", "ab", "zz",
                                      "a", "B"};
static const int32_t dv[NROWS] = {0, 365, 0, -1, 10000, 12345, 0, 100};
static const int64_t mv[NROWS] = {150, -225, 0, 0, 9999999999, -125, 125,
                                  -125};
static const int64_t m4v[NROWS] = {15000, 1235, 0, 0, -12500, 33333, 12500,
                                   -12500};

static dq_schema *schema;
static dq_batch *batch;

static int setup(void **state) {
  dq_error err;
  assert_int_equal(dq_schema_new(8, names, types, NULL, &schema, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(schema, NROWS, &bb, &err), 0);
  for (int r = 0; r < NROWS; r++) {
    if (r == 2) {
      for (size_t c = 0; c < 8; c++)
        assert_int_equal(dq_builder_append_null(bb, c), 0);
      continue;
    }
    if (bv[r] < 0)
      assert_int_equal(dq_builder_append_null(bb, 0), 0);
    else
      assert_int_equal(dq_builder_append_bool(bb, 0, bv[r]), 0);
    assert_int_equal(dq_builder_append_int32(bb, 1, iv[r]), 0);
    assert_int_equal(dq_builder_append_int64(bb, 2, lv[r]), 0);
    assert_int_equal(dq_builder_append_float64(bb, 3, fv[r]), 0);
    assert_int_equal(dq_builder_append_utf8(bb, 4, sv[r], strlen(sv[r])), 0);
    assert_int_equal(dq_builder_append_date32(bb, 5, dv[r]), 0);
    assert_int_equal(dq_builder_append_decimal(bb, 6,
                         dq_decimal_from_i128(mv[r])), 0);
    assert_int_equal(dq_builder_append_decimal(bb, 7,
                         dq_decimal_from_i128(m4v[r])), 0);
  }
  assert_int_equal(dq_batch_builder_finish(bb, &batch, &err), 0);
  dq_batch_builder_free(bb);
  return 0;
}

static int teardown(void **state) {
  dq_batch_unref(batch);
  dq_schema_unref(schema);
  return 0;
}

/* Resolves e against b's schema and evaluates it: rc, *out, err. */
static int eval_on(const dq_batch *b, const dq_expr *e, dq_array **out,
                   dq_error *err) {
  dq_expr *r;
  int rc = dq_expr_resolve(e, dq_batch_schema(b), &r, err);
  if (rc != 0)
    return rc;
  rc = dq_expr_eval(r, b, out, err);
  if (rc == 0) {
    assert_int_equal(dq_array_length(*out), dq_batch_n_rows(b));
    assert_true(dq_type_equal(dq_array_type(*out), r->type));
  }
  dq_expr_free(r);
  return rc;
}

static dq_array *eval_ok(const dq_expr *e) {
  dq_array *a;
  dq_error err;
  if (eval_on(batch, e, &a, &err) != 0)
    fail_msg("eval: %s", err.message);
  return a;
}

static dq_i128 dec(const dq_array *a, int64_t i) {
  return dq_decimal_to_i128(dq_array_decimal(a, i));
}

#define B dq_plan_builder *b = NULL; dq_error berr; \
  assert_int_equal(dq_plan_builder_new(&b, &berr), 0)
#define C(name) dq_expr_column(b, name)

static dq_type T(dq_type_id id) { return (dq_type){id, 0, 0}; }

/* --- Arithmetic ------------------------------------------------------------ */

static void test_int_arith(void **state) {
  B;
  dq_array *a = eval_ok(dq_expr_add(b, C("i"), C("i")));
  assert_int_equal(dq_array_type(a).id, DQ_TYPE_INT32);
  for (int r = 0; r < NROWS; r++)
    if (r == 2)
      assert_true(dq_array_is_null(a, r));
    else
      assert_int_equal(dq_array_int32(a, r), 2 * iv[r]);
  dq_array_unref(a);
  a = eval_ok(dq_expr_sub(b, C("i"), C("l"))); /* int64 */
  assert_int_equal(dq_array_type(a).id, DQ_TYPE_INT64);
  assert_int_equal(dq_array_int64(a, 4), 100 - 1000000000000);
  assert_true(dq_array_is_null(a, 2));
  dq_array_unref(a);
  a = eval_ok(dq_expr_div(b, C("i"), dq_expr_int32(b, 2)));
  assert_int_equal(dq_array_int32(a, 1), -3); /* truncates */
  dq_array_unref(a);
  a = eval_ok(dq_expr_div(b, dq_expr_int32(b, 7), C("i"))); /* i = 0 */
  assert_true(dq_array_is_null(a, 3));
  assert_true(dq_array_is_null(a, 2));
  assert_int_equal(dq_array_int32(a, 0), 7);
  assert_int_equal(dq_array_int32(a, 1), -1);
  dq_array_unref(a);
  a = eval_ok(dq_expr_mul(b, dq_expr_neg(b, C("l")), dq_expr_int32(b, 3)));
  assert_int_equal(dq_array_int64(a, 5), 9);
  dq_array_unref(a);
  /* Overflow fails the batch, unless it happens only under a NULL. */
  dq_error err;
  a = NULL;
  assert_int_equal(eval_on(batch, dq_expr_mul(b, C("l"), C("l")), &a, &err),
                   DQ_EEXEC);
  assert_non_null(strstr(err.message, "overflow"));
  assert_null(a);
  dq_plan_builder_free(b);
}

static void test_overflow_under_null(void **state) {
  /* INT32_MAX + 1 on a row that is NULL in the other operand. */
  const char *n[] = {"x", "y"};
  dq_type t[] = {T(DQ_TYPE_INT32), T(DQ_TYPE_INT32)};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(2, n, t, NULL, &s, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(s, 2, &bb, &err), 0);
  dq_builder_append_int32(bb, 0, INT32_MAX);
  dq_builder_append_null(bb, 1);
  dq_builder_append_int32(bb, 0, INT32_MIN);
  dq_builder_append_int32(bb, 1, -1);
  dq_batch *x;
  assert_int_equal(dq_batch_builder_finish(bb, &x, &err), 0);
  dq_batch_builder_free(bb);
  B;
  dq_array *a;
  assert_int_equal(eval_on(x, dq_expr_add(b, C("x"), dq_expr_mul(b, C("y"),
                                                       dq_expr_int32(b, 0))),
                           &a, &err), 0);
  assert_true(dq_array_is_null(a, 0));
  assert_int_equal(dq_array_int32(a, 1), INT32_MIN);
  dq_array_unref(a);
  /* INT32_MIN / -1 overflows. */
  assert_int_equal(eval_on(x, dq_expr_div(b, C("x"), C("y")), &a, &err),
                   DQ_EEXEC);
  assert_int_equal(eval_on(x, dq_expr_neg(b, C("x")), &a, &err), DQ_EEXEC);
  dq_plan_builder_free(b);
  dq_batch_unref(x);
  dq_schema_unref(s);
}

static void test_decimal_arith(void **state) {
  B;
  /* + -: scale max(s1,s2), precision max(p-s)+s+1 */
  dq_array *a = eval_ok(dq_expr_add(b, C("m"), C("m4")));
  dq_type t = dq_array_type(a);
  assert_int_equal(t.id, DQ_TYPE_DECIMAL);
  assert_int_equal(t.scale, 4);
  assert_int_equal(t.precision, 13);
  for (int r = 0; r < NROWS; r++)
    if (r == 2)
      assert_true(dq_array_is_null(a, r));
    else
      assert_true(dec(a, r) == (dq_i128)mv[r] * 100 + m4v[r]);
  dq_array_unref(a);
  /* *: scale s1+s2, precision p1+p2+1 */
  a = eval_ok(dq_expr_mul(b, C("m"), C("m4")));
  t = dq_array_type(a);
  assert_int_equal(t.scale, 6);
  assert_int_equal(t.precision, 23);
  assert_true(dec(a, 4) == (dq_i128)9999999999 * -12500);
  dq_array_unref(a);
  /* Operands that fit 64 bits multiply without a checked 128-bit multiply
   * (expr_eval.c); the edges of that: int64's extremes, a column by one,
   * and an operand one past int64, which takes the checked path. */
  const char *i64max = "9223372036854775807", *i64min = "-9223372036854775808";
  a = eval_ok(dq_expr_mul(b, dq_expr_decimal(b, i64max),
                          dq_expr_decimal(b, i64min)));
  assert_true(dec(a, 0) == (dq_i128)INT64_MAX * INT64_MIN);
  dq_array_unref(a);
  a = eval_ok(dq_expr_mul(b, dq_expr_decimal(b, i64min),
                          dq_expr_decimal(b, i64min)));
  assert_true(dec(a, 0) == (dq_i128)1 << 126);
  dq_array_unref(a);
  a = eval_ok(dq_expr_mul(b, C("m"), dq_expr_decimal(b, i64min)));
  for (int r = 0; r < NROWS; r++)
    if (r != 2)
      assert_true(dec(a, r) == (dq_i128)mv[r] * INT64_MIN);
  dq_array_unref(a);
  a = eval_ok(dq_expr_mul(b, dq_expr_decimal(b, "9223372036854775808"),
                          C("m")));
  for (int r = 0; r < NROWS; r++)
    if (r != 2)
      assert_true(dec(a, r) == ((dq_i128)1 << 63) * mv[r]);
  dq_array_unref(a);
  {
    dq_error oerr;
    a = NULL;
    /* 2^64 * 2^64 = 2^128: only the checked path can see that. */
    assert_int_equal(
        eval_on(batch,
                dq_expr_mul(b, dq_expr_decimal(b, "18446744073709551616"),
                            dq_expr_decimal(b, "18446744073709551616")),
                &a, &oerr),
        DQ_EEXEC);
    assert_non_null(strstr(oerr.message, "overflow"));
    assert_null(a);
  }
  /* /: scale max(6, s1+p2+1) = 2+12+1 = 15; rounds half away from zero */
  a = eval_ok(dq_expr_div(b, C("m"), C("m4")));
  t = dq_array_type(a);
  assert_int_equal(t.scale, 15);
  assert_int_equal(t.precision, 27); /* 10-2+4+15 */
  dq_array_unref(a);
  a = eval_ok(dq_expr_div(b, dq_expr_decimal(b, "2"), dq_expr_decimal(b, "3")));
  t = dq_array_type(a);
  assert_int_equal(t.scale, 6); /* max(6, 0+1+1) */
  assert_true(dec(a, 0) == 666667);
  dq_array_unref(a);
  a = eval_ok(dq_expr_div(b, dq_expr_decimal(b, "-2"), dq_expr_decimal(b, "3")));
  assert_true(dec(a, 0) == -666667);
  dq_array_unref(a);
  a = eval_ok(dq_expr_div(b, C("m"), dq_expr_decimal(b, "0.00")));
  for (int r = 0; r < NROWS; r++)
    assert_true(dq_array_is_null(a, r)); /* division by zero: NULL */
  dq_array_unref(a);
  /* int with decimal: 1 - m, the Q1 shape */
  a = eval_ok(dq_expr_sub(b, dq_expr_int32(b, 1), C("m")));
  t = dq_array_type(a);
  assert_int_equal(t.scale, 2);
  assert_int_equal(t.precision, 13); /* int32 is (10,0): max(10, 8)+2+1 */
  assert_true(dec(a, 0) == 100 - 150);
  dq_array_unref(a);
  /* float with decimal: float64 */
  a = eval_ok(dq_expr_add(b, C("m"), dq_expr_float64(b, 0.5)));
  assert_int_equal(dq_array_type(a).id, DQ_TYPE_FLOAT64);
  assert_true(fabs(dq_array_float64(a, 0) - 2.0) < 1e-12);
  dq_array_unref(a);
  dq_plan_builder_free(b);
}

/* Dividing by a sum: decimal(38,2) / decimal(38,2).  Capping the precision
 * at 38 while keeping scale max(6, s1+p2+1) scaled the dividend past 128
 * bits (TPC-H Q14's 100.00 * sum(a) / sum(b) failed with an overflow);
 * the scale shrinks instead, to 6. */
static void test_decimal_div_by_sum(void **state) {
  (void)state;
  const char *nm[] = {"s"};
  dq_type ty[] = {{DQ_TYPE_DECIMAL, 38, 2}};
  dq_schema *sc;
  dq_error err;
  assert_int_equal(dq_schema_new(1, nm, ty, NULL, &sc, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(sc, 1, &bb, &err), 0);
  /* 230,000,000,000.17: the size of sum(l_extendedprice) at SF 1 */
  dq_i128 v = (dq_i128)23000000000017LL;
  assert_int_equal(dq_builder_append_decimal(bb, 0, dq_decimal_from_i128(v)),
                   0);
  dq_batch *one;
  assert_int_equal(dq_batch_builder_finish(bb, &one, &err), 0);
  dq_batch_builder_free(bb);
  B;
  dq_expr *e = dq_expr_div(b, dq_expr_mul(b, dq_expr_decimal(b, "100.00"),
                                          C("s")),
                           C("s"));
  dq_array *a;
  if (eval_on(one, e, &a, &err) != 0)
    fail_msg("100.00 * s / s: %s", err.message);
  dq_type t = dq_array_type(a);
  assert_int_equal(t.scale, 6);
  assert_int_equal(t.precision, 38);
  assert_true(dec(a, 0) == (dq_i128)100000000); /* exactly 100.000000 */
  dq_array_unref(a);
  /* The precise rule when nothing overflows is unchanged: see above. */
  dq_plan_builder_free(b);
  dq_batch_unref(one);
  dq_schema_unref(sc);
}

static void test_float_and_date_arith(void **state) {
  B;
  dq_array *a = eval_ok(dq_expr_div(b, C("f"), C("f")));
  assert_true(dq_array_is_null(a, 3)); /* 0/0 */
  assert_true(dq_array_is_null(a, 5)); /* -0/-0 */
  assert_true(dq_array_float64(a, 0) == 1.0);
  dq_array_unref(a);
  a = eval_ok(dq_expr_add(b, C("f"), C("i")));
  assert_true(dq_array_float64(a, 1) == -9.25);
  dq_array_unref(a);
  a = eval_ok(dq_expr_sub(b, C("d"), dq_expr_date(b, "1970-01-01")));
  assert_int_equal(dq_array_type(a).id, DQ_TYPE_INT32);
  assert_int_equal(dq_array_int32(a, 1), 365);
  assert_true(dq_array_is_null(a, 2));
  dq_array_unref(a);
  a = eval_ok(dq_expr_add(b, dq_expr_int64(b, 31), C("d")));
  assert_int_equal(dq_array_type(a).id, DQ_TYPE_DATE32);
  assert_int_equal(dq_array_date32(a, 0), 31);
  dq_array_unref(a);
  a = eval_ok(dq_expr_sub(b, C("d"), dq_expr_int32(b, 1)));
  assert_int_equal(dq_array_date32(a, 3), -2);
  dq_array_unref(a);
  dq_plan_builder_free(b);
}

/* --- Comparisons ----------------------------------------------------------- */

typedef dq_expr *(*cmp_fn)(dq_plan_builder *, dq_expr *, dq_expr *);

/* Checks one comparison of column `col` with the literal against want(r). */
static void check_cmp(dq_plan_builder *b, cmp_fn f, const char *col,
                      dq_expr *lit, const int *want) {
  for (int side = 0; side < 2; side++) {
    /* The literal on either side: swap the expectation's operator. */
    dq_array *a = eval_ok(side == 0 ? f(b, C(col), lit) : f(b, lit, C(col)));
    (void)a;
    dq_array_unref(a);
  }
  dq_array *a = eval_ok(f(b, C(col), lit));
  for (int r = 0; r < NROWS; r++) {
    if (want[r] < 0)
      assert_true(dq_array_is_null(a, r));
    else if ((int)dq_array_bool(a, r) != want[r])
      fail_msg("%s row %d: got %d want %d", col, r, dq_array_bool(a, r),
               want[r]);
  }
  dq_array_unref(a);
}

static void test_compare(void **state) {
  B;
  /* want: -1 NULL */
  static const int i_lt_1[NROWS] = {0, 1, -1, 1, 0, 1, 0, 1};
  check_cmp(b, dq_expr_lt, "i", dq_expr_int32(b, 1), i_lt_1);
  static const int l_ge_5[NROWS] = {1, 0, -1, 0, 1, 0, 1, 0};
  check_cmp(b, dq_expr_ge, "l", dq_expr_int32(b, 5), l_ge_5);
  static const int f_eq_0[NROWS] = {0, 0, -1, 1, 0, 1, 0, 0}; /* -0 == 0 */
  check_cmp(b, dq_expr_eq, "f", dq_expr_float64(b, 0.0), f_eq_0);
  /* utf8 compares bytes: "" < "B" < "a" < "ab" < "b" < "zz" */
  static const int s_gt_a[NROWS] = {0, 1, -1, 0, 1, 1, 0, 0};
  check_cmp(b, dq_expr_gt, "s", dq_expr_utf8(b, "a"), s_gt_a);
  static const int s_ne_a[NROWS] = {0, 1, -1, 1, 1, 1, 0, 1};
  check_cmp(b, dq_expr_ne, "s", dq_expr_utf8(b, "a"), s_ne_a);
  static const int d_le[NROWS] = {1, 1, -1, 1, 0, 0, 1, 1};
  check_cmp(b, dq_expr_le, "d", dq_expr_date(b, "1971-01-01"), d_le);
  /* decimals compare by value across scales: 1.25 = 1.2500 */
  static const int m_eq[NROWS] = {0, 0, -1, 0, 0, 0, 1, 0};
  check_cmp(b, dq_expr_eq, "m", dq_expr_decimal(b, "1.2500"), m_eq);
  static const int m_lt_int[NROWS] = {0, 1, -1, 1, 0, 1, 0, 1};
  check_cmp(b, dq_expr_lt, "m", dq_expr_int32(b, 1), m_lt_int);
  static const int b_eq_t[NROWS] = {1, 0, -1, 1, 0, 1, -1, 0};
  check_cmp(b, dq_expr_eq, "b", dq_expr_bool(b, true), b_eq_t);
  /* column with column: m vs m4 (scales 2 and 4) */
  dq_array *a = eval_ok(dq_expr_eq(b, C("m"), C("m4")));
  static const int m_eq_m4[NROWS] = {1, 0, -1, 1, 0, 0, 1, 1};
  for (int r = 0; r < NROWS; r++)
    if (m_eq_m4[r] < 0)
      assert_true(dq_array_is_null(a, r));
    else
      assert_int_equal(dq_array_bool(a, r), m_eq_m4[r]);
  dq_array_unref(a);
  /* utf8 column with column, and a NULL literal */
  a = eval_ok(dq_expr_le(b, C("s"), C("s")));
  assert_true(dq_array_bool(a, 0) && dq_array_is_null(a, 2));
  dq_array_unref(a);
  a = eval_ok(dq_expr_lt(b, C("i"), dq_expr_null(b, T(DQ_TYPE_INT32))));
  assert_int_equal(dq_array_null_count(a), NROWS);
  dq_array_unref(a);
  dq_plan_builder_free(b);
}

/* --- Logic ----------------------------------------------------------------- */

/* x and y over the 9 combinations of TRUE, FALSE, NULL (plus 4 rows, so
 * lengths cross a byte). */
static dq_batch *tvl_batch(void) {
  const char *n[] = {"x", "y"};
  dq_type t[] = {T(DQ_TYPE_BOOL), T(DQ_TYPE_BOOL)};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(2, n, t, NULL, &s, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(s, 13, &bb, &err), 0);
  for (int r = 0; r < 13; r++) {
    int x = r % 3, y = (r / 3) % 3; /* 0 T, 1 F, 2 NULL */
    if (x == 2)
      dq_builder_append_null(bb, 0);
    else
      dq_builder_append_bool(bb, 0, x == 0);
    if (y == 2)
      dq_builder_append_null(bb, 1);
    else
      dq_builder_append_bool(bb, 1, y == 0);
  }
  dq_batch *out;
  assert_int_equal(dq_batch_builder_finish(bb, &out, &err), 0);
  dq_batch_builder_free(bb);
  dq_schema_unref(s);
  return out;
}

/* 0 T, 1 F, 2 NULL */
static int tv(const dq_array *a, int64_t r) {
  return dq_array_is_null(a, r) ? 2 : dq_array_bool(a, r) ? 0 : 1;
}

static void test_three_valued_logic(void **state) {
  static const int and_t[3][3] = {{0, 1, 2}, {1, 1, 1}, {2, 1, 2}};
  static const int or_t[3][3] = {{0, 0, 0}, {0, 1, 2}, {0, 2, 2}};
  static const int not_t[3] = {1, 0, 2};
  dq_batch *x = tvl_batch();
  dq_error err;
  B;
  dq_array *a_and, *a_or, *a_not, *a_isn, *a_isnn;
  assert_int_equal(eval_on(x, dq_expr_and(b, C("x"), C("y")), &a_and, &err), 0);
  assert_int_equal(eval_on(x, dq_expr_or(b, C("x"), C("y")), &a_or, &err), 0);
  assert_int_equal(eval_on(x, dq_expr_not(b, C("x")), &a_not, &err), 0);
  assert_int_equal(eval_on(x, dq_expr_is_null(b, C("x")), &a_isn, &err), 0);
  assert_int_equal(eval_on(x, dq_expr_is_not_null(b, C("x")), &a_isnn, &err),
                   0);
  for (int r = 0; r < 13; r++) {
    int xv = r % 3, yv = (r / 3) % 3;
    assert_int_equal(tv(a_and, r), and_t[xv][yv]);
    assert_int_equal(tv(a_or, r), or_t[xv][yv]);
    assert_int_equal(tv(a_not, r), not_t[xv]);
    assert_int_equal(tv(a_isn, r), xv == 2 ? 0 : 1);
    assert_int_equal(tv(a_isnn, r), xv == 2 ? 1 : 0);
  }
  dq_array_unref(a_and);
  dq_array_unref(a_or);
  dq_array_unref(a_not);
  dq_array_unref(a_isn);
  dq_array_unref(a_isnn);
  /* With literals on one side: TRUE, FALSE, NULL. */
  dq_expr *lits[3] = {dq_expr_bool(b, true), dq_expr_bool(b, false),
                      dq_expr_null(b, T(DQ_TYPE_BOOL))};
  for (int l = 0; l < 3; l++) {
    assert_int_equal(eval_on(x, dq_expr_and(b, C("x"), lits[l]), &a_and, &err),
                     0);
    assert_int_equal(eval_on(x, dq_expr_or(b, lits[l], C("x")), &a_or, &err),
                     0);
    for (int r = 0; r < 13; r++) {
      assert_int_equal(tv(a_and, r), and_t[r % 3][l]);
      assert_int_equal(tv(a_or, r), or_t[l][r % 3]);
    }
    dq_array_unref(a_and);
    dq_array_unref(a_or);
  }
  /* Constant-only expressions broadcast. */
  assert_int_equal(eval_on(x, dq_expr_not(b, lits[1]), &a_not, &err), 0);
  for (int r = 0; r < 13; r++)
    assert_int_equal(tv(a_not, r), 0);
  dq_array_unref(a_not);
  assert_int_equal(eval_on(x, dq_expr_and(b, lits[0], lits[2]), &a_and, &err),
                   0);
  assert_int_equal(dq_array_null_count(a_and), 13);
  dq_array_unref(a_and);
  /* BETWEEN */
  dq_array *a = eval_ok(dq_expr_between(b, C("i"), dq_expr_int32(b, -5),
                                        dq_expr_int32(b, 5)));
  static const int bw[NROWS] = {0, 1, 2, 0, 1, 1, 0, 0};
  for (int r = 0; r < NROWS; r++)
    assert_int_equal(tv(a, r), bw[r]);
  dq_array_unref(a);
  dq_plan_builder_free(b);
  dq_batch_unref(x);
}

/* --- Casts ----------------------------------------------------------------- */

static void test_casts(void **state) {
  B;
  dq_type d2 = {DQ_TYPE_DECIMAL, 12, 1};
  dq_array *a = eval_ok(dq_expr_cast(b, C("m"), d2)); /* round half away */
  assert_true(dec(a, 0) == 15);
  assert_true(dec(a, 1) == -23); /* -2.25 -> -2.3 */
  assert_true(dec(a, 6) == 13);  /* 1.25 -> 1.3 */
  assert_true(dec(a, 7) == -13);
  assert_true(dq_array_is_null(a, 2));
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, C("i"), (dq_type){DQ_TYPE_DECIMAL, 12, 2}));
  assert_true(dec(a, 1) == -700);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, C("m"), T(DQ_TYPE_INT64)));
  assert_int_equal(dq_array_int64(a, 1), -2);
  assert_int_equal(dq_array_int64(a, 6), 1);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, C("m"), T(DQ_TYPE_FLOAT64)));
  assert_true(dq_array_float64(a, 1) == -2.25);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, dq_expr_cast(b, C("i"), T(DQ_TYPE_INT64)),
                           T(DQ_TYPE_INT32)));
  assert_int_equal(dq_array_int32(a, 5), -100);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, C("s"), T(DQ_TYPE_UTF8))); /* identity */
  dq_array_unref(a);
  dq_error err;
  /* 1e12 does not fit int32 */
  dq_array *bad = NULL;
  assert_int_equal(eval_on(batch, dq_expr_cast(b, dq_expr_mul(b, C("l"),
                                         dq_expr_int64(b, 1000)),
                                               T(DQ_TYPE_INT32)),
                           &bad, &err),
                   DQ_EEXEC);
  assert_non_null(strstr(err.message, "int64 to int32"));
  dq_plan_builder_free(b);
}

/* --- Literals, parsing, resolution errors ----------------------------------- */

static void test_literals(void **state) {
  int32_t d;
  char buf[64];
  assert_true(dq_date_parse("1970-01-01", &d) && d == 0);
  assert_true(dq_date_parse("1998-09-02", &d) && d == 10471);
  assert_true(dq_date_parse("2000-02-29", &d));
  assert_false(dq_date_parse("1900-02-29", &d));
  assert_false(dq_date_parse("1998-13-01", &d));
  assert_false(dq_date_parse("1998-9-02", &d));
  assert_false(dq_date_parse("1998-09-02x", &d));
  assert_true(dq_date_parse("1969-12-31", &d) && d == -1);
  for (int32_t k = -719000; k < 2900000; k += 997) { /* years 1..9909 */
    dq_date_format(k, buf, sizeof buf);
    assert_true(dq_date_parse(buf, &d));
    assert_int_equal(d, k);
  }
  dq_i128 v;
  uint8_t p;
  int8_t s;
  assert_true(dq_decimal_parse("0.06", &v, &p, &s));
  assert_true(v == 6 && p == 2 && s == 2);
  assert_true(dq_decimal_parse("-12.340", &v, &p, &s));
  assert_true(v == -12340 && p == 5 && s == 3);
  assert_true(dq_decimal_parse("24", &v, &p, &s) && v == 24 && p == 2);
  assert_true(dq_decimal_parse(".5", &v, &p, &s) && v == 5 && s == 1);
  assert_false(dq_decimal_parse("1.2.3", &v, &p, &s));
  assert_false(dq_decimal_parse("", &v, &p, &s));
  assert_false(dq_decimal_parse("1e5", &v, &p, &s));
  assert_false(dq_decimal_parse("123456789012345678901234567890123456789",
                                &v, &p, &s)); /* 39 digits */
  assert_true(dq_decimal_parse("12345678901234567890123456789012345678",
                               &v, &p, &s));
  dq_decimal_format(6, 2, buf, sizeof buf);
  assert_string_equal(buf, "0.06");
  dq_decimal_format(-12340, 3, buf, sizeof buf);
  assert_string_equal(buf, "-12.340");
  dq_decimal_format(100, 2, buf, sizeof buf);
  assert_string_equal(buf, "1.00");
  dq_decimal_format(0, 0, buf, sizeof buf);
  assert_string_equal(buf, "0");
  dq_decimal_format(-5, 1, buf, sizeof buf);
  assert_string_equal(buf, "-0.5");
  /* Literal values evaluate as themselves. */
  B;
  dq_array *a = eval_ok(dq_expr_decimal(b, "-12.340"));
  assert_true(dec(a, 7) == -12340);
  dq_array_unref(a);
  a = eval_ok(dq_expr_utf8(b, "hé"));
  size_t len;
  assert_memory_equal(dq_array_utf8(a, 3, &len), "hé", 3);
  dq_array_unref(a);
  a = eval_ok(dq_expr_add(b, dq_expr_int32(b, 1), dq_expr_int32(b, 2)));
  assert_int_equal(dq_array_int32(a, 5), 3);
  dq_array_unref(a);
  dq_plan_builder_free(b);
}

static void expect_resolve_error(dq_expr *e, const char *needle) {
  dq_expr *r = NULL;
  dq_error err;
  assert_int_equal(dq_expr_resolve(e, schema, &r, &err), DQ_EINVAL);
  assert_null(r);
  if (strstr(err.message, needle) == NULL)
    fail_msg("\"%s\" not in \"%s\"", needle, err.message);
}

static void test_resolve_errors(void **state) {
  B;
  expect_resolve_error(dq_expr_lt(b, C("s"), C("i")),
                       "cannot compare utf8 with int32");
  expect_resolve_error(dq_expr_and(b, C("b"), C("i")), "needs bool operands");
  expect_resolve_error(dq_expr_not(b, C("m")), "NOT needs bool");
  expect_resolve_error(dq_expr_cast(b, C("s"), T(DQ_TYPE_INT32)),
                       "cannot cast utf8 to int32");
  expect_resolve_error(dq_expr_neg(b, C("d")), "cannot negate date32");
  expect_resolve_error(dq_expr_mul(b, C("d"), C("i")),
                       "cannot apply * to date32 and int32");
  expect_resolve_error(dq_expr_add(b, C("i"), C("nope")), "\"nope\"");
  expect_resolve_error(dq_expr_eq(b, C("b"), C("i")), "cannot compare bool");
  /* Scale overflow of a product is a build error. */
  dq_type big = {DQ_TYPE_DECIMAL, 38, 20};
  expect_resolve_error(dq_expr_mul(b, dq_expr_cast(b, C("m"), big),
                                   dq_expr_cast(b, C("m"), big)),
                       "scale would exceed 38");
  dq_plan_builder_free(b);
}

/* --- Row keys ---------------------------------------------------------------- */

static void test_row_keys_order(void **state) {
  /* Keys of each single column order rows exactly like the values. */
  const dq_array *cols[8];
  for (size_t c = 0; c < 8; c++)
    cols[c] = dq_batch_column(batch, c);
  for (size_t c = 0; c < 8; c++)
    for (int desc = 0; desc < 2; desc++)
      for (int nf = 0; nf < 2; nf++) {
        bool d = desc, n = nf;
        dq_row_keys k;
        dq_error err;
        assert_int_equal(
            dq_row_keys_encode(&cols[c], 1, &d, &n, NROWS, &k, &err), 0);
        for (int x = 0; x < NROWS; x++)
          for (int y = 0; y < NROWS; y++) {
            const uint8_t *kx = k.bytes + k.offsets[x];
            const uint8_t *ky = k.bytes + k.offsets[y];
            size_t lx = k.offsets[x + 1] - k.offsets[x];
            size_t ly = k.offsets[y + 1] - k.offsets[y];
            int r = memcmp(kx, ky, lx < ly ? lx : ly);
            if (r == 0)
              r = lx < ly ? -1 : lx > ly;
            r = r < 0 ? -1 : r > 0;
            /* expected via a comparison expression on the values */
            bool xn = dq_array_is_null(cols[c], x);
            bool yn = dq_array_is_null(cols[c], y);
            int want;
            if (xn || yn)
              want = xn && yn ? 0 : (xn ? (n ? -1 : 1) : (n ? 1 : -1));
            else {
              switch (types[c].id) {
              case DQ_TYPE_BOOL:
                want = dq_array_bool(cols[c], x) - dq_array_bool(cols[c], y);
                break;
              case DQ_TYPE_INT32: want = (iv[x] > iv[y]) - (iv[x] < iv[y]); break;
              case DQ_TYPE_INT64: want = (lv[x] > lv[y]) - (lv[x] < lv[y]); break;
              case DQ_TYPE_FLOAT64: want = (fv[x] > fv[y]) - (fv[x] < fv[y]); break;
              case DQ_TYPE_UTF8: {
                int s = strcmp(sv[x], sv[y]);
                want = (s > 0) - (s < 0);
                break;
              }
              case DQ_TYPE_DATE32: want = (dv[x] > dv[y]) - (dv[x] < dv[y]); break;
              default:
                if (c == 6)
                  want = (mv[x] > mv[y]) - (mv[x] < mv[y]);
                else
                  want = (m4v[x] > m4v[y]) - (m4v[x] < m4v[y]);
                break;
              }
              if (d)
                want = -want;
            }
            if (r != want)
              fail_msg("column %zu desc %d nf %d rows %d,%d: %d vs %d", c,
                       desc, nf, x, y, r, want);
          }
        dq_row_keys_free(&k);
      }
  /* Encode all columns ascending, then decode each back. */
  dq_row_keys k;
  dq_error err;
  assert_int_equal(dq_row_keys_encode(cols, 8, NULL, NULL, NROWS, &k, &err), 0);
  const uint8_t *rows[NROWS];
  size_t pos[NROWS] = {0};
  for (int r = 0; r < NROWS; r++)
    rows[r] = k.bytes + k.offsets[r];
  for (size_t c = 0; c < 8; c++) {
    dq_array *a;
    assert_int_equal(dq_row_keys_decode_column(rows, pos, NROWS, types[c], &a,
                                               &err), 0);
    for (int r = 0; r < NROWS; r++) {
      assert_int_equal(dq_array_is_null(a, r), dq_array_is_null(cols[c], r));
      if (dq_array_is_null(a, r))
        continue;
      if (types[c].id == DQ_TYPE_UTF8) {
        size_t l1, l2;
        const char *s1 = dq_array_utf8(a, r, &l1), *s2 = dq_array_utf8(cols[c], r, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
      } else if (types[c].id == DQ_TYPE_FLOAT64) {
        assert_true(dq_array_float64(a, r) == dq_array_float64(cols[c], r));
      } else if (types[c].id == DQ_TYPE_DECIMAL) {
        assert_true(dec(a, r) == dec(cols[c], r));
      } else if (types[c].id == DQ_TYPE_BOOL) {
        assert_int_equal(dq_array_bool(a, r), dq_array_bool(cols[c], r));
      } else {
        assert_int_equal(dq_array_int64(a, r), dq_array_int64(cols[c], r));
        assert_int_equal(dq_array_int32(a, r), dq_array_int32(cols[c], r));
      }
    }
    dq_array_unref(a);
  }
  for (int r = 0; r < NROWS; r++)
    assert_int_equal(pos[r], k.offsets[r + 1] - k.offsets[r]);
  dq_row_keys_free(&k);
}

static void test_embedded_nul_strings(void **state) {
  /* "a\0b" vs "a" vs "a\0" order as bytes; keys decode back intact. */
  const char *n[] = {"s"};
  dq_type t[] = {T(DQ_TYPE_UTF8)};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(1, n, t, NULL, &s, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(s, 3, &bb, &err), 0);
  dq_builder_append_utf8(bb, 0, "a\0b", 3);
  dq_builder_append_utf8(bb, 0, "a", 1);
  dq_builder_append_utf8(bb, 0, "a\0", 2);
  dq_batch *x;
  assert_int_equal(dq_batch_builder_finish(bb, &x, &err), 0);
  dq_batch_builder_free(bb);
  const dq_array *col = dq_batch_column(x, 0);
  dq_row_keys k;
  assert_int_equal(dq_row_keys_encode(&col, 1, NULL, NULL, 3, &k, &err), 0);
  /* order: "a" < "a\0" < "a\0b" */
  const uint8_t *r0 = k.bytes + k.offsets[0], *r1 = k.bytes + k.offsets[1],
                *r2 = k.bytes + k.offsets[2];
  assert_true(memcmp(r1, r2, 4) < 0);
  assert_true(memcmp(r2, r0, 5) < 0);
  const uint8_t *rows[3] = {r0, r1, r2};
  size_t pos[3] = {0};
  dq_array *a;
  assert_int_equal(dq_row_keys_decode_column(rows, pos, 3, t[0], &a, &err), 0);
  size_t len;
  assert_memory_equal(dq_array_utf8(a, 0, &len), "a\0b", 3);
  assert_int_equal(len, 3);
  assert_memory_equal(dq_array_utf8(a, 2, &len), "a\0", 2);
  assert_int_equal(len, 2);
  dq_array_unref(a);
  dq_row_keys_free(&k);
  /* Hashes: equal strings hash equal, int32 and int64 of equal value too. */
  uint64_t h[3];
  dq_hash_columns(&col, 1, 3, h);
  assert_true(h[0] != h[1] && h[1] != h[2]);
  dq_batch_unref(x);
  dq_schema_unref(s);
}

/* --- IN, LIKE, CASE, EXTRACT, SUBSTRING, more casts ------------------------- */

/* Checks a bool array against "TFN..." (N: NULL). */
static void expect_bools(const dq_array *a, const char *want) {
  for (int r = 0; want[r]; r++) {
    if (want[r] == 'N') {
      if (!dq_array_is_null(a, r))
        fail_msg("row %d is not NULL (want %s)", r, want);
    } else if (dq_array_is_null(a, r) ||
               dq_array_bool(a, r) != (want[r] == 'T')) {
      fail_msg("row %d differs (want %s)", r, want);
    }
  }
}

static void expect_strings(const dq_array *a, const char *const *want,
                           int n) {
  for (int r = 0; r < n; r++) {
    if (want[r] == NULL) {
      if (!dq_array_is_null(a, r))
        fail_msg("row %d is not NULL", r);
      continue;
    }
    size_t len;
    const char *s = dq_array_utf8(a, r, &len);
    if (dq_array_is_null(a, r) || len != strlen(want[r]) ||
        memcmp(s, want[r], len) != 0)
      fail_msg("row %d is \"%.*s\", not \"%s\"", r, (int)len, s, want[r]);
  }
}

/* A one-column utf8 batch (NULL entries are NULLs). */
static dq_batch *strings_batch(const char *const *v, int n) {
  const char *nm[] = {"s"};
  dq_type t[] = {T(DQ_TYPE_UTF8)};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(1, nm, t, NULL, &s, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(s, n, &bb, &err), 0);
  for (int i = 0; i < n; i++)
    if (v[i] == NULL)
      dq_builder_append_null(bb, 0);
    else
      dq_builder_append_utf8(bb, 0, v[i], strlen(v[i]));
  dq_batch *x;
  assert_int_equal(dq_batch_builder_finish(bb, &x, &err), 0);
  dq_batch_builder_free(bb);
  dq_schema_unref(s);
  return x;
}

static void test_in(void **state) {
  B;
  dq_expr *v1[] = {dq_expr_int32(b, 1), dq_expr_int32(b, 5),
                   dq_expr_int32(b, 100)};
  dq_array *a = eval_ok(dq_expr_in(b, C("i"), 3, v1));
  expect_bools(a, "TFNFTFTF");
  dq_array_unref(a);
  /* A NULL in the list: no match is NULL, not false. */
  dq_expr *v2[] = {dq_expr_int32(b, 1), dq_expr_null(b, T(DQ_TYPE_INT32))};
  a = eval_ok(dq_expr_in(b, C("i"), 2, v2));
  expect_bools(a, "TNNNNNNN");
  dq_array_unref(a);
  /* Mixed integer types meet at int64, both ways. */
  dq_expr *v3[] = {dq_expr_int32(b, 10), dq_expr_int64(b, 5)};
  a = eval_ok(dq_expr_in(b, C("l"), 2, v3));
  expect_bools(a, "TFNFFFTF");
  dq_array_unref(a);
  dq_expr *v4[] = {dq_expr_int64(b, 1000000000000), dq_expr_int64(b, -7)};
  a = eval_ok(dq_expr_in(b, C("i"), 2, v4));
  expect_bools(a, "FTNFFFFF");
  dq_array_unref(a);
  dq_expr *v5[] = {dq_expr_utf8(b, "a"), dq_expr_utf8(b, "B"),
                   dq_expr_utf8(b, "")};
  a = eval_ok(dq_expr_in(b, C("s"), 3, v5));
  expect_bools(a, "TFNTFFTT");
  dq_array_unref(a);
  /* Decimals of other scales; m is 1.50, -2.25, -, 0, ..., -1.25, 1.25. */
  dq_expr *v6[] = {dq_expr_decimal(b, "1.5"), dq_expr_decimal(b, "-1.250")};
  a = eval_ok(dq_expr_in(b, C("m"), 2, v6));
  expect_bools(a, "TFNFFTFT");
  dq_array_unref(a);
  dq_expr *v7[] = {dq_expr_date(b, "1971-01-01")};
  a = eval_ok(dq_expr_in(b, C("d"), 1, v7));
  expect_bools(a, "FTNFFFFF");
  dq_array_unref(a);
  dq_expr *v8[] = {dq_expr_float64(b, 0.0), dq_expr_int32(b, 5)};
  a = eval_ok(dq_expr_in(b, C("f"), 2, v8)); /* -0.0 = 0.0 */
  expect_bools(a, "FFNTFTTF");
  dq_array_unref(a);
  dq_expr *v9[] = {dq_expr_bool(b, true)};
  a = eval_ok(dq_expr_in(b, C("b"), 1, v9));
  expect_bools(a, "TFNTFTNF");
  dq_array_unref(a);
  a = eval_ok(dq_expr_in(b, dq_expr_int32(b, 5), 3, v1)); /* constant */
  expect_bools(a, "TTTTTTTT");
  dq_array_unref(a);
  /* Types that do not compare; a value that is not a literal. */
  dq_expr *bad[] = {dq_expr_utf8(b, "a")};
  dq_array *x = NULL;
  dq_error err;
  assert_int_equal(eval_on(batch, dq_expr_in(b, C("i"), 1, bad), &x, &err),
                   DQ_EINVAL);
  assert_non_null(strstr(err.message, "IN value 0"));
  dq_plan_builder_free(b);
  assert_int_equal(dq_plan_builder_new(&b, &berr), 0);
  dq_expr *col[] = {C("l")};
  assert_null(dq_expr_in(b, C("i"), 1, col));
  assert_int_equal(dq_plan_builder_error(b, &err), DQ_EINVAL);
  dq_plan_builder_free(b);
}

static void test_like(void **state) {
  B;
  /* s: "a" "b" NULL "" "ab" "zz" "a" "B" */
  static const struct {
    const char *pat, *want;
  } cases[] = {
      {"a%", "TFNFTFTF"},   {"%b", "FTNFTFFF"},   {"%z%", "FFNFFTFF"},
      {"a", "TFNFFFTF"},    {"%", "TTNTTTTT"},    {"%%", "TTNTTTTT"},
      {"_", "TTNFFFTT"},    {"a_", "FFNFTFFF"},   {"%_%_", "FFNFTTFF"},
      {"", "FFNTFFFF"},     {"%a%b%", "FFNFTFFF"}, {"_b", "FFNFTFFF"},
      {"z%z", "FFNFFTFF"},  {"%B", "FFNFFFFT"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    dq_array *a = eval_ok(dq_expr_like(b, C("s"), cases[k].pat));
    expect_bools(a, cases[k].want);
    dq_array_unref(a);
  }
  /* The general matcher's backtracking on longer strings. */
  static const char *const v[] = {"axxbyyc", "abc", "acb", "aXa", "aaa",
                                  "a", NULL, "mississippi", "50% off"};
  dq_batch *sb = strings_batch(v, 9);
  static const struct {
    const char *pat, *want;
  } gen[] = {
      {"a%b%c", "TTFFFFNFF"},     {"%a%a", "FFFTTFNFF"},
      {"m%iss%pi", "FFFFFFNTF"},  {"%ss_ss%", "FFFFFFNTF"},
      {"a__", "FTTTTFNFF"},       {"%0%_off", "FFFFFFNFT"},
      {"%i%i%i%i%", "FFFFFFNTF"}, {"%i%i%i%i%i%", "FFFFFFNFF"},
  };
  for (size_t k = 0; k < sizeof gen / sizeof gen[0]; k++) {
    dq_array *a;
    dq_error err;
    if (eval_on(sb, dq_expr_like(b, C("s"), gen[k].pat), &a, &err) != 0)
      fail_msg("%s", err.message);
    expect_bools(a, gen[k].want);
    dq_array_unref(a);
  }
  dq_batch_unref(sb);
  dq_array *x = NULL;
  dq_error err;
  assert_int_equal(eval_on(batch, dq_expr_like(b, C("i"), "1%"), &x, &err),
                   DQ_EINVAL);
  dq_plan_builder_free(b);
}

static void test_case(void **state) {
  B;
  /* i: 1 -7 NULL 0 100 -100 5 -5 */
  dq_expr *w[] = {dq_expr_gt(b, C("i"), dq_expr_int32(b, 0)),
                  dq_expr_lt(b, C("i"), dq_expr_int32(b, 0))};
  dq_expr *t[] = {dq_expr_utf8(b, "pos"), dq_expr_utf8(b, "neg")};
  dq_array *a = eval_ok(dq_expr_case(b, 2, w, t, dq_expr_utf8(b, "zero")));
  static const char *const want[] = {"pos", "neg",  "zero", "zero",
                                     "pos", "neg",  "pos",  "neg"};
  expect_strings(a, want, NROWS);
  dq_array_unref(a);
  /* No ELSE: NULL; a NULL condition counts as false. */
  dq_expr *w2[] = {C("b")}, *t2[] = {C("i")};
  a = eval_ok(dq_expr_case(b, 1, w2, t2, NULL));
  for (int r = 0; r < NROWS; r++)
    if (bv[r] == 1)
      assert_int_equal(dq_array_int32(a, r), iv[r]);
    else
      assert_true(dq_array_is_null(a, r));
  dq_array_unref(a);
  /* int32 and int64 branches meet at int64; decimal and int32 at
   * decimal(12,2). */
  dq_expr *t3[] = {C("i")};
  a = eval_ok(dq_expr_case(b, 1, w2, t3, C("l")));
  assert_int_equal(dq_array_type(a).id, DQ_TYPE_INT64);
  assert_int_equal(dq_array_int64(a, 1), -20);
  assert_int_equal(dq_array_int64(a, 3), 0);
  assert_true(dq_array_is_null(a, 2));
  dq_array_unref(a);
  dq_expr *t4[] = {C("m")};
  a = eval_ok(dq_expr_case(b, 1, w2, t4, C("i")));
  assert_true(dq_type_equal(dq_array_type(a),
                            (dq_type){DQ_TYPE_DECIMAL, 12, 2}));
  assert_true(dec(a, 0) == 150);
  assert_true(dec(a, 1) == -700);
  assert_true(dec(a, 4) == 10000);
  dq_array_unref(a);
  /* A branch only runs on its rows: l * 1e10 overflows on row 4 only,
   * which takes the ELSE. */
  dq_expr *w5[] = {dq_expr_lt(b, C("l"), dq_expr_int64(b, 1000))};
  dq_expr *t5[] = {dq_expr_mul(b, C("l"), dq_expr_int64(b, 10000000000))};
  a = eval_ok(dq_expr_case(b, 1, w5, t5, dq_expr_int64(b, -1)));
  assert_int_equal(dq_array_int64(a, 0), 100000000000);
  assert_int_equal(dq_array_int64(a, 4), -1);
  assert_int_equal(dq_array_int64(a, 2), -1); /* NULL l: ELSE */
  dq_array_unref(a);
  /* Every row THEN, every row ELSE. */
  dq_expr *w6[] = {dq_expr_bool(b, true)}, *t6[] = {C("s")};
  a = eval_ok(dq_expr_case(b, 1, w6, t6, dq_expr_utf8(b, "x")));
  expect_strings(a, sv, NROWS);
  dq_array_unref(a);
  dq_expr *w7[] = {dq_expr_is_null(b, C("s")), dq_expr_bool(b, false)};
  dq_expr *t7[] = {C("d"), C("d")};
  a = eval_ok(dq_expr_case(b, 1, w7 + 1, t7, C("d")));
  for (int r = 0; r < NROWS; r++)
    if (r != 2)
      assert_int_equal(dq_array_date32(a, r), dv[r]);
  dq_array_unref(a);
  a = eval_ok(dq_expr_case(b, 1, w7, t7, dq_expr_null(b, T(DQ_TYPE_DATE32))));
  for (int r = 0; r < NROWS; r++)
    assert_true(dq_array_is_null(a, r)); /* row 2: d is NULL too */
  dq_array_unref(a);
  /* Errors: a condition that is not bool, branches of no common type. */
  dq_array *x = NULL;
  dq_error err;
  dq_expr *bw[] = {C("i")}, *bt[] = {C("s")};
  assert_int_equal(eval_on(batch, dq_expr_case(b, 1, bw, bt, NULL), &x, &err),
                   DQ_EINVAL);
  assert_non_null(strstr(err.message, "must be bool"));
  assert_int_equal(eval_on(batch, dq_expr_case(b, 1, w2, bt, C("i")), &x,
                           &err),
                   DQ_EINVAL);
  assert_non_null(strstr(err.message, "no common type"));
  dq_plan_builder_free(b);
}

static void test_extract_year(void **state) {
  B;
  dq_array *a = eval_ok(dq_expr_extract_year(b, C("d")));
  static const int32_t want[] = {1970, 1971, 0, 1969, 1997, 2003, 1970, 1970};
  for (int r = 0; r < NROWS; r++)
    if (r == 2)
      assert_true(dq_array_is_null(a, r));
    else
      assert_int_equal(dq_array_int32(a, r), want[r]);
  dq_array_unref(a);
  /* Against the formatter across leap years and centuries. */
  for (int32_t d = -800000; d < 800000; d += 997) {
    char buf[32];
    dq_date_format(d, buf, sizeof buf);
    assert_int_equal(dq_date_year(d), atoi(buf));
  }
  static const char *const edges[] = {"2000-02-29", "1900-03-01",
                                      "1999-12-31", "2001-01-01",
                                      "0001-01-01", "9999-12-31"};
  for (size_t k = 0; k < 6; k++) {
    int32_t d;
    assert_true(dq_date_parse(edges[k], &d));
    assert_int_equal(dq_date_year(d), atoi(edges[k]));
  }
  dq_array *x = NULL;
  dq_error err;
  assert_int_equal(eval_on(batch, dq_expr_extract_year(b, C("i")), &x, &err),
                   DQ_EINVAL);
  dq_plan_builder_free(b);
}

static void test_substring(void **state) {
  B;
  /* s: "a" "b" NULL "" "ab" "zz" "a" "B" */
  dq_array *a = eval_ok(dq_expr_substring(b, C("s"), dq_expr_int32(b, 2),
                                          dq_expr_int32(b, 1)));
  static const char *const w1[] = {"", "", NULL, "", "b", "z", "", ""};
  expect_strings(a, w1, NROWS);
  dq_array_unref(a);
  a = eval_ok(dq_expr_substring(b, C("s"), dq_expr_int64(b, 0),
                                dq_expr_int64(b, 2)));
  static const char *const w2[] = {"a", "b", NULL, "", "a", "z", "a", "B"};
  expect_strings(a, w2, NROWS);
  dq_array_unref(a);
  a = eval_ok(dq_expr_substring(b, C("s"), dq_expr_int64(b, -5),
                                dq_expr_int64(b, INT64_MAX)));
  expect_strings(a, sv, NROWS);
  dq_array_unref(a);
  /* Column start (i: 1 -7 NULL 0 100 -100 5 -5), NULL length. */
  a = eval_ok(dq_expr_substring(b, C("s"), C("i"), dq_expr_int32(b, 9)));
  static const char *const w3[] = {"a", "b", NULL, "", "", "", "", "B"};
  expect_strings(a, w3, NROWS);
  dq_array_unref(a);
  a = eval_ok(dq_expr_substring(b, C("s"), dq_expr_int32(b, 1),
                                dq_expr_null(b, T(DQ_TYPE_INT32))));
  for (int r = 0; r < NROWS; r++)
    assert_true(dq_array_is_null(a, r));
  dq_array_unref(a);
  a = eval_ok(dq_expr_substring(b, dq_expr_utf8(b, "hello"),
                                dq_expr_int32(b, 2), dq_expr_int32(b, 3)));
  static const char *const w4[] = {"ell", "ell", "ell", "ell",
                                   "ell", "ell", "ell", "ell"};
  expect_strings(a, w4, NROWS);
  dq_array_unref(a);
  /* A negative length fails (l: 10 -20 ...); bad types do not resolve. */
  dq_array *x = NULL;
  dq_error err;
  assert_int_equal(eval_on(batch, dq_expr_substring(b, C("s"),
                                                    dq_expr_int32(b, 1),
                                                    C("l")),
                           &x, &err),
                   DQ_EEXEC);
  assert_non_null(strstr(err.message, "negative length"));
  assert_int_equal(eval_on(batch, dq_expr_substring(b, C("i"), C("i"),
                                                    C("i")),
                           &x, &err),
                   DQ_EINVAL);
  assert_int_equal(eval_on(batch, dq_expr_substring(b, C("s"), C("f"),
                                                    C("i")),
                           &x, &err),
                   DQ_EINVAL);
  dq_plan_builder_free(b);
}

static void test_more_casts(void **state) {
  B;
  /* date32 -> utf8 -> date32 */
  dq_array *a = eval_ok(dq_expr_cast(b, C("d"), T(DQ_TYPE_UTF8)));
  static const char *const w[] = {"1970-01-01", "1971-01-01", NULL,
                                  "1969-12-31", "1997-05-19", "2003-10-20",
                                  "1970-01-01", "1970-04-11"};
  expect_strings(a, w, NROWS);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, dq_expr_cast(b, C("d"), T(DQ_TYPE_UTF8)),
                           T(DQ_TYPE_DATE32)));
  for (int r = 0; r < NROWS; r++)
    if (r != 2)
      assert_int_equal(dq_array_date32(a, r), dv[r]);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, dq_expr_utf8(b, "2024-02-29"),
                           T(DQ_TYPE_DATE32)));
  int32_t leap;
  assert_true(dq_date_parse("2024-02-29", &leap));
  assert_int_equal(dq_array_date32(a, 7), leap);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, dq_expr_date(b, "1999-12-31"),
                           T(DQ_TYPE_UTF8)));
  static const char *const w2[] = {"1999-12-31", "1999-12-31", "1999-12-31",
                                   "1999-12-31", "1999-12-31", "1999-12-31",
                                   "1999-12-31", "1999-12-31"};
  expect_strings(a, w2, NROWS);
  dq_array_unref(a);
  dq_array *x = NULL;
  dq_error err;
  static const char *const bad[] = {"2023-02-29", "1999-1-01", "x", NULL};
  for (int k = 0; bad[k]; k++) {
    assert_int_equal(eval_on(batch, dq_expr_cast(b, dq_expr_utf8(b, bad[k]),
                                                 T(DQ_TYPE_DATE32)),
                             &x, &err),
                     DQ_EEXEC);
    assert_non_null(strstr(err.message, "YYYY-MM-DD"));
  }
  /* float64 -> integers and decimals, rounding half away from zero.
   * f: 1.5 -2.25 NULL 0 1e10 -0.0 5 0.5 */
  a = eval_ok(dq_expr_cast(b, C("f"), T(DQ_TYPE_INT64)));
  static const int64_t wi[] = {2, -2, 0, 0, 10000000000, 0, 5, 1};
  for (int r = 0; r < NROWS; r++)
    if (r == 2)
      assert_true(dq_array_is_null(a, r));
    else
      assert_int_equal(dq_array_int64(a, r), wi[r]);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, C("f"), (dq_type){DQ_TYPE_DECIMAL, 12, 1}));
  assert_true(dec(a, 0) == 15);
  assert_true(dec(a, 1) == -23);
  assert_true(dec(a, 4) == 100000000000);
  assert_true(dec(a, 7) == 5);
  dq_array_unref(a);
  a = eval_ok(dq_expr_cast(b, dq_expr_float64(b, -2.5), T(DQ_TYPE_INT32)));
  assert_int_equal(dq_array_int32(a, 0), -3);
  dq_array_unref(a);
  assert_int_equal(eval_on(batch, dq_expr_cast(b, C("f"), T(DQ_TYPE_INT32)),
                           &x, &err),
                   DQ_EEXEC); /* 1e10 */
  assert_non_null(strstr(err.message, "float64 to int32"));
  assert_int_equal(eval_on(batch, dq_expr_cast(b, dq_expr_float64(b, NAN),
                                               T(DQ_TYPE_INT64)),
                           &x, &err),
                   DQ_EEXEC);
  /* Still refused: utf8 -> int32, bool -> date32. */
  assert_int_equal(eval_on(batch, dq_expr_cast(b, C("s"), T(DQ_TYPE_INT32)),
                           &x, &err),
                   DQ_EINVAL);
  assert_int_equal(eval_on(batch, dq_expr_cast(b, C("b"),
                                               T(DQ_TYPE_DATE32)),
                           &x, &err),
                   DQ_EINVAL);
  dq_plan_builder_free(b);
}

/* Many batches and the empty batch: the kernels keep no state between
 * batches and handle 0 rows. */
static void test_new_exprs_empty(void **state) {
  B;
  dq_batch *empty;
  dq_error err;
  assert_int_equal(dq_batch_slice(batch, 0, 0, &empty, &err), 0);
  dq_expr *w[] = {C("b")}, *t[] = {C("s")};
  dq_expr *v[] = {dq_expr_int32(b, 1)};
  dq_expr *es[] = {
      dq_expr_in(b, C("i"), 1, v),
      dq_expr_like(b, C("s"), "%a%"),
      dq_expr_case(b, 1, w, t, NULL),
      dq_expr_extract_year(b, C("d")),
      dq_expr_substring(b, C("s"), C("i"), C("i")),
      dq_expr_cast(b, C("d"), T(DQ_TYPE_UTF8)),
      dq_expr_cast(b, C("f"), T(DQ_TYPE_INT64)),
  };
  for (size_t k = 0; k < sizeof es / sizeof es[0]; k++) {
    dq_array *a;
    if (eval_on(empty, es[k], &a, &err) != 0)
      fail_msg("expression %zu: %s", k, err.message);
    assert_int_equal(dq_array_length(a), 0);
    dq_array_unref(a);
    /* Row by row equals all at once. */
    dq_array *all = NULL;
    int rc_all = eval_on(batch, es[k], &all, &err);
    for (int64_t r = 0; r < NROWS; r++) {
      dq_batch *one;
      assert_int_equal(dq_batch_slice(batch, r, 1, &one, &err), 0);
      dq_array *x = NULL;
      int rc = eval_on(one, es[k], &x, &err);
      if (rc_all == 0) {
        assert_int_equal(rc, 0);
        assert_int_equal(dq_array_is_null(x, 0), dq_array_is_null(all, r));
      }
      dq_array_unref(x);
      dq_batch_unref(one);
    }
    dq_array_unref(all);
  }
  dq_batch_unref(empty);
  dq_plan_builder_free(b);
}


/* dq_array_take / dq_batch_take: filter-like index sets (dense, ascending
 * runs: copied a run at a time), sparse ones, and dense but shuffled ones,
 * over every type with nulls and strings of varied length. */
static void check_take(const dq_batch *src, const uint32_t *idx, int64_t n) {
  dq_batch *got;
  dq_error err;
  if (dq_batch_take(src, idx, n, &got, &err) != 0)
    fail_msg("take: %s", err.message);
  assert_int_equal(dq_batch_n_rows(got), n);
  for (size_t c = 0; c < dq_batch_n_columns(src); c++) {
    const dq_array *a = dq_batch_column(src, c), *b = dq_batch_column(got, c);
    for (int64_t i = 0; i < n; i++) {
      int64_t r = idx[i];
      assert_int_equal(dq_array_is_null(b, i), dq_array_is_null(a, r));
      if (dq_array_is_null(a, r))
        continue;
      switch (dq_array_type(a).id) {
      case DQ_TYPE_BOOL:
        assert_int_equal(dq_array_bool(b, i), dq_array_bool(a, r));
        break;
      case DQ_TYPE_INT32:
        assert_int_equal(dq_array_int32(b, i), dq_array_int32(a, r));
        break;
      case DQ_TYPE_INT64:
        assert_int_equal(dq_array_int64(b, i), dq_array_int64(a, r));
        break;
      case DQ_TYPE_FLOAT64:
        assert_true(dq_array_float64(b, i) == dq_array_float64(a, r));
        break;
      case DQ_TYPE_DECIMAL: {
        dq_decimal x = dq_array_decimal(b, i), y = dq_array_decimal(a, r);
        assert_true(x.lo == y.lo && x.hi == y.hi);
        break;
      }
      case DQ_TYPE_UTF8: {
        size_t lx, ly;
        const char *x = dq_array_utf8(b, i, &lx), *y = dq_array_utf8(a, r, &ly);
        assert_int_equal(lx, ly);
        assert_memory_equal(x, y, lx);
        break;
      }
      default: fail_msg("unexpected type");
      }
    }
  }
  dq_batch_unref(got);
}

static void test_take(void **state) {
  (void)state;
  enum { N = 3000 };
  const char *tnames[] = {"b", "i", "l", "g", "d", "u"};
  dq_type ttypes[] = {{DQ_TYPE_BOOL, 0, 0},    {DQ_TYPE_INT32, 0, 0},
                     {DQ_TYPE_INT64, 0, 0},   {DQ_TYPE_FLOAT64, 0, 0},
                     {DQ_TYPE_DECIMAL, 15, 2}, {DQ_TYPE_UTF8, 0, 0}};
  dq_schema *tschema;
  dq_batch_builder *bb;
  dq_batch *src;
  dq_error err;
  assert_int_equal(dq_schema_new(6, tnames, ttypes, NULL, &tschema, &err), 0);
  assert_int_equal(dq_batch_builder_new(tschema, N, &bb, &err), 0);
  char text[40];
  for (int64_t r = 0; r < N; r++) {
    if (r % 7 == 3) {
      for (size_t c = 0; c < 6; c++)
        assert_int_equal(dq_builder_append_null(bb, c), 0);
      continue;
    }
    size_t len = (size_t)(r * 7919 % 37); /* 0..36 bytes, some with NULs */
    for (size_t k = 0; k < len; k++)
      text[k] = (char)((r + (int64_t)k) % 5 == 0 ? 0 : 'a' + (r + k) % 26);
    int64_t cents = r % 2 ? -r * 1000003 : r * 1000003;
    dq_decimal d = {(uint64_t)cents, cents < 0 ? -1 : 0};
    assert_int_equal(dq_builder_append_bool(bb, 0, r % 3 == 0), 0);
    assert_int_equal(dq_builder_append_int32(bb, 1, (int32_t)(r * 31)), 0);
    assert_int_equal(dq_builder_append_int64(bb, 2, r * 1000000007), 0);
    assert_int_equal(dq_builder_append_float64(bb, 3, (double)r / 3), 0);
    assert_int_equal(dq_builder_append_decimal(bb, 4, d), 0);
    assert_int_equal(dq_builder_append_utf8(bb, 5, text, len), 0);
  }
  assert_int_equal(dq_batch_builder_finish(bb, &src, &err), 0);

  static uint32_t idx[N];
  int64_t n = 0;
  /* A filter keeping 97% of the rows, from row 5 on. */
  for (uint32_t r = 5; r < N; r++)
    if (r % 37 != 0)
      idx[n++] = r;
  check_take(src, idx, n);
  /* Everything: one run. */
  for (n = 0; n < N; n++)
    idx[n] = (uint32_t)n;
  check_take(src, idx, n);
  /* Dense but shuffled: adjacent pairs swapped, so runs of one. */
  for (n = 0; n + 1 < N; n += 2) {
    idx[n] = (uint32_t)n + 1;
    idx[n + 1] = (uint32_t)n;
  }
  check_take(src, idx, n);
  /* Sparse, repeated and descending. */
  for (n = 0; n < N / 2; n++)
    idx[n] = (uint32_t)(((N - 1 - n * 3) % N + N) % N);
  check_take(src, idx, n);
  /* Few rows: the per-value path. */
  check_take(src, idx, 10);
  check_take(src, idx, 0);

  dq_batch_unref(src);
  dq_batch_builder_free(bb);
  dq_schema_unref(tschema);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int_arith),
      cmocka_unit_test(test_overflow_under_null),
      cmocka_unit_test(test_decimal_arith),
      cmocka_unit_test(test_decimal_div_by_sum),
      cmocka_unit_test(test_float_and_date_arith),
      cmocka_unit_test(test_compare),
      cmocka_unit_test(test_three_valued_logic),
      cmocka_unit_test(test_casts),
      cmocka_unit_test(test_literals),
      cmocka_unit_test(test_resolve_errors),
      cmocka_unit_test(test_row_keys_order),
      cmocka_unit_test(test_embedded_nul_strings),
      cmocka_unit_test(test_in),
      cmocka_unit_test(test_like),
      cmocka_unit_test(test_case),
      cmocka_unit_test(test_extract_year),
      cmocka_unit_test(test_substring),
      cmocka_unit_test(test_more_casts),
      cmocka_unit_test(test_new_exprs_empty),
      cmocka_unit_test(test_take),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
