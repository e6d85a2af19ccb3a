/* test_ops.c — operators: filter, project, aggregate (single, and
 * partial→final over random splits), sort, limit (stops early), read, scan
 * slices, the hash partitioner, cancellation, hash joins (every kind
 * against nested loops), top-N (against sort + limit) and union.  Each runs over nulls,
 * empty input, one row and many batches.
 *
 * Operators are fed from memory: the pipeline's leaf is a READ whose
 * reader callbacks serve test batches and count the pulls. */
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

#include "exec/exec.h"
#include "expr/expr.h"
#include "plan/plan_internal.h"
#include "tpch/tpch.h"


/* --- Test data ----------------------------------------------------------------
 * rid int64 (row number), k1 int32 (0..4, ~1/6 NULL), k2 utf8 ("x","yy",
 * "", ~1/7 NULL), vi int64, vd decimal(12,2) (~1/5 NULL), vf float64
 * (integer-valued, so sums are exact in any order), vs utf8, vt date32. */
#define NCOLS 8
static const char *const cnames[NCOLS] = {"rid", "k1", "k2", "vi",
                                          "vd",  "vf", "vs", "vt"};
static const dq_type ctypes[NCOLS] = {
    {DQ_TYPE_INT64, 0, 0},    {DQ_TYPE_INT32, 0, 0}, {DQ_TYPE_UTF8, 0, 0},
    {DQ_TYPE_INT64, 0, 0},    {DQ_TYPE_DECIMAL, 12, 2},
    {DQ_TYPE_FLOAT64, 0, 0},  {DQ_TYPE_UTF8, 0, 0}, {DQ_TYPE_DATE32, 0, 0}};
static dq_schema *schema;

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Batches of `per` rows (the last may be shorter) with rids from `rid0`. */
static dq_batch *make_batch(int64_t rid0, int64_t rows) {
  dq_batch_builder *bb;
  dq_error err;
  assert_int_equal(dq_batch_builder_new(schema, rows, &bb, &err), 0);
  static const char *const k2s[] = {"x", "yy", ""};
  for (int64_t i = 0; i < rows; i++) {
    uint64_t r = next_rand();
    dq_builder_append_int64(bb, 0, rid0 + i);
    if (r % 6 == 0)
      dq_builder_append_null(bb, 1);
    else
      dq_builder_append_int32(bb, 1, (int32_t)(r / 7 % 5));
    if (r / 11 % 7 == 0)
      dq_builder_append_null(bb, 2);
    else {
      const char *s = k2s[r / 13 % 3];
      dq_builder_append_utf8(bb, 2, s, strlen(s));
    }
    dq_builder_append_int64(bb, 3, (int64_t)(r / 17 % 2001) - 1000);
    if (r / 19 % 5 == 0)
      dq_builder_append_null(bb, 4);
    else
      dq_builder_append_decimal(bb, 4, dq_decimal_from_i128(
                                           (dq_i128)(r / 23 % 200001) - 100000));
    dq_builder_append_float64(bb, 5, (double)(int64_t)(r / 29 % 101) - 50);
    char buf[16];
    int len = snprintf(buf, sizeof buf, "s%u", (unsigned)(r / 31 % 50));
    dq_builder_append_utf8(bb, 6, buf, (size_t)len);
    dq_builder_append_date32(bb, 7, (int32_t)(r / 37 % 3000) + 8000);
  }
  dq_batch *b;
  assert_int_equal(dq_batch_builder_finish(bb, &b, &err), 0);
  dq_batch_builder_free(bb);
  return b;
}

typedef struct blist {
  dq_batch **v;
  size_t n, cap;
} blist;

static void blist_add(blist *l, dq_batch *b) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 8;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  l->v[l->n++] = b;
}

