/* test_plan.c — plans: build errors, the codec (round trips, malformed
 * bytes), producer heads, TPC-H Q1/Q6 single-node and distributed, and
 * hash joins (broadcast and shuffled) against their one-stage answer.
 *
 * The distributed plans run through a small in-memory stage runner below:
 * it runs every task and partition of each stage with dq_exec, applies the
 * producer head (dq_hash_partition for a shuffle) in memory and serves the
 * READ leaves of the consuming stage by the routing rules of DESIGN.md, so
 * the executor is checked end to end without a transport. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/plan.h>

#include "exec/exec.h"
#include "join_plan.h"
#include "expr/expr.h"
#include "plan.pb-c.h"
#include "source.pb-c.h"
#include "plan/plan_internal.h"
#include "queries/tpch_queries.h"

/* --- Batch lists and comparison ------------------------------------------- */

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

/* One batch holding all of the list's rows. */
static dq_batch *blist_concat(const blist *l, dq_schema *schema) {
  dq_batch *all;
  dq_error err;
  int rc = dq_batch_concat(schema, l->v, l->n, &all, &err);
  if (rc != 0)
    fail_msg("concat: %s", err.message);
  return all;
}

static bool values_equal(const dq_array *a, const dq_array *b, int64_t i) {
  if (dq_array_is_null(a, i) || dq_array_is_null(b, i))
    return dq_array_is_null(a, i) == dq_array_is_null(b, i);
  switch (dq_array_type(a).id) {
  case DQ_TYPE_BOOL: return dq_array_bool(a, i) == dq_array_bool(b, i);
  case DQ_TYPE_INT32: return dq_array_int32(a, i) == dq_array_int32(b, i);
  case DQ_TYPE_DATE32: return dq_array_date32(a, i) == dq_array_date32(b, i);
  case DQ_TYPE_INT64: return dq_array_int64(a, i) == dq_array_int64(b, i);
  case DQ_TYPE_FLOAT64:
    return dq_array_float64(a, i) == dq_array_float64(b, i);
  case DQ_TYPE_DECIMAL: {
    dq_decimal x = dq_array_decimal(a, i), y = dq_array_decimal(b, i);
    return x.lo == y.lo && x.hi == y.hi;
  }
  case DQ_TYPE_UTF8: {
    size_t la, lb;
    const char *sa = dq_array_utf8(a, i, &la), *sb = dq_array_utf8(b, i, &lb);
    return la == lb && (la == 0 || memcmp(sa, sb, la) == 0);
  }
  }
  return false;
}

static void assert_batches_equal(const dq_batch *a, const dq_batch *b) {
  assert_true(dq_schema_equal(dq_batch_schema(a), dq_batch_schema(b)));
  assert_int_equal(dq_batch_n_rows(a), dq_batch_n_rows(b));
  for (size_t c = 0; c < dq_batch_n_columns(a); c++)
    for (int64_t i = 0; i < dq_batch_n_rows(a); i++)
      if (!values_equal(dq_batch_column(a, c), dq_batch_column(b, c), i))
        fail_msg("column %zu (%s) differs at row %" PRId64, c,
                 dq_schema_field_name(dq_batch_schema(a), c), i);
}

/* --- In-memory stage runner ------------------------------------------------ */

typedef struct stage_out {
  uint32_t n_tasks, n_parts; /* producer tasks; partitions after the head */
  blist *parts;              /* [task * n_parts + part] */
} stage_out;

typedef struct runner {
  const dq_plan *plan;
  stage_out *outs; /* by stage id - 1 */
  int64_t batch_rows;
} runner;

typedef struct task_ctx {
  runner *r;
  uint32_t task;
} task_ctx;

typedef struct mem_reader {
  blist list; /* references */
  size_t next;
} mem_reader;

static int mem_open(void *ctx, uint32_t producer, uint32_t partition,
                    void **reader, dq_error *err) {
  task_ctx *tc = ctx;
  const dq_stage *ps = dq_plan_stage_by_id(tc->r->plan, producer);
  if (ps == NULL)
    return dq_error_set(err, DQ_ENOENT, "no stage %u", producer);
  const stage_out *o = &tc->r->outs[producer - 1];
  uint32_t t = tc->task, pc = ps->consumer_partitions;
  uint32_t nc = ps->consumer_tasks;
  mem_reader *m = calloc(1, sizeof *m);
  assert_non_null(m);
  for (uint32_t j = 0; j < o->n_tasks; j++)
    for (uint32_t g = 0; g < o->n_parts; g++) {
      bool take = false;
      switch (ps->out_kind) {
      case DQ_BOUNDARY_SHUFFLE: take = g == pc * t + partition; break;
      case DQ_BOUNDARY_COALESCE: {
        uint32_t base = o->n_tasks / nc, extra = o->n_tasks % nc;
        uint32_t len = base + (t < extra);
        uint32_t start = t * base + (t < extra ? t : extra);
        if (j >= start && j < start + len)
          take = ((j - start) * o->n_parts + g) % pc == partition;
        break;
      }
      case DQ_BOUNDARY_BROADCAST: take = true; break;
      default: break;
      }
      if (!take)
        continue;
      blist *src = &o->parts[j * o->n_parts + g];
      for (size_t k = 0; k < src->n; k++)
        blist_add(&m->list, dq_batch_ref(src->v[k]));
    }
  *reader = m;
  return 0;
}

static int mem_next(void *ctx, void *reader, dq_batch **out, dq_error *err) {
  mem_reader *m = reader;
  *out = m->next < m->list.n ? dq_batch_ref(m->list.v[m->next++]) : NULL;
  return 0;
}

static void mem_close(void *ctx, void *reader) {
  mem_reader *m = reader;
  blist_free(&m->list);
  free(m);
}

/* Runs one pipeline to the end, appending its batches to out. */
static int run_pipeline(const dq_stage *s, const dq_exec_env *env,
                        uint32_t part, blist *out, dq_error *err) {
  dq_exec *e;
  int rc = dq_exec_open(s, env, part, &e, err);
  if (rc != 0)
    return rc;
  for (;;) {
    dq_batch *b;
    if ((rc = dq_exec_next(e, &b, err)) != 0 || b == NULL)
      break;
    assert_true(dq_batch_n_rows(b) > 0);
    assert_true(dq_schema_equal(dq_batch_schema(b), dq_stage_schema(s)));
    blist_add(out, b);
  }
  dq_exec_close(e);
  return rc;
}

