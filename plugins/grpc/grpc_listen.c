/* grpc_listen.c — what grpc_s_serve checks before asking gRPC to listen:
 * whether the address is loopback only (a worker that serves beyond it
 * without a bearer token lets anyone on the network run plans, which read
 * files: refused unless [transport.grpc] allow_unauthenticated = true),
 * and, by binding a probe socket, the real reason an address cannot be
 * served (gRPC's own failure says only "0"), so the error names errno
 * instead of guessing. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc_internal.h"

static int is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
      return 1;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
      return in6->sin6_addr.s6_addr[12] == 127;
  }
  return 0;
}

int grpc_listen_check(const char *url, const char *target, int *loopback,
                      dq_error *err) {
  char host[256];
  const char *colon = strrchr(target, ':');
  size_t hl = (size_t)(colon - target);
  if (hl >= sizeof host)
    return dq_error_set(err, DQ_EINVAL, "'%s': the host is too long", url);
  memcpy(host, target, hl);
  host[hl] = '\0';
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = '\0';
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int g = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
  if (g != 0)
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "cannot listen at %s: host '%s': %s", url, host,
                        gai_strerror(g));
  *loopback = 1;
  int bind_errno = 0, bound = 0;
  for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
    if (!is_loopback(a->ai_addr))
      *loopback = 0;
    int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
                   a->ai_protocol);
    if (s < 0) {
      bind_errno = errno;
      continue;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, a->ai_addr, a->ai_addrlen) == 0)
      bound = 1;
    else
      bind_errno = errno;
    close(s);
  }
  freeaddrinfo(res);
  if (!bound && bind_errno != 0)
    return dq_error_set(err, DQ_EUNAVAILABLE, "cannot listen at %s: %s", url,
                        strerror(bind_errno));
  return 0;
}
