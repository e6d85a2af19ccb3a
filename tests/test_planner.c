/* test_planner.c — the distributed planner (dq_plan_distribute, planner.c).
 *
 * Shapes: for known plans, the stages chosen — their count, boundary kinds
 * and keys, task counts, broadcast or shuffle by the size threshold, top-N
 * and limit pushed below the coalesce, a side already partitioned on the
 * join key left in place, join keys of different types hashed alike, and
 * every boundary elided with one task of one pipeline.
 *
 * Answers: TPC-H Q1 and Q6 (and whatever other queries
 * dq_tpch_query_names() lists), and hand-built join + aggregate + top-N
 * plans over orders, customer and lineitem, distributed by the planner
 * with the build sides broadcast and shuffled, run on 1 to 4 in-process
 * workers (over $DQ_TEST_TRANSPORT, default inmem) and compared with
 * dq_plan_run_local() on the single-node plan. */
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

#include "harness.h"

#define MAX_WORKERS 4
#ifndef SCALE
#define SCALE 0.01 /* a -DSCALE=0.1 build checks bigger shapes */
#endif

/* The cluster, on leaving, must hold no task (within 2 s). */
static void cluster_stop(dqt_cluster *c) {
  assert_int_equal(dqt_cluster_wait_idle(c, -1, 2000), 0);
  dqt_cluster_stop(c, "test_planner");
}

static void run_distributed(dqt_cluster *c, const dq_plan *p,
                            result_text *out) {
  dq_error err;
  if (dqt_run_cluster(c, c->n, p, out, &err) < 0)
    fail_msg("query: %s", err.message);
}

/* --- Helpers --------------------------------------------------------------- */

static dq_plan *distribute(const dq_plan *single, uint32_t tasks,
                           uint32_t parts, int64_t bcast_max) {
  dq_distribute_opts o = {sizeof o, tasks, parts, bcast_max};
  dq_plan *p = NULL;
  dq_error err;
  if (dq_plan_distribute(single, &o, &p, &err) != 0)
    fail_msg("distribute (%u x %u, broadcast <= %lld): %s", tasks, parts,
             (long long)bcast_max, err.message);
  return p;
}

static char *explain(const dq_plan *p) {
  size_t need = dq_plan_explain(p, NULL, 0);
  char *buf = malloc(need);
  assert_non_null(buf);
  dq_plan_explain(p, buf, need);
  return buf;
}

static dq_plan *query_plan(const char *name) {
  dq_plan *p;
  dq_error err;
  if (dq_tpch_query_plan(name, SCALE, 42, 0, 0, &p, &err) != 0)
    fail_msg("%s: %s", name, err.message);
  return p;
}

static dq_plan *finish(dq_plan_builder *b) {
  dq_plan *p;
  dq_error err;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("plan: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static void assert_stage(const dq_plan *p, uint32_t id, dq_boundary_kind kind,
                         uint32_t tasks, uint32_t parts, uint32_t consumer) {
  const dq_stage *s = dq_plan_stage_by_id(p, id);
  assert_non_null(s);
  assert_int_equal(dq_stage_boundary_kind(s), kind);
  assert_int_equal(dq_stage_task_count(s), tasks);
  assert_int_equal(dq_stage_partitions(s), parts);
  assert_int_equal(dq_stage_consumer(s), consumer);
}

/* The shuffle keys of stage id, as column names joined by ','. */
static void assert_keys(const dq_plan *p, uint32_t id, const char *want) {
  const dq_stage *s = dq_plan_stage_by_id(p, id);
  size_t nk;
  const uint32_t *k = dq_stage_boundary_keys(s, &nk);
  char got[256] = "";
  for (size_t i = 0; i < nk; i++) {
    strcat(got, i ? "," : "");
    strcat(got, dq_schema_field_name(dq_stage_schema(s), k[i]));
  }
  assert_string_equal(got, want);
}

/* The text explain gives for stage id (up to the next stage). */
static char *stage_text(const dq_plan *p, uint32_t id) {
  char *all = explain(p);
  char head[32];
  snprintf(head, sizeof head, "Stage %u ", id);
  char *s = strstr(all, head);
  assert_non_null(s);
  memmove(all, s, strlen(s) + 1);
  char *next = strstr(all + 1, "\nStage ");
  if (next != NULL)
    next[1] = '\0';
  return all;
}

static void assert_stage_has(const dq_plan *p, uint32_t id, const char *what) {
  char *t = stage_text(p, id);
  if (strstr(t, what) == NULL)
    fail_msg("stage %u lacks \"%s\":\n%s", id, what, t);
  free(t);
}

static void assert_stage_lacks(const dq_plan *p, uint32_t id,
                               const char *what) {
  char *t = stage_text(p, id);
  if (strstr(t, what) != NULL)
    fail_msg("stage %u has \"%s\":\n%s", id, what, t);
  free(t);
}

#define COL(name) dq_expr_column(b, name)

/* orders ⋈ customer on o_custkey = c_custkey (customer: 1500 rows at SF
 * 0.01, the build side), grouped by nation, top 10 nations by revenue
 * (nation as the tie-break, so the order is fixed). */
static dq_plan *orders_customer(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const oc[] = {"o_orderkey", "o_custkey", "o_totalprice"};
  static const char *const cc[] = {"c_custkey", "c_nationkey", "c_acctbal"};
  dq_node *o = dq_node_scan_tpch(b, "orders", SCALE, 7, oc, 3);
  dq_node *c = dq_node_scan_tpch(b, "customer", SCALE, 7, cc, 3);
  dq_expr *pk = COL("o_custkey"), *bk = COL("c_custkey");
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, o, c, 1, &pk, &bk, NULL,
                                 NULL);
  dq_expr *g = COL("c_nationkey");
  const char *gn = "nation";
  const dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                         {DQ_AGG_SUM, COL("o_totalprice"), "revenue"},
                         {DQ_AGG_AVG, COL("c_acctbal"), "avg_bal"},
                         {DQ_AGG_MAX, COL("o_orderkey"), "last"}};
  dq_node *a = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &g, &gn, 4, aggs);
  const dq_sort_key keys[] = {{COL("revenue"), true, false},
                              {COL("nation"), false, false}};
  dq_plan_stage(b, dq_node_topn(b, a, 2, keys, 10, 0), 1, 1, NULL);
  return finish(b);
}

