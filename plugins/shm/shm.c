/* shm.c — the shm transport: worker processes on one host, control over
 * Unix sockets, data through shared-memory rings read in place.
 *
 * This file holds the instance (options), the client side of every call and
 * the ops table; shm_server.c hosts workers, shm_ring.c moves the bytes.
 *
 * Connections: each channel keeps a small pool of idle control
 * connections (at most SHM_POOL_IDLE), so a coordinator channel or a
 * GetWorkerInfo reuses a connection, and the worker's thread already
 * serving it, instead of connecting (and the worker starting a thread) per
 * call.  A coordinator channel holds its connection exclusively while it is
 * open; coord_close sends CLOSE (the worker frees the task) and gives the
 * connection back.  A connection whose exchange did not end cleanly (a
 * deadline passed, the worker hung up, a malformed reply) is closed, never
 * pooled.  A stream takes a pooled connection for good (its end is the
 * connection's end).  Closing the channel closes its idle connections, so
 * after a query (its channels closed) nothing of it stays open.
 *
 * Client streams: records arrive in the ring, or — when the ring could not
 * take one (too big, or full of batches this side still holds) — through
 * the socket as a segment.  Every record carries the stream's sequence
 * number, and the reader takes them strictly in sequence from whichever
 * path has the next one.  Batches are decoded in place: their buffers point
 * into the ring (or the segment's mapping) until the batch is released.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/ipc.h>
#include <dq/wire.h>

#include "shm.h"

struct dq_transport {
  shm_transport t;
};

/* Idle connections kept per channel: enough for the coordinator channels
 * of one query's tasks on one worker to come back and be reused by the
 * next ones; more are closed when they come back. */
#define SHM_POOL_IDLE 8

/* The idle connections of a channel.  Reference-counted: a coordinator
 * channel may outlive the dq_channel that opened it and still gives its
 * connection back (to be closed, once the channel has closed). */
typedef struct shm_pool {
  atomic_long refs;
  pthread_mutex_t lock;
  int closed; /* the channel closed: connections coming back are closed */
  int idle[SHM_POOL_IDLE];
  size_t n_idle;
} shm_pool;

struct dq_channel {
  dq_transport *t;
  char url[256];
  shm_pool *pool;
};

struct dq_coord {
  int sock;
  int deadline_ms;
  int broken; /* the connection's state is unknown: never reuse it */
  shm_pool *pool;
  char url[256];
  dq_task_metrics *metrics; /* the last coord_finish's, owned */
};

struct dq_server {
  shm_server *srv;
};

struct dq_stream {
  int sock;
  int keepalive_ms;
  pid_t peer; /* the worker's pid, to tell a stopped one from a slow one */
  char url[256];
  shm_ring *ring;
  pthread_mutex_t sock_lock; /* cancel (any thread) vs close */
  atomic_bool cancelled;
  uint64_t expected;
  int have_rec;
  shm_rec rec; /* a ring record ahead of the sequence */
  int have_seg;
  shm_seg_hdr seg; /* a socket record ahead of the sequence */
  void *seg_inline;
  int seg_fd;
  dq_wire_frame_decoder *frames; /* the stream's schema and IPC decoding */
  int ended, failed;
  dq_error error;
};

/* --- instance -------------------------------------------------------------- */

int shm_parse_url(const char *url, char *name, size_t len, int allow_empty,
                  dq_error *err) {
  if (url == NULL || strncmp(url, "shm://", 6) != 0)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not an shm URL (expected shm://NAME)",
                        url ? url : "(null)");
  const char *n = url + 6;
  if (*n == '\0' && !allow_empty)
    return dq_error_set(err, DQ_EINVAL, "'%s' names no worker", url);
  for (const char *p = n; *p; p++)
    if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
      return dq_error_set(err, DQ_EINVAL,
                          "'%s': an shm worker name uses letters, digits, "
                          "'-', '_' and '.'",
                          url);
  if (strlen(n) >= len)
    return dq_error_set(err, DQ_EINVAL, "'%s': the name is too long", url);
  snprintf(name, len, "%s", n);
  return 0;
}

