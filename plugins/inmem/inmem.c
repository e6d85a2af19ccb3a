/* inmem.c — the in-process transport: workers are objects of this process.
 *
 * serve() registers the worker service under a name in a process-wide table;
 * a channel to inmem://NAME calls that service directly, on the caller's
 * thread, and frames (Arrow C Data Interface structs) are moved by pointer:
 * nothing is copied or serialized.
 *
 * The one hard part is stop(): a client may be blocked inside the service
 * (stream_next waiting for data) when the worker stops.  Every call into the
 * service is counted as in flight; stop() marks the server stopped (new
 * calls fail with DQ_EUNAVAILABLE), cancels the live streams so blocked
 * calls return, and waits until nothing is in flight.  Handles that outlive
 * the server keep its small record alive by reference count, but never call
 * the service again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>
#include <dq/transport.h>

#define SCHEME "inmem://"

typedef struct inmem_stream inmem_stream;

typedef struct inmem_server {
  char url[256];
  const dq_worker_service *svc;
  pthread_mutex_t lock;
  pthread_cond_t idle;
  int stopped;
  long in_flight;       /* calls into svc under way */
  long refs;            /* registry entry + handles; guarded by lock */
  inmem_stream *streams; /* live streams, to cancel on stop */
  struct inmem_server *next;
} inmem_server;

struct dq_transport {
  int unused;
};

struct dq_channel {
  inmem_server *srv;
};

struct dq_coord {
  inmem_server *srv;
  dq_ws_task *task;
  dq_task_metrics metrics;
};

struct inmem_stream {
  inmem_server *srv;
  dq_ws_stream *s;
  inmem_stream *prev, *next;
};

struct dq_stream {
  inmem_stream st;
};

struct dq_server {
  inmem_server *srv;
};

/* The process-wide table of served workers. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static inmem_server *table;
static atomic_ulong next_auto_name;

static void server_unref(inmem_server *srv) {
  pthread_mutex_lock(&srv->lock);
  long refs = --srv->refs;
  pthread_mutex_unlock(&srv->lock);
  if (refs == 0) {
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->idle);
    free(srv);
  }
}

/* Enters a call into the service; DQ_EUNAVAILABLE once stopped. */
static int enter(inmem_server *srv, dq_error *err) {
  pthread_mutex_lock(&srv->lock);
  if (srv->stopped) {
    pthread_mutex_unlock(&srv->lock);
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "inmem worker %s has stopped", srv->url);
  }
  srv->in_flight++;
  pthread_mutex_unlock(&srv->lock);
  return 0;
}

static void leave(inmem_server *srv) {
  pthread_mutex_lock(&srv->lock);
  if (--srv->in_flight == 0)
    pthread_cond_broadcast(&srv->idle);
  pthread_mutex_unlock(&srv->lock);
}

/* Adds the worker's URL to an error raised by the service, if it has none. */
static int origin(inmem_server *srv, int rc, dq_error *err) {
  if (rc < 0 && err != NULL && err->worker_url[0] == '\0')
    dq_error_set_origin(err, srv->url, NULL);
  return rc;
}

/* --- instance ------------------------------------------------------------*/

static int inmem_init(const dq_kv *options, size_t n_options,
                      dq_transport **out, dq_error *err) {
  if (n_options > 0)
    return dq_error_set(err, DQ_ECONFIG,
                        "[transport.inmem] has no option '%s' (inmem takes "
                        "no options)",
                        options[0].key);
  dq_transport *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  *out = t;
  return 0;
}

static void inmem_fini(dq_transport *t) { free(t); }

/* --- client side ---------------------------------------------------------*/

static int inmem_channel_open(dq_transport *t, const char *url,
                              dq_channel **out, dq_error *err) {
  (void)t;
  if (strncmp(url, SCHEME, strlen(SCHEME)) != 0)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not an inmem URL (expected inmem://NAME)",
                        url);
  pthread_mutex_lock(&table_lock);
  inmem_server *srv = table;
  while (srv != NULL && strcmp(srv->url, url) != 0)
    srv = srv->next;
  if (srv != NULL) {
    pthread_mutex_lock(&srv->lock);
    srv->refs++;
    pthread_mutex_unlock(&srv->lock);
  }
  pthread_mutex_unlock(&table_lock);
  if (srv == NULL) {
    dq_error_set(err, DQ_EUNAVAILABLE,
                 "no inmem worker is served at %s in this process", url);
    dq_error_set_origin(err, url, NULL);
    return DQ_EUNAVAILABLE;
  }
  dq_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL) {
    server_unref(srv);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  ch->srv = srv;
  *out = ch;
  return 0;
}

