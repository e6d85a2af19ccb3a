/* test_shm_stream.c — a stream that fails on the shm worker's side while
 * the worker sends it (here: a batch before any schema, which the server
 * cannot encode) ends at the reader with that error, not with "the worker
 * went away in the middle of a stream", and the worker logs it.  The
 * worker service is a fake defined here, served by shm.so in this
 * process. */
#include <fcntl.h>
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
#include <dq/transport.h>

#include "host/context.h"

static int f_info(void *self, dq_worker_info *out, dq_error *err) {
  (void)self;
  (void)err;
  memset(out, 0, sizeof *out);
  out->protocol_version = DQ_PROTOCOL_VERSION;
  return 0;
}

static int f_coord_open(void *self, const dq_set_plan *plan, dq_ws_task **out,
                        dq_error *err) {
  (void)self;
  (void)plan;
  (void)out;
  return dq_error_set(err, DQ_EUNSUPPORTED, "not in this test");
}

static int f_unit(void *self, dq_ws_task *t, const void *d, size_t n,
                  dq_error *err) {
  (void)self;
  (void)t;
  (void)d;
  (void)n;
  return dq_error_set(err, DQ_EUNSUPPORTED, "not in this test");
}

static int f_finish(void *self, dq_ws_task *t, dq_task_metrics *out,
                    dq_error *err) {
  (void)self;
  (void)t;
  (void)out;
  return dq_error_set(err, DQ_EUNSUPPORTED, "not in this test");
}

static void f_coord_close(void *self, dq_ws_task *t) {
  (void)self;
  (void)t;
}

static int stream_token;

static int f_execute(void *self, const dq_execute_task *req,
                     dq_ws_stream **out, dq_error *err) {
  (void)self;
  (void)req;
  (void)err;
  *out = (dq_ws_stream *)&stream_token;
  return 0;
}

/* The first frame is a batch, with no schema before it. */
static int f_next(void *self, dq_ws_stream *s, dq_frame *out, dq_error *err) {
  (void)self;
  (void)s;
  (void)err;
  memset(out, 0, sizeof *out);
  out->kind = DQ_FRAME_BATCH;
  out->partition = 0;
  return 0;
}

static void f_cancel(void *self, dq_ws_stream *s) {
  (void)self;
  (void)s;
}

static void f_close(void *self, dq_ws_stream *s) {
  (void)self;
  (void)s;
}

static void test_local_failure_reaches_reader(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_parse("[dq]\ntransport = shm\n", "t", &cfg, &err),
                   0);
  dq_context *ctx;
  if (dq_context_new(cfg, &ctx, &err) < 0)
    fail_msg("%s", err.message);
  const dq_transport_ops *ops = dq_context_ops(ctx);
  dq_transport *t = dq_context_transport(ctx);
  dq_worker_service svc = {
      sizeof svc, NULL,    f_info,   f_coord_open, f_unit, f_finish,
      f_coord_close,       f_execute, f_next,      f_cancel, f_close};
  dq_server *srv;
  assert_int_equal(ops->serve(t, "shm://", &svc, &srv, &err), 0);
  char url[256];
  snprintf(url, sizeof url, "%s", ops->server_url(srv));

  /* The server's log goes to a file while the stream runs. */
  char logpath[] = "/tmp/dq-shm-stream-log-XXXXXX";
  int logfd = mkstemp(logpath);
  assert_true(logfd >= 0);
  fflush(NULL);
  int saved = dup(STDERR_FILENO);
  assert_int_equal(dup2(logfd, STDERR_FILENO), STDERR_FILENO);

  dq_channel *ch;
  assert_int_equal(ops->channel_open(t, url, &ch, &err), 0);
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.partition_start = 0;
  req.partition_end = 1;
  dq_stream *s;
  int rc = ops->execute_task(ch, &req, &s, &err);
  dq_error got;
  dq_error_clear(&got);
  if (rc == 0) {
    dq_frame f;
    rc = ops->stream_next(s, &f, &got);
    ops->stream_close(s);
  } else {
    got = err;
  }
  ops->channel_close(ch);
  ops->stop(srv);

  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char log[4096] = "";
  ssize_t n = pread(logfd, log, sizeof log - 1, 0);
  close(logfd);
  unlink(logpath);
  log[n > 0 ? n : 0] = '\0';

  assert_true(rc < 0);
  if (strstr(got.message, "a batch before its schema") == NULL)
    fail_msg("the reader got '%s' (%s), not the worker's own error",
             got.message, dq_strerror(got.code));
  assert_int_equal(got.code, DQ_EPROTO);
  assert_string_equal(got.worker_url, url);
  if (strstr(log, "a stream failed on this worker: the stream produced "
                  "a batch before its schema") == NULL)
    fail_msg("the worker did not log the failure: '%s'", log);
  dq_context_free(ctx);
  dq_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_local_failure_reaches_reader),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
