/* transport_check.c — dq-transport-check: the conformance checker a
 * transport author runs against a plugin, by name, found like any plugin
 * ($DQ_PLUGIN_PATH, then the installed plugin directory).
 *
 * It loads the plugin (every loader check, reporting what it found), starts
 * two workers over it, drives every op of <dq/transport.h> by hand the way
 * libdq does — SetPlan, work units, finish, close; ExecuteTask, next,
 * cancel, close — including cancellation at every point and the error
 * paths, then runs real queries and compares them with the single-process
 * answer, and finally checks that nothing (task, thread, descriptor) was
 * left behind.  One line per check, `PASS name` or `FAIL name: reason`,
 * then a summary; exit status 0 only when every check passed.
 *
 * It drives libdq's internals on purpose: building task plans and
 * producer heads by hand is what lets it exercise the ops one by one, below
 * the query runtime, exactly as a worker and a coordinator would.  It
 * links the shared libdq like the plugin it loads (one libdq in the
 * process), which exports those few functions as DQ_INTERNAL
 * (libdq/base/internal_export.h); its thread and descriptor counts are the
 * test harness's (tests/harness/usage.c). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>
#include <dq/transport.h>

#include "base/clock.h"
#include "host/context.h"
#include "plan/plan_internal.h"
#include "host/plugin.h"
#include "runtime/task_plan.h"
#include "runtime/worker_internal.h"
#include "usage.h"
#include "check_probe.h"

#define N_WORKERS 2
#define PLAN_WAIT_MS 300

static int n_pass, n_fail, verbose;

static void pass(const char *name, const char *fmt, ...) DQ_PRINTF(2, 3);
static void pass(const char *name, const char *fmt, ...) {
  n_pass++;
  printf("PASS %s", name);
  if (fmt != NULL && verbose) {
    va_list ap;
    va_start(ap, fmt);
    printf(" (");
    vprintf(fmt, ap);
    printf(")");
    va_end(ap);
  }
  printf("\n");
  fflush(stdout);
}

static void fail(const char *name, const char *fmt, ...) DQ_PRINTF(2, 3);
static void fail(const char *name, const char *fmt, ...) {
  n_fail++;
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL %s: ", name);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

/* "message (worker URL, task ...)" of an error, for FAIL lines. */
static const char *why(const dq_error *err) {
  static char buf[1024];
  if (err->code == 0)
    return "no error was reported";
  char b[900];
  snprintf(buf, sizeof buf, "%s: %s", dq_strerror(err->code),
           dq_error_format(err, b, sizeof b));
  return buf;
}

/* --- the cluster under test ------------------------------------------------*/

typedef struct checker {
  const char *name;
  dq_config *cfg;
  dq_context *ctx;
  const dq_transport_ops *ops;
  dq_transport *t;
  dq_worker *w[N_WORKERS];
  const char *urls[N_WORKERS];
  char listen[256];
  const char *unreachable; /* --unreachable-url, or NULL: derived */
} checker;

static long tasks_left(checker *c) {
  long n = 0;
  for (int i = 0; i < N_WORKERS; i++)
    if (c->w[i] != NULL)
      n += dq_worker_task_count(c->w[i]) + dq_worker_live_tasks(c->w[i]);
  return n;
}

/* Waits up to ms for every worker to hold no task object. */
static long wait_no_tasks(checker *c, int ms) {
  uint64_t deadline = dq_now_ns() + (uint64_t)ms * 1000000u;
  long n;
  while ((n = tasks_left(c)) != 0 && dq_now_ns() < deadline)
    usleep(2000);
  return n;
}

/* --- plans -------------------------------------------------------------------
 * Stage 1 scans lineitem (`tasks` tasks of `parts` partitions) into a
 * coalesce boundary; the head counts.  The checks deliver stage 1 by hand
 * and read its output with execute_task. */
static const char *cols[] = {"l_orderkey", "l_quantity"};

static dq_plan *scan_plan(double scale, uint32_t tasks, uint32_t parts,
                          dq_error *err) {
  dq_plan_builder *b;
  if (dq_plan_builder_new(&b, err) < 0)
    return NULL;
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(
      b, dq_node_scan_tpch(b, "lineitem", scale, 7, cols, 2), tasks, parts,
      &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p = NULL;
  int rc = dq_plan_builder_finish(b, &p, err);
  dq_plan_builder_free(b);
  return rc < 0 ? NULL : p;
}

/* A plan whose stage 1 fails while it runs, after the worker accepted
 * the stream: it scans a CSV file that does not exist. */
static dq_plan *failing_plan(dq_error *err) {
  dq_plan_builder *b;
  if (dq_plan_builder_new(&b, err) < 0)
    return NULL;
  const char *name = "x";
  dq_type t = {DQ_TYPE_INT64, 0, 0};
  bool nullable = true;
  dq_schema *schema = NULL;
  if (dq_schema_new(1, &name, &t, &nullable, &schema, err) < 0) {
    dq_plan_builder_free(b);
    return NULL;
  }
  const char *path = "/nonexistent/dq-transport-check/missing.csv";
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, dq_node_scan_csv(b, 1, &path, schema, false),
                              1, 1, &coalesce);
  dq_schema_unref(schema);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p = NULL;
  int rc = dq_plan_builder_finish(b, &p, err);
  dq_plan_builder_free(b);
  return rc < 0 ? NULL : p;
}

/* A delivered stage-1 task and what reading it needs. */
typedef struct task_under_test {
  dq_set_plan sp;
  uint8_t *plan_bytes;
  uint8_t *head;
  size_t head_len;
  dq_channel *ch; /* to the worker of the task */
  dq_coord *coord;
} task_under_test;

static int deliver(checker *c, const dq_plan *p, uint8_t tag, int worker,
                   task_under_test *tu, dq_error *err) {
  memset(tu, 0, sizeof *tu);
  const dq_stage *s = dq_plan_stage_by_id(p, 1);
  int rc = dq_task_plan_encode(s, NULL, 0, &tu->plan_bytes, &tu->sp.plan_len,
                               err);
  dq_producer_head h;
  if (rc == 0)
    rc = dq_stage_producer_head(s, &h, err);
  if (rc == 0)
    rc = dq_producer_head_encode(&h, &tu->head, &tu->head_len, err);
  if (rc == 0)
    rc = c->ops->channel_open(c->t, c->urls[worker], &tu->ch, err);
  if (rc < 0)
    return rc;
  tu->sp.key.query_id[0] = 0xc7;
  tu->sp.key.query_id[1] = tag;
  tu->sp.key.stage_id = 1;
  tu->sp.key.task_number = 0;
  tu->sp.task_count = dq_stage_task_count(s);
  tu->sp.plan = tu->plan_bytes;
  tu->sp.target_worker_url = c->urls[worker];
  return c->ops->coord_open(tu->ch, &tu->sp, &tu->coord, err);
}

