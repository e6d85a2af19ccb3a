/* worker_procs.h — local worker processes: start `dq worker` children, learn
 * the URL each one bound from its `listening on URL` line, ask them for
 * their task count, and stop and reap them.  Used by `dq run --workers N`
 * with a transport other than inmem, and by the tests that run the runtime
 * suite against worker processes.  Knows nothing about any transport: a
 * child is any program that prints that line on stdout once it serves. */
#ifndef DQ_TOOLS_WORKER_PROCS_H
#define DQ_TOOLS_WORKER_PROCS_H

#include <stddef.h>
#include <sys/types.h>

#include <dq/dq.h>

typedef struct worker_procs worker_procs;

int worker_procs_new(worker_procs **out, dq_error *err);

/* Starts one child per argv (argv[0] is the program's path; NULL-terminated)
 * n times, all at once, then waits up to timeout_ms in total for every one
 * to print its listening line.  On failure the children of this call are
 * stopped and reaped, and err names the one that failed (its own messages
 * went to our stderr, which the children share).  Each child gets its own
 * process group, so a Ctrl-C at the terminal reaches only the parent, which
 * then stops its children in order; and SIGTERM when the thread that
 * started it exits, so no child outlives a parent that died abruptly. */
int worker_procs_spawn(worker_procs *wp, char *const argv[], size_t n,
                       int timeout_ms, dq_error *err);

size_t worker_procs_count(const worker_procs *wp);
/* The URL child i reported (owned by wp). */
const char *worker_procs_url(const worker_procs *wp, size_t i);
/* The URLs as an array of n (owned by wp, valid until the next spawn). */
const char *const *worker_procs_urls(const worker_procs *wp);
pid_t worker_procs_pid(const worker_procs *wp, size_t i);

/* Asks child i (a `dq worker`) for the number of tasks it holds: sends it
 * SIGUSR1 and reads its `tasks N` answer within timeout_ms.  Returns the
 * count, or a negative DQ_E* code. */
long worker_procs_task_count(worker_procs *wp, size_t i, int timeout_ms,
                             dq_error *err);

/* Sends sig to child i (for tests: SIGKILL to simulate a crash). */
int worker_procs_kill(worker_procs *wp, size_t i, int sig);

/* Stops every child: SIGTERM, then SIGKILL to those still running after
 * grace_ms; reaps them all and frees wp.  Returns 0 when every child exited
 * with status 0 on its own (killed children, e.g. by worker_procs_kill,
 * count as failures only if they were not killed on purpose), else the
 * number of children that did not, each reported on stderr with `who`. */
int worker_procs_stop(worker_procs *wp, int grace_ms, const char *who);

/* The path of the running program (/proc/self/exe), for starting more of
 * it; NULL if it cannot be read.  Returns buf. */
const char *worker_procs_self_exe(char *buf, size_t len);

#endif /* DQ_TOOLS_WORKER_PROCS_H */
