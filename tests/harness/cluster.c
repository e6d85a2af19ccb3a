/* cluster.c — a test's cluster of workers (cluster.h).  Clusters with
 * worker processes are remembered until stopped so that a fatal failure
 * (dqt_abandon) can kill their children and remove their config files. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "runtime/worker_internal.h"

#define MAX_LIVE 8

static dqt_cluster *live[MAX_LIVE];

static void remember(dqt_cluster *c, int on) {
  for (size_t i = 0; i < MAX_LIVE; i++)
    if (live[i] == (on ? NULL : c)) {
      live[i] = on ? c : NULL;
      return;
    }
}

void dqt_abandon(void) {
  for (size_t k = 0; k < MAX_LIVE; k++) {
    dqt_cluster *c = live[k];
    if (c == NULL)
      continue;
    /* Our children get SIGTERM when we exit (worker_procs sets
     * PR_SET_PDEATHSIG), but a stopped one would never act on it. */
    for (size_t i = 0; c->procs && i < worker_procs_count(c->procs); i++)
      kill(worker_procs_pid(c->procs, i), SIGKILL);
    if (c->cfg_file[0] != '\0')
      unlink(c->cfg_file);
    live[k] = NULL;
  }
}

/* NAME:// is a fresh address of the transport's choosing, whatever its
 * address form (<dq/transport.h>, serve): a new name, an ephemeral port. */
static const char *listen_address(void) { return ""; }

static int spawn(dqt_cluster *c, size_t n, const char *text, dq_error *err) {
  const char *top = getenv("abs_top_builddir");
  if (top == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "worker processes need abs_top_builddir (run "
                        "through make check)");
  const char *tmp = getenv("TMPDIR");
  snprintf(c->cfg_file, sizeof c->cfg_file, "%s/dq-test-cluster.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(c->cfg_file);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    c->cfg_file[0] = '\0';
    return dq_error_set(err, DQ_EIO, "cannot write a config file in %s",
                        tmp && *tmp ? tmp : "/tmp");
  }
  snprintf(c->exe, sizeof c->exe, "%s/tools/dq", top);
  c->argv[0] = c->exe;
  c->argv[1] = (char *)"--config";
  c->argv[2] = c->cfg_file;
  c->argv[3] = (char *)"worker";
  c->argv[4] = NULL;
  remember(c, 1);
  int rc = worker_procs_new(&c->procs, err);
  if (rc == 0)
    rc = worker_procs_spawn(c->procs, c->argv, n, 30000, err);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < n; i++) {
    c->proc_of[i] = i;
    c->urls[i] = worker_procs_url(c->procs, i);
  }
  return 0;
}

static int start(dqt_cluster *c, size_t n, dqt_workers where,
                 const char *extra, dq_error *err) {
  if (n > DQT_MAX_WORKERS)
    return dq_error_set(err, DQ_EINVAL, "%zu workers asked, at most %d", n,
                        DQT_MAX_WORKERS);
  const char *more = getenv("DQ_TEST_EXTRA_CONFIG");
  char text[4096];
  snprintf(text, sizeof text, "[dq]\ntransport = %s\n%s%s%s", dqt_transport(),
           extra ? extra : "", more ? "\n" : "", more ? more : "");
  int rc = dq_config_parse(text, "test", &c->cfg, err);
  if (rc == 0)
    rc = dq_context_new(c->cfg, &c->ctx, err);
  if (rc < 0)
    return rc;
  c->n = n;
  if (where == DQT_WORKERS_PROCESSES ||
      (where == DQT_WORKERS_FROM_ENV && dqt_process_mode()))
    return spawn(c, n, text, err);
  char listen[128];
  snprintf(listen, sizeof listen, "%s://%s", dqt_transport(),
           listen_address());
  for (size_t i = 0; i < n; i++) {
    if ((rc = dq_worker_start(c->ctx, listen, &c->w[i], err)) < 0)
      return rc;
    c->urls[i] = dq_worker_url(c->w[i]);
  }
  return 0;
}

int dqt_cluster_start(dqt_cluster *c, size_t n, dqt_workers where,
                      const char *extra, dq_error *err) {
  memset(c, 0, sizeof *c);
  int rc = start(c, n, where, extra, err);
  if (rc < 0) /* whatever started goes: a refused config leaks nothing */
    dqt_cluster_stop(c, "test");
  return rc;
}

void dqt_cluster_up(dqt_cluster *c, size_t n, dqt_workers where,
                    const char *extra) {
  dq_error err;
  if (dqt_cluster_start(c, n, where, extra, &err) < 0)
    dqt_fail("cluster of %zu %s workers: %s", n, dqt_transport(), err.message);
}

int dqt_cluster_stop(dqt_cluster *c, const char *who) {
  int bad = 0;
  if (c->procs != NULL) {
    bad = worker_procs_stop(c->procs, 10000, who);
    c->procs = NULL;
  }
  for (size_t i = 0; i < c->n; i++)
    if (c->w[i] != NULL)
      dq_worker_stop(c->w[i]);
  if (c->cfg_file[0] != '\0')
    unlink(c->cfg_file);
  remember(c, 0);
  dq_context_free(c->ctx);
  dq_config_free(c->cfg);
  memset(c, 0, sizeof *c);
  return bad;
}

int dqt_cluster_replace(dqt_cluster *c, size_t i, dq_error *err) {
  if (c->procs == NULL || i >= c->n)
    return dq_error_set(err, DQ_EINVAL,
                        "only a worker process can be replaced");
  int rc = worker_procs_spawn(c->procs, c->argv, 1, 30000, err);
  if (rc < 0)
    return rc;
  c->proc_of[i] = worker_procs_count(c->procs) - 1;
  c->replaced++;
  for (size_t k = 0; k < c->n; k++) /* the array may have moved */
    c->urls[k] = worker_procs_url(c->procs, c->proc_of[k]);
  return 0;
}

pid_t dqt_cluster_pid(const dqt_cluster *c, size_t i) {
  return c->procs != NULL ? worker_procs_pid(c->procs, c->proc_of[i]) : -1;
}

int dqt_cluster_kill(dqt_cluster *c, size_t i, int sig) {
  return c->procs != NULL ? worker_procs_kill(c->procs, c->proc_of[i], sig)
                          : DQ_EINVAL;
}

long dqt_cluster_task_count(dqt_cluster *c, size_t i) {
  if (c->procs == NULL)
    return dq_worker_task_count(c->w[i]);
  dq_error err;
  long n = worker_procs_task_count(c->procs, c->proc_of[i], 10000, &err);
  if (n < 0)
    dqt_fail("task count of %s: %s", c->urls[i], err.message);
  return n;
}

long dqt_cluster_tasks(dqt_cluster *c, size_t i) {
  long n = dqt_cluster_task_count(c, i);
  return c->procs == NULL ? n + dq_worker_live_tasks(c->w[i]) : n;
}

long dqt_cluster_wait_idle(dqt_cluster *c, long skip, int ms) {
  double end = dqt_now_s() + ms / 1000.0;
  long left;
  do {
    left = 0;
    for (size_t i = 0; i < c->n; i++)
      if ((long)i != skip)
        left += dqt_cluster_tasks(c, i);
    if (left == 0)
      return 0;
    usleep(2000);
  } while (dqt_now_s() < end);
  return left;
}
