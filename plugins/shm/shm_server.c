/* shm_server.c — hosting a worker service at shm://NAME.
 *
 * One listening Unix socket (abstract namespace by default, so nothing is
 * left on disk; or a socket file in a 0700 directory); one thread per
 * connection, which lives as long as the connection.  Clients keep idle
 * connections in a pool and reuse them (shm.c), so a thread serves call
 * after call: a GetWorkerInfo, or a coordinator channel (SetPlan, then
 * work units and finish, ended by CLOSE or by the connection's end:
 * coord_close either way), then waits for the next call.  An ExecuteTask
 * stream is the connection's last call.  A client closing its channel
 * closes its idle connections, and their threads end.  A stream has
 * a pump thread (stream_next → ring) and a watcher thread blocked on the
 * socket, which turns the client's CANCEL or hang-up into stream_cancel
 * even while the pump waits inside stream_next.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/ipc.h>
#include <dq/wire.h>

#include "shm.h"

typedef struct conn conn;
struct conn {
  shm_server *srv;
  int sock;
  pthread_t thread;
  int done; /* the thread has finished: join it */
  conn *next;
};

struct shm_server {
  shm_transport *t;
  const dq_worker_service *svc;
  char url[256];
  int lsock;
  pthread_t acceptor;
  pthread_mutex_t lock;
  int stopping;
  conn *conns;
  /* The socket file we bound (socket_dir only): stop() unlinks the file
   * only while it is still this one. */
  int bound_file;
  dev_t file_dev;
  ino_t file_ino;
};

/* --- streams ------------------------------------------------------------------*/

typedef struct stream_ctx {
  shm_server *srv;
  int sock;
  dq_ws_stream *s;
  pthread_mutex_t lock;
  int finished; /* the pump is done: the watcher must not cancel */
  shm_ring *ring;
  int put_failed; /* a record could not be written: the reader is gone */
} stream_ctx;

static void *watch_main(void *arg) {
  stream_ctx *sc = arg;
  for (;;) {
    uint8_t type;
    void *data;
    size_t len;
    int rc = shm_recv(sc->sock, &type, &data, &len, NULL, NULL, NULL);
    free(data);
    /* CANCEL, EOF (the client closed or died) and garbage all cancel. */
    pthread_mutex_lock(&sc->lock);
    if (!sc->finished)
      sc->srv->svc->stream_cancel(sc->srv->svc->self, sc->s);
    pthread_mutex_unlock(&sc->lock);
    if (rc < 0 || type != SHM_MSG_CANCEL)
      break;
  }
  return NULL;
}

/* Sends one record: in the ring, or through the socket when the ring cannot
 * take it (too large, or pinned by a reader that waits). */