/* TPC-H Q3's shape: customer (BUILDING) ⋈ orders (before 1995-03-15) ⋈
 * lineitem (shipped after it), revenue per order, top 10 by revenue then
 * date then order key. */
static dq_plan *q3_like(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const cc[] = {"c_custkey", "c_mktsegment"};
  static const char *const oc[] = {"o_orderkey", "o_custkey", "o_orderdate",
                                   "o_shippriority"};
  static const char *const lc[] = {"l_orderkey", "l_extendedprice",
                                   "l_discount", "l_shipdate"};
  dq_node *c = dq_node_filter(
      b, dq_node_scan_tpch(b, "customer", SCALE, 3, cc, 2),
      dq_expr_eq(b, COL("c_mktsegment"), dq_expr_utf8(b, "BUILDING")));
  dq_node *o = dq_node_filter(
      b, dq_node_scan_tpch(b, "orders", SCALE, 3, oc, 4),
      dq_expr_lt(b, COL("o_orderdate"), dq_expr_date(b, "1995-03-15")));
  dq_node *l = dq_node_filter(
      b, dq_node_scan_tpch(b, "lineitem", SCALE, 3, lc, 4),
      dq_expr_gt(b, COL("l_shipdate"), dq_expr_date(b, "1995-03-15")));
  dq_expr *ok = COL("o_custkey"), *ck = COL("c_custkey");
  dq_node *oc_j = dq_node_hash_join(b, DQ_JOIN_LEFT_SEMI, o, c, 1, &ok, &ck,
                                    NULL, NULL);
  dq_expr *lk = COL("l_orderkey"), *ok2 = COL("o_orderkey");
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, l, oc_j, 1, &lk, &ok2,
                                 NULL, NULL);
  dq_expr *g[] = {COL("l_orderkey"), COL("o_orderdate"),
                  COL("o_shippriority")};
  const char *gn[] = {"l_orderkey", "o_orderdate", "o_shippriority"};
  const dq_agg rev[] = {
      {DQ_AGG_SUM,
       dq_expr_mul(b, COL("l_extendedprice"),
                   dq_expr_sub(b, dq_expr_int32(b, 1), COL("l_discount"))),
       "revenue"}};
  dq_node *a = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 3, g, gn, 1, rev);
  const dq_sort_key keys[] = {{COL("revenue"), true, false},
                              {COL("o_orderdate"), false, false},
                              {COL("l_orderkey"), false, false}};
  dq_plan_stage(b, dq_node_topn(b, a, 3, keys, 10, 0), 1, 1, NULL);
  return finish(b);
}

/* lineitem's revenue per order (an aggregate on l_orderkey) ⋈ orders on
 * the order key: the aggregate's output is hashed on the key already. */
/* sum(l_quantity) per order (keyed: lineitem's slices never split an
 * order) or per supplier (not keyed), joined with orders or supplier, then
 * grouped by o_orderpriority or s_nationkey as "prio". */
static dq_plan *agg_then_join(bool keyed) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  const char *lc[] = {keyed ? "l_orderkey" : "l_suppkey", "l_quantity"};
  const char *oc[] = {keyed ? "o_orderkey" : "s_suppkey",
                      keyed ? "o_orderpriority" : "s_nationkey"};
  dq_node *l = dq_node_scan_tpch(b, "lineitem", SCALE, 5, lc, 2);
  dq_expr *g = COL(lc[0]);
  const char *gn = "okey";
  const dq_agg q[] = {{DQ_AGG_SUM, COL("l_quantity"), "qty"}};
  dq_node *a = dq_node_aggregate(b, l, DQ_AGG_SINGLE, 1, &g, &gn, 1, q);
  dq_node *o = dq_node_scan_tpch(b, keyed ? "orders" : "supplier", SCALE, 5,
                                 oc, 2);
  dq_expr *pk = COL("okey"), *bk = COL(oc[0]);
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, a, o, 1, &pk, &bk, NULL,
                                 NULL);
  dq_expr *g2 = COL(oc[1]);
  const char *gn2 = "prio";
  const dq_agg s[] = {{DQ_AGG_SUM, COL("qty"), "qty"},
                      {DQ_AGG_COUNT_STAR, NULL, "n"}};
  dq_node *a2 = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &g2, &gn2, 2, s);
  const dq_sort_key key = {COL("prio"), false, false};
  dq_plan_stage(b, dq_node_sort(b, a2, 1, &key), 1, 1, NULL);
  return finish(b);
}

/* Joins on keys of different types: l_quantity (decimal(15,2)) = p_size
 * (int32, so cast to decimal(15,2)) when `decimal`, else l_linenumber
 * (int32) = n_nationkey (int64). */
static dq_plan *mixed_keys(bool decimal) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const lc[] = {"l_orderkey", "l_quantity", "l_linenumber",
                                   "l_extendedprice"};
  static const char *const pc[] = {"p_partkey", "p_size"};
  static const char *const nc[] = {"n_nationkey", "n_name"};
  dq_node *l = dq_node_scan_tpch(b, "lineitem", SCALE, 9, lc, 4);
  dq_node *build;
  dq_expr *pk, *bk;
  if (decimal) {
    build = dq_node_filter(
        b, dq_node_scan_tpch(b, "part", SCALE, 9, pc, 2),
        dq_expr_le(b, COL("p_partkey"), dq_expr_int64(b, 60)));
    pk = COL("l_quantity");
    bk = COL("p_size");
  } else {
    build = dq_node_scan_tpch(b, "nation", SCALE, 9, nc, 2);
    pk = COL("l_linenumber");
    bk = COL("n_nationkey");
  }
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, l, build, 1, &pk, &bk,
                                 NULL, NULL);
  dq_expr *g = decimal ? COL("p_size") : COL("n_name");
  const char *gn = "g";
  const dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                         {DQ_AGG_SUM, COL("l_extendedprice"), "price"},
                         {DQ_AGG_MAX, COL("l_orderkey"), "last"}};
  dq_node *a = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &g, &gn, 3, aggs);
  const dq_sort_key key = {COL("g"), false, false};
  dq_plan_stage(b, dq_node_sort(b, a, 1, &key), 1, 1, NULL);
  return finish(b);
}

