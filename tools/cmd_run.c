/* cmd_run.c — `dq run QUERY`: the main job of dq.  Builds a built-in query's
 * plan, starts workers (or uses running ones), runs the plan on them, and
 * prints the result as a table followed by the wall time and scan rate.
 * Workers it starts are threads of this process with inmem and `dq worker`
 * processes (tools/worker_procs.c) with any other transport; those are
 * stopped and reaped at the end, also after an error or Ctrl-C.  Also owns
 * --explain (the stage graph and where each task goes), --analyze (per-task
 * metrics), --local (the single-node baseline), --materialize and
 * --repeat (timing the query apart from data generation, as a median), the
 * progress line, and Ctrl-C, which cancels the query on every worker.
 *
 * Exit status: 0 success, 1 the query (or its setup) failed, 2 a usage
 * error, 128 + the signal number when interrupted (130 for Ctrl-C). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>

#include <dq/tpch.h>

#include "args.h"
#include "commands.h"
#include "run_plan.h"
#include "table.h"
#include "worker_procs.h"

#define EXIT_USAGE 2
/* Bounds that catch typos (--workers 40000) rather than limit anyone. */
#define MAX_WORKERS 1024
#define MAX_TASKS 65536
#define MAX_REPEAT 1000
#define DEFAULT_WORKERS 4
/* The generator's range of scale factors (libdq/tpch/tpch.h). */
#define RUN_MAX_SCALE 100000.0
#define RUN_DEFAULT_SEED UINT64_C(0)
/* How long a started worker process may take to print where it listens
 * (generous: under valgrind start-up takes seconds), and to stop after
 * SIGTERM before it is killed. */
#define PROC_START_MS 20000
#define PROC_STOP_MS 5000

/* --- The queries ------------------------------------------------------------
 * One row per query dq run knows.  A row names the plan builder and the
 * builder's own name for the query; a TPC-H query is added by writing it in
 * libdq/queries/tpch_queries.c and adding its row here.  Another family of queries
 * (say "csv:...") needs only a builder function with run_build_fn's shape. */

/* Builds the query's plan: the single-node plan when tasks is 0, else the
 * distributed plan with `tasks` tasks per distributed stage. */
typedef int (*run_build_fn)(const char *name, double scale, uint64_t seed,
                            uint32_t tasks, dq_plan **out, dq_error *err);

typedef struct run_query {
  const char *name;  /* as typed after `dq run` */
  const char *title; /* for --help */
  run_build_fn build;
  const char *builder_name; /* the builder's name for it */
  /* The TPC-H tables the query scans, for the rows/s figure. */
  const char *const scans[8];
} run_query;

static int build_tpch(const char *name, double scale, uint64_t seed,
                      uint32_t tasks, dq_plan **out, dq_error *err) {
  /* One pipeline per task: tasks are what spreads the work here. */
  return dq_tpch_query_plan(name, scale, seed, tasks, 0, out, err);
}

/* Q1 and Q6 first: tests/run.test expects the unknown-query message to
 * list "tpch:q1, tpch:q6" first. */
static const run_query run_queries[] = {
    {"tpch:q1", "TPC-H Q1, pricing summary report", build_tpch, "q1",
     {"lineitem"}},
    {"tpch:q6", "TPC-H Q6, forecasting revenue change", build_tpch, "q6",
     {"lineitem"}},
    {"tpch:q3", "TPC-H Q3, shipping priority", build_tpch, "q3",
     {"customer", "orders", "lineitem"}},
    {"tpch:q5", "TPC-H Q5, local supplier volume", build_tpch, "q5",
     {"region", "nation", "supplier", "nation", "region", "customer",
      "orders", "lineitem"}},
    {"tpch:q10", "TPC-H Q10, returned item reporting", build_tpch, "q10",
     {"orders", "lineitem", "customer", "nation"}},
    {"tpch:q12", "TPC-H Q12, shipping modes and order priority", build_tpch,
     "q12", {"lineitem", "orders"}},
    {"tpch:q14", "TPC-H Q14, promotion effect", build_tpch, "q14",
     {"lineitem", "part"}},
    {"tpch:q18", "TPC-H Q18, large volume customer", build_tpch, "q18",
     {"lineitem", "orders", "customer", "lineitem"}},
    {"tpch:q19", "TPC-H Q19, discounted revenue", build_tpch, "q19",
     {"lineitem", "part"}},
};
static const size_t run_n_queries = sizeof run_queries / sizeof run_queries[0];

/* A plan from elsewhere (dq sql): dq_run_plan() points these at it for the
 * duration of one run.  The dq command runs one query at a time. */
static run_plan_source external_source;
static void *external_ctx;

static int build_external(const char *name, double scale, uint64_t seed,
                          uint32_t tasks, dq_plan **out, dq_error *err) {
  (void)name, (void)scale, (void)seed;
  return external_source(external_ctx, tasks, out, err);
}

/* Rows the query reads from its tables.  lineitem's count is the
 * generator's estimate (4 lines per order, the mean of 1..7): counting
 * exactly would mean generating the table once more, and the estimate is
 * off by 0.07% at SF 0.01, 0.02% at SF 1 (seed 0). */
static int64_t run_query_scanned_rows(const run_query *q, double scale) {
  int64_t rows = 0;
  for (size_t i = 0; i < sizeof q->scans / sizeof q->scans[0]; i++) {
    if (q->scans[i] == NULL)
      break;
    int64_t n = dq_tpch_table_rows(q->scans[i], scale);
    if (n < 0)
      return -1;
    rows += n;
  }
  return rows;
}

/* --- Options -------------------------------------------------------------- */

