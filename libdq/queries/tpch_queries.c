/* tpch_queries.c — the built-in TPC-H queries as dq plans, built with the
 * public API of dq/plan.h exactly as an embedder would: Q1, Q3, Q5, Q6,
 * Q10, Q12, Q14, Q18 and Q19, each with the substitution parameters of the
 * specification's validation run (TPC-H 2.18, section 2.4).
 *
 * Single-node plans (n_tasks == 0) are one head stage.  Joins build their
 * hash table from the side that is smaller after its filters (the build
 * side is read completely before the probe streams), and every scan and
 * join keeps only the columns later nodes need.
 *
 * Distributed plans (n_tasks >= 1): Q1 and Q6 keep the forms written by
 * hand below; the others are their single-node plans split by the
 * automatic planner, dq_plan_distribute().
 *
 * Distributed shapes:
 *   Q1  stage 1  scan/filter/project/partial aggregate, N tasks
 *         -> SHUFFLE on (l_returnflag, l_linestatus)
 *       stage 2  final aggregate, N tasks  -> COALESCE
 *       stage 3  head: sort
 *   Q6  stage 1  scan/filter/partial aggregate, N tasks -> COALESCE
 *       stage 2  head: final aggregate
 * Both give exactly the single-node answer: every aggregate of these
 * queries is a decimal or a count, which dq computes exactly. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "queries/tpch_queries.h"

#define COL(name) dq_expr_column(b, name)
#define DEC(text) dq_expr_decimal(b, text)

/* TPC-H Q1 (pricing summary report), DELTA = 90 days:
 *   where l_shipdate <= date '1998-12-01' - interval '90' day
 * i.e. l_shipdate <= 1998-09-02. */
static void q1(dq_plan_builder *b, double scale, uint64_t seed,
               uint32_t n_tasks, uint32_t parts) {
  static const char *const cols[] = {"l_returnflag", "l_linestatus",
                                     "l_quantity",   "l_extendedprice",
                                     "l_discount",   "l_tax",
                                     "l_shipdate"};
  dq_node *n = dq_node_scan_tpch(b, "lineitem", scale, seed, cols, 7);
  n = dq_node_filter(b, n, dq_expr_le(b, COL("l_shipdate"),
                                      dq_expr_date(b, "1998-09-02")));
  dq_expr *disc_price = dq_expr_mul(b, COL("l_extendedprice"),
                                    dq_expr_sub(b, dq_expr_int32(b, 1),
                                                COL("l_discount")));
  dq_expr *charge = dq_expr_mul(b, disc_price,
                                dq_expr_add(b, dq_expr_int32(b, 1),
                                            COL("l_tax")));
  dq_expr *proj[] = {COL("l_returnflag"), COL("l_linestatus"),
                     COL("l_quantity"),   COL("l_extendedprice"),
                     COL("l_discount"),   disc_price,
                     charge};
  static const char *const proj_names[] = {
      "l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice",
      "l_discount",   "disc_price",   "charge"};
  n = dq_node_project(b, n, 7, proj, proj_names);
  dq_expr *groups[] = {COL("l_returnflag"), COL("l_linestatus")};
  static const char *const group_names[] = {"l_returnflag", "l_linestatus"};
  const dq_agg aggs[] = {
      {DQ_AGG_SUM, COL("l_quantity"), "sum_qty"},
      {DQ_AGG_SUM, COL("l_extendedprice"), "sum_base_price"},
      {DQ_AGG_SUM, COL("disc_price"), "sum_disc_price"},
      {DQ_AGG_SUM, COL("charge"), "sum_charge"},
      {DQ_AGG_AVG, COL("l_quantity"), "avg_qty"},
      {DQ_AGG_AVG, COL("l_extendedprice"), "avg_price"},
      {DQ_AGG_AVG, COL("l_discount"), "avg_disc"},
      {DQ_AGG_COUNT_STAR, NULL, "count_order"},
  };
  const dq_sort_key order[] = {{COL("l_returnflag"), false, false},
                               {COL("l_linestatus"), false, false}};
  if (n_tasks == 0) {
    n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 2, groups, group_names, 8,
                          aggs);
    n = dq_node_sort(b, n, 2, order);
    dq_plan_stage(b, n, 1, 1, NULL);
    return;
  }
  dq_node *partial = dq_node_aggregate(b, n, DQ_AGG_PARTIAL, 2, groups,
                                       group_names, 8, aggs);
  const dq_boundary shuffle = {DQ_BOUNDARY_SHUFFLE, 2, group_names};
  uint32_t s1 = dq_plan_stage(b, partial, n_tasks, parts, &shuffle);
  dq_node *final = dq_node_aggregate_final(b, dq_node_read(b, s1), partial);
  const dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s2 = dq_plan_stage(b, final, n_tasks, parts, &coalesce);
  n = dq_node_sort(b, dq_node_read(b, s2), 2, order);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q6 (forecasting revenue change), DATE = 1994-01-01,
 * DISCOUNT = 0.06, QUANTITY = 24:
 *   l_discount between 0.06 - 0.01 and 0.06 + 0.01 (written 0.05, 0.07). */
