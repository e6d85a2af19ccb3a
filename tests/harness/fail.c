/* fail.c — how the harness reports a failure (harness.h), and the
 * environment and clock every harness-based test reads. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void (*fail_hook)(const char *message);

void dqt_set_fail_hook(void (*hook)(const char *message)) { fail_hook = hook; }

void dqt_fail(const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (fail_hook != NULL) {
    fail_hook(line); /* cmocka's never returns */
    return;
  }
  printf("FAIL: %s\n", line);
  fflush(stdout);
  dqt_abandon();
  _exit(1);
}

const char *dqt_transport(void) {
  const char *t = getenv("DQ_TEST_TRANSPORT");
  return t && *t ? t : "inmem";
}

int dqt_process_mode(void) {
  const char *m = getenv("DQ_TEST_WORKERS");
  return m != NULL && strcmp(m, "process") == 0;
}

int dqt_process_transport(void) {
  const char *t = getenv("DQ_TEST_TRANSPORT");
  if (t == NULL || *t == '\0')
    setenv("DQ_TEST_TRANSPORT", "grpc", 1);
  if (strcmp(dqt_transport(), "inmem") != 0)
    return 0;
  printf("SKIP: inmem workers are threads, there is no process to kill\n");
  return 77;
}

long dqt_env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 0) : dflt;
}

double dqt_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