typedef struct run_opts {
  const char *query;
  double scale;
  uint64_t seed;
  uint32_t n_workers; /* --workers, 0 when not given */
  const char **urls;  /* --worker URL..., then [workers] */
  size_t n_urls;
  const char *transport;
  uint32_t tasks; /* --tasks, 0: one per worker */
  uint32_t repeat; /* --repeat, runs timed (the median is reported) */
  bool local, explain, analyze, quiet, materialize;
  bool external; /* the plan comes from dq_run_plan's caller */
  const char *cmd; /* "dq run" or the caller's name, for messages */
} run_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: dq run QUERY [options]\n"
          "Runs a built-in query distributed over workers and prints its "
          "result.\n\n"
          "queries:\n");
  for (size_t i = 0; i < run_n_queries; i++)
    fprintf(f, "  %-9s %s\n", run_queries[i].name, run_queries[i].title);
  fprintf(f,
          "\noptions:\n"
          "  --scale SF        TPC-H scale factor, > 0 (default 1)\n"
          "  --seed N          data generator seed (default %" PRIu64 ")\n"
          "  --workers N       start N workers over the transport: threads "
          "of this\n"
          "                    process with inmem, else `dq worker` "
          "processes on this\n"
          "                    host (default %d, unless the config lists "
          "[workers])\n"
          "  --worker URL      use a running worker (repeatable); the "
          "config's\n"
          "                    [workers] section does the same; the URLs' "
          "scheme is\n"
          "                    the transport unless --transport says "
          "otherwise\n"
          "  --transport NAME  transport plugin, overriding config and "
          "DQ_TRANSPORT\n"
          "  --tasks N         tasks per distributed stage (default: one per "
          "worker)\n"
          "  --local           run the single-node plan in this process (the "
          "baseline)\n"
          "  --explain         print the stages and where each task runs, "
          "then exit\n"
          "  --analyze         after the result, print each task's metrics\n"
          "  --quiet           print only the timing line, not the result\n"
          "  --materialize     generate the tables first and keep them in "
          "memory, so\n"
          "                    the timing is the query's alone (--local or "
          "inmem workers)\n"
          "  --repeat N        run the query N times and report the median "
          "time\n"
          "  --help            this text\n"
          "\nThe global option --config FILE (before 'run') names the "
          "config file.\n",
          RUN_DEFAULT_SEED, DEFAULT_WORKERS);
}

static int usage_error(const char *fmt, ...) DQ_PRINTF(1, 2);
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("dq run: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'dq run --help'.\n", stderr);
  return EXIT_USAGE;
}

static int fail(const dq_error *err) {
  char buf[1024];
  fprintf(stderr, "dq run: %s\n", dq_error_format(err, buf, sizeof buf));
  return 1;
}

/* --- Option parsing ------------------------------------------------------- */

/* Matches "--name VALUE" and "--name=VALUE".  Returns 1 with *value set, 0
 * when argv[*i] is another option, -1 when the value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **value) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}


static const run_query *find_query(const char *name) {
  for (size_t i = 0; i < run_n_queries; i++)
    if (strcmp(run_queries[i].name, name) == 0)
      return &run_queries[i];
  return NULL;
}

static void list_queries(FILE *f) {
  for (size_t i = 0; i < run_n_queries; i++)
    fprintf(f, "%s%s", i ? ", " : "", run_queries[i].name);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, run_opts *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    int m;
    uint64_t u;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--local") == 0) {
      o->local = true;
    } else if (strcmp(a, "--explain") == 0) {
      o->explain = true;
    } else if (strcmp(a, "--analyze") == 0) {
      o->analyze = true;
    } else if (strcmp(a, "--materialize") == 0) {
      o->materialize = true;
    } else if ((m = opt_value(argc, argv, &i, "--repeat", &v)) != 0) {
      if (m < 0)
        return usage_error("--repeat needs a value");
      if (!dq_args_u64(v, MAX_REPEAT, &u) || u < 1)
        return usage_error("--repeat must be an integer from 1 to %d, not "
                           "'%s'", MAX_REPEAT, v);
      o->repeat = (uint32_t)u;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o->quiet = true;
    } else if ((m = opt_value(argc, argv, &i, "--scale", &v)) != 0) {
      if (m < 0)
        return usage_error("--scale needs a value");
      char *end;
      errno = 0;
      double sf = strtod(v, &end);
      if (!dq_args_plain_decimal(v) || end == v || *end != '\0' || errno != 0 ||
          !isfinite(sf) ||
          sf <= 0 || sf > RUN_MAX_SCALE)
        return usage_error("--scale must be a number > 0 and <= %g, not "
                           "'%s'",
                           RUN_MAX_SCALE, v);
      o->scale = sf;
    } else if ((m = opt_value(argc, argv, &i, "--seed", &v)) != 0) {
      if (m < 0)
        return usage_error("--seed needs a value");
      if (!dq_args_u64(v, UINT64_MAX, &u))
        return usage_error("--seed must be a non-negative integer, not '%s'",
                           v);
      o->seed = u;
    } else if ((m = opt_value(argc, argv, &i, "--workers", &v)) != 0) {
      if (m < 0)
        return usage_error("--workers needs a value");
      if (!dq_args_u64(v, MAX_WORKERS, &u) || u == 0)
        return usage_error("--workers must be an integer from 1 to %d, not "
                           "'%s'",
                           MAX_WORKERS, v);
      o->n_workers = (uint32_t)u;
    } else if ((m = opt_value(argc, argv, &i, "--tasks", &v)) != 0) {
      if (m < 0)
        return usage_error("--tasks needs a value");
      if (!dq_args_u64(v, MAX_TASKS, &u) || u == 0)
        return usage_error("--tasks must be an integer from 1 to %d, not "
                           "'%s'",
                           MAX_TASKS, v);
      o->tasks = (uint32_t)u;
    } else if ((m = opt_value(argc, argv, &i, "--worker", &v)) != 0) {
      if (m < 0)
        return usage_error("--worker needs a URL");
      if (v[0] == '\0' || strstr(v, "://") == NULL)
        return usage_error("--worker needs a URL such as grpc://host:port, "
                           "not '%s'",
                           v);
      const char **urls = realloc(o->urls, (o->n_urls + 1) * sizeof *urls);
      if (urls == NULL) {
        fprintf(stderr, "dq run: out of memory\n");
        return 1;
      }
      o->urls = urls;
      o->urls[o->n_urls++] = v;
    } else if ((m = opt_value(argc, argv, &i, "--transport", &v)) != 0) {
      if (m < 0 || v[0] == '\0')
        return usage_error("--transport needs a plugin name");
      o->transport = v;
    } else if (a[0] == '-' && a[1] != '\0') {
      return usage_error("unknown option '%s'", a);
    } else if (o->external) {
      return usage_error("unexpected argument '%s'", a);
    } else if (o->query == NULL) {
      o->query = a;
    } else {
      return usage_error("one query at a time ('%s', then '%s')", o->query,
                         a);
    }
  }
  if (o->external) {
    /* the query is the caller's */
  } else if (o->query == NULL) {
    fputs("dq run: which query? Known queries: ", stderr);
    list_queries(stderr);
    fputs("\nTry 'dq run --help'.\n", stderr);
    return EXIT_USAGE;
  }
  if (!o->external && find_query(o->query) == NULL) {
    fprintf(stderr, "dq run: unknown query '%s'; known queries: ", o->query);
    list_queries(stderr);
    fputs("\n", stderr);
    return EXIT_USAGE;
  }
  if (o->n_workers && o->n_urls)
    return usage_error("--workers starts workers and --worker uses running "
                       "ones: give one of them");
  if (o->local && (o->n_workers || o->n_urls || o->tasks || o->transport))
    return usage_error("--local runs in this process: --workers, --worker, "
                       "--tasks and --transport do not apply");
  if (o->local && o->analyze)
    return usage_error("--analyze shows per-task metrics of a distributed "
                       "run; --local has no tasks");
  return -1;
}