static void undeliver(checker *c, task_under_test *tu) {
  if (tu->coord != NULL)
    c->ops->coord_close(tu->coord);
  if (tu->ch != NULL)
    c->ops->channel_close(tu->ch);
  free(tu->plan_bytes);
  free(tu->head);
  memset(tu, 0, sizeof *tu);
}

static int execute(checker *c, task_under_test *tu, uint32_t start,
                   uint32_t end, dq_stream **out, dq_error *err) {
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.key = tu->sp.key;
  req.partition_start = start;
  req.partition_end = end;
  req.producer_head = tu->head;
  req.producer_head_len = tu->head_len;
  return c->ops->execute_task(tu->ch, &req, out, err);
}

static void release_frame(dq_frame *f) {
  if (f->kind == DQ_FRAME_SCHEMA && f->schema.release)
    f->schema.release(&f->schema);
  if (f->kind == DQ_FRAME_BATCH && f->array.release)
    f->array.release(&f->array);
}

/* Reads a stream to its END, checking the frame order; returns rows or a
 * negative code (err says why; a protocol breach is DQ_EPROTO). */
static int64_t drain(checker *c, dq_stream *s, uint32_t start, uint32_t end,
                     dq_error *err) {
  int64_t rows = 0;
  int n = 0;
  uint32_t eos = 0;
  for (;; n++) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    int rc = c->ops->stream_next(s, &f, err);
    if (rc < 0)
      return rc;
    int kind = (int)f.kind;
    if (kind == DQ_FRAME_BATCH)
      rows += f.array.length;
    uint32_t part = f.partition;
    int released_ok = 1;
    if (kind == DQ_FRAME_SCHEMA)
      released_ok = f.schema.release != NULL && f.array.release == NULL;
    if (kind == DQ_FRAME_BATCH)
      released_ok = f.array.release != NULL && f.schema.release == NULL;
    release_frame(&f);
    if (!released_ok)
      return dq_error_set(err, DQ_EPROTO,
                          "frame %d: the member the kind names must be set "
                          "(release != NULL) and the other zeroed",
                          n);
    if ((n == 0) != (kind == DQ_FRAME_SCHEMA))
      return dq_error_set(err, DQ_EPROTO,
                          "frame %d has kind %d: the first frame, and only "
                          "it, must be SCHEMA",
                          n, kind);
    if ((kind == DQ_FRAME_BATCH || kind == DQ_FRAME_EOS) &&
        (part < start || part >= end))
      return dq_error_set(err, DQ_EPROTO,
                          "frame %d names partition %u, outside [%u, %u)", n,
                          part, start, end);
    if (kind == DQ_FRAME_EOS)
      eos++;
    if (kind == DQ_FRAME_END) {
      if (eos != end - start)
        return dq_error_set(err, DQ_EPROTO,
                            "END after %u EOS frames, expected %u", eos,
                            end - start);
      return rows;
    }
    if (kind < DQ_FRAME_SCHEMA || kind > DQ_FRAME_END)
      return dq_error_set(err, DQ_EPROTO, "frame %d has unknown kind %d", n,
                          kind);
  }
}

/* Rows of lineitem at a scale, from the single-process run of scan_plan. */
static int count_local(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  *(int64_t *)ctx += dq_batch_n_rows(b);
  return 0;
}

static int64_t local_rows(double scale, dq_error *err) {
  dq_plan_builder *b;
  if (dq_plan_builder_new(&b, err) < 0)
    return -1;
  dq_plan_stage(b, dq_node_scan_tpch(b, "lineitem", scale, 7, cols, 2), 1, 1,
                NULL);
  dq_plan *p = NULL;
  int rc = dq_plan_builder_finish(b, &p, err);
  dq_plan_builder_free(b);
  int64_t rows = 0;
  if (rc == 0)
    rc = dq_plan_run_local(p, count_local, &rows, err);
  dq_plan_free(p);
  return rc < 0 ? -1 : rows;
}

/* --- checks ----------------------------------------------------------------*/

static int check_load(checker *c) {
  dq_error err;
  dq_error_clear(&err);
  dq_plugin *pl = NULL;
  if (dq_plugin_acquire(c->cfg, c->name, &pl, &err) < 0) {
    fail("load", "%s", err.message);
    return -1;
  }
  const dq_transport_plugin *d = dq_plugin_descriptor(pl);
  pass("load", "%s", dq_plugin_path(pl));
  printf("     plugin %s %s, ABI %u.%u (host %u.%u), descriptor %zu bytes "
         "(host %zu), ops table %zu bytes (host %zu, v1.0 %zu)\n",
         d->name, d->version ? d->version : "?", d->abi_major, d->abi_minor,
         DQ_TRANSPORT_ABI_MAJOR, DQ_TRANSPORT_ABI_MINOR, d->struct_size,
         sizeof(dq_transport_plugin), d->ops->size, sizeof(dq_transport_ops),
         (size_t)DQ_TRANSPORT_OPS_V1_0_SIZE);
  if (d->version == NULL || d->version[0] == '\0')
    fail("descriptor-version", "the descriptor has no version string");
  else
    pass("descriptor-version", "%s", d->version);
  if (d->description == NULL || d->description[0] == '\0')
    fail("descriptor-description", "the descriptor has no description");
  else
    pass("descriptor-description", "%s", d->description);
  dq_plugin_release(pl);

  if (dq_context_new(c->cfg, &c->ctx, &err) < 0) {
    fail("init", "%s", why(&err));
    return -1;
  }
  pass("init", NULL);
  c->ops = dq_context_ops(c->ctx);
  c->t = dq_context_transport(c->ctx);

  /* init must refuse an option it does not know, naming it. */
  dq_kv bogus = {"dq_transport_check_no_such_option", "1"};
  dq_transport *t2 = NULL;
  dq_error_clear(&err);
  int rc = c->ops->init(&bogus, 1, &t2, &err);
  if (rc == 0) {
    c->ops->fini(t2);
    fail("init-unknown-option", "init accepted an unknown option");
  } else if (strstr(err.message, bogus.key) == NULL) {
    fail("init-unknown-option", "the error does not name the option: %s",
         why(&err));
  } else {
    pass("init-unknown-option", "%s", err.message);
  }
  return 0;
}

