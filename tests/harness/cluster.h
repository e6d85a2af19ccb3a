/* cluster.h — a cluster of N workers for a test, and the coordinator's
 * context to query them: workers started in this process
 * (dq_worker_start over the configured transport) or as `dq worker`
 * processes ($abs_top_builddir/tools/dq, through tools/worker_procs.c),
 * started and stopped as one; how many tasks they hold; waiting until they
 * hold none. */
#ifndef DQ_TESTS_HARNESS_CLUSTER_H
#define DQ_TESTS_HARNESS_CLUSTER_H

#include <stddef.h>
#include <sys/types.h>

#include <dq/dq.h>
#include <dq/runtime.h>

#include "worker_procs.h"

#define DQT_MAX_WORKERS 8

typedef enum dqt_workers {
  DQT_WORKERS_FROM_ENV, /* processes when $DQ_TEST_WORKERS=process */
  DQT_WORKERS_IN_PROCESS,
  DQT_WORKERS_PROCESSES
} dqt_workers;

typedef struct dqt_cluster {
  dq_config *cfg;
  dq_context *ctx;
  const char *urls[DQT_MAX_WORKERS]; /* worker i's URL */
  size_t n;
  dq_worker *w[DQT_MAX_WORKERS]; /* in-process workers */
  worker_procs *procs;           /* worker processes, or NULL */
  size_t proc_of[DQT_MAX_WORKERS]; /* worker i is child proc_of[i] */
  int replaced;                  /* children started by dqt_cluster_replace */
  char cfg_file[256];            /* the worker processes' config */
  char exe[1024];
  char *argv[5];
} dqt_cluster;

/* Starts n workers over $DQ_TEST_TRANSPORT with the config
 *   [dq] transport = T, then `extra` (may be NULL), then
 *   $DQ_TEST_EXTRA_CONFIG (a transport's options),
 * the same text for this process's context and for worker processes.  In
 * this process each worker listens at a fresh name (inmem, shm) or an
 * ephemeral loopback port (any other transport). */
int dqt_cluster_start(dqt_cluster *c, size_t n, dqt_workers where,
                      const char *extra, dq_error *err);
/* The same, failing the test (dqt_fail) on an error. */
void dqt_cluster_up(dqt_cluster *c, size_t n, dqt_workers where,
                    const char *extra);

/* Stops every worker and frees the context.  Worker processes get SIGTERM
 * and must exit 0 within 10 s; returns how many did not (each reported on
 * stderr with `who`), 0 for in-process workers. */
int dqt_cluster_stop(dqt_cluster *c, const char *who);

/* Worker processes only: starts a fresh process in worker i's place (the
 * old one was killed) and points urls[i] at it. */
int dqt_cluster_replace(dqt_cluster *c, size_t i, dq_error *err);
/* The process of worker i (worker processes only). */
pid_t dqt_cluster_pid(const dqt_cluster *c, size_t i);
/* Sends sig to worker i's process. */
int dqt_cluster_kill(dqt_cluster *c, size_t i, int sig);

/* Tasks in worker i's table (dq_worker_task_count); a process is asked
 * (it answers SIGUSR1 with `tasks N`), and one that does not answer fails
 * the test. */
long dqt_cluster_task_count(dqt_cluster *c, size_t i);
/* The same plus, in this process, task objects still finishing
 * (dq_worker_live_tasks); a process can only report its table. */
long dqt_cluster_tasks(dqt_cluster *c, size_t i);
/* Waits at most ms until no worker but `skip` (-1: none) holds a task;
 * returns the tasks still held then, 0 when none. */
long dqt_cluster_wait_idle(dqt_cluster *c, long skip, int ms);

#endif /* DQ_TESTS_HARNESS_CLUSTER_H */
