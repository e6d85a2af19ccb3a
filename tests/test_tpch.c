/* test_tpch.c — the TPC-H generator (libdq/tpch/tpch.h): schemas, row counts per
 * scale, determinism and seeds, slice independence, projections, the spec's
 * value domains, the relations between tables that the queries join on,
 * and the errors for bad input.
 *
 * Most checks run on whole tables at SF 0.01 (15000 orders, ~60000
 * lineitems), small enough for valgrind.  Set DQ_TPCH_BENCH=1 to also print
 * generation speed at SF 1 (not a pass/fail check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "arrow/batch_internal.h"
#include "tpch/tpch.h"

#define SF 0.01
#define SEED 42

/* --- Helpers -------------------------------------------------------------- */
static dq_batch *gen(dq_tpch_table t, double scale, uint64_t seed,
                     int64_t a, int64_t b) {
  dq_batch *out = NULL;
  dq_error err;
  dq_error_clear(&err);
  int rc = dq_tpch_generate(t, scale, seed, a, b, &out, &err);
  if (rc != 0)
    fail_msg("generating %s [%" PRId64 ", %" PRId64 "): %s",
             dq_tpch_table_name(t), a, b, err.message);
  return out;
}

static dq_batch *gen_all(dq_tpch_table t, double scale, uint64_t seed) {
  return gen(t, scale, seed, 0, dq_tpch_unit_count(t, scale));
}

static const dq_array *col(const dq_batch *b, const char *name) {
  int i = dq_schema_field_index(dq_batch_schema(b), name);
  if (i < 0)
    fail_msg("no column %s", name);
  return dq_batch_column(b, (size_t)i);
}

static int64_t i64(const dq_array *a, int64_t r) {
  return dq_array_int64(a, r);
}

/* A DECIMAL(15,2) as its unscaled integer (cents). */
static int64_t cents(const dq_array *a, int64_t r) {
  return (int64_t)dq_decimal_to_i128(dq_array_decimal(a, r));
}

static size_t slen(const dq_array *a, int64_t r) {
  size_t n;
  dq_array_utf8(a, r, &n);
  return n;
}

static bool str_is(const dq_array *a, int64_t r, const char *s) {
  size_t n;
  const char *p = dq_array_utf8(a, r, &n);
  return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Copies a string value into buf (NUL-terminated). */
static const char *str(const dq_array *a, int64_t r, char *buf, size_t len) {
  size_t n;
  const char *p = dq_array_utf8(a, r, &n);
  if (n >= len)
    n = len - 1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  return buf;
}

static bool value_equal(const dq_array *a, int64_t i, const dq_array *b,
                        int64_t j) {
  if (a->type.id != b->type.id)
    return false;
  if (a->type.id == DQ_TYPE_UTF8) {
    size_t na, nb;
    const char *pa = dq_array_utf8(a, i, &na), *pb = dq_array_utf8(b, j, &nb);
    return na == nb && memcmp(pa, pb, na) == 0;
  }
  size_t w = dq_type_width(a->type);
  return memcmp(a->values->data + (size_t)i * w,
                b->values->data + (size_t)j * w, w) == 0;
}

static bool rows_equal(const dq_batch *a, int64_t ra, const dq_batch *b,
                       int64_t rb) {
  for (size_t c = 0; c < dq_batch_n_columns(a); c++)
    if (!value_equal(dq_batch_column(a, c), ra, dq_batch_column(b, c), rb))
      return false;
  return true;
}

static bool batches_equal(const dq_batch *a, const dq_batch *b) {
  if (!dq_schema_equal(dq_batch_schema(a), dq_batch_schema(b)) ||
      dq_batch_n_rows(a) != dq_batch_n_rows(b))
    return false;
  for (int64_t r = 0; r < dq_batch_n_rows(a); r++)
    if (!rows_equal(a, r, b, r))
      return false;
  return true;
}

static void assert_lengths(const dq_array *a, size_t lo, size_t hi) {
  for (int64_t r = 0; r < dq_array_length(a); r++) {
    size_t n = slen(a, r);
    if (n < lo || n > hi)
      fail_msg("row %" PRId64 ": length %zu outside [%zu, %zu]", r, n, lo,
               hi);
  }
}

static bool in_list(const dq_array *a, int64_t r, const char *const *list,
                    size_t n) {
  for (size_t i = 0; i < n; i++)
    if (str_is(a, r, list[i]))
      return true;
  return false;
}

static bool contains_in_order(const dq_array *a, int64_t r, const char *w1,
                              const char *w2) {
  char buf[256];
  str(a, r, buf, sizeof buf);
  const char *p = strstr(buf, w1);
  return p != NULL && strstr(p + strlen(w1), w2) != NULL;
}

/* Index of an order from its sparse key, -1 if the key is never used. */
static int64_t order_of_key(int64_t key) {
  int64_t k = key - 1;
  return k % 32 < 8 ? k / 32 * 8 + k % 32 : -1;
}

/* --- Threads -------------------------------------------------------------
 * Runs first, so that the threads also race to build the text pool. */
typedef struct slice_job {
  int64_t a, b;
  dq_batch *out;
  int rc;
} slice_job;

static void *slice_thread(void *arg) {
  slice_job *j = arg;
  j->rc = dq_tpch_generate(DQ_TPCH_LINEITEM, SF, SEED, j->a, j->b, &j->out,
                           NULL);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  enum { N = 4 };
  slice_job jobs[N];
  pthread_t th[N];
  int64_t units = dq_tpch_unit_count(DQ_TPCH_LINEITEM, SF);
  for (int i = 0; i < N; i++) {
    jobs[i] = (slice_job){units * i / N, units * (i + 1) / N, NULL, -1};
    assert_int_equal(pthread_create(&th[i], NULL, slice_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  dq_batch *whole = gen(DQ_TPCH_LINEITEM, SF, SEED, 0, units);
  int64_t row = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(jobs[i].rc, 0);
    for (int64_t r = 0; r < dq_batch_n_rows(jobs[i].out); r++, row++)
      assert_true(rows_equal(whole, row, jobs[i].out, r));
    dq_batch_unref(jobs[i].out);
  }
  assert_int_equal(row, dq_batch_n_rows(whole));
  dq_batch_unref(whole);
}

/* --- Names and schemas ---------------------------------------------------- */
static const char *const table_names[DQ_TPCH_N_TABLES] = {
    "lineitem", "orders", "customer", "part",
    "partsupp", "supplier", "nation", "region"};

static void test_table_names(void **state) {
  (void)state;
  for (int t = 0; t < DQ_TPCH_N_TABLES; t++) {
    dq_tpch_table got;
    assert_int_equal(dq_tpch_table_from_name(table_names[t], &got, NULL), 0);
    assert_int_equal(got, t);
    assert_string_equal(dq_tpch_table_name((dq_tpch_table)t), table_names[t]);
  }
  assert_null(dq_tpch_table_name((dq_tpch_table)8));
  assert_null(dq_tpch_table_name((dq_tpch_table)-1));
}

typedef struct expect_col {
  const char *name;
  dq_type_id type;
} expect_col;

static void check_schema(dq_tpch_table t, const expect_col *cols, size_t n) {
  dq_schema *s = NULL;
  dq_error err;
  assert_int_equal(dq_tpch_schema(t, &s, &err), 0);
  assert_int_equal(dq_schema_n_fields(s), n);
  assert_int_equal(dq_tpch_n_columns(t), n);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(dq_schema_field_name(s, i), cols[i].name);
    dq_type ty = dq_schema_field_type(s, i);
    assert_int_equal(ty.id, cols[i].type);
    if (ty.id == DQ_TYPE_DECIMAL) {
      assert_int_equal(ty.precision, 15);
      assert_int_equal(ty.scale, 2);
    }
    assert_false(dq_schema_field_nullable(s, i));
  }
  /* The generated batch carries the same schema. */
  dq_batch *b = gen(t, SF, SEED, 0, 1);
  assert_true(dq_schema_equal(dq_batch_schema(b), s));
  dq_batch_unref(b);
  dq_schema_unref(s);
}

#define I32 DQ_TYPE_INT32
#define I64 DQ_TYPE_INT64
#define DEC DQ_TYPE_DECIMAL
#define DATE DQ_TYPE_DATE32
#define STR DQ_TYPE_UTF8
#define CHECK_SCHEMA(t, ...)                                                  \
  do {                                                                        \
    static const expect_col c_[] = {__VA_ARGS__};                             \
    check_schema(t, c_, sizeof c_ / sizeof c_[0]);                            \
  } while (0)

static void test_schemas(void **state) {
  (void)state;
  CHECK_SCHEMA(DQ_TPCH_LINEITEM, {"l_orderkey", I64}, {"l_partkey", I64},
               {"l_suppkey", I64}, {"l_linenumber", I32},
               {"l_quantity", DEC}, {"l_extendedprice", DEC},
               {"l_discount", DEC}, {"l_tax", DEC}, {"l_returnflag", STR},
               {"l_linestatus", STR}, {"l_shipdate", DATE},
               {"l_commitdate", DATE}, {"l_receiptdate", DATE},
               {"l_shipinstruct", STR}, {"l_shipmode", STR},
               {"l_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_ORDERS, {"o_orderkey", I64}, {"o_custkey", I64},
               {"o_orderstatus", STR}, {"o_totalprice", DEC},
               {"o_orderdate", DATE}, {"o_orderpriority", STR},
               {"o_clerk", STR}, {"o_shippriority", I32}, {"o_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_CUSTOMER, {"c_custkey", I64}, {"c_name", STR},
               {"c_address", STR}, {"c_nationkey", I64}, {"c_phone", STR},
               {"c_acctbal", DEC}, {"c_mktsegment", STR}, {"c_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_PART, {"p_partkey", I64}, {"p_name", STR},
               {"p_mfgr", STR}, {"p_brand", STR}, {"p_type", STR},
               {"p_size", I32}, {"p_container", STR},
               {"p_retailprice", DEC}, {"p_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_PARTSUPP, {"ps_partkey", I64}, {"ps_suppkey", I64},
               {"ps_availqty", I32}, {"ps_supplycost", DEC},
               {"ps_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_SUPPLIER, {"s_suppkey", I64}, {"s_name", STR},
               {"s_address", STR}, {"s_nationkey", I64}, {"s_phone", STR},
               {"s_acctbal", DEC}, {"s_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_NATION, {"n_nationkey", I64}, {"n_name", STR},
               {"n_regionkey", I64}, {"n_comment", STR});
  CHECK_SCHEMA(DQ_TPCH_REGION, {"r_regionkey", I64}, {"r_name", STR},
               {"r_comment", STR});
}

/* --- Counts --------------------------------------------------------------- */
static void test_unit_counts(void **state) {
  (void)state;
  static const struct {
    double sf;
    int64_t li, ord, cust, part, supp;
  } cases[] = {
      {1, 1500000, 1500000, 150000, 200000, 10000},
      {0.01, 15000, 15000, 1500, 2000, 100},
      {0.1, 150000, 150000, 15000, 20000, 1000},
      {0.5, 750000, 750000, 75000, 100000, 5000},
      {10, 15000000, 15000000, 1500000, 2000000, 100000},
      {0.0001, 150, 150, 15, 20, 1},
      /* Rounded to the nearest row, never below one. */
      {0.00001, 15, 15, 2, 2, 1},
      {1e-9, 1, 1, 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double sf = cases[i].sf;
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_LINEITEM, sf), cases[i].li);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_ORDERS, sf), cases[i].ord);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_CUSTOMER, sf), cases[i].cust);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_PART, sf), cases[i].part);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_PARTSUPP, sf), cases[i].part);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_SUPPLIER, sf), cases[i].supp);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_NATION, sf), 25);
    assert_int_equal(dq_tpch_unit_count(DQ_TPCH_REGION, sf), 5);
    assert_int_equal(dq_tpch_row_estimate(DQ_TPCH_LINEITEM, sf),
                     4 * cases[i].li);
    int64_t per_part = cases[i].supp < 4 ? cases[i].supp : 4;
    assert_int_equal(dq_tpch_row_estimate(DQ_TPCH_PARTSUPP, sf),
                     per_part * cases[i].part);
    assert_int_equal(dq_tpch_row_estimate(DQ_TPCH_ORDERS, sf), cases[i].ord);
  }
}

