/* test_worker_procs.c — tools/worker_procs.c against stand-in children
 * (/bin/sh scripts), so process management is tested without any
 * transport: parallel start and listening lines, task-count questions,
 * children that die, lie, hang or ignore SIGTERM, and reaping. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker_procs.h"

/* A well-behaved stand-in for `dq worker`: prints where it "listens",
 * answers SIGUSR1 with a task count, exits 0 on SIGTERM. */
static const char good_worker[] =
    "trap 'echo tasks 7' USR1; trap 'exit 0' TERM; "
    "echo \"listening on fake://127.0.0.1:$$\"; "
    "while :; do sleep 0.05; done";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn_sh(worker_procs *wp, const char *script, size_t n,
                    int timeout_ms, dq_error *err) {
  char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};
  return worker_procs_spawn(wp, argv, n, timeout_ms, err);
}

/* Whether pid is gone (reaped: kill fails with ESRCH). */
static int gone(pid_t pid) { return kill(pid, 0) < 0 && errno == ESRCH; }

static void test_start_query_stop(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (spawn_sh(wp, good_worker, 3, 5000, &err) < 0)
    fail_msg("%s", err.message);
  assert_int_equal(worker_procs_count(wp), 3);
  pid_t pids[3];
  for (size_t i = 0; i < 3; i++) {
    pids[i] = worker_procs_pid(wp, i);
    char want[64];
    snprintf(want, sizeof want, "fake://127.0.0.1:%d", (int)pids[i]);
    assert_string_equal(worker_procs_url(wp, i), want);
    assert_string_equal(worker_procs_urls(wp)[i], want);
    /* Its own process group, so a terminal's Ctrl-C does not reach it. */
    assert_int_equal(getpgid(pids[i]), pids[i]);
  }
  /* Asked twice: each answer is read once, in order. */
  assert_int_equal(worker_procs_task_count(wp, 1, 5000, &err), 7);
  assert_int_equal(worker_procs_task_count(wp, 1, 5000, &err), 7);
  /* More workers later join the same set. */
  if (spawn_sh(wp, good_worker, 1, 5000, &err) < 0)
    fail_msg("%s", err.message);
  assert_int_equal(worker_procs_count(wp), 4);
  pid_t fourth = worker_procs_pid(wp, 3);
  assert_int_equal(worker_procs_stop(wp, 5000, "test"), 0);
  for (size_t i = 0; i < 3; i++)
    assert_true(gone(pids[i]));
  assert_true(gone(fourth));
}

static void test_child_dies_before_listening(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  double t0 = now_s();
  int rc = spawn_sh(wp, "echo 'dq worker: cannot serve' >&2; exit 3", 2,
                    5000, &err);
  assert_int_equal(rc, DQ_EUNAVAILABLE);
  assert_non_null(strstr(err.message, "exited with status 3"));
  assert_true(now_s() - t0 < 2.0); /* noticed at once, not at the timeout */
  assert_int_equal(worker_procs_count(wp), 0);
  assert_int_equal(worker_procs_stop(wp, 1000, "test"), 0);
}

static void test_exec_fails(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  char *argv[] = {(char *)"/nonexistent/dq", (char *)"worker", NULL};
  assert_int_equal(worker_procs_spawn(wp, argv, 1, 5000, &err),
                   DQ_EUNAVAILABLE);
  assert_non_null(strstr(err.message, "exited with status 127"));
  assert_int_equal(worker_procs_stop(wp, 1000, "test"), 0);
}

static void test_wrong_first_line(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  assert_int_equal(spawn_sh(wp, "echo hello; sleep 10", 1, 5000, &err),
                   DQ_EPROTO);
  assert_non_null(strstr(err.message, "printed 'hello'"));
  assert_int_equal(worker_procs_count(wp), 0); /* and it was stopped */
  assert_int_equal(worker_procs_stop(wp, 1000, "test"), 0);
}

static void test_silent_child_times_out(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  double t0 = now_s();
  /* `exec sleep` so SIGTERM reaches the sleeping process itself. */
  assert_int_equal(spawn_sh(wp, "exec sleep 30", 2, 300, &err),
                   DQ_ETIMEDOUT);
  double t = now_s() - t0;
  assert_true(t >= 0.29 && t < 3.0);
  assert_non_null(strstr(err.message, "listening line"));
  assert_int_equal(worker_procs_stop(wp, 1000, "test"), 0);
}

