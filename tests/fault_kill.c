/* fault_kill.c — worker processes that die or freeze under a query (issue 9,
 * item 2), over the transport in $DQ_TEST_TRANSPORT (grpc or shm).  Owns
 * the fault scenarios; tests/fault-kill.test runs them.  The coordinator
 * runs with [executor] max_task_attempts = 1 and worker_avoid_ms = 0: this
 * is how a loss is reported when no retry follows (tests/fault_retry.c
 * checks the retries).
 *
 * `fault_kill kill` — DQ_FAULT_ROUNDS rounds (default 1), each of which
 * SIGKILLs a randomly chosen one of 3 workers (seeded: DQ_FAULT_SEED,
 * printed) at each of these points:
 *
 *   delivery   while dq_query_start is delivering plans (the victim is
 *              stopped first so delivery is certain to be waiting on it,
 *              then killed): dq_query_start fails within 2 s naming it;
 *   stream     mid-stream, after 1-8 batches of a scan coalesced into the
 *              head, or 50-300 ms into a shuffle between workers: the query
 *              fails within 2 s naming the victim (for the shuffle the
 *              error may reach us through the surviving consumer tasks);
 *   finish     after the head has its whole answer, before the end of
 *              stream (which collects metrics from every task) and close:
 *              the answer stays right, both return within 2 s;
 *   drop       concurrently with dq_query_close of an early drop: close
 *              returns within 2 s.
 *
 * After each: the surviving workers hold no task within 2 s, a query on
 * them alone gives the single-process answer, a replacement worker is
 * started for the next scenario, and this process's threads and fds are
 * back to the baseline (plus one pipe per replacement worker, which
 * worker_procs keeps open until it reaps its children).
 *
 * `fault_kill stop` — SIGSTOP instead, with `deadline_ms = 1000`,
 * `keepalive_ms = 500` (grpc: on both sides; shm: the client's):
 *
 *   delivery   plan delivery to a stopped worker fails naming it within
 *              min(2 * keepalive_ms, deadline_ms) + 1 s (the keepalive
 *              usually wins: DQ_EUNAVAILABLE; else DQ_ETIMEDOUT); and
 *              with the keepalive off, DQ_ETIMEDOUT within deadline_ms
 *              + 1 s;
 *   stream     a worker stopped mid-stream turns the query into an error
 *              naming it within keepalive_ms + min(keepalive_ms, 20 s) + 1 s
 *              (a ping, its timeout, slack).
 *
 * Over shm the same bounds hold with its own mechanisms: deadline_ms
 * bounds every reply on a control connection (DQ_ETIMEDOUT), and a stream
 * silent for keepalive_ms checks whether its worker's process is stopped
 * (DQ_EUNAVAILABLE naming it); docs/shm.md.
 *
 * Then SIGCONT: the worker frees the query's tasks, serves the next query,
 * and exits 0 on SIGTERM at the end.  (Should a bound be missed, the test
 * fails, then checks the rest anyway: dq_query_cancel unblocks a stream
 * within 1 s, a delivery resumes on SIGCONT with the whole answer.)
 *
 * Every blocking step runs under a watchdog: a hang is a FAIL naming the
 * step, never a stuck test. */
#define _GNU_SOURCE
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

#include "harness.h"

#define N_WORKERS 3
#define KILL_BOUND_S 2.0 /* a killed worker's query fails within this */

static int is_grpc(void) { return strcmp(dqt_transport(), "grpc") == 0; }

static int failures;

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

static uint64_t rng;
static uint64_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

/* --- the cluster: 3 worker processes, each killed one replaced ---------*/

typedef dqt_cluster cluster;

static void cluster_start(cluster *c, const char *extra) {
  /* One attempt, no avoid list: these scenarios check how a loss is
   * reported when it is not retried (tests/fault_retry.c checks retries). */
  char text[512];
  snprintf(text, sizeof text,
           "[executor]\nmax_task_attempts = 1\nworker_avoid_ms = 0\n%s",
           extra ? extra : "");
  dqt_cluster_up(c, N_WORKERS, DQT_WORKERS_PROCESSES, text);
}