static void test_row_counts(void **state) {
  (void)state;
  static const double scales[] = {0.001, 0.01, 0.05};
  for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
    double sf = scales[i];
    static const int64_t base[DQ_TPCH_N_TABLES] = {
        0, 1500000, 150000, 200000, 800000, 10000, 25, 5};
    for (int t = 1; t < DQ_TPCH_N_TABLES; t++) {
      int one = 0; /* a 1-column projection keeps this quick */
      dq_batch *b = NULL;
      assert_int_equal(dq_tpch_generate_columns(
                           (dq_tpch_table)t, sf, SEED, 0,
                           dq_tpch_unit_count((dq_tpch_table)t, sf), &one, 1,
                           &b, NULL),
                       0);
      int64_t want = t >= DQ_TPCH_NATION ? base[t]
                                         : (int64_t)(base[t] * sf + 0.5);
      assert_int_equal(dq_batch_n_rows(b), want);
      dq_batch_unref(b);
    }
    /* lineitem: 1..7 lines per order, 4 on average. */
    int one = 0;
    dq_batch *b = NULL;
    int64_t orders = dq_tpch_unit_count(DQ_TPCH_LINEITEM, sf);
    assert_int_equal(dq_tpch_generate_columns(DQ_TPCH_LINEITEM, sf, SEED, 0,
                                              orders, &one, 1, &b, NULL),
                     0);
    double per_order = (double)dq_batch_n_rows(b) / (double)orders;
    assert_true(per_order > 3.8 && per_order < 4.2);
    dq_batch_unref(b);
  }
}

/* --- Determinism, seeds, slices, projections ------------------------------ */
static void test_determinism(void **state) {
  (void)state;
  for (int t = 0; t < DQ_TPCH_N_TABLES; t++) {
    int64_t n = dq_tpch_unit_count((dq_tpch_table)t, SF);
    int64_t a = n / 3, b = n / 3 + (n < 500 ? n - n / 3 : 500);
    dq_batch *x = gen((dq_tpch_table)t, SF, SEED, a, b);
    dq_batch *y = gen((dq_tpch_table)t, SF, SEED, a, b);
    dq_batch *z = gen((dq_tpch_table)t, SF, SEED + 1, a, b);
    assert_true(dq_batch_n_rows(x) > 0);
    assert_true(batches_equal(x, y));
    assert_false(batches_equal(x, z));
    dq_batch_unref(x);
    dq_batch_unref(y);
    dq_batch_unref(z);
  }
}

