/* test_resident.c — result batches outlive everything that made them.
 *
 * A batch read over shm points into a shared-memory ring, and one read over
 * grpc into a received gRPC slice: their release callbacks are code of
 * shm.so and grpc.so.  The rule of <dq/transport.h> is that a plugin, once
 * loaded for use, stays mapped until the process exits, so a caller may
 * keep batches after stopping the worker, closing the query and freeing
 * every dq_context — and release them then.  This test does exactly that
 * and checks the batches' values afterwards; when the plugin was unloaded
 * instead, releasing them jumps into unmapped code (a crash, or an ASan
 * report under scripts/sanitizers.sh).  inmem runs it too (its batches are
 * the worker's own, handed over by pointer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/plan.h>
#include <dq/runtime.h>

/* nation's 25 keys, scanned by 2 tasks and coalesced into the head, which
 * hands the batches out as they came over the transport. */
static dq_plan *nation_plan(void) {
  dq_plan_builder *b;
  dq_error err;
  assert_int_equal(dq_plan_builder_new(&b, &err), 0);
  const char *cols[] = {"n_nationkey", "n_name"};
  dq_node *scan = dq_node_scan_tpch(b, "nation", 1, 7, cols, 2);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, 2, 1, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p;
  if (dq_plan_builder_finish(b, &p, &err) < 0)
    fail_msg("plan: %s", err.message);
  dq_plan_builder_free(b);
  return p;
}

static void keep_batches_past_context(const char *transport,
                                      const char *listen) {
  char text[128];
  snprintf(text, sizeof text, "[dq]\ntransport = %s\n", transport);
  dq_config *cfg;
  dq_context *ctx;
  dq_error err;
  if (dq_config_parse(text, "test", &cfg, &err) < 0)
    fail_msg("config: %s", err.message);
  int rc = dq_context_new(cfg, &ctx, &err);
  if (rc == DQ_ENOENT) { /* grpc is optional at configure time */
    dq_config_free(cfg);
    skip();
  }
  if (rc < 0)
    fail_msg("context: %s", err.message);
  dq_worker *w;
  if (dq_worker_start(ctx, listen, &w, &err) < 0)
    fail_msg("worker: %s", err.message);
  const char *url = dq_worker_url(w);
  dq_plan *plan = nation_plan();
  dq_query *q;
  if (dq_query_start(ctx, plan, &url, 1, &q, &err) < 0)
    fail_msg("query: %s", err.message);
  dq_batch *kept[64];
  size_t n = 0;
  for (;;) {
    dq_batch *b;
    if (dq_query_next(q, &b, &err) < 0)
      fail_msg("next: %s", err.message);
    if (b == NULL)
      break;
    assert_true(n < 64);
    kept[n++] = b;
  }
  dq_query_close(q);
  dq_worker_stop(w);
  dq_plan_free(plan);
  /* The last context: the plugin's reference count drops to zero here. */
  dq_context_free(ctx);
  dq_config_free(cfg);

  /* Read every kept batch, then release them: both touch memory the
   * transport lent, and the release runs the transport's callback. */
  int64_t rows = 0, sum = 0;
  size_t names = 0;
  for (size_t i = 0; i < n; i++) {
    const dq_array *keys = dq_batch_column(kept[i], 0);
    const dq_array *name = dq_batch_column(kept[i], 1);
    for (int64_t r = 0; r < dq_batch_n_rows(kept[i]); r++) {
      sum += dq_array_int64(keys, r);
      size_t len;
      names += strlen(dq_array_utf8(name, r, &len)) > 0;
    }
    rows += dq_batch_n_rows(kept[i]);
  }
  for (size_t i = 0; i < n; i++)
    dq_batch_unref(kept[i]);
  assert_int_equal(rows, 25);
  assert_int_equal(sum, 24 * 25 / 2); /* keys 0..24 */
  assert_int_equal(names, 25);
}

static void test_shm(void **state) {
  (void)state;
  keep_batches_past_context("shm", "shm://");
}

static void test_grpc(void **state) {
  (void)state;
  keep_batches_past_context("grpc", "grpc://");
}

static void test_inmem(void **state) {
  (void)state;
  keep_batches_past_context("inmem", "inmem://");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shm),
      cmocka_unit_test(test_grpc),
      cmocka_unit_test(test_inmem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
