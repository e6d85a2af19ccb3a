/* join_plan.c — the hash join plans of join_plan.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dq/plan.h>

#include "join_plan.h"

dq_plan *join_plan(dq_join_kind kind, int mode, uint32_t tasks,
                          uint32_t parts) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  static const char *const ocols[] = {"o_orderkey", "o_custkey",
                                      "o_totalprice"};
  static const char *const ccols[] = {"c_custkey", "c_nationkey",
                                      "c_acctbal"};
  const double scale = 0.01;
  bool orders_probe = kind == DQ_JOIN_INNER;
  const char *pcols_key = orders_probe ? "o_custkey" : "c_custkey";
  const char *bcols_key = orders_probe ? "c_custkey" : "o_custkey";
  dq_node *po = dq_node_scan_tpch(b, orders_probe ? "orders" : "customer",
                                  scale, 7, orders_probe ? ocols : ccols, 3);
  dq_node *bo = dq_node_scan_tpch(b, orders_probe ? "customer" : "orders",
                                  scale, 7, orders_probe ? ccols : ocols, 3);
  dq_node *probe = po, *build = bo;
  uint32_t s_probe = 0, s_build = 0;
  if (mode == 1) {
    const dq_boundary bc = {DQ_BOUNDARY_BROADCAST, 0, NULL};
    s_build = dq_plan_stage(b, bo, 2, 1, &bc);
    build = dq_node_read(b, s_build);
  } else if (mode == 2) {
    const char *pk[] = {pcols_key}, *bk[] = {bcols_key};
    const dq_boundary ps = {DQ_BOUNDARY_SHUFFLE, 1, pk};
    const dq_boundary bs = {DQ_BOUNDARY_SHUFFLE, 1, bk};
    s_probe = dq_plan_stage(b, po, 2, 2, &ps);
    s_build = dq_plan_stage(b, bo, 3, 1, &bs);
    probe = dq_node_read(b, s_probe);
    build = dq_node_read(b, s_build);
  }
  dq_expr *pkey = dq_expr_column(b, pcols_key);
  dq_expr *bkey = dq_expr_column(b, bcols_key);
  dq_expr *res = NULL;
  if (kind == DQ_JOIN_INNER)
    res = dq_expr_gt(b, dq_expr_column(b, "o_totalprice"),
                     dq_expr_mul(b, dq_expr_column(b, "c_acctbal"),
                                 dq_expr_int32(b, 10)));
  else if (kind == DQ_JOIN_LEFT)
    res = dq_expr_gt(b, dq_expr_column(b, "o_totalprice"),
                     dq_expr_decimal(b, "150000"));
  dq_node *j = dq_node_hash_join(b, kind, probe, build, 1, &pkey, &bkey, res,
                                 NULL);
  dq_expr *group = dq_expr_column(b, "c_nationkey");
  const char *gname = "nation";
  dq_agg aggs[3] = {{DQ_AGG_COUNT_STAR, NULL, "n"}};
  size_t na = 2;
  if (kind == DQ_JOIN_INNER) {
    aggs[1] = (dq_agg){DQ_AGG_SUM, dq_expr_column(b, "o_totalprice"), "tp"};
    aggs[2] = (dq_agg){DQ_AGG_MAX, dq_expr_column(b, "o_orderkey"), "mx"};
    na = 3;
  } else if (kind == DQ_JOIN_LEFT) {
    aggs[1] = (dq_agg){DQ_AGG_COUNT, dq_expr_column(b, "o_orderkey"), "no"};
    aggs[2] = (dq_agg){DQ_AGG_SUM, dq_expr_column(b, "o_totalprice"), "tp"};
    na = 3;
  } else {
    aggs[1] = (dq_agg){DQ_AGG_SUM, dq_expr_column(b, "c_custkey"), "sk"};
  }
  const dq_sort_key order = {dq_expr_column(b, "nation"), false, false};
  dq_node *head;
  if (mode == 0) {
    head = dq_node_aggregate(b, j, DQ_AGG_SINGLE, 1, &group, &gname, na,
                             aggs);
  } else {
    dq_node *partial = dq_node_aggregate(b, j, DQ_AGG_PARTIAL, 1, &group,
                                         &gname, na, aggs);
    const dq_boundary co = {DQ_BOUNDARY_COALESCE, 0, NULL};
    uint32_t s = dq_plan_stage(b, partial, tasks, parts, &co);
    head = dq_node_aggregate_final(b, dq_node_read(b, s), partial);
  }
  head = dq_node_topn(b, head, 1, &order, 100, 0);
  dq_plan_stage(b, head, 1, 1, NULL);
  dq_plan *p;
  if (dq_plan_builder_finish(b, &p, &err) != 0)
    fail_msg("join plan: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}