/* Replaces worker v (dead) with a fresh process. */
static void cluster_replace(cluster *c, size_t v) {
  dq_error err;
  if (dqt_cluster_replace(c, v, &err) < 0)
    dqt_fail("replacement worker: %s", err.message);
}

static void cluster_stop(cluster *c) {
  int bad = dqt_cluster_stop(c, "fault_kill");
  if (bad != 0)
    failf("%d worker process(es) did not exit 0 on SIGTERM", bad);
}

/* Waits until no worker (but `skip`, if >= 0) holds a task. */
static long wait_no_tasks(cluster *c, long skip, double secs) {
  return dqt_cluster_wait_idle(c, skip, (int)(secs * 1000));
}

/* --- plans: the standard ones (tests/harness/plans.h); a scan of lineitem
 * over many tasks (delivery takes a while) is dqt_limit_plan ------------*/

/* scan --shuffle--> per-order groups --coalesce--> totals: workers read
 * each other, so a kill is seen by surviving tasks first. */
static dq_plan *shuffle_plan(double scale) {
  return dqt_shuffle_plan(scale, N_WORKERS, 2, 0);
}

/* Rows of lineitem at the scale, counted in this process. */
static int64_t lineitem_rows(double scale) {
  dq_plan *p = dqt_coalesce_plan(scale, 1, 1, 1); /* count(*) comes first */
  result_text r = {0};
  dqt_run_local(p, &r);
  int64_t n = atoll(r.rows[0]);
  result_text_free(&r);
  dq_plan_free(p);
  return n;
}

/* Q6 on the given workers equals the single-process answer. */
static void check_next_query(cluster *c, const char *const *urls, size_t n,
                             const char *when) {
  dq_plan *lp, *dp;
  dq_error err;
  if (dq_tpch_query_plan("q6", 0.01, 3, 0, 0, &lp, &err) < 0 ||
      dq_tpch_query_plan("q6", 0.01, 3, (uint32_t)n, 0, &dp, &err) < 0)
    dqt_fail("q6: %s", err.message);
  result_text want = {0}, got = {0};
  dqt_run_local(lp, &want);
  int rc = dqt_run_query(c->ctx, dp, urls, n, &got, &err);
  char msg[1024];
  if (rc < 0)
    failf("%s: the next query on %zu workers failed: %s", when, n,
          dq_error_format(&err, msg, sizeof msg));
  else if (!result_text_equal(&want, &got))
    failf("%s: the next query on %zu workers gave a wrong answer", when, n);
  result_text_free(&want);
  result_text_free(&got);
  dq_plan_free(lp);
  dq_plan_free(dp);
}

/* --- /proc figures of this process ----------------------------------------*/

/* Threads are counted without gRPC's timer threads, which are reported
 * apart (usage.h). */
static long grpc_timer_threads(void) {
  return dqt_threads_named(0, DQT_GRPC_TIMER_PREFIX);
}

static long timers_at_baseline;

static long base_threads, base_fds, base_sockets, base_pipes;

static void take_baseline(void) {
  timers_at_baseline = grpc_timer_threads();
  dqt_self_settle(1, &base_threads, &base_fds);
  dqt_self_fd_kinds(&base_sockets, &base_pipes);
}