static void q6(dq_plan_builder *b, double scale, uint64_t seed,
               uint32_t n_tasks, uint32_t parts) {
  static const char *const cols[] = {"l_shipdate", "l_discount", "l_quantity",
                                     "l_extendedprice"};
  dq_node *n = dq_node_scan_tpch(b, "lineitem", scale, seed, cols, 4);
  dq_expr *pred = dq_expr_and(
      b,
      dq_expr_and(b,
                  dq_expr_ge(b, COL("l_shipdate"),
                             dq_expr_date(b, "1994-01-01")),
                  dq_expr_lt(b, COL("l_shipdate"),
                             dq_expr_date(b, "1995-01-01"))),
      dq_expr_and(b,
                  dq_expr_between(b, COL("l_discount"), DEC("0.05"),
                                  DEC("0.07")),
                  dq_expr_lt(b, COL("l_quantity"), DEC("24"))));
  n = dq_node_filter(b, n, pred);
  const dq_agg revenue[] = {
      {DQ_AGG_SUM, dq_expr_mul(b, COL("l_extendedprice"), COL("l_discount")),
       "revenue"}};
  if (n_tasks == 0) {
    n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 0, NULL, NULL, 1, revenue);
    dq_plan_stage(b, n, 1, 1, NULL);
    return;
  }
  dq_node *partial =
      dq_node_aggregate(b, n, DQ_AGG_PARTIAL, 0, NULL, NULL, 1, revenue);
  const dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, partial, n_tasks, parts, &coalesce);
  n = dq_node_aggregate_final(b, dq_node_read(b, s1), partial);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* --- Queries the planner distributes ----------------------------------------
 * Helpers for the joins and projections below; all of them pass through a
 * NULL (an earlier error) because the builder's errors are sticky. */

#define DATE(text) dq_expr_date(b, text)
#define STR(text) dq_expr_utf8(b, text)

static dq_node *scan(dq_plan_builder *b, const char *table, double scale,
                     uint64_t seed, size_t n, const char *const *cols) {
  return dq_node_scan_tpch(b, table, scale, seed, cols, n);
}

/* Keeps the named columns of n, in that order (k <= 16; the queries here
 * keep at most 8). */
static dq_node *keep(dq_plan_builder *b, dq_node *n, size_t k,
                     const char *const *cols) {
  dq_expr *exprs[16];
  for (size_t i = 0; i < k && i < 16; i++)
    exprs[i] = COL(cols[i]);
  return dq_node_project(b, n, k, exprs, cols);
}

/* An equi-join on one key pair, output columns named by their inputs
 * (TPC-H's column names are unique across tables). */