static void inmem_channel_close(dq_channel *ch) {
  if (ch == NULL)
    return;
  server_unref(ch->srv);
  free(ch);
}

static int inmem_get_worker_info(dq_channel *ch, dq_worker_info *out,
                                 dq_error *err) {
  int rc = enter(ch->srv, err);
  if (rc < 0)
    return rc;
  rc = ch->srv->svc->get_worker_info(ch->srv->svc->self, out, err);
  leave(ch->srv);
  return origin(ch->srv, rc, err);
}

static int inmem_coord_open(dq_channel *ch, const dq_set_plan *plan,
                            dq_coord **out, dq_error *err) {
  dq_coord *c = calloc(1, sizeof *c);
  if (c == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = enter(ch->srv, err);
  if (rc == 0) {
    rc = ch->srv->svc->coord_open(ch->srv->svc->self, plan, &c->task, err);
    leave(ch->srv);
  }
  if (rc < 0) {
    free(c);
    return origin(ch->srv, rc, err);
  }
  pthread_mutex_lock(&ch->srv->lock);
  ch->srv->refs++;
  pthread_mutex_unlock(&ch->srv->lock);
  c->srv = ch->srv;
  *out = c;
  return 0;
}

static int inmem_coord_send_work_unit(dq_coord *c, const void *data,
                                      size_t len, dq_error *err) {
  int rc = enter(c->srv, err);
  if (rc < 0)
    return rc;
  rc = c->srv->svc->coord_send_work_unit(c->srv->svc->self, c->task, data,
                                         len, err);
  leave(c->srv);
  return origin(c->srv, rc, err);
}

static int inmem_coord_finish(dq_coord *c, dq_task_metrics *out,
                              dq_error *err) {
  int rc = enter(c->srv, err);
  if (rc < 0)
    return rc;
  /* The service's metrics stay valid until coord_close, as ours must. */
  rc = c->srv->svc->coord_finish(c->srv->svc->self, c->task, out, err);
  leave(c->srv);
  return origin(c->srv, rc, err);
}

static void inmem_coord_close(dq_coord *c) {
  if (c == NULL)
    return;
  if (enter(c->srv, NULL) == 0) {
    c->srv->svc->coord_close(c->srv->svc->self, c->task);
    leave(c->srv);
  }
  server_unref(c->srv);
  free(c);
}

static int inmem_execute_task(dq_channel *ch, const dq_execute_task *req,
                              dq_stream **out, dq_error *err) {
  dq_stream *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  inmem_server *srv = ch->srv;
  int rc = enter(srv, err);
  if (rc == 0) {
    rc = srv->svc->execute_task(srv->svc->self, req, &s->st.s, err);
    leave(srv);
  }
  if (rc < 0) {
    free(s);
    return origin(srv, rc, err);
  }
  s->st.srv = srv;
  pthread_mutex_lock(&srv->lock);
  srv->refs++;
  s->st.next = srv->streams;
  if (srv->streams)
    srv->streams->prev = &s->st;
  srv->streams = &s->st;
  pthread_mutex_unlock(&srv->lock);
  *out = s;
  return 0;
}

static int inmem_stream_next(dq_stream *s, dq_frame *out, dq_error *err) {
  inmem_server *srv = s->st.srv;
  int rc = enter(srv, err);
  if (rc < 0)
    return rc;
  rc = srv->svc->stream_next(srv->svc->self, s->st.s, out, err);
  leave(srv);
  return origin(srv, rc, err);
}

static void inmem_stream_cancel(dq_stream *s) {
  inmem_server *srv = s->st.srv;
  if (enter(srv, NULL) == 0) {
    srv->svc->stream_cancel(srv->svc->self, s->st.s);
    leave(srv);
  }
}

static void inmem_stream_close(dq_stream *s) {
  if (s == NULL)
    return;
  inmem_server *srv = s->st.srv;
  pthread_mutex_lock(&srv->lock);
  if (s->st.prev)
    s->st.prev->next = s->st.next;
  else if (srv->streams == &s->st)
    srv->streams = s->st.next;
  if (s->st.next)
    s->st.next->prev = s->st.prev;
  pthread_mutex_unlock(&srv->lock);
  if (enter(srv, NULL) == 0) {
    srv->svc->stream_close(srv->svc->self, s->st.s);
    leave(srv);
  }
  server_unref(srv);
  free(s);
}

/* --- server side -----------------------------------------------------------*/

static int valid_name(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (!(*s == '-' || *s == '_' || *s == '.' || (*s >= '0' && *s <= '9') ||
          (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
      return 0;
  return 1;
}

static int inmem_serve(dq_transport *t, const char *listen_url,
                       const dq_worker_service *svc, dq_server **out,
                       dq_error *err) {
  (void)t;
  if (strncmp(listen_url, SCHEME, strlen(SCHEME)) != 0)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not an inmem URL (expected inmem://NAME, or "
                        "inmem:// for a generated name)",
                        listen_url);
  const char *name = listen_url + strlen(SCHEME);
  if (*name != '\0' && !valid_name(name))
    return dq_error_set(err, DQ_EINVAL,
                        "'%s': an inmem worker name uses letters, digits, "
                        "'-', '_' and '.'",
                        listen_url);
  if (svc == NULL || svc->size < sizeof(dq_worker_service))
    return dq_error_set(err, DQ_EINVAL, "inmem: worker service too old");
  inmem_server *srv = calloc(1, sizeof *srv);
  dq_server *handle = calloc(1, sizeof *handle);
  if (srv == NULL || handle == NULL) {
    free(srv);
    free(handle);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  if (*name == '\0') /* like port 0: a fresh name */
    snprintf(srv->url, sizeof srv->url, SCHEME "w%lu",
             (unsigned long)atomic_fetch_add(&next_auto_name, 1));
  else
    snprintf(srv->url, sizeof srv->url, "%s", listen_url);
  srv->svc = svc;
  srv->refs = 1; /* the table's */
  pthread_mutex_init(&srv->lock, NULL);
  pthread_cond_init(&srv->idle, NULL);

  pthread_mutex_lock(&table_lock);
  for (inmem_server *o = table; o != NULL; o = o->next)
    if (strcmp(o->url, srv->url) == 0) {
      pthread_mutex_unlock(&table_lock);
      pthread_mutex_destroy(&srv->lock);
      pthread_cond_destroy(&srv->idle);
      free(srv);
      free(handle);
      return dq_error_set(err, DQ_EINVAL,
                          "an inmem worker is already served at %s",
                          listen_url);
    }
  srv->next = table;
  table = srv;
  pthread_mutex_unlock(&table_lock);
  handle->srv = srv;
  *out = handle;
  return 0;
}

static const char *inmem_server_url(const dq_server *s) { return s->srv->url; }

static void inmem_stop(dq_server *handle) {
  if (handle == NULL)
    return;
  inmem_server *srv = handle->srv;
  pthread_mutex_lock(&table_lock);
  for (inmem_server **pp = &table; *pp != NULL; pp = &(*pp)->next)
    if (*pp == srv) {
      *pp = srv->next;
      break;
    }
  pthread_mutex_unlock(&table_lock);

  pthread_mutex_lock(&srv->lock);
  srv->stopped = 1;
  /* Wake readers blocked in the service; cancel is safe concurrently with
   * stream_next by the service's contract. */
  for (inmem_stream *st = srv->streams; st != NULL; st = st->next)
    srv->svc->stream_cancel(srv->svc->self, st->s);
  while (srv->in_flight > 0)
    pthread_cond_wait(&srv->idle, &srv->lock);
  pthread_mutex_unlock(&srv->lock);
  /* Streams still open were never closed through the service: their owner,
   * the worker, frees its own stream state when it shuts down. */
  server_unref(srv);
  free(handle);
}

static const dq_transport_ops inmem_ops = {
    .size = sizeof(dq_transport_ops),
    .init = inmem_init,
    .fini = inmem_fini,
    .channel_open = inmem_channel_open,
    .channel_close = inmem_channel_close,
    .get_worker_info = inmem_get_worker_info,
    .coord_open = inmem_coord_open,
    .coord_send_work_unit = inmem_coord_send_work_unit,
    .coord_finish = inmem_coord_finish,
    .coord_close = inmem_coord_close,
    .execute_task = inmem_execute_task,
    .stream_next = inmem_stream_next,
    .stream_cancel = inmem_stream_cancel,
    .stream_close = inmem_stream_close,
    .serve = inmem_serve,
    .server_url = inmem_server_url,
    .stop = inmem_stop,
};

DQ_TRANSPORT_PLUGIN(inmem, DQ_VERSION_STRING,
                    "in-process workers: direct calls, batches moved by "
                    "pointer",
                    &inmem_ops)
