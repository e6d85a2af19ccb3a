/* tcp.c — an out-of-tree dq transport over plain TCP sockets, built against
 * an installed dq with nothing but <dq/transport.h>, <dq/wire.h> and
 * `pkg-config libdq`.  It is the worked example of dq-transport(7).
 *
 * Design (README.md has the wire format):
 *  - One TCP connection per call: GetWorkerInfo, each coordinator channel
 *    and each ExecuteTask stream has its own socket.  A channel is only a
 *    resolved address, so coord and stream handles may outlive it, many
 *    threads may use it at once, and no stream can hold up another behind it
 *    (no head-of-line blocking, so no poll order can deadlock).
 *  - Closing a coordinator connection is what frees the task: the server
 *    sees end-of-file and calls the worker service's coord_close.
 *  - Cancelling a stream shuts its socket down: a stream_next blocked in
 *    recv() wakes at once, and on the server a watcher thread sees the
 *    end-of-file and calls the service's stream_cancel, which wakes the
 *    thread blocked in the service's stream_next.
 *  - Messages are worker.proto bytes and batches Arrow IPC encapsulated
 *    messages, both made by libdq's <dq/wire.h>: this file only frames
 *    them.  Batches are sent straight from their buffers with sendmsg (split
 *    to fit max_message_size) and received into a 64-byte aligned block
 *    that the decoded batch points into (no copy).
 *  - Server: one acceptor thread, one thread per connection, plus a watcher
 *    per stream.  Every thread is joined before stop() returns: after it the
 *    worker service is gone (the module itself stays loaded, so batches
 *    pointing into our receive blocks may be released at any later time).
 */
#define _GNU_SOURCE /* getaddrinfo, MSG_NOSIGNAL, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/transport.h>
#include <dq/wire.h>

#define SCHEME "tcp://"
#define TCP_VERSION "0.1.0"
/* First 8 bytes a client sends on every connection: a peer that is not a
 * dq tcp transport (or a future incompatible one) is refused at once. */
static const uint8_t tcp_magic[8] = {'D', 'Q', 'T', 'C', 'P', 0, 0, 2};

/* Message types.  Requests open a connection; replies and frames answer.
 * Payloads are dq.v1 messages of worker.proto unless said otherwise. */
enum {
  M_INFO = 1,      /* (empty) -> M_INFO_OK | M_ERROR */
  M_SETPLAN = 2,   /* SetPlan -> M_OK | M_ERROR; the connection is the channel */
  M_WORK_UNIT = 3, /* the unit's bytes -> M_OK | M_ERROR */
  M_FINISH = 4,    /* (empty) -> M_METRICS | M_ERROR */
  M_EXECUTE = 5,   /* ExecuteTaskRequest -> M_OK | M_ERROR, then frames */
  M_OK = 16,
  M_ERROR = 17,    /* Error */
  M_INFO_OK = 18,  /* WorkerInfo */
  M_METRICS = 19,  /* TaskMetrics */
  M_F_SCHEMA = 32, /* an IPC schema message */
  M_F_BATCH = 33,  /* u32 partition, an IPC record batch message */
  M_F_EOS = 34,    /* u32 partition */
  M_F_END = 35
};

#define DEFAULT_MAX_MESSAGE (256u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 5000

/* --- the instance ------------------------------------------------------- */

struct dq_transport {
  uint32_t max_message; /* largest message accepted, bytes */
  int connect_timeout_ms;
};

struct dq_channel {
  const dq_transport *t;
  char url[256];
  struct sockaddr_storage addr;
  socklen_t addr_len;
};

/* A coordinator channel: its own connection. */
struct dq_coord {
  int fd;
  uint32_t max_message;
  char url[256];
  dq_task_metrics *metrics; /* the last coord_finish's answer */
};

struct dq_stream {
  int fd;
  uint32_t max_message;
  char url[256];
  atomic_bool cancelled;
  int state; /* 0 streaming, 1 ended (END seen), 2 failed */
  dq_error error;
  dq_wire_frame_decoder *frames; /* knows the stream's schema */
};

/* --- socket I/O ---------------------------------------------------------- */

/* Sends every byte of iov[0..n); MSG_NOSIGNAL so a vanished peer is an
 * error, not a SIGPIPE that kills the host process. */
