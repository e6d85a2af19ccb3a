/* join_plan.h — the hash join plans test_plan (the executor, stages run in
 * one process) and test_join_dist (the runtime, on workers) both check:
 * orders ⋈ customer on o_custkey = c_custkey, grouped by nation, in three
 * shapes with the same answer: one stage (mode 0); the build side scanned,
 * collected and broadcast to every join task (mode 1); both sides shuffled
 * on the join key (mode 2).  INNER probes orders (build: customer) with
 * the residual o_totalprice > c_acctbal * 10; LEFT, SEMI and ANTI probe
 * customer (build: orders; LEFT with the residual o_totalprice > 150000),
 * so customers without orders (a third of them) show.  The head finishes
 * the aggregate and orders the groups with a top-N. */
#ifndef DQ_TESTS_JOIN_PLAN_H
#define DQ_TESTS_JOIN_PLAN_H

#include <stdint.h>

#include <dq/plan.h>

/* mode 0: one stage; 1: build side broadcast; 2: both sides shuffled.  The
 * PARTIAL aggregate's stage has `tasks` x `parts` pipelines.  Fails the
 * test on a plan error. */
dq_plan *join_plan(dq_join_kind kind, int mode, uint32_t tasks,
                   uint32_t parts);

#endif /* DQ_TESTS_JOIN_PLAN_H */