static void blist_free(blist *l) {
  for (size_t i = 0; i < l->n; i++)
    dq_batch_unref(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int64_t blist_rows(const blist *l) {
  int64_t r = 0;
  for (size_t i = 0; i < l->n; i++)
    r += l->v[i]->n_rows;
  return r;
}

static blist make_input(int64_t rows, int64_t per) {
  blist l = {0};
  for (int64_t r = 0; r < rows; r += per)
    blist_add(&l, make_batch(r, rows - r < per ? rows - r : per));
  return l;
}

static dq_batch *concat(const blist *l, dq_schema *s) {
  dq_batch *b;
  dq_error err;
  assert_int_equal(dq_batch_concat(s, l->v, l->n, &b, &err), 0);
  return b;
}

/* --- Reading from memory ------------------------------------------------------ */

typedef struct source {
  const blist *in;
  size_t next;
  int pulls, opens;
  bool closed;
} source;

static int src_open(void *ctx, uint32_t producer, uint32_t partition,
                    void **reader, dq_error *err) {
  source *s = ctx;
  s->opens++;
  *reader = s;
  return 0;
}

static int src_next(void *ctx, void *reader, dq_batch **out, dq_error *err) {
  source *s = reader;
  s->pulls++;
  *out = s->next < s->in->n ? dq_batch_ref(s->in->v[s->next++]) : NULL;
  return 0;
}

static void src_close(void *ctx, void *reader) { ((source *)reader)->closed = true; }

static dq_node *read_node(dq_schema *s) {
  dq_node *n;
  dq_error err;
  assert_int_equal(dq_node_new_read(1, s, &n, &err), 0);
  return n;
}

/* Runs a one-partition pipeline over `root` with the source; returns the
 * batches (and the first error code in *rc_out when given). */
static blist run_ops(dq_node *root, source *src, int64_t batch_rows,
                     const atomic_bool *cancel, int *rc_out) {
  dq_stage st;
  memset(&st, 0, sizeof st);
  st.id = 2;
  st.task_count = 1;
  st.partitions = 1;
  st.root = root;
  dq_exec_env env = {.task_number = 0, .task_count = 1, .n_partitions = 1,
                     .batch_rows = batch_rows, .cancelled = cancel,
                     .reader_ctx = src, .read_open = src_open,
                     .read_next = src_next, .read_close = src_close};
  dq_exec *e;
  dq_error err;
  blist out = {0};
  int rc = dq_exec_open(&st, &env, 0, &e, &err);
  assert_int_equal(rc, 0);
  for (;;) {
    dq_batch *b;
    if ((rc = dq_exec_next(e, &b, &err)) != 0 || b == NULL)
      break;
    assert_true(b->n_rows > 0);
    assert_true(b->n_rows <= batch_rows || root->kind == DQ_NODE_FILTER ||
                root->kind == DQ_NODE_PROJECT || root->kind == DQ_NODE_READ ||
                root->kind == DQ_NODE_LIMIT);
    blist_add(&out, b);
  }
  dq_exec_close(e);
  if (rc_out)
    *rc_out = rc;
  else if (rc != 0)
    fail_msg("pipeline: %s", err.message);
  return out;
}

#define B dq_plan_builder *b = NULL; dq_error berr; \
  assert_int_equal(dq_plan_builder_new(&b, &berr), 0)
#define C(name) dq_expr_column(b, name)

static int setup(void **state) {
  dq_error err;
  assert_int_equal(dq_schema_new(NCOLS, cnames, ctypes, NULL, &schema, &err),
                   0);
  return 0;
}

static int teardown(void **state) {
  dq_schema_unref(schema);
  return 0;
}

/* --- Filter and project ----------------------------------------------------- */

static void test_filter(void **state) {
  B;
  blist in = make_input(3000, 256);
  dq_batch *all = concat(&in, schema);
  dq_node *rd = read_node(schema), *f;
  dq_error err;
  /* k1 < 2 AND vd IS NOT NULL: nulls in k1 drop the row. */
  assert_int_equal(dq_node_new_filter(rd, dq_expr_and(b, dq_expr_lt(b, C("k1"),
                                          dq_expr_int32(b, 2)),
                                          dq_expr_is_not_null(b, C("vd"))),
                                      &f, &err), 0);
  source src = {&in, 0, 0, 0, false};
  blist out = run_ops(f, &src, 1024, NULL, NULL);
  int64_t want = 0;
  for (int64_t i = 0; i < all->n_rows; i++)
    want += !dq_array_is_null(all->columns[1], i) &&
            dq_array_int32(all->columns[1], i) < 2 &&
            !dq_array_is_null(all->columns[4], i);
  assert_int_equal(blist_rows(&out), want);
  int64_t prev = -1;
  for (size_t k = 0; k < out.n; k++)
    for (int64_t i = 0; i < out.v[k]->n_rows; i++) {
      const dq_array *k1 = out.v[k]->columns[1];
      assert_false(dq_array_is_null(k1, i));
      assert_true(dq_array_int32(k1, i) < 2);
      int64_t rid = dq_array_int64(out.v[k]->columns[0], i);
      assert_true(rid > prev); /* order kept */
      prev = rid;
    }
  assert_true(src.closed);
  blist_free(&out);
  dq_node_unref(f);
  /* All rows pass: the batches pass through uncopied; none pass: nothing. */
  assert_int_equal(dq_node_new_filter(rd, dq_expr_ge(b, C("rid"),
                                          dq_expr_int32(b, 0)), &f, &err), 0);
  source s2 = {&in, 0, 0, 0, false};
  out = run_ops(f, &s2, 1024, NULL, NULL);
  assert_int_equal(out.n, in.n);
  for (size_t k = 0; k < out.n; k++)
    assert_ptr_equal(out.v[k], in.v[k]);
  blist_free(&out);
  dq_node_unref(f);
  assert_int_equal(dq_node_new_filter(rd, dq_expr_null(b, (dq_type){DQ_TYPE_BOOL, 0, 0}),
                                      &f, &err), 0);
  source s3 = {&in, 0, 0, 0, false};
  out = run_ops(f, &s3, 1024, NULL, NULL);
  assert_int_equal(out.n, 0);
  blist_free(&out);
  /* Empty input, and an input holding a 0-row batch. */
  blist empty = {0};
  source s4 = {&empty, 0, 0, 0, false};
  out = run_ops(f, &s4, 1024, NULL, NULL);
  assert_int_equal(out.n, 0);
  dq_node_unref(f);
  blist zero = {0};
  blist_add(&zero, make_batch(0, 0));
  blist_add(&zero, make_batch(0, 1));
  assert_int_equal(dq_node_new_filter(rd, dq_expr_bool(b, true), &f, &err), 0);
  source s5 = {&zero, 0, 0, 0, false};
  out = run_ops(f, &s5, 1024, NULL, NULL);
  assert_int_equal(out.n, 1);
  assert_int_equal(out.v[0]->n_rows, 1);
  blist_free(&out);
  blist_free(&zero);
  dq_node_unref(f);
  dq_node_unref(rd);
  dq_batch_unref(all);
  blist_free(&in);
  dq_plan_builder_free(b);
}

static void test_project(void **state) {
  B;
  blist in = make_input(1000, 100);
  dq_node *rd = read_node(schema), *p;
  dq_error err;
  const dq_expr *exprs[] = {C("vs"), dq_expr_mul(b, C("vd"), dq_expr_int32(b, 3)),
                            dq_expr_is_null(b, C("k2")),
                            dq_expr_utf8(b, "const")};
  const char *names[] = {"vs", "vd3", "k2null", "c"};
  assert_int_equal(dq_node_new_project(rd, 4, exprs, names, &p, &err), 0);
  source src = {&in, 0, 0, 0, false};
  blist out = run_ops(p, &src, 1024, NULL, NULL);
  assert_int_equal(out.n, in.n);
  for (size_t k = 0; k < out.n; k++) {
    const dq_batch *o = out.v[k], *i0 = in.v[k];
    assert_ptr_equal(o->columns[0], i0->columns[6]); /* no copy */
    for (int64_t i = 0; i < o->n_rows; i++) {
      bool null = dq_array_is_null(i0->columns[4], i);
      assert_int_equal(dq_array_is_null(o->columns[1], i), null);
      if (!null)
        assert_true(dq_decimal_to_i128(dq_array_decimal(o->columns[1], i)) ==
                    3 * dq_decimal_to_i128(dq_array_decimal(i0->columns[4], i)));
      assert_int_equal(dq_array_bool(o->columns[2], i),
                       dq_array_is_null(i0->columns[2], i));
      size_t len;
      assert_memory_equal(dq_array_utf8(o->columns[3], i, &len), "const", 5);
    }
  }
  blist_free(&out);
  dq_node_unref(p);
  dq_node_unref(rd);
  blist_free(&in);
  dq_plan_builder_free(b);
}

/* --- Aggregate ---------------------------------------------------------------- */

static const dq_agg_func funcs[] = {DQ_AGG_SUM,   DQ_AGG_SUM,  DQ_AGG_SUM,
                                    DQ_AGG_COUNT, DQ_AGG_COUNT_STAR,
                                    DQ_AGG_MIN,   DQ_AGG_MAX,  DQ_AGG_AVG,
                                    DQ_AGG_AVG,   DQ_AGG_AVG,  DQ_AGG_MIN,
                                    DQ_AGG_MAX,   DQ_AGG_MIN};
static const char *const agg_names[] = {"s_vi", "s_vd", "s_vf", "c_vd",
                                        "cs",   "mn_vd", "mx_vi", "a_vi",
                                        "a_vd", "a_vf", "mn_vs", "mx_vs",
                                        "mn_vt"};
#define NAGG 13

static void agg_args(dq_plan_builder *b, const dq_expr **args) {
  const char *cols[NAGG] = {"vi", "vd", "vf", "vd", NULL, "vd", "vi",
                            "vi", "vd", "vf", "vs", "vs", "vt"};
  for (int i = 0; i < NAGG; i++)
    args[i] = cols[i] ? C(cols[i]) : NULL;
}

static dq_node *agg_node(dq_plan_builder *b, dq_node *input, dq_agg_mode mode,
                         size_t n_groups) {
  const dq_expr *groups[] = {C("k1"), C("k2")};
  const char *gnames[] = {"k1", "k2"};
  const dq_expr *args[NAGG];
  agg_args(b, args);
  dq_node *n;
  dq_error err;
  int rc = dq_node_new_aggregate(input, mode, n_groups, groups, gnames, NAGG,
                                 funcs, args, agg_names, &n, &err);
  if (rc != 0)
    fail_msg("aggregate: %s", err.message);
  return n;
}

static dq_node *sorted_by_keys(dq_plan_builder *b, dq_node *input,
                               size_t n_keys) {
  const dq_expr *k[] = {C("k1"), C("k2")};
  bool nf[] = {true, true};
  dq_node *n;
  dq_error err;
  assert_int_equal(dq_node_new_sort(input, n_keys, k, NULL, nf, &n, &err), 0);
  return n;
}

static bool same_value(const dq_array *a, int64_t i, const dq_array *c,
                       int64_t j) {
  if (dq_array_is_null(a, i) || dq_array_is_null(c, j))
    return dq_array_is_null(a, i) && dq_array_is_null(c, j);
  size_t la, lc;
  switch (a->type.id) {
  case DQ_TYPE_INT32: return dq_array_int32(a, i) == dq_array_int32(c, j);
  case DQ_TYPE_DATE32: return dq_array_date32(a, i) == dq_array_date32(c, j);
  case DQ_TYPE_INT64: return dq_array_int64(a, i) == dq_array_int64(c, j);
  case DQ_TYPE_FLOAT64: return dq_array_float64(a, i) == dq_array_float64(c, j);
  case DQ_TYPE_DECIMAL:
    return dq_decimal_to_i128(dq_array_decimal(a, i)) ==
           dq_decimal_to_i128(dq_array_decimal(c, j));
  case DQ_TYPE_UTF8: {
    const char *x = dq_array_utf8(a, i, &la), *y = dq_array_utf8(c, j, &lc);
    return la == lc && (la == 0 || memcmp(x, y, la) == 0);
  }
  case DQ_TYPE_BOOL: return dq_array_bool(a, i) == dq_array_bool(c, j);
  }
  return false;
}

static void assert_same_batches(const dq_batch *x, const dq_batch *y) {
  assert_true(dq_schema_equal(x->schema, y->schema));
  assert_int_equal(x->n_rows, y->n_rows);
  for (size_t c = 0; c < x->schema->n_fields; c++)
    for (int64_t i = 0; i < x->n_rows; i++)
      if (!same_value(x->columns[c], i, y->columns[c], i))
        fail_msg("column %s row %" PRId64 " differs",
                 x->schema->names[c], i);
}

/* Naive check of SINGLE's output against the input rows. */
static void check_groups(const dq_batch *in, const dq_batch *out) {
  int64_t total = 0;
  for (int64_t g = 0; g < out->n_rows; g++) {
    dq_i128 s_vd = 0;
    int64_t s_vi = 0, c_vd = 0, cs = 0, mx_vi = INT64_MIN;
    for (int64_t i = 0; i < in->n_rows; i++) {
      if (!same_value(in->columns[1], i, out->columns[0], g) ||
          !same_value(in->columns[2], i, out->columns[1], g))
        continue;
      cs++;
      s_vi += dq_array_int64(in->columns[3], i);
      if (dq_array_int64(in->columns[3], i) > mx_vi)
        mx_vi = dq_array_int64(in->columns[3], i);
      if (!dq_array_is_null(in->columns[4], i)) {
        c_vd++;
        s_vd += dq_decimal_to_i128(dq_array_decimal(in->columns[4], i));
      }
    }
    assert_true(cs > 0);
    total += cs;
    int col = 2; /* after k1, k2 */
    assert_int_equal(dq_array_int64(out->columns[col + 0], g), s_vi);
    if (c_vd == 0)
      assert_true(dq_array_is_null(out->columns[col + 1], g));
    else
      assert_true(dq_decimal_to_i128(dq_array_decimal(out->columns[col + 1], g)) == s_vd);
    assert_int_equal(dq_array_int64(out->columns[col + 3], g), c_vd);
    assert_int_equal(dq_array_int64(out->columns[col + 4], g), cs);
    assert_int_equal(dq_array_int64(out->columns[col + 6], g), mx_vi);
    assert_true(dq_array_float64(out->columns[col + 7], g) ==
                (double)s_vi / (double)cs);
    if (c_vd > 0) {
      /* avg(decimal(12,2)) -> decimal(16,6), half away from zero */
      dq_i128 want = dq_i128_div_round(s_vd * 10000, c_vd);
      assert_true(dq_decimal_to_i128(dq_array_decimal(out->columns[col + 8], g)) == want);
    }
  }
  assert_int_equal(total, in->n_rows);
}

static blist run_agg(dq_plan_builder *b, const blist *in, dq_agg_mode mode,
                     size_t groups, int64_t batch_rows) {
  dq_node *rd = read_node(schema);
  dq_node *a = agg_node(b, rd, mode, groups);
  source src = {in, 0, 0, 0, false};
  blist out = run_ops(a, &src, batch_rows, NULL, NULL);
  assert_true(src.closed);
  dq_node_unref(a);
  dq_node_unref(rd);
  return out;
}

static void test_aggregate_single(void **state) {
  B;
  blist in = make_input(2500, 300);
  dq_batch *all = concat(&in, schema);
  blist out = run_agg(b, &in, DQ_AGG_SINGLE, 2, 7); /* tiny output batches */
  assert_true(out.n > 1);
  dq_node *probe = agg_node(b, read_node(schema), DQ_AGG_SINGLE, 2);
  dq_batch *o = concat(&out, probe->schema);
  /* 6 k1 values (with NULL) x 4 k2 values (with NULL) */
  assert_int_equal(o->n_rows, 24);
  char t[32];
  assert_string_equal(dq_type_format(probe->schema->types[10], t, sizeof t),
                      "decimal(16,6)");
  assert_int_equal(probe->schema->types[2].id, DQ_TYPE_INT64);
  assert_string_equal(dq_type_format(probe->schema->types[3], t, sizeof t),
                      "decimal(38,2)");
  check_groups(all, o);
  dq_batch_unref(o);
  blist_free(&out);
  /* One row in, and no rows in. */
  blist one = {0};
  blist_add(&one, make_batch(0, 1));
  out = run_agg(b, &one, DQ_AGG_SINGLE, 2, 1024);
  assert_int_equal(blist_rows(&out), 1);
  blist_free(&out);
  blist_free(&one);
  blist empty = {0};
  out = run_agg(b, &empty, DQ_AGG_SINGLE, 2, 1024);
  assert_int_equal(out.n, 0);
  blist_free(&out);
  /* Without keys: one row even for no input (count 0, sums NULL). */
  out = run_agg(b, &empty, DQ_AGG_SINGLE, 0, 1024);
  assert_int_equal(blist_rows(&out), 1);
  const dq_batch *g = out.v[0];
  assert_true(dq_array_is_null(g->columns[0], 0));
  assert_int_equal(dq_array_int64(g->columns[3], 0), 0);
  assert_int_equal(dq_array_int64(g->columns[4], 0), 0);
  assert_true(dq_array_is_null(g->columns[7], 0));
  assert_true(dq_array_is_null(g->columns[10], 0));
  blist_free(&out);
  out = run_agg(b, &empty, DQ_AGG_PARTIAL, 0, 1024);
  assert_int_equal(out.n, 0);
  blist_free(&out);
  dq_node_unref(probe->input);
  dq_node_unref(probe);
  dq_batch_unref(all);
  blist_free(&in);
  dq_plan_builder_free(b);
}

static void test_aggregate_partial_final(void **state) {
  B;
  for (int round = 0; round < 12; round++) {
    size_t groups = round % 3 == 2 ? 0 : 2;
    int64_t rows = round == 0   ? 1
                   : round <= 2 ? 0 /* empty, with and without keys */
                                : (int64_t)(next_rand() % 3000);
    blist in = make_input(rows, 1 + (int64_t)(next_rand() % 400));
    /* SINGLE over everything, sorted by the keys. */
    dq_node *rd = read_node(schema);
    dq_node *single = agg_node(b, rd, DQ_AGG_SINGLE, groups);
    dq_node *s1 = groups ? sorted_by_keys(b, single, groups) : dq_node_ref(single);
    source src = {&in, 0, 0, 0, false};
    blist want = run_ops(s1, &src, 4096, NULL, NULL);
    dq_batch *w = concat(&want, s1->schema);
    /* PARTIAL over a random split of the input, in random order. */
    dq_node *partial = agg_node(b, rd, DQ_AGG_PARTIAL, groups);
    size_t parts = 1 + next_rand() % 5;
    size_t *owner = calloc(in.n + 1, sizeof *owner);
    for (size_t k = 0; k < in.n; k++)
      owner[k] = next_rand() % parts;
    blist states = {0};
    for (size_t p = 0; p < parts; p++) {
      blist part = {0};
      for (size_t k = 0; k < in.n; k++)
        if (owner[k] == p)
          blist_add(&part, dq_batch_ref(in.v[k]));
      source ps = {&part, 0, 0, 0, false};
      blist st = run_ops(partial, &ps, 1 + (int64_t)(next_rand() % 50), NULL,
                         NULL);
      for (size_t k = 0; k < st.n; k++)
        blist_add(&states, dq_batch_ref(st.v[k]));
      blist_free(&st);
      blist_free(&part);
    }
    free(owner);
    for (size_t k = states.n; k > 1; k--) { /* shuffle */
      size_t j = next_rand() % k;
      dq_batch *t = states.v[k - 1];
      states.v[k - 1] = states.v[j];
      states.v[j] = t;
    }
    /* FINAL over the states (READ of the partial's schema). */
    dq_node *rd2 = read_node(partial->schema), *fin;
    dq_type arg_types[NAGG];
    const char *names[NAGG];
    dq_agg_func fs[NAGG];
    for (int i = 0; i < NAGG; i++) {
      arg_types[i] = partial->aggs[i].arg_type;
      names[i] = partial->aggs[i].name;
      fs[i] = partial->aggs[i].func;
    }
    dq_error err;
    assert_int_equal(dq_node_new_aggregate_final(rd2, groups,
                         (const char *const *)partial->names, NAGG, fs,
                         arg_types, names, &fin, &err), 0);
    assert_true(dq_schema_equal(fin->schema, single->schema));
    dq_node *f1 = groups ? sorted_by_keys(b, fin, groups) : dq_node_ref(fin);
    source fsrc = {&states, 0, 0, 0, false};
    blist got = run_ops(f1, &fsrc, 4096, NULL, NULL);
    dq_batch *g = concat(&got, f1->schema);
    if (getenv("DQ_TEST_VERBOSE"))
      printf("round %d: %" PRId64 " rows, groups %zu, %zu parts, %" PRId64
             " vs %" PRId64 " out\n", round, rows, groups, parts, w->n_rows,
             g->n_rows);
    assert_same_batches(w, g);
    dq_batch_unref(g);
    dq_batch_unref(w);
    blist_free(&got);
    blist_free(&want);
    blist_free(&states);
    blist_free(&in);
    dq_node_unref(f1);
    dq_node_unref(fin);
    dq_node_unref(rd2);
    dq_node_unref(partial);
    dq_node_unref(s1);
    dq_node_unref(single);
    dq_node_unref(rd);
  }
  dq_plan_builder_free(b);
}

static void test_final_layout_checked(void **state) {
  /* A FINAL whose input is not a matching PARTIAL output is refused. */
  dq_node *rd = read_node(schema), *fin;
  dq_agg_func f[] = {DQ_AGG_AVG};
  dq_type t[] = {{DQ_TYPE_INT64, 0, 0}};
  const char *n[] = {"a"};
  const char *g[] = {"rid"};
  dq_error err;
  assert_int_equal(dq_node_new_aggregate_final(rd, 1, g, 1, f, t, n, &fin,
                                               &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "state"));
  dq_node_unref(rd);
}

/* --- Sort ---------------------------------------------------------------------- */

static void test_sort(void **state) {
  B;
  blist in = make_input(4000, 333);
  dq_node *rd = read_node(schema), *s;
  dq_error err;
  /* k1 ASC NULLS FIRST, k2 DESC NULLS LAST, vf DESC, then stable (rid). */
  const dq_expr *keys[] = {C("k1"), C("k2"), C("vf")};
  bool desc[] = {false, true, true}, nf[] = {true, false, false};
  assert_int_equal(dq_node_new_sort(rd, 3, keys, desc, nf, &s, &err), 0);
  source src = {&in, 0, 0, 0, false};
  blist out = run_ops(s, &src, 500, NULL, NULL);
  assert_int_equal(blist_rows(&out), 4000);
  assert_int_equal(out.n, 8);
  dq_batch *o = concat(&out, schema);
  for (int64_t i = 1; i < o->n_rows; i++) {
    const dq_array *k1 = o->columns[1], *k2 = o->columns[2], *vf = o->columns[5];
    int c = 0;
    bool n0 = dq_array_is_null(k1, i - 1), n1 = dq_array_is_null(k1, i);
    if (n0 != n1)
      c = n0 ? -1 : 1;
    else if (!n0)
      c = (dq_array_int32(k1, i - 1) > dq_array_int32(k1, i)) -
          (dq_array_int32(k1, i - 1) < dq_array_int32(k1, i));
    if (c == 0) {
      n0 = dq_array_is_null(k2, i - 1);
      n1 = dq_array_is_null(k2, i);
      if (n0 != n1)
        c = n0 ? 1 : -1; /* nulls last */
      else if (!n0) {
        size_t la, lb;
        const char *a = dq_array_utf8(k2, i - 1, &la), *bb = dq_array_utf8(k2, i, &lb);
        int r = memcmp(a, bb, la < lb ? la : lb);
        if (r == 0)
          r = la < lb ? -1 : la > lb;
        c = -((r > 0) - (r < 0)); /* desc */
      }
    }
    if (c == 0)
      c = -((dq_array_float64(vf, i - 1) > dq_array_float64(vf, i)) -
            (dq_array_float64(vf, i - 1) < dq_array_float64(vf, i)));
    if (c == 0) /* stable: input order */
      c = dq_array_int64(o->columns[0], i - 1) < dq_array_int64(o->columns[0], i)
              ? -1 : 1;
    if (c > 0)
      fail_msg("rows %" PRId64 " and %" PRId64 " are out of order", i - 1, i);
  }
  dq_batch_unref(o);
  blist_free(&out);
  /* Empty and one-row inputs. */
  blist empty = {0};
  source s2 = {&empty, 0, 0, 0, false};
  out = run_ops(s, &s2, 500, NULL, NULL);
  assert_int_equal(out.n, 0);
  blist one = {0};
  blist_add(&one, make_batch(0, 1));
  source s3 = {&one, 0, 0, 0, false};
  out = run_ops(s, &s3, 500, NULL, NULL);
  assert_int_equal(blist_rows(&out), 1);
  blist_free(&out);
  blist_free(&one);
  dq_node_unref(s);
  dq_node_unref(rd);
  blist_free(&in);
  dq_plan_builder_free(b);
}

/* --- Limit ----------------------------------------------------------------------- */

static void test_limit(void **state) {
  blist in = make_input(10000, 100); /* 100 batches */
  dq_node *rd = read_node(schema), *l;
  dq_error err;
  assert_int_equal(dq_node_new_limit(rd, 150, 30, &l, &err), 0);
  source src = {&in, 0, 0, 0, false};
  blist out = run_ops(l, &src, 1024, NULL, NULL);
  assert_int_equal(blist_rows(&out), 150);
  int64_t rid = 30;
  for (size_t k = 0; k < out.n; k++)
    for (int64_t i = 0; i < out.v[k]->n_rows; i++)
      assert_int_equal(dq_array_int64(out.v[k]->columns[0], i), rid++);
  /* Rows 30..179 are in the first 2 batches: 2 pulls, then the reader is
   * closed without reading on. */
  assert_int_equal(src.pulls, 2);
  assert_true(src.closed);
  blist_free(&out);
  dq_node_unref(l);
  /* LIMIT 0 reads nothing at all. */
  assert_int_equal(dq_node_new_limit(rd, 0, 0, &l, &err), 0);
  source s2 = {&in, 0, 0, 0, false};
  out = run_ops(l, &s2, 1024, NULL, NULL);
  assert_int_equal(out.n, 0);
  assert_int_equal(s2.opens, 0);
  dq_node_unref(l);
  /* More than there is; offset past the end. */
  assert_int_equal(dq_node_new_limit(rd, 1000000, 9990, &l, &err), 0);
  source s3 = {&in, 0, 0, 0, false};
  out = run_ops(l, &s3, 1024, NULL, NULL);
  assert_int_equal(blist_rows(&out), 10);
  blist_free(&out);
  dq_node_unref(l);
  assert_int_equal(dq_node_new_limit(rd, 5, 20000, &l, &err), 0);
  source s4 = {&in, 0, 0, 0, false};
  out = run_ops(l, &s4, 1024, NULL, NULL);
  assert_int_equal(out.n, 0);
  dq_node_unref(l);
  assert_int_equal(dq_node_new_limit(rd, -1, 0, &l, &err), DQ_EINVAL);
  dq_node_unref(rd);
  blist_free(&in);
}

/* --- Join, top-N, union ----------------------------------------------------------
 * Several READ leaves: each producer id has its own source. */

typedef struct msrc {
  source *s[8];
} msrc;

static int msrc_open(void *ctx, uint32_t producer, uint32_t partition,
                     void **reader, dq_error *err) {
  msrc *m = ctx;
  assert_true(producer < 8 && m->s[producer] != NULL);
  m->s[producer]->opens++;
  *reader = m->s[producer];
  return 0;
}

static dq_node *read_from(uint32_t producer, dq_schema *s) {
  dq_node *n;
  dq_error err;
  assert_int_equal(dq_node_new_read(producer, s, &n, &err), 0);
  return n;
}

/* Runs root over the sources; *peak gets the pipeline's memory peak. */
static blist run_multi(dq_node *root, msrc *m, int64_t batch_rows,
                       int64_t *peak) {
  dq_stage st;
  memset(&st, 0, sizeof st);
  st.id = 9;
  st.task_count = 1;
  st.partitions = 1;
  st.root = root;
  dq_exec_env env = {.task_number = 0, .task_count = 1, .n_partitions = 1,
                     .batch_rows = batch_rows, .reader_ctx = m,
                     .read_open = msrc_open, .read_next = src_next,
                     .read_close = src_close};
  dq_exec *e;
  dq_error err;
  blist out = {0};
  assert_int_equal(dq_exec_open(&st, &env, 0, &e, &err), 0);
  for (;;) {
    dq_batch *b;
    int rc = dq_exec_next(e, &b, &err);
    if (rc != 0)
      fail_msg("pipeline: %s", err.message);
    if (b == NULL)
      break;
    assert_true(b->n_rows > 0);
    assert_true(dq_schema_equal(b->schema, root->schema));
    blist_add(&out, b);
  }
  if (peak)
    *peak = dq_exec_memory_peak(e);
  dq_exec_close(e);
  return out;
}

static bool same_i32(const dq_array *a, int64_t i, const dq_array *b,
                     int64_t j) {
  return !dq_array_is_null(a, i) && !dq_array_is_null(b, j) &&
         dq_array_int32(a, i) == dq_array_int32(b, j);
}

static bool same_utf8(const dq_array *a, int64_t i, const dq_array *b,
                      int64_t j) {
  if (dq_array_is_null(a, i) || dq_array_is_null(b, j))
    return false;
  size_t la, lb;
  const char *x = dq_array_utf8(a, i, &la), *y = dq_array_utf8(b, j, &lb);
  return la == lb && memcmp(x, y, la) == 0;
}

/* vd(probe) < vd(build), NULL is not true. */
static bool vd_less(const dq_batch *p, int64_t i, const dq_batch *b,
                    int64_t j) {
  if (dq_array_is_null(p->columns[4], i) || dq_array_is_null(b->columns[4], j))
    return false;
  return dq_decimal_to_i128(dq_array_decimal(p->columns[4], i)) <
         dq_decimal_to_i128(dq_array_decimal(b->columns[4], j));
}

typedef struct pair {
  int64_t p, b; /* rids; b = -1: build side NULL; -2: probe row only */
} pair;

static int pair_cmp(const void *x, const void *y) {
  const pair *a = x, *b = y;
  if (a->p != b->p)
    return a->p < b->p ? -1 : 1;
  return (a->b > b->b) - (a->b < b->b);
}

typedef struct plist {
  pair *v;
  size_t n, cap;
} plist;

static void plist_add(plist *l, int64_t p, int64_t b) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 1024;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  l->v[l->n].p = p;
  l->v[l->n].b = b;
  l->n++;
}

/* The join's answer by nested loops; key: 0 = (k1, k2) pairs, 1 = k1 with
 * the build's vi (int32 = int64). */
static plist expected_join(const dq_batch *P, const dq_batch *Bt,
                           dq_join_kind kind, int key, bool residual) {
  plist l = {0};
  int64_t np = P ? P->n_rows : 0, nb = Bt ? Bt->n_rows : 0;
  for (int64_t i = 0; i < np; i++) {
    int64_t prid = dq_array_int64(P->columns[0], i);
    bool any = false;
    for (int64_t j = 0; j < nb; j++) {
      bool m;
      dq_array *const *pc = P->columns, *const *bc = Bt->columns;
      switch (key) {
      case 0:
        m = same_i32(pc[1], i, bc[1], j) && same_utf8(pc[2], i, bc[2], j);
        break;
      case 1:
        m = !dq_array_is_null(pc[1], i) &&
            dq_array_int32(pc[1], i) == dq_array_int64(bc[3], j);
        break;
      case 2: /* decimal(12,2) = decimal(15,3) of the same value */
        m = !dq_array_is_null(pc[4], i) && !dq_array_is_null(bc[4], j) &&
            dq_decimal_to_i128(dq_array_decimal(pc[4], i)) ==
                dq_decimal_to_i128(dq_array_decimal(bc[4], j));
        break;
      case 3:
        m = dq_array_float64(pc[5], i) == dq_array_float64(bc[5], j);
        break;
      case 4:
        m = dq_array_date32(pc[7], i) == dq_array_date32(bc[7], j);
        break;
      default: /* k2 = vs: no value in common */
        m = same_utf8(pc[2], i, bc[6], j);
        break;
      }
      if (m && residual)
        m = vd_less(P, i, Bt, j);
      if (!m)
        continue;
      any = true;
      if (kind == DQ_JOIN_INNER || kind == DQ_JOIN_LEFT)
        plist_add(&l, prid, dq_array_int64(Bt->columns[0], j));
    }
    if (kind == DQ_JOIN_LEFT && !any)
      plist_add(&l, prid, -1);
    if ((kind == DQ_JOIN_LEFT_SEMI && any) ||
        (kind == DQ_JOIN_LEFT_ANTI && !any))
      plist_add(&l, prid, -2);
  }
  if (l.n > 0)
    qsort(l.v, l.n, sizeof *l.v, pair_cmp);
  return l;
}

static plist got_join(const blist *out, dq_join_kind kind) {
  plist l = {0};
  for (size_t k = 0; k < out->n; k++) {
    const dq_batch *o = out->v[k];
    for (int64_t i = 0; i < o->n_rows; i++) {
      int64_t prid = dq_array_int64(o->columns[0], i);
      if (kind == DQ_JOIN_LEFT_SEMI || kind == DQ_JOIN_LEFT_ANTI) {
        assert_int_equal(o->schema->n_fields, NCOLS);
        plist_add(&l, prid, -2);
        continue;
      }
      const dq_array *brid = o->columns[NCOLS];
      if (dq_array_is_null(brid, i)) {
        assert_int_equal(kind, DQ_JOIN_LEFT);
        /* Every build column is NULL on an unmatched row. */
        for (size_t c = NCOLS; c < 2 * NCOLS; c++)
          assert_true(dq_array_is_null(o->columns[c], i));
        plist_add(&l, prid, -1);
      } else {
        plist_add(&l, prid, dq_array_int64(brid, i));
      }
    }
  }
  if (l.n > 0)
    qsort(l.v, l.n, sizeof *l.v, pair_cmp);
  return l;
}

static void check_join(dq_plan_builder *b, blist *pin, blist *bin,
                       dq_join_kind kind, int key, bool residual,
                       int64_t batch_rows) {
  dq_node *rp = read_from(1, schema), *rb = read_from(2, schema), *j;
  dq_error err;
  const dq_expr *pk[2], *bk[2];
  size_t nk;
  static const char *const one[][2] = {
      {NULL, NULL}, {"k1", "vi"}, {"vd", "vd"},
      {"vf", "vf"}, {"vt", "vt"}, {"k2", "vs"}};
  if (key == 0) {
    pk[0] = C("k1"); pk[1] = C("k2");
    bk[0] = C("k1"); bk[1] = C("k2");
    nk = 2;
  } else {
    pk[0] = C(one[key][0]);
    bk[0] = C(one[key][1]);
    if (key == 2) /* another scale: the keys meet at decimal(_,3) */
      bk[0] = dq_expr_cast(b, C("vd"), (dq_type){DQ_TYPE_DECIMAL, 15, 3});
    nk = 1;
  }
  dq_expr *res = residual ? dq_expr_lt(b, C("vd"), C("vd_r")) : NULL;
  if (dq_node_new_hash_join(kind, rp, rb, nk, pk, bk, res, NULL, &j, &err))
    fail_msg("join: %s", err.message);
  source ps = {pin, 0, 0, 0, false}, bs = {bin, 0, 0, 0, false};
  msrc m = {{NULL, &ps, &bs}};
  int64_t peak = 0;
  blist out = run_multi(j, &m, batch_rows, &peak);
  for (size_t k = 0; k < out.n; k++)
    assert_true(out.v[k]->n_rows <= batch_rows ||
                kind != DQ_JOIN_INNER);
  dq_batch *P = pin->n ? concat(pin, schema) : NULL;
  dq_batch *Bt = bin->n ? concat(bin, schema) : NULL;
  plist want = expected_join(P, Bt, kind, key, residual);
  plist got = got_join(&out, kind);
  /* The main data set really joins: ~70k pairs. */
  if (kind == DQ_JOIN_INNER && key == 0 && !residual && pin->n > 1 &&
      bin->n > 1)
    assert_true(want.n > 20000);
  if (want.n != got.n)
    fail_msg("join kind %d key %d residual %d: %zu rows, expected %zu",
             (int)kind, key, residual, got.n, want.n);
  for (size_t i = 0; i < want.n; i++)
    if (pair_cmp(&want.v[i], &got.v[i]) != 0)
      fail_msg("join kind %d: row %zu is (%" PRId64 ", %" PRId64 "), "
               "expected (%" PRId64 ", %" PRId64 ")", (int)kind, i,
               got.v[i].p, got.v[i].b, want.v[i].p, want.v[i].b);
  /* The build side is held: the pipeline's peak counts it. */
  if (Bt != NULL)
    assert_true(peak >= (int64_t)dq_batch_byte_size(Bt));
  else
    assert_int_equal(peak, 0);
  /* No build rows: INNER and SEMI never read the probe side. */
  if (Bt == NULL && (kind == DQ_JOIN_INNER || kind == DQ_JOIN_LEFT_SEMI))
    assert_int_equal(ps.opens, 0);
  assert_true(bs.closed);
  free(want.v);
  free(got.v);
  dq_batch_unref(P);
  dq_batch_unref(Bt);
  blist_free(&out);
  dq_node_unref(j);
  dq_node_unref(rp);
  dq_node_unref(rb);
}

static void test_hash_join(void **state) {
  B;
  blist pin = make_input(3000, 256), bin = make_input(700, 100);
  blist empty = {0}, one_p = {0}, one_b = {0};
  blist_add(&one_p, make_batch(0, 1));
  blist_add(&one_b, make_batch(0, 1));
  for (int kind = DQ_JOIN_INNER; kind <= DQ_JOIN_LEFT_ANTI; kind++) {
    for (int res = 0; res < 2; res++) {
      check_join(b, &pin, &bin, (dq_join_kind)kind, 0, res, 1024);
      check_join(b, &pin, &bin, (dq_join_kind)kind, 0, res, 97);
    }
    for (int key = 1; key <= 5; key++)
      check_join(b, &pin, &bin, (dq_join_kind)kind, key, key % 2, 4096);
    check_join(b, &pin, &empty, (dq_join_kind)kind, 0, false, 1024);
    check_join(b, &pin, &empty, (dq_join_kind)kind, 0, true, 1024);
    check_join(b, &empty, &bin, (dq_join_kind)kind, 0, true, 1024);
    check_join(b, &one_p, &one_b, (dq_join_kind)kind, 0, false, 1024);
    check_join(b, &one_p, &bin, (dq_join_kind)kind, 1, true, 1024);
  }
  blist_free(&pin);
  blist_free(&bin);
  blist_free(&one_p);
  blist_free(&one_b);
  dq_plan_builder_free(b);
}

static void test_hash_join_checks(void **state) {
  B;
  dq_node *rp = read_from(1, schema), *rb = read_from(2, schema), *j;
  dq_error err;
  /* Default names: clashing build names get "_r". */
  const dq_expr *pk[] = {C("k1")}, *bk[] = {C("k1")};
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_INNER, rp, rb, 1, pk, bk,
                                         NULL, NULL, &j, &err), 0);
  assert_int_equal(dq_schema_n_fields(j->schema), 2 * NCOLS);
  assert_string_equal(dq_schema_field_name(j->schema, NCOLS), "rid_r");
  assert_string_equal(dq_schema_field_name(j->schema, NCOLS + 7), "vt_r");
  dq_node_unref(j);
  /* LEFT makes the build columns nullable; SEMI outputs the probe's. */
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_LEFT_SEMI, rp, rb, 1, pk, bk,
                                         dq_expr_gt(b, C("vi_r"), C("vi")),
                                         NULL, &j, &err), 0);
  assert_int_equal(dq_schema_n_fields(j->schema), NCOLS);
  assert_string_equal(dq_schema_field_name(j->schema, 3), "vi");
  dq_node_unref(j);
  /* Explicit names. */
  const char *names[2 * NCOLS];
  char buf[2 * NCOLS][8];
  for (int i = 0; i < 2 * NCOLS; i++) {
    snprintf(buf[i], sizeof buf[i], "c%d", i);
    names[i] = buf[i];
  }
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_INNER, rp, rb, 1, pk, bk,
                                         dq_expr_eq(b, C("c0"), C("c8")),
                                         names, &j, &err), 0);
  assert_string_equal(dq_schema_field_name(j->schema, 9), "c9");
  dq_node_unref(j);
  /* Keys that cannot be compared, a residual that is not bool, an
   * unknown column, no keys, an unknown kind. */
  const dq_expr *bad[] = {C("k2")};
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_INNER, rp, rb, 1, pk, bad,
                                         NULL, NULL, &j, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "join key 0"));
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_INNER, rp, rb, 1, pk, bk,
                                         C("vi"), NULL, &j, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "not bool"));
  const dq_expr *unk[] = {C("nope")};
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_INNER, rp, rb, 1, unk, bk,
                                         NULL, NULL, &j, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "probe side"));
  assert_int_equal(dq_node_new_hash_join(DQ_JOIN_INNER, rp, rb, 0, pk, bk,
                                         NULL, NULL, &j, &err), DQ_EINVAL);
  assert_int_equal(dq_node_new_hash_join((dq_join_kind)9, rp, rb, 1, pk, bk,
                                         NULL, NULL, &j, &err), DQ_EINVAL);
  dq_node_unref(rp);
  dq_node_unref(rb);
  dq_plan_builder_free(b);
}

