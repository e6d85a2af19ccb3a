/* test_grpc.c — grpc.so on its own: configuration, GetWorkerInfo, an
 * unreachable worker, bearer tokens, TLS (with certificates made here by the
 * openssl command), batches split to fit max_message_size and reassembled
 * exactly, a row too big to fit, the coordinator channel's lifecycle (the
 * service's coord_close runs exactly once, also when the client leaves
 * without finishing), per-stream cancel, and a worker stopped in the middle
 * of a stream.
 *
 * The server side serves a fake worker service defined here, so each test
 * controls exactly what the stream carries and when. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/transport.h>

#include "base/clock.h"
#include "harness.h"
#include "host/context.h"

/* --- a transport instance from config text ---------------------------------*/

typedef struct tp {
  dqt_cluster c; /* no workers: the context and its transport */
  const dq_transport_ops *ops;
  dq_transport *t;
} tp;

static int tp_new(tp *p, const char *options, dq_error *err) {
  memset(p, 0, sizeof *p);
  char extra[2048];
  snprintf(extra, sizeof extra, "[transport.grpc]\n%s",
           options ? options : "");
  int rc = dqt_cluster_start(&p->c, 0, DQT_WORKERS_IN_PROCESS, extra, err);
  if (rc < 0)
    return rc;
  p->ops = dq_context_ops(p->c.ctx);
  p->t = dq_context_transport(p->c.ctx);
  return 0;
}

static void tp_must(tp *p, const char *options) {
  dq_error err;
  if (tp_new(p, options, &err) < 0)
    fail_msg("transport: %s", err.message);
}

static void tp_free(tp *p) { dqt_cluster_stop(&p->c, "test_grpc"); }

/* --- the fake worker service -------------------------------------------------*/

enum { MODE_BIG = 0, MODE_BLOCK = 1, MODE_HUGE_ROW = 2 };

typedef struct fake {
  dq_worker_service svc;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int mode;
  int coord_opens, coord_closes, work_units;
  dq_schema *schema;
  dq_batch *batch;
  dq_boundary_metrics bm;
} fake;

typedef struct fstream {
  fake *f;
  int step;
  int cancelled;
} fstream;

static int f_info(void *self, dq_worker_info *out, dq_error *err) {
  (void)self;
  (void)err;
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "fake-1.2.3");
  out->protocol_version = DQ_PROTOCOL_VERSION;
  snprintf(out->url, sizeof out->url, "grpc://fake:1");
  return 0;
}

static int f_coord_open(void *self, const dq_set_plan *plan, dq_ws_task **out,
                        dq_error *err) {
  fake *f = self;
  if (plan->plan_len == 3 && memcmp(plan->plan, "bad", 3) == 0) {
    dq_error_set(err, DQ_EPROTO, "this plan is bad");
    dq_error_set_origin(err, "grpc://fake:1", &plan->key);
    return DQ_EPROTO;
  }
  pthread_mutex_lock(&f->lock);
  f->coord_opens++;
  pthread_mutex_unlock(&f->lock);
  *out = (dq_ws_task *)f;
  return 0;
}

static int f_work_unit(void *self, dq_ws_task *t, const void *data,
                       size_t len, dq_error *err) {
  (void)t;
  (void)err;
  fake *f = self;
  pthread_mutex_lock(&f->lock);
  f->work_units += len == 5 && memcmp(data, "unit!", 5) == 0;
  pthread_mutex_unlock(&f->lock);
  return 0;
}

static int f_coord_finish(void *self, dq_ws_task *t, dq_task_metrics *out,
                          dq_error *err) {
  (void)t;
  (void)err;
  fake *f = self;
  memset(out, 0, sizeof *out);
  out->key.stage_id = 3;
  out->rows_out = 42;
  out->plan_bytes = 7;
  f->bm = (dq_boundary_metrics){1, 2, 100, 3, 50, 9, 77};
  out->n_boundaries = 1;
  out->boundaries = &f->bm;
  return 0;
}

