/* plans.h — the standard boundary plans the runtime tests run again and
 * again, each over TPC-H tables generated at seed 7, and with `local` the
 * same answer computed in one stage (the single-process answer to compare
 * a distributed one with).  Every one fails the test (dqt_fail) if it
 * cannot be built. */
#ifndef DQ_TESTS_HARNESS_PLANS_H
#define DQ_TESTS_HARNESS_PLANS_H

#include <stdint.h>

#include <dq/plan.h>

/* The two lineitem columns the plans scan: l_orderkey, l_quantity. */
extern const char *const dqt_lineitem_cols[2];

/* Finishes and frees b. */
dq_plan *dqt_plan_finish(dq_plan_builder *b);

/* Per-order aggregates shuffled on the order key, then totals:
 *   stage 1: scan (n tasks, 2 partitions)  --shuffle(l_orderkey)-->
 *   stage 2: group by l_orderkey (n tasks, `partitions`) --coalesce-->
 *   head:    count(groups), sum(rows), sum(quantity).
 * A row routed to the wrong consumer would split a group and change the
 * group count. */
dq_plan *dqt_shuffle_plan(double scale, uint32_t n, uint32_t partitions,
                          int local);

/* Partial count/sum/max on np tasks coalesced into nc tasks, then final. */
dq_plan *dqt_coalesce_plan(double scale, uint32_t np, uint32_t nc, int local);

/* nation (25 rows, split over 2 tasks) broadcast to n tasks of 2
 * partitions, then count and key sum: every consumer pipeline sees all 25
 * rows, so the answer is 25*2n | 300*2n. */
dq_plan *dqt_broadcast_plan(uint32_t n);

/* lineitem on n tasks coalesced into the head, which keeps `limit` rows:
 * with a small limit the head stops long before the scan. */
dq_plan *dqt_limit_plan(double scale, uint32_t n, int64_t limit);

/* l_orderkey * 10^18 on n tasks coalesced into the head: overflows int64
 * on stage 1's tasks, so the query fails naming a worker and a task. */
dq_plan *dqt_overflow_plan(double scale, uint32_t n);

/* Group by l_returnflag: count(*) as n, sum(l_quantity) as q,
 * sum(l_extendedprice) as p, in the given mode: what the data source tests
 * compute over lineitem read from files and from the generator. */
dq_node *dqt_returnflag_agg(dq_plan_builder *b, dq_node *in, dq_agg_mode mode);

/* p through the plan codec (encoded, decoded): the decoded plan, whose
 * explain text must equal p's (it fails the test otherwise); that text is
 * left in explain (len bytes). */
dq_plan *dqt_plan_through_codec(const dq_plan *p, char *explain, size_t len);

#endif /* DQ_TESTS_HARNESS_PLANS_H */