/* Runs every stage; the head's batches go to result. */
static int run_plan(const dq_plan *p, int64_t batch_rows, blist *result,
                    dq_error *err) {
  runner r = {p, calloc(dq_plan_n_stages(p), sizeof(stage_out)), batch_rows};
  assert_non_null(r.outs);
  int rc = 0;
  for (size_t i = 0; i < dq_plan_n_stages(p) && rc == 0; i++) {
    const dq_stage *s = dq_plan_stage_by_id(p, (uint32_t)i + 1);
    assert_non_null(s);
    /* Each task gets the stage as the runtime would send it: encoded. */
    uint8_t *bytes;
    size_t len;
    assert_int_equal(dq_stage_encode(s, &bytes, &len, err), 0);
    dq_plan *tp;
    rc = dq_plan_decode(bytes, len, &tp, err);
    free(bytes);
    if (rc != 0)
      break;
    const dq_stage *ts = dq_plan_stage_by_id(tp, s->id);
    assert_non_null(ts);
    stage_out *o = &r.outs[i];
    dq_producer_head head;
    memset(&head, 0, sizeof head);
    if (s->out_kind != DQ_BOUNDARY_NONE) {
      dq_producer_head h0;
      assert_int_equal(dq_stage_producer_head(s, &h0, err), 0);
      uint8_t *hb;
      size_t hl;
      assert_int_equal(dq_producer_head_encode(&h0, &hb, &hl, err), 0);
      assert_int_equal(dq_producer_head_decode(hb, hl, &head, err), 0);
      free(hb);
    }
    o->n_tasks = s->task_count;
    o->n_parts = s->out_kind == DQ_BOUNDARY_SHUFFLE ? head.partition_count
                                                    : s->partitions;
    o->parts = calloc((size_t)o->n_tasks * o->n_parts, sizeof(blist));
    assert_non_null(o->parts);
    for (uint32_t t = 0; t < s->task_count && rc == 0; t++) {
      task_ctx tc = {&r, t};
      dq_exec_env env = {.task_number = t,
                         .task_count = s->task_count,
                         .n_partitions = s->partitions,
                         .batch_rows = batch_rows,
                         .reader_ctx = &tc,
                         .read_open = mem_open,
                         .read_next = mem_next,
                         .read_close = mem_close};
      for (uint32_t part = 0; part < s->partitions && rc == 0; part++) {
        blist got = {0};
        rc = run_pipeline(ts, &env, part, &got, err);
        if (s->out_kind == DQ_BOUNDARY_NONE) {
          for (size_t k = 0; k < got.n; k++)
            blist_add(result, dq_batch_ref(got.v[k]));
        } else if (s->out_kind == DQ_BOUNDARY_SHUFFLE) {
          dq_batch **outs = calloc(head.partition_count, sizeof *outs);
          for (size_t k = 0; k < got.n && rc == 0; k++) {
            rc = dq_hash_partition(got.v[k], head.keys, head.n_keys,
                                   head.partition_count, outs, err);
            for (uint32_t g = 0; rc == 0 && g < head.partition_count; g++)
              if (outs[g] != NULL)
                blist_add(&o->parts[t * o->n_parts + g], outs[g]);
          }
          free(outs);
        } else {
          for (size_t k = 0; k < got.n; k++)
            blist_add(&o->parts[t * o->n_parts + part],
                      dq_batch_ref(got.v[k]));
        }
        blist_free(&got);
      }
    }
    dq_producer_head_clear(&head);
    dq_plan_free(tp);
  }
  for (size_t i = 0; i < dq_plan_n_stages(p); i++) {
    stage_out *o = &r.outs[i];
    for (size_t k = 0; o->parts && k < (size_t)o->n_tasks * o->n_parts; k++)
      blist_free(&o->parts[k]);
    free(o->parts);
  }
  free(r.outs);
  return rc;
}

static dq_batch *run_query(const char *name, double scale, uint32_t tasks,
                           uint32_t parts, int64_t batch_rows) {
  dq_plan *p;
  dq_error err;
  int rc = dq_tpch_query_plan(name, scale, 7, tasks, parts, &p, &err);
  if (rc != 0)
    fail_msg("%s: %s", name, err.message);
  blist res = {0};
  if ((rc = run_plan(p, batch_rows, &res, &err)) != 0)
    fail_msg("%s with %u tasks: %s", name, tasks, err.message);
  dq_batch *all =
      blist_concat(&res, (dq_schema *)dq_stage_schema(dq_plan_head(p)));
  blist_free(&res);
  dq_plan_free(p);
  return all;
}

/* --- TPC-H Q1 and Q6 ------------------------------------------------------- */

static double dec_value(const dq_batch *b, const char *col, int64_t row) {
  int c = dq_schema_field_index(dq_batch_schema(b), col);
  assert_true(c >= 0);
  const dq_array *a = dq_batch_column(b, (size_t)c);
  dq_type t = dq_array_type(a);
  if (t.id == DQ_TYPE_INT64)
    return (double)dq_array_int64(a, row);
  assert_int_equal(t.id, DQ_TYPE_DECIMAL);
  dq_i128 v = dq_decimal_to_i128(dq_array_decimal(a, row));
  return (double)v / (double)dq_pow10_i128(t.scale);
}

