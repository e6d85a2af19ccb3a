/* run.h — running a plan and collecting its rows as text
 * (result_text.h): on a cluster's workers through the coordinator, or in
 * this process alone (the single-process answer). */
#ifndef DQ_TESTS_HARNESS_RUN_H
#define DQ_TESTS_HARNESS_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <dq/plan.h>
#include <dq/runtime.h>

#include "cluster.h"
#include "result_text.h"

/* Runs p on the n workers at urls with ctx as the coordinator, appending
 * every row to out; returns 0 or the query's error code (err filled). */
int dqt_run_query(dq_context *ctx, const dq_plan *p, const char *const *urls,
                  size_t n, result_text *out, dq_error *err);
/* The same on the first n workers of c. */
int dqt_run_cluster(dqt_cluster *c, size_t n, const dq_plan *p,
                    result_text *out, dq_error *err);
/* Runs p on the first n workers of c and fails the test (dqt_fail, the
 * sentence starting with `what`) unless the query succeeds with exactly
 * the rows of want, in the same order. */
void dqt_expect_rows(dqt_cluster *c, size_t n, const dq_plan *p,
                     const result_text *want, const char *what);
/* dq_plan_run_local into out; fails the test on an error. */
void dqt_run_local(const dq_plan *p, result_text *out);
/* A dq_plan_run_local sink appending to the result_text at ctx. */
int dqt_collect(void *ctx, const dq_batch *b, dq_error *err);

#endif /* DQ_TESTS_HARNESS_RUN_H */