static int send_iov(int fd, struct iovec *iov, size_t n) {
  while (n > 0) {
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = n > IOV_MAX ? IOV_MAX : n;
    ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    size_t left = (size_t)w;
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

static void put_header(uint8_t h[8], uint32_t type, uint32_t len) {
  for (int i = 0; i < 4; i++) {
    h[i] = (uint8_t)(type >> (8 * i));
    h[4 + i] = (uint8_t)(len >> (8 * i));
  }
}

/* Sends one message: header, then payload. */
static int send_msg(int fd, uint32_t type, const void *payload, size_t len) {
  uint8_t h[8];
  put_header(h, type, (uint32_t)len);
  struct iovec iov[2] = {{h, 8}, {(void *)payload, len}};
  return send_iov(fd, iov, len ? 2 : 1);
}

/* Reads exactly len bytes: 0, or -1 on error or end of file. */
static int recv_all(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t r = recv(fd, p, len, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

static int recv_header(int fd, uint32_t *type, uint32_t *len) {
  uint8_t h[8];
  if (recv_all(fd, h, 8) < 0)
    return -1;
  *type = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
          (uint32_t)h[3] << 24;
  *len = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
         (uint32_t)h[7] << 24;
  return 0;
}

/* Reads a whole message into a new buffer (freed by the caller).  Returns
 * 0, DQ_EUNAVAILABLE (connection lost) or DQ_ETOOBIG / DQ_ENOMEM. */
static int recv_msg(int fd, uint32_t max, uint32_t *type, uint8_t **payload,
                    uint32_t *len, dq_error *err, const char *url) {
  *payload = NULL;
  if (recv_header(fd, type, len) < 0)
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "tcp: connection to worker %s lost", url);
  if (*len > max)
    return dq_error_set(err, DQ_ETOOBIG,
                        "tcp: worker %s sent a %u-byte message; the limit is "
                        "%u ([transport.tcp] max_message_size)",
                        url, *len, max);
  *payload = malloc(*len ? *len : 1);
  if (*payload == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (recv_all(fd, *payload, *len) < 0) {
    free(*payload);
    *payload = NULL;
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "tcp: connection to worker %s lost", url);
  }
  return 0;
}

static void set_nodelay(int fd) {
  int one = 1;
  /* Requests and replies are small and answered at once: Nagle's delay
   * would add tens of milliseconds to every coord_open. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* --- errors on the wire --------------------------------------------------- */

/* Sends a message <dq/wire.h> encoded; frees the buffer. */
static int send_wire(int fd, uint32_t type, void *buf, size_t len) {
  int rc = send_msg(fd, type, buf, len);
  dq_wire_free(buf);
  return rc;
}

static int send_error(int fd, const dq_error *e) {
  void *buf;
  size_t len;
  if (dq_wire_encode_error(e, &buf, &len, NULL) < 0)
    return -1;
  return send_wire(fd, M_ERROR, buf, len);
}

/* Decodes an M_ERROR payload into err as the worker sent it.  Returns the
 * (negative) code. */
static int decode_error(const uint8_t *p, size_t n, dq_error *err,
                        const char *url) {
  dq_error e;
  int rc = dq_wire_decode_error(p, n, &e, &e);
  if (e.worker_url[0] == '\0')
    dq_error_set_origin(&e, url, NULL);
  if (err != NULL)
    *err = e;
  return rc < 0 ? rc : e.code;
}

/* Marks where a locally detected error happened, unless it says already. */
static int origin(int rc, dq_error *err, const char *url) {
  if (rc < 0 && err != NULL && err->worker_url[0] == '\0')
    dq_error_set_origin(err, url, NULL);
  return rc;
}

/* --- URLs ----------------------------------------------------------------- */

/* Splits tcp://HOST:PORT (HOST may be [v6]) into host and port strings. */
static int parse_url(const char *url, char *host, size_t hlen, char *port,
                     size_t plen, dq_error *err) {
  if (strncmp(url, SCHEME, strlen(SCHEME)) != 0)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not a tcp URL (expected tcp://HOST:PORT)",
                        url);
  const char *h = url + strlen(SCHEME), *colon;
  size_t n;
  if (*h == '[') {
    const char *close = strchr(h, ']');
    if (close == NULL || close[1] != ':')
      return dq_error_set(err, DQ_EINVAL,
                          "'%s': expected tcp://[IPv6]:PORT", url);
    h++;
    n = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(h, ':');
    if (colon == NULL)
      return dq_error_set(err, DQ_EINVAL,
                          "'%s' has no port (expected tcp://HOST:PORT)", url);
    n = (size_t)(colon - h);
  }
  const char *p = colon + 1;
  char *end;
  errno = 0;
  unsigned long v = strtoul(p, &end, 10);
  if (n == 0 || n >= hlen || *p < '0' || *p > '9' || *end != '\0' ||
      errno != 0 || v > 65535 || strlen(p) >= plen)
    return dq_error_set(err, DQ_EINVAL,
                        "'%s': expected tcp://HOST:PORT with a port from 0 "
                        "to 65535",
                        url);
  memcpy(host, h, n);
  host[n] = '\0';
  snprintf(port, plen, "%s", p);
  return 0;
}

/* --- instance ------------------------------------------------------------- */

static int parse_opt_u32(const dq_kv *kv, uint64_t min, uint64_t max,
                         uint32_t *out, dq_error *err) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(kv->value, &end, 10);
  if (kv->value[0] < '0' || kv->value[0] > '9' || *end != '\0' ||
      errno != 0 || v < min || v > max)
    return dq_error_set(err, DQ_ECONFIG,
                        "[transport.tcp] %s = '%s' is not an integer from "
                        "%llu to %llu",
                        kv->key, kv->value, (unsigned long long)min,
                        (unsigned long long)max);
  *out = (uint32_t)v;
  return 0;
}

static int tcp_init(const dq_kv *options, size_t n_options,
                    dq_transport **out, dq_error *err) {
  dq_transport t = {DEFAULT_MAX_MESSAGE, DEFAULT_CONNECT_TIMEOUT_MS};
  for (size_t i = 0; i < n_options; i++) {
    uint32_t v;
    if (strcmp(options[i].key, "max_message_size") == 0) {
      if (parse_opt_u32(&options[i], 4096, UINT32_MAX, &v, err) < 0)
        return DQ_ECONFIG;
      t.max_message = v;
    } else if (strcmp(options[i].key, "connect_timeout_ms") == 0) {
      if (parse_opt_u32(&options[i], 1, 3600000, &v, err) < 0)
        return DQ_ECONFIG;
      t.connect_timeout_ms = (int)v;
    } else {
      return dq_error_set(err, DQ_ECONFIG,
                          "[transport.tcp] has no option '%s' (known: "
                          "max_message_size, connect_timeout_ms)",
                          options[i].key);
    }
  }
  dq_transport *p = malloc(sizeof *p);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  *p = t;
  *out = p;
  return 0;
}

static void tcp_fini(dq_transport *t) { free(t); }

/* --- client side ----------------------------------------------------------- */

static int tcp_channel_open(dq_transport *t, const char *url,
                            dq_channel **out, dq_error *err) {
  char host[256], port[16];
  int rc = parse_url(url, host, sizeof host, port, sizeof port, err);
  if (rc < 0)
    return rc;
  if (strlen(url) >= sizeof((dq_channel *)0)->url)
    return dq_error_set(err, DQ_EINVAL, "tcp: URL '%s' is too long", url);
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int g = getaddrinfo(host, port, &hints, &ai);
  if (g != 0 || ai == NULL) {
    dq_error_set(err, DQ_EUNAVAILABLE, "tcp: cannot resolve '%s': %s", host,
                 gai_strerror(g));
    return origin(DQ_EUNAVAILABLE, err, url);
  }
  dq_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL) {
    freeaddrinfo(ai);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  ch->t = t;
  snprintf(ch->url, sizeof ch->url, "%s", url);
  memcpy(&ch->addr, ai->ai_addr, ai->ai_addrlen);
  ch->addr_len = ai->ai_addrlen;
  freeaddrinfo(ai);
  *out = ch;
  return 0;
}

static void tcp_channel_close(dq_channel *ch) { free(ch); }

/* Connects to the channel's worker (bounded by connect_timeout_ms) and
 * sends the magic.  Returns the socket or a negative code. */
static int connect_worker(const dq_channel *ch, dq_error *err) {
  int fd = socket(ch->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return origin(dq_error_set(err, DQ_EIO, "tcp: socket: %s",
                               strerror(errno)),
                  err, ch->url);
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  int rc = connect(fd, (const struct sockaddr *)&ch->addr, ch->addr_len);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd p = {fd, POLLOUT, 0};
    int n;
    do
      n = poll(&p, 1, ch->t->connect_timeout_ms);
    while (n < 0 && errno == EINTR);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (n == 0) {
      errno = ETIMEDOUT;
      rc = -1;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
               soerr != 0) {
      errno = soerr ? soerr : errno;
      rc = -1;
    } else {
      rc = 0;
    }
  }
  if (rc < 0) {
    int e = errno;
    close(fd);
    dq_error_set(err, DQ_EUNAVAILABLE, "tcp: cannot connect to worker %s: %s",
                 ch->url, strerror(e));
    return origin(DQ_EUNAVAILABLE, err, ch->url);
  }
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  set_nodelay(fd);
  struct iovec iov = {(void *)tcp_magic, sizeof tcp_magic};
  if (send_iov(fd, &iov, 1) < 0) {
    close(fd);
    dq_error_set(err, DQ_EUNAVAILABLE, "tcp: connection to worker %s lost",
                 ch->url);
    return origin(DQ_EUNAVAILABLE, err, ch->url);
  }
  return fd;
}

/* Waits for the reply to a request: 0 with the payload of `want`, or the
 * worker's error, or a transport error. */
static int await_reply(int fd, uint32_t max, uint32_t want, uint8_t **payload,
                       uint32_t *len, dq_error *err, const char *url) {
  uint32_t type;
  int rc = recv_msg(fd, max, &type, payload, len, err, url);
  if (rc < 0)
    return origin(rc, err, url);
  if (type == want)
    return 0;
  if (type == M_ERROR)
    rc = decode_error(*payload, *len, err, url);
  else
    rc = origin(dq_error_set(err, DQ_EPROTO,
                             "tcp: worker %s answered with message type %u, "
                             "expected %u",
                             url, type, want),
                err, url);
  free(*payload);
  *payload = NULL;
  return rc;
}

static int tcp_get_worker_info(dq_channel *ch, dq_worker_info *out,
                               dq_error *err) {
  int fd = connect_worker(ch, err);
  if (fd < 0)
    return fd;
  uint8_t *p = NULL;
  uint32_t len;
  int rc = send_msg(fd, M_INFO, NULL, 0) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     ch->url),
                        err, ch->url)
               : await_reply(fd, ch->t->max_message, M_INFO_OK, &p, &len, err,
                             ch->url);
  close(fd);
  if (rc == 0)
    rc = dq_wire_decode_worker_info(p, len, out, err);
  free(p);
  return origin(rc, err, ch->url);
}

static int tcp_coord_open(dq_channel *ch, const dq_set_plan *plan,
                          dq_coord **out, dq_error *err) {
  void *buf = NULL;
  size_t n = 0;
  int rc = dq_wire_encode_set_plan(plan, &buf, &n, err);
  if (rc == 0 && n > ch->t->max_message)
    rc = dq_error_set(err, DQ_ETOOBIG,
                      "tcp: the task plan (%zu bytes) exceeds "
                      "max_message_size",
                      n);
  if (rc < 0) {
    dq_wire_free(buf);
    return rc;
  }
  dq_coord *c = calloc(1, sizeof *c);
  if (c == NULL) {
    dq_wire_free(buf);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  int fd = connect_worker(ch, err);
  if (fd < 0) {
    dq_wire_free(buf);
    free(c);
    return fd;
  }
  uint8_t *p = NULL;
  uint32_t len;
  rc = send_msg(fd, M_SETPLAN, buf, n) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     ch->url),
                        err, ch->url)
               : await_reply(fd, ch->t->max_message, M_OK, &p, &len, err,
                             ch->url);
  dq_wire_free(buf);
  free(p);
  if (rc < 0) {
    close(fd);
    free(c);
    return rc;
  }
  c->fd = fd;
  c->max_message = ch->t->max_message;
  snprintf(c->url, sizeof c->url, "%s", ch->url);
  *out = c;
  return 0;
}

