/* endpoint.c — see endpoint.h. */
#define _GNU_SOURCE
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host/endpoint.h"

/* SCHEME://HOST:PORT into its parts (HOST without IPv6 brackets). */
static int split(const char *url, char *scheme, size_t sl, char *host,
                 size_t hl, char *port, size_t pl) {
  const char *sep = strstr(url, "://");
  if (sep == NULL || (size_t)(sep - url) >= sl)
    return -1;
  memcpy(scheme, url, (size_t)(sep - url));
  scheme[sep - url] = '\0';
  const char *hp = sep + 3, *colon = strrchr(hp, ':');
  if (colon == NULL || colon == hp || colon[1] == '\0' ||
      strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
      strlen(colon + 1) >= pl)
    return -1;
  size_t n = (size_t)(colon - hp);
  if (n >= 2 && hp[0] == '[' && hp[n - 1] == ']')
    hp++, n -= 2;
  if (n >= hl)
    return -1;
  memcpy(host, hp, n);
  host[n] = '\0';
  snprintf(port, pl, "%s", colon + 1);
  return 0;
}

static int same_addr(const struct sockaddr *a, const struct sockaddr *b) {
  if (a->sa_family != b->sa_family)
    return 0;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  return 0;
}

static int is_wildcard(const struct sockaddr *a) {
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
  if (a->sa_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
  return 0;
}

static int is_loopback(const struct sockaddr *a) {
  if (a->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) ==
           127;
  if (a->sa_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
  return 0;
}

/* Whether a is an address of this host. */
static int is_local(const struct sockaddr *a) {
  if (is_loopback(a))
    return 1;
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) != 0)
    return 0;
  int found = 0;
  for (struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next)
    found = i->ifa_addr != NULL && same_addr(i->ifa_addr, a);
  freeifaddrs(ifs);
  return found;
}

int dq_endpoint_same(const char *own, const char *other) {
  char s1[32], s2[32], h1[256], h2[256], p1[8], p2[8];
  if (split(own, s1, sizeof s1, h1, sizeof h1, p1, sizeof p1) < 0 ||
      split(other, s2, sizeof s2, h2, sizeof h2, p2, sizeof p2) < 0 ||
      strcmp(s1, s2) != 0 || atoi(p1) != atoi(p2) || atoi(p1) == 0)
    return 0;
  struct addrinfo hints, *r1 = NULL, *r2 = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(h1, NULL, &hints, &r1) != 0)
    return 0;
  if (getaddrinfo(h2, NULL, &hints, &r2) != 0) {
    freeaddrinfo(r1);
    return 0;
  }
  int same = 0;
  for (struct addrinfo *a = r1; a != NULL && !same; a = a->ai_next)
    for (struct addrinfo *b = r2; b != NULL && !same; b = b->ai_next)
      same = is_wildcard(a->ai_addr) ? (a->ai_family == b->ai_family &&
                                        is_local(b->ai_addr))
                                     : same_addr(a->ai_addr, b->ai_addr);
  freeaddrinfo(r1);
  freeaddrinfo(r2);
  return same;
}