static void f_coord_close(void *self, dq_ws_task *t) {
  (void)t;
  fake *f = self;
  pthread_mutex_lock(&f->lock);
  f->coord_closes++;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

static int f_execute(void *self, const dq_execute_task *req,
                     dq_ws_stream **out, dq_error *err) {
  if (req->partition_end == 99)
    return dq_error_set(err, DQ_EINVAL, "partition 98 is already being read");
  fstream *s = calloc(1, sizeof *s);
  s->f = self;
  *out = (dq_ws_stream *)s;
  return 0;
}

static int f_next(void *self, dq_ws_stream *ws, dq_frame *out,
                  dq_error *err) {
  fake *f = self;
  fstream *s = (fstream *)ws;
  memset(out, 0, sizeof *out);
  int step = s->step++;
  if (step == 0) {
    out->kind = DQ_FRAME_SCHEMA;
    return dq_schema_export(f->schema, &out->schema, err);
  }
  if (f->mode == MODE_BLOCK) {
    pthread_mutex_lock(&f->lock);
    while (!s->cancelled)
      pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
    return dq_error_set(err, DQ_ECANCELED, "the stream was cancelled");
  }
  if (step == 1) {
    out->kind = DQ_FRAME_BATCH;
    out->partition = 5;
    return dq_batch_export(f->batch, &out->array, err);
  }
  if (step == 2) {
    out->kind = DQ_FRAME_EOS;
    out->partition = 5;
    return 0;
  }
  out->kind = DQ_FRAME_END;
  return 0;
}

static void f_cancel(void *self, dq_ws_stream *ws) {
  fake *f = self;
  pthread_mutex_lock(&f->lock);
  ((fstream *)ws)->cancelled = 1;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

static void f_close(void *self, dq_ws_stream *ws) {
  (void)self;
  free(ws);
}

static void fake_init(fake *f, int mode, int64_t rows) {
  memset(f, 0, sizeof *f);
  f->svc = (dq_worker_service){sizeof(dq_worker_service),
                               f,
                               f_info,
                               f_coord_open,
                               f_work_unit,
                               f_coord_finish,
                               f_coord_close,
                               f_execute,
                               f_next,
                               f_cancel,
                               f_close};
  f->mode = mode;
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->cond, NULL);
  const char *names[] = {"id", "name"};
  dq_type types[] = {{DQ_TYPE_INT64, 0, 0}, {DQ_TYPE_UTF8, 0, 0}};
  dq_error err;
  assert_int_equal(dq_schema_new(2, names, types, NULL, &f->schema, &err), 0);
  dq_batch_builder *b;
  assert_int_equal(dq_batch_builder_new(f->schema, rows, &b, &err), 0);
  for (int64_t i = 0; i < rows; i++) {
    assert_int_equal(dq_builder_append_int64(b, 0, i * 3), 0);
    if (mode == MODE_HUGE_ROW && i == rows / 2) {
      size_t n = 200000;
      char *big = malloc(n);
      memset(big, 'x', n);
      assert_int_equal(dq_builder_append_utf8(b, 1, big, n), 0);
      free(big);
    } else if (i % 7 == 3) {
      assert_int_equal(dq_builder_append_null(b, 1), 0);
    } else {
      char s[32];
      int n = snprintf(s, sizeof s, "row-%lld", (long long)i);
      assert_int_equal(dq_builder_append_utf8(b, 1, s, (size_t)n), 0);
    }
  }
  assert_int_equal(dq_batch_builder_finish(b, &f->batch, &err), 0);
  dq_batch_builder_free(b);
}

static void fake_free(fake *f) {
  dq_batch_unref(f->batch);
  dq_schema_unref(f->schema);
  pthread_mutex_destroy(&f->lock);
  pthread_cond_destroy(&f->cond);
}

static dq_server *serve(tp *p, fake *f) {
  dq_server *srv;
  dq_error err;
  if (p->ops->serve(p->t, "grpc://127.0.0.1:0", &f->svc, &srv, &err) < 0)
    fail_msg("serve: %s", err.message);
  return srv;
}

static int info_call(tp *p, const char *url, dq_worker_info *wi,
                     dq_error *err) {
  dq_channel *ch;
  int rc = p->ops->channel_open(p->t, url, &ch, err);
  if (rc < 0)
    return rc;
  rc = p->ops->get_worker_info(ch, wi, err);
  p->ops->channel_close(ch);
  return rc;
}

/* --- tests -------------------------------------------------------------------*/

static void test_unknown_key(void **state) {
  (void)state;
  tp p;
  dq_error err;
  /* The loader passes init's sentence on (as a plugin error). */
  assert_true(tp_new(&p, "bogus_key = 1\n", &err) < 0);
  assert_non_null(strstr(err.message, "no option 'bogus_key'"));
  assert_true(tp_new(&p, "max_message_size = lots\n", &err) < 0);
  assert_non_null(strstr(err.message, "max_message_size = 'lots'"));
  assert_true(tp_new(&p, "tls_cert = /nonexistent/cert.pem\n", &err) < 0);
  assert_non_null(strstr(err.message, "/nonexistent/cert.pem"));
  /* A 1 ms keepalive declares every connection dead before its ping can be
   * answered: below the minimum it is a config error, 0 (off) is fine. */
  assert_true(tp_new(&p, "keepalive_ms = 1\n", &err) < 0);
  assert_non_null(strstr(err.message, "keepalive_ms = '1'"));
  assert_non_null(strstr(err.message, "at least 250"));
  assert_true(tp_new(&p, "keepalive_ms = 249\n", &err) < 0);
  tp_must(&p, "keepalive_ms = 0\n");
  tp_free(&p);
  tp_must(&p, "keepalive_ms = 250\n");
  tp_free(&p);
}

/* Ports above 65535 were taken modulo 65536 by gRPC (99999 dialled 34463):
 * every URL parse refuses them, client and server alike. */
static void test_port_range(void **state) {
  (void)state;
  tp p;
  tp_must(&p, NULL);
  dq_error err;
  dq_channel *ch;
  static const char *const bad[] = {
      "grpc://127.0.0.1:99999", "grpc://127.0.0.1:65536",
      "grpc://127.0.0.1:000000080", "grpc://localhost:4294967377"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(p.ops->channel_open(p.t, bad[i], &ch, &err), DQ_EINVAL);
    assert_non_null(strstr(err.message, "out of range"));
    assert_non_null(strstr(err.message, bad[i]));
    fake f;
    fake_init(&f, MODE_BIG, 1);
    dq_server *srv;
    assert_int_equal(p.ops->serve(p.t, bad[i], &f.svc, &srv, &err),
                     DQ_EINVAL);
    assert_non_null(strstr(err.message, "out of range"));
    fake_free(&f);
  }
  /* The largest port parses (nothing listens there: no call is made). */
  assert_int_equal(p.ops->channel_open(p.t, "grpc://127.0.0.1:65535", &ch,
                                       &err), 0);
  p.ops->channel_close(ch);
  tp_free(&p);
}

static void test_worker_info(void **state) {
  (void)state;
  tp p;
  tp_must(&p, "deadline_ms = 2000\nkeepalive_ms = 10000\ncq_threads = 1\n");
  fake f;
  fake_init(&f, MODE_BIG, 1);
  dq_server *srv = serve(&p, &f);
  const char *url = p.ops->server_url(srv);
  assert_int_equal(strncmp(url, "grpc://127.0.0.1:", 17), 0);
  assert_true(atoi(url + 17) > 0);
  dq_worker_info wi;
  dq_error err;
  if (info_call(&p, url, &wi, &err) < 0)
    fail_msg("%s", err.message);
  assert_string_equal(wi.version, "fake-1.2.3");
  assert_int_equal(wi.protocol_version, DQ_PROTOCOL_VERSION);
  assert_string_equal(wi.url, "grpc://fake:1");
  /* A port in use is refused, not shared. */
  dq_server *again;
  assert_int_equal(p.ops->serve(p.t, url, &f.svc, &again, &err),
                   DQ_EUNAVAILABLE);
  assert_non_null(strstr(err.message, url));
  /* Not a grpc URL. */
  dq_channel *ch;
  assert_int_equal(p.ops->channel_open(p.t, "inmem://w0", &ch, &err),
                   DQ_EINVAL);
  p.ops->stop(srv);
  fake_free(&f);
  tp_free(&p);
}

static void test_unreachable(void **state) {
  (void)state;
  tp p;
  tp_must(&p, NULL);
  dq_worker_info wi;
  dq_error err;
  uint64_t t0 = dq_now_ns();
  assert_int_equal(info_call(&p, "grpc://127.0.0.1:1", &wi, &err),
                   DQ_EUNAVAILABLE);
  assert_true(dq_now_ns() - t0 < 3000000000u);
  assert_string_equal(err.worker_url, "grpc://127.0.0.1:1");
  assert_non_null(strstr(err.message, "grpc://127.0.0.1:1"));
  /* A coordinator channel too: coord_open fails at once, naming it. */
  dq_channel *ch;
  assert_int_equal(p.ops->channel_open(p.t, "grpc://127.0.0.1:1", &ch, &err),
                   0);
  dq_set_plan sp = {0};
  sp.plan = (const uint8_t *)"x";
  sp.plan_len = 1;
  sp.task_count = 1;
  dq_coord *co;
  assert_int_equal(p.ops->coord_open(ch, &sp, &co, &err), DQ_EUNAVAILABLE);
  assert_string_equal(err.worker_url, "grpc://127.0.0.1:1");
  p.ops->channel_close(ch);
  tp_free(&p);
}

static void test_token(void **state) {
  (void)state;
  tp server, good, none, wrong;
  tp_must(&server, "token = s3cret-token\n");
  tp_must(&good, "token = s3cret-token\n");
  tp_must(&none, NULL);
  tp_must(&wrong, "token = s3cret-tokeN\n");
  fake f;
  fake_init(&f, MODE_BIG, 1);
  dq_server *srv = serve(&server, &f);
  const char *url = server.ops->server_url(srv);
  dq_worker_info wi;
  dq_error err;
  if (info_call(&good, url, &wi, &err) < 0)
    fail_msg("right token: %s", err.message);
  assert_int_equal(info_call(&none, url, &wi, &err), DQ_ECONFIG);
  assert_non_null(strstr(err.message, "rejected the token"));
  assert_string_equal(err.worker_url, url);
  assert_int_equal(info_call(&wrong, url, &wi, &err), DQ_ECONFIG);
  assert_non_null(strstr(err.message, "rejected the token"));
  /* Streams are guarded too, not just the unary call. */
  dq_channel *ch;
  assert_int_equal(wrong.ops->channel_open(wrong.t, url, &ch, &err), 0);
  dq_execute_task req = {0};
  req.partition_end = 1;
  dq_stream *s;
  assert_int_equal(wrong.ops->execute_task(ch, &req, &s, &err),
                   DQ_ECONFIG);
  assert_non_null(strstr(err.message, "rejected the token"));
  wrong.ops->channel_close(ch);
  server.ops->stop(srv);
  fake_free(&f);
  tp_free(&wrong);
  tp_free(&none);
  tp_free(&good);
  tp_free(&server);
}

static char tls_dir[256];

static int make_certs(void) {
  snprintf(tls_dir, sizeof tls_dir, "/tmp/dq-grpc-tls-XXXXXX");
  if (mkdtemp(tls_dir) == NULL)
    return -1;
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
           " -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=dq test CA'"
           " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
           " -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1'"
           " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext"
           " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key"
           " -CAcreateserial -out server.pem -days 2 -extfile ext"
           " && openssl req -x509 -newkey ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out "
           "other.pem -days 2 -subj '/CN=another CA'",
           tls_dir);
  char quiet[4200];
  snprintf(quiet, sizeof quiet, "(%s) >/dev/null 2>&1", cmd);
  return system(quiet) == 0 ? 0 : -1;
}