static int tcp_coord_send_work_unit(dq_coord *c, const void *data, size_t len,
                                    dq_error *err) {
  if (len > c->max_message)
    return dq_error_set(err, DQ_ETOOBIG,
                        "tcp: a %zu-byte work unit exceeds max_message_size",
                        len);
  uint8_t *p = NULL;
  uint32_t plen;
  int rc = send_msg(c->fd, M_WORK_UNIT, data, len) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     c->url),
                        err, c->url)
               : await_reply(c->fd, c->max_message, M_OK, &p, &plen, err,
                             c->url);
  free(p);
  return rc;
}

static int tcp_coord_finish(dq_coord *c, dq_task_metrics *out,
                            dq_error *err) {
  uint8_t *p = NULL;
  uint32_t len;
  int rc = send_msg(c->fd, M_FINISH, NULL, 0) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     c->url),
                        err, c->url)
               : await_reply(c->fd, c->max_message, M_METRICS, &p, &len, err,
                             c->url);
  if (rc < 0)
    return rc;
  /* Valid until coord_close: the previous answer goes now. */
  dq_wire_task_metrics_free(c->metrics);
  c->metrics = NULL;
  rc = dq_wire_decode_task_metrics(p, len, &c->metrics, err);
  free(p);
  if (rc < 0)
    return origin(rc, err, c->url);
  *out = *c->metrics;
  return 0;
}