static void test_q1_single(void **state) {
  dq_batch *r = run_query("q1", 0.01, 0, 1, 8192);
  /* Four (returnflag, linestatus) groups, in order: AF, NF, NO, RF. */
  assert_int_equal(dq_batch_n_rows(r), 4);
  static const char *const want[4][2] = {
      {"A", "F"}, {"N", "F"}, {"N", "O"}, {"R", "F"}};
  double total = 0;
  for (int64_t i = 0; i < 4; i++) {
    size_t len;
    const char *f = dq_array_utf8(dq_batch_column(r, 0), i, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(f, want[i][0], 1);
    const char *s = dq_array_utf8(dq_batch_column(r, 1), i, &len);
    assert_memory_equal(s, want[i][1], 1);
    double avg_qty = dec_value(r, "avg_qty", i);
    double avg_disc = dec_value(r, "avg_disc", i);
    double count = dec_value(r, "count_order", i);
    assert_true(avg_qty > 24 && avg_qty < 27);
    assert_true(avg_disc > 0.045 && avg_disc < 0.055);
    /* avg = sum / count, exactly as the sums say. */
    double sum_qty = dec_value(r, "sum_qty", i);
    assert_true(sum_qty / count - avg_qty < 1e-6 &&
                avg_qty - sum_qty / count < 1e-6);
    assert_true(dec_value(r, "sum_disc_price", i) <
                dec_value(r, "sum_base_price", i));
    assert_true(dec_value(r, "sum_charge", i) >
                dec_value(r, "sum_disc_price", i));
    total += count;
  }
  /* SF 0.01: 15000 orders, about 60000 lineitems, ~98% shipped in time. */
  assert_true(total > 50000 && total < 62000);
  if (getenv("DQ_TEST_VERBOSE"))
    for (int64_t i = 0; i < 4; i++)
      printf("q1 row %" PRId64 ": qty %.2f base %.2f disc %.4f charge %.6f "
             "avg_qty %.6f avg_price %.6f avg_disc %.6f count %.0f\n",
             i, dec_value(r, "sum_qty", i), dec_value(r, "sum_base_price", i),
             dec_value(r, "sum_disc_price", i), dec_value(r, "sum_charge", i),
             dec_value(r, "avg_qty", i), dec_value(r, "avg_price", i),
             dec_value(r, "avg_disc", i), dec_value(r, "count_order", i));
  dq_batch_unref(r);
}

static void test_q6_single(void **state) {
  dq_batch *r = run_query("q6", 0.01, 0, 1, 8192);
  assert_int_equal(dq_batch_n_rows(r), 1);
  double rev = dec_value(r, "revenue", 0);
  /* SF 1 gives about 1.2e8; SF 0.01 about 1.2e6. */
  assert_true(rev > 5e5 && rev < 3e6);
  if (getenv("DQ_TEST_VERBOSE"))
    printf("q6 revenue %.4f\n", rev);
  dq_batch_unref(r);
}

static void test_distributed_equals_single(void **state) {
  static const char *const qs[] = {"q1", "q6"};
  for (int q = 0; q < 2; q++) {
    dq_batch *single = run_query(qs[q], 0.01, 0, 1, 8192);
    for (uint32_t n = 1; n <= 4; n++)
      for (uint32_t parts = 1; parts <= 2; parts++) {
        /* Small batches too, so partial states cross many batches. */
        int64_t rows = (n + parts) % 2 ? 1000 : 8192;
        dq_batch *dist = run_query(qs[q], 0.01, n, parts, rows);
        assert_batches_equal(single, dist);
        dq_batch_unref(dist);
      }
    dq_batch_unref(single);
  }
}

/* Hash join plans in three shapes: tests/join_plan.h. */

static void test_join_distributed(void **state) {
  for (int kind = DQ_JOIN_INNER; kind <= DQ_JOIN_LEFT_ANTI; kind++) {
    dq_plan *lp = join_plan((dq_join_kind)kind, 0, 1, 1);
    blist res = {0};
    dq_error err;
    if (run_plan(lp, 8192, &res, &err) != 0)
      fail_msg("join kind %d, one stage: %s", kind, err.message);
    dq_batch *single = blist_concat(
        &res, (dq_schema *)dq_stage_schema(dq_plan_head(lp)));
    blist_free(&res);
    /* 25 nations, each with rows. */
    assert_int_equal(dq_batch_n_rows(single), 25);
    for (int64_t i = 0; i < 25; i++)
      assert_true(dq_array_int64(dq_batch_column(single, 1), i) > 0);
    for (int mode = 1; mode <= 2; mode++)
      for (uint32_t n = 1; n <= 3; n++)
        for (uint32_t parts = 1; parts <= 2; parts++) {
          dq_plan *p = join_plan((dq_join_kind)kind, mode, n, parts);
          if (run_plan(p, (n + parts) % 2 ? 700 : 8192, &res, &err) != 0)
            fail_msg("join kind %d mode %d: %s", kind, mode, err.message);
          dq_batch *dist = blist_concat(
              &res, (dq_schema *)dq_stage_schema(dq_plan_head(p)));
          blist_free(&res);
          assert_batches_equal(single, dist);
          dq_batch_unref(dist);
          dq_plan_free(p);
        }
    dq_batch_unref(single);
    dq_plan_free(lp);
  }
}

static void round_trip(const dq_plan *p, char *explain, size_t len) {
  dq_error err;
  uint8_t *bytes, *again;
  size_t n1, n2;
  assert_int_equal(dq_plan_encode(p, &bytes, &n1, &err), 0);
  dq_plan *d;
  if (dq_plan_decode(bytes, n1, &d, &err) != 0)
    fail_msg("decode: %s", err.message);
  assert_int_equal(dq_plan_encode(d, &again, &n2, &err), 0);
  assert_int_equal(n1, n2);
  assert_memory_equal(bytes, again, n1);
  char *e2 = malloc(len);
  assert_non_null(e2);
  dq_plan_explain(p, explain, len);
  dq_plan_explain(d, e2, len);
  assert_string_equal(explain, e2);
  for (size_t i = 0; i < dq_plan_n_stages(p); i++) {
    const dq_stage *s = dq_plan_stage_by_id(p, (uint32_t)i + 1);
    assert_true(dq_schema_equal(dq_stage_schema(s),
                                dq_stage_schema(dq_plan_stage_by_id(
                                    d, (uint32_t)i + 1))));
    /* Every stage alone, as a task receives it, with all its inputs. */
    uint8_t *sb;
    size_t sl;
    assert_int_equal(dq_stage_encode(s, &sb, &sl, &err), 0);
    dq_plan *one;
    if (dq_plan_decode(sb, sl, &one, &err) != 0)
      fail_msg("stage %zu: %s", i + 1, err.message);
    uint32_t a[8], b[8];
    size_t na = dq_stage_inputs(s, a, 8);
    assert_int_equal(dq_stage_inputs(dq_plan_head(one), b, 8), na);
    assert_memory_equal(a, b, na * sizeof *a);
    free(sb);
    dq_plan_free(one);
  }
  free(e2);
  free(bytes);
  free(again);
  dq_plan_free(d);
}

static void test_codec_join_topn_union(void **state) {
  char ex[8192];
  for (int kind = DQ_JOIN_INNER; kind <= DQ_JOIN_LEFT_ANTI; kind++) {
    dq_plan *p = join_plan((dq_join_kind)kind, 2, 3, 2);
    round_trip(p, ex, sizeof ex);
    /* The join stage reads both shuffles. */
    uint32_t in[4];
    assert_int_equal(dq_stage_inputs(dq_plan_stage_by_id(p, 3), in, 4), 2);
    assert_int_equal(in[0], 1);
    assert_int_equal(in[1], 2);
    assert_non_null(strstr(ex, "HashJoin"));
    assert_non_null(strstr(ex, "Probe:"));
    assert_non_null(strstr(ex, "Build:"));
    assert_non_null(strstr(ex, "TopN 100 OFFSET 0 BY nation ASC"));
    if (kind == DQ_JOIN_INNER)
      assert_non_null(strstr(ex, "HashJoin INNER ON o_custkey = c_custkey "
                                 "WHERE (o_totalprice > (c_acctbal * "));
    if (kind == DQ_JOIN_LEFT_ANTI)
      assert_non_null(strstr(ex, "HashJoin LEFT ANTI ON c_custkey = "
                                 "o_custkey\n"));
    if (getenv("DQ_TEST_VERBOSE"))
      printf("%s", ex);
    dq_plan_free(p);
  }
  /* Union of a scan and a read of the same columns, keys of mixed
   * integer types cast to one. */
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  const char *cols[] = {"n_nationkey", "n_regionkey"};
  const dq_boundary co = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, dq_node_scan_tpch(b, "nation", 1, 7, cols, 2),
                              1, 1, &co);
  dq_node *ins[] = {dq_node_read(b, s1),
                    dq_node_scan_tpch(b, "nation", 1, 7, cols, 2)};
  dq_node *u = dq_node_union(b, 2, ins);
  dq_expr *pk = dq_expr_cast(b, dq_expr_column(b, "n_nationkey"),
                             (dq_type){DQ_TYPE_INT32, 0, 0});
  dq_expr *bk = dq_expr_column(b, "r_regionkey");
  const char *rc[] = {"r_regionkey"};
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_LEFT_SEMI, u,
                                 dq_node_scan_tpch(b, "region", 1, 7, rc, 1),
                                 1, &pk, &bk, NULL, NULL);
  dq_plan_stage(b, j, 1, 1, NULL);
  dq_plan *p;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("union plan: %s", err.message);
  dq_plan_builder_free(b);
  round_trip(p, ex, sizeof ex);
  assert_non_null(strstr(ex, "UnionAll 2 inputs"));
  assert_non_null(strstr(ex, "CAST(CAST(n_nationkey AS int32) AS int64) = "
                             "r_regionkey"));
  dq_plan_free(p);
  /* Reading one stage twice (both sides of a self-join) is refused. */
  dq_plan_builder_new(&b, &err);
  s1 = dq_plan_stage(b, dq_node_scan_tpch(b, "nation", 1, 7, cols, 2), 1, 1,
                     &co);
  dq_expr *k = dq_expr_column(b, "n_nationkey");
  j = dq_node_hash_join(b, DQ_JOIN_INNER, dq_node_read(b, s1),
                        dq_node_read(b, s1), 1, &k, &k, NULL, NULL);
  dq_plan_stage(b, j, 1, 1, NULL);
  assert_int_equal(dq_plan_builder_finish(b, &p, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "read 2 times"));
  dq_plan_builder_free(b);
}


