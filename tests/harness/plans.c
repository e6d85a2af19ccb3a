/* plans.c — the standard boundary plans (plans.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "plan/plan_internal.h"

const char *const dqt_lineitem_cols[2] = {"l_orderkey", "l_quantity"};

#define SEED 7

dq_plan *dqt_plan_finish(dq_plan_builder *b) {
  dq_plan *p;
  dq_error err;
  if (dq_plan_builder_finish(b, &p, &err) < 0)
    dqt_fail("plan: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static dq_plan_builder *builder(void) {
  dq_plan_builder *b;
  dq_error err;
  if (dq_plan_builder_new(&b, &err) < 0)
    dqt_fail("plan builder: %s", err.message);
  return b;
}

static dq_node *lineitem(dq_plan_builder *b, double scale) {
  return dq_node_scan_tpch(b, "lineitem", scale, SEED,
                           dqt_lineitem_cols, 2);
}

dq_plan *dqt_shuffle_plan(double scale, uint32_t n, uint32_t partitions,
                          int local) {
  dq_plan_builder *b = builder();
  dq_node *scan = lineitem(b, scale);
  dq_expr *key = dq_expr_column(b, "l_orderkey");
  const char *gname = "l_orderkey";
  dq_agg per_order[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                        {DQ_AGG_SUM, dq_expr_column(b, "l_quantity"), "q"}};
  dq_agg totals[] = {{DQ_AGG_COUNT_STAR, NULL, "groups"},
                     {DQ_AGG_SUM, dq_expr_column(b, "n"), "rows"},
                     {DQ_AGG_SUM, dq_expr_column(b, "q"), "qty"}};
  if (local) {
    dq_node *g = dq_node_aggregate(b, scan, DQ_AGG_SINGLE, 1, &key, &gname, 2,
                                   per_order);
    dq_node *t = dq_node_aggregate(b, g, DQ_AGG_SINGLE, 0, NULL, NULL, 3,
                                   totals);
    dq_plan_stage(b, t, 1, 1, NULL);
    return dqt_plan_finish(b);
  }
  const char *keys[] = {"l_orderkey"};
  dq_boundary shuffle = {DQ_BOUNDARY_SHUFFLE, 1, keys};
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, n, 2, &shuffle);
  dq_node *g = dq_node_aggregate(b, dq_node_read(b, s1), DQ_AGG_SINGLE, 1,
                                 &key, &gname, 2, per_order);
  uint32_t s2 = dq_plan_stage(b, g, n, partitions, &coalesce);
  dq_node *t = dq_node_aggregate(b, dq_node_read(b, s2), DQ_AGG_SINGLE, 0,
                                 NULL, NULL, 3, totals);
  dq_plan_stage(b, t, 1, 1, NULL);
  return dqt_plan_finish(b);
}

dq_plan *dqt_coalesce_plan(double scale, uint32_t np, uint32_t nc, int local) {
  dq_plan_builder *b = builder();
  dq_node *scan = lineitem(b, scale);
  dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                   {DQ_AGG_SUM, dq_expr_column(b, "l_quantity"), "q"},
                   {DQ_AGG_MAX, dq_expr_column(b, "l_orderkey"), "k"}};
  if (local) {
    dq_plan_stage(b,
                  dq_node_aggregate(b, scan, DQ_AGG_SINGLE, 0, NULL, NULL, 3,
                                    aggs),
                  1, 1, NULL);
    return dqt_plan_finish(b);
  }
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, np, 2, &coalesce);
  dq_node *partial = dq_node_aggregate(b, dq_node_read(b, s1), DQ_AGG_PARTIAL,
                                       0, NULL, NULL, 3, aggs);
  uint32_t s2 = dq_plan_stage(b, partial, nc, 1, &coalesce);
  dq_plan_stage(b, dq_node_aggregate_final(b, dq_node_read(b, s2), partial),
                1, 1, NULL);
  return dqt_plan_finish(b);
}

dq_plan *dqt_broadcast_plan(uint32_t n) {
  dq_plan_builder *b = builder();
  const char *cols[] = {"n_nationkey"};
  dq_node *scan = dq_node_scan_tpch(b, "nation", 1, SEED, cols, 1);
  dq_boundary broadcast = {DQ_BOUNDARY_BROADCAST, 0, NULL};
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, 2, 1, &broadcast);
  uint32_t s2 = dq_plan_stage(b, dq_node_read(b, s1), n, 2, &coalesce);
  dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                   {DQ_AGG_SUM, dq_expr_column(b, "n_nationkey"), "s"}};
  dq_plan_stage(b,
                dq_node_aggregate(b, dq_node_read(b, s2), DQ_AGG_SINGLE, 0,
                                  NULL, NULL, 2, aggs),
                1, 1, NULL);
  return dqt_plan_finish(b);
}

dq_plan *dqt_limit_plan(double scale, uint32_t n, int64_t limit) {
  dq_plan_builder *b = builder();
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, lineitem(b, scale), n, 1, &coalesce);
  dq_plan_stage(b, dq_node_limit(b, dq_node_read(b, s1), limit, 0), 1, 1,
                NULL);
  return dqt_plan_finish(b);
}

dq_plan *dqt_overflow_plan(double scale, uint32_t n) {
  dq_plan_builder *b = builder();
  dq_node *scan = lineitem(b, scale);
  dq_expr *big = dq_expr_mul(b, dq_expr_column(b, "l_orderkey"),
                             dq_expr_int64(b, 1000000000000000000LL));
  const char *name = "boom";
  dq_node *proj = dq_node_project(b, scan, 1, &big, &name);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, proj, n, 1, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  return dqt_plan_finish(b);
}

dq_node *dqt_returnflag_agg(dq_plan_builder *b, dq_node *in,
                            dq_agg_mode mode) {
  dq_expr *g = dq_expr_column(b, "l_returnflag");
  const char *gn = "l_returnflag";
  dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                   {DQ_AGG_SUM, dq_expr_column(b, "l_quantity"), "q"},
                   {DQ_AGG_SUM, dq_expr_column(b, "l_extendedprice"), "p"}};
  return dq_node_aggregate(b, in, mode, 1, &g, &gn, 3, aggs);
}

dq_plan *dqt_plan_through_codec(const dq_plan *p, char *explain, size_t len) {
  uint8_t *buf;
  size_t n;
  dq_plan *q;
  dq_error err;
  if (dq_plan_encode(p, &buf, &n, &err) < 0)
    dqt_fail("encoding the plan: %s", err.message);
  int rc = dq_plan_decode(buf, n, &q, &err);
  free(buf);
  if (rc < 0)
    dqt_fail("decoding the plan: %s", err.message);
  char *again = malloc(len);
  dq_plan_explain(p, explain, len);
  dq_plan_explain(q, again, len);
  int same = strcmp(explain, again) == 0;
  free(again);
  if (!same)
    dqt_fail("the plan explains otherwise after the codec:\n%s", explain);
  return q;
}