/* lineitem -> TOPN / LIMIT / LIMIT over SORT / UNION, for pushdown shapes. */
static dq_plan *ordered_plan(int which) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const lc[] = {"l_orderkey", "l_linenumber",
                                   "l_extendedprice"};
  dq_node *l = dq_node_scan_tpch(b, "lineitem", SCALE, 1, lc, 3);
  const dq_sort_key keys[] = {{COL("l_extendedprice"), true, false},
                              {COL("l_orderkey"), false, false},
                              {COL("l_linenumber"), false, false}};
  dq_node *r;
  switch (which) {
  case 0: r = dq_node_topn(b, l, 3, keys, 7, 3); break;
  case 1: r = dq_node_limit(b, dq_node_sort(b, l, 3, keys), 5, 2); break;
  case 2: r = dq_node_sort(b, l, 3, keys); break;
  case 3: {
    dq_node *c = dq_node_project(
        b, dq_node_scan_tpch(b, "orders", SCALE, 1, NULL, 0), 3,
        (dq_expr *[]){COL("o_orderkey"), dq_expr_int32(b, 0),
                      COL("o_totalprice")},
        lc);
    dq_node *u = dq_node_union(b, 2, (dq_node *[]){l, c});
    r = dq_node_topn(b, u, 3, keys, 20, 0);
    break;
  }
  case 4: r = dq_node_limit(b, l, 4, 0); break;
  default: r = l; break; /* the bare scan */
  }
  dq_plan_stage(b, r, 1, 1, NULL);
  return finish(b);
}

/* customer probing orders (o_totalprice > 100000) with each join kind; the
 * LEFT join has a residual too.  Grouped by nation. */
static dq_plan *customer_orders(dq_join_kind kind) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const cc[] = {"c_custkey", "c_nationkey", "c_acctbal"};
  static const char *const oc[] = {"o_custkey", "o_totalprice"};
  dq_node *c = dq_node_scan_tpch(b, "customer", SCALE, 11, cc, 3);
  dq_node *o = dq_node_filter(
      b, dq_node_scan_tpch(b, "orders", SCALE, 11, oc, 2),
      dq_expr_gt(b, COL("o_totalprice"), dq_expr_decimal(b, "100000")));
  dq_expr *pk = COL("c_custkey"), *bk = COL("o_custkey");
  dq_expr *res = kind == DQ_JOIN_LEFT
                     ? dq_expr_gt(b, COL("o_totalprice"),
                                  dq_expr_mul(b, COL("c_acctbal"),
                                              dq_expr_int32(b, 20)))
                     : NULL;
  dq_node *j = dq_node_hash_join(b, kind, c, o, 1, &pk, &bk, res, NULL);
  dq_expr *g = COL("c_nationkey");
  const char *gn = "nation";
  dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                   {DQ_AGG_SUM, COL("c_acctbal"), "bal"},
                   {DQ_AGG_COUNT, NULL, "orders"}};
  size_t na = 2;
  if (kind == DQ_JOIN_LEFT || kind == DQ_JOIN_INNER) {
    aggs[2].arg = COL("o_totalprice");
    na = 3;
  }
  dq_node *a = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &g, &gn, na, aggs);
  const dq_sort_key key = {COL("nation"), false, false};
  dq_plan_stage(b, dq_node_sort(b, a, 1, &key), 1, 1, NULL);
  return finish(b);
}

/* A scalar subquery: customers whose balance is above the average, joined
 * on a constant key with the one-row aggregate (in one pipeline). */
static dq_plan *scalar_join(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const cc[] = {"c_custkey", "c_nationkey", "c_acctbal"};
  dq_node *c = dq_node_scan_tpch(b, "customer", SCALE, 13, cc, 3);
  dq_node *c2 = dq_node_filter(
      b, dq_node_scan_tpch(b, "customer", SCALE, 13, cc, 3),
      dq_expr_gt(b, COL("c_acctbal"), dq_expr_int32(b, 0)));
  const dq_agg avg = {DQ_AGG_AVG, COL("c_acctbal"), "avg_bal"};
  dq_node *a = dq_node_aggregate(b, c2, DQ_AGG_SINGLE, 0, NULL, NULL, 1, &avg);
  const char *an[] = {"one", "avg_bal"};
  a = dq_node_project(b, a, 2,
                      (dq_expr *[]){dq_expr_int32(b, 1), COL("avg_bal")}, an);
  dq_expr *pk = dq_expr_int64(b, 1), *bk = COL("one");
  dq_node *j = dq_node_hash_join(
      b, DQ_JOIN_LEFT_SEMI, c, a, 1, &pk, &bk,
      dq_expr_gt(b, COL("c_acctbal"), COL("avg_bal")), NULL);
  dq_expr *g = COL("c_nationkey");
  const char *gn = "nation";
  const dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                         {DQ_AGG_SUM, COL("c_acctbal"), "bal"}};
  dq_node *r = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &g, &gn, 2, aggs);
  const dq_sort_key key = {COL("nation"), false, false};
  dq_plan_stage(b, dq_node_topn(b, r, 1, &key, 100, 0), 1, 1, NULL);
  return finish(b);
}