static void tcp_coord_close(dq_coord *c) {
  if (c == NULL)
    return;
  /* close() never waits for the worker; the end-of-file it delivers is
   * what makes the worker free the task. */
  close(c->fd);
  dq_wire_task_metrics_free(c->metrics);
  free(c);
}

static int tcp_execute_task(dq_channel *ch, const dq_execute_task *req,
                            dq_stream **out, dq_error *err) {
  void *buf = NULL;
  size_t n = 0;
  int rc = dq_wire_encode_execute_task(req, &buf, &n, err);
  dq_stream *s = rc < 0 ? NULL : calloc(1, sizeof *s);
  if (s == NULL || dq_wire_frame_decoder_new(&s->frames, err) < 0) {
    dq_wire_free(buf);
    free(s);
    return rc < 0 ? rc : dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  int fd = connect_worker(ch, err);
  if (fd < 0) {
    dq_wire_free(buf);
    dq_wire_frame_decoder_free(s->frames);
    free(s);
    return fd;
  }
  uint8_t *p = NULL;
  uint32_t len;
  rc = send_msg(fd, M_EXECUTE, buf, n) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     ch->url),
                        err, ch->url)
               : await_reply(fd, ch->t->max_message, M_OK, &p, &len, err,
                             ch->url);
  dq_wire_free(buf);
  free(p);
  if (rc < 0) {
    close(fd);
    dq_wire_frame_decoder_free(s->frames);
    free(s);
    return rc;
  }
  s->fd = fd;
  s->max_message = ch->t->max_message;
  snprintf(s->url, sizeof s->url, "%s", ch->url);
  atomic_init(&s->cancelled, false);
  *out = s;
  return 0;
}

