/* test_ops.c — operators: filter, project, aggregate (single, and
 * partial→final over random splits), sort, limit (stops early), read, scan
 * slices, the hash partitioner, and cancellation.  Each runs over nulls,
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

#include "exec.h"
#include "expr.h"
#include "plan_internal.h"
#include "tpch.h"


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
      cmocka_unit_test(test_read_and_cancel),
      cmocka_unit_test(test_scan_slices),
      cmocka_unit_test(test_hash_partition),
      cmocka_unit_test(test_hash_values),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