static int collect(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  blist_add(ctx, dq_batch_ref((dq_batch *)b));
  return 0;
}

/* The new expressions survive the codec: the decoded plan gives the same
 * rows, and filters on them select what they should. */
static void test_codec_new_exprs(void **state) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  const char *cols[] = {"o_orderkey", "o_orderdate", "o_orderpriority",
                        "o_totalprice", "o_clerk"};
  dq_node *scan = dq_node_scan_tpch(b, "orders", 0.01, 7, cols, 5);
  dq_expr *pri[] = {dq_expr_utf8(b, "1-URGENT"), dq_expr_utf8(b, "2-HIGH")};
  dq_expr *whens[] = {
      dq_expr_in(b, dq_expr_column(b, "o_orderpriority"), 2, pri),
      dq_expr_like(b, dq_expr_column(b, "o_clerk"), "%00000001%")};
  dq_expr *thens[] = {dq_expr_int32(b, 1), dq_expr_int64(b, 2)};
  dq_expr *exprs[] = {
      dq_expr_column(b, "o_orderkey"),
      dq_expr_case(b, 2, whens, thens, dq_expr_int32(b, 0)),
      dq_expr_extract_year(b, dq_expr_column(b, "o_orderdate")),
      dq_expr_substring(b, dq_expr_column(b, "o_orderpriority"),
                        dq_expr_int32(b, 1), dq_expr_int32(b, 1)),
      dq_expr_cast(b, dq_expr_column(b, "o_orderdate"),
                   (dq_type){DQ_TYPE_UTF8, 0, 0}),
      dq_expr_cast(b, dq_expr_cast(b, dq_expr_column(b, "o_totalprice"),
                                   (dq_type){DQ_TYPE_FLOAT64, 0, 0}),
                   (dq_type){DQ_TYPE_INT64, 0, 0}),
  };
  const char *names[] = {"k", "c", "y", "p", "ds", "tp"};
  dq_node *proj = dq_node_project(b, scan, 6, exprs, names);
  dq_expr *years[] = {dq_expr_int32(b, 1993), dq_expr_int32(b, 1995)};
  dq_node *f = dq_node_filter(
      b, proj,
      dq_expr_and(b, dq_expr_in(b, dq_expr_column(b, "y"), 2, years),
                  dq_expr_like(b, dq_expr_column(b, "ds"), "199_-0%")));
  dq_plan_stage(b, f, 1, 1, NULL);
  dq_plan *p;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("plan: %s", err.message);
  dq_plan_builder_free(b);
  char ex[4096];
  round_trip(p, ex, sizeof ex);
  if (getenv("DQ_TEST_VERBOSE"))
    printf("%s", ex);
  assert_non_null(strstr(ex, "CASE WHEN (o_orderpriority IN ('1-URGENT', "
                             "'2-HIGH')) THEN 1 ELSE CASE WHEN (o_clerk LIKE "
                             "'%00000001%') THEN 2 ELSE 0 END END AS c"));
  assert_non_null(strstr(ex, "EXTRACT(YEAR FROM o_orderdate)"));
  assert_non_null(strstr(ex, "SUBSTRING(o_orderpriority, "));
  assert_non_null(strstr(ex, "(ds LIKE '199_-0%')"));
  uint8_t *bytes;
  size_t len;
  assert_int_equal(dq_plan_encode(p, &bytes, &len, &err), 0);
  dq_plan *d;
  assert_int_equal(dq_plan_decode(bytes, len, &d, &err), 0);
  free(bytes);
  blist r1 = {0}, r2 = {0};
  assert_int_equal(dq_plan_run_local(p, collect, &r1, &err), 0);
  assert_int_equal(dq_plan_run_local(d, collect, &r2, &err), 0);
  dq_schema *s = (dq_schema *)dq_stage_schema(dq_plan_head(p));
  dq_batch *a1 = blist_concat(&r1, s), *a2 = blist_concat(&r2, s);
  assert_batches_equal(a1, a2);
  assert_true(dq_batch_n_rows(a1) > 100);
  int64_t urgent = 0;
  for (int64_t i = 0; i < dq_batch_n_rows(a1); i++) {
    int32_t y = dq_array_int32(dq_batch_column(a1, 2), i);
    assert_true(y == 1993 || y == 1995);
    size_t l;
    const char *ds = dq_array_utf8(dq_batch_column(a1, 4), i, &l);
    assert_int_equal(l, 10);
    assert_int_equal(atoi(ds), y);
    assert_true(ds[5] == '0'); /* months 01-09 */
    const char *pc = dq_array_utf8(dq_batch_column(a1, 3), i, &l);
    assert_int_equal(l, 1);
    int64_t c = dq_array_int64(dq_batch_column(a1, 1), i);
    assert_true(c >= 0 && c <= 2);
    if (pc[0] == '1' || pc[0] == '2')
      assert_int_equal(c, 1);
    urgent += c == 1;
  }
  assert_true(urgent > 0);
  /* Damaged bytes of joins, top-N, unions and the new expressions are
   * refused cleanly (valgrind checks no read strays). */
  dq_plan *jp = join_plan(DQ_JOIN_LEFT, 2, 2, 2);
  uint8_t *jb[2];
  size_t jl[2];
  assert_int_equal(dq_plan_encode(jp, &jb[0], &jl[0], &err), 0);
  assert_int_equal(dq_plan_encode(p, &jb[1], &jl[1], &err), 0);
  dq_plan_free(jp);
  srand(99);
  for (int which = 0; which < 2; which++) {
    uint8_t *copy = malloc(jl[which]);
    for (size_t cut = 0; cut < jl[which]; cut += 3) {
      dq_plan *x = NULL;
      if (dq_plan_decode(jb[which], cut, &x, &err) == 0)
        dq_plan_free(x);
    }
    for (int round = 0; round < 1500; round++) {
      memcpy(copy, jb[which], jl[which]);
      for (int k = 0; k < 1 + rand() % 3; k++)
        copy[rand() % jl[which]] ^= (uint8_t)(1u << (rand() % 8));
      dq_plan *x = NULL;
      if (dq_plan_decode(copy, jl[which], &x, &err) == 0)
        dq_plan_free(x);
    }
    free(copy);
    free(jb[which]);
  }
  dq_batch_unref(a1);
  dq_batch_unref(a2);
  blist_free(&r1);
  blist_free(&r2);
  dq_plan_free(d);
  dq_plan_free(p);
}