/* --- Timing, progress and Ctrl-C ------------------------------------------
 * One watcher thread per run.  It draws the progress line on a terminal and
 * turns Ctrl-C into dq_query_cancel(): the signal handler only sets a flag
 * (it may run on any thread, and nothing in libdq is async-signal-safe), and
 * the watcher, which wakes every 100 ms anyway, acts on it. */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

typedef struct watcher {
  pthread_t thread;
  bool running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  double t0;
  const char *label;
  bool tty;           /* draw a progress line on stderr */
  bool drawn;         /* a progress line is on screen */
  bool local;         /* no query to cancel: Ctrl-C just quits */
  dq_query *query;    /* cancelled on Ctrl-C, once started */
  bool cancelled;     /* the watcher cancelled it */
  struct sigaction old_int, old_term;
} watcher;

static void erase_progress(watcher *w) {
  if (w->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    w->drawn = false;
  }
}

static void *watch(void *arg) {
  watcher *w = arg;
  double last_draw = 0;
  pthread_mutex_lock(&w->mu);
  while (!w->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 100 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    if (w->stop)
      break;
    if (interrupted && w->local) {
      /* A local run has no way to stop early: leave as Ctrl-C would. */
      erase_progress(w);
      signal(interrupted, SIG_DFL);
      raise(interrupted);
      _exit(128 + interrupted);
    }
    /* Before dq_query_start returns there is no query to cancel, and it
     * may be blocked for long (plan delivery to a stopped worker, tens of
     * thousands of tasks): waiting for it made the first SIGTERM of a
     * supervisor do nothing.  Leave at once instead: our connections
     * close with the process, which frees every task delivered so far on
     * its worker (closing a coordinator channel is what frees a task),
     * and worker processes we started get SIGTERM (worker_procs.c). */
    if (interrupted && w->query == NULL) {
      erase_progress(w);
      fprintf(stderr, "dq run: interrupted while starting the query; "
                      "quitting\n");
      int sig = interrupted;
      signal(sig, SIG_DFL);
      raise(sig);
      _exit(128 + sig);
    }
    if (interrupted && w->query != NULL && !w->cancelled) {
      erase_progress(w);
      dq_query_cancel(w->query); /* thread-safe, see runtime.h */
      w->cancelled = true;
      fputs("dq run: cancelling (Ctrl-C again to quit at once)\n", stderr);
    }
    double t = now_s() - w->t0;
    /* Quick queries print no progress at all, so nothing flickers. */
    if (w->tty && !w->cancelled && t >= 1.0 && t - last_draw >= 0.25) {
      fprintf(stderr, "\r\033[K%s: running, %.1f s", w->label, t);
      fflush(stderr);
      w->drawn = true;
      last_draw = t;
    }
  }
  erase_progress(w);
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void watcher_start(watcher *w, const char *label, bool local) {
  memset(w, 0, sizeof *w);
  w->label = label;
  w->local = local;
  w->tty = isatty(STDERR_FILENO) != 0;
  w->t0 = now_s();
  interrupted = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* A second Ctrl-C takes the default action: quit at once. */
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &w->old_int);
  sigaction(SIGTERM, &sa, &w->old_term);
  pthread_mutex_init(&w->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  /* Without the thread we lose only the progress line and Ctrl-C's
   * graceful cancel; the query itself still runs. */
  w->running = pthread_create(&w->thread, NULL, watch, w) == 0;
}

/* Stops the watcher and erases its line; returns the elapsed seconds. */
static double watcher_stop(watcher *w) {
  double t = now_s() - w->t0;
  if (w->running) {
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
  }
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  sigaction(SIGINT, &w->old_int, NULL);
  sigaction(SIGTERM, &w->old_term, NULL);
  return t;
}

/* --- Result sink ---------------------------------------------------------- */

typedef struct sink {
  table *table; /* NULL with --quiet */
  int64_t rows;
} sink;

static int sink_init(sink *s, const dq_schema *schema, bool quiet,
                     dq_error *err) {
  s->rows = 0;
  s->table = NULL;
  if (!quiet && (s->table = table_new(schema)) == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory for the result table");
  return 0;
}

static int sink_add(sink *s, const dq_batch *b, dq_error *err) {
  s->rows += dq_batch_n_rows(b);
  return s->table ? table_add(s->table, b, err) : 0;
}

static int on_local_batch(void *user, const dq_batch *b, dq_error *err) {
  return sink_add(user, b, err);
}

/* Prints the result; a failed write (a full disk, a closed pipe) is an
 * error naming the reason, never a silent success. */
static int print_result(const sink *s, const run_opts *o,
                        const run_query *q, double secs, dq_error *err) {
  if (s->table != NULL)
    table_print(s->table, stdout);
  int64_t scanned = run_query_scanned_rows(q, o->scale);
  printf("%" PRId64 " row%s in %.3f s", s->rows, s->rows == 1 ? "" : "s",
         secs);
  if (scanned > 0 && secs > 0)
    printf(" (%.0f rows/s scanned)", (double)scanned / secs);
  printf("\n");
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout))
    return dq_error_set(err, DQ_EIO, "cannot write the result to standard "
                        "output: %s",
                        errno ? strerror(errno) : "a write failed");
  return 0;
}