static int put_record(stream_ctx *sc, shm_ring *ring, uint8_t kind,
                      uint32_t partition, const shm_slice *sl, size_t n,
                      dq_error *err) {
  int rc = shm_ring_put(ring, sc->sock, kind, partition, sl, n, err);
  if (rc != DQ_ETOOBIG)
    return rc;
  shm_seg_hdr h;
  memset(&h, 0, sizeof h);
  h.seq = shm_ring_next_seq(ring);
  h.partition = partition;
  h.kind = kind;
  for (size_t i = 0; i < n; i++)
    h.size += sl[i].len;
  if (kind == SHM_REC_BATCH) {
    int fd;
    size_t size;
    rc = shm_segment_create(sl, n, &fd, &size, err);
    if (rc < 0)
      return rc;
    h.has_fd = 1;
    rc = shm_send(sc->sock, SHM_MSG_SEGMENT, &h, sizeof h, &fd, 1, err);
    close(fd);
    return rc;
  }
  /* Small records travel inline. */
  size_t total = sizeof h + (size_t)h.size;
  uint8_t *buf = malloc(total);
  if (buf == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  memcpy(buf, &h, sizeof h);
  uint8_t *p = buf + sizeof h;
  for (size_t i = 0; i < n; i++) {
    memcpy(p, sl[i].p, sl[i].len);
    p += sl[i].len;
  }
  rc = shm_send(sc->sock, SHM_MSG_SEGMENT, buf, total, NULL, 0, err);
  free(buf);
  return rc;
}

static int put_ipc(stream_ctx *sc, shm_ring *ring, uint8_t kind,
                   uint32_t partition, dq_ipc_message *m, dq_error *err) {
  size_t n;
  const dq_ipc_slice *is = dq_ipc_message_slices(m, &n);
  shm_slice sl[64];
  if (n > 64)
    return dq_error_set(err, DQ_EINTERNAL, "an IPC message of %zu slices", n);
  for (size_t i = 0; i < n; i++) {
    sl[i].p = is[i].data;
    sl[i].len = is[i].len;
  }
  return put_record(sc, ring, kind, partition, sl, n, err);
}

/* The frame encoder's emitter: each piece as a ring record. */
static int put_frame(void *ctx, uint32_t kind, uint32_t partition,
                     dq_ipc_message *m, dq_error *err) {
  stream_ctx *sc = ctx;
  static const uint8_t rec_kind[] = {0, SHM_REC_SCHEMA, SHM_REC_BATCH,
                                     SHM_REC_EOS, SHM_REC_END};
  int rc = m != NULL ? put_ipc(sc, sc->ring, rec_kind[kind], partition, m, err)
                     : put_record(sc, sc->ring, rec_kind[kind], partition,
                                  NULL, 0, err);
  if (rc < 0)
    sc->put_failed = 1;
  return rc;
}

static void serve_stream(shm_server *srv, int sock, const void *data,
                         size_t len) {
  const dq_worker_service *svc = srv->svc;
  dq_error err;
  dq_error_clear(&err);
  dq_execute_task *req = NULL;
  dq_ws_stream *s = NULL;
  int rc = dq_wire_decode_execute_task(data, len, &req, &err);
  if (rc == 0)
    rc = svc->execute_task(svc->self, req, &s, &err);
  dq_wire_execute_task_free(req);
  if (rc < 0) {
    if (err.worker_url[0] == '\0')
      dq_error_set_origin(&err, srv->url, NULL);
    shm_send_error(sock, &err);
    return;
  }
  shm_ring *ring = NULL;
  int fds[3];
  rc = shm_ring_create(srv->t->ring_size, &ring, fds, &err);
  if (rc == 0)
    rc = shm_send(sock, SHM_MSG_STREAM, NULL, 0, fds, 3, &err);
  if (rc < 0) {
    svc->stream_close(svc->self, s);
    shm_ring_unref(ring);
    if (err.worker_url[0] == '\0')
      dq_error_set_origin(&err, srv->url, NULL);
    shm_send_error(sock, &err);
    return;
  }
  stream_ctx sc = {.srv = srv, .sock = sock, .s = s};
  pthread_mutex_init(&sc.lock, NULL);
  pthread_t watcher;
  int watching = pthread_create(&watcher, NULL, watch_main, &sc) == 0;
  if (!watching)
    svc->stream_cancel(svc->self, s);

  /* No size limit: a record too big for the ring goes as a segment. */
  dq_wire_frame_encoder *enc = NULL;
  rc = dq_wire_frame_encoder_new(0, &enc, &err);
  sc.ring = ring;
  for (;;) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    if (rc == 0)
      rc = svc->stream_next(svc->self, s, &f, &err);
    if (rc < 0) {
      if (err.worker_url[0] == '\0')
        dq_error_set_origin(&err, srv->url, NULL);
      /* Tell the reader why, if it is still there. */
      void *eb = NULL;
      size_t el = 0;
      if (dq_wire_encode_error(&err, &eb, &el, NULL) == 0) {
        shm_slice sl = {eb, el};
        put_record(&sc, ring, SHM_REC_ERROR, 0, &sl, 1, &err);
      }
      dq_wire_free(eb);
      break;
    }
    int end = f.kind == DQ_FRAME_END;
    rc = dq_wire_frame_encode(enc, &f, put_frame, &sc, &err);
    if (rc < 0 && !sc.put_failed) {
      /* A frame this side could not send (a batch before its schema, out
       * of memory encoding): the reader learns the real reason from the
       * error record below, not "the worker went away", and the worker's
       * log says it too. */
      if (err.worker_url[0] == '\0')
        dq_error_set_origin(&err, srv->url, NULL);
      char line[800];
      dq_log(DQ_LOG_WARN, "%s: a stream failed on this worker: %s",
             srv->url, dq_error_format(&err, line, sizeof line));
      continue;
    }
    if (rc < 0 || end)
      break; /* the reader cancelled or went away, or the stream ended */
  }
  dq_wire_frame_encoder_free(enc);
  pthread_mutex_lock(&sc.lock);
  sc.finished = 1;
  pthread_mutex_unlock(&sc.lock);
  /* Wakes the watcher out of its read. */
  shutdown(sock, SHUT_RD);
  if (watching)
    pthread_join(watcher, NULL);
  pthread_mutex_destroy(&sc.lock);
  svc->stream_close(svc->self, s);
  shm_ring_unref(ring);
}