static void check_hygiene(cluster *c, const char *when) {
  long t, f, want_fds = base_fds + c->replaced;
  dqt_self_wait_down(1, base_threads, want_fds, 5000, &t, &f);
  long sockets, pipes;
  dqt_self_fd_kinds(&sockets, &pipes);
  for (int i = 0; i < 200 && sockets > base_sockets; i++) {
    usleep(10000);
    dqt_self_fd_kinds(&sockets, &pipes);
  }
  printf("  %s: coordinator sockets %ld (baseline %ld), pipes %ld (baseline "
         "%ld + %d)\n",
         when, sockets, base_sockets, pipes, base_pipes, c->replaced);
  if (sockets > base_sockets || pipes > base_pipes + c->replaced)
    failf("%s: the coordinator holds %ld sockets and %ld pipes (want <= "
          "%ld, <= %ld)",
          when, sockets, pipes, base_sockets, base_pipes + c->replaced);
  long timers = grpc_timer_threads();
  printf("  %s: coordinator threads %ld (baseline %ld) + %ld gRPC timer "
         "threads (%ld at baseline), fds %ld (baseline %ld + %d worker "
         "pipes)\n",
         when, t, base_threads, timers, timers_at_baseline, f, base_fds,
         c->replaced);
  if (timers > timers_at_baseline + 2)
    failf("%s: gRPC's timer threads went from %ld to %ld", when,
          timers_at_baseline, timers);
  if (t > base_threads || f > want_fds)
    failf("%s: the coordinator has %ld threads and %ld fds (want <= %ld, "
          "<= %ld)",
          when, t, f, base_threads, want_fds);
}

/* --- a query in its own thread, so that the main thread can kill, stop and
 * watch it ----------------------------------------------------------------*/

enum phase { P_NONE, P_STARTING, P_STARTED, P_BATCHES, P_ANSWER, P_ENDED,
             P_CLOSED };

typedef struct qrun {
  cluster *c;
  const dq_plan *plan;
  int batches_then_signal;  /* P_BATCHES after this many batches */
  int hold_after_answer;    /* wait for `go` after the first batch */
  int drop_after_first;     /* close after the first batch (when go) */
  int hold_close;           /* wait for may_close before closing */
  _Atomic int may_close;
  _Atomic int phase;
  _Atomic int go;
  _Atomic(dq_query *) q;
  int rc;                   /* first error (or 0) */
  dq_error err;
  int64_t rows;
  result_text got;
  double t_failed, t_ended, t_close0, t_closed;
  pthread_t th;
} qrun;

static void *qrun_main(void *arg) {
  qrun *r = arg;
  dq_query *q;
  dq_batch *b;
  atomic_store(&r->phase, P_STARTING);
  r->rc = dq_query_start(r->c->ctx, r->plan, r->c->urls, N_WORKERS, &q,
                         &r->err);
  if (r->rc < 0) {
    r->t_failed = dqt_now_s();
    atomic_store(&r->phase, P_CLOSED);
    return NULL;
  }
  atomic_store(&r->q, q);
  atomic_store(&r->phase, P_STARTED);
  int n = 0;
  while ((r->rc = dq_query_next(q, &b, &r->err)) == 0 && b != NULL) {
    r->rows += dq_batch_n_rows(b);
    result_text_add(&r->got, b);
    dq_batch_unref(b);
    n++;
    if (n == r->batches_then_signal)
      atomic_store(&r->phase, P_BATCHES);
    if (n == 1 && (r->hold_after_answer || r->drop_after_first)) {
      atomic_store(&r->phase, P_ANSWER);
      while (!atomic_load(&r->go))
        usleep(200);
      if (r->drop_after_first)
        break;
    }
  }
  if (r->rc < 0)
    r->t_failed = dqt_now_s();
  r->t_ended = dqt_now_s();
  atomic_store(&r->phase, P_ENDED);
  /* dq_query_cancel from another thread must have returned before the
   * query is freed: "any time" ends where dq_query_close begins. */
  while (r->hold_close && !atomic_load(&r->may_close))
    usleep(200);
  r->t_close0 = dqt_now_s();
  dq_query_close(q);
  r->t_closed = dqt_now_s();
  atomic_store(&r->q, NULL);
  atomic_store(&r->phase, P_CLOSED);
  return NULL;
}

static void qrun_start(qrun *r, cluster *c, const dq_plan *p) {
  r->c = c;
  r->plan = p;
  dq_error_clear(&r->err);
  if (pthread_create(&r->th, NULL, qrun_main, r) != 0)
    dqt_fail("pthread_create");
}