/* --- Explain -------------------------------------------------------------- */

/* Where task t of a stage runs: the rule of libdq/runtime/query.c, task t of every
 * stage on worker t mod W, so a stage's tasks spread over all workers. */
static const char *task_worker(const char *const *urls, size_t n_urls,
                               uint32_t task) {
  return urls[task % n_urls];
}

static void print_placement(const dq_plan *plan, const dq_stage *s,
                            const char *const *urls, size_t n_urls) {
  uint32_t n = dq_stage_task_count(s);
  for (uint32_t t = 0; t < n; t++) {
    const char *where;
    if (urls == NULL)
      where = "this process (--local)";
    else if (s == dq_plan_head(plan))
      where = "coordinator";
    else
      where = task_worker(urls, n_urls, t);
    printf("  task %" PRIu32 " on %s\n", t, where);
  }
}

/* Prints dq_plan_explain()'s text with the worker of each task under its
 * stage's header line.  urls == NULL: a local run, in this process. */
static int explain(const dq_plan *plan, const char *const *urls,
                   size_t n_urls, dq_error *err) {
  char small[1];
  size_t need = dq_plan_explain(plan, small, sizeof small);
  size_t n_stages = dq_plan_n_stages(plan);
  char *text = malloc(need + 1);
  bool *placed = calloc(n_stages + 1, sizeof *placed);
  if (text == NULL || placed == NULL) {
    free(text);
    free(placed);
    return dq_error_set(err, DQ_ENOMEM, "out of memory explaining the plan");
  }
  dq_plan_explain(plan, text, need + 1);
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    printf("%.*s\n", (int)len, line);
    unsigned id;
    const dq_stage *s;
    if (sscanf(line, "Stage %u", &id) == 1 && id <= n_stages &&
        !placed[id] && (s = dq_plan_stage_by_id(plan, id)) != NULL) {
      print_placement(plan, s, urls, n_urls);
      placed[id] = true;
    }
    line += len + (nl != NULL);
  }
  /* Should the explain text ever name stages differently, the placement
   * still gets printed, after it. */
  for (uint32_t id = 1; id <= n_stages; id++) {
    const dq_stage *s = dq_plan_stage_by_id(plan, id);
    if (!placed[id] && s != NULL) {
      printf("Stage %" PRIu32 " tasks:\n", id);
      print_placement(plan, s, urls, n_urls);
    }
  }
  free(placed);
  free(text);
  return 0;
}

/* --- Analyze ----------------------------------------------------------------
 * The metrics go through the same table printer as results: each stage's
 * tasks become a batch (times in ms as decimal(18,3) so they print exactly
 * at microsecond resolution). */

enum {
  A_TASK, A_WORKER, A_PLAN_B, A_SEND_MS, A_QUEUED_MS, A_RUN_MS, A_ROWS,
  A_BATCHES, A_BYTES, A_IN_ROWS, A_IN_BATCHES, A_IN_BYTES, A_IN_WAIT_MS,
  A_IN_PEAK_B, A_N
};

static const char *const analyze_names[A_N] = {
    "task",    "worker",   "plan_bytes", "plan_send_ms", "queued_ms",
    "run_ms",  "rows_out", "batches_out", "bytes_out",   "in_rows",
    "in_batches", "in_bytes", "in_wait_ms", "in_buffered_peak"};

static dq_decimal ms_of_ns(uint64_t ns) {
  dq_decimal d = {ns / 1000, 0}; /* microseconds: ms at scale 3 */
  return d;
}

