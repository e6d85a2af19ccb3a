/* fault_retry.c — queries that survive a worker's death (issue 16): the
 * nine TPC-H queries at SF 0.1 on 3 `dq worker` processes over the
 * transport in $DQ_TEST_TRANSPORT (grpc or shm), each with one worker
 * SIGKILLed or SIGSTOPped at a random moment.  Run by
 * tests/fault-retry.test (bounded, in make check) and `make faults` (100
 * queries a transport).
 *
 * For each of DQ_FAULT_QUERIES queries (default 10; the seed is
 * DQ_FAULT_SEED, printed, so that a run can be replayed), chosen at
 * random: the query, SIGKILL or SIGSTOP, the victim, and the moment —
 *
 *   delivery  the victim is stopped before the query starts, so plan
 *             delivery is waiting on it when it is killed (or, for a stop,
 *             until [transport] deadline_ms passes);
 *   running   0-100% into the query's fault-free time (measured first):
 *             mid-delivery, mid-stream or mid-shuffle, whichever that is;
 *   answer    after the first result batch reached the caller.
 *
 * Every query must return exactly the single-process answer, and the
 * surviving workers must hold no task within 3 s of its end.  The victim is
 * then killed (if only stopped) and replaced by a new process.  A stopped
 * worker is noticed through the transport's keepalive_ms and deadline_ms
 * (set here to 500 and 1000 ms, on both sides): it costs a retry, not a
 * hang.
 *
 * Then: with the coordinator's context closed, every worker process is back
 * to the threads and fds it had when it started, and maps nothing from
 * /dev/shm.  Last, all three workers are killed under a query: a clear
 * error (DQ_EUNAVAILABLE or DQ_ETIMEDOUT saying every worker was lost or
 * none could be reached), never a hang or a wrong answer.
 *
 * The extra seconds each faulted query took over its fault-free time are
 * printed as p50/p99 (docs/PERFORMANCE.md quotes them).  Every blocking
 * step runs under a watchdog: a hang is a FAIL naming the step. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>

#include "result_text.h"
#include "worker_procs.h"

#define N_WORKERS 3
#define SCALE 0.1
#define SEED 11
#define DEADLINE_MS 1000
#define KEEPALIVE_MS 500
#define MAX_QUERIES 9
/* Workers started in a run: 3, a replacement per faulted query, 4 more. */
#define MAX_CHILDREN 4096

static const char *transport(void) {
  const char *t = getenv("DQ_TEST_TRANSPORT");
  return t && *t ? t : "grpc";
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 0) : dflt;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng;
static uint64_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

static int failures;
static worker_procs *all_workers; /* for die(): no stopped orphan */
static char cfg_path[256];

static void failf(const char *fmt, ...) DQ_PRINTF(1, 2);
static void failf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  failures++;
}

static void die(const char *fmt, ...) DQ_PRINTF(1, 2);
static void die(const char *fmt, ...) {
  /* Children get SIGTERM when we exit, but a stopped one never acts on it. */
  for (size_t i = 0; all_workers && i < worker_procs_count(all_workers); i++)
    kill(worker_procs_pid(all_workers, i), SIGKILL);
  if (cfg_path[0] != '\0')
    unlink(cfg_path);
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL: ");
  vprintf(fmt, ap);
  printf("\nFAIL: fault test aborted\n");
  fflush(stdout);
  va_end(ap);
  _exit(1);
}

/* --- /proc figures of a process -----------------------------------------*/

/* gRPC keeps some threads for the life of the process once it needed them
 * (its timer manager's and executor's: src/core/lib/iomgr): high-water
 * marks, not per-query state, so they are not counted. */
static int grpc_lifetime_thread(const char *comm) {
  static const char *const names[] = {"grpc_global_tim", "default-execut",
                                      "resolver-execut", "grpc_"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strncmp(comm, names[i], strlen(names[i])) == 0)
      return 1;
  return 0;
}

/* Threads (without gRPC's lifetime ones), fds and sockets among them of
 * pid; -1 if gone. */