static int parse_size(const char *v, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || end == v)
    return -1;
  if (*end == 'K' || *end == 'k')
    n <<= 10, end++;
  else if (*end == 'M' || *end == 'm')
    n <<= 20, end++;
  else if (*end == 'G' || *end == 'g')
    n <<= 30, end++;
  if (*end != '\0')
    return -1;
  *out = (size_t)n;
  return 0;
}

static int shm_init(const dq_kv *options, size_t n_options, dq_transport **out,
                    dq_error *err) {
  dq_transport *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  t->t.ring_size = 16u << 20;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n_options; i++) {
    const char *k = options[i].key, *v = options[i].value;
    if (strcmp(k, "ring_size") == 0) {
      size_t n;
      if (parse_size(v, &n) < 0 || n < (64u << 10) || n > (1ull << 30))
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.shm] ring_size = '%s' is not a size "
                          "from 64K to 1G",
                          v);
      else
        t->t.ring_size = n;
    } else if (strcmp(k, "socket_dir") == 0) {
      struct stat st;
      if (strlen(v) >= sizeof t->t.socket_dir - 16)
        rc = dq_error_set(err, DQ_ECONFIG, "[transport.shm] socket_dir is "
                                           "too long");
      else if (stat(v, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.shm] socket_dir %s is not a directory",
                          v);
      else if ((st.st_mode & 077) != 0 || st.st_uid != getuid())
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.shm] socket_dir %s must be ours with "
                          "mode 0700 (it is %04o)",
                          v, (unsigned)(st.st_mode & 07777));
      else
        snprintf(t->t.socket_dir, sizeof t->t.socket_dir, "%s", v);
    } else if (strcmp(k, "deadline_ms") == 0 ||
               strcmp(k, "keepalive_ms") == 0) {
      char *end;
      long ms = strtol(v, &end, 10);
      if (*end != '\0' || end == v || ms < 0 || ms > 86400000)
        rc = dq_error_set(err, DQ_ECONFIG,
                          "[transport.shm] %s = '%s' is not a number of "
                          "milliseconds from 0 to 86400000",
                          k, v);
      else if (k[0] == 'd')
        t->t.deadline_ms = (int)ms;
      else
        t->t.keepalive_ms = (int)ms;
    } else if (strcmp(k, "allow_uids") == 0) {
      const char *p = v;
      while (rc == 0 && *p) {
        char *end;
        unsigned long u = strtoul(p, &end, 10);
        if (end == p || t->t.n_allow_uids == 16)
          rc = dq_error_set(err, DQ_ECONFIG,
                            "[transport.shm] allow_uids = '%s' is not a list "
                            "of at most 16 uids",
                            v);
        else
          t->t.allow_uids[t->t.n_allow_uids++] = (uid_t)u;
        p = *end == ',' ? end + 1 : end;
        if (rc == 0 && *end != ',' && *end != '\0')
          rc = dq_error_set(err, DQ_ECONFIG,
                            "[transport.shm] allow_uids = '%s' is not a list "
                            "of uids",
                            v);
      }
    } else {
      rc = dq_error_set(err, DQ_ECONFIG,
                        "[transport.shm] has no option '%s' (known: "
                        "ring_size, socket_dir, allow_uids, deadline_ms, "
                        "keepalive_ms)",
                        k);
    }
  }
  if (rc < 0) {
    free(t);
    return rc;
  }
  *out = t;
  return 0;
}

static void shm_fini(dq_transport *t) { free(t); }

/* --- connections -------------------------------------------------------------*/

static int dial(dq_transport *t, const char *url, int *sock, dq_error *err) {
  char name[128];
  int rc = shm_parse_url(url, name, sizeof name, 0, err);
  struct sockaddr_un addr;
  socklen_t alen;
  if (rc == 0)
    rc = shm_address(&t->t, name, &addr, &alen, err);
  if (rc < 0)
    return rc;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return dq_error_set(err, DQ_EIO, "socket: %s", strerror(errno));
  if (connect(s, (struct sockaddr *)&addr, alen) != 0) {
    rc = dq_error_set(err, DQ_EUNAVAILABLE, "no shm worker at %s (%s)", url,
                      strerror(errno));
    close(s);
    dq_error_set_origin(err, url, NULL);
    return rc;
  }
  /* Anyone could bind an abstract name first: check who answers. */
  rc = shm_check_peer(s, t->t.allow_uids, t->t.n_allow_uids, err);
  if (rc < 0) {
    close(s);
    dq_error_set_origin(err, url, NULL);
    return rc;
  }
  *sock = s;
  return 0;
}