static dq_node *join1(dq_plan_builder *b, dq_join_kind kind, dq_node *probe,
                      dq_node *build, const char *probe_key,
                      const char *build_key, dq_expr *residual) {
  dq_expr *pk = COL(probe_key), *bk = COL(build_key);
  return dq_node_hash_join(b, kind, probe, build, 1, &pk, &bk, residual,
                           NULL);
}

/* l_extendedprice * (1 - l_discount): decimal(32,4), exact. */
static dq_expr *disc_price(dq_plan_builder *b) {
  return dq_expr_mul(b, COL("l_extendedprice"),
                     dq_expr_sub(b, dq_expr_int32(b, 1), COL("l_discount")));
}

/* TPC-H Q3 (shipping priority), SEGMENT = 'BUILDING', DATE = 1995-03-15.
 * The orders of BUILDING customers (a semi join: ~1/5 of the orders placed
 * before the date) are the build side for the lineitems shipped after it. */
static void q3(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const ccols[] = {"c_custkey", "c_mktsegment"};
  dq_node *cust = scan(b, "customer", scale, seed, 2, ccols);
  cust = dq_node_filter(b, cust,
                        dq_expr_eq(b, COL("c_mktsegment"), STR("BUILDING")));
  static const char *const ckeep[] = {"c_custkey"};
  cust = keep(b, cust, 1, ckeep);

  static const char *const ocols[] = {"o_orderkey", "o_custkey",
                                      "o_orderdate", "o_shippriority"};
  dq_node *ord = scan(b, "orders", scale, seed, 4, ocols);
  ord = dq_node_filter(b, ord,
                       dq_expr_lt(b, COL("o_orderdate"), DATE("1995-03-15")));
  ord = join1(b, DQ_JOIN_LEFT_SEMI, ord, cust, "o_custkey", "c_custkey",
              NULL);
  static const char *const okeep[] = {"o_orderkey", "o_orderdate",
                                      "o_shippriority"};
  ord = keep(b, ord, 3, okeep);

  static const char *const lcols[] = {"l_orderkey", "l_extendedprice",
                                      "l_discount", "l_shipdate"};
  dq_node *li = scan(b, "lineitem", scale, seed, 4, lcols);
  li = dq_node_filter(b, li,
                      dq_expr_gt(b, COL("l_shipdate"), DATE("1995-03-15")));
  dq_node *n = join1(b, DQ_JOIN_INNER, li, ord, "l_orderkey", "o_orderkey",
                     NULL);
  dq_expr *groups[] = {COL("l_orderkey"), COL("o_orderdate"),
                       COL("o_shippriority")};
  static const char *const gnames[] = {"l_orderkey", "o_orderdate",
                                       "o_shippriority"};
  const dq_agg aggs[] = {{DQ_AGG_SUM, disc_price(b), "revenue"}};
  n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 3, groups, gnames, 1, aggs);
  const dq_sort_key order[] = {{COL("revenue"), true, false},
                               {COL("o_orderdate"), false, false}};
  n = dq_node_topn(b, n, 2, order, 10, 0);
  /* The SQL's select list order. */
  static const char *const out[] = {"l_orderkey", "revenue", "o_orderdate",
                                    "o_shippriority"};
  n = keep(b, n, 4, out);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q5 (local supplier volume), REGION = 'ASIA', DATE = 1994-01-01.
 * The region's 5 nations restrict customers (semi join) and suppliers
 * (inner join, for n_name); a year of their customers' orders is the build
 * side for lineitem, and the suppliers the build side of the last join,
 * whose two keys are the SQL's l_suppkey = s_suppkey and
 * c_nationkey = s_nationkey. */
static dq_node *asia_nations(dq_plan_builder *b, double scale, uint64_t seed,
                             bool with_name) {
  static const char *const rcols[] = {"r_regionkey", "r_name"};
  dq_node *reg = scan(b, "region", scale, seed, 2, rcols);
  reg = dq_node_filter(b, reg, dq_expr_eq(b, COL("r_name"), STR("ASIA")));
  static const char *const ncols[] = {"n_nationkey", "n_name",
                                      "n_regionkey"};
  dq_node *nat = scan(b, "nation", scale, seed, 3, ncols);
  nat = join1(b, DQ_JOIN_LEFT_SEMI, nat, reg, "n_regionkey", "r_regionkey",
              NULL);
  return keep(b, nat, with_name ? 2 : 1, ncols);
}

