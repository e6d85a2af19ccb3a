/* run.c — running a plan, rows collected as text (run.h). */
#include "harness.h"

int dqt_collect(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  result_text_add(ctx, b);
  return 0;
}

int dqt_run_query(dq_context *ctx, const dq_plan *p, const char *const *urls,
                  size_t n, result_text *out, dq_error *err) {
  dq_query *q;
  int rc = dq_query_start(ctx, p, urls, n, &q, err);
  if (rc < 0)
    return rc;
  for (;;) {
    dq_batch *b;
    rc = dq_query_next(q, &b, err);
    if (rc < 0 || b == NULL)
      break;
    result_text_add(out, b);
    dq_batch_unref(b);
  }
  dq_query_close(q);
  return rc;
}

int dqt_run_cluster(dqt_cluster *c, size_t n, const dq_plan *p,
                    result_text *out, dq_error *err) {
  return dqt_run_query(c->ctx, p, c->urls, n, out, err);
}

void dqt_expect_rows(dqt_cluster *c, size_t n, const dq_plan *p,
                     const result_text *want, const char *what) {
  result_text got = {0};
  dq_error err;
  int rc = dqt_run_cluster(c, n, p, &got, &err);
  int same = rc == 0 && result_text_equal(want, &got);
  result_text_free(&got);
  if (rc < 0)
    dqt_fail("%s on %zu workers: %s", what, n, err.message);
  if (!same)
    dqt_fail("%s on %zu workers: the answer differs from the expected one",
             what, n);
}

void dqt_run_local(const dq_plan *p, result_text *out) {
  dq_error err;
  if (dq_plan_run_local(p, dqt_collect, out, &err) < 0)
    dqt_fail("local run: %s", err.message);
}