/* The probe side in one pipeline (the 50 largest orders) ⋈ lineitem. */
static dq_plan *single_probe(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const oc[] = {"o_orderkey", "o_totalprice"};
  static const char *const lc[] = {"l_orderkey", "l_quantity"};
  const dq_sort_key top[] = {{COL("o_totalprice"), true, false},
                             {COL("o_orderkey"), false, false}};
  dq_node *o = dq_node_topn(
      b, dq_node_scan_tpch(b, "orders", SCALE, 17, oc, 2), 2, top, 50, 0);
  dq_node *l = dq_node_scan_tpch(b, "lineitem", SCALE, 17, lc, 2);
  dq_expr *pk = COL("o_orderkey"), *bk = COL("l_orderkey");
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, o, l, 1, &pk, &bk, NULL,
                                 NULL);
  dq_expr *g = COL("o_orderkey");
  const char *gn = "okey";
  const dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                         {DQ_AGG_SUM, COL("l_quantity"), "qty"}};
  dq_node *a = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &g, &gn, 2, aggs);
  const dq_sort_key key = {COL("okey"), false, false};
  dq_plan_stage(b, dq_node_sort(b, a, 1, &key), 1, 1, NULL);
  return finish(b);
}

/* A union of a scan and a one-row aggregate (in one pipeline). */
static dq_plan *union_single(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const oc[] = {"o_custkey", "o_totalprice"};
  static const char *const cc[] = {"c_acctbal"};
  const char *names[] = {"k", "v"};
  dq_node *o = dq_node_project(
      b, dq_node_scan_tpch(b, "orders", SCALE, 19, oc, 2), 2,
      (dq_expr *[]){COL("o_custkey"), COL("o_totalprice")}, names);
  const dq_agg mx = {DQ_AGG_MAX, COL("c_acctbal"), "mx"};
  dq_node *m = dq_node_aggregate(
      b, dq_node_scan_tpch(b, "customer", SCALE, 19, cc, 1), DQ_AGG_SINGLE, 0,
      NULL, NULL, 1, &mx);
  m = dq_node_project(b, m, 2, (dq_expr *[]){dq_expr_int64(b, 0), COL("mx")},
                      names);
  dq_node *u = dq_node_union(b, 2, (dq_node *[]){o, m});
  dq_expr *g = COL("k");
  const dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                         {DQ_AGG_SUM, COL("v"), "total"}};
  dq_node *a = dq_node_aggregate(b, u, DQ_AGG_SINGLE, 1, &g, names, 2, aggs);
  const dq_sort_key keys[] = {{COL("total"), true, false},
                              {COL("k"), false, false}};
  dq_plan_stage(b, dq_node_topn(b, a, 2, keys, 20, 0), 1, 1, NULL);
  return finish(b);
}

/* Odd but valid single-node plans: PARTIAL and FINAL written out in one
 * stage (group keys or none), and two group columns of one name. */
static dq_plan *odd_aggregates(int which) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const cc[] = {"c_nationkey", "c_mktsegment",
                                   "c_acctbal"};
  dq_node *c = dq_node_scan_tpch(b, "customer", SCALE, 23, cc, 3);
  dq_expr *g[] = {COL("c_nationkey"), COL("c_mktsegment")};
  const char *same[] = {"g", "g"};
  const char *gn[] = {"nation", "segment"};
  const dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                         {DQ_AGG_AVG, COL("c_acctbal"), "bal"},
                         {DQ_AGG_MIN, COL("c_acctbal"), "lo"}};
  dq_node *r;
  if (which == 2) {
    r = dq_node_aggregate(b, c, DQ_AGG_SINGLE, 2, g, same, 3, aggs);
  } else {
    size_t ng = which == 0 ? 2 : 0;
    dq_node *partial = dq_node_aggregate(b, c, DQ_AGG_PARTIAL, ng, g, gn, 3,
                                         aggs);
    r = dq_node_aggregate_final(b, partial, partial);
  }
  dq_plan_stage(b, r, 1, 1, NULL);
  return finish(b);
}

/* --- Shapes ---------------------------------------------------------------- */

/* The planner finds the stages tpch_queries.c writes by hand for Q1/Q6. */
static void assert_same_as_hand_written(const dq_plan *p, const char *name,
                                        uint32_t tasks, uint32_t parts) {
  dq_plan *h;
  dq_error err;
  if (dq_tpch_query_plan(name, SCALE, 42, tasks, parts, &h, &err) != 0)
    fail_msg("%s: %s", name, err.message);
  char *a = explain(h), *b = explain(p);
  assert_string_equal(a, b);
  free(a);
  free(b);
  dq_plan_free(h);
}

static void test_shape_q1(void **state) {
  (void)state;
  dq_plan *s = query_plan("q1");
  dq_plan *p = distribute(s, 3, 2, 0);
  assert_int_equal(dq_plan_n_stages(p), 3);
  assert_stage(p, 1, DQ_BOUNDARY_SHUFFLE, 3, 2, 2);
  assert_keys(p, 1, "l_returnflag,l_linestatus");
  assert_stage_has(p, 1, "Aggregate PARTIAL");
  assert_stage_has(p, 1, "ScanTpch lineitem");
  assert_stage(p, 2, DQ_BOUNDARY_COALESCE, 3, 2, 3);
  assert_stage_has(p, 2, "Aggregate FINAL");
  assert_stage(p, 3, DQ_BOUNDARY_NONE, 1, 1, 0);
  assert_stage_has(p, 3, "Sort");
  assert_stage_has(p, 3, "Read stage 2");
  assert_same_as_hand_written(p, "q1", 3, 2);
  if (getenv("DQ_TEST_VERBOSE")) {
    char *t = explain(p);
    printf("%s", t);
    free(t);
  }
  dq_plan_free(p);
  dq_plan_free(s);
}