static int check_serve(checker *c) {
  dq_error err;
  dq_error_clear(&err);
  char fresh[128];
  snprintf(fresh, sizeof fresh, "%s://", c->name);
  int by_default = strcmp(c->listen, fresh) == 0;
  for (int i = 0; i < N_WORKERS; i++) {
    int rc = dq_worker_start(c->ctx, c->listen, &c->w[i], &err);
    if (i == 0 && by_default) {
      /* NAME:// must give a fresh address (dq-transport(7)); a plugin
       * that refuses it still gets the other checks, over a port 0. */
      if (rc < 0) {
        fail("fresh-address", "serving at %s: %s", fresh, why(&err));
        snprintf(c->listen, sizeof c->listen, "%s://127.0.0.1:0", c->name);
        rc = dq_worker_start(c->ctx, c->listen, &c->w[i], &err);
      } else {
        pass("fresh-address", "%s", dq_worker_url(c->w[i]));
      }
    }
    if (rc < 0) {
      fail("serve", "worker %d at %s: %s", i, c->listen, why(&err));
      return -1;
    }
    c->urls[i] = dq_worker_url(c->w[i]);
  }
  char prefix[96];
  snprintf(prefix, sizeof prefix, "%s://", c->name);
  if (strncmp(c->urls[0], prefix, strlen(prefix)) != 0 ||
      strcmp(c->urls[0], c->urls[1]) == 0 ||
      strstr(c->urls[0], ":0") == c->urls[0] + strlen(c->urls[0]) - 2)
    fail("server-url", "got %s and %s: expected two distinct %s URLs, with "
         "the port actually bound",
         c->urls[0], c->urls[1], prefix);
  else
    pass("server-url", "%s, %s", c->urls[0], c->urls[1]);
  return 0;
}

static void check_worker_info(checker *c) {
  dq_error err;
  dq_error_clear(&err);
  dq_channel *ch = NULL;
  if (c->ops->channel_open(c->t, c->urls[1], &ch, &err) < 0) {
    fail("channel-open", "%s", why(&err));
    return;
  }
  pass("channel-open", NULL);
  dq_worker_info info;
  memset(&info, 0, sizeof info);
  if (c->ops->get_worker_info(ch, &info, &err) < 0)
    fail("get-worker-info", "%s", why(&err));
  else if (info.protocol_version != DQ_PROTOCOL_VERSION ||
           strcmp(info.version, DQ_VERSION_STRING) != 0 ||
           strcmp(info.url, c->urls[1]) != 0)
    fail("get-worker-info", "got version '%s', protocol %u, url '%s'; "
         "expected '%s', %u, '%s'",
         info.version, info.protocol_version, info.url, DQ_VERSION_STRING,
         DQ_PROTOCOL_VERSION, c->urls[1]);
  else
    pass("get-worker-info", "%s protocol %u at %s", info.version,
         info.protocol_version, info.url);
  c->ops->channel_close(ch);
}

/* SetPlan and TaskMetrics through the transport, to and from a service
 * that records them (check_probe.c): every field must arrive as sent —
 * the config pairs, which libdq's own worker ignores, included. */
static void check_wire_intact(checker *c) {
  dq_error err;
  dq_error_clear(&err);
  check_probe pr;
  check_probe_init(&pr);
  dq_server *srv = NULL;
  if (c->ops->serve(c->t, c->listen, &pr.svc, &srv, &err) < 0) {
    fail("setplan-intact", "serving a recording service at %s: %s",
         c->listen, why(&err));
    check_probe_free(&pr);
    return;
  }
  const char *url = c->ops->server_url(srv);
  pthread_mutex_lock(&pr.lock);
  snprintf(pr.url, sizeof pr.url, "%s", url);
  pthread_mutex_unlock(&pr.lock);

  static uint8_t plan[3000];
  for (size_t i = 0; i < sizeof plan; i++)
    plan[i] = (uint8_t)(i * 7 + i / 256); /* zeros and 0xff included */
  static char longv[1201];
  memset(longv, 'v', sizeof longv - 1);
  const dq_kv config[] = {{"batch_rows", "8192"},
                          {"empty", ""},
                          {"spaces and = signs", " a = b; c # d "},
                          {"utf8", "d\xc3\xa9j\xc3\xa0 vu"},
                          {"long", longv},
                          {"batch_rows", "repeated keys stay"}};
  size_t n_config = sizeof config / sizeof config[0];
  dq_set_plan sp;
  memset(&sp, 0, sizeof sp);
  for (int i = 0; i < 16; i++)
    sp.key.query_id[i] = (uint8_t)(0xa0 + i);
  sp.key.stage_id = 0x10003;
  sp.key.task_number = 0x20002;
  sp.task_count = 0x30004;
  sp.plan = plan;
  sp.plan_len = sizeof plan;
  sp.target_worker_url = url;
  sp.config = config;
  sp.n_config = n_config;

  dq_channel *ch = NULL;
  dq_coord *co = NULL;
  int rc = c->ops->channel_open(c->t, url, &ch, &err);
  if (rc == 0)
    rc = c->ops->coord_open(ch, &sp, &co, &err);
  if (rc < 0) {
    fail("setplan-intact", "coord_open to the recording service: %s",
         why(&err));
  } else {
    char what[160] = "";
    pthread_mutex_lock(&pr.lock);
    if (memcmp(&pr.key, &sp.key, sizeof sp.key) != 0)
      snprintf(what, sizeof what, "the task key differs");
    else if (pr.task_count != sp.task_count)
      snprintf(what, sizeof what, "task_count %u, sent %u", pr.task_count,
               sp.task_count);
    else if (pr.plan_len != sp.plan_len ||
             memcmp(pr.plan, sp.plan, sp.plan_len) != 0)
      snprintf(what, sizeof what, "the plan bytes differ (%zu bytes, sent "
               "%zu)", pr.plan_len, sp.plan_len);
    else if (strcmp(pr.target, url) != 0)
      snprintf(what, sizeof what, "target_worker_url '%.60s'", pr.target);
    else if (pr.n_config != n_config)
      snprintf(what, sizeof what, "%zu config pairs arrived, %zu were sent",
               pr.n_config, n_config);
    for (size_t i = 0; what[0] == '\0' && i < n_config; i++)
      if (strcmp(pr.keys[i], config[i].key) != 0 ||
          strcmp(pr.values[i], config[i].value) != 0)
        snprintf(what, sizeof what, "config pair %zu arrived as '%.40s' = "
                 "'%.40s'", i, pr.keys[i], pr.values[i]);
    pthread_mutex_unlock(&pr.lock);
    if (what[0] != '\0')
      fail("setplan-intact", "%s", what);
    else
      pass("setplan-intact", "%zu plan bytes, %zu config pairs",
           sp.plan_len, n_config);

    dq_task_metrics m;
    memset(&m, 0, sizeof m);
    const dq_task_metrics *want = &pr.metrics;
    if (c->ops->coord_finish(co, &m, &err) < 0)
      fail("metrics-intact", "coord_finish: %s", why(&err));
    else if (memcmp(&m.key, &sp.key, sizeof sp.key) != 0 ||
             m.plan_bytes != want->plan_bytes ||
             m.queued_ns != want->queued_ns || m.run_ns != want->run_ns ||
             m.rows_out != want->rows_out ||
             m.batches_out != want->batches_out ||
             m.bytes_out != want->bytes_out)
      fail("metrics-intact", "the task's counters differ from what the "
           "service answered");
    else if (m.n_boundaries != want->n_boundaries || m.boundaries == NULL ||
             memcmp(m.boundaries, want->boundaries,
                    want->n_boundaries * sizeof *m.boundaries) != 0)
      fail("metrics-intact", "%zu boundary metrics arrived, %zu were sent, "
           "or their values differ", m.n_boundaries, want->n_boundaries);
    else
      pass("metrics-intact", "%zu boundaries", m.n_boundaries);
    c->ops->coord_close(co);
    uint64_t deadline = dq_now_ns() + 2000000000ull;
    while (check_probe_closed(&pr) == 0 && dq_now_ns() < deadline)
      usleep(2000);
    if (check_probe_closed(&pr) != 1)
      fail("coord-close-reaches-service", "the service saw %d coord_close "
           "calls 2 s after the client closed, expected 1",
           check_probe_closed(&pr));
    else
      pass("coord-close-reaches-service", NULL);
  }
  if (ch != NULL)
    c->ops->channel_close(ch);
  c->ops->stop(srv);
  check_probe_free(&pr);
}