/* Waits for the phase (or a later one); dies on a hang. */
static void qrun_wait(qrun *r, int phase, double secs, const char *what) {
  double end = dqt_now_s() + secs;
  while (atomic_load(&r->phase) < phase) {
    if (dqt_now_s() > end)
      dqt_fail("%s: the query is stuck (phase %d, waited %.1f s for %d)", what,
          atomic_load(&r->phase), secs, phase);
    usleep(500);
  }
}

static void qrun_join(qrun *r, const char *what) {
  qrun_wait(r, P_CLOSED, 10, what);
  pthread_join(r->th, NULL);
  result_text_free(&r->got);
}

/* The query failed (within bound seconds of t0) naming url. */
static void check_failed(qrun *r, const char *url, double t0, double bound,
                         const char *what) {
  char msg[1024];
  dq_error_format(&r->err, msg, sizeof msg);
  double took = r->t_failed - t0;
  printf("  %s: %s after %.3f s%s: %s\n", what,
         r->rc < 0 ? dq_strerror(r->rc) : "no error", r->rc < 0 ? took : 0,
         r->rc < 0 && !r->err.has_task ? " (no task key)" : "",
         r->rc < 0 ? msg : "");
  if (r->rc >= 0)
    failf("%s: the query did not fail", what);
  else if (took > bound)
    failf("%s: the query failed %.3f s after the fault (bound %.1f s)", what,
          took, bound);
  else if (strstr(msg, url) == NULL)
    failf("%s: the error does not name the worker %s: %s", what, url, msg);
}

/* --- SIGKILL scenarios -----------------------------------------------------*/

/* Kills active worker v, checks the survivors, replaces it. */
static void after_kill(cluster *c, size_t v, const char *what) {
  if (wait_no_tasks(c, (long)v, 2.0) != 0)
    failf("%s: the surviving workers still hold tasks 2 s after the query "
          "closed", what);
  const char *alive[N_WORKERS - 1];
  for (size_t i = 0, k = 0; i < N_WORKERS; i++)
    if (i != v)
      alive[k++] = c->urls[i];
  check_next_query(c, alive, N_WORKERS - 1, what);
  cluster_replace(c, v);
  check_hygiene(c, what);
}

static void kill_delivery(cluster *c, const dq_plan *many) {
  size_t v = rnd() % N_WORKERS;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  printf("kill during plan delivery: worker %zu %s\n", v, url);
  dqt_cluster_kill(c, v, SIGSTOP);
  qrun r = {0};
  qrun_start(&r, c, many);
  qrun_wait(&r, P_STARTING, 5, "delivery");
  usleep(100000 + (useconds_t)(rnd() % 200000)); /* delivery waits on v */
  int phase = atomic_load(&r.phase);
  double t0 = dqt_now_s();
  dqt_cluster_kill(c, v, SIGKILL);
  qrun_wait(&r, P_CLOSED, 10, "delivery");
  if (phase != P_STARTING)
    failf("delivery: dq_query_start returned while a worker was stopped");
  check_failed(&r, url, t0, KILL_BOUND_S, "delivery");
  qrun_join(&r, "delivery");
  after_kill(c, v, "delivery");
}

static double shuffle_s; /* how long the stream scenario's shuffle runs */
static result_text shuffle_answer; /* and what it answers */