static void test_shape_q6(void **state) {
  (void)state;
  dq_plan *s = query_plan("q6");
  dq_plan *p = distribute(s, 4, 1, 0);
  assert_int_equal(dq_plan_n_stages(p), 2);
  assert_stage(p, 1, DQ_BOUNDARY_COALESCE, 4, 1, 2);
  assert_stage_has(p, 1, "Aggregate PARTIAL");
  assert_stage_has(p, 1, "Filter");
  assert_stage(p, 2, DQ_BOUNDARY_NONE, 1, 1, 0);
  assert_stage_has(p, 2, "Aggregate FINAL");
  assert_same_as_hand_written(p, "q6", 4, 1);
  dq_plan_free(p);
  dq_plan_free(s);
}

/* One task of one pipeline: every boundary is elided and the plan is the
 * single-node one, node for node. */
static void test_elided(void **state) {
  (void)state;
  dq_plan *plans[] = {query_plan("q1"), query_plan("q6"), orders_customer(),
                      q3_like()};
  for (size_t i = 0; i < sizeof plans / sizeof *plans; i++) {
    dq_plan *p = distribute(plans[i], 1, 1, -1);
    assert_int_equal(dq_plan_n_stages(p), 1);
    char *a = explain(plans[i]), *b = explain(p);
    assert_string_equal(a, b);
    free(a);
    free(b);
    dq_plan_free(p);
    /* One task of two pipelines still needs its boundaries. */
    p = distribute(plans[i], 1, 2, -1);
    assert_true(dq_plan_n_stages(p) > 1);
    for (uint32_t id = 1; id < dq_plan_n_stages(p); id++)
      assert_int_equal(dq_stage_task_count(dq_plan_stage_by_id(p, id)), 1);
    dq_plan_free(p);
    dq_plan_free(plans[i]);
  }
}

/* customer (150000 x SCALE rows) is broadcast under a threshold a little
 * above its size and both sides are shuffled under one a little below. */
static void test_broadcast_threshold(void **state) {
  (void)state;
  const int64_t customers = (int64_t)(150000 * SCALE);
  dq_plan *s = orders_customer();
  dq_plan *p = distribute(s, 3, 1, customers + customers / 4);
  /* customer -> BROADCAST; orders ⋈ + PARTIAL -> SHUFFLE [nation];
   * FINAL + top-N -> COALESCE; head top-N. */
  assert_int_equal(dq_plan_n_stages(p), 4);
  assert_stage(p, 1, DQ_BOUNDARY_BROADCAST, 3, 1, 2);
  assert_stage_has(p, 1, "ScanTpch customer");
  assert_stage(p, 2, DQ_BOUNDARY_SHUFFLE, 3, 1, 3);
  assert_keys(p, 2, "nation");
  assert_stage_has(p, 2, "HashJoin INNER");
  assert_stage_has(p, 2, "ScanTpch orders");
  assert_stage_has(p, 2, "Read stage 1");
  assert_stage(p, 3, DQ_BOUNDARY_COALESCE, 3, 1, 4);
  assert_stage_has(p, 3, "TopN 10 OFFSET 0");
  assert_stage_has(p, 4, "TopN 10 OFFSET 0");
  dq_plan_free(p);

  p = distribute(s, 3, 2, customers - customers / 4);
  /* orders -> SHUFFLE [o_custkey]; customer -> SHUFFLE [c_custkey];
   * join + PARTIAL -> SHUFFLE [nation]; FINAL + top-N; head. */
  assert_int_equal(dq_plan_n_stages(p), 5);
  assert_stage(p, 1, DQ_BOUNDARY_SHUFFLE, 3, 2, 3);
  assert_keys(p, 1, "o_custkey");
  assert_stage(p, 2, DQ_BOUNDARY_SHUFFLE, 3, 2, 3);
  assert_keys(p, 2, "c_custkey");
  assert_stage(p, 3, DQ_BOUNDARY_SHUFFLE, 3, 2, 4);
  assert_keys(p, 3, "nation");
  assert_stage_has(p, 3, "HashJoin INNER");
  assert_stage(p, 4, DQ_BOUNDARY_COALESCE, 3, 2, 5);
  dq_plan_free(p);

  /* A negative threshold never broadcasts, even 25 nations. */
  dq_plan *m = mixed_keys(false);
  p = distribute(m, 2, 1, 0);
  assert_stage(p, 1, DQ_BOUNDARY_BROADCAST, 2, 1, 2);
  assert_stage_has(p, 1, "ScanTpch nation");
  dq_plan_free(p);
  p = distribute(m, 2, 1, -1);
  assert_stage(p, 1, DQ_BOUNDARY_SHUFFLE, 2, 1, 3);
  assert_stage(p, 2, DQ_BOUNDARY_SHUFFLE, 2, 1, 3);
  dq_plan_free(p);
  dq_plan_free(m);
  dq_plan_free(s);
}

/* Join keys of different types: int32 and int64 hash alike, so both sides
 * shuffle on their own columns; a decimal and an int do not, so the int
 * side shuffles on its key cast to the decimal, in a column of its own. */
static void test_key_types(void **state) {
  (void)state;
  dq_plan *s = mixed_keys(false);
  dq_plan *p = distribute(s, 2, 1, -1);
  assert_keys(p, 1, "l_linenumber");
  assert_keys(p, 2, "n_nationkey");
  dq_plan_free(p);
  dq_plan_free(s);
  s = mixed_keys(true);
  p = distribute(s, 2, 1, -1);
  assert_keys(p, 1, "l_quantity");
  assert_keys(p, 2, "$key0");
  assert_stage_has(p, 2, "AS $key0");
  assert_int_equal(dq_schema_n_fields(dq_stage_schema(dq_plan_stage_by_id(
                       p, 2))),
                   3);
  dq_plan_free(p);
  dq_plan_free(s);
}

/* The aggregate's FINAL stage is hashed on the supplier key: supplier is
 * shuffled into it and the aggregate's output does not move again. */