/* SetPlan, a work unit, ExecuteTask to END, finish with metrics, close. */
static void check_coord_lifecycle(checker *c, int64_t want_rows) {
  dq_error err;
  dq_error_clear(&err);
  dq_plan *p = scan_plan(0.002, 1, 2, &err);
  task_under_test tu;
  if (p == NULL || deliver(c, p, 1, 1, &tu, &err) < 0) {
    fail("coord-open", "%s", why(&err));
    if (p != NULL)
      undeliver(c, &tu);
    dq_plan_free(p);
    return;
  }
  pass("coord-open", NULL);
  if (dq_worker_task_count(c->w[1]) != 1)
    fail("coord-open-delivers", "the worker holds %ld tasks after SetPlan, "
         "expected 1", dq_worker_task_count(c->w[1]));
  else
    pass("coord-open-delivers", NULL);
  static const char unit[] = "a work unit";
  if (c->ops->coord_send_work_unit(tu.coord, unit, sizeof unit, &err) < 0)
    fail("coord-send-work-unit", "%s", why(&err));
  else
    pass("coord-send-work-unit", NULL);

  dq_stream *s = NULL;
  if (execute(c, &tu, 0, 2, &s, &err) < 0) {
    fail("execute-task", "%s", why(&err));
  } else {
    pass("execute-task", NULL);
    int64_t rows = drain(c, s, 0, 2, &err);
    if (rows < 0)
      fail("stream-next", "%s", why(&err));
    else if (rows != want_rows)
      fail("stream-next", "read %lld rows, the single-process run has %lld",
           (long long)rows, (long long)want_rows);
    else
      pass("stream-next", "%lld rows", (long long)rows);
    dq_frame f;
    int rc = 0;
    int calls = rows < 0 ? 0 : 3; /* END is sticky: every later call */
    if (rows < 0)
      fail("stream-next-after-end", "the stream never reached END");
    for (int i = 0; i < calls; i++) {
      memset(&f, 0, sizeof f);
      rc = c->ops->stream_next(s, &f, &err);
      int kind = (int)f.kind;
      release_frame(&f);
      if (rc != 0 || kind != DQ_FRAME_END) {
        fail("stream-next-after-end", "call %d after END got %d (kind %d), "
             "expected END again", i + 1, rc, kind);
        break;
      }
      if (i == calls - 1)
        pass("stream-next-after-end", "END %d times", calls);
    }
    c->ops->stream_close(s);

    /* Work units must come before the task starts: the worker's refusal
     * must come back through the transport, code and all. */
    dq_error_clear(&err);
    rc = c->ops->coord_send_work_unit(tu.coord, unit, sizeof unit, &err);
    if (rc != DQ_EINVAL || err.code != DQ_EINVAL || err.message[0] == '\0')
      fail("coord-error-passes-through", "got %d (%s), expected DQ_EINVAL",
           rc, why(&err));
    else
      pass("coord-error-passes-through", "%s", err.message);

    dq_task_metrics m;
    memset(&m, 0, sizeof m);
    if (c->ops->coord_finish(tu.coord, &m, &err) < 0)
      fail("coord-finish", "%s", why(&err));
    else if (memcmp(&m.key, &tu.sp.key, sizeof m.key) != 0 ||
             (int64_t)m.rows_out != want_rows ||
             m.plan_bytes != tu.sp.plan_len)
      fail("coord-finish", "metrics say task %u/%u, %llu rows, %llu plan "
           "bytes; expected %u/%u, %lld, %zu",
           m.key.stage_id, m.key.task_number,
           (unsigned long long)m.rows_out,
           (unsigned long long)m.plan_bytes, tu.sp.key.stage_id,
           tu.sp.key.task_number, (long long)want_rows, tu.sp.plan_len);
    else
      pass("coord-finish", "%llu rows out", (unsigned long long)m.rows_out);
  }
  undeliver(c, &tu);
  long left = wait_no_tasks(c, 1000);
  if (left != 0)
    fail("coord-close-frees-task", "%ld task objects left 1 s after "
         "coord_close", left);
  else
    pass("coord-close-frees-task", NULL);
  dq_plan_free(p);
}