/* FNV-1a over every value of a batch (strings with their lengths). */
static uint64_t digest(const dq_batch *b) {
  uint64_t h = 0xcbf29ce484222325ull;
#define FNV(p, n)                                                             \
  for (size_t k_ = 0; k_ < (n); k_++)                                         \
    h = (h ^ ((const uint8_t *)(p))[k_]) * 0x100000001b3ull
  for (size_t c = 0; c < dq_batch_n_columns(b); c++) {
    const dq_array *a = dq_batch_column(b, c);
    for (int64_t r = 0; r < dq_batch_n_rows(b); r++) {
      if (a->type.id == DQ_TYPE_UTF8) {
        size_t n;
        const char *p = dq_array_utf8(a, r, &n);
        uint32_t n32 = (uint32_t)n;
        FNV(&n32, 4);
        FNV(p, n);
      } else if (a->type.id == DQ_TYPE_DECIMAL) {
        /* The value as 128 bits, whichever width stores it, so the pins
         * below hold the values, not a layout. */
        dq_decimal d = dq_array_decimal(a, r);
        uint64_t w[2] = {d.lo, (uint64_t)d.hi};
        FNV(w, 16);
      } else {
        size_t w = dq_type_width(a->type);
        FNV(a->values->data + (size_t)r * w, w);
      }
    }
  }
#undef FNV
  return h;
}

/* The generator's output pinned for seed 42: it must not change by accident
 * (another machine, compiler or refactor), since distributed runs compare
 * results computed on different workers and stored expected results depend
 * on it.  A deliberate change to the data updates these numbers. */
static void test_pinned_values(void **state) {
  (void)state;
  static const uint64_t want[DQ_TPCH_N_TABLES] = {
      0x04971ad6382fc74dull, 0xfd52d46e5564d778ull, 0xc2d01e15c3c16d67ull,
      0xe66a4779d81a2f59ull, 0x870d24264547f63dull, 0x2436ce0e996e5f3eull,
      0x16055d935da2189aull, 0x6eb8a7bd088964a4ull};
  bool ok = true;
  for (int t = 0; t < DQ_TPCH_N_TABLES; t++) {
    int64_t n = dq_tpch_unit_count((dq_tpch_table)t, SF);
    int64_t a = n / 2, b_end = n < 2000 ? n : a + 1000;
    dq_batch *b = gen((dq_tpch_table)t, SF, SEED, a, b_end);
    uint64_t h = digest(b);
    if (h != want[t]) {
      fprintf(stderr, "%s: digest 0x%016" PRIx64 "\n", table_names[t], h);
      ok = false;
    }
    dq_batch_unref(b);
  }
  assert_true(ok);

  /* One lineitem order deep into SF 1. */
  dq_batch *li = gen(DQ_TPCH_LINEITEM, 1, SEED, 123456, 123457);
  char buf[64];
  assert_int_equal(dq_batch_n_rows(li), 4);
  assert_int_equal(i64(col(li, "l_orderkey"), 0), 493825);
  assert_int_equal(i64(col(li, "l_partkey"), 0), 109409);
  assert_int_equal(i64(col(li, "l_suppkey"), 0), 1920);
  assert_int_equal(cents(col(li, "l_extendedprice"), 0), 2978640);
  assert_int_equal(dq_array_date32(col(li, "l_shipdate"), 0), 9457);
  assert_string_equal(str(col(li, "l_shipmode"), 0, buf, sizeof buf), "AIR");
  dq_batch_unref(li);
}

/* Generating [a, c) equals generating [a, b) then [b, c). */
static void test_range_independence(void **state) {
  (void)state;
  for (int t = 0; t < DQ_TPCH_N_TABLES; t++) {
    int64_t n = dq_tpch_unit_count((dq_tpch_table)t, SF);
    const int64_t cuts[][3] = {{0, n / 2, n}, {0, 0, 1}, {n - 3, n - 1, n},
                               {n / 3, n / 3 + 1, n / 3 + 1},
                               {1, 2, 3}};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
      int64_t a = cuts[k][0], b = cuts[k][1], c = cuts[k][2];
      dq_batch *whole = gen((dq_tpch_table)t, SF, SEED, a, c);
      dq_batch *left = gen((dq_tpch_table)t, SF, SEED, a, b);
      dq_batch *right = gen((dq_tpch_table)t, SF, SEED, b, c);
      int64_t nl = dq_batch_n_rows(left), nr = dq_batch_n_rows(right);
      assert_int_equal(dq_batch_n_rows(whole), nl + nr);
      for (int64_t r = 0; r < nl; r++)
        assert_true(rows_equal(whole, r, left, r));
      for (int64_t r = 0; r < nr; r++)
        assert_true(rows_equal(whole, nl + r, right, r));
      dq_batch_unref(whole);
      dq_batch_unref(left);
      dq_batch_unref(right);
    }
  }
}

static void test_empty_range(void **state) {
  (void)state;
  for (int t = 0; t < DQ_TPCH_N_TABLES; t++) {
    int64_t n = dq_tpch_unit_count((dq_tpch_table)t, SF);
    dq_batch *b = gen((dq_tpch_table)t, SF, SEED, n, n);
    assert_int_equal(dq_batch_n_rows(b), 0);
    assert_int_equal(dq_batch_n_columns(b), dq_tpch_n_columns(t));
    dq_batch_unref(b);
  }
}

static void test_projection(void **state) {
  (void)state;
  for (int t = 0; t < DQ_TPCH_N_TABLES; t++) {
    int64_t n = dq_tpch_unit_count((dq_tpch_table)t, SF);
    int64_t a = n / 4, b = n / 4 + (n < 300 ? n - n / 4 : 300);
    dq_batch *full = gen((dq_tpch_table)t, SF, SEED, a, b);
    size_t nc = dq_tpch_n_columns(t);
    /* Every column alone, then all of them backwards with a repeat. */
    for (size_t c = 0; c <= nc; c++) {
      int cols[17];
      size_t k = 0;
      if (c < nc) {
        cols[k++] = (int)c;
      } else {
        for (size_t i = nc; i-- > 0;)
          cols[k++] = (int)i;
        cols[k++] = (int)(nc - 1);
      }
      dq_batch *p = NULL;
      dq_error err;
      assert_int_equal(dq_tpch_generate_columns((dq_tpch_table)t, SF, SEED,
                                                a, b, cols, k, &p, &err),
                       0);
      assert_int_equal(dq_batch_n_rows(p), dq_batch_n_rows(full));
      assert_int_equal(dq_batch_n_columns(p), k);
      for (size_t i = 0; i < k; i++) {
        assert_string_equal(
            dq_schema_field_name(dq_batch_schema(p), i),
            dq_schema_field_name(dq_batch_schema(full), (size_t)cols[i]));
        for (int64_t r = 0; r < dq_batch_n_rows(p); r++)
          assert_true(value_equal(dq_batch_column(p, i), r,
                                  dq_batch_column(full, (size_t)cols[i]), r));
      }
      dq_batch_unref(p);
    }
    /* No columns at all: only the row count. */
    dq_batch *p = NULL;
    assert_int_equal(dq_tpch_generate_columns((dq_tpch_table)t, SF, SEED, a,
                                              b, NULL, 0, &p, NULL),
                     0);
    assert_int_equal(dq_batch_n_columns(p), 0);
    assert_int_equal(dq_batch_n_rows(p), dq_batch_n_rows(full));
    dq_batch_unref(p);
    dq_batch_unref(full);
  }
}