static void test_hash_reuse(void **state) {
  (void)state;
  dq_plan *s = agg_then_join(false);
  dq_plan *p = distribute(s, 3, 1, -1);
  /* lineitem PARTIAL -> SHUFFLE [okey]; supplier -> SHUFFLE [s_suppkey];
   * FINAL ⋈ supplier + PARTIAL -> SHUFFLE [prio]; FINAL -> COALESCE; head
   * sort. */
  assert_int_equal(dq_plan_n_stages(p), 5);
  assert_keys(p, 1, "okey");
  assert_keys(p, 2, "s_suppkey");
  assert_stage(p, 1, DQ_BOUNDARY_SHUFFLE, 3, 1, 3);
  assert_stage(p, 2, DQ_BOUNDARY_SHUFFLE, 3, 1, 3);
  assert_stage_has(p, 3, "Aggregate FINAL");
  assert_stage_has(p, 3, "HashJoin");
  assert_keys(p, 3, "prio");
  uint32_t in[4];
  assert_int_equal(dq_stage_inputs(dq_plan_stage_by_id(p, 3), in, 4), 2);
  assert_int_equal(in[0], 1);
  assert_int_equal(in[1], 2);
  dq_plan_free(p);
  dq_plan_free(s);
}

/* Grouping lineitem on l_orderkey needs no shuffle: a TPC-H scan's
 * pipelines each generate whole orders, so every group is whole where it
 * is generated.  Joining that with orders on the order key needs none
 * either: pipeline k of both scans generates the same orders.  Grouping on
 * anything else (test above) still goes PARTIAL -> shuffle -> FINAL. */
static void test_keyed_scan(void **state) {
  (void)state;
  dq_plan *s = agg_then_join(true);
  dq_plan *p = distribute(s, 3, 1, -1);
  /* lineitem SINGLE ⋈ orders + PARTIAL -> SHUFFLE [prio]; FINAL ->
   * COALESCE; head sort. */
  assert_int_equal(dq_plan_n_stages(p), 3);
  assert_stage_has(p, 1, "Aggregate SINGLE BY l_orderkey");
  assert_stage_has(p, 1, "ScanTpch lineitem");
  assert_stage_has(p, 1, "ScanTpch orders");
  assert_stage_has(p, 1, "HashJoin");
  assert_keys(p, 1, "prio");
  dq_plan_free(p);
  dq_plan_free(s);
}

/* Keyed sides of different unit domains do not meet in place: lineitem's
 * order key against customer's key (a join with no meaning, but one the
 * planner must route by hash). */
static dq_plan *keyed_domains(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const lc[] = {"l_orderkey", "l_quantity"};
  static const char *const cc[] = {"c_custkey", "c_name"};
  dq_node *l = dq_node_scan_tpch(b, "lineitem", SCALE, 5, lc, 2);
  dq_node *c = dq_node_scan_tpch(b, "customer", SCALE, 5, cc, 2);
  dq_expr *pk = COL("l_orderkey"), *bk = COL("c_custkey");
  dq_node *j = dq_node_hash_join(b, DQ_JOIN_INNER, l, c, 1, &pk, &bk, NULL,
                                 NULL);
  dq_plan_stage(b, j, 1, 1, NULL);
  return finish(b);
}

static void test_keyed_domains(void **state) {
  (void)state;
  dq_plan *s = keyed_domains();
  dq_plan *p = distribute(s, 3, 1, -1);
  /* lineitem -> SHUFFLE [l_orderkey]; customer -> SHUFFLE [c_custkey];
   * the join -> COALESCE; head.  (Answers: test_joins.) */
  assert_int_equal(dq_plan_n_stages(p), 4);
  assert_keys(p, 1, "l_orderkey");
  assert_keys(p, 2, "c_custkey");
  dq_plan_free(p);
  dq_plan_free(s);
}

static void test_pushdown(void **state) {
  (void)state;
  /* TOPN 7 OFFSET 3: each pipeline keeps its top 10. */
  dq_plan *s = ordered_plan(0);
  dq_plan *p = distribute(s, 2, 2, 0);
  assert_int_equal(dq_plan_n_stages(p), 2);
  assert_stage(p, 1, DQ_BOUNDARY_COALESCE, 2, 2, 2);
  assert_stage_has(p, 1, "TopN 10 OFFSET 0");
  assert_stage_has(p, 2, "TopN 7 OFFSET 3");
  dq_plan_free(p);
  dq_plan_free(s);
  /* LIMIT 5 OFFSET 2 over a SORT: a top-7 below, sort + limit above. */
  s = ordered_plan(1);
  p = distribute(s, 2, 2, 0);
  assert_int_equal(dq_plan_n_stages(p), 2);
  assert_stage_has(p, 1, "TopN 7 OFFSET 0");
  assert_stage_has(p, 2, "Limit 5 OFFSET 2");
  assert_stage_has(p, 2, "Sort");
  assert_stage_lacks(p, 2, "TopN");
  dq_plan_free(p);
  dq_plan_free(s);
  /* A SORT alone is not pushed: it runs in the head. */
  s = ordered_plan(2);
  p = distribute(s, 2, 2, 0);
  assert_int_equal(dq_plan_n_stages(p), 2);
  assert_stage_lacks(p, 1, "Sort");
  assert_stage_lacks(p, 1, "TopN");
  assert_stage_has(p, 2, "Sort");
  dq_plan_free(p);
  dq_plan_free(s);
  /* A union of two scans stays in one stage, the top-N below it. */
  s = ordered_plan(3);
  p = distribute(s, 2, 1, 0);
  assert_int_equal(dq_plan_n_stages(p), 2);
  assert_stage_has(p, 1, "UnionAll 2 inputs");
  assert_stage_has(p, 1, "TopN 20 OFFSET 0");
  dq_plan_free(p);
  dq_plan_free(s);
  /* LIMIT without order. */
  s = ordered_plan(4);
  p = distribute(s, 3, 1, 0);
  assert_stage_has(p, 1, "Limit 4 OFFSET 0");
  assert_stage_has(p, 2, "Limit 4 OFFSET 0");
  dq_plan_free(p);
  dq_plan_free(s);
}

