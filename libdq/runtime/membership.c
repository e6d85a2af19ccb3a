/* membership.c — which workers a query may use.
 *
 * A worker the coordinator lost (it died, hung up, or stopped answering
 * within the transport's deadline or keepalive) is avoided by every query
 * of this process for [executor] worker_avoid_ms: a query started right
 * after a loss should not spend its first attempt rediscovering it.  The
 * list is process-wide, not per context, because a dead worker is dead for
 * every context that names it.  It is small (one entry per worker lost
 * recently) and searched linearly; expired entries are reused.
 *
 * Discovery: `[workers] discover = dns:NAME:PORT` names every address of
 * NAME (the Kubernetes headless-service pattern: one A/AAAA record per
 * ready pod).  dq_workers_resolve asks getaddrinfo on every call, so a
 * replacement worker that appeared under the name is used by the next
 * query, and one that went away is not asked for.  The URL scheme is the
 * transport's name: dns discovery suits network transports (grpc).
 */
#include <config.h>

#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/runtime.h>

#include "base/clock.h"
#include "runtime/membership.h"

#define MAX_AVOIDED 256

typedef struct avoided {
  char url[256];
  uint64_t until_ns; /* 0: a free slot */
} avoided;

static pthread_mutex_t avoid_lock = PTHREAD_MUTEX_INITIALIZER;
static avoided avoid_list[MAX_AVOIDED];

void dq_membership_avoid(const char *url, int64_t ms) {
  if (url == NULL || url[0] == '\0' || ms <= 0)
    return;
  uint64_t now = dq_now_ns();
  uint64_t until = now + (uint64_t)ms * 1000000u;
  pthread_mutex_lock(&avoid_lock);
  avoided *slot = NULL, *oldest = &avoid_list[0];
  for (size_t i = 0; i < MAX_AVOIDED; i++) {
    avoided *a = &avoid_list[i];
    if (a->until_ns != 0 && strcmp(a->url, url) == 0) {
      slot = a;
      break;
    }
    if (slot == NULL && (a->until_ns == 0 || a->until_ns <= now))
      slot = a;
    if (a->until_ns < oldest->until_ns)
      oldest = a;
  }
  if (slot == NULL) /* full of live entries: the one expiring first goes */
    slot = oldest;
  snprintf(slot->url, sizeof slot->url, "%s", url);
  slot->until_ns = until;
  pthread_mutex_unlock(&avoid_lock);
}

int dq_membership_avoided(const char *url) {
  if (url == NULL)
    return 0;
  uint64_t now = dq_now_ns();
  int found = 0;
  pthread_mutex_lock(&avoid_lock);
  for (size_t i = 0; i < MAX_AVOIDED && !found; i++) {
    avoided *a = &avoid_list[i];
    if (a->until_ns > now && strcmp(a->url, url) == 0)
      found = 1;
  }
  pthread_mutex_unlock(&avoid_lock);
  return found;
}

/* --- discovery ------------------------------------------------------------*/

typedef struct url_list {
  char **v;
  size_t n, cap;
} url_list;

static int url_list_add(url_list *l, const char *url) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], url) == 0)
      return 0; /* once, however many entries name it */
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return DQ_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if ((l->v[l->n] = strdup(url)) == NULL)
    return DQ_ENOMEM;
  l->n++;
  return 0;
}

/* Appends a URL per address of dns:NAME:PORT; 0, or a getaddrinfo error
 * described in why. */
static int resolve_one(const char *scheme, const char *entry, url_list *l,
                       char *why, size_t why_len) {
  const char *name = entry + 4; /* after "dns:", checked by the config */
  const char *colon = strrchr(name, ':');
  char host[256];
  size_t hlen = (size_t)(colon - name);
  if (hlen >= sizeof host) {
    snprintf(why, why_len, "%s: the name is too long", entry);
    return DQ_EINVAL;
  }
  memcpy(host, name, hlen);
  host[hlen] = '\0';
  if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
    /* dns:[::1]:7000, written as in a URL */
    memmove(host, host + 1, hlen - 2);
    host[hlen - 2] = '\0';
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int g = getaddrinfo(host, colon + 1, &hints, &res);
  if (g != 0) {
    snprintf(why, why_len, "%s: %s", entry, gai_strerror(g));
    return DQ_EUNAVAILABLE;
  }
  int rc = 0;
  for (struct addrinfo *a = res; a != NULL && rc == 0; a = a->ai_next) {
    char addr[INET6_ADDRSTRLEN], url[320];
    if (a->ai_family == AF_INET) {
      const struct sockaddr_in *sin = (const void *)a->ai_addr;
      inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
      snprintf(url, sizeof url, "%s://%s:%s", scheme, addr, colon + 1);
    } else if (a->ai_family == AF_INET6) {
      const struct sockaddr_in6 *sin6 = (const void *)a->ai_addr;
      inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
      snprintf(url, sizeof url, "%s://[%s]:%s", scheme, addr, colon + 1);
    } else {
      continue;
    }
    rc = url_list_add(l, url);
  }
  freeaddrinfo(res);
  if (rc < 0)
    snprintf(why, why_len, "out of memory");
  return rc;
}

int dq_workers_resolve(dq_context *ctx, char ***urls, size_t *n,
                       dq_error *err) {
  *urls = NULL;
  *n = 0;
  if (ctx == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_workers_resolve: NULL context");
  const dq_config *cfg = dq_context_config(ctx);
  const char *scheme = dq_context_transport_name(ctx);
  url_list l = {0};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < dq_config_n_workers(cfg); i++)
    rc = url_list_add(&l, dq_config_worker(cfg, i));
  /* A name that resolves to nothing is only an error when no worker is
   * left at all: a headless service with no ready pod next to static
   * workers is a smaller cluster, not a broken one. */
  char why[512] = "", one[256];
  for (size_t i = 0; rc == 0 && i < dq_config_n_discover(cfg); i++) {
    int r = resolve_one(scheme, dq_config_discover(cfg, i), &l, one,
                        sizeof one);
    if (r == DQ_ENOMEM)
      rc = r;
    else if (r < 0)
      snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s",
               why[0] ? "; " : "", one);
  }
  if (rc == 0 && l.n == 0 && why[0] != '\0')
    rc = dq_error_set(err, DQ_EUNAVAILABLE,
                      "no worker found: [workers] lists no URL and "
                      "discovery found no address (%s)",
                      why);
  else if (rc < 0)
    dq_error_set(err, rc, "out of memory");
  if (rc < 0) {
    dq_workers_free(l.v, l.n);
    return rc;
  }
  *urls = l.v;
  *n = l.n;
  return 0;
}

void dq_workers_free(char **urls, size_t n) {
  for (size_t i = 0; urls != NULL && i < n; i++)
    free(urls[i]);
  free(urls);
}
