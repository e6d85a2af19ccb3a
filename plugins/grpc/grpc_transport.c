/* grpc_transport.c — the grpc transport's instance: its [transport.grpc]
 * settings, the gRPC channel arguments they become, URL parsing, and the
 * ops table that grpc.so exports.  The client side is grpc_client.c, the
 * server side grpc_server.c.
 *
 * Settings (all optional):
 *   max_message_size  bytes per message, both directions (default 4 MiB,
 *                     gRPC's own default); batches are split to fit
 *   deadline_ms       unary calls and plan delivery (default 10000)
 *   keepalive_ms      HTTP/2 keepalive ping interval, 0 = off (default 0)
 *   cq_threads        server completion-queue threads (default 2)
 *   max_calls         calls a server handles at once, each on its own
 *                     thread (default 4096); more are refused with
 *                     RESOURCE_EXHAUSTED at once, and logged
 *   tls_cert/tls_key  PEM files: serve over TLS
 *   tls_ca            PEM file: connect over TLS, trusting these roots
 *   token             bearer token sent by clients and required by servers
 *   allow_unauthenticated  true: serve beyond loopback without a token
 *                     (refused otherwise: anyone who reaches the port could
 *                     run plans, and plans read files)
 * One instance serves and connects with the same settings, so a worker that
 * requires a token also presents it to the workers it reads from.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/support/log.h>

#include "grpc_internal.h"

static int parse_int(const dq_kv *kv, int64_t lo, int64_t hi, int64_t *out,
                     dq_error *err) {
  char *end;
  errno = 0;
  long long v = strtoll(kv->value, &end, 10);
  if (errno != 0 || end == kv->value || *end != '\0' || v < lo || v > hi)
    return dq_error_set(err, DQ_ECONFIG,
                        "[transport.grpc] %s = '%s': expected an integer from "
                        "%" PRId64 " to %" PRId64,
                        kv->key, kv->value, lo, hi);
  *out = v;
  return 0;
}

static int read_file(const dq_kv *kv, char **out, dq_error *err) {
  FILE *f = fopen(kv->value, "rb");
  if (f == NULL)
    return dq_error_set(err, DQ_ECONFIG, "[transport.grpc] %s: cannot open "
                        "'%s': %s",
                        kv->key, kv->value, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1)
      break;
    char *nb = cap < (1u << 24) ? realloc(buf, cap * 2) : NULL;
    if (nb == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (buf == NULL || bad) {
    free(buf);
    return dq_error_set(err, DQ_ECONFIG,
                        "[transport.grpc] %s: cannot read '%s'", kv->key,
                        kv->value);
  }
  buf[n] = '\0';
  free(*out);
  *out = buf;
  return 0;
}

/* gRPC 1.51 hands work on a contended transport lock to its "default
 * executor", a pool that adds a thread whenever work queues up and never
 * retires one until grpc_shutdown.  A worker serving many short queries
 * would see its thread count creep with load, which dq treats as a leak
 * (tests/test_runtime.c's hygiene check).  gRPC can run without that pool
 * (it does so around fork()): the work then finishes on the thread that
 * started it.  The switch is C++ and internal, so it is looked up at run
 * time and skipped when absent (another gRPC version). */
static void quiet_executor(void) {
  void *h = dlopen("libgrpc.so.29", RTLD_LAZY | RTLD_NOLOAD);
  if (h == NULL)
    return;
  void (*set_threading)(bool) = (void (*)(bool))dlsym(
      h, "_ZN9grpc_core8Executor19SetThreadingDefaultEb");
  if (set_threading != NULL)
    set_threading(false);
  dlclose(h);
}

/* gRPC core prints its own diagnostics on stderr ("E1207 12:00:00 ...
 * Connection refused"), beside dq's log and in another format.  They go
 * through dq_log instead: gRPC's errors are details of failures dq reports
 * itself (as the call's error), so they are info; the rest debug.  The
 * hook is process-wide and outlives this module (libgrpc stays loaded), so
 * it is installed only if gRPC's default can be put back when the last
 * instance ends (gpr_default_log, C++ in this build: looked up). */