static int analyze_stage(const dq_query *q, const dq_plan *plan,
                         uint32_t stage_id, dq_schema *schema, dq_error *err) {
  const dq_stage *s = dq_plan_stage_by_id(plan, stage_id);
  dq_batch_builder *bb = NULL;
  dq_batch *b = NULL;
  table *t = NULL;
  int rc = dq_batch_builder_new(schema, 16, &bb, err);
  if (rc < 0)
    return rc;
  size_t n = dq_query_n_tasks(q);
  dq_task_info sum;
  memset(&sum, 0, sizeof sum);
  uint64_t max_send = 0, max_queued = 0, max_run = 0, max_wait = 0,
           max_peak = 0;
  size_t n_tasks = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    dq_task_info ti;
    if (dq_query_task_info(q, i, &ti) < 0 || ti.key.stage_id != stage_id)
      continue;
    char num[32];
    snprintf(num, sizeof num, "%" PRIu32, ti.key.task_number);
    rc |= dq_builder_append_utf8(bb, A_TASK, num, strlen(num));
    rc |= dq_builder_append_utf8(bb, A_WORKER, ti.worker_url,
                                 strlen(ti.worker_url));
    rc |= dq_builder_append_int64(bb, A_PLAN_B, (int64_t)ti.plan_bytes);
    rc |= dq_builder_append_decimal(bb, A_SEND_MS, ms_of_ns(ti.plan_send_ns));
    if (!ti.has_metrics) {
      /* The worker never reported (early end or failure): show "-". */
      for (int c = A_QUEUED_MS; c < A_N; c++)
        rc |= dq_builder_append_null(bb, (size_t)c);
    } else {
      rc |= dq_builder_append_decimal(bb, A_QUEUED_MS, ms_of_ns(ti.queued_ns));
      rc |= dq_builder_append_decimal(bb, A_RUN_MS, ms_of_ns(ti.run_ns));
      rc |= dq_builder_append_int64(bb, A_ROWS, (int64_t)ti.rows_out);
      rc |= dq_builder_append_int64(bb, A_BATCHES, (int64_t)ti.batches_out);
      rc |= dq_builder_append_int64(bb, A_BYTES, (int64_t)ti.bytes_out);
      rc |= dq_builder_append_int64(bb, A_IN_ROWS, (int64_t)ti.in_rows);
      rc |= dq_builder_append_int64(bb, A_IN_BATCHES, (int64_t)ti.in_batches);
      rc |= dq_builder_append_int64(bb, A_IN_BYTES, (int64_t)ti.in_bytes);
      rc |= dq_builder_append_decimal(bb, A_IN_WAIT_MS,
                                      ms_of_ns(ti.in_wait_ns));
      rc |= dq_builder_append_int64(bb, A_IN_PEAK_B,
                                    (int64_t)ti.in_buffered_peak);
      sum.rows_out += ti.rows_out;
      sum.batches_out += ti.batches_out;
      sum.bytes_out += ti.bytes_out;
      sum.in_rows += ti.in_rows;
      sum.in_batches += ti.in_batches;
      sum.in_bytes += ti.in_bytes;
      max_queued = ti.queued_ns > max_queued ? ti.queued_ns : max_queued;
      max_run = ti.run_ns > max_run ? ti.run_ns : max_run;
      max_wait = ti.in_wait_ns > max_wait ? ti.in_wait_ns : max_wait;
      max_peak = ti.in_buffered_peak > max_peak ? ti.in_buffered_peak
                                                : max_peak;
    }
    sum.plan_bytes += ti.plan_bytes;
    max_send = ti.plan_send_ns > max_send ? ti.plan_send_ns : max_send;
    n_tasks++;
  }
  if (rc == 0 && n_tasks > 1) {
    /* Counts and bytes add up over the stage's tasks; for times and the
     * buffered peak the slowest (largest) task is what matters. */
    rc |= dq_builder_append_utf8(bb, A_TASK, "all", 3);
    rc |= dq_builder_append_utf8(bb, A_WORKER, "", 0);
    rc |= dq_builder_append_int64(bb, A_PLAN_B, (int64_t)sum.plan_bytes);
    rc |= dq_builder_append_decimal(bb, A_SEND_MS, ms_of_ns(max_send));
    rc |= dq_builder_append_decimal(bb, A_QUEUED_MS, ms_of_ns(max_queued));
    rc |= dq_builder_append_decimal(bb, A_RUN_MS, ms_of_ns(max_run));
    rc |= dq_builder_append_int64(bb, A_ROWS, (int64_t)sum.rows_out);
    rc |= dq_builder_append_int64(bb, A_BATCHES, (int64_t)sum.batches_out);
    rc |= dq_builder_append_int64(bb, A_BYTES, (int64_t)sum.bytes_out);
    rc |= dq_builder_append_int64(bb, A_IN_ROWS, (int64_t)sum.in_rows);
    rc |= dq_builder_append_int64(bb, A_IN_BATCHES, (int64_t)sum.in_batches);
    rc |= dq_builder_append_int64(bb, A_IN_BYTES, (int64_t)sum.in_bytes);
    rc |= dq_builder_append_decimal(bb, A_IN_WAIT_MS, ms_of_ns(max_wait));
    rc |= dq_builder_append_int64(bb, A_IN_PEAK_B, (int64_t)max_peak);
  }
  if (rc != 0) {
    rc = dq_error_set(err, DQ_EINTERNAL, "building the metrics table: %s",
                      dq_batch_builder_error(bb));
    goto done;
  }
  if ((rc = dq_batch_builder_finish(bb, &b, err)) < 0)
    goto done;
  if ((t = table_new(schema)) == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory for the metrics table");
    goto done;
  }
  table_set_null_text(t, "-");
  if ((rc = table_add(t, b, err)) < 0)
    goto done;

  /* The same header line as --explain's (dq_plan_explain). */
  printf("\nStage %" PRIu32, stage_id);
  if (s != NULL) {
    uint32_t tc = dq_stage_task_count(s), pc = dq_stage_partitions(s);
    printf(" (%" PRIu32 " task%s x %" PRIu32 " partition%s)", tc,
           tc == 1 ? "" : "s", pc, pc == 1 ? "" : "s");
    static const char *const kinds[] = {"head", "SHUFFLE", "COALESCE",
                                        "BROADCAST"};
    dq_boundary_kind k = dq_stage_boundary_kind(s);
    if (k == DQ_BOUNDARY_NONE) {
      printf(" head, in the coordinator");
    } else if ((unsigned)k < sizeof kinds / sizeof kinds[0]) {
      printf(" -> %s", kinds[k]);
      size_t n_keys = 0;
      const uint32_t *keys = dq_stage_boundary_keys(s, &n_keys);
      const dq_schema *out = dq_stage_schema(s);
      for (size_t i = 0; i < n_keys && keys != NULL; i++)
        printf("%s%s", i ? ", " : " [", dq_schema_field_name(out, keys[i]));
      printf("%s to stage %" PRIu32, n_keys ? "]" : "", dq_stage_consumer(s));
    }
  }
  printf("\n");
  table_print(t, stdout);