/* Top-N equals sort + limit, row for row (ties in input order). */
static void check_topn(dq_plan_builder *b, blist *in, int64_t count,
                       int64_t offset, int64_t batch_rows) {
  dq_node *rd = read_from(1, schema), *t, *s, *l;
  dq_error err;
  const dq_expr *keys[] = {C("k2"), C("vd"), C("k1")};
  bool desc[] = {true, false, true}, nf[] = {false, true, false};
  assert_int_equal(dq_node_new_topn(rd, 3, keys, desc, nf, count, offset, &t,
                                    &err), 0);
  assert_int_equal(dq_node_new_sort(rd, 3, keys, desc, nf, &s, &err), 0);
  assert_int_equal(dq_node_new_limit(s, count, offset, &l, &err), 0);
  source s1 = {in, 0, 0, 0, false}, s2 = {in, 0, 0, 0, false};
  msrc m1 = {{NULL, &s1}}, m2 = {{NULL, &s2}};
  int64_t peak;
  blist got = run_multi(t, &m1, batch_rows, &peak);
  blist want = run_multi(l, &m2, batch_rows, NULL);
  for (size_t k = 0; k < got.n; k++)
    assert_true(got.v[k]->n_rows <= batch_rows);
  assert_int_equal(blist_rows(&got), blist_rows(&want));
  if (blist_rows(&want) > 0) {
    dq_batch *g = concat(&got, schema), *w = concat(&want, schema);
    for (int64_t i = 0; i < w->n_rows; i++)
      assert_int_equal(dq_array_int64(g->columns[0], i),
                       dq_array_int64(w->columns[0], i));
    dq_batch_unref(g);
    dq_batch_unref(w);
  }
  if (count + offset > 0 && in->n > 0)
    assert_true(peak > 0);
  blist_free(&got);
  blist_free(&want);
  dq_node_unref(t);
  dq_node_unref(l);
  dq_node_unref(s);
  dq_node_unref(rd);
}