static int count_rows(void *ctx, const dq_batch *b, dq_error *err) {
  *(int64_t *)ctx += dq_batch_n_rows(b);
  return 0;
}

static void test_run_local(void **state) {
  dq_plan *p;
  dq_error err;
  assert_int_equal(dq_tpch_query_plan("Q6", 0.01, 7, 0, 0, &p, &err), 0);
  int64_t rows = 0;
  assert_int_equal(dq_plan_run_local(p, count_rows, &rows, &err), 0);
  assert_int_equal(rows, 1);
  dq_plan_free(p);
  /* A distributed plan cannot run locally. */
  assert_int_equal(dq_tpch_query_plan("q1", 0.01, 7, 2, 1, &p, &err), 0);
  assert_int_equal(dq_plan_run_local(p, count_rows, &rows, &err), DQ_EINVAL);
  dq_plan_free(p);
  assert_int_equal(dq_tpch_query_plan("q99", 0.01, 7, 0, 0, &p, &err),
                   DQ_ENOENT);
  assert_non_null(strstr(err.message, "q99"));
}

/* --- Build errors ---------------------------------------------------------- */

static const char *const li_cols[] = {"l_orderkey", "l_quantity",
                                      "l_extendedprice", "l_discount",
                                      "l_shipdate", "l_returnflag"};

static dq_node *scan(dq_plan_builder *b) {
  return dq_node_scan_tpch(b, "lineitem", 0.001, 1, li_cols, 6);
}

/* Builds with f and returns the finish code; err gets the message. */
static int build(void (*f)(dq_plan_builder *), dq_error *err) {
  dq_plan_builder *b;
  assert_int_equal(dq_plan_builder_new(&b, err), 0);
  f(b);
  dq_plan *p = NULL;
  int rc = dq_plan_builder_finish(b, &p, err);
  dq_plan_builder_free(b);
  dq_plan_free(p);
  return rc;
}

