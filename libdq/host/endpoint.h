/* endpoint.h — whether two worker URLs reach the same listening socket.
 * A worker reads a producer task on itself directly, without the
 * transport; comparing URL strings missed grpc://localhost:P against its
 * own grpc://127.0.0.1:P, and the worker dialled itself. */
#ifndef DQ_ENDPOINT_H
#define DQ_ENDPOINT_H

/* 1 when `other` names the socket `own` (a worker's URL) listens on: both
 * SCHEME://HOST:PORT with the same scheme and port, and other's host
 * resolving to an address own's host resolves to, or, when own listens on
 * every interface (0.0.0.0, [::]), to an address of this host.  0
 * otherwise, also for URLs without a port (compared as strings by the
 * caller) and for names that do not resolve. */
int dq_endpoint_same(const char *own, const char *other);

#endif /* DQ_ENDPOINT_H */