static void test_topn(void **state) {
  B;
  blist in = make_input(5000, 300), empty = {0}, one = {0};
  blist_add(&one, make_batch(0, 1));
  static const int64_t counts[][2] = {{10, 0},  {10, 25}, {1, 0},   {0, 0},
                                      {0, 5},   {777, 13}, {4999, 0},
                                      {6000, 0}, {5, 5000}, {3000, 2500}};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    check_topn(b, &in, counts[i][0], counts[i][1], 1024);
    check_topn(b, &in, counts[i][0], counts[i][1], 100);
    check_topn(b, &empty, counts[i][0], counts[i][1], 1024);
    check_topn(b, &one, counts[i][0], counts[i][1], 1024);
  }
  /* Bounded: a top-10 over 200 batches holds a few of them at a time. */
  blist big = make_input(20000, 100);
  dq_batch *bigall = concat(&big, schema);
  {
    dq_node *rd = read_from(1, schema), *t;
    dq_error err;
    const dq_expr *keys[] = {C("vs"), C("vd")};
    bool desc[] = {true, false};
    assert_int_equal(dq_node_new_topn(rd, 2, keys, desc, NULL, 10, 0, &t,
                                      &err), 0);
    source s1 = {&big, 0, 0, 0, false};
    msrc m1 = {{NULL, &s1}};
    int64_t peak;
    blist out = run_multi(t, &m1, 1024, &peak);
    assert_int_equal(blist_rows(&out), 10);
    assert_true(peak > 0);
    assert_true(peak < (int64_t)dq_batch_byte_size(bigall) / 4);
    blist_free(&out);
    dq_node_unref(t);
    dq_node_unref(rd);
    check_topn(b, &big, 10, 0, 1024);
  }
  dq_batch_unref(bigall);
  blist_free(&big);
  dq_node *rd = read_from(1, schema), *t;
  dq_error err;
  const dq_expr *keys[] = {C("k1")};
  assert_int_equal(dq_node_new_topn(rd, 1, keys, NULL, NULL, -1, 0, &t, &err),
                   DQ_EINVAL);
  assert_int_equal(dq_node_new_topn(rd, 0, keys, NULL, NULL, 1, 0, &t, &err),
                   DQ_EINVAL);
  dq_node_unref(rd);
  blist_free(&in);
  blist_free(&one);
  dq_plan_builder_free(b);
}

