/* shm.h — the shm transport's instance, server and URL handling, shared by
 * shm.c (ops, client side) and shm_server.c (server side). */
#ifndef DQ_SHM_H
#define DQ_SHM_H

#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "shm_internal.h"

typedef struct shm_transport {
  size_t ring_size;     /* data bytes of each stream's ring */
  char socket_dir[108]; /* "" = abstract namespace */
  uid_t allow_uids[16]; /* besides our own uid */
  size_t n_allow_uids;
  int deadline_ms;  /* a reply on a control connection; 0: wait forever */
  int keepalive_ms; /* a silent stream's peer is checked after; 0: never */
} shm_transport;

typedef struct shm_server shm_server;

/* Parses shm://NAME into name (empty allowed only when allow_empty). */
int shm_parse_url(const char *url, char *name, size_t len, int allow_empty,
                  dq_error *err);
int shm_address(const shm_transport *t, const char *name,
                struct sockaddr_un *addr, socklen_t *len, dq_error *err);
int shm_serve(shm_transport *t, const char *listen_url,
              const dq_worker_service *svc, shm_server **out, dq_error *err);
const char *shm_server_url(const shm_server *srv);
void shm_stop(shm_server *srv);

/* Encodes a dq_error as dq.v1.Error bytes (malloc'd). */
int shm_encode_error(const dq_error *e, uint8_t **buf, size_t *len);

#endif /* DQ_SHM_H */