/* --- coordinator channels --------------------------------------------------*/

/* Serves one coordinator channel.  Returns 1 when it ended with CLOSE and
 * the connection may carry another call, 0 when the connection must end. */
static int serve_coord(shm_server *srv, int sock, const void *data,
                       size_t len) {
  const dq_worker_service *svc = srv->svc;
  dq_error err;
  dq_error_clear(&err);
  dq_set_plan *sp = NULL;
  dq_ws_task *task = NULL;
  int rc = dq_wire_decode_set_plan(data, len, &sp, &err);
  if (rc == 0)
    rc = svc->coord_open(svc->self, sp, &task, &err);
  dq_wire_set_plan_free(sp);
  if (rc < 0) {
    if (err.worker_url[0] == '\0')
      dq_error_set_origin(&err, srv->url, NULL);
    /* A refusal leaves the connection in step: the client may reuse it. */
    return shm_send_error(sock, &err) == 0;
  }
  if (shm_send(sock, SHM_MSG_OK, NULL, 0, NULL, 0, NULL) < 0) {
    svc->coord_close(svc->self, task);
    return 0;
  }
  int reuse = 0;
  for (;;) {
    uint8_t type;
    void *msg;
    size_t mlen;
    /* EOF, the client closing or dying, ends the channel: free the task. */
    if (shm_recv(sock, &type, &msg, &mlen, NULL, NULL, NULL) < 0)
      break;
    dq_error_clear(&err);
    if (type == SHM_MSG_CLOSE) {
      free(msg);
      reuse = 1;
      break;
    }
    if (type == SHM_MSG_WORK_UNIT) {
      void *unit = NULL;
      size_t n;
      rc = dq_wire_decode_work_unit(msg, mlen, &unit, &n, &err);
      if (rc == 0)
        rc = svc->coord_send_work_unit(svc->self, task, unit, n, &err);
      dq_wire_free(unit);
      rc = rc < 0 ? shm_send_error(sock, &err)
                  : shm_send(sock, SHM_MSG_OK, NULL, 0, NULL, 0, NULL);
    } else if (type == SHM_MSG_FINISH) {
      dq_task_metrics m;
      void *buf = NULL;
      size_t blen = 0;
      rc = svc->coord_finish(svc->self, task, &m, &err);
      if (rc == 0)
        rc = dq_wire_encode_task_metrics(&m, &buf, &blen, &err);
      rc = rc < 0 ? shm_send_error(sock, &err)
                  : shm_send(sock, SHM_MSG_METRICS, buf, blen, NULL, 0, NULL);
      dq_wire_free(buf);
    } else {
      rc = -1;
    }
    free(msg);
    if (rc < 0)
      break;
  }
  svc->coord_close(svc->self, task);
  return reuse;
}

/* --- connections ------------------------------------------------------------*/

static void *conn_main(void *arg) {
  conn *c = arg;
  shm_server *srv = c->srv;
  dq_error err;
  dq_error_clear(&err);
  /* Credentials are the connecting process's, fixed for the connection's
   * life: checked once, before any call. */
  if (shm_check_peer(c->sock, srv->t->allow_uids, srv->t->n_allow_uids,
                     &err) < 0) {
    /* The client hears why; the worker's operator must too. */
    dq_log(DQ_LOG_WARN, "%s: refused a connection: %s", srv->url,
           err.message);
    shm_send_error(c->sock, &err);
  } else {
    for (int more = 1; more;) {
      uint8_t type;
      void *data;
      size_t len;
      /* Idle between calls: the client's pool holds the other end.  Its
       * hang-up (the channel closed, the client died) or stop() ends the
       * wait. */
      if (shm_recv(c->sock, &type, &data, &len, NULL, NULL, &err) < 0)
        break;
      more = 0;
      if (type == SHM_MSG_INFO_REQ) {
        dq_worker_info info;
        void *buf = NULL;
        size_t blen = 0;
        if (srv->svc->get_worker_info(srv->svc->self, &info, &err) == 0 &&
            dq_wire_encode_worker_info(&info, &buf, &blen, &err) == 0)
          more = shm_send(c->sock, SHM_MSG_INFO, buf, blen, NULL, 0, NULL) == 0;
        else
          more = shm_send_error(c->sock, &err) == 0;
        dq_wire_free(buf);
      } else if (type == SHM_MSG_SET_PLAN) {
        more = serve_coord(srv, c->sock, data, len);
      } else if (type == SHM_MSG_EXECUTE) {
        serve_stream(srv, c->sock, data, len);
      } else {
        dq_error_set(&err, DQ_EPROTO, "unexpected first message type %u",
                     type);
        shm_send_error(c->sock, &err);
      }
      free(data);
      dq_error_clear(&err);
    }
  }
  /* Close now, not when the thread is reaped: a finished call holds no
   * descriptor.  Under the lock, so stop() never shuts a reused number. */
  pthread_mutex_lock(&srv->lock);
  close(c->sock);
  c->sock = -1;
  c->done = 1;
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}