static void q5(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const scols[] = {"s_suppkey", "s_nationkey"};
  dq_node *supp = scan(b, "supplier", scale, seed, 2, scols);
  supp = join1(b, DQ_JOIN_INNER, supp, asia_nations(b, scale, seed, true),
               "s_nationkey", "n_nationkey", NULL);
  static const char *const skeep[] = {"s_suppkey", "s_nationkey", "n_name"};
  supp = keep(b, supp, 3, skeep);

  static const char *const ccols[] = {"c_custkey", "c_nationkey"};
  dq_node *cust = scan(b, "customer", scale, seed, 2, ccols);
  cust = join1(b, DQ_JOIN_LEFT_SEMI, cust,
               asia_nations(b, scale, seed, false), "c_nationkey",
               "n_nationkey", NULL);

  static const char *const ocols[] = {"o_orderkey", "o_custkey",
                                      "o_orderdate"};
  dq_node *ord = scan(b, "orders", scale, seed, 3, ocols);
  ord = dq_node_filter(
      b, ord,
      dq_expr_and(b, dq_expr_ge(b, COL("o_orderdate"), DATE("1994-01-01")),
                  dq_expr_lt(b, COL("o_orderdate"), DATE("1995-01-01"))));
  /* The region's customers (a fifth: 30000 per SF) are fewer than a
   * year of orders (~15%: 228000 per SF). */
  ord = join1(b, DQ_JOIN_INNER, ord, cust, "o_custkey", "c_custkey", NULL);
  static const char *const okeep[] = {"o_orderkey", "c_nationkey"};
  ord = keep(b, ord, 2, okeep);

  static const char *const lcols[] = {"l_orderkey", "l_suppkey",
                                      "l_extendedprice", "l_discount"};
  dq_node *n = scan(b, "lineitem", scale, seed, 4, lcols);
  n = join1(b, DQ_JOIN_INNER, n, ord, "l_orderkey", "o_orderkey", NULL);
  dq_expr *pk[] = {COL("l_suppkey"), COL("c_nationkey")};
  dq_expr *bk[] = {COL("s_suppkey"), COL("s_nationkey")};
  n = dq_node_hash_join(b, DQ_JOIN_INNER, n, supp, 2, pk, bk, NULL, NULL);
  dq_expr *groups[] = {COL("n_name")};
  static const char *const gnames[] = {"n_name"};
  const dq_agg aggs[] = {{DQ_AGG_SUM, disc_price(b), "revenue"}};
  n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 1, groups, gnames, 1, aggs);
  const dq_sort_key order[] = {{COL("revenue"), true, false}};
  n = dq_node_sort(b, n, 1, order);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q10 (returned item reporting), DATE = 1993-10-01 (a quarter).
 * The SQL groups by every customer column it shows; as c_custkey is the
 * customer's key, those groups are exactly the groups of o_custkey, so the
 * revenue is summed per o_custkey first (eager aggregation) and only the
 * customers with returns are then looked up: the per-customer sums are the
 * build side, probed by customer joined with nation. */