static void kill_stream(cluster *c, const dq_plan *scan,
                        const dq_plan *shuffle) {
  size_t v = rnd() % N_WORKERS;
  int use_shuffle = (int)(rnd() % 2);
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  qrun r = {0};
  double t0;
  if (use_shuffle) {
    /* 10-60% into the shuffle's duration (measured at warm-up); if it
     * still ends first (a loaded machine's timing), run it again sooner. */
    double frac = 0.1 + 0.5 * (double)(rnd() % 1000) / 1000.0;
    for (int attempt = 0;; attempt++) {
      unsigned us = (unsigned)(shuffle_s * frac * 1e6);
      printf("kill mid-stream (shuffle between workers, %.0f ms in): worker "
             "%zu %s\n", us / 1000.0, v, url);
      memset(&r, 0, sizeof r);
      qrun_start(&r, c, shuffle);
      qrun_wait(&r, P_STARTED, 10, "stream");
      usleep(us);
      if (atomic_load(&r.phase) < P_ENDED)
        break;
      qrun_join(&r, "stream");
      if (attempt == 4)
        dqt_fail("stream: the shuffle ended before the kill 5 times");
      printf("  the shuffle ended before the kill; again, sooner\n");
      frac /= 2;
    }
  } else {
    int k = 1 + (int)(rnd() % 8);
    printf("kill mid-stream (after %d batches): worker %zu %s\n", k, v, url);
    r.batches_then_signal = k;
    qrun_start(&r, c, scan);
    qrun_wait(&r, P_BATCHES, 10, "stream");
  }
  t0 = dqt_now_s();
  dqt_cluster_kill(c, v, SIGKILL);
  qrun_wait(&r, P_ENDED, 10, "stream");
  if (use_shuffle && r.rc == 0) {
    /* The victim's tasks had delivered all they had to deliver (under load
     * the stages do not keep pace): the query may then end well, but only
     * with the whole answer.  A lost stream taken for its end would change
     * the counts. */
    printf("  stream: the query completed %.3f s after the kill (the "
           "victim's output was already delivered); answer %s\n",
           r.t_ended - t0,
           result_text_equal(&shuffle_answer, &r.got) ? "right" : "WRONG");
    if (!result_text_equal(&shuffle_answer, &r.got))
      failf("stream: a query that lost worker %s completed with a wrong "
            "answer", url);
  } else {
    check_failed(&r, url, t0, KILL_BOUND_S, "stream");
  }
  qrun_wait(&r, P_CLOSED, 10, "stream");
  if (r.t_closed - r.t_close0 > KILL_BOUND_S)
    failf("stream: dq_query_close took %.3f s", r.t_closed - r.t_close0);
  qrun_join(&r, "stream");
  after_kill(c, v, "stream");
}

static void kill_finish(cluster *c, const dq_plan *agg,
                        const result_text *want) {
  size_t v = rnd() % N_WORKERS;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  printf("kill during cleanup (answer out, end of stream and close to "
         "come): worker %zu %s\n", v, url);
  qrun r = {0};
  r.hold_after_answer = 1;
  qrun_start(&r, c, agg);
  qrun_wait(&r, P_ANSWER, 10, "finish");
  dqt_cluster_kill(c, v, SIGKILL);
  usleep((useconds_t)(rnd() % 2000));
  double t0 = dqt_now_s();
  atomic_store(&r.go, 1);
  qrun_wait(&r, P_CLOSED, 10, "finish");
  printf("  finish: end of stream %s after %.3f s, close %.3f s\n",
         dq_strerror(r.rc), r.t_ended - t0, r.t_closed - r.t_close0);
  if (r.rc != 0)
    failf("finish: the end of a delivered answer failed: %s", r.err.message);
  if (!result_text_equal(want, &r.got))
    failf("finish: the answer changed");
  if (r.t_closed - t0 > KILL_BOUND_S)
    failf("finish: end and close took %.3f s", r.t_closed - t0);
  qrun_join(&r, "finish");
  after_kill(c, v, "finish");
}

static void kill_drop(cluster *c, const dq_plan *scan) {
  size_t v = rnd() % N_WORKERS;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  unsigned us = (unsigned)(rnd() % 1000);
  printf("kill during cleanup (early drop, kill %u us into close): worker "
         "%zu %s\n", us, v, url);
  qrun r = {0};
  r.drop_after_first = 1;
  qrun_start(&r, c, scan);
  qrun_wait(&r, P_ANSWER, 10, "drop");
  atomic_store(&r.go, 1);
  usleep(us);
  dqt_cluster_kill(c, v, SIGKILL);
  qrun_wait(&r, P_CLOSED, 10, "drop");
  printf("  drop: close took %.3f s\n", r.t_closed - r.t_close0);
  if (r.t_closed - r.t_close0 > KILL_BOUND_S)
    failf("drop: dq_query_close took %.3f s", r.t_closed - r.t_close0);
  qrun_join(&r, "drop");
  after_kill(c, v, "drop");
}