done:
  table_free(t);
  dq_batch_unref(b);
  dq_batch_builder_free(bb);
  return rc;
}

static int analyze(const dq_query *q, const dq_plan *plan, dq_error *err) {
  dq_type types[A_N];
  for (int c = 0; c < A_N; c++)
    types[c] = (dq_type){DQ_TYPE_INT64, 0, 0};
  types[A_TASK] = types[A_WORKER] = (dq_type){DQ_TYPE_UTF8, 0, 0};
  dq_type ms = {DQ_TYPE_DECIMAL, 18, 3};
  types[A_SEND_MS] = types[A_QUEUED_MS] = types[A_RUN_MS] = ms;
  types[A_IN_WAIT_MS] = ms;
  dq_schema *schema = NULL;
  int rc = dq_schema_new(A_N, analyze_names, types, NULL, &schema, err);
  if (rc < 0)
    return rc;
  printf("\nTask metrics.  Times are in ms; in_* is what a task read across "
         "its input\nboundary: rows, batches, bytes, time spent waiting for "
         "them, and the peak\nbytes buffered.  A stage's \"all\" row adds up "
         "counts and bytes and shows\nthe largest time and peak.\n");
  size_t n_stages = dq_plan_n_stages(plan);
  for (uint32_t id = 1; id <= n_stages && rc == 0; id++)
    rc = analyze_stage(q, plan, id, schema, err);
  dq_schema_unref(schema);
  /* Workers lost on the way, and whether the plan ran again because of
   * them (the tasks above are the last attempt's). */
  size_t n_losses = dq_query_n_losses(q);
  if (rc == 0 && (n_losses > 0 || dq_query_attempt(q) > 1)) {
    printf("\nAttempt %" PRIu32 " gave the answer; workers lost:\n",
           dq_query_attempt(q));
    for (size_t i = 0; i < n_losses; i++) {
      dq_worker_loss l;
      char msg[1024];
      if (dq_query_loss_info(q, i, &l) < 0)
        continue;
      printf("  attempt %" PRIu32 ", %.3f s: %s%s: %s\n", l.attempt,
             (double)l.at_ns / 1e9, l.worker_url,
             l.retried ? " (the plan ran again without it)"
                       : " (nothing re-run)",
             dq_error_format(&l.reason, msg, sizeof msg));
    }
  }
  fflush(stdout);
  return rc;
}

/* --- Running -------------------------------------------------------------- */

/* --materialize: generates the plan's tables before any timing and says
 * what that cost, so the times that follow are the query's alone. */