/* The pid of the process at the other end (SO_PEERCRED: fixed when the
 * connection was made, so a pooled connection's is still right). */
static pid_t peer_pid(int sock) {
  struct ucred cred;
  socklen_t clen = sizeof cred;
  return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0
             ? cred.pid
             : 0;
}

static shm_pool *pool_new(void) {
  shm_pool *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  atomic_init(&p->refs, 1);
  pthread_mutex_init(&p->lock, NULL);
  return p;
}

static shm_pool *pool_ref(shm_pool *p) {
  atomic_fetch_add(&p->refs, 1);
  return p;
}

static void pool_unref(shm_pool *p) {
  if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
    return;
  for (size_t i = 0; i < p->n_idle; i++)
    close(p->idle[i]);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

/* An idle connection is fit for reuse when the worker has neither hung up
 * (it stopped, or died) nor sent anything (an idle connection carries
 * nothing: bytes there mean a refusal, e.g. of our uid, or confusion). */
static int idle_usable(int sock) {
  char c;
  ssize_t n = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A connection to the channel's worker: an idle one from the pool, or a
 * new one. */
static int pool_get(dq_channel *ch, int *sock, dq_error *err) {
  shm_pool *p = ch->pool;
  for (;;) {
    int s = -1;
    pthread_mutex_lock(&p->lock);
    if (p->n_idle > 0)
      s = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->lock);
    if (s < 0)
      break;
    if (idle_usable(s)) {
      *sock = s;
      return 0;
    }
    close(s);
  }
  return dial(ch->t, ch->url, sock, err);
}

/* Gives a connection back after a clean exchange; closed instead when the
 * channel has closed or enough are idle already. */
static void pool_put(shm_pool *p, int sock) {
  pthread_mutex_lock(&p->lock);
  if (!p->closed && p->n_idle < SHM_POOL_IDLE) {
    p->idle[p->n_idle++] = sock;
    sock = -1;
  }
  pthread_mutex_unlock(&p->lock);
  if (sock >= 0)
    close(sock);
}

/* Whether process pid is stopped (SIGSTOP, or a debugger): state T or t in
 * /proc/PID/stat.  A stopped peer keeps its sockets open, so nothing on
 * them tells it from a slow one. */
static int peer_stopped(pid_t pid) {
  if (pid <= 0)
    return 0;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  return p != NULL && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
}

/* Reads the reply to a request: OK, the expected type, or an error. */
/* *broken is set when the exchange did not end cleanly (no reply, or one
 * we could not use): the connection must not be reused.  An ERROR reply is
 * a clean end. */
static int reply(int sock, const char *url, int deadline_ms, uint8_t want,
                 void **data, size_t *len, int *fds, int *n_fds, int *broken,
                 dq_error *err) {
  *data = NULL;
  if (deadline_ms > 0) {
    struct pollfd p = {sock, POLLIN, 0};
    int n;
    do
      n = poll(&p, 1, deadline_ms);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
      *broken = 1; /* the reply may still come: the stream is out of step */
      dq_error_set(err, DQ_ETIMEDOUT, "shm worker %s did not answer within "
                   "[transport.shm] deadline_ms (%d ms)", url, deadline_ms);
      dq_error_set_origin(err, url, NULL);
      return DQ_ETIMEDOUT;
    }
  }
  uint8_t type;
  int rc = shm_recv(sock, &type, data, len, fds, n_fds, err);
  if (rc < 0) {
    *broken = 1;
    dq_error_set(err, DQ_EUNAVAILABLE, "shm worker %s closed the connection "
                 "before answering", url);
    dq_error_set_origin(err, url, NULL);
    return DQ_EUNAVAILABLE;
  }
  if (type == SHM_MSG_ERROR) {
    rc = shm_error_from_msg(*data, *len, err);
    free(*data);
    *data = NULL;
    if (err != NULL && err->worker_url[0] == '\0')
      dq_error_set_origin(err, url, NULL);
    return rc;
  }
  if (type != want) {
    *broken = 1;
    free(*data);
    *data = NULL;
    for (int i = 0; n_fds && i < *n_fds; i++)
      close(fds[i]);
    dq_error_set(err, DQ_EPROTO, "shm worker %s answered with message type "
                 "%u, expected %u", url, type, want);
    dq_error_set_origin(err, url, NULL);
    return DQ_EPROTO;
  }
  return 0;
}