static void remove_certs(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tls_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tls_dir);
}

static void test_tls(void **state) {
  (void)state;
  if (system("openssl version >/dev/null 2>&1") != 0) {
    fprintf(stderr, "openssl not installed: TLS test skipped\n");
    skip();
  }
  assert_int_equal(make_certs(), 0);
  char opts[1024];
  tp server, good, wrong, plain;
  snprintf(opts, sizeof opts, "tls_cert = %s/server.pem\ntls_key = %s/server.key\n",
           tls_dir, tls_dir);
  tp_must(&server, opts);
  snprintf(opts, sizeof opts, "tls_ca = %s/ca.pem\n", tls_dir);
  tp_must(&good, opts);
  snprintf(opts, sizeof opts, "tls_ca = %s/other.pem\n", tls_dir);
  tp_must(&wrong, opts);
  tp_must(&plain, NULL);
  /* tls_cert without tls_key is refused at init. */
  dq_error err;
  tp bad;
  snprintf(opts, sizeof opts, "tls_cert = %s/server.pem\n", tls_dir);
  assert_true(tp_new(&bad, opts, &err) < 0);
  assert_non_null(strstr(err.message, "tls_key"));

  fake f;
  fake_init(&f, MODE_BIG, 1000);
  dq_server *srv = serve(&server, &f);
  const char *url = server.ops->server_url(srv);
  dq_worker_info wi;
  if (info_call(&good, url, &wi, &err) < 0)
    fail_msg("TLS with the right CA: %s", err.message);
  assert_string_equal(wi.version, "fake-1.2.3");
  assert_int_equal(info_call(&wrong, url, &wi, &err), DQ_ECONFIG);
  assert_string_equal(err.worker_url, url);
  assert_int_equal(info_call(&plain, url, &wi, &err), DQ_EUNAVAILABLE);
  server.ops->stop(srv);
  fake_free(&f);
  tp_free(&plain);
  tp_free(&wrong);
  tp_free(&good);
  tp_free(&server);
  remove_certs();
}