/* --- lineitem and orders -------------------------------------------------- */
static int64_t retail(int64_t p) {
  return 90000 + (p / 10) % 20001 + 100 * (p % 1000);
}

static void test_lineitem_domains(void **state) {
  (void)state;
  dq_batch *li = gen_all(DQ_TPCH_LINEITEM, SF, SEED);
  dq_batch *ord = gen_all(DQ_TPCH_ORDERS, SF, SEED);
  const dq_array *okey = col(li, "l_orderkey"), *pkey = col(li, "l_partkey"),
                 *lnum = col(li, "l_linenumber"), *qty = col(li, "l_quantity"),
                 *ext = col(li, "l_extendedprice"),
                 *disc = col(li, "l_discount"), *tax = col(li, "l_tax"),
                 *rflag = col(li, "l_returnflag"),
                 *lstat = col(li, "l_linestatus"),
                 *ship = col(li, "l_shipdate"),
                 *commit = col(li, "l_commitdate"),
                 *receipt = col(li, "l_receiptdate"),
                 *instr = col(li, "l_shipinstruct"),
                 *mode = col(li, "l_shipmode");
  const dq_array *odate = col(ord, "o_orderdate");
  static const char *const instructions[] = {
      "DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"};
  static const char *const modes[] = {"REG AIR", "AIR",  "RAIL", "SHIP",
                                      "TRUCK",   "MAIL", "FOB"};
  int64_t n = dq_batch_n_rows(li), n_part = dq_tpch_unit_count(DQ_TPCH_PART,
                                                                SF);
  int qty_seen[51] = {0}, disc_seen[11] = {0}, tax_seen[9] = {0};
  int64_t qty_sum = 0, n_r = 0, n_a = 0, n_n = 0, n_o = 0, n_f = 0;
  int64_t prev_order = -1, prev_line = 0;
  for (int64_t r = 0; r < n; r++) {
    int64_t o = order_of_key(i64(okey, r));
    assert_true(o >= 0 && o < dq_batch_n_rows(ord));
    /* Lines of an order are consecutive and numbered 1..n. */
    int32_t line = dq_array_int32(lnum, r);
    if (o != prev_order) {
      assert_true(o > prev_order);
      assert_int_equal(line, 1);
    } else {
      assert_int_equal(line, prev_line + 1);
    }
    assert_true(line >= 1 && line <= 7);
    prev_order = o;
    prev_line = line;

    int64_t p = i64(pkey, r);
    assert_true(p >= 1 && p <= n_part);
    int64_t q = cents(qty, r);
    assert_int_equal(q % 100, 0);
    q /= 100;
    assert_true(q >= 1 && q <= 50);
    qty_seen[q]++;
    qty_sum += q;
    assert_int_equal(cents(ext, r), q * retail(p));
    int64_t d = cents(disc, r), t = cents(tax, r);
    assert_true(d >= 0 && d <= 10);
    assert_true(t >= 0 && t <= 8);
    disc_seen[d]++;
    tax_seen[t]++;

    int32_t od = dq_array_date32(odate, o), s = dq_array_date32(ship, r),
            c = dq_array_date32(commit, r), rc = dq_array_date32(receipt, r);
    assert_true(s >= od + 1 && s <= od + 121);
    assert_true(c >= od + 30 && c <= od + 90);
    assert_true(rc >= s + 1 && rc <= s + 30);
    if (rc <= DQ_TPCH_CURRENTDATE) {
      assert_true(str_is(rflag, r, "R") || str_is(rflag, r, "A"));
      n_r += str_is(rflag, r, "R");
      n_a += str_is(rflag, r, "A");
    } else {
      assert_true(str_is(rflag, r, "N"));
      n_n++;
    }
    if (s > DQ_TPCH_CURRENTDATE) {
      assert_true(str_is(lstat, r, "O"));
      n_o++;
    } else {
      assert_true(str_is(lstat, r, "F"));
      n_f++;
    }
    assert_true(in_list(instr, r, instructions, 4));
    assert_true(in_list(mode, r, modes, 7));
  }
  /* Every order's lines are there, in order. */
  assert_int_equal(prev_order, dq_batch_n_rows(ord) - 1);
  /* Uniform draws: every value occurs, and the means are about right. */
  for (int q = 1; q <= 50; q++)
    assert_true(qty_seen[q] > 0);
  for (int d = 0; d <= 10; d++)
    assert_true(disc_seen[d] > 0);
  for (int t = 0; t <= 8; t++)
    assert_true(tax_seen[t] > 0);
  double mean = (double)qty_sum / (double)n;
  assert_true(mean > 25.0 && mean < 26.0);
  assert_true(n_r > 0 && n_a > 0 && n_n > 0 && n_o > 0 && n_f > 0);
  assert_true(llabs(n_r - n_a) < (n_r + n_a) / 20);
  assert_lengths(col(li, "l_comment"), 10, 43);
  assert_lengths(rflag, 1, 1);
  assert_lengths(lstat, 1, 1);
  dq_batch_unref(li);
  dq_batch_unref(ord);
}

static void test_orders(void **state) {
  (void)state;
  dq_batch *ord = gen_all(DQ_TPCH_ORDERS, SF, SEED);
  dq_batch *li = gen_all(DQ_TPCH_LINEITEM, SF, SEED);
  const dq_array *okey = col(ord, "o_orderkey"), *cust = col(ord, "o_custkey"),
                 *status = col(ord, "o_orderstatus"),
                 *total = col(ord, "o_totalprice"),
                 *odate = col(ord, "o_orderdate"),
                 *prio = col(ord, "o_orderpriority"),
                 *clerk = col(ord, "o_clerk"),
                 *shipprio = col(ord, "o_shippriority"),
                 *comment = col(ord, "o_comment");
  const dq_array *lkey = col(li, "l_orderkey"),
                 *ext = col(li, "l_extendedprice"),
                 *disc = col(li, "l_discount"), *tax = col(li, "l_tax"),
                 *lstat = col(li, "l_linestatus");
  static const char *const prios[] = {"1-URGENT", "2-HIGH", "3-MEDIUM",
                                      "4-NOT SPECIFIED", "5-LOW"};
  int64_t n = dq_batch_n_rows(ord), n_cust =
                                        dq_tpch_unit_count(DQ_TPCH_CUSTOMER,
                                                           SF);
  int64_t clerks = (int64_t)(1000 * SF + 0.5);
  int32_t dmin = INT32_MAX, dmax = INT32_MIN;
  int64_t l = 0, n_f = 0, n_o = 0, n_p = 0, special = 0;
  for (int64_t r = 0; r < n; r++) {
    /* Sparse keys: the first 8 of every 32. */
    assert_int_equal(i64(okey, r), r / 8 * 32 + r % 8 + 1);
    int64_t c = i64(cust, r);
    assert_true(c >= 1 && c <= n_cust && c % 3 != 0);
    int32_t d = dq_array_date32(odate, r);
    assert_true(d >= DQ_TPCH_STARTDATE && d <= DQ_TPCH_ENDDATE - 151);
    dmin = d < dmin ? d : dmin;
    dmax = d > dmax ? d : dmax;
    assert_true(in_list(prio, r, prios, 5));
    char buf[32];
    str(clerk, r, buf, sizeof buf);
    assert_int_equal(strlen(buf), 15);
    assert_memory_equal(buf, "Clerk#", 6);
    long k = strtol(buf + 6, NULL, 10);
    assert_true(k >= 1 && k <= clerks);
    assert_int_equal(dq_array_int32(shipprio, r), 0);
    special += contains_in_order(comment, r, "special", "requests");

    /* o_totalprice and o_orderstatus from the order's lines. */
    int64_t sum = 0, open = 0, lines = 0;
    for (; l < dq_batch_n_rows(li) && i64(lkey, l) == i64(okey, r); l++) {
      int64_t e = cents(ext, l), dd = cents(disc, l), t = cents(tax, l);
      sum += e * (100 - dd) / 100 * (100 + t) / 100;
      open += str_is(lstat, l, "O");
      lines++;
    }
    assert_true(lines >= 1 && lines <= 7);
    assert_int_equal(cents(total, r), sum);
    const char *want = open == 0 ? "F" : open == lines ? "O" : "P";
    assert_true(str_is(status, r, want));
    n_f += *want == 'F';
    n_o += *want == 'O';
    n_p += *want == 'P';
  }
  assert_int_equal(l, dq_batch_n_rows(li));
  /* The dates cover the whole range. */
  assert_true(dmin < DQ_TPCH_STARTDATE + 10);
  assert_true(dmax > DQ_TPCH_ENDDATE - 151 - 10);
  assert_true(n_f > 0 && n_o > 0 && n_p > 0);
  /* Q13 looks for '%special%requests%'. */
  assert_true(special > 0 && special < n / 10);
  assert_lengths(comment, 19, 78);
  dq_batch_unref(ord);
  dq_batch_unref(li);
}