/* Aggregates and sorts report what they hold: the peak covers at least
 * the input a sort keeps, and an aggregate's table grows with its groups. */
static void test_memory_peak(void **state) {
  B;
  blist in = make_input(20000, 1000);
  dq_batch *all = concat(&in, schema);
  dq_node *rd = read_from(1, schema), *s, *g1, *g2;
  dq_error err;
  const dq_expr *keys[] = {C("vs")};
  assert_int_equal(dq_node_new_sort(rd, 1, keys, NULL, NULL, &s, &err), 0);
  source s1 = {&in, 0, 0, 0, false};
  msrc m1 = {{NULL, &s1}};
  int64_t peak_sort, peak_few, peak_many;
  blist out = run_multi(s, &m1, 1024, &peak_sort);
  assert_true(peak_sort >= (int64_t)dq_batch_byte_size(all));
  blist_free(&out);
  const dq_expr *few[] = {C("k1")}, *many[] = {C("rid")};
  const char *gn[] = {"g"};
  dq_agg_func f[] = {DQ_AGG_COUNT_STAR};
  const char *an[] = {"n"};
  assert_int_equal(dq_node_new_aggregate(rd, DQ_AGG_SINGLE, 1, few, gn, 1, f,
                                         NULL, an, &g1, &err), 0);
  assert_int_equal(dq_node_new_aggregate(rd, DQ_AGG_SINGLE, 1, many, gn, 1, f,
                                         NULL, an, &g2, &err), 0);
  source s2 = {&in, 0, 0, 0, false}, s3 = {&in, 0, 0, 0, false};
  msrc m2 = {{NULL, &s2}}, m3 = {{NULL, &s3}};
  out = run_multi(g1, &m2, 1024, &peak_few);
  blist_free(&out);
  out = run_multi(g2, &m3, 1024, &peak_many);
  blist_free(&out);
  assert_true(peak_few > 0);
  assert_true(peak_many > 20000 * 16); /* per group: key offset + hash */
  assert_true(peak_many > peak_few);
  dq_node_unref(s);
  dq_node_unref(g1);
  dq_node_unref(g2);
  dq_node_unref(rd);
  dq_batch_unref(all);
  blist_free(&in);
  dq_plan_builder_free(b);
}