static void test_bad_input(void **state) {
  (void)state;
  dq_plan *s = query_plan("q6");
  dq_plan *p = (dq_plan *)1;
  dq_error err;
  dq_distribute_opts o = {sizeof o, 0, 1, 0};
  assert_int_equal(dq_plan_distribute(s, &o, &p, &err), DQ_EINVAL);
  assert_null(p);
  assert_non_null(strstr(err.message, "n_tasks"));
  assert_int_equal(dq_plan_distribute(s, NULL, &p, &err), DQ_EINVAL);
  assert_int_equal(dq_plan_distribute(NULL, &o, &p, &err), DQ_EINVAL);
  o.n_tasks = 2;
  o.size = 4;
  assert_int_equal(dq_plan_distribute(s, &o, &p, &err), DQ_EINVAL);
  /* An already distributed plan. */
  dq_plan *d;
  assert_int_equal(dq_tpch_query_plan("q6", SCALE, 1, 2, 1, &d, &err), 0);
  o.size = sizeof o;
  assert_int_equal(dq_plan_distribute(d, &o, &p, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "single-node"));
  /* A size covering n_tasks only: the rest take their defaults. */
  o.size = offsetof(dq_distribute_opts, partitions);
  o.partitions = 99;
  assert_int_equal(dq_plan_distribute(s, &o, &p, &err), 0);
  assert_int_equal(dq_stage_partitions(dq_plan_stage_by_id(p, 1)), 1);
  dq_plan_free(p);
  dq_plan_free(d);
  dq_plan_free(s);
}

/* --- Answers --------------------------------------------------------------- */

/* The single-node answer against the planner's on 1..max_workers workers,
 * with n_tasks = workers and the given partitions and threshold. */
static void check_answers(const char *what, const dq_plan *single,
                          bool ordered, size_t max_workers, uint32_t parts,
                          const int64_t *thresholds, size_t n_thresholds) {
  result_text want = {0};
  dqt_run_local(single, &want);
  if (!ordered)
    result_text_sort(&want);
  if (getenv("DQ_TEST_VERBOSE"))
    printf("%s: %zu rows\n", what, want.n);
  for (size_t w = 1; w <= max_workers; w++) {
    dqt_cluster c;
    dqt_cluster_up(&c, w, DQT_WORKERS_IN_PROCESS, NULL);
    for (size_t t = 0; t < n_thresholds; t++) {
      dq_plan *p = distribute(single, (uint32_t)w, parts, thresholds[t]);
      result_text got = {0};
      run_distributed(&c, p, &got);
      if (!ordered)
        result_text_sort(&got);
      if (!result_text_equal(&want, &got)) {
        char *e = explain(p);
        fail_msg("%s on %zu workers (broadcast <= %lld): the answer "
                 "differs; plan:\n%s", what, w, (long long)thresholds[t], e);
      }
      result_text_free(&got);
      dq_plan_free(p);
    }
    cluster_stop(&c);
  }
  result_text_free(&want);
}

static const int64_t both_ways[] = {INT64_MAX, -1};

static void test_q1_q6(void **state) {
  (void)state;
  dq_plan *q1 = query_plan("q1"), *q6 = query_plan("q6");
  result_text a = {0};
  dqt_run_local(q1, &a);
  assert_int_equal(a.n, 4); /* A|F, N|F, N|O, R|F */
  result_text_free(&a);
  check_answers("q1", q1, true, MAX_WORKERS, 2, both_ways, 1);
  check_answers("q6", q6, true, MAX_WORKERS, 1, both_ways, 1);
  dq_plan_free(q1);
  dq_plan_free(q6);
}

static void test_joins(void **state) {
  (void)state;
  dq_plan *oc = orders_customer(), *q3 = q3_like();
  dq_plan *aj = agg_then_join(false), *ak = agg_then_join(true);
  dq_plan *kd = keyed_domains();
  check_answers("keyed-domains", kd, false, 3, 2, both_ways, 2);
  dq_plan_free(kd);
  check_answers("orders-customer", oc, true, 3, 2, both_ways, 2);
  check_answers("q3-like", q3, true, 3, 1, both_ways, 2);
  check_answers("agg-then-join", aj, true, 3, 2, both_ways, 2);
  check_answers("keyed-agg-then-join", ak, true, 3, 2, both_ways, 2);
  dq_plan_free(oc);
  dq_plan_free(q3);
  dq_plan_free(aj);
  dq_plan_free(ak);
}

static void test_mixed_keys(void **state) {
  (void)state;
  for (int d = 0; d <= 1; d++) {
    dq_plan *s = mixed_keys(d);
    check_answers(d ? "decimal = int32" : "int32 = int64", s, true, 3, 1,
                  both_ways, 2);
    dq_plan_free(s);
  }
}

static void test_ordered(void **state) {
  (void)state;
  for (int which = 0; which <= 3; which++) {
    dq_plan *s = ordered_plan(which);
    char what[32];
    snprintf(what, sizeof what, "ordered plan %d", which);
    check_answers(what, s, true, 2, 2, both_ways, 1);
    dq_plan_free(s);
  }
  /* LIMIT without order: which rows is open, how many is not. */
  dq_plan *s = ordered_plan(4);
  dqt_cluster c;
  dqt_cluster_up(&c, 3, DQT_WORKERS_IN_PROCESS, NULL);
  dq_plan *p = distribute(s, 3, 2, 0);
  result_text got = {0};
  run_distributed(&c, p, &got);
  assert_int_equal(got.n, 4);
  result_text_free(&got);
  dq_plan_free(p);
  cluster_stop(&c);
  dq_plan_free(s);
  /* A bare scan: coalesced into the head as it is. */
  s = ordered_plan(5);
  p = distribute(s, 3, 2, 0);
  assert_int_equal(dq_plan_n_stages(p), 2);
  assert_stage(p, 1, DQ_BOUNDARY_COALESCE, 3, 2, 2);
  dq_plan_free(p);
  check_answers("bare scan", s, false, 2, 2, both_ways, 1);
  dq_plan_free(s);
}