/* --- Referential integrity ------------------------------------------------ */
static void test_referential_integrity(void **state) {
  (void)state;
  dq_batch *li = gen_all(DQ_TPCH_LINEITEM, SF, SEED);
  dq_batch *ord = gen_all(DQ_TPCH_ORDERS, SF, SEED);
  dq_batch *cust = gen_all(DQ_TPCH_CUSTOMER, SF, SEED);
  dq_batch *part = gen_all(DQ_TPCH_PART, SF, SEED);
  dq_batch *ps = gen_all(DQ_TPCH_PARTSUPP, SF, SEED);
  dq_batch *supp = gen_all(DQ_TPCH_SUPPLIER, SF, SEED);
  dq_batch *nat = gen_all(DQ_TPCH_NATION, SF, SEED);
  dq_batch *reg = gen_all(DQ_TPCH_REGION, SF, SEED);
  int64_t n_part = dq_batch_n_rows(part), n_supp = dq_batch_n_rows(supp),
          n_cust = dq_batch_n_rows(cust);

  /* Primary keys are 1..n in order (0..n-1 for nation and region). */
  for (int64_t r = 0; r < n_part; r++)
    assert_int_equal(i64(col(part, "p_partkey"), r), r + 1);
  for (int64_t r = 0; r < n_supp; r++)
    assert_int_equal(i64(col(supp, "s_suppkey"), r), r + 1);
  for (int64_t r = 0; r < n_cust; r++)
    assert_int_equal(i64(col(cust, "c_custkey"), r), r + 1);

  /* partsupp: 4 distinct suppliers per part, all existing. */
  bool *pairs = calloc((size_t)((n_part + 1) * (n_supp + 1)), 1);
  assert_non_null(pairs);
  const dq_array *pspk = col(ps, "ps_partkey"), *pssk = col(ps, "ps_suppkey");
  assert_int_equal(dq_batch_n_rows(ps), 4 * n_part);
  for (int64_t r = 0; r < dq_batch_n_rows(ps); r++) {
    int64_t p = i64(pspk, r), s = i64(pssk, r);
    assert_int_equal(p, r / 4 + 1);
    assert_true(s >= 1 && s <= n_supp);
    bool *seen = &pairs[p * (n_supp + 1) + s];
    assert_false(*seen);
    *seen = true;
  }

  /* lineitem: orders exist; (partkey, suppkey) is a partsupp row. */
  const dq_array *lok = col(li, "l_orderkey"), *lpk = col(li, "l_partkey"),
                 *lsk = col(li, "l_suppkey");
  const dq_array *ook = col(ord, "o_orderkey");
  int64_t o = 0, n_ord = dq_batch_n_rows(ord);
  for (int64_t r = 0; r < dq_batch_n_rows(li); r++) {
    /* Both sorted by order key: a merge finds each line's order. */
    while (o < n_ord && i64(ook, o) < i64(lok, r))
      o++;
    assert_true(o < n_ord && i64(ook, o) == i64(lok, r));
    int64_t p = i64(lpk, r), s = i64(lsk, r);
    assert_true(p >= 1 && p <= n_part && s >= 1 && s <= n_supp);
    assert_true(pairs[p * (n_supp + 1) + s]);
  }
  free(pairs);

  /* orders -> customer; a third of the customers have no orders. */
  bool *has_orders = calloc((size_t)n_cust + 1, 1);
  assert_non_null(has_orders);
  for (int64_t r = 0; r < n_ord; r++) {
    int64_t c = i64(col(ord, "o_custkey"), r);
    assert_true(c >= 1 && c <= n_cust);
    has_orders[c] = true;
  }
  for (int64_t c = 3; c <= n_cust; c += 3)
    assert_false(has_orders[c]);
  free(has_orders);

  /* customer, supplier -> nation -> region. */
  for (int64_t r = 0; r < n_cust; r++) {
    int64_t k = i64(col(cust, "c_nationkey"), r);
    assert_true(k >= 0 && k < 25);
  }
  for (int64_t r = 0; r < n_supp; r++) {
    int64_t k = i64(col(supp, "s_nationkey"), r);
    assert_true(k >= 0 && k < 25);
  }
  for (int64_t r = 0; r < 25; r++) {
    assert_int_equal(i64(col(nat, "n_nationkey"), r), r);
    int64_t k = i64(col(nat, "n_regionkey"), r);
    assert_true(k >= 0 && k < 5);
  }
  for (int64_t r = 0; r < 5; r++)
    assert_int_equal(i64(col(reg, "r_regionkey"), r), r);

  dq_batch_unref(li);
  dq_batch_unref(ord);
  dq_batch_unref(cust);
  dq_batch_unref(part);
  dq_batch_unref(ps);
  dq_batch_unref(supp);
  dq_batch_unref(nat);
  dq_batch_unref(reg);
}

/* Scales with fewer than 4 suppliers, or few enough that the spec's formula
 * repeats one: (ps_partkey, ps_suppkey) stays unique and lineitem's pairs
 * stay in partsupp. */
static void test_small_scales(void **state) {
  (void)state;
  static const double scales[] = {0.0001, 0.0002, 0.0003, 0.0005, 0.001};
  for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
    double sf = scales[i];
    dq_batch *ps = gen_all(DQ_TPCH_PARTSUPP, sf, SEED);
    dq_batch *li = gen_all(DQ_TPCH_LINEITEM, sf, SEED);
    int64_t n_part = dq_tpch_unit_count(DQ_TPCH_PART, sf),
            n_supp = dq_tpch_unit_count(DQ_TPCH_SUPPLIER, sf);
    int64_t per = n_supp < 4 ? n_supp : 4;
    assert_int_equal(dq_batch_n_rows(ps), per * n_part);
    bool *pairs = calloc((size_t)((n_part + 1) * (n_supp + 1)), 1);
    assert_non_null(pairs);
    for (int64_t r = 0; r < dq_batch_n_rows(ps); r++) {
      int64_t p = i64(col(ps, "ps_partkey"), r),
              s = i64(col(ps, "ps_suppkey"), r);
      assert_true(s >= 1 && s <= n_supp);
      assert_false(pairs[p * (n_supp + 1) + s]);
      pairs[p * (n_supp + 1) + s] = true;
    }
    for (int64_t r = 0; r < dq_batch_n_rows(li); r++) {
      int64_t p = i64(col(li, "l_partkey"), r),
              s = i64(col(li, "l_suppkey"), r);
      assert_true(pairs[p * (n_supp + 1) + s]);
    }
    free(pairs);
    dq_batch_unref(ps);
    dq_batch_unref(li);
  }
}