static void bad_column(dq_plan_builder *b) {
  dq_node *n = dq_node_filter(
      b, scan(b), dq_expr_lt(b, dq_expr_column(b, "l_quantiti"),
                             dq_expr_int32(b, 3)));
  dq_plan_stage(b, n, 1, 1, NULL);
}
static void not_bool(dq_plan_builder *b) {
  dq_plan_stage(b, dq_node_filter(b, scan(b), dq_expr_column(b, "l_orderkey")),
                1, 1, NULL);
}
static void bad_add(dq_plan_builder *b) {
  dq_expr *e = dq_expr_add(b, dq_expr_column(b, "l_returnflag"),
                           dq_expr_int32(b, 1));
  const char *name = "x";
  dq_plan_stage(b, dq_node_project(b, scan(b), 1, &e, &name), 1, 1, NULL);
}
static void sticky(dq_plan_builder *b) {
  dq_expr *bad = dq_expr_date(b, "1998-02-30");
  dq_expr *also = dq_expr_decimal(b, "1.2.3"); /* ignored: not first */
  dq_node *n = dq_node_filter(b, scan(b), dq_expr_eq(b, bad, also));
  dq_plan_stage(b, n, 1, 1, NULL);
}
static void bad_table(dq_plan_builder *b) {
  dq_plan_stage(b, dq_node_scan_tpch(b, "lineitems", 1, 1, NULL, 0), 1, 1,
                NULL);
}
static void bad_head(dq_plan_builder *b) {
  dq_plan_stage(b, scan(b), 2, 1, NULL);
}
static void no_reader(dq_plan_builder *b) {
  const dq_boundary c = {DQ_BOUNDARY_COALESCE, 0, NULL};
  dq_plan_stage(b, scan(b), 2, 1, &c);
  dq_plan_stage(b, scan(b), 1, 1, NULL);
}
static void two_readers(dq_plan_builder *b) {
  const dq_boundary c = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan(b), 2, 1, &c);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, &c);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
}
static void bad_key(dq_plan_builder *b) {
  const char *k = "nope";
  const dq_boundary s = {DQ_BOUNDARY_SHUFFLE, 1, &k};
  dq_plan_stage(b, scan(b), 2, 1, &s);
}
static void read_future(dq_plan_builder *b) {
  dq_plan_stage(b, dq_node_read(b, 3), 1, 1, NULL);
}
static void bad_agg(dq_plan_builder *b) {
  const dq_agg a = {DQ_AGG_SUM, dq_expr_column(b, "l_returnflag"), "s"};
  dq_plan_stage(b, dq_node_aggregate(b, scan(b), DQ_AGG_SINGLE, 0, NULL, NULL,
                                     1, &a),
                1, 1, NULL);
}
static void final_of_single(dq_plan_builder *b) {
  const dq_agg a = {DQ_AGG_COUNT_STAR, NULL, "c"};
  dq_node *s = dq_node_aggregate(b, scan(b), DQ_AGG_SINGLE, 0, NULL, NULL, 1,
                                 &a);
  dq_plan_stage(b, dq_node_aggregate_final(b, s, s), 1, 1, NULL);
}
static void empty_plan(dq_plan_builder *b) {}

static void test_build_errors(void **state) {
  dq_error err;
  assert_int_equal(build(bad_column, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "\"l_quantiti\""));
  assert_non_null(strstr(err.message, "l_quantity")); /* lists the columns */
  assert_int_equal(build(not_bool, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "l_orderkey"));
  assert_non_null(strstr(err.message, "not bool"));
  assert_int_equal(build(bad_add, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "utf8 and int32"));
  assert_non_null(strstr(err.message, "(l_returnflag + 1)"));
  assert_non_null(strstr(err.message, "\"x\""));
  assert_int_equal(build(sticky, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "1998-02-30"));
  assert_int_equal(build(bad_table, &err), DQ_ENOENT);
  assert_int_equal(build(bad_head, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "head"));
  assert_int_equal(build(no_reader, &err), DQ_EINVAL);
  assert_int_equal(build(two_readers, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "exactly one reader"));
  assert_int_equal(build(bad_key, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "\"nope\""));
  assert_int_equal(build(read_future, &err), DQ_EINVAL);
  assert_int_equal(build(bad_agg, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "numeric"));
  assert_int_equal(build(final_of_single, &err), DQ_EINVAL);
  assert_int_equal(build(empty_plan, &err), DQ_EINVAL);
  /* NULL handles after an error do not overwrite it. */
  dq_plan_builder *b;
  assert_int_equal(dq_plan_builder_new(&b, &err), 0);
  assert_null(dq_expr_column(b, NULL));
  assert_null(dq_expr_add(b, NULL, NULL));
  assert_null(dq_node_filter(b, NULL, NULL));
  assert_int_equal(dq_plan_builder_error(b, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "dq_expr_column"));
  dq_plan_builder_free(b);
}

/* --- Codec ----------------------------------------------------------------- */

