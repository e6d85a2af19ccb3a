/* tcp.c — an out-of-tree dq transport over plain TCP sockets, built against
 * an installed dq with nothing but <dq/transport.h>, <dq/ipc.h> and
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
 *  - Batches travel as Arrow IPC encapsulated messages (libdq's codec):
 *    sent straight from the batch's buffers with sendmsg, received into a
 *    64-byte aligned block that the decoded batch points into (no copy).
 *  - Server: one acceptor thread, one thread per connection, plus a watcher
 *    per stream.  Every thread is joined before stop() returns, because the
 *    plugin may be unloaded right after.
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

#define SCHEME "tcp://"
#define TCP_VERSION "0.1.0"
/* First 8 bytes a client sends on every connection: a peer that is not a
 * dq tcp transport (or a future incompatible one) is refused at once. */
static const uint8_t tcp_magic[8] = {'D', 'Q', 'T', 'C', 'P', 0, 0, 1};

/* Message types.  Requests open a connection; replies and frames answer. */
enum {
  M_INFO = 1,      /* -> M_INFO_OK | M_ERROR */
  M_SETPLAN = 2,   /* -> M_OK | M_ERROR; the connection is the channel */
  M_WORK_UNIT = 3, /* -> M_OK | M_ERROR */
  M_FINISH = 4,    /* -> M_METRICS | M_ERROR */
  M_EXECUTE = 5,   /* -> M_OK | M_ERROR, then frames */
  M_OK = 16,
  M_ERROR = 17,
  M_INFO_OK = 18,
  M_METRICS = 19,
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
  dq_task_metrics metrics;
  dq_boundary_metrics *boundaries;
};

struct dq_stream {
  int fd;
  uint32_t max_message;
  char url[256];
  atomic_bool cancelled;
  int state; /* 0 streaming, 1 ended (END seen), 2 failed */
  dq_error error;
  dq_schema *schema; /* from the SCHEMA frame, to decode batches against */
};

/* --- byte buffers (encoding) -------------------------------------------- */

typedef struct wbuf {
  uint8_t *p;
  size_t n, cap;
  int oom;
} wbuf;

static void wb_put(wbuf *b, const void *data, size_t len) {
  if (b->oom)
    return;
  if (b->n + len > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + len)
      cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, len);
  b->n += len;
}

static void wb_u32(wbuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  wb_put(b, x, 4);
}

static void wb_u64(wbuf *b, uint64_t v) {
  wb_u32(b, (uint32_t)v);
  wb_u32(b, (uint32_t)(v >> 32));
}

static void wb_bytes(wbuf *b, const void *data, size_t len) {
  wb_u32(b, (uint32_t)len);
  wb_put(b, data, len);
}