/* --- part, partsupp, customer, supplier, nation, region ------------------- */
static const char *const colors[] = {
    "almond", "antique", "aquamarine", "azure", "beige", "bisque", "black",
    "blanched", "blue", "blush", "brown", "burlywood", "burnished",
    "chartreuse", "chiffon", "chocolate", "coral", "cornflower", "cornsilk",
    "cream", "cyan", "dark", "deep", "dim", "dodger", "drab", "firebrick",
    "floral", "forest", "frosted", "gainsboro", "ghost", "goldenrod", "green",
    "grey", "honeydew", "hot", "indian", "ivory", "khaki", "lace", "lavender",
    "lawn", "lemon", "light", "lime", "linen", "magenta", "maroon", "medium",
    "metallic", "midnight", "mint", "misty", "moccasin", "navajo", "navy",
    "olive", "orange", "orchid", "pale", "papaya", "peach", "peru", "pink",
    "plum", "powder", "puff", "purple", "red", "rose", "rosy", "royal",
    "saddle", "salmon", "sandy", "seashell", "sienna", "sky", "slate", "smoke",
    "snow", "spring", "steel", "tan", "thistle", "tomato", "turquoise",
    "violet", "wheat", "white", "yellow"};

static int color_index(const char *w) {
  for (int i = 0; i < 92; i++)
    if (strcmp(w, colors[i]) == 0)
      return i;
  return -1;
}

static bool word_in(const char *w, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(w, list[i]) == 0)
      return true;
  return false;
}