static void release_block(void *ctx) { free(ctx); }

static int lost(dq_stream *s, dq_error *err) {
  return dq_error_set(err, DQ_EUNAVAILABLE,
                      "tcp: connection to worker %s lost mid-stream", s->url);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* Reads one frame off the stream's socket into out. */
static int read_frame(dq_stream *s, dq_frame *out, dq_error *err) {
  uint32_t type, len;
  if (recv_header(s->fd, &type, &len) < 0)
    return lost(s, err);
  if (len > s->max_message)
    return dq_error_set(err, DQ_ETOOBIG,
                        "tcp: worker %s sent a %u-byte frame; the limit is %u "
                        "([transport.tcp] max_message_size)",
                        s->url, len, s->max_message);
  uint8_t pb[4] = {0, 0, 0, 0};
  if (type == M_F_BATCH || type == M_F_EOS) {
    if (len < 4 || (type == M_F_EOS && len != 4))
      return dq_error_set(err, DQ_EPROTO,
                          "tcp: worker %s sent a malformed frame", s->url);
    if (recv_all(s->fd, pb, 4) < 0)
      return lost(s, err);
    len -= 4;
  }
  if (type == M_F_EOS) {
    out->kind = DQ_FRAME_EOS;
    out->partition = get_u32(pb);
    return 0;
  }
  if (type == M_F_END && len == 0) {
    out->kind = DQ_FRAME_END;
    return 0;
  }
  /* 64-byte aligned and padded, so the decoded batch reads in place. */
  void *block = aligned_alloc(64, (len + 63) / 64 * 64 + 64);
  if (block == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (recv_all(s->fd, block, len) < 0) {
    free(block);
    return lost(s, err);
  }
  if (type == M_F_SCHEMA || type == M_F_BATCH)
    /* The block is freed when the last buffer pointing into it goes. */
    return dq_wire_frame_decode(s->frames, get_u32(pb), block, len,
                                release_block, block, out, err);
  int rc = type == M_ERROR
               ? decode_error(block, len, err, s->url)
               : dq_error_set(err, DQ_EPROTO,
                              "tcp: worker %s sent message type %u in a "
                              "stream",
                              s->url, type);
  free(block);
  return rc;
}

static int tcp_stream_next(dq_stream *s, dq_frame *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  if (atomic_load(&s->cancelled))
    return origin(dq_error_set(err, DQ_ECANCELED, "the stream was cancelled"),
                  err, s->url);
  if (s->state == 1) {
    out->kind = DQ_FRAME_END;
    return 0;
  }
  if (s->state == 2) {
    *err = s->error;
    return s->error.code;
  }
  int rc = read_frame(s, out, err);
  /* A cancel shuts the socket down under a blocked recv(): whatever that
   * read then reports, the caller asked for DQ_ECANCELED. */
  if (atomic_load(&s->cancelled)) {
    if (rc == 0) {
      if (out->kind == DQ_FRAME_SCHEMA)
        out->schema.release(&out->schema);
      if (out->kind == DQ_FRAME_BATCH)
        out->array.release(&out->array);
      memset(out, 0, sizeof *out);
    }
    return origin(dq_error_set(err, DQ_ECANCELED, "the stream was cancelled"),
                  err, s->url);
  }
  if (rc < 0) {
    origin(rc, err, s->url);
    s->state = 2;
    s->error = *err;
    return rc;
  }
  if (out->kind == DQ_FRAME_END)
    s->state = 1;
  return 0;
}

static void tcp_stream_cancel(dq_stream *s) {
  atomic_store(&s->cancelled, true);
  /* Wakes a stream_next blocked in recv() on another thread, and tells the
   * worker (end-of-file) to cancel its side.  The descriptor itself stays
   * open until stream_close, so it cannot be reused under that thread. */
  shutdown(s->fd, SHUT_RDWR);
}

static void tcp_stream_close(dq_stream *s) {
  if (s == NULL)
    return;
  close(s->fd); /* an unfinished stream: the worker sees EOF and cancels */
  dq_wire_frame_decoder_free(s->frames);
  free(s);
}

/* --- server side ----------------------------------------------------------- */

typedef struct tcp_conn tcp_conn;

struct dq_server {
  const dq_transport *t;
  const dq_worker_service *svc;
  char url[256];
  int listen_fd;
  int wake[2]; /* pipe: wakes the acceptor (stop, a finished connection) */
  pthread_t acceptor;
  pthread_mutex_t lock;
  int stopping;
  tcp_conn *conns; /* every connection whose thread is not yet joined */
};

struct tcp_conn {
  dq_server *srv;
  int fd;        /* -1 once the handler closed it; guarded by srv->lock */
  int finished;  /* the handler returned: join it */
  pthread_t thread;
  tcp_conn *next;
};

/* Wakes the acceptor; a full pipe already means "wake up". */
static void wake_acceptor(dq_server *srv) {
  char c = 1;
  ssize_t r = write(srv->wake[1], &c, 1);
  (void)r;
}

/* The frame encoder's emitter: one piece of a frame onto the socket, the
 * IPC message straight from the batch's buffers. */
static int send_piece(void *ctx, uint32_t kind, uint32_t partition,
                      dq_ipc_message *m, dq_error *err) {
  int fd = *(int *)ctx;
  static const uint32_t type[] = {0, M_F_SCHEMA, M_F_BATCH, M_F_EOS, M_F_END};
  size_t n = 0;
  const dq_ipc_slice *sl = m ? dq_ipc_message_slices(m, &n) : NULL;
  size_t body = m ? dq_ipc_message_size(m) : 0;
  size_t pre = kind == DQ_FRAME_BATCH || kind == DQ_FRAME_EOS ? 4 : 0;
  if (body + pre > UINT32_MAX)
    return dq_error_set(err, DQ_ETOOBIG,
                        "tcp: a %zu-byte message does not fit a frame", body);
  struct iovec *iov = calloc(n + 1, sizeof *iov);
  if (iov == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  uint8_t h[12];
  put_header(h, type[kind], (uint32_t)(body + pre));
  for (int i = 0; i < 4; i++)
    h[8 + i] = (uint8_t)(partition >> (8 * i));
  iov[0].iov_base = h;
  iov[0].iov_len = 8 + pre;
  for (size_t i = 0; i < n; i++) {
    iov[i + 1].iov_base = (void *)sl[i].data;
    iov[i + 1].iov_len = sl[i].len;
  }
  int rc = send_iov(fd, iov, n + 1);
  free(iov);
  return rc < 0 ? dq_error_set(err, DQ_EUNAVAILABLE, "tcp: the reader left")
                : 0;
}

/* Watches a stream's socket while the handler sits in the service's
 * stream_next: end-of-file (the client cancelled or closed, or stop() shut
 * the socket) cancels the service's stream, which wakes the handler. */
typedef struct watch_arg {
  const dq_worker_service *svc;
  dq_ws_stream *ws;
  int fd;
} watch_arg;

static void *watch_main(void *arg) {
  watch_arg *w = arg;
  char c;
  ssize_t r;
  do
    r = recv(w->fd, &c, 1, 0);
  while (r < 0 && errno == EINTR);
  w->svc->stream_cancel(w->svc->self, w->ws);
  /* A handler blocked in send() to a reader that went away wakes too. */
  shutdown(w->fd, SHUT_RDWR);
  return NULL;
}

static void serve_stream(tcp_conn *conn, const uint8_t *p, uint32_t len) {
  const dq_worker_service *svc = conn->srv->svc;
  dq_execute_task *req = NULL;
  dq_ws_stream *ws = NULL;
  dq_wire_frame_encoder *enc = NULL;
  dq_error err;
  dq_error_clear(&err);
  int rc = dq_wire_decode_execute_task(p, len, &req, &err);
  if (rc == 0)
    rc = dq_wire_frame_encoder_new(conn->srv->t->max_message - 4, &enc, &err);
  if (rc == 0)
    rc = svc->execute_task(svc->self, req, &ws, &err);
  dq_wire_execute_task_free(req);
  if (rc < 0) {
    dq_wire_frame_encoder_free(enc);
    origin(rc, &err, conn->srv->url);
    send_error(conn->fd, &err);
    return;
  }
  watch_arg wa = {svc, ws, conn->fd};
  pthread_t watcher;
  int watching = 0;
  if (send_msg(conn->fd, M_OK, NULL, 0) == 0)
    watching = pthread_create(&watcher, NULL, watch_main, &wa) == 0;
  while (watching) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    dq_error_clear(&err);
    rc = svc->stream_next(svc->self, ws, &f, &err);
    if (rc < 0) {
      send_error(conn->fd, &err);
      break;
    }
    int kind = (int)f.kind;
    rc = dq_wire_frame_encode(enc, &f, send_piece, &conn->fd, &err);
    if (rc < 0) {
      if (rc != DQ_EUNAVAILABLE) /* the peer is still there to be told */
        send_error(conn->fd, &err);
      break;
    }
    if (kind == DQ_FRAME_END)
      break;
  }
  dq_wire_frame_encoder_free(enc);
  /* SHUT_RDWR sends what is queued, then FIN, and wakes the watcher. */
  shutdown(conn->fd, SHUT_RDWR);
  if (watching)
    pthread_join(watcher, NULL);
  else
    svc->stream_cancel(svc->self, ws);
  svc->stream_close(svc->self, ws);
}

static void serve_coord(tcp_conn *conn, const uint8_t *p, uint32_t len) {
  const dq_worker_service *svc = conn->srv->svc;
  dq_set_plan *sp = NULL;
  dq_ws_task *task = NULL;
  dq_error err;
  dq_error_clear(&err);
  int rc = dq_wire_decode_set_plan(p, len, &sp, &err);
  if (rc == 0)
    rc = svc->coord_open(svc->self, sp, &task, &err);
  dq_wire_set_plan_free(sp);
  if (rc < 0) {
    origin(rc, &err, conn->srv->url);
    send_error(conn->fd, &err);
    return;
  }
  if (send_msg(conn->fd, M_OK, NULL, 0) < 0) {
    svc->coord_close(svc->self, task);
    return;
  }
  /* The channel's life: requests until end-of-file, which frees the task. */
  for (;;) {
    uint32_t type;
    uint8_t *q = NULL;
    uint32_t qlen;
    dq_error_clear(&err);
    if (recv_msg(conn->fd, conn->srv->t->max_message, &type, &q, &qlen, &err,
                 "(client)") < 0)
      break;
    int ok = 0;
    if (type == M_WORK_UNIT) {
      if (svc->coord_send_work_unit(svc->self, task, q, qlen, &err) < 0)
        ok = send_error(conn->fd, &err) == 0;
      else
        ok = send_msg(conn->fd, M_OK, NULL, 0) == 0;
    } else if (type == M_FINISH) {
      dq_task_metrics m;
      if (svc->coord_finish(svc->self, task, &m, &err) < 0) {
        ok = send_error(conn->fd, &err) == 0;
      } else {
        void *buf;
        size_t n;
        if (dq_wire_encode_task_metrics(&m, &buf, &n, &err) < 0)
          ok = send_error(conn->fd, &err) == 0;
        else
          ok = send_wire(conn->fd, M_METRICS, buf, n) == 0;
      }
    }
    free(q);
    if (!ok)
      break; /* an unknown request or a lost peer ends the channel */
  }
  svc->coord_close(svc->self, task);
}

static void serve_info(tcp_conn *conn) {
  const dq_worker_service *svc = conn->srv->svc;
  dq_worker_info info;
  dq_error err;
  dq_error_clear(&err);
  if (svc->get_worker_info(svc->self, &info, &err) < 0) {
    send_error(conn->fd, &err);
    return;
  }
  void *buf;
  size_t n;
  if (dq_wire_encode_worker_info(&info, &buf, &n, &err) == 0)
    send_wire(conn->fd, M_INFO_OK, buf, n);
}

static void *conn_main(void *arg) {
  tcp_conn *conn = arg;
  dq_server *srv = conn->srv;
  uint8_t magic[8];
  uint32_t type, len;
  uint8_t *p = NULL;
  dq_error err;
  if (recv_all(conn->fd, magic, 8) == 0 &&
      memcmp(magic, tcp_magic, 8) == 0 &&
      recv_msg(conn->fd, srv->t->max_message, &type, &p, &len, &err,
               "(client)") == 0) {
    if (type == M_INFO)
      serve_info(conn);
    else if (type == M_SETPLAN)
      serve_coord(conn, p, len);
    else if (type == M_EXECUTE)
      serve_stream(conn, p, len);
  }
  free(p);
  pthread_mutex_lock(&srv->lock);
  close(conn->fd);
  conn->fd = -1;
  conn->finished = 1;
  pthread_mutex_unlock(&srv->lock);
  wake_acceptor(srv);
  return NULL;
}

/* Joins and frees connections whose handler has returned. */
static void reap(dq_server *srv) {
  for (;;) {
    pthread_mutex_lock(&srv->lock);
    tcp_conn **pp = &srv->conns;
    while (*pp != NULL && !(*pp)->finished)
      pp = &(*pp)->next;
    tcp_conn *c = *pp;
    if (c != NULL)
      *pp = c->next;
    pthread_mutex_unlock(&srv->lock);
    if (c == NULL)
      return;
    pthread_join(c->thread, NULL);
    free(c);
  }
}

static void *accept_main(void *arg) {
  dq_server *srv = arg;
  for (;;) {
    struct pollfd p[2] = {{srv->listen_fd, POLLIN, 0}, {srv->wake[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      break;
    if (p[1].revents) {
      char buf[64];
      while (read(srv->wake[0], buf, sizeof buf) > 0)
        ;
    }
    reap(srv);
    pthread_mutex_lock(&srv->lock);
    int stopping = srv->stopping;
    pthread_mutex_unlock(&srv->lock);
    if (stopping)
      break;
    if (!(p[0].revents & POLLIN))
      continue;
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      continue; /* ECONNABORTED, EMFILE...: the next poll retries */
    set_nodelay(fd);
    tcp_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
      close(fd);
      continue;
    }
    c->srv = srv;
    c->fd = fd;
    pthread_mutex_lock(&srv->lock);
    if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
      pthread_mutex_unlock(&srv->lock);
      close(fd);
      free(c);
      continue;
    }
    c->next = srv->conns;
    srv->conns = c;
    pthread_mutex_unlock(&srv->lock);
  }
  return NULL;
}

static int tcp_serve(dq_transport *t, const char *listen_url,
                     const dq_worker_service *svc, dq_server **out,
                     dq_error *err) {
  char host[256], port[16];
  /* "tcp://" alone asks for a fresh address: a free port on loopback. */
  if (strcmp(listen_url, SCHEME) == 0)
    listen_url = SCHEME "127.0.0.1:0";
  int rc = parse_url(listen_url, host, sizeof host, port, sizeof port, err);
  if (rc < 0)
    return rc;
  if (svc == NULL || svc->size < sizeof(dq_worker_service))
    return dq_error_set(err, DQ_EINVAL, "tcp: worker service too old");
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int g = getaddrinfo(host, port, &hints, &ai);
  if (g != 0 || ai == NULL)
    return dq_error_set(err, DQ_EINVAL, "tcp: cannot resolve '%s': %s", host,
                        gai_strerror(g));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
      listen(fd, 128) < 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    freeaddrinfo(ai);
    return dq_error_set(err, DQ_EIO, "tcp: cannot listen at %s: %s",
                        listen_url, strerror(e));
  }
  freeaddrinfo(ai);
  /* Port 0 asked for an ephemeral port: report the one bound. */
  struct sockaddr_storage sa;
  socklen_t sl = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  unsigned bound = sa.ss_family == AF_INET6
                       ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                       : ntohs(((struct sockaddr_in *)&sa)->sin_port);
  dq_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL) {
    close(fd);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  srv->t = t;
  srv->svc = svc;
  srv->listen_fd = fd;
  snprintf(srv->url, sizeof srv->url,
           strchr(host, ':') ? SCHEME "[%s]:%u" : SCHEME "%s:%u", host, bound);
  pthread_mutex_init(&srv->lock, NULL);
  if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
    int e = errno;
    close(fd);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    return dq_error_set(err, DQ_EIO, "tcp: pipe: %s", strerror(e));
  }
  if (pthread_create(&srv->acceptor, NULL, accept_main, srv) != 0) {
    close(fd);
    close(srv->wake[0]);
    close(srv->wake[1]);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    return dq_error_set(err, DQ_EIO, "tcp: cannot start the accept thread");
  }
  *out = srv;
  return 0;
}

static const char *tcp_server_url(const dq_server *srv) { return srv->url; }

static void tcp_stop(dq_server *srv) {
  if (srv == NULL)
    return;
  pthread_mutex_lock(&srv->lock);
  srv->stopping = 1;
  pthread_mutex_unlock(&srv->lock);
  wake_acceptor(srv);
  pthread_join(srv->acceptor, NULL);
  close(srv->listen_fd);
  /* Every handler blocked in recv() wakes with end-of-file: coordinator
   * channels close their tasks, stream watchers cancel their streams.  A
   * handler inside the service's execute_task (waiting for a plan) returns
   * within plan_wait_ms and finds its socket shut. */
  pthread_mutex_lock(&srv->lock);
  for (tcp_conn *c = srv->conns; c != NULL; c = c->next)
    if (c->fd >= 0)
      shutdown(c->fd, SHUT_RDWR);
  tcp_conn *c = srv->conns;
  srv->conns = NULL;
  pthread_mutex_unlock(&srv->lock);
  while (c != NULL) {
    tcp_conn *next = c->next;
    pthread_join(c->thread, NULL);
    free(c);
    c = next;
  }
  close(srv->wake[0]);
  close(srv->wake[1]);
  pthread_mutex_destroy(&srv->lock);
  free(srv);
}

static const dq_transport_ops tcp_ops = {
    .size = sizeof(dq_transport_ops),
    .init = tcp_init,
    .fini = tcp_fini,
    .channel_open = tcp_channel_open,
    .channel_close = tcp_channel_close,
    .get_worker_info = tcp_get_worker_info,
    .coord_open = tcp_coord_open,
    .coord_send_work_unit = tcp_coord_send_work_unit,
    .coord_finish = tcp_coord_finish,
    .coord_close = tcp_coord_close,
    .execute_task = tcp_execute_task,
    .stream_next = tcp_stream_next,
    .stream_cancel = tcp_stream_cancel,
    .stream_close = tcp_stream_close,
    .serve = tcp_serve,
    .server_url = tcp_server_url,
    .stop = tcp_stop,
};

DQ_TRANSPORT_PLUGIN(tcp, TCP_VERSION,
                    "example: TCP sockets, one connection per call, Arrow IPC "
                    "frames",
                    &tcp_ops)