static int run_kill(void) {
  long rounds = dqt_env_long("DQ_FAULT_ROUNDS", 1);
  cluster c;
  cluster_start(&c, NULL);
  dq_plan *many = dqt_limit_plan(0.001, 36, INT64_MAX);   /* 12 tasks a worker */
  dq_plan *scan = dqt_limit_plan(1.0, N_WORKERS, INT64_MAX); /* seconds long */
  dq_plan *shuffle = shuffle_plan(0.5);
  dq_plan *agg = shuffle_plan(0.002);
  /* The answer of agg, and a warm-up so that every channel exists before
   * the baseline. */
  result_text want = {0};
  {
    qrun r = {0};
    qrun_start(&r, &c, agg);
    qrun_wait(&r, P_CLOSED, 30, "warm-up");
    if (r.rc < 0)
      dqt_fail("warm-up: %s", r.err.message);
    pthread_join(r.th, NULL);
    want = r.got; /* owned now by want */
  }
  {
    qrun r = {0};
    double t0 = dqt_now_s();
    qrun_start(&r, &c, shuffle);
    qrun_wait(&r, P_CLOSED, 60, "warm-up");
    shuffle_s = dqt_now_s() - t0;
    if (r.rc < 0 || r.got.n != 1)
      dqt_fail("warm-up: %s", r.err.message);
    pthread_join(r.th, NULL);
    shuffle_answer = r.got; /* owned now by shuffle_answer */
  }
  check_next_query(&c, c.urls, N_WORKERS, "warm-up");
  take_baseline();
  printf("baseline: coordinator threads %ld, fds %ld; the shuffle takes "
         "%.3f s\n", base_threads, base_fds, shuffle_s);
  for (long round = 0; round < rounds; round++) {
    printf("--- round %ld\n", round + 1);
    kill_delivery(&c, many);
    kill_stream(&c, scan, shuffle);
    kill_finish(&c, agg, &want);
    kill_drop(&c, scan);
  }
  result_text_free(&want);
  result_text_free(&shuffle_answer);
  dq_plan_free(many);
  dq_plan_free(scan);
  dq_plan_free(shuffle);
  dq_plan_free(agg);
  cluster_stop(&c);
  return 0;
}

/* --- SIGSTOP scenarios -----------------------------------------------------*/

#define DEADLINE_MS 1000
#define KEEPALIVE_MS 500

static void after_stop(cluster *c, size_t v, const char *what) {
  dqt_cluster_kill(c, v, SIGCONT);
  if (wait_no_tasks(c, -1, 3.0) != 0)
    failf("%s: tasks are still held 3 s after SIGCONT", what);
  check_next_query(c, c->urls, N_WORKERS, what);
}