static void test_part(void **state) {
  (void)state;
  assert_int_equal(sizeof colors / sizeof colors[0], 92);
  dq_batch *part = gen_all(DQ_TPCH_PART, SF, SEED);
  static const char *const t1[] = {"STANDARD", "SMALL", "MEDIUM",
                                   "LARGE", "ECONOMY", "PROMO"};
  static const char *const t2[] = {"ANODIZED", "BURNISHED", "PLATED",
                                   "POLISHED", "BRUSHED"};
  static const char *const t3[] = {"TIN", "NICKEL", "BRASS", "STEEL",
                                   "COPPER"};
  static const char *const c1[] = {"SM", "LG", "MED", "JUMBO", "WRAP"};
  static const char *const c2[] = {"CASE", "BOX", "BAG", "JAR",
                                   "PKG",  "PACK", "CAN", "DRUM"};
  int64_t forest = 0;
  for (int64_t r = 0; r < dq_batch_n_rows(part); r++) {
    char buf[128], *save = NULL;
    /* p_name: five distinct colours. */
    str(col(part, "p_name"), r, buf, sizeof buf);
    forest += strncmp(buf, "forest", 6) == 0;
    bool seen[92] = {false};
    int words = 0;
    for (char *w = strtok_r(buf, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
      int c = color_index(w);
      assert_true(c >= 0);
      assert_false(seen[c]);
      seen[c] = true;
      words++;
    }
    assert_int_equal(words, 5);

    char mfgr[32], brand[32];
    str(col(part, "p_mfgr"), r, mfgr, sizeof mfgr);
    str(col(part, "p_brand"), r, brand, sizeof brand);
    assert_int_equal(strlen(mfgr), 14);
    assert_memory_equal(mfgr, "Manufacturer#", 13);
    assert_true(mfgr[13] >= '1' && mfgr[13] <= '5');
    assert_int_equal(strlen(brand), 8);
    assert_memory_equal(brand, "Brand#", 6);
    assert_int_equal(brand[6], mfgr[13]);
    assert_true(brand[7] >= '1' && brand[7] <= '5');

    str(col(part, "p_type"), r, buf, sizeof buf);
    char *a = strtok_r(buf, " ", &save), *b = strtok_r(NULL, " ", &save),
         *c = strtok_r(NULL, " ", &save);
    assert_true(a && b && c && strtok_r(NULL, " ", &save) == NULL);
    assert_true(word_in(a, t1, 6) && word_in(b, t2, 5) && word_in(c, t3, 5));
    str(col(part, "p_container"), r, buf, sizeof buf);
    a = strtok_r(buf, " ", &save);
    b = strtok_r(NULL, " ", &save);
    assert_true(a && b && strtok_r(NULL, " ", &save) == NULL);
    assert_true(word_in(a, c1, 5) && word_in(b, c2, 8));

    int32_t size = dq_array_int32(col(part, "p_size"), r);
    assert_true(size >= 1 && size <= 50);
    assert_int_equal(cents(col(part, "p_retailprice"), r), retail(r + 1));
  }
  /* Q20 looks for p_name like 'forest%'. */
  assert_true(forest > 0);
  assert_lengths(col(part, "p_comment"), 5, 22);
  dq_batch_unref(part);

  dq_batch *ps = gen_all(DQ_TPCH_PARTSUPP, SF, SEED);
  for (int64_t r = 0; r < dq_batch_n_rows(ps); r++) {
    int32_t q = dq_array_int32(col(ps, "ps_availqty"), r);
    assert_true(q >= 1 && q <= 9999);
    int64_t c = cents(col(ps, "ps_supplycost"), r);
    assert_true(c >= 100 && c <= 100000);
  }
  assert_lengths(col(ps, "ps_comment"), 49, 198);
  dq_batch_unref(ps);
}

/* Customer and supplier share a shape: name, address, nation, phone,
 * balance. */
static void check_person(dq_batch *b, const char *prefix, const char *name,
                         const char *nation, const char *phone,
                         const char *acctbal, const char *address) {
  for (int64_t r = 0; r < dq_batch_n_rows(b); r++) {
    char buf[64], want[64];
    snprintf(want, sizeof want, "%s#%09" PRId64, prefix, r + 1);
    assert_string_equal(str(col(b, name), r, buf, sizeof buf), want);
    int64_t nk = i64(col(b, nation), r);
    str(col(b, phone), r, buf, sizeof buf);
    assert_int_equal(strlen(buf), 15);
    int cc, l1, l2, l3;
    assert_int_equal(sscanf(buf, "%2d-%3d-%3d-%4d", &cc, &l1, &l2, &l3), 4);
    assert_int_equal(cc, nk + 10);
    assert_true(l1 >= 100 && l1 <= 999 && l2 >= 100 && l2 <= 999);
    assert_true(l3 >= 1000 && l3 <= 9999);
    int64_t bal = cents(col(b, acctbal), r);
    assert_true(bal >= -99999 && bal <= 999999);
  }
  assert_lengths(col(b, address), 10, 40);
}

static void test_customer(void **state) {
  (void)state;
  dq_batch *c = gen_all(DQ_TPCH_CUSTOMER, SF, SEED);
  check_person(c, "Customer", "c_name", "c_nationkey", "c_phone",
               "c_acctbal", "c_address");
  static const char *const segments[] = {"AUTOMOBILE", "BUILDING",
                                         "FURNITURE", "MACHINERY",
                                         "HOUSEHOLD"};
  for (int64_t r = 0; r < dq_batch_n_rows(c); r++)
    assert_true(in_list(col(c, "c_mktsegment"), r, segments, 5));
  assert_lengths(col(c, "c_comment"), 29, 116);
  dq_batch_unref(c);
}

static int64_t count_bbb(const dq_array *comments, const char *what) {
  int64_t n = 0;
  for (int64_t r = 0; r < dq_array_length(comments); r++)
    n += contains_in_order(comments, r, "Customer ", what);
  return n;
}

static void test_supplier(void **state) {
  (void)state;
  dq_batch *s = gen_all(DQ_TPCH_SUPPLIER, SF, SEED);
  check_person(s, "Supplier", "s_name", "s_nationkey", "s_phone",
               "s_acctbal", "s_address");
  const dq_array *comment = col(s, "s_comment");
  assert_lengths(comment, 25, 100);
  /* Q16's "Customer%Complaints": SF*5 suppliers, at least one. */
  assert_int_equal(count_bbb(comment, "Complaints"), 1);
  assert_int_equal(count_bbb(comment, "Recommends"), 1);
  dq_batch_unref(s);

  int cols[] = {6}; /* s_comment only */
  dq_batch *b = NULL;
  assert_int_equal(dq_tpch_generate_columns(DQ_TPCH_SUPPLIER, 1, SEED, 0,
                                            10000, cols, 1, &b, NULL),
                   0);
  assert_int_equal(count_bbb(dq_batch_column(b, 0), "Complaints"), 5);
  assert_int_equal(count_bbb(dq_batch_column(b, 0), "Recommends"), 5);
  assert_lengths(dq_batch_column(b, 0), 25, 100);
  dq_batch_unref(b);
}

static void test_nation_region(void **state) {
  (void)state;
  static const char *const nations[25] = {
      "ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA",
      "FRANCE", "GERMANY", "INDIA", "INDONESIA", "IRAN", "IRAQ", "JAPAN",
      "JORDAN", "KENYA", "MOROCCO", "MOZAMBIQUE", "PERU", "CHINA", "ROMANIA",
      "SAUDI ARABIA", "VIETNAM", "RUSSIA", "UNITED KINGDOM", "UNITED STATES"};
  static const int regions_of[25] = {0, 1, 1, 1, 4, 0, 3, 3, 2, 2, 4, 4, 2,
                                     4, 0, 0, 0, 1, 2, 3, 4, 2, 3, 3, 1};
  static const char *const regions[5] = {"AFRICA", "AMERICA", "ASIA",
                                         "EUROPE", "MIDDLE EAST"};
  /* Fixed rows whatever the scale. */
  static const double scales[] = {0.01, 1, 1000};
  for (size_t i = 0; i < 3; i++) {
    dq_batch *n = gen_all(DQ_TPCH_NATION, scales[i], SEED);
    dq_batch *r = gen_all(DQ_TPCH_REGION, scales[i], SEED);
    assert_int_equal(dq_batch_n_rows(n), 25);
    assert_int_equal(dq_batch_n_rows(r), 5);
    for (int k = 0; k < 25; k++) {
      assert_true(str_is(col(n, "n_name"), k, nations[k]));
      assert_int_equal(i64(col(n, "n_regionkey"), k), regions_of[k]);
    }
    for (int k = 0; k < 5; k++)
      assert_true(str_is(col(r, "r_name"), k, regions[k]));
    assert_lengths(col(n, "n_comment"), 31, 114);
    assert_lengths(col(r, "r_comment"), 31, 115);
    dq_batch_unref(n);
    dq_batch_unref(r);
  }
}

/* --- Bad input ------------------------------------------------------------ */
static void expect_gen_error(dq_tpch_table t, double scale, int64_t a,
                             int64_t b, int code, const char *message) {
  dq_batch *out = (dq_batch *)0x1;
  dq_error err;
  dq_error_clear(&err);
  assert_int_equal(dq_tpch_generate(t, scale, SEED, a, b, &out, &err), code);
  assert_int_equal(err.code, code);
  assert_string_equal(err.message, message);
  assert_null(out);
}

static void test_bad_input(void **state) {
  (void)state;
  dq_error err;
  dq_tpch_table t = DQ_TPCH_REGION;

  dq_error_clear(&err);
  assert_int_equal(dq_tpch_table_from_name("lineitems", &t, &err), DQ_ENOENT);
  assert_string_equal(err.message,
                      "unknown TPC-H table \"lineitems\": the tables are "
                      "lineitem, orders, customer, part, partsupp, supplier, "
                      "nation and region");
  assert_int_equal(t, DQ_TPCH_REGION); /* untouched */
  assert_int_equal(dq_tpch_table_from_name("LINEITEM", &t, NULL), DQ_ENOENT);
  assert_int_equal(dq_tpch_table_from_name("", &t, NULL), DQ_ENOENT);
  assert_int_equal(dq_tpch_table_from_name(NULL, &t, &err), DQ_ENOENT);
  assert_string_equal(err.message,
                      "unknown TPC-H table \"(null)\": the tables are "
                      "lineitem, orders, customer, part, partsupp, supplier, "
                      "nation and region");

  expect_gen_error(DQ_TPCH_LINEITEM, -1, 0, 1, DQ_EINVAL,
                   "TPC-H scale factor -1 is invalid: it must be above 0 "
                   "and at most 100000");
  expect_gen_error(DQ_TPCH_LINEITEM, 0, 0, 1, DQ_EINVAL,
                   "TPC-H scale factor 0 is invalid: it must be above 0 "
                   "and at most 100000");
  expect_gen_error(DQ_TPCH_ORDERS, NAN, 0, 1, DQ_EINVAL,
                   "TPC-H scale factor nan is invalid: it must be above 0 "
                   "and at most 100000");
  expect_gen_error(DQ_TPCH_ORDERS, INFINITY, 0, 1, DQ_EINVAL,
                   "TPC-H scale factor inf is invalid: it must be above 0 "
                   "and at most 100000");
  expect_gen_error(DQ_TPCH_ORDERS, 1e6, 0, 1, DQ_EINVAL,
                   "TPC-H scale factor 1e+06 is invalid: it must be above 0 "
                   "and at most 100000");
  expect_gen_error(DQ_TPCH_LINEITEM, 0.01, 0, 15001, DQ_EINVAL,
                   "TPC-H lineitem unit range [0, 15001) is outside "
                   "[0, 15000) at scale 0.01");
  expect_gen_error(DQ_TPCH_PART, 0.01, -1, 5, DQ_EINVAL,
                   "TPC-H part unit range [-1, 5) is outside [0, 2000) at "
                   "scale 0.01");
  expect_gen_error(DQ_TPCH_NATION, 1, 10, 9, DQ_EINVAL,
                   "TPC-H nation unit range [10, 9) is outside [0, 25) at "
                   "scale 1");
  expect_gen_error(DQ_TPCH_REGION, 1, 0, 6, DQ_EINVAL,
                   "TPC-H region unit range [0, 6) is outside [0, 5) at "
                   "scale 1");
  expect_gen_error((dq_tpch_table)8, 1, 0, 1, DQ_EINVAL,
                   "unknown TPC-H table number 8 (0..7 are valid)");
  expect_gen_error((dq_tpch_table)-3, 1, 0, 1, DQ_EINVAL,
                   "unknown TPC-H table number -3 (0..7 are valid)");
  expect_gen_error(DQ_TPCH_LINEITEM, 1000, 5, 300000005, DQ_ETOOBIG,
                   "TPC-H lineitem unit range [5, 300000005) is too large "
                   "for one batch (at most 268435455 units)");

  /* Bad column indices. */
  dq_batch *out = NULL;
  int bad[] = {0, 9};
  dq_error_clear(&err);
  assert_int_equal(dq_tpch_generate_columns(DQ_TPCH_ORDERS, 0.01, SEED, 0, 1,
                                            bad, 2, &out, &err),
                   DQ_EINVAL);
  assert_string_equal(err.message, "TPC-H table orders has no column 9 (it "
                                   "has columns 0..8)");
  assert_null(out);
  bad[1] = -1;
  assert_int_equal(dq_tpch_generate_columns(DQ_TPCH_ORDERS, 0.01, SEED, 0, 1,
                                            bad, 2, &out, &err),
                   DQ_EINVAL);
  assert_string_equal(err.message, "TPC-H table orders has no column -1 (it "
                                   "has columns 0..8)");
  assert_int_equal(dq_tpch_generate_columns(DQ_TPCH_ORDERS, 0.01, SEED, 0, 1,
                                            NULL, 2, &out, &err),
                   DQ_EINVAL);
  assert_string_equal(err.message, "dq_tpch_generate_columns: columns is "
                                   "NULL for 2 columns");
  assert_int_equal(dq_tpch_generate(DQ_TPCH_ORDERS, 0.01, SEED, 0, 1, NULL,
                                    &err),
                   DQ_EINVAL);
  assert_string_equal(err.message, "dq_tpch_generate: out is NULL");

  /* The other entry points. */
  dq_schema *s = (dq_schema *)0x1;
  assert_int_equal(dq_tpch_schema((dq_tpch_table)99, &s, &err), DQ_EINVAL);
  assert_string_equal(err.message,
                      "unknown TPC-H table number 99 (0..7 are valid)");
  assert_null(s);
  assert_int_equal(dq_tpch_unit_count((dq_tpch_table)99, 1), DQ_EINVAL);
  assert_int_equal(dq_tpch_unit_count(DQ_TPCH_ORDERS, -0.5), DQ_EINVAL);
  assert_int_equal(dq_tpch_unit_count(DQ_TPCH_ORDERS, NAN), DQ_EINVAL);
  assert_int_equal(dq_tpch_row_estimate(DQ_TPCH_ORDERS, 0), DQ_EINVAL);
  assert_int_equal(dq_tpch_n_columns((dq_tpch_table)99), 0);
  /* A NULL err is fine. */
  assert_int_equal(dq_tpch_generate(DQ_TPCH_ORDERS, -1, SEED, 0, 1, &out,
                                    NULL),
                   DQ_EINVAL);
}

/* Large scales: keys and names beyond 9 digits, without generating much. */
static void test_large_scale(void **state) {
  (void)state;
  double sf = 100000;
  int64_t n = dq_tpch_unit_count(DQ_TPCH_CUSTOMER, sf);
  assert_int_equal(n, 15000000000);
  dq_batch *c = gen(DQ_TPCH_CUSTOMER, sf, SEED, n - 2, n);
  char buf[64];
  assert_string_equal(str(col(c, "c_name"), 1, buf, sizeof buf),
                      "Customer#15000000000");
  dq_batch_unref(c);
  int64_t no = dq_tpch_unit_count(DQ_TPCH_LINEITEM, sf);
  dq_batch *li = gen(DQ_TPCH_LINEITEM, sf, SEED, no - 1, no);
  assert_int_equal(i64(col(li, "l_orderkey"), 0),
                   (no - 1) / 8 * 32 + (no - 1) % 8 + 1);
  assert_int_equal(order_of_key(i64(col(li, "l_orderkey"), 0)), no - 1);
  int64_t n_supp = dq_tpch_unit_count(DQ_TPCH_SUPPLIER, sf);
  for (int64_t r = 0; r < dq_batch_n_rows(li); r++) {
    int64_t s = i64(col(li, "l_suppkey"), r);
    assert_true(s >= 1 && s <= n_supp);
  }
  dq_batch_unref(li);
}

/* --- Speed (DQ_TPCH_BENCH=1) ---------------------------------------------- */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench(dq_tpch_table t, double sf, const int *cols, size_t n_cols,
                  const char *what) {
  int64_t units = dq_tpch_unit_count(t, sf);
  int64_t step = t == DQ_TPCH_LINEITEM || t == DQ_TPCH_PARTSUPP ? 2048 : 8192;
  int64_t rows = 0;
  size_t bytes = 0;
  double t0 = now();
  for (int64_t a = 0; a < units; a += step) {
    int64_t b = a + step < units ? a + step : units;
    dq_batch *out = NULL;
    int rc = cols ? dq_tpch_generate_columns(t, sf, SEED, a, b, cols, n_cols,
                                             &out, NULL)
                  : dq_tpch_generate(t, sf, SEED, a, b, &out, NULL);
    assert_int_equal(rc, 0);
    rows += dq_batch_n_rows(out);
    bytes += dq_batch_byte_size(out);
    dq_batch_unref(out);
  }
  double dt = now() - t0;
  printf("# %-10s SF %g %-22s %10" PRId64 " rows %6.3f s %7.2f Mrows/s "
         "%7.1f MB/s\n",
         dq_tpch_table_name(t), sf, what, rows, dt, (double)rows / dt / 1e6,
         (double)bytes / dt / 1e6);
}

static void test_bench(void **state) {
  (void)state;
  const char *e = getenv("DQ_TPCH_BENCH");
  if (e == NULL || *e == '\0' || strcmp(e, "0") == 0)
    skip();
  double sf = atof(e) > 0 ? atof(e) : 1;
  /* Q1 reads quantity, extendedprice, discount, tax, returnflag,
   * linestatus, shipdate. */
  static const int q1[] = {4, 5, 6, 7, 8, 9, 10};
  static const int no_comment[] = {0, 1, 2, 3, 4, 5, 6, 7,
                                   8, 9, 10, 11, 12, 13, 14};
  bench(DQ_TPCH_LINEITEM, sf, NULL, 0, "all columns");
  bench(DQ_TPCH_LINEITEM, sf, q1, 7, "Q1's 7 columns");
  bench(DQ_TPCH_LINEITEM, sf, no_comment, 15, "all but l_comment");
  for (int t = 1; t < DQ_TPCH_N_TABLES; t++)
    bench((dq_tpch_table)t, sf, NULL, 0, "all columns");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_table_names),
      cmocka_unit_test(test_schemas),
      cmocka_unit_test(test_unit_counts),
      cmocka_unit_test(test_row_counts),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_pinned_values),
      cmocka_unit_test(test_range_independence),
      cmocka_unit_test(test_empty_range),
      cmocka_unit_test(test_projection),
      cmocka_unit_test(test_lineitem_domains),
      cmocka_unit_test(test_orders),
      cmocka_unit_test(test_referential_integrity),
      cmocka_unit_test(test_small_scales),
      cmocka_unit_test(test_part),
      cmocka_unit_test(test_customer),
      cmocka_unit_test(test_supplier),
      cmocka_unit_test(test_nation_region),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_large_scale),
      cmocka_unit_test(test_bench),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