typedef struct blocked_reader {
  checker *c;
  dq_stream *s;
  int rc;
  uint64_t returned_at;
} blocked_reader;

static void *read_until_error(void *arg) {
  blocked_reader *br = arg;
  dq_error err;
  for (;;) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    br->rc = br->c->ops->stream_next(br->s, &f, &err);
    release_frame(&f);
    if (br->rc < 0 || f.kind == DQ_FRAME_END)
      break;
  }
  br->returned_at = dq_now_ns();
  return NULL;
}

/* Cancellation at every point of a stream's life. */
static void check_cancel(checker *c) {
  dq_error err;
  dq_error_clear(&err);
  /* A scan that cannot end by itself while the checks look at it, however
   * slow or loaded the machine (SF 2 of two narrow columns could: the
   * generator makes ~50 M rows/s).  It is always cancelled. */
  dq_plan *p = scan_plan(1000, 1, 2, &err);
  task_under_test tu;
  if (p == NULL || deliver(c, p, 2, 0, &tu, &err) < 0) {
    fail("cancel-setup", "%s", why(&err));
    if (p != NULL)
      undeliver(c, &tu);
    dq_plan_free(p);
    return;
  }
  dq_stream *s0 = NULL, *s1 = NULL;
  /* Before the first frame. */
  if (execute(c, &tu, 0, 1, &s0, &err) < 0) {
    fail("cancel-before-first-frame", "execute_task: %s", why(&err));
  } else {
    c->ops->stream_cancel(s0);
    dq_frame f;
    memset(&f, 0, sizeof f);
    int rc = c->ops->stream_next(s0, &f, &err);
    release_frame(&f);
    if (rc != DQ_ECANCELED)
      fail("cancel-before-first-frame", "stream_next returned %d, expected "
           "DQ_ECANCELED", rc);
    else
      pass("cancel-before-first-frame", NULL);
    rc = c->ops->stream_next(s0, &f, &err);
    release_frame(&f);
    if (rc != DQ_ECANCELED)
      fail("cancel-is-sticky", "the next call returned %d", rc);
    else
      pass("cancel-is-sticky", NULL);
  }
  /* Mid-stream, from another thread, while the reader may be blocked; the
   * sibling stream of partition 0 was cancelled above, partition 1 is this
   * one. */
  if (execute(c, &tu, 1, 2, &s1, &err) < 0) {
    fail("cancel-mid-stream", "execute_task: %s", why(&err));
  } else {
    blocked_reader br = {c, s1, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, read_until_error, &br);
    usleep(100000);
    uint64_t t0 = dq_now_ns();
    c->ops->stream_cancel(s1);
    pthread_join(th, NULL);
    double ms = (double)(br.returned_at - t0) / 1e6;
    if (br.rc != DQ_ECANCELED)
      fail("cancel-mid-stream", "the reader's stream_next returned %d, "
           "expected DQ_ECANCELED", br.rc);
    else if (ms > 1000)
      fail("cancel-mid-stream", "the blocked reader took %.0f ms to return",
           ms);
    else
      pass("cancel-mid-stream", "returned %.1f ms after stream_cancel", ms);
    c->ops->stream_close(s1);
  }
  if (s0 != NULL)
    c->ops->stream_close(s0);
  /* Closing the coordinator channel while the task still runs. */
  undeliver(c, &tu);
  long left = wait_no_tasks(c, 2000);
  if (left != 0)
    fail("close-running-task", "%ld task objects left 2 s after closing a "
         "running task's coordinator channel", left);
  else
    pass("close-running-task", NULL);
  dq_plan_free(p);

  /* After END, and close without reading to the end. */
  p = scan_plan(0.001, 1, 2, &err);
  if (p == NULL || deliver(c, p, 3, 1, &tu, &err) < 0) {
    fail("cancel-after-end", "setup: %s", why(&err));
    if (p != NULL)
      undeliver(c, &tu);
    dq_plan_free(p);
    return;
  }
  s0 = s1 = NULL;
  if (execute(c, &tu, 0, 1, &s0, &err) < 0 ||
      execute(c, &tu, 1, 2, &s1, &err) < 0) {
    fail("cancel-after-end", "execute_task: %s", why(&err));
  } else {
    int64_t rows = drain(c, s0, 0, 1, &err);
    c->ops->stream_cancel(s0);
    dq_frame f;
    memset(&f, 0, sizeof f);
    int rc = c->ops->stream_next(s0, &f, &err);
    int kind = (int)f.kind;
    release_frame(&f);
    if (rows < 0)
      fail("cancel-after-end", "draining: %s", why(&err));
    else if (!(rc == DQ_ECANCELED || (rc == 0 && kind == DQ_FRAME_END)))
      fail("cancel-after-end", "stream_next returned %d (kind %d), expected "
           "END or DQ_ECANCELED", rc, kind);
    else
      pass("cancel-after-end", NULL);
    /* s1: read the schema only, then close without cancelling. */
    rc = c->ops->stream_next(s1, &f, &err);
    release_frame(&f);
    if (rc < 0)
      fail("close-unfinished-stream", "first frame: %s", why(&err));
  }
  if (s0 != NULL)
    c->ops->stream_close(s0);
  if (s1 != NULL)
    c->ops->stream_close(s1);
  undeliver(c, &tu);
  left = wait_no_tasks(c, 1000);
  if (left != 0)
    fail("close-unfinished-stream", "%ld task objects left 1 s after "
         "closing", left);
  else
    pass("close-unfinished-stream", NULL);
  dq_plan_free(p);
}

/* After a stream failed with rc (err), two more stream_next calls must
 * return the same code, with nothing to release. */
static void sticky_error(checker *c, dq_stream *s, int rc,
                         const dq_error *err) {
  if (rc >= 0) {
    fail("error-is-sticky", "the stream did not fail");
    return;
  }
  for (int i = 0; i < 2; i++) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    dq_error again;
    dq_error_clear(&again);
    int rc2 = c->ops->stream_next(s, &f, &again);
    int leaked = f.schema.release != NULL || f.array.release != NULL;
    release_frame(&f);
    if (rc2 != rc || leaked) {
      fail("error-is-sticky", "after %s, call %d returned %d%s", why(err),
           i + 2, rc2, leaked ? " and a frame" : "");
      return;
    }
  }
  pass("error-is-sticky", "%s", dq_strerror(rc));
}