static void stop_delivery(cluster *c, const dq_plan *many, int64_t rows) {
  size_t v = rnd() % N_WORKERS;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  printf("stop during plan delivery: worker %zu %s\n", v, url);
  dqt_cluster_kill(c, v, SIGSTOP);
  double t0 = dqt_now_s();
  qrun r = {0};
  qrun_start(&r, c, many);
  /* grpc: the keepalive (a ping unanswered for KEEPALIVE_MS after at most
   * KEEPALIVE_MS) or deadline_ms, whichever comes first, plus 1 s. */
  double bound = (is_grpc() ? (KEEPALIVE_MS * 2 < DEADLINE_MS
                                   ? KEEPALIVE_MS * 2
                                   : DEADLINE_MS)
                            : DEADLINE_MS) / 1000.0 + 1.0;
  double end = t0 + bound + 1.0;
  while (atomic_load(&r.phase) < P_STARTED && dqt_now_s() < end)
    usleep(1000);
  if (atomic_load(&r.phase) == P_STARTING) {
    double waited = dqt_now_s() - t0;
    failf("%s: plan delivery to a stopped worker did not fail within "
          "%.1f s (deadline_ms = %d, keepalive_ms = %d; %.1f s so far)",
          dqt_transport(), bound, DEADLINE_MS, KEEPALIVE_MS, waited);
    /* Let the worker go on: delivery must then complete, and the query
     * give its whole answer. */
    dqt_cluster_kill(c, v, SIGCONT);
    double tc = dqt_now_s();
    qrun_wait(&r, P_CLOSED, 10, "stop delivery");
    printf("  after SIGCONT: %s in %.3f s, %lld rows\n", dq_strerror(r.rc),
           r.t_closed - tc, (long long)r.rows);
    if (r.rc != 0 || r.rows != rows)
      failf("stop delivery: after SIGCONT the query gave %s and %lld rows "
            "(want %lld): %s",
            dq_strerror(r.rc), (long long)r.rows, (long long)rows,
            r.err.message);
    qrun_join(&r, "stop delivery");
    after_stop(c, v, "stop delivery");
    return;
  }
  qrun_wait(&r, P_CLOSED, 10, "stop delivery");
  check_failed(&r, url, t0, bound, "stop delivery");
  if (r.rc != DQ_ETIMEDOUT && r.rc != DQ_EUNAVAILABLE)
    failf("stop delivery: %s where DQ_ETIMEDOUT (deadline) or "
          "DQ_EUNAVAILABLE (keepalive) was expected",
          dq_strerror(r.rc));
  qrun_join(&r, "stop delivery");
  after_stop(c, v, "stop delivery");
}

static void stop_stream(cluster *c, const dq_plan *scan) {
  size_t v = rnd() % N_WORKERS;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  printf("stop mid-stream: worker %zu %s\n", v, url);
  qrun r = {0};
  r.batches_then_signal = 2;
  r.hold_close = 1;
  qrun_start(&r, c, scan);
  qrun_wait(&r, P_BATCHES, 10, "stop stream");
  double t0 = dqt_now_s();
  dqt_cluster_kill(c, v, SIGSTOP);
  /* keepalive: a ping every KEEPALIVE_MS, declared dead when unanswered
   * for min(KEEPALIVE_MS, 20 s) more. */
  double bound = (KEEPALIVE_MS + KEEPALIVE_MS) / 1000.0 + 1.0;
  double end = t0 + bound + 2.0;
  while (atomic_load(&r.phase) < P_ENDED && dqt_now_s() < end)
    usleep(1000);
  if (atomic_load(&r.phase) >= P_ENDED) {
    check_failed(&r, url, t0, bound, "stop stream");
  } else {
    double waited = dqt_now_s() - t0;
    failf("%s: a worker stopped mid-stream (SIGSTOP) did not turn the "
          "query into an error within %.1f s (keepalive_ms = %d, "
          "deadline_ms = %d); still waiting after %.1f s",
          dqt_transport(), bound, KEEPALIVE_MS, DEADLINE_MS, waited);
    /* A client can always give up: cancel must unblock the query. */
    double tc = dqt_now_s();
    dq_query *q = atomic_load(&r.q);
    if (q != NULL)
      dq_query_cancel(q);
    while (atomic_load(&r.phase) < P_ENDED && dqt_now_s() < tc + 1.0)
      usleep(1000);
    if (atomic_load(&r.phase) < P_ENDED) {
      failf("stop stream: dq_query_cancel did not unblock the query within "
            "1 s");
      dqt_cluster_kill(c, v, SIGCONT);
    } else {
      printf("  cancel unblocked it after %.3f s: %s\n", dqt_now_s() - tc,
             dq_strerror(r.rc));
      if (r.rc != DQ_ECANCELED)
        failf("stop stream: %s after the cancel, DQ_ECANCELED expected",
              dq_strerror(r.rc));
    }
  }
  atomic_store(&r.may_close, 1);
  qrun_wait(&r, P_CLOSED, 10, "stop stream");
  printf("  close took %.3f s (worker still stopped)\n",
         r.t_closed - r.t_close0);
  if (r.t_closed - r.t_close0 > 2.0)
    failf("stop stream: dq_query_close took %.3f s", r.t_closed - r.t_close0);
  qrun_join(&r, "stop stream");
  after_stop(c, v, "stop stream");
}