static void test_union(void **state) {
  blist a = make_input(1000, 128), c = make_input(10, 10), empty = {0};
  /* Same types under other names: the union takes the first's names. */
  const char *n2[NCOLS] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  dq_schema *other;
  dq_error err;
  assert_int_equal(dq_schema_new(NCOLS, n2, ctypes, NULL, &other, &err), 0);
  dq_node *r1 = read_from(1, schema), *r2 = read_from(2, other),
          *r3 = read_from(3, schema), *u;
  dq_node *ins[] = {r1, r2, r3};
  assert_int_equal(dq_node_new_union(3, ins, &u, &err), 0);
  assert_string_equal(dq_schema_field_name(u->schema, 0), "rid");
  source s1 = {&a, 0, 0, 0, false}, s2 = {&empty, 0, 0, 0, false},
         s3 = {&c, 0, 0, 0, false};
  msrc m = {{NULL, &s1, &s2, &s3}};
  blist out = run_multi(u, &m, 1024, NULL);
  assert_int_equal(blist_rows(&out), 1010);
  /* Input order: a's rows, then c's. */
  dq_batch *o = concat(&out, schema);
  for (int64_t i = 0; i < 1010; i++)
    assert_int_equal(dq_array_int64(o->columns[0], i), i < 1000 ? i : i - 1000);
  assert_true(s1.closed && s2.closed && s3.closed);
  dq_batch_unref(o);
  blist_free(&out);
  dq_node_unref(u);
  /* Fewer than two inputs, or other types. */
  assert_int_equal(dq_node_new_union(1, ins, &u, &err), DQ_EINVAL);
  const char *n1[] = {"x"};
  dq_type t1[] = {{DQ_TYPE_INT32, 0, 0}};
  dq_schema *narrow;
  assert_int_equal(dq_schema_new(1, n1, t1, NULL, &narrow, &err), 0);
  dq_node *r4 = read_from(4, narrow);
  dq_node *bad[] = {r1, r4};
  assert_int_equal(dq_node_new_union(2, bad, &u, &err), DQ_EINVAL);
  dq_node_unref(r4);
  dq_schema_unref(narrow);
  dq_node_unref(r1);
  dq_node_unref(r2);
  dq_node_unref(r3);
  dq_schema_unref(other);
  blist_free(&a);
  blist_free(&c);
}