/* A well-formed URL where nobody serves: --unreachable-url, else a
 * worker's URL with port 1 (HOST:PORT forms) or with a suffix added to its
 * name or path (shm://NAME, unix:///path and the like). */
static void unreachable_url(const checker *c, char *buf, size_t len) {
  if (c->unreachable != NULL) {
    snprintf(buf, len, "%s", c->unreachable);
    return;
  }
  const char *u = c->urls[0];
  const char *rest = strstr(u, "://");
  rest = rest ? rest + 3 : u;
  const char *colon = strrchr(rest, ':');
  int port = colon != NULL && colon[1] != '\0' &&
             strspn(colon + 1, "0123456789") == strlen(colon + 1);
  if (port)
    snprintf(buf, len, "%.*s:1", (int)(colon - u), u);
  else
    snprintf(buf, len, "%s-dq-check-nobody", u);
}

static void check_errors(checker *c) {
  dq_error err;
  /* A real connect failure: DQ_EUNAVAILABLE naming the URL, at
   * channel_open or at the first call. */
  char bad[300];
  unreachable_url(c, bad, sizeof bad);
  dq_error_clear(&err);
  dq_channel *ch = NULL;
  int rc = c->ops->channel_open(c->t, bad, &ch, &err);
  if (rc == 0) {
    dq_worker_info info;
    rc = c->ops->get_worker_info(ch, &info, &err);
    c->ops->channel_close(ch);
  }
  if (rc != DQ_EUNAVAILABLE)
    fail("unreachable-url", "%s gave %d (%s), expected DQ_EUNAVAILABLE (if "
         "the plugin cannot parse it, pass one with --unreachable-url)",
         bad, rc, why(&err));
  else if (err.message[0] == '\0')
    fail("unreachable-url", "the error has no message");
  else if (strcmp(err.worker_url, bad) != 0)
    fail("unreachable-url", "the error names worker '%s', expected %s "
         "(dq_error_set_origin)", err.worker_url, bad);
  else
    pass("unreachable-url", "%s", err.message);

  /* A scheme the transport does not serve. */
  dq_error_clear(&err);
  rc = c->ops->channel_open(c->t, "nosuchscheme://x", &ch, &err);
  if (rc == 0) {
    dq_worker_info info;
    rc = c->ops->get_worker_info(ch, &info, &err);
    c->ops->channel_close(ch);
  }
  if (rc != DQ_EINVAL && rc != DQ_EUNAVAILABLE)
    fail("wrong-scheme", "gave %d, expected DQ_EINVAL or DQ_EUNAVAILABLE", rc);
  else
    pass("wrong-scheme", "%s", err.message);

  /* ExecuteTask for a task nobody planned: the worker waits plan_wait_ms,
   * then the timeout must arrive with the worker and the task named. */
  dq_plan *p = scan_plan(0.001, 1, 1, &err);
  task_under_test tu;
  memset(&tu, 0, sizeof tu);
  dq_producer_head h;
  if (p == NULL ||
      dq_stage_producer_head(dq_plan_stage_by_id(p, 1), &h, &err) < 0 ||
      dq_producer_head_encode(&h, &tu.head, &tu.head_len, &err) < 0 ||
      c->ops->channel_open(c->t, c->urls[0], &tu.ch, &err) < 0) {
    fail("unknown-task", "setup: %s", why(&err));
  } else {
    tu.sp.key.query_id[0] = 0xde;
    tu.sp.key.query_id[1] = 0xad;
    tu.sp.key.stage_id = 1;
    dq_stream *s = NULL;
    dq_error_clear(&err);
    uint64_t t0 = dq_now_ns();
    rc = execute(c, &tu, 0, 1, &s, &err);
    if (rc == 0) {
      rc = (int)drain(c, s, 0, 1, &err);
      c->ops->stream_close(s);
    }
    double ms = (double)(dq_now_ns() - t0) / 1e6;
    if (rc != DQ_ETIMEDOUT)
      fail("unknown-task", "got %d (%s), expected DQ_ETIMEDOUT", rc,
           why(&err));
    else if (strcmp(err.worker_url, c->urls[0]) != 0 || !err.has_task ||
             err.task.stage_id != 1 || err.task.query_id[1] != 0xad)
      fail("unknown-task", "the error names worker '%s' and %s; expected "
           "%s and the task",
           err.worker_url, err.has_task ? "a task" : "no task", c->urls[0]);
    else if (ms > PLAN_WAIT_MS * 5)
      fail("unknown-task", "took %.0f ms; plan_wait_ms is %d", ms,
           PLAN_WAIT_MS);
    else
      pass("unknown-task", "%.0f ms: %s", ms, err.message);
  }
  if (p != NULL)
    undeliver(c, &tu);

  /* A malformed producer head on a planned task. */
  if (p != NULL && deliver(c, p, 4, 0, &tu, &err) == 0) {
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    free(tu.head);
    tu.head = malloc(sizeof junk);
    memcpy(tu.head, junk, sizeof junk);
    tu.head_len = sizeof junk;
    dq_stream *s = NULL;
    dq_error_clear(&err);
    rc = execute(c, &tu, 0, 1, &s, &err);
    if (rc == 0) {
      rc = (int)drain(c, s, 0, 1, &err);
      c->ops->stream_close(s);
    }
    if (rc != DQ_EPROTO && rc != DQ_EINVAL)
      fail("malformed-producer-head", "got %d (%s), expected DQ_EPROTO or "
           "DQ_EINVAL", rc, why(&err));
    else if (err.worker_url[0] == '\0')
      fail("malformed-producer-head", "the error names no worker: %s",
           why(&err));
    else
      pass("malformed-producer-head", "%s", err.message);
    undeliver(c, &tu);
  } else {
    fail("malformed-producer-head", "setup: %s", why(&err));
  }

  /* A task that fails while its stream is read: the worker's error must
   * arrive through stream_next (or execute_task) naming the worker, and a
   * stream error must stay (sticky). */
  dq_plan *fp = failing_plan(&err);
  if (fp == NULL || deliver(c, fp, 5, 1, &tu, &err) < 0) {
    fail("stream-error", "setup: %s", why(&err));
  } else {
    dq_stream *s = NULL;
    dq_error_clear(&err);
    rc = execute(c, &tu, 0, 1, &s, &err);
    int in_stream = rc == 0;
    if (rc == 0)
      rc = (int)drain(c, s, 0, 1, &err);
    if (rc >= 0)
      fail("stream-error", "reading a task that cannot run ended well");
    else if (strcmp(err.worker_url, c->urls[1]) != 0)
      fail("stream-error", "the error names worker '%s', expected %s: %s",
           err.worker_url, c->urls[1], why(&err));
    else
      pass("stream-error", "%s", err.message);
    if (in_stream) {
      sticky_error(c, s, rc, &err);
      c->ops->stream_close(s);
    } else {
      fail("error-is-sticky", "execute_task refused a task that could only "
           "fail once it ran: %s", why(&err));
    }
  }
  if (fp != NULL)
    undeliver(c, &tu);
  dq_plan_free(fp);

  /* A malformed task plan: the worker's decoder refuses it. */
  dq_error_clear(&err);
  if (c->ops->channel_open(c->t, c->urls[1], &ch, &err) == 0) {
    static const uint8_t junk[] = {0x0a, 0xff, 0x7f, 0x00};
    dq_set_plan sp;
    memset(&sp, 0, sizeof sp);
    sp.key.query_id[0] = 0xbe;
    sp.key.stage_id = 1;
    sp.task_count = 1;
    sp.plan = junk;
    sp.plan_len = sizeof junk;
    sp.target_worker_url = c->urls[1];
    dq_coord *co = NULL;
    rc = c->ops->coord_open(ch, &sp, &co, &err);
    if (rc == 0) {
      c->ops->coord_close(co);
      fail("malformed-plan", "coord_open accepted a malformed plan");
    } else if (rc != DQ_EPROTO && rc != DQ_EINVAL) {
      fail("malformed-plan", "got %d (%s), expected DQ_EPROTO", rc,
           why(&err));
    } else {
      pass("malformed-plan", "%s", err.message);
    }
    c->ops->channel_close(ch);
  } else {
    fail("malformed-plan", "channel_open: %s", why(&err));
  }
  dq_plan_free(p);
  long left = wait_no_tasks(c, 1000);
  if (left != 0)
    fail("errors-leave-nothing", "%ld task objects left", left);
  else
    pass("errors-leave-nothing", NULL);
}