/* Reads a whole stream; returns the batches' rows and checks them against
 * the fake's batch. */
static int read_all(tp *p, dq_channel *ch, fake *f, int *n_batches,
                    dq_error *err) {
  dq_execute_task req = {0};
  req.partition_start = 5;
  req.partition_end = 6;
  dq_stream *s;
  int rc = p->ops->execute_task(ch, &req, &s, err);
  if (rc < 0)
    return rc;
  dq_schema *schema = NULL;
  int64_t row = 0;
  int eos = 0;
  *n_batches = 0;
  for (;;) {
    dq_frame fr;
    rc = p->ops->stream_next(s, &fr, err);
    if (rc < 0)
      break;
    if (fr.kind == DQ_FRAME_SCHEMA) {
      assert_null(schema);
      assert_int_equal(dq_schema_import(&fr.schema, &schema, err), 0);
      fr.schema.release(&fr.schema);
      assert_true(dq_schema_equal(schema, f->schema));
    } else if (fr.kind == DQ_FRAME_BATCH) {
      assert_int_equal(fr.partition, 5);
      dq_batch *b;
      assert_int_equal(dq_batch_import(&fr.array, schema, &b, err), 0);
      (*n_batches)++;
      const dq_array *ids = dq_batch_column(b, 0);
      const dq_array *names = dq_batch_column(b, 1);
      const dq_array *want = dq_batch_column(f->batch, 1);
      for (int64_t i = 0; i < dq_batch_n_rows(b); i++, row++) {
        assert_int_equal(dq_array_int64(ids, i), row * 3);
        assert_int_equal(dq_array_is_null(names, i),
                         dq_array_is_null(want, row));
        if (!dq_array_is_null(names, i)) {
          size_t a, w;
          const char *sa = dq_array_utf8(names, i, &a);
          const char *sw = dq_array_utf8(want, row, &w);
          assert_int_equal(a, w);
          assert_memory_equal(sa, sw, a);
        }
      }
      dq_batch_unref(b);
    } else if (fr.kind == DQ_FRAME_EOS) {
      assert_int_equal(fr.partition, 5);
      eos++;
    } else {
      assert_int_equal(fr.kind, DQ_FRAME_END);
      assert_int_equal(eos, 1);
      /* After END, END again. */
      assert_int_equal(p->ops->stream_next(s, &fr, err), 0);
      assert_int_equal(fr.kind, DQ_FRAME_END);
      rc = (int)row;
      break;
    }
  }
  p->ops->stream_close(s);
  if (schema)
    dq_schema_unref(schema);
  return rc;
}