static void route_log(gpr_log_func_args *a) {
  int level = a->severity == GPR_LOG_SEVERITY_ERROR ? DQ_LOG_INFO
                                                    : DQ_LOG_DEBUG;
  if (!dq_log_enabled(level))
    return;
  const char *file = strrchr(a->file ? a->file : "", '/');
  dq_log(level, "grpc: %s (%s:%d)", a->message ? a->message : "",
         file ? file + 1 : (a->file ? a->file : "?"), a->line);
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_users;
static gpr_log_func default_log;

static void log_hook(int on) {
  pthread_mutex_lock(&log_lock);
  if (on && log_users++ == 0) {
    void *h = dlopen("libgpr.so.29", RTLD_LAZY | RTLD_NOLOAD);
    default_log = h ? (gpr_log_func)dlsym(
                          h, "_Z15gpr_default_logP17gpr_log_func_args")
                    : NULL;
    if (h)
      dlclose(h);
    if (default_log != NULL)
      gpr_set_log_function(route_log);
  } else if (!on && --log_users == 0 && default_log != NULL) {
    gpr_set_log_function(default_log);
  }
  pthread_mutex_unlock(&log_lock);
}

static void free_transport(dq_transport *t) {
  free(t->tls_cert);
  free(t->tls_key);
  free(t->tls_ca);
  free(t->token);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

static int grpc_tp_init(const dq_kv *options, size_t n_options,
                        dq_transport **out, dq_error *err) {
  dq_transport *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  pthread_mutex_init(&t->lock, NULL);
  t->max_message_size = 4 * 1024 * 1024;
  t->deadline_ms = 10000;
  t->keepalive_ms = 0;
  t->cq_threads = 2;
  t->max_calls = 4096;
  int rc = 0;
  for (size_t i = 0; i < n_options && rc == 0; i++) {
    const dq_kv *kv = &options[i];
    int64_t v;
    if (strcmp(kv->key, "max_message_size") == 0) {
      rc = parse_int(kv, 4096, INT32_MAX, &t->max_message_size, err);
    } else if (strcmp(kv->key, "deadline_ms") == 0) {
      rc = parse_int(kv, 1, INT32_MAX, &t->deadline_ms, err);
    } else if (strcmp(kv->key, "keepalive_ms") == 0) {
      rc = parse_int(kv, 0, INT32_MAX, &t->keepalive_ms, err);
      /* The interval is also the ping's ack timeout (below 20 s): at 1 ms
       * every connection is declared dead before the ack can arrive, which
       * fails every query.  0 (off) or at least GRPC_MIN_KEEPALIVE_MS. */
      if (rc == 0 && t->keepalive_ms > 0 &&
          t->keepalive_ms < GRPC_MIN_KEEPALIVE_MS)
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.grpc] keepalive_ms = '%s': expected 0 "
                          "(off) or at least %d",
                          kv->value, GRPC_MIN_KEEPALIVE_MS);
    } else if (strcmp(kv->key, "max_calls") == 0) {
      rc = parse_int(kv, 16, 1000000, &v, err);
      t->max_calls = (long)v;
    } else if (strcmp(kv->key, "cq_threads") == 0) {
      rc = parse_int(kv, 1, 64, &v, err);
      t->cq_threads = (int)v;
    } else if (strcmp(kv->key, "tls_cert") == 0) {
      rc = read_file(kv, &t->tls_cert, err);
    } else if (strcmp(kv->key, "tls_key") == 0) {
      rc = read_file(kv, &t->tls_key, err);
    } else if (strcmp(kv->key, "tls_ca") == 0) {
      rc = read_file(kv, &t->tls_ca, err);
    } else if (strcmp(kv->key, "allow_unauthenticated") == 0) {
      if (strcmp(kv->value, "true") == 0)
        t->allow_unauthenticated = 1;
      else if (strcmp(kv->value, "false") == 0)
        t->allow_unauthenticated = 0;
      else
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.grpc] allow_unauthenticated = '%s': "
                          "expected true or false",
                          kv->value);
    } else if (strcmp(kv->key, "token") == 0) {
      free(t->token);
      t->token = strdup(kv->value);
      if (t->token == NULL)
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
      else if (kv->value[0] == '\0' || strpbrk(kv->value, "\r\n") != NULL)
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.grpc] token must be non-empty and on "
                          "one line");
    } else {
      rc = dq_error_set(err, DQ_ECONFIG,
                        "[transport.grpc] has no option '%s' (known: "
                        "max_message_size, deadline_ms, keepalive_ms, "
                        "cq_threads, max_calls, tls_cert, tls_key, tls_ca, "
                        "token, "
                        "allow_unauthenticated)",
                        kv->key);
    }
  }
  if (rc == 0 && (t->tls_cert == NULL) != (t->tls_key == NULL))
    rc = dq_error_set(err, DQ_ECONFIG,
                      "[transport.grpc] tls_cert and tls_key go together: "
                      "set both or neither");
  if (rc < 0) {
    free_transport(t);
    return rc;
  }
  grpc_init();
  quiet_executor();
  log_hook(1);
  *out = t;
  return 0;
}