static void wb_str(wbuf *b, const char *s) {
  wb_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

static void wb_key(wbuf *b, const dq_task_key *k) {
  wb_put(b, k->query_id, 16);
  wb_u32(b, k->stage_id);
  wb_u32(b, k->task_number);
}

/* --- byte readers (decoding: every length is checked) ------------------- */

typedef struct rbuf {
  const uint8_t *p;
  size_t n, off;
  int bad;
} rbuf;

static const uint8_t *rb_take(rbuf *b, size_t len) {
  if (b->bad || len > b->n - b->off) {
    b->bad = 1;
    return NULL;
  }
  const uint8_t *p = b->p + b->off;
  b->off += len;
  return p;
}

static uint32_t rb_u32(rbuf *b) {
  const uint8_t *x = rb_take(b, 4);
  return x ? (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 |
                 (uint32_t)x[3] << 24
           : 0;
}

static uint64_t rb_u64(rbuf *b) {
  uint64_t lo = rb_u32(b);
  return lo | (uint64_t)rb_u32(b) << 32;
}

static const uint8_t *rb_bytes(rbuf *b, size_t *len) {
  *len = rb_u32(b);
  return rb_take(b, *len);
}

/* A string into a NUL-terminated heap copy (NULL when malformed). */
static char *rb_str(rbuf *b) {
  size_t len;
  const uint8_t *s = rb_bytes(b, &len);
  if (s == NULL || memchr(s, '\0', len) != NULL) {
    b->bad = 1;
    return NULL;
  }
  char *c = malloc(len + 1);
  if (c == NULL) {
    b->bad = 1;
    return NULL;
  }
  memcpy(c, s, len);
  c[len] = '\0';
  return c;
}

static void rb_key(rbuf *b, dq_task_key *k) {
  const uint8_t *q = rb_take(b, 16);
  if (q)
    memcpy(k->query_id, q, 16);
  k->stage_id = rb_u32(b);
  k->task_number = rb_u32(b);
}

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

static int send_error(int fd, const dq_error *e) {
  wbuf b = {0};
  wb_u32(&b, (uint32_t)e->code);
  wb_u32(&b, (uint32_t)(e->has_task != 0));
  wb_key(&b, &e->task);
  wb_str(&b, e->worker_url);
  wb_str(&b, e->message);
  int rc = b.oom ? -1 : send_msg(fd, M_ERROR, b.p, b.n);
  free(b.p);
  return rc;
}

/* Decodes an M_ERROR payload into err as the worker sent it.  Returns the
 * (negative) code. */
static int decode_error(const uint8_t *p, size_t n, dq_error *err,
                        const char *url) {
  rbuf b = {p, n, 0, 0};
  dq_task_key task;
  int32_t code = (int32_t)rb_u32(&b);
  int has_task = rb_u32(&b) != 0;
  rb_key(&b, &task);
  char *wurl = rb_str(&b), *msg = rb_str(&b);
  if (b.bad || code >= 0) {
    free(wurl);
    free(msg);
    dq_error_set(err, DQ_EPROTO, "tcp: worker %s sent a malformed error",
                 url);
    dq_error_set_origin(err, url, NULL);
    return DQ_EPROTO;
  }
  /* dq_error_set clears the origin: set it back after the message. */
  dq_error e;
  dq_error_set(&e, code, "%s", msg[0] ? msg : dq_strerror(code));
  snprintf(e.worker_url, sizeof e.worker_url, "%s", wurl[0] ? wurl : url);
  e.has_task = has_task;
  if (has_task)
    e.task = task;
  free(wurl);
  free(msg);
  if (err != NULL)
    *err = e;
  return code;
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
  if (rc < 0)
    return rc;
  rbuf b = {p, len, 0, 0};
  memset(out, 0, sizeof *out);
  char *version = rb_str(&b);
  out->protocol_version = rb_u32(&b);
  char *url = rb_str(&b);
  if (!b.bad) {
    snprintf(out->version, sizeof out->version, "%s", version);
    snprintf(out->url, sizeof out->url, "%s", url);
  }
  free(version);
  free(url);
  free(p);
  if (b.bad)
    return origin(dq_error_set(err, DQ_EPROTO,
                               "tcp: malformed worker info from %s", ch->url),
                  err, ch->url);
  return 0;
}

static int tcp_coord_open(dq_channel *ch, const dq_set_plan *plan,
                          dq_coord **out, dq_error *err) {
  wbuf b = {0};
  wb_key(&b, &plan->key);
  wb_u32(&b, plan->task_count);
  wb_bytes(&b, plan->plan, plan->plan_len);
  wb_str(&b, plan->target_worker_url);
  wb_u32(&b, (uint32_t)plan->n_config);
  for (size_t i = 0; i < plan->n_config; i++) {
    wb_str(&b, plan->config[i].key);
    wb_str(&b, plan->config[i].value);
  }
  if (b.oom || b.n > ch->t->max_message) {
    free(b.p);
    return b.oom ? dq_error_set(err, DQ_ENOMEM, "out of memory")
                 : dq_error_set(err, DQ_ETOOBIG,
                                "tcp: the task plan (%zu bytes) exceeds "
                                "max_message_size",
                                b.n);
  }
  dq_coord *c = calloc(1, sizeof *c);
  if (c == NULL) {
    free(b.p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  int fd = connect_worker(ch, err);
  if (fd < 0) {
    free(b.p);
    free(c);
    return fd;
  }
  uint8_t *p = NULL;
  uint32_t len;
  int rc = send_msg(fd, M_SETPLAN, b.p, b.n) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     ch->url),
                        err, ch->url)
               : await_reply(fd, ch->t->max_message, M_OK, &p, &len, err,
                             ch->url);
  free(b.p);
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
  rbuf b = {p, len, 0, 0};
  dq_task_metrics m;
  memset(&m, 0, sizeof m);
  rb_key(&b, &m.key);
  m.plan_bytes = rb_u64(&b);
  m.queued_ns = rb_u64(&b);
  m.run_ns = rb_u64(&b);
  m.rows_out = rb_u64(&b);
  m.batches_out = rb_u64(&b);
  m.bytes_out = rb_u64(&b);
  uint32_t nb = rb_u32(&b);
  /* Each boundary is 48 bytes: a count the payload cannot hold is a lie. */
  if (b.bad || nb > (len - b.off) / 48) {
    free(p);
    return origin(dq_error_set(err, DQ_EPROTO,
                               "tcp: malformed task metrics from %s", c->url),
                  err, c->url);
  }
  dq_boundary_metrics *bm = calloc(nb ? nb : 1, sizeof *bm);
  if (bm == NULL) {
    free(p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < nb; i++) {
    bm[i].producer_stage_id = rb_u32(&b);
    bm[i].kind = rb_u32(&b);
    bm[i].bytes = rb_u64(&b);
    bm[i].batches = rb_u64(&b);
    bm[i].rows = rb_u64(&b);
    bm[i].latency_ns = rb_u64(&b);
    bm[i].buffered_peak = rb_u64(&b);
  }
  free(p);
  /* Valid until coord_close: the previous answer's array goes now. */
  free(c->boundaries);
  c->boundaries = bm;
  m.n_boundaries = nb;
  m.boundaries = bm;
  c->metrics = m;
  *out = m;
  return 0;
}

static void tcp_coord_close(dq_coord *c) {
  if (c == NULL)
    return;
  /* close() never waits for the worker; the end-of-file it delivers is
   * what makes the worker free the task. */
  close(c->fd);
  free(c->boundaries);
  free(c);
}

static int tcp_execute_task(dq_channel *ch, const dq_execute_task *req,
                            dq_stream **out, dq_error *err) {
  wbuf b = {0};
  wb_key(&b, &req->key);
  wb_u32(&b, req->partition_start);
  wb_u32(&b, req->partition_end);
  wb_bytes(&b, req->producer_head, req->producer_head_len);
  if (b.oom) {
    free(b.p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  dq_stream *s = calloc(1, sizeof *s);
  if (s == NULL) {
    free(b.p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  int fd = connect_worker(ch, err);
  if (fd < 0) {
    free(b.p);
    free(s);
    return fd;
  }
  uint8_t *p = NULL;
  uint32_t len;
  int rc = send_msg(fd, M_EXECUTE, b.p, b.n) < 0
               ? origin(dq_error_set(err, DQ_EUNAVAILABLE,
                                     "tcp: connection to worker %s lost",
                                     ch->url),
                        err, ch->url)
               : await_reply(fd, ch->t->max_message, M_OK, &p, &len, err,
                             ch->url);
  free(b.p);
  free(p);
  if (rc < 0) {
    close(fd);
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

/* Reads one frame off the stream's socket into out. */
static int read_frame(dq_stream *s, dq_frame *out, dq_error *err) {
  uint32_t type, len;
  if (recv_header(s->fd, &type, &len) < 0)
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "tcp: connection to worker %s lost mid-stream",
                        s->url);
  if (len > s->max_message)
    return dq_error_set(err, DQ_ETOOBIG,
                        "tcp: worker %s sent a %u-byte frame; the limit is %u "
                        "([transport.tcp] max_message_size)",
                        s->url, len, s->max_message);
  if (type == M_F_BATCH) {
    uint8_t pb[4];
    if (len < 4 || s->schema == NULL)
      return dq_error_set(err, DQ_EPROTO,
                          "tcp: worker %s sent a batch %s", s->url,
                          len < 4 ? "frame too short" : "before the schema");
    if (recv_all(s->fd, pb, 4) < 0)
      return dq_error_set(err, DQ_EUNAVAILABLE,
                          "tcp: connection to worker %s lost mid-stream",
                          s->url);
    size_t n = len - 4;
    /* 64-byte aligned and padded, so the decoded batch reads in place. */
    void *block = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (block == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    if (recv_all(s->fd, block, n) < 0) {
      free(block);
      return dq_error_set(err, DQ_EUNAVAILABLE,
                          "tcp: connection to worker %s lost mid-stream",
                          s->url);
    }
    dq_batch *batch = NULL;
    int rc = dq_ipc_decode_batch(s->schema, block, n, release_block, block,
                                 &batch, err);
    if (rc < 0)
      return rc;
    rc = dq_batch_export(batch, &out->array, err);
    dq_batch_unref(batch);
    if (rc < 0)
      return rc;
    out->kind = DQ_FRAME_BATCH;
    out->partition = (uint32_t)pb[0] | (uint32_t)pb[1] << 8 |
                     (uint32_t)pb[2] << 16 | (uint32_t)pb[3] << 24;
    return 0;
  }
  uint8_t *p = malloc(len ? len : 1);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (recv_all(s->fd, p, len) < 0) {
    free(p);
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "tcp: connection to worker %s lost mid-stream",
                        s->url);
  }
  int rc = 0;
  rbuf b = {p, len, 0, 0};
  switch (type) {
  case M_F_SCHEMA: {
    dq_schema *schema = NULL;
    if (s->schema != NULL) {
      rc = dq_error_set(err, DQ_EPROTO, "tcp: worker %s sent a second schema",
                        s->url);
      break;
    }
    rc = dq_ipc_decode_schema(p, len, &schema, err);
    if (rc == 0)
      rc = dq_schema_export(schema, &out->schema, err);
    if (rc == 0) {
      out->kind = DQ_FRAME_SCHEMA;
      s->schema = schema;
    } else {
      dq_schema_unref(schema);
    }
    break;
  }
  case M_F_EOS:
    out->kind = DQ_FRAME_EOS;
    out->partition = rb_u32(&b);
    if (b.bad)
      rc = dq_error_set(err, DQ_EPROTO, "tcp: malformed EOS frame from %s",
                        s->url);
    break;
  case M_F_END:
    out->kind = DQ_FRAME_END;
    break;
  case M_ERROR:
    rc = decode_error(p, len, err, s->url);
    break;
  default:
    rc = dq_error_set(err, DQ_EPROTO,
                      "tcp: worker %s sent message type %u in a stream",
                      s->url, type);
  }
  free(p);
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
  dq_schema_unref(s->schema);
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

/* Frames of one stream, encoded with libdq's IPC codec and sent. */
typedef struct stream_sender {
  int fd;
  dq_schema *schema;
} stream_sender;

static int send_frame(stream_sender *ss, dq_frame *f, dq_error *err) {
  uint8_t h[12];
  switch (f->kind) {
  case DQ_FRAME_SCHEMA: {
    dq_schema *schema = NULL;
    void *flat = NULL;
    size_t len = 0;
    int rc = dq_schema_import(&f->schema, &schema, err);
    f->schema.release(&f->schema);
    if (rc == 0)
      rc = dq_ipc_encode_schema_flat(schema, &flat, &len, err);
    if (rc < 0) {
      dq_schema_unref(schema);
      return rc;
    }
    dq_schema_unref(ss->schema);
    ss->schema = schema;
    rc = send_msg(ss->fd, M_F_SCHEMA, flat, len);
    free(flat);
    return rc < 0 ? DQ_EUNAVAILABLE : 0;
  }
  case DQ_FRAME_BATCH: {
    if (ss->schema == NULL) {
      f->array.release(&f->array);
      return dq_error_set(err, DQ_EPROTO, "a batch came before the schema");
    }
    dq_batch *b = NULL;
    dq_ipc_message *m = NULL;
    int rc = dq_batch_import(&f->array, ss->schema, &b, err);
    if (rc == 0)
      rc = dq_ipc_encode_batch(b, &m, err);
    dq_batch_unref(b);
    if (rc < 0)
      return rc;
    size_t n_slices;
    const dq_ipc_slice *sl = dq_ipc_message_slices(m, &n_slices);
    size_t total = dq_ipc_message_size(m);
    if (total + 4 > UINT32_MAX) {
      dq_ipc_message_unref(m);
      return dq_error_set(err, DQ_ETOOBIG,
                          "tcp: a %zu-byte batch does not fit a frame", total);
    }
    struct iovec *iov = calloc(n_slices + 1, sizeof *iov);
    if (iov == NULL) {
      dq_ipc_message_unref(m);
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    }
    put_header(h, M_F_BATCH, (uint32_t)(total + 4));
    for (int i = 0; i < 4; i++)
      h[8 + i] = (uint8_t)(f->partition >> (8 * i));
    iov[0].iov_base = h;
    iov[0].iov_len = 12;
    for (size_t i = 0; i < n_slices; i++) {
      iov[i + 1].iov_base = (void *)sl[i].data;
      iov[i + 1].iov_len = sl[i].len;
    }
    /* Straight from the batch's buffers: the message holds them. */
    rc = send_iov(ss->fd, iov, n_slices + 1);
    free(iov);
    dq_ipc_message_unref(m);
    return rc < 0 ? DQ_EUNAVAILABLE : 0;
  }
  case DQ_FRAME_EOS: {
    uint8_t p[4];
    for (int i = 0; i < 4; i++)
      p[i] = (uint8_t)(f->partition >> (8 * i));
    return send_msg(ss->fd, M_F_EOS, p, 4) < 0 ? DQ_EUNAVAILABLE : 0;
  }
  case DQ_FRAME_END:
    return send_msg(ss->fd, M_F_END, NULL, 0) < 0 ? DQ_EUNAVAILABLE : 0;
  default:
    return dq_error_set(err, DQ_EINTERNAL, "frame of unknown kind %u",
                        f->kind);
  }
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
  rbuf b = {p, len, 0, 0};
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  rb_key(&b, &req.key);
  req.partition_start = rb_u32(&b);
  req.partition_end = rb_u32(&b);
  req.producer_head = rb_bytes(&b, &req.producer_head_len);
  dq_error err;
  dq_error_clear(&err);
  if (b.bad || b.off != len) {
    dq_error_set(&err, DQ_EPROTO, "tcp: malformed ExecuteTask request");
    dq_error_set_origin(&err, conn->srv->url, NULL);
    send_error(conn->fd, &err);
    return;
  }
  dq_ws_stream *ws = NULL;
  if (svc->execute_task(svc->self, &req, &ws, &err) < 0) {
    send_error(conn->fd, &err);
    return;
  }
  watch_arg wa = {svc, ws, conn->fd};
  pthread_t watcher;
  int watching = 0;
  if (send_msg(conn->fd, M_OK, NULL, 0) == 0)
    watching = pthread_create(&watcher, NULL, watch_main, &wa) == 0;
  stream_sender ss = {conn->fd, NULL};
  while (watching) {
    dq_frame f;
    memset(&f, 0, sizeof f);
    dq_error_clear(&err);
    int rc = svc->stream_next(svc->self, ws, &f, &err);
    if (rc < 0) {
      send_error(conn->fd, &err);
      break;
    }
    int kind = (int)f.kind;
    rc = send_frame(&ss, &f, &err);
    if (rc < 0) {
      if (rc != DQ_EUNAVAILABLE) /* the peer is still there to be told */
        send_error(conn->fd, &err);
      break;
    }
    if (kind == DQ_FRAME_END)
      break;
  }
  dq_schema_unref(ss.schema);
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
  rbuf b = {p, len, 0, 0};
  dq_set_plan sp;
  memset(&sp, 0, sizeof sp);
  rb_key(&b, &sp.key);
  sp.task_count = rb_u32(&b);
  sp.plan = rb_bytes(&b, &sp.plan_len);
  char *target = rb_str(&b);
  uint32_t n_config = rb_u32(&b);
  dq_kv *config = NULL;
  /* Each pair takes at least 8 bytes: refuse counts the payload lacks. */
  if (!b.bad && n_config <= (len - b.off) / 8)
    config = calloc(n_config ? n_config : 1, sizeof *config);
  for (uint32_t i = 0; config != NULL && i < n_config && !b.bad; i++) {
    config[i].key = rb_str(&b);
    config[i].value = rb_str(&b);
  }
  dq_error err;
  dq_error_clear(&err);
  dq_ws_task *task = NULL;
  if (b.bad || config == NULL || b.off != len) {
    dq_error_set(&err, DQ_EPROTO, "tcp: malformed SetPlan request");
    dq_error_set_origin(&err, conn->srv->url, &sp.key);
    send_error(conn->fd, &err);
  } else {
    sp.target_worker_url = target;
    sp.config = config;
    sp.n_config = n_config;
    if (svc->coord_open(svc->self, &sp, &task, &err) < 0) {
      send_error(conn->fd, &err);
      task = NULL;
    } else if (send_msg(conn->fd, M_OK, NULL, 0) < 0) {
      svc->coord_close(svc->self, task);
      task = NULL;
    }
  }
  for (uint32_t i = 0; config != NULL && i < n_config; i++) {
    free((char *)config[i].key);
    free((char *)config[i].value);
  }
  free(config);
  free(target);
  /* The channel's life: requests until end-of-file, which frees the task. */
  while (task != NULL) {
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
        wbuf w = {0};
        wb_key(&w, &m.key);
        wb_u64(&w, m.plan_bytes);
        wb_u64(&w, m.queued_ns);
        wb_u64(&w, m.run_ns);
        wb_u64(&w, m.rows_out);
        wb_u64(&w, m.batches_out);
        wb_u64(&w, m.bytes_out);
        wb_u32(&w, (uint32_t)m.n_boundaries);
        for (size_t i = 0; i < m.n_boundaries; i++) {
          const dq_boundary_metrics *bm = &m.boundaries[i];
          wb_u32(&w, bm->producer_stage_id);
          wb_u32(&w, bm->kind);
          wb_u64(&w, bm->bytes);
          wb_u64(&w, bm->batches);
          wb_u64(&w, bm->rows);
          wb_u64(&w, bm->latency_ns);
          wb_u64(&w, bm->buffered_peak);
        }
        ok = !w.oom && send_msg(conn->fd, M_METRICS, w.p, w.n) == 0;
        free(w.p);
      }
    }
    free(q);
    if (!ok)
      break; /* an unknown request or a lost peer ends the channel */
  }
  if (task != NULL)
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
  wbuf w = {0};
  wb_str(&w, info.version);
  wb_u32(&w, info.protocol_version);
  wb_str(&w, info.url);
  if (!w.oom)
    send_msg(conn->fd, M_INFO_OK, w.p, w.n);
  free(w.p);
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