static void test_split(void **state) {
  (void)state;
  tp p;
  tp_must(&p, "max_message_size = 65536\n");
  fake f;
  fake_init(&f, MODE_BIG, 60000); /* about 1.4 MB of IPC: 20+ messages */
  dq_server *srv = serve(&p, &f);
  dq_channel *ch;
  dq_error err;
  assert_int_equal(p.ops->channel_open(p.t, p.ops->server_url(srv), &ch, &err),
                   0);
  int n_batches;
  int rows = read_all(&p, ch, &f, &n_batches, &err);
  if (rows < 0)
    fail_msg("%s", err.message);
  assert_int_equal(rows, 60000);
  assert_true(n_batches >= 20);
  /* A small batch still travels whole. */
  fake small;
  fake_init(&small, MODE_BIG, 100);
  dq_server *srv2 = serve(&p, &small);
  dq_channel *ch2;
  assert_int_equal(
      p.ops->channel_open(p.t, p.ops->server_url(srv2), &ch2, &err), 0);
  assert_int_equal(read_all(&p, ch2, &small, &n_batches, &err), 100);
  assert_int_equal(n_batches, 1);
  p.ops->channel_close(ch2);
  p.ops->stop(srv2);
  fake_free(&small);
  p.ops->channel_close(ch);
  p.ops->stop(srv);
  fake_free(&f);
  tp_free(&p);
}