static void test_join_kinds(void **state) {
  (void)state;
  for (int k = DQ_JOIN_INNER; k <= DQ_JOIN_LEFT_ANTI; k++) {
    dq_plan *s = customer_orders((dq_join_kind)k);
    char what[32];
    snprintf(what, sizeof what, "join kind %d", k);
    check_answers(what, s, true, 3, 2, both_ways, 2);
    dq_plan_free(s);
  }
}

/* Sides in one pipeline: a scalar subquery's build side is broadcast from
 * a one-task stage; a one-pipeline probe side pulls a small build side in
 * (coalesce) or is shuffled from its one task against a large one; a
 * one-pipeline union input is coalesced into the union's stage. */
static void test_single_sides(void **state) {
  (void)state;
  dq_plan *s = scalar_join();
  dq_plan *p = distribute(s, 3, 1, -1);
  /* customer-side aggregate PARTIAL -> COALESCE; FINAL (one task) ->
   * BROADCAST; join + PARTIAL -> SHUFFLE; FINAL + top-N; head. */
  assert_int_equal(dq_plan_n_stages(p), 5);
  assert_stage(p, 1, DQ_BOUNDARY_COALESCE, 3, 1, 2);
  assert_stage(p, 2, DQ_BOUNDARY_BROADCAST, 1, 1, 3);
  dq_plan_free(p);
  check_answers("scalar join", s, true, 3, 1, both_ways, 2);
  dq_plan_free(s);

  s = single_probe();
  p = distribute(s, 2, 1, INT64_MAX);
  /* orders top-N -> COALESCE; lineitem -> COALESCE; head joins. */
  assert_int_equal(dq_plan_n_stages(p), 3);
  assert_stage(p, 1, DQ_BOUNDARY_COALESCE, 2, 1, 3);
  assert_stage(p, 2, DQ_BOUNDARY_COALESCE, 2, 1, 3);
  assert_stage_has(p, 3, "HashJoin");
  dq_plan_free(p);
  p = distribute(s, 2, 1, -1);
  /* orders top-N -> COALESCE; head-like one-task stage -> SHUFFLE;
   * lineitem -> SHUFFLE; join + aggregate in place -> COALESCE; head. */
  assert_int_equal(dq_plan_n_stages(p), 5);
  assert_stage(p, 2, DQ_BOUNDARY_SHUFFLE, 1, 1, 4);
  assert_keys(p, 2, "o_orderkey");
  assert_stage(p, 3, DQ_BOUNDARY_SHUFFLE, 2, 1, 4);
  assert_keys(p, 3, "l_orderkey");
  assert_stage_has(p, 4, "Aggregate SINGLE");
  assert_stage(p, 4, DQ_BOUNDARY_COALESCE, 2, 1, 5);
  dq_plan_free(p);
  check_answers("one-pipeline probe", s, true, 3, 2, both_ways, 2);
  dq_plan_free(s);

  s = union_single();
  p = distribute(s, 2, 1, 0);
  assert_stage_has(p, 3, "UnionAll");
  assert_stage(p, 2, DQ_BOUNDARY_COALESCE, 1, 1, 3);
  dq_plan_free(p);
  check_answers("union with one pipeline", s, true, 3, 2, both_ways, 1);
  dq_plan_free(s);
}

static void test_odd_aggregates(void **state) {
  (void)state;
  for (int which = 0; which <= 2; which++) {
    dq_plan *s = odd_aggregates(which);
    dq_plan *p = distribute(s, 2, 2, 0);
    if (which == 0) { /* PARTIAL where it was, FINAL over a shuffle */
      assert_int_equal(dq_plan_n_stages(p), 3);
      assert_keys(p, 1, "nation,segment");
      assert_stage_has(p, 2, "Aggregate FINAL");
    } else if (which == 1) { /* no groups: FINAL in the head */
      assert_int_equal(dq_plan_n_stages(p), 2);
      assert_stage(p, 1, DQ_BOUNDARY_COALESCE, 2, 2, 2);
      assert_stage_has(p, 2, "Aggregate FINAL");
    } else { /* the second "g" cannot be named: copied under a new name */
      assert_keys(p, 1, "g,$key1");
    }
    dq_plan_free(p);
    char what[32];
    snprintf(what, sizeof what, "odd aggregate %d", which);
    check_answers(what, s, false, 3, 2, both_ways, 1);
    dq_plan_free(s);
  }
}

/* Every other TPC-H query the library knows, through the planner both
 * ways; answers compared as sets of rows (ties of an ORDER BY may fall
 * either way). */
static void test_other_queries(void **state) {
  (void)state;
  const char *const *names = dq_tpch_query_names();
  size_t n = 0;
  for (size_t i = 0; names[i] != NULL; i++) {
    if (strcmp(names[i], "q1") == 0 || strcmp(names[i], "q6") == 0)
      continue;
    dq_plan *s = query_plan(names[i]);
    check_answers(names[i], s, false, 3, 2, both_ways, 2);
    dq_plan_free(s);
    n++;
  }
  if (getenv("DQ_TEST_VERBOSE"))
    printf("%zu other queries\n", n);
}

int main(void) {
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_q1),
      cmocka_unit_test(test_shape_q6),
      cmocka_unit_test(test_elided),
      cmocka_unit_test(test_broadcast_threshold),
      cmocka_unit_test(test_key_types),
      cmocka_unit_test(test_hash_reuse),
      cmocka_unit_test(test_keyed_scan),
      cmocka_unit_test(test_keyed_domains),
      cmocka_unit_test(test_pushdown),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_q1_q6),
      cmocka_unit_test(test_joins),
      cmocka_unit_test(test_mixed_keys),
      cmocka_unit_test(test_ordered),
      cmocka_unit_test(test_join_kinds),
      cmocka_unit_test(test_single_sides),
      cmocka_unit_test(test_odd_aggregates),
      cmocka_unit_test(test_other_queries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