static void proc_usage3(pid_t pid, long *threads, long *fds, long *socks) {
  char path[96], comm[32];
  *threads = *fds = 0;
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  struct dirent *e;
  if (d == NULL) {
    *threads = *fds = -1;
    return;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/%d/task/%.20s/comm", (int)pid,
             e->d_name);
    FILE *f = fopen(path, "r");
    if (f && fgets(comm, sizeof comm, f) && !grpc_lifetime_thread(comm))
      (*threads)++;
    if (f)
      fclose(f);
  }
  closedir(d);
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  if ((d = opendir(path)) == NULL)
    return;
  *socks = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char link[160], target[64];
    snprintf(link, sizeof link, "%s/%.20s", path, e->d_name);
    ssize_t k = readlink(link, target, sizeof target - 1);
    target[k > 0 ? k : 0] = '\0';
    (*fds)++;
    *socks += strncmp(target, "socket:", 7) == 0;
  }
  closedir(d);
}

static void proc_usage(pid_t pid, long *threads, long *fds) {
  long socks;
  proc_usage3(pid, threads, fds, &socks);
}

/* Mappings or open files of pid under /dev/shm (a leaked segment). */
static long proc_dev_shm(pid_t pid) {
  char path[64], line[512];
  long n = 0;
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    n += strstr(line, "/dev/shm/") != NULL;
  if (f)
    fclose(f);
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char link[128], target[256];
    if (e->d_name[0] == '.')
      continue;
    snprintf(link, sizeof link, "/proc/%d/fd/%.20s", (int)pid, e->d_name);
    ssize_t k = readlink(link, target, sizeof target - 1);
    if (k > 0) {
      target[k] = '\0';
      n += strncmp(target, "/dev/shm/", 9) == 0;
    }
  }
  if (d)
    closedir(d);
  return n;
}

/* --- the cluster: 3 active workers out of every child started ------------*/

typedef struct cluster {
  dq_config *cfg;
  dq_context *ctx;
  worker_procs *wp;
  char cfg_file[256];
  char *argv[5];
  char exe[1024];
  size_t active[N_WORKERS]; /* worker_procs indices */
  const char *urls[N_WORKERS];
  long base_threads[MAX_CHILDREN], base_fds[MAX_CHILDREN],
      base_socks[MAX_CHILDREN]; /* at its start */
  char text[512];
} cluster;

static void record_baseline(cluster *c, size_t child) {
  if (child >= MAX_CHILDREN)
    die("too many worker processes");
  /* A worker that just printed its listening line may still be starting
   * threads: take the figure once it holds still. */
  long t = -2, f = -2, t2, f2;
  for (int same = 0, i = 0; same < 10 && i < 300; i++) {
    proc_usage(worker_procs_pid(c->wp, child), &t2, &f2);
    same = t2 == t && f2 == f ? same + 1 : 0;
    t = t2;
    f = f2;
    usleep(5000);
  }
  long socks;
  proc_usage3(worker_procs_pid(c->wp, child), &t, &f, &socks);
  c->base_threads[child] = t;
  c->base_fds[child] = f;
  c->base_socks[child] = socks;
}

static void cluster_refresh(cluster *c) {
  for (size_t i = 0; i < N_WORKERS; i++)
    c->urls[i] = worker_procs_url(c->wp, c->active[i]);
}

static void context_open(cluster *c) {
  dq_error err;
  if (dq_config_parse(c->text, "fault", &c->cfg, &err) < 0 ||
      dq_context_new(c->cfg, &c->ctx, &err) < 0)
    die("context: %s", err.message);
}

static void context_close(cluster *c) {
  dq_context_free(c->ctx);
  dq_config_free(c->cfg);
  c->ctx = NULL;
  c->cfg = NULL;
}