static void q10(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const ocols[] = {"o_orderkey", "o_custkey",
                                      "o_orderdate"};
  dq_node *ord = scan(b, "orders", scale, seed, 3, ocols);
  ord = dq_node_filter(
      b, ord,
      dq_expr_and(b, dq_expr_ge(b, COL("o_orderdate"), DATE("1993-10-01")),
                  dq_expr_lt(b, COL("o_orderdate"), DATE("1994-01-01"))));
  static const char *const okeep[] = {"o_orderkey", "o_custkey"};
  ord = keep(b, ord, 2, okeep);

  static const char *const lcols[] = {"l_orderkey", "l_extendedprice",
                                      "l_discount", "l_returnflag"};
  dq_node *n = scan(b, "lineitem", scale, seed, 4, lcols);
  n = dq_node_filter(b, n, dq_expr_eq(b, COL("l_returnflag"), STR("R")));
  n = join1(b, DQ_JOIN_INNER, n, ord, "l_orderkey", "o_orderkey", NULL);
  dq_expr *groups[] = {COL("o_custkey")};
  static const char *const gnames[] = {"o_custkey"};
  const dq_agg aggs[] = {{DQ_AGG_SUM, disc_price(b), "revenue"}};
  dq_node *rev =
      dq_node_aggregate(b, n, DQ_AGG_SINGLE, 1, groups, gnames, 1, aggs);

  static const char *const ccols[] = {"c_custkey", "c_name",    "c_address",
                                      "c_nationkey", "c_phone", "c_acctbal",
                                      "c_comment"};
  dq_node *cust = scan(b, "customer", scale, seed, 7, ccols);
  static const char *const ncols[] = {"n_nationkey", "n_name"};
  cust = join1(b, DQ_JOIN_INNER, cust, scan(b, "nation", scale, seed, 2, ncols),
               "c_nationkey", "n_nationkey", NULL);
  n = join1(b, DQ_JOIN_INNER, cust, rev, "c_custkey", "o_custkey", NULL);
  const dq_sort_key order[] = {{COL("revenue"), true, false}};
  n = dq_node_topn(b, n, 1, order, 20, 0);
  static const char *const out[] = {"c_custkey", "c_name",  "revenue",
                                    "c_acctbal", "n_name",  "c_address",
                                    "c_phone",   "c_comment"};
  n = keep(b, n, 8, out);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q12 (shipping modes and order priority), SHIPMODE1 = 'MAIL',
 * SHIPMODE2 = 'SHIP', DATE = 1994-01-01.  The few qualifying lineitems
 * (~0.5%) are the build side; every order probes. */
static void q12(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const lcols[] = {"l_orderkey", "l_shipmode",
                                      "l_shipdate", "l_commitdate",
                                      "l_receiptdate"};
  dq_node *li = scan(b, "lineitem", scale, seed, 5, lcols);
  dq_expr *modes[] = {STR("MAIL"), STR("SHIP")};
  dq_expr *pred = dq_expr_and(
      b,
      dq_expr_and(b, dq_expr_in(b, COL("l_shipmode"), 2, modes),
                  dq_expr_and(b,
                              dq_expr_lt(b, COL("l_commitdate"),
                                         COL("l_receiptdate")),
                              dq_expr_lt(b, COL("l_shipdate"),
                                         COL("l_commitdate")))),
      dq_expr_and(b, dq_expr_ge(b, COL("l_receiptdate"), DATE("1994-01-01")),
                  dq_expr_lt(b, COL("l_receiptdate"), DATE("1995-01-01"))));
  li = dq_node_filter(b, li, pred);
  static const char *const lkeep[] = {"l_orderkey", "l_shipmode"};
  li = keep(b, li, 2, lkeep);

  static const char *const ocols[] = {"o_orderkey", "o_orderpriority"};
  dq_node *n = scan(b, "orders", scale, seed, 2, ocols);
  n = join1(b, DQ_JOIN_INNER, n, li, "o_orderkey", "l_orderkey", NULL);
  dq_expr *high = dq_expr_or(
      b, dq_expr_eq(b, COL("o_orderpriority"), STR("1-URGENT")),
      dq_expr_eq(b, COL("o_orderpriority"), STR("2-HIGH")));
  dq_expr *low = dq_expr_and(
      b, dq_expr_ne(b, COL("o_orderpriority"), STR("1-URGENT")),
      dq_expr_ne(b, COL("o_orderpriority"), STR("2-HIGH")));
  dq_expr *one = dq_expr_int32(b, 1), *zero = dq_expr_int32(b, 0);
  dq_expr *groups[] = {COL("l_shipmode")};
  static const char *const gnames[] = {"l_shipmode"};
  const dq_agg aggs[] = {
      {DQ_AGG_SUM, dq_expr_case(b, 1, &high, &one, zero), "high_line_count"},
      {DQ_AGG_SUM, dq_expr_case(b, 1, &low, &one, zero), "low_line_count"}};
  n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 1, groups, gnames, 2, aggs);
  const dq_sort_key order[] = {{COL("l_shipmode"), false, false}};
  n = dq_node_sort(b, n, 1, order);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q14 (promotion effect), DATE = 1995-09-01 (a month).  A month of
 * lineitems (~1.3%) is the build side; every part probes.
 *
 * Both sums are exact decimal(38,4).  The ratio is computed in float64:
 * dq's decimal division gives 100.00 * sum / sum the scale
 * max(6, s1 + p2 + 1) capped at 38, so the dividend would be scaled by
 * 10^36 and overflow 128 bits for any real revenue.  Converting two exact
 * sums and dividing once is deterministic, so the distributed answer will
 * still equal this one bit for bit. */
static void q14(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const lcols[] = {"l_partkey", "l_extendedprice",
                                      "l_discount", "l_shipdate"};
  dq_node *li = scan(b, "lineitem", scale, seed, 4, lcols);
  li = dq_node_filter(
      b, li,
      dq_expr_and(b, dq_expr_ge(b, COL("l_shipdate"), DATE("1995-09-01")),
                  dq_expr_lt(b, COL("l_shipdate"), DATE("1995-10-01"))));
  static const char *const lkeep[] = {"l_partkey", "l_extendedprice",
                                      "l_discount"};
  li = keep(b, li, 3, lkeep);
  static const char *const pcols[] = {"p_partkey", "p_type"};
  dq_node *n = scan(b, "part", scale, seed, 2, pcols);
  n = join1(b, DQ_JOIN_INNER, n, li, "p_partkey", "l_partkey", NULL);
  dq_expr *promo = dq_expr_like(b, COL("p_type"), "PROMO%");
  dq_expr *dp = disc_price(b);
  const dq_agg aggs[] = {
      {DQ_AGG_SUM, dq_expr_case(b, 1, &promo, &dp, dq_expr_int32(b, 0)),
       "promo"},
      {DQ_AGG_SUM, dp, "total"}};
  n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 0, NULL, NULL, 2, aggs);
  const dq_type f64 = {DQ_TYPE_FLOAT64, 0, 0};
  dq_expr *ratio = dq_expr_div(
      b, dq_expr_mul(b, dq_expr_float64(b, 100.0),
                     dq_expr_cast(b, COL("promo"), f64)),
      dq_expr_cast(b, COL("total"), f64));
  static const char *const out[] = {"promo_revenue"};
  n = dq_node_project(b, n, 1, &ratio, out);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q18 (large volume customer), QUANTITY = 300.  The IN subquery is
 * a semi join of orders against the orders whose lines sum to more than
 * 300 (an aggregate with the HAVING as a filter): a few per million
 * orders, so every join above it builds on that side. */
static void q18(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const lcols[] = {"l_orderkey", "l_quantity"};
  dq_node *big = scan(b, "lineitem", scale, seed, 2, lcols);
  dq_expr *groups[] = {COL("l_orderkey")};
  static const char *const gnames[] = {"l_orderkey"};
  const dq_agg qty[] = {{DQ_AGG_SUM, COL("l_quantity"), "sum_quantity"}};
  big = dq_node_aggregate(b, big, DQ_AGG_SINGLE, 1, groups, gnames, 1, qty);
  big = dq_node_filter(b, big,
                       dq_expr_gt(b, COL("sum_quantity"), DEC("300")));
  big = keep(b, big, 1, gnames);

  static const char *const ocols[] = {"o_orderkey", "o_custkey",
                                      "o_orderdate", "o_totalprice"};
  dq_node *ord = scan(b, "orders", scale, seed, 4, ocols);
  ord = join1(b, DQ_JOIN_LEFT_SEMI, ord, big, "o_orderkey", "l_orderkey",
              NULL);
  static const char *const ccols[] = {"c_custkey", "c_name"};
  dq_node *n = scan(b, "customer", scale, seed, 2, ccols);
  n = join1(b, DQ_JOIN_INNER, n, ord, "c_custkey", "o_custkey", NULL);
  dq_node *li = scan(b, "lineitem", scale, seed, 2, lcols);
  n = join1(b, DQ_JOIN_INNER, li, n, "l_orderkey", "o_orderkey", NULL);
  dq_expr *g5[] = {COL("c_name"), COL("c_custkey"), COL("o_orderkey"),
                   COL("o_orderdate"), COL("o_totalprice")};
  static const char *const g5names[] = {"c_name", "c_custkey", "o_orderkey",
                                        "o_orderdate", "o_totalprice"};
  n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 5, g5, g5names, 1, qty);
  const dq_sort_key order[] = {{COL("o_totalprice"), true, false},
                               {COL("o_orderdate"), false, false}};
  n = dq_node_topn(b, n, 2, order, 100, 0);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* TPC-H Q19 (discounted revenue), QUANTITY1 = 1, QUANTITY2 = 10,
 * QUANTITY3 = 20, BRAND1 = 'Brand#12', BRAND2 = 'Brand#23',
 * BRAND3 = 'Brand#34'.  The SQL's OR of three groups is the join's
 * residual, unchanged.  What the three groups share is pushed below the
 * join: the lineitem conditions they all have, with quantity in [1, 30]
 * (the union of their ranges), and on part each group's brand, containers
 * and size; the few parts left (~0.2%) are the build side. */
static dq_expr *q19_group(dq_plan_builder *b, bool with_lineitem,
                          const char *brand, const char *const containers[4],
                          const char *qlo, const char *qhi, int32_t max_size) {
  dq_expr *cont[4];
  for (int i = 0; i < 4; i++)
    cont[i] = STR(containers[i]);
  dq_expr *e = dq_expr_and(
      b, dq_expr_eq(b, COL("p_brand"), STR(brand)),
      dq_expr_and(b, dq_expr_in(b, COL("p_container"), 4, cont),
                  dq_expr_between(b, COL("p_size"), dq_expr_int32(b, 1),
                                  dq_expr_int32(b, max_size))));
  if (!with_lineitem)
    return e;
  dq_expr *modes[] = {STR("AIR"), STR("AIR REG")};
  dq_expr *li = dq_expr_and(
      b,
      dq_expr_and(b, dq_expr_ge(b, COL("l_quantity"), DEC(qlo)),
                  dq_expr_le(b, COL("l_quantity"), DEC(qhi))),
      dq_expr_and(b, dq_expr_in(b, COL("l_shipmode"), 2, modes),
                  dq_expr_eq(b, COL("l_shipinstruct"),
                             STR("DELIVER IN PERSON"))));
  return dq_expr_and(b, e, li);
}

static dq_expr *q19_groups(dq_plan_builder *b, bool with_lineitem) {
  static const char *const sm[] = {"SM CASE", "SM BOX", "SM PACK", "SM PKG"};
  static const char *const med[] = {"MED BAG", "MED BOX", "MED PKG",
                                    "MED PACK"};
  static const char *const lg[] = {"LG CASE", "LG BOX", "LG PACK", "LG PKG"};
  /* l_quantity <= QUANTITY + 10, written out. */
  return dq_expr_or(
      b,
      dq_expr_or(b, q19_group(b, with_lineitem, "Brand#12", sm, "1", "11", 5),
                 q19_group(b, with_lineitem, "Brand#23", med, "10", "20",
                           10)),
      q19_group(b, with_lineitem, "Brand#34", lg, "20", "30", 15));
}

static void q19(dq_plan_builder *b, double scale, uint64_t seed) {
  static const char *const lcols[] = {"l_partkey", "l_quantity",
                                      "l_extendedprice", "l_discount",
                                      "l_shipinstruct", "l_shipmode"};
  dq_node *li = scan(b, "lineitem", scale, seed, 6, lcols);
  dq_expr *modes[] = {STR("AIR"), STR("AIR REG")};
  li = dq_node_filter(
      b, li,
      dq_expr_and(
          b,
          dq_expr_and(b, dq_expr_in(b, COL("l_shipmode"), 2, modes),
                      dq_expr_eq(b, COL("l_shipinstruct"),
                                 STR("DELIVER IN PERSON"))),
          dq_expr_between(b, COL("l_quantity"), DEC("1"), DEC("30"))));
  static const char *const pcols[] = {"p_partkey", "p_brand", "p_size",
                                      "p_container"};
  dq_node *part = scan(b, "part", scale, seed, 4, pcols);
  part = dq_node_filter(b, part, q19_groups(b, false));
  dq_node *n = join1(b, DQ_JOIN_INNER, li, part, "l_partkey", "p_partkey",
                     q19_groups(b, true));
  const dq_agg aggs[] = {{DQ_AGG_SUM, disc_price(b), "revenue"}};
  n = dq_node_aggregate(b, n, DQ_AGG_SINGLE, 0, NULL, NULL, 1, aggs);
  dq_plan_stage(b, n, 1, 1, NULL);
}

/* --- The name table --------------------------------------------------------*/

typedef struct tpch_query {
  const char *name;
  /* Builds the distributed plan too (n_tasks >= 1): Q1 and Q6. */
  void (*build_dist)(dq_plan_builder *, double, uint64_t, uint32_t,
                     uint32_t);
  /* Builds the single-node plan, which dq_plan_distribute() splits. */
  void (*build_local)(dq_plan_builder *, double, uint64_t);
} tpch_query;

static const tpch_query queries[] = {
    {"q1", q1, NULL},    {"q3", NULL, q3},   {"q5", NULL, q5},
    {"q6", q6, NULL},    {"q10", NULL, q10}, {"q12", NULL, q12},
    {"q14", NULL, q14},  {"q18", NULL, q18}, {"q19", NULL, q19},
};
#define N_QUERIES (sizeof queries / sizeof queries[0])

static const char *const query_names[N_QUERIES + 1] = {
    "q1", "q3", "q5", "q6", "q10", "q12", "q14", "q18", "q19", NULL};

const char *const *dq_tpch_query_names(void) { return query_names; }

int dq_tpch_query_plan(const char *name, double scale, uint64_t seed,
                       uint32_t n_tasks, uint32_t partitions, dq_plan **out,
                       dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_tpch_query_plan: out is NULL");
  *out = NULL;
  const tpch_query *q = NULL;
  for (size_t i = 0; name != NULL && i < N_QUERIES; i++)
    if (strcasecmp(name, queries[i].name) == 0)
      q = &queries[i];
  if (q == NULL)
    return dq_error_set(err, DQ_ENOENT, "unknown TPC-H query \"%s\" (known: "
                        "q1, q3, q5, q6, q10, q12, q14, q18, q19)",
                        name ? name : "(null)");
  dq_plan_builder *b;
  int rc = dq_plan_builder_new(&b, err);
  if (rc != 0)
    return rc;
  if (q->build_dist != NULL)
    q->build_dist(b, scale, seed, n_tasks, partitions ? partitions : 1);
  else
    q->build_local(b, scale, seed);
  dq_plan *single = NULL;
  rc = dq_plan_builder_finish(b, &single, err);
  dq_plan_builder_free(b);
  if (rc != 0 || q->build_dist != NULL || n_tasks == 0) {
    *out = single;
    return rc;
  }
  const dq_distribute_opts opts = {sizeof opts, n_tasks, partitions, 0};
  rc = dq_plan_distribute(single, &opts, out, err);
  dq_plan_free(single);
  return rc;
}