/* --- real queries ------------------------------------------------------------*/

/* One row of a batch as text, exact for every dq type. */
static void row_text(const dq_batch *b, int64_t r, char *buf, size_t len) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < dq_batch_n_columns(b) && off < len; i++) {
    const dq_array *a = dq_batch_column(b, i);
    char v[128];
    if (dq_array_is_null(a, r)) {
      snprintf(v, sizeof v, "NULL");
    } else {
      switch (dq_array_type(a).id) {
      case DQ_TYPE_BOOL:
        snprintf(v, sizeof v, "%d", dq_array_bool(a, r));
        break;
      case DQ_TYPE_INT32:
      case DQ_TYPE_DATE32:
        snprintf(v, sizeof v, "%d",
                 dq_array_type(a).id == DQ_TYPE_INT32 ? dq_array_int32(a, r)
                                                      : dq_array_date32(a, r));
        break;
      case DQ_TYPE_INT64:
        snprintf(v, sizeof v, "%lld", (long long)dq_array_int64(a, r));
        break;
      case DQ_TYPE_FLOAT64:
        snprintf(v, sizeof v, "%.17g", dq_array_float64(a, r));
        break;
      case DQ_TYPE_DECIMAL: {
        dq_decimal d = dq_array_decimal(a, r);
        snprintf(v, sizeof v, "%llx:%llx", (unsigned long long)d.hi,
                 (unsigned long long)d.lo);
        break;
      }
      case DQ_TYPE_UTF8: {
        size_t n;
        const char *s = dq_array_utf8(a, r, &n);
        snprintf(v, sizeof v, "%.*s", (int)(n < 100 ? n : 100), s);
        break;
      }
      default:
        snprintf(v, sizeof v, "?");
      }
    }
    off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "|" : "", v);
  }
}

typedef struct rows {
  char **r;
  size_t n;
} rows;