/* Sends a request and reads its reply.  A worker that refuses a
 * connection (say, a uid it does not allow) answers with an error and
 * closes at once, so our send may fail: the reply then says why. */
static int request(int sock, const char *url, int deadline_ms, uint8_t type,
                   const void *data, size_t len, uint8_t want,
                   void **reply_data, size_t *reply_len, int *fds, int *n_fds,
                   int *broken, dq_error *err) {
  dq_error send_err;
  dq_error_clear(&send_err);
  int src = shm_send(sock, type, data, len, NULL, 0, &send_err);
  if (src < 0)
    *broken = 1;
  int rc = reply(sock, url, deadline_ms, want, reply_data, reply_len, fds,
                 n_fds, broken, err);
  if (rc < 0 && src < 0 && (err == NULL || err->code == DQ_EUNAVAILABLE) &&
      err != NULL && strstr(err->message, "before answering") != NULL) {
    *err = send_err; /* no reply: the send's reason is the better one */
    dq_error_set_origin(err, url, NULL);
    return src;
  }
  return rc;
}

static int shm_channel_open(dq_transport *t, const char *url,
                            dq_channel **out, dq_error *err) {
  int s;
  int rc = dial(t, url, &s, err); /* fail early on an absent worker */
  if (rc < 0)
    return rc;
  dq_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL || (ch->pool = pool_new()) == NULL) {
    free(ch);
    close(s);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  ch->t = t;
  snprintf(ch->url, sizeof ch->url, "%s", url);
  /* The connection made to check the worker is the first one of the pool:
   * the channel's first call uses it. */
  pool_put(ch->pool, s);
  *out = ch;
  return 0;
}

static void shm_channel_close(dq_channel *ch) {
  if (ch == NULL)
    return;
  shm_pool *p = ch->pool;
  int idle[SHM_POOL_IDLE];
  pthread_mutex_lock(&p->lock);
  p->closed = 1;
  size_t n = p->n_idle;
  memcpy(idle, p->idle, n * sizeof idle[0]);
  p->n_idle = 0;
  pthread_mutex_unlock(&p->lock);
  /* The worker's threads serving them see the hang-up and end. */
  for (size_t i = 0; i < n; i++)
    close(idle[i]);
  pool_unref(p); /* coordinator channels still open keep it */
  free(ch);
}

static int shm_get_worker_info(dq_channel *ch, dq_worker_info *out,
                               dq_error *err) {
  int s;
  int rc = pool_get(ch, &s, err);
  if (rc < 0)
    return rc;
  void *data = NULL;
  size_t len;
  int broken = 0;
  rc = request(s, ch->url, ch->t->t.deadline_ms, SHM_MSG_INFO_REQ, NULL, 0,
               SHM_MSG_INFO, &data, &len, NULL, NULL, &broken, err);
  if (rc == 0)
    rc = dq_wire_decode_worker_info(data, len, out, err);
  free(data);
  if (broken)
    close(s);
  else
    pool_put(ch->pool, s);
  return rc;
}

/* --- coordinator channels ---------------------------------------------------*/