/* A plan using every node kind and expression kind. */
static dq_plan *kitchen_sink(void) {
  dq_plan_builder *b;
  dq_error err;
  assert_int_equal(dq_plan_builder_new(&b, &err), 0);
  dq_node *n = scan(b);
  dq_expr *q = dq_expr_column(b, "l_quantity");
  dq_expr *pred = dq_expr_or(
      b,
      dq_expr_and(b, dq_expr_not(b, dq_expr_is_null(b, q)),
                  dq_expr_between(b, dq_expr_column(b, "l_shipdate"),
                                  dq_expr_date(b, "1994-01-01"),
                                  dq_expr_date32(b, 9000))),
      dq_expr_and(b, dq_expr_is_not_null(b, dq_expr_null(b, (dq_type){DQ_TYPE_BOOL, 0, 0})),
                  dq_expr_ne(b, dq_expr_column(b, "l_returnflag"),
                             dq_expr_utf8(b, "R"))));
  n = dq_node_filter(b, n, pred);
  dq_expr *exprs[] = {
      dq_expr_column(b, "l_returnflag"),
      dq_expr_div(b, dq_expr_mul(b, q, dq_expr_decimal(b, "-1.5")),
                  dq_expr_sub(b, dq_expr_column(b, "l_discount"),
                              dq_expr_int64(b, 2))),
      dq_expr_add(b, dq_expr_cast(b, dq_expr_column(b, "l_orderkey"),
                                  (dq_type){DQ_TYPE_FLOAT64, 0, 0}),
                  dq_expr_float64(b, 0.25)),
      dq_expr_neg(b, dq_expr_int32(b, 5)),
      dq_expr_gt(b, q, dq_expr_int32(b, 1)),
      dq_expr_column(b, "l_quantity"),
      dq_expr_le(b, dq_expr_column(b, "l_shipdate"),
                 dq_expr_date(b, "1998-09-02")),
      dq_expr_decimal128(b, (dq_decimal){12345, 0}, 20, 3),
      dq_expr_eq(b, dq_expr_bool(b, false), dq_expr_lt(b, q, q)),
      dq_expr_ge(b, dq_expr_sub(b, dq_expr_column(b, "l_shipdate"),
                                dq_expr_date(b, "1990-01-01")),
                 dq_expr_int32(b, 0)),
  };
  const char *names[] = {"flag", "ratio", "key", "neg",  "gt",
                         "qty",  "le",    "lit", "eqb", "days"};
  n = dq_node_project(b, n, 10, exprs, names);
  dq_expr *groups[] = {dq_expr_column(b, "flag")};
  const char *gn[] = {"flag"};
  const dq_agg aggs[] = {
      {DQ_AGG_SUM, dq_expr_column(b, "qty"), "s"},
      {DQ_AGG_COUNT, dq_expr_column(b, "ratio"), "c"},
      {DQ_AGG_COUNT_STAR, NULL, "cs"},
      {DQ_AGG_MIN, dq_expr_column(b, "flag"), "mn"},
      {DQ_AGG_MAX, dq_expr_column(b, "key"), "mx"},
      {DQ_AGG_AVG, dq_expr_column(b, "neg"), "av"},
      {DQ_AGG_AVG, dq_expr_column(b, "ratio"), "avd"},
  };
  dq_node *partial =
      dq_node_aggregate(b, n, DQ_AGG_PARTIAL, 1, groups, gn, 7, aggs);
  const dq_boundary sh = {DQ_BOUNDARY_SHUFFLE, 1, gn};
  uint32_t s1 = dq_plan_stage(b, partial, 3, 2, &sh);
  dq_node *f = dq_node_aggregate_final(b, dq_node_read(b, s1), partial);
  const dq_boundary bc = {DQ_BOUNDARY_BROADCAST, 0, NULL};
  uint32_t s2 = dq_plan_stage(b, f, 2, 1, &bc);
  const dq_sort_key keys[] = {{dq_expr_column(b, "s"), true, true},
                              {dq_expr_column(b, "flag"), false, false}};
  dq_node *h = dq_node_sort(b, dq_node_read(b, s2), 2, keys);
  h = dq_node_limit(b, h, 10, 2);
  dq_plan_stage(b, h, 1, 1, NULL);
  dq_plan *p;
  int rc = dq_plan_builder_finish(b, &p, &err);
  if (rc != 0)
    fail_msg("kitchen sink: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static void test_codec_round_trip(void **state) {
  dq_plan *p = kitchen_sink();
  dq_error err;
  uint8_t *bytes, *again;
  size_t len, len2;
  assert_int_equal(dq_plan_encode(p, &bytes, &len, &err), 0);
  dq_plan *d;
  int rc = dq_plan_decode(bytes, len, &d, &err);
  if (rc != 0)
    fail_msg("decode: %s", err.message);
  assert_int_equal(dq_plan_encode(d, &again, &len2, &err), 0);
  assert_int_equal(len, len2);
  assert_memory_equal(bytes, again, len);
  char e1[8192], e2[8192];
  dq_plan_explain(p, e1, sizeof e1);
  dq_plan_explain(d, e2, sizeof e2);
  assert_string_equal(e1, e2);
  assert_non_null(strstr(e1, "SHUFFLE [flag] to stage 2"));
  assert_non_null(strstr(e1, "Limit 10 OFFSET 2"));
  if (getenv("DQ_TEST_VERBOSE"))
    printf("%s", e1);
  for (uint32_t id = 1; id <= 3; id++) {
    const dq_stage *s = dq_plan_stage_by_id(p, id);
    assert_true(dq_schema_equal(dq_stage_schema(s),
                                dq_stage_schema(dq_plan_stage_by_id(d, id))));
    /* One stage alone, as a task receives it. */
    uint8_t *sb;
    size_t sl;
    assert_int_equal(dq_stage_encode(s, &sb, &sl, &err), 0);
    dq_plan *one;
    rc = dq_plan_decode(sb, sl, &one, &err);
    if (rc != 0)
      fail_msg("stage %u: %s", id, err.message);
    assert_int_equal(dq_plan_n_stages(one), 1);
    const dq_stage *os = dq_plan_stage_by_id(one, id);
    assert_non_null(os);
    assert_int_equal(dq_stage_task_count(os), dq_stage_task_count(s));
    assert_int_equal(dq_stage_boundary_kind(os), dq_stage_boundary_kind(s));
    assert_int_equal(dq_stage_consumer(os), dq_stage_consumer(s));
    uint32_t in[4];
    assert_int_equal(dq_stage_inputs(os, in, 4), id == 1 ? 0 : 1);
    free(sb);
    dq_plan_free(one);
  }
  free(bytes);
  free(again);
  dq_plan_free(d);
  dq_plan_free(p);
}

static void test_codec_malformed(void **state) {
  dq_plan *p = kitchen_sink();
  dq_error err;
  uint8_t *bytes;
  size_t len;
  assert_int_equal(dq_plan_encode(p, &bytes, &len, &err), 0);
  dq_plan_free(p);
  /* Every truncation: rejected cleanly, or (cut between stages) a plan. */
  size_t rejected = 0;
  for (size_t cut = 0; cut < len; cut++) {
    dq_plan *d = NULL;
    int rc = dq_plan_decode(bytes, cut, &d, &err);
    if (rc != 0) {
      assert_null(d);
      assert_true(rc == DQ_EPROTO || rc == DQ_EINVAL);
      assert_true(err.message[0] != '\0');
      rejected++;
    }
    dq_plan_free(d);
  }
  assert_true(rejected > len * 9 / 10);
  /* Random bit flips and garbage. */
  srand(1234);
  uint8_t *copy = malloc(len);
  for (int round = 0; round < 3000; round++) {
    memcpy(copy, bytes, len);
    int flips = 1 + rand() % 4;
    for (int k = 0; k < flips; k++)
      copy[rand() % len] ^= (uint8_t)(1u << (rand() % 8));
    dq_plan *d = NULL;
    if (dq_plan_decode(copy, len, &d, &err) == 0)
      dq_plan_free(d);
  }
  for (int round = 0; round < 1000; round++) {
    size_t n = (size_t)(rand() % 256);
    for (size_t k = 0; k < n; k++)
      copy[k % len] = (uint8_t)rand();
    dq_plan *d = NULL;
    if (dq_plan_decode(copy, n < len ? n : len, &d, &err) == 0)
      dq_plan_free(d);
  }
  free(copy);
  free(bytes);
  dq_plan *d = NULL;
  assert_int_equal(dq_plan_decode(NULL, 0, &d, &err), DQ_EINVAL); /* v0 */
}

/* Encodes a hand-made one-stage plan: scan lineitem, filter `pred`. */
static int decode_with_predicate(Dq__V1__Expr *pred, dq_error *err) {
  Dq__V1__ScanTpch tpch_m = DQ__V1__SCAN_TPCH__INIT;
  tpch_m.table = "lineitem";
  tpch_m.scale = 0.001;
  uint8_t params[64];
  Dq__V1__Scan scan_m = DQ__V1__SCAN__INIT;
  char *cols[] = {"l_quantity", "l_shipdate"};
  scan_m.source = "tpch";
  scan_m.params.len = dq__v1__scan_tpch__pack(&tpch_m, params);
  scan_m.params.data = params;
  scan_m.n_columns = 2;
  scan_m.columns = cols;
  Dq__V1__Node scan_n = DQ__V1__NODE__INIT;
  scan_n.kind_case = DQ__V1__NODE__KIND_SCAN;
  scan_n.scan = &scan_m;
  Dq__V1__Filter filt = DQ__V1__FILTER__INIT;
  filt.input = &scan_n;
  filt.predicate = pred;
  Dq__V1__Node root = DQ__V1__NODE__INIT;
  root.kind_case = DQ__V1__NODE__KIND_FILTER;
  root.filter = &filt;
  Dq__V1__Stage st = DQ__V1__STAGE__INIT;
  st.id = 1;
  st.task_count = 1;
  st.partitions = 1;
  st.root = &root;
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

static void test_codec_invalid_plans(void **state) {
  dq_error err;
  Dq__V1__Type int_t = DQ__V1__TYPE__INIT;
  int_t.id = DQ__V1__TYPE_ID__TYPE_INT32;
  Dq__V1__Literal lit = DQ__V1__LITERAL__INIT;
  lit.type = &int_t;
  lit.int_value = 24;
  Dq__V1__Expr lit_e = DQ__V1__EXPR__INIT;
  lit_e.kind_case = DQ__V1__EXPR__KIND_LITERAL;
  lit_e.literal = &lit;
  Dq__V1__Expr col = DQ__V1__EXPR__INIT;
  col.kind_case = DQ__V1__EXPR__KIND_COLUMN;
  col.column = 0;
  Dq__V1__Expr *args[] = {&col, &lit_e};
  Dq__V1__Call lt = DQ__V1__CALL__INIT;
  lt.op = DQ__V1__EXPR_OP__OP_LT;
  lt.n_args = 2;
  lt.args = args;
  Dq__V1__Expr pred = DQ__V1__EXPR__INIT;
  pred.kind_case = DQ__V1__EXPR__KIND_CALL;
  pred.call = &lt;
  /* Valid as built. */
  assert_int_equal(decode_with_predicate(&pred, &err), 0);
  /* Column index out of range. */
  col.column = 2;
  assert_int_equal(decode_with_predicate(&pred, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "out of range"));
  col.column = 0;
  /* Unknown operator, unknown type id, wrong arity, bad int32 value. */
  lt.op = 99;
  assert_int_equal(decode_with_predicate(&pred, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "unknown operator"));
  lt.op = DQ__V1__EXPR_OP__OP_LT;
  int_t.id = 42;
  assert_int_equal(decode_with_predicate(&pred, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "unknown type id 42"));
  int_t.id = DQ__V1__TYPE_ID__TYPE_INT32;
  lt.n_args = 1;
  assert_int_equal(decode_with_predicate(&pred, &err), DQ_EINVAL);
  lt.n_args = 2;
  lit.int_value = (int64_t)1 << 40;
  assert_int_equal(decode_with_predicate(&pred, &err), DQ_EINVAL);
  lit.int_value = 24;
  /* Type mismatch: a filter on an int32 literal. */
  assert_int_equal(decode_with_predicate(&lit_e, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "not bool"));
  /* Missing expression. */
  assert_int_equal(decode_with_predicate(NULL, &err), DQ_EINVAL);
  /* Nesting beyond the limit: NOT(NOT(...)) 5000 deep. */
  Dq__V1__Expr *chain = calloc(5000, sizeof *chain);
  Dq__V1__Call *calls = calloc(5000, sizeof *calls);
  Dq__V1__Expr **cargs = calloc(5000, sizeof *cargs);
  for (int i = 0; i < 5000; i++) {
    dq__v1__expr__init(&chain[i]);
    dq__v1__call__init(&calls[i]);
    calls[i].op = DQ__V1__EXPR_OP__OP_NOT;
    calls[i].n_args = 1;
    cargs[i] = i + 1 < 5000 ? &chain[i + 1] : &lit_e;
    calls[i].args = &cargs[i];
    chain[i].kind_case = DQ__V1__EXPR__KIND_CALL;
    chain[i].call = &calls[i];
  }
  assert_int_equal(decode_with_predicate(&chain[0], &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "deep"));
  /* 250 deep passes the wire check but not the expression depth limit. */
  assert_int_equal(decode_with_predicate(&chain[5000 - 250], &err), DQ_EINVAL);
  free(chain);
  free(calls);
  free(cargs);
}

static void test_producer_head(void **state) {
  dq_error err;
  uint32_t keys[] = {1, 0};
  dq_producer_head h = {DQ_BOUNDARY_SHUFFLE, 2, keys, 12};
  uint8_t *buf;
  size_t len;
  assert_int_equal(dq_producer_head_encode(&h, &buf, &len, &err), 0);
  dq_producer_head d;
  assert_int_equal(dq_producer_head_decode(buf, len, &d, &err), 0);
  assert_int_equal(d.kind, DQ_BOUNDARY_SHUFFLE);
  assert_int_equal(d.n_keys, 2);
  assert_int_equal(d.keys[0], 1);
  assert_int_equal(d.partition_count, 12);
  dq_producer_head_clear(&d);
  for (size_t cut = 0; cut < len; cut++)
    if (dq_producer_head_decode(buf, cut, &d, &err) == 0)
      dq_producer_head_clear(&d);
  free(buf);
  dq_producer_head bad = {7, 0, NULL, 0};
  assert_int_equal(dq_producer_head_encode(&bad, &buf, &len, &err), 0);
  assert_int_equal(dq_producer_head_decode(buf, len, &d, &err), DQ_EINVAL);
  free(buf);
  dq_producer_head nokeys = {DQ_BOUNDARY_SHUFFLE, 0, NULL, 4};
  assert_int_equal(dq_producer_head_encode(&nokeys, &buf, &len, &err), 0);
  assert_int_equal(dq_producer_head_decode(buf, len, &d, &err), DQ_EINVAL);
  free(buf);
  uint8_t garbage[] = {0xff, 0xff, 0xff};
  assert_int_equal(dq_producer_head_decode(garbage, 3, &d, &err), DQ_EPROTO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_errors),
      cmocka_unit_test(test_codec_round_trip),
      cmocka_unit_test(test_codec_malformed),
      cmocka_unit_test(test_codec_invalid_plans),
      cmocka_unit_test(test_producer_head),
      cmocka_unit_test(test_q1_single),
      cmocka_unit_test(test_q6_single),
      cmocka_unit_test(test_run_local),
      cmocka_unit_test(test_distributed_equals_single),
      cmocka_unit_test(test_join_distributed),
      cmocka_unit_test(test_codec_join_topn_union),
      cmocka_unit_test(test_codec_new_exprs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