/* Joins finished connection threads; srv->lock held. */
static void reap_locked(shm_server *srv) {
  for (conn **pp = &srv->conns; *pp != NULL;) {
    conn *c = *pp;
    if (c->done) {
      *pp = c->next;
      pthread_join(c->thread, NULL);
      free(c);
    } else {
      pp = &c->next;
    }
  }
}

static void *accept_main(void *arg) {
  shm_server *srv = arg;
  for (;;) {
    int s = accept4(srv->lsock, NULL, NULL, SOCK_CLOEXEC);
    pthread_mutex_lock(&srv->lock);
    reap_locked(srv);
    if (srv->stopping) {
      pthread_mutex_unlock(&srv->lock);
      if (s >= 0)
        close(s);
      break;
    }
    if (s < 0) {
      pthread_mutex_unlock(&srv->lock);
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
          errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (errno != EINTR && errno != ECONNABORTED)
          usleep(10000); /* out of descriptors: back off, do not spin */
        continue;
      }
      break;
    }
    conn *c = calloc(1, sizeof *c);
    if (c == NULL || (c->srv = srv, c->sock = s,
                      pthread_create(&c->thread, NULL, conn_main, c) != 0)) {
      free(c);
      close(s);
      pthread_mutex_unlock(&srv->lock);
      continue;
    }
    c->next = srv->conns;
    srv->conns = c;
    pthread_mutex_unlock(&srv->lock);
  }
  return NULL;
}

/* Fills addr for URL shm://NAME: abstract "\0dq-shm/NAME", or a file in
 * socket_dir. */
int shm_address(const shm_transport *t, const char *name,
                struct sockaddr_un *addr, socklen_t *len, dq_error *err) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  int n;
  if (t->socket_dir[0] != '\0') {
    n = snprintf(addr->sun_path, sizeof addr->sun_path, "%s/%s.sock",
                 t->socket_dir, name);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                       (size_t)n + 1);
  } else {
    n = snprintf(addr->sun_path + 1, sizeof addr->sun_path - 1, "dq-shm/%s",
                 name);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                       (size_t)n);
  }
  if (n < 0 || (size_t)n >= sizeof addr->sun_path - 1)
    return dq_error_set(err, DQ_EINVAL, "shm worker name '%s' is too long",
                        name);
  return 0;
}

/* Who is at addr: the pid of a process accepting connections there (> 0),
 * 0 when nobody listens (ECONNREFUSED: a socket file left by a killed
 * worker), -1 when it cannot tell. */
static long listener_pid(const struct sockaddr_un *addr, socklen_t alen) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  long pid = -1;
  if (connect(s, (const struct sockaddr *)addr, alen) == 0) {
    struct ucred cred;
    socklen_t clen = sizeof cred;
    pid = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0
              ? (long)cred.pid
              : -1;
    if (pid == 0)
      pid = -1;
  } else if (errno == ECONNREFUSED) {
    pid = 0;
  }
  close(s);
  return pid;
}

/* Binds lsock to addr.  An address in use is either a live worker (named,
 * with its pid, and left alone) or, for a socket file, one left behind by
 * a worker that was killed: nobody accepts on it, so it is replaced.
 * Nothing here ever unlinks a file that is not a socket, or one a live
 * process listens on. */