/* grpc with the keepalive off: deadline_ms alone must end plan delivery to
 * a stopped worker, with DQ_ETIMEDOUT, within deadline_ms + 1 s.  A
 * coordinator context of its own (the workers keep theirs). */
static void stop_delivery_deadline(cluster *c, const dq_plan *many) {
  char text[256];
  snprintf(text, sizeof text,
           "[dq]\ntransport = grpc\n[executor]\nmax_task_attempts = 1\n"
           "worker_avoid_ms = 0\n[transport.grpc]\ndeadline_ms = %d\n",
           DEADLINE_MS);
  dq_config *cfg;
  dq_context *ctx, *saved = c->ctx;
  dq_error err;
  if (dq_config_parse(text, "fault", &cfg, &err) < 0 ||
      dq_context_new(cfg, &ctx, &err) < 0)
    dqt_fail("context: %s", err.message);
  size_t v = rnd() % N_WORKERS;
  char url[256];
  snprintf(url, sizeof url, "%s", c->urls[v]);
  printf("stop during plan delivery, keepalive off: worker %zu %s\n", v,
         url);
  dqt_cluster_kill(c, v, SIGSTOP);
  c->ctx = ctx;
  double t0 = dqt_now_s();
  qrun r = {0};
  qrun_start(&r, c, many);
  double bound = DEADLINE_MS / 1000.0 + 1.0;
  qrun_wait(&r, P_CLOSED, bound + 5, "stop delivery, keepalive off");
  check_failed(&r, url, t0, bound, "stop delivery, keepalive off");
  if (r.rc != DQ_ETIMEDOUT)
    failf("stop delivery, keepalive off: %s where DQ_ETIMEDOUT was expected",
          dq_strerror(r.rc));
  qrun_join(&r, "stop delivery, keepalive off");
  c->ctx = saved;
  dq_context_free(ctx);
  dq_config_free(cfg);
  after_stop(c, v, "stop delivery, keepalive off");
}

static int run_stop(void) {
  char extra[128];
  snprintf(extra, sizeof extra,
           "[transport.%s]\ndeadline_ms = %d\nkeepalive_ms = %d\n",
           is_grpc() ? "grpc" : "shm", DEADLINE_MS, KEEPALIVE_MS);
  cluster c;
  cluster_start(&c, extra);
  dq_plan *many = dqt_limit_plan(0.001, 36, INT64_MAX);
  dq_plan *scan = dqt_limit_plan(1.0, N_WORKERS, INT64_MAX);
  check_next_query(&c, c.urls, N_WORKERS, "warm-up");
  take_baseline();
  stop_delivery(&c, many, lineitem_rows(0.001));
  if (is_grpc())
    stop_delivery_deadline(&c, many);
  stop_stream(&c, scan);
  check_hygiene(&c, "after the stops");
  dq_plan_free(many);
  dq_plan_free(scan);
  cluster_stop(&c);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "kill";
  if (dqt_process_transport() != 0)
    return 77;
  rng = (uint64_t)dqt_env_long("DQ_FAULT_SEED", (long)time(NULL));
  printf("fault_kill %s over %s, DQ_FAULT_SEED=%llu\n", mode, dqt_transport(),
         (unsigned long long)rng);
  rng = rng * 0x9E3779B97F4A7C15ULL + 1;
  if (strcmp(mode, "kill") == 0)
    run_kill();
  else if (strcmp(mode, "stop") == 0)
    run_stop();
  else
    dqt_fail("usage: fault_kill kill|stop");
  if (failures) {
    printf("FAIL: fault_kill %s over %s: %d failure(s)\n", mode,
           dqt_transport(), failures);
    return 1;
  }
  printf("PASS: fault_kill %s over %s\n", mode, dqt_transport());
  return 0;
}