static void test_stubborn_child_is_killed(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (spawn_sh(wp,
               "trap '' TERM; echo 'listening on fake://x'; "
               "while :; do sleep 0.05; done",
               1, 5000, &err) < 0)
    fail_msg("%s", err.message);
  pid_t pid = worker_procs_pid(wp, 0);
  double t0 = now_s();
  /* It ignores SIGTERM: killed after the grace period, and reported. */
  assert_int_equal(worker_procs_stop(wp, 200, NULL), 1);
  assert_true(now_s() - t0 < 3.0);
  assert_true(gone(pid));
}

static void test_killed_on_purpose(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (spawn_sh(wp, good_worker, 2, 5000, &err) < 0)
    fail_msg("%s", err.message);
  assert_int_equal(worker_procs_kill(wp, 0, SIGKILL), 0);
  /* A dead worker cannot answer: a clear error, not a hang. */
  usleep(100000);
  assert_true(worker_procs_task_count(wp, 0, 1000, &err) < 0);
  assert_int_equal(worker_procs_task_count(wp, 1, 5000, &err), 7);
  assert_int_equal(worker_procs_stop(wp, 5000, "test"), 0);
}

static void test_child_crash_is_reported(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (spawn_sh(wp, "echo 'listening on fake://x'; exit 5", 1, 5000, &err) <
      0)
    fail_msg("%s", err.message);
  usleep(100000);
  assert_int_equal(worker_procs_stop(wp, 1000, NULL), 1);
}

/* An answer nobody waited for (a late one) is not taken for the next. */
static void test_stale_answer_dropped(void **state) {
  (void)state;
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (spawn_sh(wp,
               "n=0; trap 'n=$((n+1)); echo tasks $n' USR1; "
               "trap 'exit 0' TERM; echo 'listening on fake://x'; "
               "while :; do sleep 0.05; done",
               1, 5000, &err) < 0)
    fail_msg("%s", err.message);
  kill(worker_procs_pid(wp, 0), SIGUSR1); /* answered, never read */
  usleep(300000);
  assert_int_equal(worker_procs_task_count(wp, 0, 5000, &err), 2);
  assert_int_equal(worker_procs_stop(wp, 5000, "test"), 0);
}

/* A descriptor of ours that is not close-on-exec must not reach a child. */
static void test_fds_not_inherited(void **state) {
  (void)state;
  int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
  assert_true(fd > 2);
  char script[256];
  snprintf(script, sizeof script,
           "trap 'exit 0' TERM; if [ -e /proc/$$/fd/%d ]; then "
           "echo 'listening on leaked://'; else echo 'listening on "
           "clean://'; fi; while :; do sleep 0.05; done",
           fd);
  worker_procs *wp;
  dq_error err;
  assert_int_equal(worker_procs_new(&wp, &err), 0);
  if (spawn_sh(wp, script, 1, 5000, &err) < 0)
    fail_msg("%s", err.message);
  assert_string_equal(worker_procs_url(wp, 0), "clean://");
  assert_int_equal(worker_procs_stop(wp, 5000, "test"), 0);
  close(fd);
}

static void test_self_exe(void **state) {
  (void)state;
  char buf[4096];
  assert_non_null(worker_procs_self_exe(buf, sizeof buf));
  assert_int_equal(access(buf, X_OK), 0);
  char tiny[4];
  assert_null(worker_procs_self_exe(tiny, sizeof tiny));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_start_query_stop),
      cmocka_unit_test(test_child_dies_before_listening),
      cmocka_unit_test(test_exec_fails),
      cmocka_unit_test(test_wrong_first_line),
      cmocka_unit_test(test_silent_child_times_out),
      cmocka_unit_test(test_stubborn_child_is_killed),
      cmocka_unit_test(test_killed_on_purpose),
      cmocka_unit_test(test_child_crash_is_reported),
      cmocka_unit_test(test_stale_answer_dropped),
      cmocka_unit_test(test_fds_not_inherited),
      cmocka_unit_test(test_self_exe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