static int bind_listener(shm_server *srv, const struct sockaddr_un *addr,
                         socklen_t alen, dq_error *err) {
  for (int attempt = 0;; attempt++) {
    if (bind(srv->lsock, (const struct sockaddr *)addr, alen) == 0)
      break;
    int e = errno;
    if (e != EADDRINUSE)
      return dq_error_set(err, DQ_EIO, "cannot bind %s (%s): %s", srv->url,
                          addr->sun_path[0] ? addr->sun_path
                                            : "abstract socket",
                          strerror(e));
    long pid = listener_pid(addr, alen);
    if (pid > 0)
      return dq_error_set(err, DQ_EUNAVAILABLE,
                          "a worker is already serving %s (pid %ld)",
                          srv->url, pid);
    struct stat st;
    if (pid == 0 && attempt == 0 && addr->sun_path[0] != '\0' &&
        lstat(addr->sun_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_uid == getuid() && unlink(addr->sun_path) == 0)
      continue; /* stale: its worker is gone; bind again */
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "%s is in use (%s) and its owner does not answer",
                        srv->url,
                        addr->sun_path[0] ? addr->sun_path
                                          : "abstract socket");
  }
  if (addr->sun_path[0] != '\0') {
    struct stat st;
    if (stat(addr->sun_path, &st) == 0) {
      srv->bound_file = 1;
      srv->file_dev = st.st_dev;
      srv->file_ino = st.st_ino;
    }
  }
  return 0;
}

/* Unlinks the socket file srv bound, if it is still that file. */
static void unlink_own_socket(shm_server *srv, const char *path) {
  struct stat st;
  if (srv->bound_file && lstat(path, &st) == 0 &&
      st.st_dev == srv->file_dev && st.st_ino == srv->file_ino)
    unlink(path);
  srv->bound_file = 0;
}

int shm_serve(shm_transport *t, const char *listen_url,
              const dq_worker_service *svc, shm_server **out, dq_error *err) {
  char name[128];
  int rc = shm_parse_url(listen_url, name, sizeof name, 1, err);
  if (rc < 0)
    return rc;
  if (name[0] == '\0') { /* like port 0: a fresh name */
    static atomic_ulong counter;
    snprintf(name, sizeof name, "w%ld-%lu", (long)getpid(),
             (unsigned long)atomic_fetch_add(&counter, 1));
  }
  shm_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  srv->t = t;
  srv->svc = svc;
  snprintf(srv->url, sizeof srv->url, "shm://%s", name);
  pthread_mutex_init(&srv->lock, NULL);
  struct sockaddr_un addr;
  socklen_t alen;
  rc = shm_address(t, name, &addr, &alen, err);
  srv->lsock = rc == 0 ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
  if (rc == 0 && srv->lsock < 0)
    rc = dq_error_set(err, DQ_EIO, "socket: %s", strerror(errno));
  if (rc == 0)
    rc = bind_listener(srv, &addr, alen, err);
  if (rc == 0 && listen(srv->lsock, 128) != 0)
    rc = dq_error_set(err, DQ_EIO, "listen: %s", strerror(errno));
  if (rc == 0 && pthread_create(&srv->acceptor, NULL, accept_main, srv) != 0)
    rc = dq_error_set(err, DQ_EIO, "cannot start the accept thread");
  if (rc < 0) {
    if (srv->lsock >= 0)
      close(srv->lsock);
    unlink_own_socket(srv, addr.sun_path); /* never another's */
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

const char *shm_server_url(const shm_server *srv) { return srv->url; }

void shm_stop(shm_server *srv) {
  if (srv == NULL)
    return;
  pthread_mutex_lock(&srv->lock);
  srv->stopping = 1;
  /* Wake every connection thread: their reads and waits see the hang-up,
   * coordinator channels end (coord_close), streams cancel. */
  for (conn *c = srv->conns; c != NULL; c = c->next)
    if (c->sock >= 0)
      shutdown(c->sock, SHUT_RDWR);
  pthread_mutex_unlock(&srv->lock);
  shutdown(srv->lsock, SHUT_RDWR);
  pthread_join(srv->acceptor, NULL);
  close(srv->lsock);
  if (srv->t->socket_dir[0] != '\0') {
    struct sockaddr_un addr;
    socklen_t alen;
    if (shm_address(srv->t, srv->url + 6, &addr, &alen, NULL) == 0)
      unlink_own_socket(srv, addr.sun_path);
  }
  pthread_mutex_lock(&srv->lock);
  while (srv->conns != NULL) {
    conn *c = srv->conns;
    srv->conns = c->next;
    pthread_mutex_unlock(&srv->lock);
    pthread_join(c->thread, NULL);
    free(c);
    pthread_mutex_lock(&srv->lock);
  }
  pthread_mutex_unlock(&srv->lock);
  pthread_mutex_destroy(&srv->lock);
  free(srv);
}