static void test_row_too_big(void **state) {
  (void)state;
  tp p;
  tp_must(&p, "max_message_size = 65536\n");
  fake f;
  fake_init(&f, MODE_HUGE_ROW, 10);
  dq_server *srv = serve(&p, &f);
  const char *url = p.ops->server_url(srv);
  dq_channel *ch;
  dq_error err;
  assert_int_equal(p.ops->channel_open(p.t, url, &ch, &err), 0);
  int n_batches;
  assert_int_equal(read_all(&p, ch, &f, &n_batches, &err), DQ_ETOOBIG);
  assert_non_null(strstr(err.message, "max_message_size"));
  assert_non_null(strstr(err.message, "one row"));
  assert_string_equal(err.worker_url, url);
  p.ops->channel_close(ch);
  p.ops->stop(srv);
  fake_free(&f);
  tp_free(&p);
}

static void wait_closes(fake *f, int n) {
  uint64_t deadline = dq_now_ns() + 2000000000u;
  pthread_mutex_lock(&f->lock);
  while (f->coord_closes < n && dq_now_ns() < deadline) {
    pthread_mutex_unlock(&f->lock);
    usleep(2000);
    pthread_mutex_lock(&f->lock);
  }
  pthread_mutex_unlock(&f->lock);
}

static void test_coord(void **state) {
  (void)state;
  tp p;
  tp_must(&p, NULL);
  fake f;
  fake_init(&f, MODE_BIG, 1);
  dq_server *srv = serve(&p, &f);
  const char *url = p.ops->server_url(srv);
  dq_channel *ch;
  dq_error err;
  assert_int_equal(p.ops->channel_open(p.t, url, &ch, &err), 0);
  dq_set_plan sp = {0};
  sp.key.query_id[0] = 1;
  sp.key.stage_id = 3;
  sp.task_count = 1;
  sp.plan = (const uint8_t *)"plan";
  sp.plan_len = 4;
  dq_kv cfg[] = {{"threads", "2"}};
  sp.config = cfg;
  sp.n_config = 1;
  dq_coord *co;
  assert_int_equal(p.ops->coord_open(ch, &sp, &co, &err), 0);
  assert_int_equal(p.ops->coord_send_work_unit(co, "unit!", 5, &err), 0);
  dq_task_metrics m;
  if (p.ops->coord_finish(co, &m, &err) < 0)
    fail_msg("%s", err.message);
  assert_int_equal(m.rows_out, 42);
  assert_int_equal(m.plan_bytes, 7);
  assert_int_equal(m.key.stage_id, 3);
  assert_int_equal(m.n_boundaries, 1);
  assert_int_equal(m.boundaries[0].buffered_peak, 77);
  assert_int_equal(f.work_units, 1);
  /* Finishing does not free the task: closing does. */
  usleep(50000);
  assert_int_equal(f.coord_closes, 0);
  p.ops->coord_close(co);
  wait_closes(&f, 1);
  assert_int_equal(f.coord_closes, 1);

  /* A coordinator that leaves without finishing: closed exactly once. */
  assert_int_equal(p.ops->coord_open(ch, &sp, &co, &err), 0);
  p.ops->coord_close(co);
  wait_closes(&f, 2);
  usleep(50000);
  assert_int_equal(f.coord_opens, 2);
  assert_int_equal(f.coord_closes, 2);

  /* coord_open reports the service's error with its origin. */
  sp.plan = (const uint8_t *)"bad";
  sp.plan_len = 3;
  assert_int_equal(p.ops->coord_open(ch, &sp, &co, &err), DQ_EPROTO);
  assert_string_equal(err.message, "this plan is bad");
  assert_string_equal(err.worker_url, "grpc://fake:1");
  assert_true(err.has_task);
  assert_int_equal(err.task.stage_id, 3);

  /* execute_task reports the service's refusal synchronously. */
  dq_execute_task req = {0};
  req.partition_end = 99;
  dq_stream *s;
  assert_int_equal(p.ops->execute_task(ch, &req, &s, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "already being read"));
  assert_string_equal(err.worker_url, url);

  p.ops->channel_close(ch);
  p.ops->stop(srv);
  assert_int_equal(f.coord_closes, 2);
  fake_free(&f);
  tp_free(&p);
}