static int shm_coord_open(dq_channel *ch, const dq_set_plan *plan,
                          dq_coord **out, dq_error *err) {
  dq_coord *c = calloc(1, sizeof *c);
  if (c == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  snprintf(c->url, sizeof c->url, "%s", ch->url);
  c->deadline_ms = ch->t->t.deadline_ms;
  int rc = pool_get(ch, &c->sock, err);
  if (rc < 0) {
    free(c);
    return rc;
  }
  void *buf = NULL;
  size_t len = 0;
  void *data = NULL;
  rc = dq_wire_encode_set_plan(plan, &buf, &len, err);
  if (rc == 0)
    rc = request(c->sock, c->url, c->deadline_ms, SHM_MSG_SET_PLAN, buf, len,
                 SHM_MSG_OK, &data, &len, NULL, NULL, &c->broken, err);
  dq_wire_free(buf);
  free(data);
  if (rc < 0) {
    if (err != NULL && err->worker_url[0] == '\0')
      dq_error_set_origin(err, c->url, &plan->key);
    /* A refused plan is a clean exchange: the worker waits for the next
     * call on this connection. */
    if (c->broken)
      close(c->sock);
    else
      pool_put(ch->pool, c->sock);
    free(c);
    return rc;
  }
  c->pool = pool_ref(ch->pool);
  *out = c;
  return 0;
}

static int shm_coord_send_work_unit(dq_coord *c, const void *data, size_t len,
                                    dq_error *err) {
  void *buf = NULL;
  size_t blen;
  void *r = NULL;
  size_t rlen;
  int rc = dq_wire_encode_work_unit(data, len, &buf, &blen, err);
  if (rc == 0)
    rc = shm_send(c->sock, SHM_MSG_WORK_UNIT, buf, blen, NULL, 0, err);
  dq_wire_free(buf);
  if (rc == DQ_EUNAVAILABLE)
    c->broken = 1;
  if (rc == 0)
    rc = reply(c->sock, c->url, c->deadline_ms, SHM_MSG_OK, &r, &rlen, NULL,
               NULL, &c->broken, err);
  free(r);
  return rc;
}

static int shm_coord_finish(dq_coord *c, dq_task_metrics *out,
                            dq_error *err) {
  void *data = NULL;
  size_t len;
  int rc = shm_send(c->sock, SHM_MSG_FINISH, NULL, 0, NULL, 0, err);
  if (rc < 0)
    c->broken = 1;
  if (rc == 0)
    rc = reply(c->sock, c->url, c->deadline_ms, SHM_MSG_METRICS, &data, &len,
               NULL, NULL, &c->broken, err);
  if (rc == 0) {
    dq_wire_task_metrics_free(c->metrics);
    c->metrics = NULL;
    rc = dq_wire_decode_task_metrics(data, len, &c->metrics, err);
    if (rc == 0)
      *out = *c->metrics;
  }
  free(data);
  return rc;
}

static void shm_coord_close(dq_coord *c) {
  if (c == NULL)
    return;
  /* CLOSE frees the task on the worker, which then waits for the next call
   * on this connection.  Sent without waiting: request and reply alternate,
   * so the socket's buffer is empty and the send completes at once; if it
   * cannot, hanging up frees the task just the same. */
  if (!c->broken && shm_send_nowait(c->sock, SHM_MSG_CLOSE) == 0)
    pool_put(c->pool, c->sock);
  else
    close(c->sock); /* the worker frees the task on the hang-up */
  pool_unref(c->pool);
  dq_wire_task_metrics_free(c->metrics);
  free(c);
}

/* --- streams ------------------------------------------------------------------*/

static int shm_execute_task(dq_channel *ch, const dq_execute_task *req,
                            dq_stream **out, dq_error *err) {
  dq_stream *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  snprintf(s->url, sizeof s->url, "%s", ch->url);
  s->seg_fd = -1;
  s->keepalive_ms = ch->t->t.keepalive_ms;
  int rc = dq_wire_frame_decoder_new(&s->frames, err);
  /* A stream keeps its connection: its end (or a hang-up) is the stream's. */
  if (rc == 0)
    rc = pool_get(ch, &s->sock, err);
  if (rc < 0) {
    dq_wire_frame_decoder_free(s->frames);
    free(s);
    return rc;
  }
  s->peer = peer_pid(s->sock);
  int broken = 0; /* unused: a stream's connection is never pooled */
  void *buf = NULL;
  size_t len = 0;
  void *data = NULL;
  int fds[SHM_MAX_FDS];
  int n_fds = 0;
  rc = dq_wire_encode_execute_task(req, &buf, &len, err);
  if (rc == 0)
    rc = request(s->sock, s->url, ch->t->t.deadline_ms, SHM_MSG_EXECUTE, buf,
                 len, SHM_MSG_STREAM, &data, &len, fds, &n_fds, &broken, err);
  dq_wire_free(buf);
  free(data);
  if (rc == 0 && n_fds != 3) {
    for (int i = 0; i < n_fds; i++)
      close(fds[i]);
    rc = dq_error_set(err, DQ_EPROTO, "shm worker %s sent %d descriptors "
                      "with a stream, expected 3", s->url, n_fds);
  }
  if (rc == 0)
    rc = shm_ring_attach(fds, &s->ring, err);
  if (rc < 0) {
    if (err != NULL && !err->has_task)
      dq_error_set_origin(err, s->url, &req->key);
    close(s->sock);
    dq_wire_frame_decoder_free(s->frames);
    free(s);
    return rc;
  }
  pthread_mutex_init(&s->sock_lock, NULL);
  *out = s;
  return 0;
}

typedef struct ring_hold {
  shm_ring *ring;
  void *hdr;
} ring_hold;

static void release_ring_record(void *ctx) {
  ring_hold *h = ctx;
  shm_ring_release(h->ring, h->hdr);
  shm_ring_unref(h->ring);
  free(h);
}

typedef struct seg_hold {
  void *addr;
  size_t size;
} seg_hold;

static void release_segment(void *ctx) {
  seg_hold *h = ctx;
  munmap(h->addr, h->size);
  free(h);
}

static int fail(dq_stream *s, int rc, dq_error *err) {
  s->failed = 1;
  if (err != NULL) {
    if (err->worker_url[0] == '\0')
      dq_error_set_origin(err, s->url, NULL);
    s->error = *err;
  } else {
    dq_error_set(&s->error, rc, "%s", dq_strerror(rc));
  }
  s->error.code = rc;
  return rc;
}

/* Turns one record into a frame.  For batches, `release(ctx)` gives the
 * memory back; it is called by the decoder when the batch goes. */
static int to_frame(dq_stream *s, uint8_t kind, uint32_t partition,
                    const uint8_t *payload, size_t len, size_t capacity,
                    void (*release)(void *), void *ctx, dq_frame *out,
                    dq_error *err) {
  int rc = 0;
  switch (kind) {
  case SHM_REC_SCHEMA:
  case SHM_REC_BATCH:
    /* In place: a batch's buffers point into shared memory, which
     * release() hands back when the last of them goes. */
    return dq_wire_frame_decode(s->frames, partition, payload,
                                kind == SHM_REC_BATCH ? capacity : len,
                                release, ctx, out, err);
  case SHM_REC_EOS:
  case SHM_REC_END:
    if (release)
      release(ctx);
    out->kind = kind == SHM_REC_EOS ? DQ_FRAME_EOS : DQ_FRAME_END;
    out->partition = partition;
    if (kind == SHM_REC_END)
      s->ended = 1;
    return 0;
  case SHM_REC_ERROR:
    rc = shm_error_from_msg(payload, len, err);
    if (release)
      release(ctx);
    return rc < 0 ? rc : DQ_EEXEC;
  default:
    if (release)
      release(ctx);
    return dq_error_set(err, DQ_EPROTO, "unknown ring record kind %u", kind);
  }
}

/* Takes the next socket record if one is readable (or wait > 0). */
static int read_segment(dq_stream *s, dq_error *err) {
  struct pollfd p = {s->sock, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
    return 0;
  uint8_t type;
  void *data;
  size_t len;
  int fds[SHM_MAX_FDS];
  int n_fds = 0;
  int rc = shm_recv(s->sock, &type, &data, &len, fds, &n_fds, err);
  if (rc < 0)
    return 0; /* a hang-up: the ring may still hold the rest */
  if (type != SHM_MSG_SEGMENT || len < sizeof(shm_seg_hdr)) {
    free(data);
    for (int i = 0; i < n_fds; i++)
      close(fds[i]);
    return dq_error_set(err, DQ_EPROTO, "unexpected message type %u during "
                        "a stream", type);
  }
  memcpy(&s->seg, data, sizeof s->seg);
  if ((s->seg.has_fd && n_fds != 1) ||
      (!s->seg.has_fd && (n_fds != 0 || s->seg.size != len - sizeof s->seg))) {
    free(data);
    for (int i = 0; i < n_fds; i++)
      close(fds[i]);
    return dq_error_set(err, DQ_EPROTO, "a malformed segment message");
  }
  s->seg_fd = s->seg.has_fd ? fds[0] : -1;
  s->seg_inline = data;
  s->have_seg = 1;
  return 0;
}

static int take_segment(dq_stream *s, dq_frame *out, dq_error *err) {
  s->have_seg = 0;
  s->expected++;
  const uint8_t *payload = (const uint8_t *)s->seg_inline + sizeof s->seg;
  if (!s->seg.has_fd) {
    int rc = to_frame(s, s->seg.kind, s->seg.partition, payload,
                      (size_t)s->seg.size, (size_t)s->seg.size, NULL, NULL,
                      out, err);
    free(s->seg_inline);
    s->seg_inline = NULL;
    return rc;
  }
  free(s->seg_inline);
  s->seg_inline = NULL;
  int fd = s->seg_fd;
  s->seg_fd = -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < s->seg.size) {
    close(fd);
    return dq_error_set(err, DQ_EPROTO, "a segment smaller than announced");
  }
  size_t cap = (size_t)st.st_size;
  void *addr = mmap(NULL, cap, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (addr == MAP_FAILED)
    return dq_error_set(err, DQ_EIO, "cannot map a segment: %s",
                        strerror(errno));
  seg_hold *h = malloc(sizeof *h);
  if (h == NULL) {
    munmap(addr, cap);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  h->addr = addr;
  h->size = cap;
  return to_frame(s, s->seg.kind, s->seg.partition, addr, (size_t)s->seg.size,
                  cap, release_segment, h, out, err);
}

static int take_ring(dq_stream *s, dq_frame *out, dq_error *err) {
  s->have_rec = 0;
  s->expected++;
  ring_hold *h = malloc(sizeof *h);
  if (h == NULL) {
    shm_ring_release(s->ring, s->rec.hdr);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  h->ring = shm_ring_ref(s->ring);
  h->hdr = s->rec.hdr;
  return to_frame(s, s->rec.kind, s->rec.partition, s->rec.payload,
                  s->rec.len, s->rec.capacity, release_ring_record, h, out,
                  err);
}

static int shm_stream_next(dq_stream *s, dq_frame *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  if (s->failed) {
    if (err != NULL)
      *err = s->error;
    return s->error.code;
  }
  if (s->ended) {
    out->kind = DQ_FRAME_END;
    return 0;
  }
  for (;;) {
    if (atomic_load(&s->cancelled))
      return dq_error_set(err, DQ_ECANCELED, "the stream was cancelled");
    int rc = 0;
    if (!s->have_rec) {
      rc = shm_ring_get(s->ring, &s->rec, err);
      if (rc < 0)
        return fail(s, rc, err);
      s->have_rec = rc == 0;
    }
    if (s->have_rec && s->rec.seq == s->expected) {
      rc = take_ring(s, out, err);
      return rc < 0 ? fail(s, rc, err) : 0;
    }
    if (!s->have_seg && (rc = read_segment(s, err)) < 0)
      return fail(s, rc, err);
    if (s->have_seg && s->seg.seq == s->expected) {
      rc = take_segment(s, out, err);
      return rc < 0 ? fail(s, rc, err) : 0;
    }
    if (s->have_rec && s->have_seg)
      return fail(s, dq_error_set(err, DQ_EPROTO,
                                  "the stream skipped record %llu",
                                  (unsigned long long)s->expected),
                  err);
    rc = shm_ring_wait(s->ring, s->sock,
                       s->keepalive_ms > 0 ? s->keepalive_ms : -1, err);
    if (rc == SHM_WAIT_TIMEOUT) {
      /* Silent for keepalive_ms: fine if the worker is busy, an error if
       * it is stopped (it would never answer). */
      if (peer_stopped(s->peer)) {
        dq_error_set(err, DQ_EUNAVAILABLE,
                     "shm worker %s (pid %d) is stopped: its stream has "
                     "been silent for [transport.shm] keepalive_ms (%d ms)",
                     s->url, (int)s->peer, s->keepalive_ms);
        return fail(s, DQ_EUNAVAILABLE, err);
      }
      continue;
    }
    if (rc < 0) {
      /* The worker hung up; anything it sent before is read first. */
      if (!s->have_seg && read_segment(s, err) == 0 && s->have_seg)
        continue;
      if (!s->have_rec && shm_ring_get(s->ring, &s->rec, NULL) == 0) {
        s->have_rec = 1;
        continue;
      }
      dq_error_set(err, DQ_EUNAVAILABLE,
                   "shm worker %s went away in the middle of a stream",
                   s->url);
      return fail(s, DQ_EUNAVAILABLE, err);
    }
  }
}

static void shm_stream_cancel(dq_stream *s) {
  atomic_store(&s->cancelled, true);
  shm_ring_cancel(s->ring); /* wakes a blocked reader and the producer */
  pthread_mutex_lock(&s->sock_lock);
  if (s->sock >= 0)
    shm_send(s->sock, SHM_MSG_CANCEL, NULL, 0, NULL, 0, NULL);
  pthread_mutex_unlock(&s->sock_lock);
}

static void shm_stream_close(dq_stream *s) {
  if (s == NULL)
    return;
  if (!s->ended && !s->failed)
    shm_stream_cancel(s);
  pthread_mutex_lock(&s->sock_lock);
  close(s->sock);
  s->sock = -1;
  pthread_mutex_unlock(&s->sock_lock);
  if (s->have_rec)
    shm_ring_release(s->ring, s->rec.hdr);
  free(s->seg_inline);
  if (s->seg_fd >= 0)
    close(s->seg_fd);
  dq_wire_frame_decoder_free(s->frames);
  shm_ring_unref(s->ring); /* batches still out keep their own references */
  pthread_mutex_destroy(&s->sock_lock);
  free(s);
}

/* --- server side -------------------------------------------------------------*/

static int shm_ops_serve(dq_transport *t, const char *listen_url,
                         const dq_worker_service *svc, dq_server **out,
                         dq_error *err) {
  if (svc == NULL || svc->size < sizeof(dq_worker_service))
    return dq_error_set(err, DQ_EINVAL, "shm: worker service too old");
  dq_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = shm_serve(&t->t, listen_url, svc, &s->srv, err);
  if (rc < 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

static const char *shm_ops_server_url(const dq_server *s) {
  return shm_server_url(s->srv);
}

static void shm_ops_stop(dq_server *s) {
  if (s == NULL)
    return;
  shm_stop(s->srv);
  free(s);
}

static const dq_transport_ops shm_ops = {
    .size = sizeof(dq_transport_ops),
    .init = shm_init,
    .fini = shm_fini,
    .channel_open = shm_channel_open,
    .channel_close = shm_channel_close,
    .get_worker_info = shm_get_worker_info,
    .coord_open = shm_coord_open,
    .coord_send_work_unit = shm_coord_send_work_unit,
    .coord_finish = shm_coord_finish,
    .coord_close = shm_coord_close,
    .execute_task = shm_execute_task,
    .stream_next = shm_stream_next,
    .stream_cancel = shm_stream_cancel,
    .stream_close = shm_stream_close,
    .serve = shm_ops_serve,
    .server_url = shm_ops_server_url,
    .stop = shm_ops_stop,
};

DQ_TRANSPORT_PLUGIN(shm, DQ_VERSION_STRING,
                    "worker processes on one host: Unix sockets for control, "
                    "shared-memory rings read in place for data",
                    &shm_ops)
