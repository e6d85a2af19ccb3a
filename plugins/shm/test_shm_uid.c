/* test_shm_uid.c — a connection from a uid the worker does not allow is
 * refused with a message naming it, and the worker's log says so too (it
 * used to log nothing).  The worker runs in this process; a child drops to
 * uid 65534 and calls it.  Needs root to switch uid: skipped otherwise. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/dq.h>
#include <dq/runtime.h>
#include <dq/transport.h>

#include "harness.h"
#include "host/context.h"

#define NOBODY 65534

/* In the child: exit 0 if the worker refused us as it should. */
static int child(dq_context *ctx, const char *url) {
  if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
    return 3;
  const dq_transport_ops *ops = dq_context_ops(ctx);
  dq_channel *ch;
  dq_error err;
  dq_error_clear(&err);
  if (ops->channel_open(dq_context_transport(ctx), url, &ch, &err) < 0) {
    fprintf(stderr, "channel_open: %s\n", err.message);
    return 4;
  }
  dq_worker_info info;
  int rc = ops->get_worker_info(ch, &info, &err);
  ops->channel_close(ch);
  if (rc == 0) {
    fprintf(stderr, "uid %d was served\n", NOBODY);
    return 1;
  }
  char want[64];
  snprintf(want, sizeof want, "connection from uid %d", NOBODY);
  if (strstr(err.message, want) == NULL || strstr(err.message, "refused") == NULL) {
    fprintf(stderr, "unexpected refusal message: %s\n", err.message);
    return 2;
  }
  return 0;
}

static void test_other_uid_refused(void **state) {
  (void)state;
  if (geteuid() != 0)
    skip(); /* cannot switch uid */
  /* The child's client side must accept the worker's uid (0). */
  dqt_cluster c;
  dqt_cluster_up(&c, 1, DQT_WORKERS_IN_PROCESS,
                 "[transport.shm]\nallow_uids = 0\n");
  dq_context *ctx = c.ctx;
  dq_error err;
  /* Our own uid is served. */
  const dq_transport_ops *ops = dq_context_ops(ctx);
  dq_channel *ch;
  dq_worker_info info;
  assert_int_equal(ops->channel_open(dq_context_transport(ctx),
                                     c.urls[0], &ch, &err), 0);
  assert_int_equal(ops->get_worker_info(ch, &info, &err), 0);
  assert_string_equal(info.url, c.urls[0]);
  ops->channel_close(ch);
  /* The worker's log (stderr, through dq_log) goes to a file for the
   * refusal, then back. */
  char logpath[] = "/tmp/dq-shm-uid-log-XXXXXX";
  int logfd = mkstemp(logpath);
  assert_true(logfd >= 0);
  fflush(NULL);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_int_equal(dup2(logfd, STDERR_FILENO), STDERR_FILENO);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(child(ctx, c.urls[0]));
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  char want[128];
  snprintf(want, sizeof want, "warn: %s: refused a connection: ",
           c.urls[0]);
  /* The refusal is logged before the workers' stop returns. */
  dqt_cluster_stop(&c, "test_shm_uid");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char log[4096] = "";
  ssize_t n = pread(logfd, log, sizeof log - 1, 0);
  close(logfd);
  unlink(logpath);
  log[n > 0 ? n : 0] = '\0';
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  if (strstr(log, want) == NULL || strstr(log, "uid 65534") == NULL)
    fail_msg("the worker's log does not record the refusal: '%s'", log);
}

int main(void) {
  /* The shm transport, whatever the suite runs over. */
  setenv("DQ_TEST_TRANSPORT", "shm", 1);
  dqt_use_cmocka();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_other_uid_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
