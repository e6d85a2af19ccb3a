/* tpch_queries.c — TPC-H Q1 and Q6 as dq plans, single-node and
 * distributed, built with the public API of dq/plan.h exactly as an
 * embedder would.
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

#include "tpch_queries.h"

static const char *const query_names[] = {"q1", "q6", NULL};

const char *const *dq_tpch_query_names(void) { return query_names; }

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

int dq_tpch_query_plan(const char *name, double scale, uint64_t seed,
                       uint32_t n_tasks, uint32_t partitions, dq_plan **out,
                       dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_tpch_query_plan: out is NULL");
  *out = NULL;
  void (*build)(dq_plan_builder *, double, uint64_t, uint32_t, uint32_t);
  if (name != NULL && strcasecmp(name, "q1") == 0)
    build = q1;
  else if (name != NULL && strcasecmp(name, "q6") == 0)
    build = q6;
  else
    return dq_error_set(err, DQ_ENOENT, "unknown TPC-H query \"%s\" (known: "
                        "q1, q6)", name ? name : "(null)");
  dq_plan_builder *b;
  int rc = dq_plan_builder_new(&b, err);
  if (rc != 0)
    return rc;
  build(b, scale, seed, n_tasks, partitions ? partitions : 1);
  rc = dq_plan_builder_finish(b, out, err);
  dq_plan_builder_free(b);
  return rc;
}