static void grpc_tp_fini(dq_transport *t) {
  if (t == NULL)
    return;
  grpc_c_close_all(t);
  free_transport(t);
  grpc_shutdown();
  log_hook(0);
}

void grpc_tp_fill_args(const dq_transport *t, int server, grpc_arg *args,
                       size_t *n) {
  size_t k = 0;
#define INT_ARG(KEY, V)                                                        \
  do {                                                                         \
    args[k].type = GRPC_ARG_INTEGER;                                           \
    args[k].key = (char *)(KEY);                                               \
    args[k].value.integer = (int)(V);                                          \
    k++;                                                                       \
  } while (0)
  INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, t->max_message_size);
  INT_ARG(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, t->max_message_size);
  if (t->keepalive_ms > 0) {
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, t->keepalive_ms);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
            t->keepalive_ms < 20000 ? t->keepalive_ms : 20000);
    INT_ARG(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    INT_ARG(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    if (server)
      /* Accept the client's pings at the rate we configured them. */
      INT_ARG(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
              t->keepalive_ms / 2);
  }
  /* No BDP probing: its ping timers make gRPC 1.51's timer manager start
   * threads it never retires, so a long-lived worker's thread count would
   * creep up.  A fixed, generous stream window replaces the estimate. */
  INT_ARG(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  INT_ARG(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 * 1024 * 1024);
  if (server)
    /* gRPC sets SO_REUSEPORT by default: a second worker started on a busy
     * port would silently share it.  Binding must fail instead. */
    INT_ARG(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (!server)
    /* Channels are ours alone (one per URL per instance): sharing gRPC's
     * global subchannel pool would let another instance's settings leak. */
    INT_ARG(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
#undef INT_ARG
  *n = k;
}

int grpc_tp_target(const char *url, char *buf, size_t len, dq_error *err) {
  size_t sl = strlen(GRPC_SCHEME);
  if (url == NULL || strncmp(url, GRPC_SCHEME, sl) != 0)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not a grpc URL (expected grpc://HOST:PORT)",
                        url ? url : "(null)");
  const char *hp = url + sl;
  const char *colon = strrchr(hp, ':');
  if (*hp == '\0' || colon == NULL || colon == hp || colon[1] == '\0' ||
      strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
      strchr(hp, '/') != NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not a grpc URL (expected grpc://HOST:PORT)",
                        url);
  /* gRPC would take the digits modulo 65536 (99999 dials 34463): a port
   * must be what it says or nothing. */
  if (strlen(colon + 1) > 5 || strtol(colon + 1, NULL, 10) > 65535)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s': port %s is out of range (0 to 65535)", url,
                        colon + 1);
  if ((size_t)snprintf(buf, len, "%s", hp) >= len)
    return dq_error_set(err, DQ_EINVAL, "the URL '%s' is too long", url);
  return 0;
}

static const dq_transport_ops grpc_ops = {
    .size = sizeof(dq_transport_ops),
    .init = grpc_tp_init,
    .fini = grpc_tp_fini,
    .channel_open = grpc_c_channel_open,
    .channel_close = grpc_c_channel_close,
    .get_worker_info = grpc_c_get_worker_info,
    .coord_open = grpc_c_coord_open,
    .coord_send_work_unit = grpc_c_coord_send_work_unit,
    .coord_finish = grpc_c_coord_finish,
    .coord_close = grpc_c_coord_close,
    .execute_task = grpc_c_execute_task,
    .stream_next = grpc_c_stream_next,
    .stream_cancel = grpc_c_stream_cancel,
    .stream_close = grpc_c_stream_close,
    .serve = grpc_s_serve,
    .server_url = grpc_s_server_url,
    .stop = grpc_s_stop,
};

DQ_TRANSPORT_PLUGIN(grpc, DQ_VERSION_STRING,
                    "workers anywhere: gRPC C core, protobuf-c, Arrow IPC "
                    "frames",
                    &grpc_ops)