static void cluster_start(cluster *c) {
  memset(c, 0, sizeof *c);
  const char *t = transport();
  snprintf(c->text, sizeof c->text,
           "[dq]\ntransport = %s\n[executor]\nmax_task_attempts = 3\n"
           "[transport.%s]\ndeadline_ms = %d\nkeepalive_ms = %d\n",
           t, t, DEADLINE_MS, KEEPALIVE_MS);
  context_open(c);
  const char *top = getenv("abs_top_builddir");
  if (top == NULL)
    die("abs_top_builddir is not set: run through make check");
  const char *tmp = getenv("TMPDIR");
  snprintf(c->cfg_file, sizeof c->cfg_file, "%s/dq-retry.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(c->cfg_file);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
  if (f == NULL || fputs(c->text, f) < 0 || fclose(f) != 0)
    die("cannot write %s", c->cfg_file);
  snprintf(cfg_path, sizeof cfg_path, "%s", c->cfg_file);
  snprintf(c->exe, sizeof c->exe, "%s/tools/dq", top);
  c->argv[0] = c->exe;
  c->argv[1] = (char *)"--config";
  c->argv[2] = c->cfg_file;
  c->argv[3] = (char *)"worker";
  c->argv[4] = NULL;
  dq_error err;
  if (worker_procs_new(&c->wp, &err) < 0 ||
      worker_procs_spawn(c->wp, c->argv, N_WORKERS, 30000, &err) < 0)
    die("worker processes: %s", err.message);
  all_workers = c->wp;
  for (size_t i = 0; i < N_WORKERS; i++) {
    c->active[i] = i;
    record_baseline(c, i);
  }
  cluster_refresh(c);
}

/* Replaces active worker v (dead, or about to be) with a fresh process. */
static void cluster_replace(cluster *c, size_t v) {
  dq_error err;
  worker_procs_kill(c->wp, c->active[v], SIGKILL);
  if (worker_procs_spawn(c->wp, c->argv, 1, 30000, &err) < 0)
    die("replacement worker: %s", err.message);
  c->active[v] = worker_procs_count(c->wp) - 1;
  record_baseline(c, c->active[v]);
  cluster_refresh(c);
}

/* Waits until no active worker but `skip` holds a task; returns what is
 * left after `secs`. */
static long wait_no_tasks(cluster *c, long skip, double secs) {
  double end = now_s() + secs;
  long left;
  do {
    left = 0;
    for (size_t i = 0; i < N_WORKERS; i++) {
      if ((long)i == skip)
        continue;
      dq_error err;
      long n = worker_procs_task_count(c->wp, c->active[i], 5000, &err);
      if (n < 0)
        die("task count of %s: %s", c->urls[i], err.message);
      left += n;
    }
    if (left == 0)
      return 0;
    usleep(10000);
  } while (now_s() < end);
  return left;
}

/* --- a query in its own thread, so that the main thread can signal -------*/

enum phase { P_NONE, P_STARTING, P_STARTED, P_ANSWER, P_ENDED };

typedef struct qrun {
  dq_context *ctx;
  const dq_plan *plan;
  const char *const *urls;
  int hold_after_first;  /* wait for `go` after the first batch */
  _Atomic int go;
  _Atomic int phase;
  int rc;
  dq_error err;
  result_text got;
  uint32_t attempt;
  size_t n_losses;
  double t0, t_end;
  pthread_t th;
} qrun;

static void *qrun_main(void *arg) {
  qrun *r = arg;
  dq_query *q = NULL;
  dq_batch *b;
  r->t0 = now_s();
  atomic_store(&r->phase, P_STARTING);
  r->rc = dq_query_start(r->ctx, r->plan, r->urls, N_WORKERS, &q, &r->err);
  if (r->rc == 0) {
    atomic_store(&r->phase, P_STARTED);
    int n = 0;
    while ((r->rc = dq_query_next(q, &b, &r->err)) == 0 && b != NULL) {
      result_text_add(&r->got, b);
      dq_batch_unref(b);
      if (++n == 1) {
        atomic_store(&r->phase, P_ANSWER);
        while (r->hold_after_first && !atomic_load(&r->go))
          usleep(200);
      }
    }
    r->attempt = dq_query_attempt(q);
    r->n_losses = dq_query_n_losses(q);
    for (size_t i = 0; i < r->n_losses; i++) {
      dq_worker_loss l;
      char msg[1024];
      if (dq_query_loss_info(q, i, &l) == 0)
        printf("  lost in attempt %u%s at %.3f s: %s: %s\n", l.attempt,
               l.retried ? " (retried)" : "", (double)l.at_ns / 1e9,
               dq_strerror(l.reason.code),
               dq_error_format(&l.reason, msg, sizeof msg));
    }
    dq_query_close(q);
  }
  r->t_end = now_s();
  atomic_store(&r->phase, P_ENDED);
  return NULL;
}

static void qrun_start(qrun *r, cluster *c, const dq_plan *p) {
  r->ctx = c->ctx;
  r->plan = p;
  r->urls = c->urls;
  dq_error_clear(&r->err);
  if (pthread_create(&r->th, NULL, qrun_main, r) != 0)
    die("pthread_create");
}

static void qrun_wait(qrun *r, int phase, double secs, const char *what) {
  double end = now_s() + secs;
  while (atomic_load(&r->phase) < phase) {
    if (now_s() > end)
      die("%s: the query is stuck (phase %d, waited %.1f s for %d)", what,
          atomic_load(&r->phase), secs, phase);
    usleep(500);
  }
}

/* --- the queries ------------------------------------------------------------*/

typedef struct query {
  const char *name;
  dq_plan *plan;
  result_text want;
  double base_s; /* fault-free time on the cluster */
} query;

static int collect(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  result_text_add(ctx, b);
  return 0;
}

static void queries_load(cluster *c, query *qs, size_t *n) {
  const char *const *names = dq_tpch_query_names();
  dq_error err;
  *n = 0;
  for (size_t i = 0; names[i] != NULL && *n < MAX_QUERIES; i++) {
    query *q = &qs[(*n)++];
    memset(q, 0, sizeof *q);
    q->name = names[i];
    dq_plan *lp;
    if (dq_tpch_query_plan(q->name, SCALE, SEED, 0, 0, &lp, &err) < 0 ||
        dq_tpch_query_plan(q->name, SCALE, SEED, N_WORKERS, 0, &q->plan,
                           &err) < 0)
      die("%s: %s", q->name, err.message);
    if (dq_plan_run_local(lp, collect, &q->want, &err) < 0)
      die("local %s: %s", q->name, err.message);
    dq_plan_free(lp);
    /* Fault-free: the answer must match, and the time is the yardstick
     * for "running" faults and for the recovery cost. */
    qrun r = {0};
    qrun_start(&r, c, q->plan);
    qrun_wait(&r, P_ENDED, 120, q->name);
    pthread_join(r.th, NULL);
    if (r.rc < 0)
      die("%s without faults: %s", q->name, r.err.message);
    if (!result_text_equal(&q->want, &r.got))
      die("%s without faults: the answer differs from the local one",
          q->name);
    q->base_s = r.t_end - r.t0;
    result_text_free(&r.got);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

enum moment { M_DELIVERY, M_RUNNING, M_ANSWER, M_N };
static const char *const moment_names[M_N] = {"during plan delivery",
                                              "while running",
                                              "after the answer began"};

/* One query with one fault; returns its extra seconds over base_s. */
static double faulted_query(cluster *c, query *q, long i) {
  size_t v = rnd() % N_WORKERS;
  int sig = rnd() % 2 ? SIGKILL : SIGSTOP;
  enum moment m = (enum moment)(rnd() % M_N);
  double frac = (double)(rnd() % 1000) / 1000.0;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  pid_t pid = worker_procs_pid(c->wp, c->active[v]);
  qrun r = {0};
  const char *when = "";
  r.hold_after_first = m == M_ANSWER;
  if (m == M_DELIVERY)
    worker_procs_kill(c->wp, c->active[v], SIGSTOP);
  qrun_start(&r, c, q->plan);
  if (m == M_DELIVERY) {
    qrun_wait(&r, P_STARTING, 10, "delivery");
    usleep((useconds_t)(frac * 50000));
    when = atomic_load(&r.phase) == P_STARTING ? "delivering plans" : "later";
    if (sig == SIGKILL)
      worker_procs_kill(c->wp, c->active[v], SIGKILL);
  } else if (m == M_RUNNING) {
    usleep((useconds_t)(frac * q->base_s * 1e6));
    int ph = atomic_load(&r.phase);
    when = ph == P_STARTING  ? "delivering plans"
           : ph == P_STARTED ? "running"
           : ph == P_ANSWER  ? "answering"
                             : "after its end";
    worker_procs_kill(c->wp, c->active[v], sig);
  } else {
    qrun_wait(&r, P_ANSWER, 60, "answer");
    when = "answering";
    worker_procs_kill(c->wp, c->active[v], sig);
    usleep((useconds_t)(frac * 2000));
    atomic_store(&r.go, 1);
  }
  qrun_wait(&r, P_ENDED, 60, q->name);
  pthread_join(r.th, NULL);
  double extra = (r.t_end - r.t0) - q->base_s;
  char msg[1024];
  printf("query %ld: %s, %s worker %zu %s %s (%.0f%%: %s): %s in %.3f s "
         "(%+.3f s), attempt %u, %zu loss%s\n",
         i + 1, q->name, sig == SIGKILL ? "SIGKILL" : "SIGSTOP", v, url,
         moment_names[m], frac * 100, when, r.rc ? dq_strerror(r.rc) : "ok",
         r.t_end - r.t0, extra, r.attempt, r.n_losses,
         r.n_losses == 1 ? "" : "es");
  if (r.rc < 0)
    failf("query %ld (%s): failed although %d workers survived: %s", i + 1,
          q->name, N_WORKERS - 1, dq_error_format(&r.err, msg, sizeof msg));
  else if (!result_text_equal(&q->want, &r.got))
    failf("query %ld (%s): the answer differs from the local one", i + 1,
          q->name);
  result_text_free(&r.got);
  if (wait_no_tasks(c, (long)v, 3.0) != 0)
    failf("query %ld (%s): the surviving workers still hold tasks 3 s after "
          "it ended", i + 1, q->name);
  (void)pid;
  cluster_replace(c, v);
  return extra;
}

/* With the coordinator's connections closed, every live worker is back to
 * the threads and the fds other than sockets it started with, and maps
 * nothing in /dev/shm.  Sockets may exceed the start by the connections
 * between live workers (a worker keeps a channel to each peer it read
 * from, kept by the transport: grpc keeps one connection per peer URL,
 * and serves each peer's): at most 2 per live peer, whatever the number of
 * queries and faults, where a leak per query or per lost peer would grow
 * with them. */
#define PEER_SOCKETS (2 * (N_WORKERS - 1))
static void check_workers_clean(cluster *c) {
  for (size_t i = 0; i < N_WORKERS; i++) {
    size_t child = c->active[i];
    pid_t pid = worker_procs_pid(c->wp, child);
    long t = 0, f = 0, sk = 0, base_other = c->base_fds[child] -
                                             c->base_socks[child];
    for (int k = 0; k < 300; k++) {
      proc_usage3(pid, &t, &f, &sk);
      if (t <= c->base_threads[child] && f - sk <= base_other &&
          sk <= c->base_socks[child] + PEER_SOCKETS)
        break;
      usleep(10000);
    }
    long shm = proc_dev_shm(pid);
    printf("worker %zu %s: threads %ld (at start %ld), fds %ld of which "
           "%ld sockets (at start %ld, %ld), /dev/shm entries %ld\n",
           i, c->urls[i], t, c->base_threads[child], f, sk,
           c->base_fds[child], c->base_socks[child], shm);
    int bad = t > c->base_threads[child] || f - sk > base_other ||
              sk > c->base_socks[child] + PEER_SOCKETS;
    if (bad) {
      char path[64], link[96], target[256];
      snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
      DIR *d = opendir(path);
      struct dirent *e;
      while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
          continue;
        snprintf(link, sizeof link, "%s/%.20s", path, e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        target[k > 0 ? k : 0] = '\0';
        printf("  fd %s -> %s\n", e->d_name, target);
      }
      if (d)
        closedir(d);
    }
    if (bad)
      failf("worker %s kept %ld threads and %ld fds, %ld of them sockets "
            "(it started with %ld, %ld and %ld; up to %d sockets more may "
            "connect it to its peers)",
            c->urls[i], t, f, sk, c->base_threads[child], c->base_fds[child],
            c->base_socks[child], PEER_SOCKETS);
    if (shm != 0)
      failf("worker %s holds %ld /dev/shm entries", c->urls[i], shm);
  }
}

/* A lost worker is avoided: the query that lost it runs again without
 * it; the next one with the same list skips it at once (no attempt, no
 * loss).  Then a replacement is used. */
static void avoid_list(cluster *c, query *q) {
  worker_procs_kill(c->wp, c->active[0], SIGKILL);
  for (int round = 0; round < 2; round++) {
    qrun r = {0};
    qrun_start(&r, c, q->plan);
    qrun_wait(&r, P_ENDED, 60, "avoid");
    pthread_join(r.th, NULL);
    printf("%s with a dead worker in the list: %s, attempt %u, %zu "
           "loss%s\n",
           round == 0 ? "first query" : "next query",
           r.rc ? dq_strerror(r.rc) : "ok", r.attempt, r.n_losses,
           r.n_losses == 1 ? "" : "es");
    if (r.rc < 0 || !result_text_equal(&q->want, &r.got))
      failf("avoid: the query on the survivors failed or was wrong");
    else if (round == 1 && (r.attempt != 1 || r.n_losses != 0))
      failf("avoid: the next query asked the lost worker again");
    result_text_free(&r.got);
  }
  cluster_replace(c, 0);
}

/* All three workers killed under a query: a clear error, or (when the
 * kill came after the workers' part was done) the right answer. */
static void all_dead(cluster *c, query *q, int before_start) {
  qrun r = {0};
  if (before_start)
    for (size_t i = 0; i < N_WORKERS; i++)
      worker_procs_kill(c->wp, c->active[i], SIGKILL);
  qrun_start(&r, c, q->plan);
  if (!before_start) {
    usleep((useconds_t)((double)(rnd() % 300) / 1000.0 * q->base_s * 1e6));
    for (size_t i = 0; i < N_WORKERS; i++)
      worker_procs_kill(c->wp, c->active[i], SIGKILL);
  }
  qrun_wait(&r, P_ENDED, 60, "all workers dead");
  pthread_join(r.th, NULL);
  char msg[1024];
  dq_error_format(&r.err, msg, sizeof msg);
  printf("all workers killed %s (%s): %s in %.3f s: %s\n",
         before_start ? "before the query" : "under the query", q->name,
         r.rc ? dq_strerror(r.rc) : "ok", r.t_end - r.t0,
         r.rc ? msg : "the answer was complete");
  if (r.rc == 0) {
    if (before_start || !result_text_equal(&q->want, &r.got))
      failf("all workers dead: the query %s",
            before_start ? "succeeded" : "gave a wrong answer");
  } else if ((r.rc != DQ_EUNAVAILABLE && r.rc != DQ_ETIMEDOUT) ||
             (strstr(msg, "every worker of the query was lost") == NULL &&
              strstr(msg, "could be reached") == NULL &&
              strstr(msg, "lost in each of") == NULL)) {
    failf("all workers dead: the error does not say so: %s: %s",
          dq_strerror(r.rc), msg);
  }
  result_text_free(&r.got);
  for (size_t i = 0; i < N_WORKERS; i++)
    cluster_replace(c, i);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(transport(), "inmem") == 0) {
    printf("SKIP: inmem workers are threads, there is no process to kill\n");
    return 77;
  }
  long n_queries = env_long("DQ_FAULT_QUERIES", 10);
  if (n_queries < 0 || n_queries > MAX_CHILDREN - 2 * N_WORKERS - 2) {
    printf("FAIL: DQ_FAULT_QUERIES=%ld: from 0 to %d\n", n_queries,
           MAX_CHILDREN - 2 * N_WORKERS - 2);
    return 1;
  }
  rng = (uint64_t)env_long("DQ_FAULT_SEED", (long)time(NULL));
  printf("fault_retry over %s: %ld queries, DQ_FAULT_SEED=%llu\n",
         transport(), n_queries, (unsigned long long)rng);
  rng = rng * 0x9E3779B97F4A7C15ULL + 1;
  cluster c;
  cluster_start(&c);
  query qs[MAX_QUERIES];
  size_t nq;
  queries_load(&c, qs, &nq);
  for (size_t i = 0; i < nq; i++)
    printf("%s: %.3f s without faults, %zu result rows\n", qs[i].name,
           qs[i].base_s, qs[i].want.n);
  double *extra = calloc((size_t)(n_queries > 0 ? n_queries : 1),
                         sizeof *extra);
  if (extra == NULL)
    die("out of memory");
  for (long i = 0; i < n_queries; i++)
    extra[i] = faulted_query(&c, &qs[rnd() % nq], i);
  double p50 = percentile(extra, (size_t)n_queries, 0.5);
  double p99 = percentile(extra, (size_t)n_queries, 0.99);
  printf("recovery over %s: %ld faulted queries, extra seconds p50 %.3f, "
         "p99 %.3f, max %.3f\n",
         transport(), n_queries, p50, p99,
         n_queries ? extra[n_queries - 1] : 0.0);
  free(extra);
  avoid_list(&c, &qs[rnd() % nq]);
  /* The coordinator's pooled connections go with its context. */
  context_close(&c);
  check_workers_clean(&c);
  context_open(&c);
  all_dead(&c, &qs[rnd() % nq], 1);
  all_dead(&c, &qs[rnd() % nq], 0);
  for (size_t i = 0; i < nq; i++) {
    dq_plan_free(qs[i].plan);
    result_text_free(&qs[i].want);
  }
  all_workers = NULL;
  cfg_path[0] = '\0';
  context_close(&c);
  int bad = worker_procs_stop(c.wp, 10000, "fault_retry");
  unlink(c.cfg_file);
  if (bad != 0)
    failf("%d worker process(es) did not exit 0 on SIGTERM", bad);
  if (failures) {
    printf("FAIL: fault_retry over %s: %d failure(s)\n", transport(),
           failures);
    return 1;
  }
  printf("PASS: fault_retry over %s\n", transport());
  return 0;
}