typedef struct later {
  tp *p;
  dq_server *srv;
  dq_stream *s;
  int ms;
} later;

static void *stop_later(void *arg) {
  later *l = arg;
  usleep((useconds_t)l->ms * 1000);
  if (l->srv)
    l->p->ops->stop(l->srv);
  else
    l->p->ops->stream_cancel(l->s);
  return NULL;
}

static void test_cancel_and_stop(void **state) {
  (void)state;
  tp p;
  tp_must(&p, NULL);
  fake f;
  fake_init(&f, MODE_BLOCK, 1);
  dq_server *srv = serve(&p, &f);
  char url[256];
  snprintf(url, sizeof url, "%s", p.ops->server_url(srv));
  dq_channel *ch;
  dq_error err;
  assert_int_equal(p.ops->channel_open(p.t, url, &ch, &err), 0);
  dq_execute_task req = {0};
  req.partition_end = 1;
  dq_frame fr;

  /* stream_cancel from another thread wakes a blocked stream_next. */
  dq_stream *s;
  assert_int_equal(p.ops->execute_task(ch, &req, &s, &err), 0);
  assert_int_equal(p.ops->stream_next(s, &fr, &err), 0);
  assert_int_equal(fr.kind, DQ_FRAME_SCHEMA);
  fr.schema.release(&fr.schema);
  later l = {&p, NULL, s, 100};
  pthread_t th;
  pthread_create(&th, NULL, stop_later, &l);
  assert_int_equal(p.ops->stream_next(s, &fr, &err), DQ_ECANCELED);
  pthread_join(th, NULL);
  assert_int_equal(p.ops->stream_next(s, &fr, &err), DQ_ECANCELED);
  p.ops->stream_close(s);

  /* The worker stops while the stream is read: a prompt error naming it. */
  assert_int_equal(p.ops->execute_task(ch, &req, &s, &err), 0);
  assert_int_equal(p.ops->stream_next(s, &fr, &err), 0);
  fr.schema.release(&fr.schema);
  l = (later){&p, srv, NULL, 100};
  pthread_create(&th, NULL, stop_later, &l);
  uint64_t t0 = dq_now_ns();
  int rc = p.ops->stream_next(s, &fr, &err);
  uint64_t waited = dq_now_ns() - t0;
  pthread_join(th, NULL);
  assert_int_equal(rc, DQ_EUNAVAILABLE);
  assert_string_equal(err.worker_url, url);
  assert_non_null(strstr(err.message, url));
  assert_true(waited < 2000000000u);
  p.ops->stream_close(s);
  p.ops->channel_close(ch);
  fake_free(&f);
  tp_free(&p);
}

int main(void) {
  /* The grpc transport, whatever the suite runs over. */
  setenv("DQ_TEST_TRANSPORT", "grpc", 1);
  dqt_use_cmocka();
  const char *top = getenv("abs_top_builddir");
  if (top != NULL) {
    char path[4096];
    const char *old = getenv("DQ_PLUGIN_PATH");
    snprintf(path, sizeof path, "%s/plugins/grpc%s%s", top, old ? ":" : "",
             old ? old : "");
    setenv("DQ_PLUGIN_PATH", path, 1);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unknown_key),
      cmocka_unit_test(test_port_range),
      cmocka_unit_test(test_worker_info),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_token),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_row_too_big),
      cmocka_unit_test(test_coord),
      cmocka_unit_test(test_cancel_and_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