static int materialize(const dq_plan *plan, dq_error *err) {
  double t0 = now_s();
  size_t bytes = 0;
  int rc = dq_tpch_materialize_plan(plan, &bytes, err);
  if (rc == 0)
    printf("tables generated and kept in memory in %.3f s (%.1f MB); the "
           "times below exclude them\n",
           now_s() - t0, (double)bytes / 1e6);
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* With --repeat N > 1: every run's time, and the median, which is what
 * print_result reports. */
static double report_runs(double *secs, uint32_t n) {
  if (n <= 1)
    return secs[0];
  printf("%" PRIu32 " runs:", n);
  for (uint32_t i = 0; i < n; i++)
    printf(" %.3f", secs[i]);
  qsort(secs, n, sizeof *secs, cmp_double);
  double median = n % 2 ? secs[n / 2] : (secs[n / 2 - 1] + secs[n / 2]) / 2;
  printf(" s; median below\n");
  return median;
}

static int run_local(const run_opts *o, const run_query *q) {
  dq_error err;
  dq_error_clear(&err);
  dq_plan *plan = NULL;
  sink s = {0};
  int status = 1;
  if (q->build(q->builder_name, o->scale, o->seed, 0, &plan, &err) < 0)
    goto done;
  if (o->explain) {
    status = explain(plan, NULL, 0, &err) < 0 ? 1 : 0;
    goto done;
  }
  const dq_stage *head = dq_plan_head(plan);
  if (head == NULL) {
    dq_error_set(&err, DQ_EINTERNAL, "the plan of %s has no head stage",
                 o->query);
    goto done;
  }
  if (o->materialize && materialize(plan, &err) < 0)
    goto done;
  uint32_t runs = o->repeat ? o->repeat : 1;
  double secs[MAX_REPEAT];
  for (uint32_t r = 0; r < runs; r++) {
    /* The first run's rows are printed; later runs only count theirs. */
    sink again, *into = r == 0 ? &s : &again;
    if (sink_init(into, dq_stage_schema(head), o->quiet || r > 0, &err) < 0)
      goto done;
    watcher w;
    watcher_start(&w, o->query, true);
    int rc = dq_plan_run_local(plan, on_local_batch, into, &err);
    secs[r] = watcher_stop(&w);
    if (rc < 0)
      goto done;
  }
  if (print_result(&s, o, q, report_runs(secs, runs), &err) < 0)
    goto done;
  status = 0;
done:
  if (status == 1 && err.code != 0)
    fail(&err);
  table_free(s.table);
  dq_plan_free(plan);
  return status;
}

/* Starts n `dq worker` processes of this very binary with our config and
 * transport (the environment is inherited as it is). */
static int spawn_workers(dq_config *cfg, const char *transport, uint32_t n,
                         worker_procs **out, dq_error *err) {
  char exe[4096];
  if (worker_procs_self_exe(exe, sizeof exe) == NULL)
    return dq_error_set(err, DQ_EIO,
                        "cannot find this program (/proc/self/exe) to start "
                        "worker processes");
  char *argv[8];
  size_t a = 0;
  argv[a++] = exe;
  if (dq_config_path(cfg) != NULL) {
    argv[a++] = (char *)"--config";
    argv[a++] = (char *)dq_config_path(cfg);
  }
  argv[a++] = (char *)"worker";
  argv[a++] = (char *)"--transport";
  argv[a++] = (char *)transport;
  argv[a] = NULL;
  int rc = worker_procs_new(out, err);
  if (rc == 0)
    rc = worker_procs_spawn(*out, argv, n, PROC_START_MS, err);
  return rc;
}

/* Where in-process workers listen: every transport picks a fresh address
 * from an empty or zero-port URL (runtime.h); a network transport must stay
 * on the loopback interface, since nobody outside this process needs it. */
static void listen_url(const char *transport, char *buf, size_t len) {
  if (strcmp(transport, "grpc") == 0)
    snprintf(buf, len, "grpc://127.0.0.1:0");
  else
    snprintf(buf, len, "%s://", transport);
}

/* Whether err is a transport refusing one of urls as malformed: opening a
 * channel parses the URL and fails with DQ_EINVAL naming it, before any
 * task exists (so the error names no task). */
static bool bad_url(const dq_error *err, const char *const *urls,
                    size_t n_urls) {
  if (err->code != DQ_EINVAL || err->has_task)
    return false;
  for (size_t i = 0; i < n_urls; i++)
    if (strcmp(err->worker_url, urls[i]) == 0)
      return true;
  return false;
}

static int run_distributed(const run_opts *o, const run_query *q,
                           dq_config *cfg) {
  dq_error err;
  dq_error_clear(&err);
  dq_context *ctx = NULL;
  dq_worker **workers = NULL;
  uint32_t n_started = 0;
  worker_procs *procs = NULL; /* worker processes we started */
  const char **urls = NULL;
  char **resolved = NULL; /* [workers] URLs and discovered ones */
  size_t n_resolved = 0;
  size_t n_urls = 0;
  dq_plan *plan = NULL;
  dq_query *query = NULL;
  sink s = {0};
  int status = 1;

  if (dq_context_new(cfg, &ctx, &err) < 0)
    goto done;

  if (o->n_urls > 0) {
    urls = o->urls;
    n_urls = o->n_urls;
  } else if (o->n_workers == 0 && (dq_config_n_workers(cfg) > 0 ||
                                    dq_config_n_discover(cfg) > 0)) {
    /* [workers]: its URLs and what its discover names resolve to now. */
    if (dq_workers_resolve(ctx, &resolved, &n_resolved, &err) < 0)
      goto done;
    n_urls = n_resolved;
    if ((urls = calloc(n_urls ? n_urls : 1, sizeof *urls)) == NULL) {
      dq_error_set(&err, DQ_ENOMEM, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < n_urls; i++)
      urls[i] = resolved[i];
  } else if (strcmp(dq_context_transport_name(ctx), "inmem") != 0) {
    /* inmem's workers can only be threads of this process; any other
     * transport gets real worker processes, as it would in production. */
    uint32_t n = o->n_workers ? o->n_workers : DEFAULT_WORKERS;
    if (spawn_workers(cfg, dq_context_transport_name(ctx), n, &procs, &err) <
        0)
      goto done;
    urls = calloc(n, sizeof *urls);
    if (urls == NULL) {
      dq_error_set(&err, DQ_ENOMEM, "out of memory");
      goto done;
    }
    for (uint32_t i = 0; i < n; i++)
      urls[i] = worker_procs_url(procs, i);
    n_urls = n;
  } else {
    uint32_t n = o->n_workers ? o->n_workers : DEFAULT_WORKERS;
    workers = calloc(n, sizeof *workers);
    urls = calloc(n, sizeof *urls);
    if (workers == NULL || urls == NULL) {
      dq_error_set(&err, DQ_ENOMEM, "out of memory");
      goto done;
    }
    char listen[64];
    listen_url(dq_context_transport_name(ctx), listen, sizeof listen);
    for (; n_started < n; n_started++) {
      if (dq_worker_start(ctx, listen, &workers[n_started], &err) < 0)
        goto done;
      urls[n_started] = dq_worker_url(workers[n_started]);
    }
    n_urls = n;
  }

  uint32_t tasks = o->tasks ? o->tasks : (uint32_t)n_urls;
  if (q->build(q->builder_name, o->scale, o->seed, tasks, &plan, &err) < 0)
    goto done;
  if (o->explain) {
    printf("%s on %zu worker%s (%s transport)\n", o->query, n_urls,
           n_urls == 1 ? "" : "s", dq_context_transport_name(ctx));
    status = explain(plan, urls, n_urls, &err) < 0 ? 1 : 0;
    goto done;
  }

  if (o->materialize) {
    if (workers == NULL) {
      status = usage_error("--materialize keeps the tables in this process, "
                           "and these workers are other processes: use "
                           "--local, or --workers N with the inmem "
                           "transport");
      goto done;
    }
    if (materialize(plan, &err) < 0)
      goto done;
  }

  uint32_t runs = o->repeat ? o->repeat : 1;
  double secs[MAX_REPEAT];
  int rc = 0;
  for (uint32_t r = 0; r < runs && rc == 0; r++) {
    /* The first run's rows are printed; later runs only count theirs, and
     * --analyze shows the last run's metrics. */
    sink again, *into = r == 0 ? &s : &again;
    dq_query_close(query);
    query = NULL;
    watcher w;
    watcher_start(&w, o->query, false);
    rc = dq_query_start(ctx, plan, urls, n_urls, &query, &err);
    if (rc == 0) {
      /* Hand the query to the watcher only now that it exists. */
      pthread_mutex_lock(&w.mu);
      w.query = query;
      pthread_mutex_unlock(&w.mu);
      rc = sink_init(into, dq_query_schema(query), o->quiet || r > 0, &err);
    }
    while (rc == 0) {
      dq_batch *b = NULL;
      if ((rc = dq_query_next(query, &b, &err)) < 0 || b == NULL)
        break;
      rc = sink_add(into, b, &err);
      dq_batch_unref(b);
    }
    secs[r] = watcher_stop(&w);
  }
  if (rc < 0 && bad_url(&err, urls, n_urls)) {
    /* A URL the user gave that the transport cannot parse is a usage
     * error like any other malformed argument, not a failed query. */
    status = usage_error("%s", err.message);
    goto done;
  }
  if (rc < 0) {
    if (interrupted) {
      fprintf(stderr, "dq run: interrupted; the query was cancelled on every "
                      "worker\n");
      status = 128 + interrupted; /* what the shell reports for a signal */
      dq_error_clear(&err);
    }
    goto done;
  }
  if (print_result(&s, o, q, report_runs(secs, runs), &err) < 0)
    goto done;
  if (o->analyze && analyze(query, plan, &err) < 0)
    goto done;
  status = 0;

done:
  if (status == 1 && err.code != 0)
    fail(&err);
  table_free(s.table);
  dq_query_close(query);
  for (uint32_t i = 0; i < n_started; i++)
    dq_worker_stop(workers[i]);
  free(workers);
  /* After the query is closed, so its tasks end by the protocol, not by
   * their workers dying. */
  worker_procs_stop(procs, PROC_STOP_MS, "dq run");
  if (urls != o->urls)
    free(urls);
  dq_workers_free(resolved, n_resolved);
  dq_plan_free(plan);
  dq_context_free(ctx);
  return status;
}

static int run_main(run_opts o, const run_query *q, const dq_global_opts *g);

int dq_cmd_run(int argc, char **argv, const dq_global_opts *g) {
  run_opts o;
  memset(&o, 0, sizeof o);
  o.scale = 1.0;
  o.seed = RUN_DEFAULT_SEED;
  int status = parse_args(argc, argv, &o);
  if (status >= 0) {
    free(o.urls);
    return status;
  }
  return run_main(o, find_query(o.query), g);
}

int dq_run_plan(int argc, char **argv, const dq_global_opts *g,
                const char *label, run_plan_source source, void *ctx) {
  run_opts o;
  memset(&o, 0, sizeof o);
  o.scale = 1.0;
  o.seed = RUN_DEFAULT_SEED;
  o.external = true;
  o.query = label;
  int status = parse_args(argc, argv, &o);
  if (status >= 0) {
    free(o.urls);
    return status;
  }
  run_query q = {label, label, build_external, label, {NULL}};
  external_source = source;
  external_ctx = ctx;
  status = run_main(o, &q, g);
  external_source = NULL;
  external_ctx = NULL;
  return status;
}

static int run_main(run_opts o, const run_query *q, const dq_global_opts *g) {
  int status = -1;

  if (o.local) {
    status = run_local(&o, q);
    free(o.urls);
    return status;
  }

  dq_error err;
  dq_error_clear(&err);
  dq_config *cfg = NULL;
  if (dq_config_load(g->config_path, &cfg, &err) < 0) {
    fail(&err);
    dq_config_free(cfg);
    free(o.urls);
    return 1;
  }

  /* Worker URLs name their transport: without --transport, that is the
   * one to use, whatever the config's default (which could not reach them
   * anyway).  The config's [workers] behave as --worker does, when they
   * are the workers this run uses. */
  const char *const *wurls = (const char *const *)o.urls;
  size_t n_wurls = o.n_urls;
  const char **cfg_urls = NULL;
  if (n_wurls == 0 && o.n_workers == 0 && dq_config_n_workers(cfg) > 0) {
    n_wurls = dq_config_n_workers(cfg);
    if ((cfg_urls = calloc(n_wurls, sizeof *cfg_urls)) == NULL) {
      fprintf(stderr, "dq run: out of memory\n");
      status = 1;
    }
    for (size_t i = 0; cfg_urls != NULL && i < n_wurls; i++)
      cfg_urls[i] = dq_config_worker(cfg, i);
    wurls = cfg_urls;
  }
  char scheme[64] = "";
  for (size_t i = 0; i < n_wurls && o.transport == NULL && status < 0;
       i++) {
    size_t n = (size_t)(strstr(wurls[i], "://") - wurls[i]);
    if (n == 0 || n >= sizeof scheme) {
      status = usage_error("'%s' names no transport before '://'",
                           wurls[i]);
    } else if (i == 0) {
      memcpy(scheme, wurls[i], n);
      scheme[n] = '\0';
    } else if (strncmp(wurls[i], scheme, n) != 0 || scheme[n] != '\0') {
      status = usage_error("the workers use different transports ('%s', "
                           "'%s'): one query runs over one transport",
                           wurls[0], wurls[i]);
    }
  }
  free(cfg_urls);
  if (status >= 0) {
    dq_config_free(cfg);
    free(o.urls);
    return status;
  }
  if (o.transport == NULL && scheme[0] != '\0')
    o.transport = scheme;
  if (o.transport && dq_config_set_transport(cfg, o.transport, &err) < 0) {
    fail(&err);
    dq_config_free(cfg);
    free(o.urls);
    return 1;
  }
  status = run_distributed(&o, q, cfg);
  dq_config_free(cfg);
  free(o.urls);
  return status;
}