static int add_rows(void *ctx, const dq_batch *b, dq_error *err) {
  rows *out = ctx;
  for (int64_t i = 0; i < dq_batch_n_rows(b); i++) {
    char **g = realloc(out->r, (out->n + 1) * sizeof *g);
    if (g == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    out->r = g;
    char line[2048];
    row_text(b, i, line, sizeof line);
    out->r[out->n++] = strdup(line);
  }
  return 0;
}

static void rows_free(rows *r) {
  for (size_t i = 0; i < r->n; i++)
    free(r->r[i]);
  free(r->r);
}

static void check_queries(checker *c) {
  static const char *const queries[] = {"q1", "q6"};
  for (size_t qi = 0; qi < 2; qi++) {
    char name[32];
    snprintf(name, sizeof name, "query-tpch-%s", queries[qi]);
    dq_error err;
    dq_error_clear(&err);
    dq_plan *lp = NULL, *dp = NULL;
    rows want = {0}, got = {0};
    int rc = dq_tpch_query_plan(queries[qi], 0.01, 3, 0, 0, &lp, &err);
    if (rc == 0)
      rc = dq_plan_run_local(lp, add_rows, &want, &err);
    if (rc == 0)
      rc = dq_tpch_query_plan(queries[qi], 0.01, 3, 3, 2, &dp, &err);
    dq_query *q = NULL;
    if (rc == 0)
      rc = dq_query_start(c->ctx, dp, c->urls, N_WORKERS, &q, &err);
    while (rc == 0) {
      dq_batch *b = NULL;
      rc = dq_query_next(q, &b, &err);
      if (rc < 0 || b == NULL)
        break;
      rc = add_rows(&got, b, &err);
      dq_batch_unref(b);
    }
    dq_query_close(q);
    if (rc < 0) {
      fail(name, "%s", why(&err));
    } else {
      int same = want.n == got.n && want.n > 0;
      for (size_t i = 0; same && i < want.n; i++)
        same = strcmp(want.r[i], got.r[i]) == 0;
      if (!same)
        fail(name, "%zu rows differ from the single-process answer (%zu "
             "rows)", got.n, want.n);
      else
        pass(name, "%zu rows, equal to the single-process answer", got.n);
    }
    rows_free(&want);
    rows_free(&got);
    dq_plan_free(lp);
    dq_plan_free(dp);
  }
  long left = wait_no_tasks(c, 1000);
  if (left != 0)
    fail("queries-leave-nothing", "%ld task objects left 1 s after the "
         "queries closed", left);
  else
    pass("queries-leave-nothing", NULL);
}

/* --- main ----------------------------------------------------------------------*/

static void usage(FILE *f) {
  fprintf(f,
          "usage: dq-transport-check [--verbose] [--config FILE] "
          "[--option KEY=VALUE]...\n"
          "                          [--listen URL] [--unreachable-url URL] "
          "NAME\n"
          "Checks that the transport plugin NAME (found on $DQ_PLUGIN_PATH, "
          "then in\n%s) conforms to <dq/transport.h>: loading, every op, "
          "cancellation,\nerror paths, real queries and cleanup.  Prints "
          "`PASS check` or\n`FAIL check: reason` per check; exits 0 only if "
          "all pass.\n\n"
          "  --config FILE         a dq.conf whose [transport.NAME] options "
          "(and [dq]\n"
          "                        plugin_path) the plugin gets\n"
          "  --option KEY=VALUE    one more [transport.NAME] option (after "
          "the file's)\n"
          "  --listen URL          where the test workers listen (default "
          "NAME://, a\n"
          "                        fresh address; then NAME://127.0.0.1:0)\n"
          "  --unreachable-url URL a well-formed URL nobody serves (default: "
          "derived\n"
          "                        from a worker's URL)\n"
          "  --verbose             details on PASS lines too\n",
          dq_plugin_dir());
}

/* The file's text, or NULL (err says why). */
static char *read_text(const char *path, dq_error *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    dq_error_set(err, DQ_EIO, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (n + 1 == cap) {
      char *g = realloc(buf, cap * 2);
      if (g == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = g;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf == NULL)
    dq_error_set(err, DQ_ENOMEM, "out of memory reading %s", path);
  else
    buf[n] = '\0';
  return buf;
}

#define MAX_OPTIONS 64

int main(int argc, char **argv) {
  checker c;
  memset(&c, 0, sizeof c);
  const char *listen = NULL, *config = NULL;
  const char *options[MAX_OPTIONS];
  size_t n_options = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
      verbose = 1;
    } else if (strcmp(a, "--listen") == 0 && more) {
      listen = argv[++i];
    } else if (strcmp(a, "--config") == 0 && more) {
      config = argv[++i];
    } else if (strcmp(a, "--unreachable-url") == 0 && more) {
      c.unreachable = argv[++i];
    } else if (strcmp(a, "--option") == 0 && more) {
      const char *o = argv[++i];
      const char *eq = strchr(o, '=');
      /* The pair becomes an INI line: refuse what would not survive it. */
      if (eq == NULL || eq == o || strpbrk(o, "\n\r[];#") != NULL ||
          n_options == MAX_OPTIONS) {
        fprintf(stderr, "dq-transport-check: --option wants KEY=VALUE "
                "(no newline, '[', ']', ';' or '#'; at most %d): '%s'\n",
                MAX_OPTIONS, o);
        return 2;
      }
      options[n_options++] = o;
    } else if (a[0] == '-' || c.name != NULL) {
      usage(stderr);
      return 2;
    } else {
      c.name = a;
    }
  }
  if (c.name == NULL) {
    usage(stderr);
    return 2;
  }
  /* NAME:// asks the plugin for a fresh address (dq-transport(7)). */
  if (listen != NULL)
    snprintf(c.listen, sizeof c.listen, "%s", listen);
  else
    snprintf(c.listen, sizeof c.listen, "%s://", c.name);

  long threads0, fds0;
  dqt_self_counts(0, &threads0, &fds0);
  /* The configuration: --config's file (DQ_CONFIG is ignored), then the
   * checker's own settings and the --option pairs.  A key the file sets
   * that the checker sets too ([dq] transport, [executor] plan_wait_ms)
   * is an error naming both lines, as in any config. */
  dq_error err;
  dq_error_clear(&err);
  char *file = config ? read_text(config, &err) : NULL;
  if (config != NULL && file == NULL) {
    fprintf(stderr, "dq-transport-check: %s\n", err.message);
    return 2;
  }
  size_t cap = (file ? strlen(file) : 0) + 256 + strlen(c.name) * 2;
  for (size_t i = 0; i < n_options; i++)
    cap += strlen(options[i]) + 2;
  char *text = malloc(cap);
  if (text == NULL) {
    free(file);
    fprintf(stderr, "dq-transport-check: out of memory\n");
    return 2;
  }
  int off = snprintf(text, cap,
                     "%s\n[dq]\ntransport = %s\n[executor]\n"
                     "plan_wait_ms = %d\n[transport.%s]\n",
                     file ? file : "", c.name, PLAN_WAIT_MS, c.name);
  for (size_t i = 0; i < n_options; i++)
    off += snprintf(text + off, cap - (size_t)off, "%s\n", options[i]);
  free(file);
  int rc = dq_config_parse(text, config ? config : "dq-transport-check",
                           &c.cfg, &err);
  free(text);
  if (rc == 0)
    rc = dq_config_set_transport(c.cfg, c.name, &err);
  if (rc < 0) {
    fail("config", "%s", err.message);
    goto summary;
  }
  if (check_load(&c) < 0)
    goto summary;
  if (check_serve(&c) == 0) {
    check_worker_info(&c);
    check_wire_intact(&c);
    dq_error_clear(&err);
    int64_t want = local_rows(0.002, &err);
    if (want < 0)
      fail("local-baseline", "%s", why(&err));
    else
      check_coord_lifecycle(&c, want);
    check_cancel(&c);
    check_errors(&c);
    check_queries(&c);
  }
  for (int i = 0; i < N_WORKERS; i++)
    dq_worker_stop(c.w[i]);
  pass("stop", NULL);
  dq_context_free(c.ctx);
  c.ctx = NULL;
  pass("fini", NULL);
  /* Threads may still be on their way out of a joined pthread_exit. */
  long threads, fds;
  dqt_self_wait_down(0, threads0, fds0, 5000, &threads, &fds);
  if (threads != threads0 || fds != fds0)
    fail("nothing-left", "%ld threads and %ld descriptors before the "
         "checks, %ld and %ld after stop and fini",
         threads0, fds0, threads, fds);
  else
    pass("nothing-left", NULL);

summary:
  dq_context_free(c.ctx);
  dq_config_free(c.cfg);
  printf("%d checks: %d passed, %d failed\n", n_pass + n_fail, n_pass,
         n_fail);
  return n_fail == 0 && n_pass > 0 ? 0 : 1;
}