/* --- Read, cancel, scan ------------------------------------------------------------ */

static void test_read_and_cancel(void **state) {
  blist in = make_input(1000, 100);
  dq_node *rd = read_node(schema);
  source src = {&in, 0, 0, 0, false};
  blist out = run_ops(rd, &src, 1024, NULL, NULL);
  assert_int_equal(blist_rows(&out), 1000);
  assert_int_equal(src.opens, 1);
  blist_free(&out);
  /* Cancelled: the next pull fails with DQ_ECANCELED. */
  atomic_bool cancel;
  atomic_init(&cancel, true);
  source s2 = {&in, 0, 0, 0, false};
  int rc;
  out = run_ops(rd, &s2, 1024, &cancel, &rc);
  assert_int_equal(rc, DQ_ECANCELED);
  assert_int_equal(out.n, 0);
  /* A batch of the wrong schema is the producer's fault. */
  const char *n[] = {"x"};
  dq_type t[] = {{DQ_TYPE_INT32, 0, 0}};
  dq_schema *other;
  dq_error err;
  assert_int_equal(dq_schema_new(1, n, t, NULL, &other, &err), 0);
  dq_node *rd2 = read_node(other);
  source s3 = {&in, 0, 0, 0, false};
  out = run_ops(rd2, &s3, 1024, NULL, &rc);
  assert_int_equal(rc, DQ_EPROTO);
  assert_true(s3.closed);
  dq_node_unref(rd2);
  dq_schema_unref(other);
  /* No reader callbacks at all. */
  dq_stage st;
  memset(&st, 0, sizeof st);
  st.id = 2;
  st.task_count = st.partitions = 1;
  st.root = rd;
  dq_exec_env env = {.task_count = 1, .n_partitions = 1};
  dq_exec *e;
  assert_int_equal(dq_exec_open(&st, &env, 0, &e, &err), 0);
  dq_batch *bt;
  assert_int_equal(dq_exec_next(e, &bt, &err), DQ_EINVAL);
  dq_exec_close(e);
  assert_int_equal(dq_exec_open(&st, &env, 1, &e, &err), DQ_EINVAL);
  dq_node_unref(rd);
  blist_free(&in);
}

