/* log.c — libdq's log (dq.h): leveled lines on stderr in the format of
 * `dq worker`'s own log, so a worker's log reads as one.  Plugins use it
 * too: gRPC core's diagnostics, which it otherwise prints raw ("E1207
 * ..."), and refusals nobody else would report (grpc.so, shm.so). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dq/dq.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static char program[64] = "dq";
static atomic_int level = -1; /* -1: DQ_LOG not read yet */

void dq_log_set_program(const char *name) {
  snprintf(program, sizeof program, "%s", name ? name : "dq");
}

static int current_level(void) {
  int l = atomic_load(&level);
  if (l >= 0)
    return l;
  l = DQ_LOG_WARN;
  const char *v = getenv("DQ_LOG");
  for (int i = DQ_LOG_ERROR; v != NULL && i <= DQ_LOG_DEBUG; i++)
    if (strcmp(v, level_names[i]) == 0)
      l = i;
  atomic_store(&level, l);
  return l;
}

int dq_log_enabled(int lvl) { return lvl <= current_level(); }

void dq_log(int lvl, const char *fmt, ...) {
  if (lvl < DQ_LOG_ERROR || lvl > DQ_LOG_DEBUG || !dq_log_enabled(lvl))
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One call per line: stdio locks the stream for each, so lines of
   * concurrent threads do not interleave. */
  fprintf(stderr, "%s[%ld]: %s: %s\n", program, (long)getpid(),
          level_names[lvl], msg);
}
