/* shm_wire.c — framed messages with file descriptors over Unix sockets,
 * errors as messages (in <dq/wire.h>'s encoding), and the peer-credential
 * check.  Every length read from the socket is checked
 * before it is used: the peer may be any process of an allowed uid. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "shm.h"
#include "shm_internal.h"

#include <dq/wire.h>

typedef struct frame_hdr {
  uint32_t len;
  uint8_t type;
  uint8_t pad[3];
} frame_hdr;

int shm_send(int sock, uint8_t type, const void *data, size_t len,
             const int *fds, int n_fds, dq_error *err) {
  if (len > SHM_MAX_MSG)
    return dq_error_set(err, DQ_ETOOBIG,
                        "a %zu-byte control message is larger than the "
                        "%u-byte limit",
                        len, SHM_MAX_MSG);
  frame_hdr h = {(uint32_t)len, type, {0, 0, 0}};
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, len}};
  union {
    char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = len ? 2 : 1;
  if (n_fds > 0) {
    memset(&ctl, 0, sizeof ctl);
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n_fds);
  }
  size_t total = sizeof h + len, sent = 0;
  while (sent < total) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return dq_error_set(err, DQ_EUNAVAILABLE,
                          "the peer closed the connection (%s)",
                          strerror(errno));
    }
    sent += (size_t)n;
    /* Only the first sendmsg carries the fds; continue with plain bytes. */
    msg.msg_control = NULL;
    msg.msg_controllen = 0;
    size_t skip = (size_t)n;
    while (msg.msg_iovlen > 0 && skip >= msg.msg_iov[0].iov_len) {
      skip -= msg.msg_iov[0].iov_len;
      msg.msg_iov++;
      msg.msg_iovlen--;
    }
    if (msg.msg_iovlen > 0) {
      msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + skip;
      msg.msg_iov[0].iov_len -= skip;
    }
  }
  return 0;
}

int shm_send_nowait(int sock, uint8_t type) {
  frame_hdr h = {0, type, {0, 0, 0}};
  ssize_t n;
  do
    n = send(sock, &h, sizeof h, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof h ? 0 : -1;
}

static int read_full(int sock, void *buf, size_t len, dq_error *err) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = recv(sock, (char *)buf + got, len - got, 0);
    if (n == 0)
      return dq_error_set(err, DQ_EUNAVAILABLE,
                          "the peer closed the connection mid-message");
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return dq_error_set(err, DQ_EUNAVAILABLE, "reading from the peer: %s",
                          strerror(errno));
    }
    got += (size_t)n;
  }
  return 0;
}

int shm_recv(int sock, uint8_t *type, void **data, size_t *len, int *fds,
             int *n_fds, dq_error *err) {
  *data = NULL;
  *len = 0;
  if (n_fds)
    *n_fds = 0;
  frame_hdr h;
  union {
    char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {&h, sizeof h};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return dq_error_set(err, DQ_EUNAVAILABLE, "the peer closed the connection");
  if (n < 0)
    return dq_error_set(err, DQ_EUNAVAILABLE, "reading from the peer: %s",
                        strerror(errno));
  /* Take any fds first, so that an error below cannot leak them. */
  int got_fds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
       c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int tmp[SHM_MAX_FDS * 2];
      if (k > (int)(sizeof tmp / sizeof tmp[0]))
        k = (int)(sizeof tmp / sizeof tmp[0]);
      memcpy(tmp, CMSG_DATA(c), sizeof(int) * (size_t)k);
      for (int i = 0; i < k; i++) {
        if (fds != NULL && got_fds < SHM_MAX_FDS)
          fds[got_fds++] = tmp[i];
        else
          close(tmp[i]);
      }
    }
  if (n_fds)
    *n_fds = got_fds;
  int rc = 0;
  if ((msg.msg_flags & MSG_CTRUNC) != 0)
    rc = dq_error_set(err, DQ_EPROTO, "the peer sent too many descriptors");
  if (rc == 0 && (size_t)n < sizeof h)
    rc = read_full(sock, (char *)&h + n, sizeof h - (size_t)n, err);
  if (rc == 0 && h.len > SHM_MAX_MSG)
    rc = dq_error_set(err, DQ_ETOOBIG,
                      "the peer sent a %u-byte message; the limit is %u",
                      h.len, SHM_MAX_MSG);
  if (rc == 0 && h.len > 0) {
    *data = malloc(h.len);
    if (*data == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    else
      rc = read_full(sock, *data, h.len, err);
  }
  if (rc < 0) {
    free(*data);
    *data = NULL;
    for (int i = 0; i < got_fds; i++)
      close(fds[i]);
    if (n_fds)
      *n_fds = 0;
    return rc;
  }
  *type = h.type;
  *len = h.len;
  return 0;
}

int shm_send_error(int sock, const dq_error *e) {
  void *buf;
  size_t len;
  int rc = dq_wire_encode_error(e, &buf, &len, NULL);
  if (rc < 0)
    return rc;
  rc = shm_send(sock, SHM_MSG_ERROR, buf, len, NULL, 0, NULL);
  dq_wire_free(buf);
  return rc;
}

int shm_error_from_msg(const void *data, size_t len, dq_error *err) {
  dq_error e;
  int rc = dq_wire_decode_error(data, len, &e, &e);
  if (err != NULL)
    *err = e;
  return rc < 0 ? rc : e.code;
}

int shm_check_peer(int sock, const uid_t *allowed, size_t n, dq_error *err) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return dq_error_set(err, DQ_EIO, "cannot read the peer's credentials: %s",
                        strerror(errno));
  if (cred.uid == getuid())
    return 0;
  for (size_t i = 0; i < n; i++)
    if (allowed[i] == cred.uid)
      return 0;
  return dq_error_set(err, DQ_EUNAVAILABLE,
                      "connection from uid %u (pid %d) refused: only uid %u "
                      "and the uids in [transport.shm] allow_uids may connect",
                      (unsigned)cred.uid, (int)cred.pid, (unsigned)getuid());
}