static void test_scan_slices(void **state) {
  for (int64_t units = 0; units < 50; units += 7)
    for (uint32_t n = 1; n <= 4; n++)
      for (uint32_t p = 1; p <= 3; p++) {
        int64_t next = 0;
        for (uint32_t t = 0; t < n; t++)
          for (uint32_t q = 0; q < p; q++) {
            int64_t s, e;
            dq_scan_slice(units, t, n, q, p, &s, &e);
            assert_int_equal(s, next);
            assert_true(e - s <= units / (n * p) + 1);
            next = e;
          }
        assert_int_equal(next, units);
      }
  /* Scanning orders with 3 tasks x 2 partitions yields every row once. */
  dq_node *scan;
  dq_error err;
  const char *cols[] = {"o_orderkey"};
  assert_int_equal(dq_node_new_scan_tpch("orders", 0.001, 3, cols, 1, &scan,
                                         &err), 0);
  dq_stage st;
  memset(&st, 0, sizeof st);
  st.id = 1;
  st.task_count = 3;
  st.partitions = 2;
  st.root = scan;
  int64_t rows = 0, keysum = 0;
  for (uint32_t t = 0; t < 3; t++)
    for (uint32_t q = 0; q < 2; q++) {
      dq_exec_env env = {.task_number = t, .task_count = 3, .n_partitions = 2,
                         .batch_rows = 100};
      dq_exec *e;
      assert_int_equal(dq_exec_open(&st, &env, q, &e, &err), 0);
      dq_batch *bt;
      while (dq_exec_next(e, &bt, &err) == 0 && bt != NULL) {
        assert_true(bt->n_rows <= 100);
        for (int64_t i = 0; i < bt->n_rows; i++)
          keysum += dq_array_int64(bt->columns[0], i);
        rows += bt->n_rows;
        dq_batch_unref(bt);
      }
      dq_exec_close(e);
    }
  assert_int_equal(rows, dq_tpch_unit_count(DQ_TPCH_ORDERS, 0.001));
  assert_true(keysum > 0);
  dq_node_unref(scan);
}

/* --- Hash partition -------------------------------------------------------------- */

static void test_hash_partition(void **state) {
  dq_batch *in = make_batch(0, 5000);
  uint32_t keys[] = {1, 2}; /* k1, k2: with NULLs */
  dq_error err;
  for (uint32_t n = 1; n <= 9; n += 4) {
    dq_batch *outs[9], *again[9];
    assert_int_equal(dq_hash_partition(in, keys, 2, n, outs, &err), 0);
    assert_int_equal(dq_hash_partition(in, keys, 2, n, again, &err), 0);
    int64_t total = 0;
    char *seen = calloc(5000, 1);
    for (uint32_t p = 0; p < n; p++) {
      if (outs[p] == NULL) {
        assert_null(again[p]);
        continue;
      }
      assert_int_equal(outs[p]->n_rows, again[p]->n_rows); /* deterministic */
      total += outs[p]->n_rows;
      int64_t prev = -1;
      for (int64_t i = 0; i < outs[p]->n_rows; i++) {
        int64_t rid = dq_array_int64(outs[p]->columns[0], i);
        assert_int_equal(rid, dq_array_int64(again[p]->columns[0], i));
        assert_true(rid > prev); /* input order kept */
        prev = rid;
        assert_int_equal(seen[rid], 0);
        seen[rid] = 1;
        /* Same keys, same partition: every row with these keys is here. */
        for (uint32_t q = 0; q < n; q++)
          if (q != p && outs[q] != NULL && i % 97 == 0)
            for (int64_t j = 0; j < outs[q]->n_rows; j++)
              assert_false(same_value(outs[p]->columns[1], i,
                                      outs[q]->columns[1], j) &&
                           same_value(outs[p]->columns[2], i,
                                      outs[q]->columns[2], j));
      }
    }
    assert_int_equal(total, 5000);
    free(seen);
    if (n == 1)
      assert_ptr_equal(outs[0], in); /* no copy */
    for (uint32_t p = 0; p < n; p++) {
      dq_batch_unref(outs[p]);
      dq_batch_unref(again[p]);
    }
  }
  /* The hash is part of the wire contract: pin a few routings. */
  uint32_t ids[5000];
  uint32_t rid_key[] = {0};
  assert_int_equal(dq_hash_partition_ids(in, rid_key, 1, 1000, ids, &err), 0);
  if (getenv("DQ_TEST_VERBOSE"))
    printf("pinned: %u %u %u\n", ids[0], ids[1], ids[4999]);
  assert_int_equal(ids[0], 723);
  assert_int_equal(ids[1], 678);
  assert_int_equal(ids[4999], 516);
  /* Errors. */
  dq_batch *outs[2];
  uint32_t bad[] = {99};
  assert_int_equal(dq_hash_partition(in, bad, 1, 2, outs, &err), DQ_EINVAL);
  assert_null(outs[0]);
  assert_int_equal(dq_hash_partition(in, keys, 2, 0, outs, &err), DQ_EINVAL);
  assert_int_equal(dq_hash_partition(in, keys, 0, 2, outs, &err), DQ_EINVAL);
  dq_batch_unref(in);
  /* Empty batch: no output at all. */
  dq_batch *empty = make_batch(0, 0);
  assert_int_equal(dq_hash_partition(empty, keys, 2, 2, outs, &err), 0);
  assert_null(outs[0]);
  assert_null(outs[1]);
  dq_batch_unref(empty);
}


/* Equal values hash equal across representations that SQL calls equal. */
static void test_hash_values(void **state) {
  const char *n[] = {"f", "i", "l", "d"};
  dq_type t[] = {{DQ_TYPE_FLOAT64, 0, 0}, {DQ_TYPE_INT32, 0, 0},
                 {DQ_TYPE_INT64, 0, 0}, {DQ_TYPE_DECIMAL, 20, 3}};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(4, n, t, NULL, &s, &err), 0);
  dq_batch_builder *bb;
  assert_int_equal(dq_batch_builder_new(s, 4, &bb, &err), 0);
  const double fs[] = {0.0, -0.0, NAN, -NAN};
  for (int r = 0; r < 4; r++) {
    dq_builder_append_float64(bb, 0, fs[r]);
    dq_builder_append_int32(bb, 1, r < 2 ? -5 : 7);
    dq_builder_append_int64(bb, 2, r < 2 ? -5 : 7);
    if (r == 3)
      dq_builder_append_null(bb, 3);
    else
      dq_builder_append_decimal(bb, 3, dq_decimal_from_i128(r < 2 ? -1 : 1));
  }
  dq_batch *x;
  assert_int_equal(dq_batch_builder_finish(bb, &x, &err), 0);
  dq_batch_builder_free(bb);
  uint64_t h[4][4];
  for (size_t c = 0; c < 4; c++) {
    const dq_array *col = x->columns[c];
    dq_hash_columns(&col, 1, 4, h[c]);
  }
  assert_true(h[0][0] == h[0][1]); /* -0.0 = 0.0 */
  assert_true(h[0][2] == h[0][3]); /* NaNs alike */
  assert_true(h[0][0] != h[0][2]);
  for (int r = 0; r < 4; r++)
    assert_true(h[1][r] == h[2][r]); /* int32 and int64 of equal value */
  assert_true(h[3][0] == h[3][1] && h[3][0] != h[3][2] && h[3][2] != h[3][3]);
  dq_batch_unref(x);
  dq_schema_unref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter),
      cmocka_unit_test(test_project),
      cmocka_unit_test(test_aggregate_single),
      cmocka_unit_test(test_aggregate_partial_final),
      cmocka_unit_test(test_final_layout_checked),
      cmocka_unit_test(test_sort),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_hash_join),
      cmocka_unit_test(test_hash_join_checks),
      cmocka_unit_test(test_topn),
      cmocka_unit_test(test_union),
      cmocka_unit_test(test_memory_peak),
      cmocka_unit_test(test_read_and_cancel),
      cmocka_unit_test(test_scan_slices),
      cmocka_unit_test(test_hash_partition),
      cmocka_unit_test(test_hash_values),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
