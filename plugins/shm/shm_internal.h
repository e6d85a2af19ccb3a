/* shm_internal.h — the pieces of the shm transport and how they meet.
 *
 * Control travels over Unix stream sockets.  A connection carries one call
 * at a time (a coordinator channel, an ExecuteTask stream, a
 * GetWorkerInfo) and, between calls, sits idle in its channel's pool to be
 * reused; a coordinator channel ends with CLOSE (or the connection's end),
 * a stream ends its connection.  Closing a connection is therefore always
 * the cancel, and a dead peer is an EOF.  Messages are framed [u32 length][u8 type][3 pad] +
 * protobuf bytes (proto/worker.proto, encoded and decoded by <dq/wire.h>),
 * with file descriptors passed as SCM_RIGHTS on the same sendmsg.
 *
 * Data of a stream travels through a ring in a memfd the server creates and
 * passes to the client (see shm_ring.c), so nothing is ever created under
 * /dev/shm and a crash leaves nothing behind.
 */
#ifndef DQ_SHM_INTERNAL_H
#define DQ_SHM_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <dq/dq.h>
#include <dq/transport.h>

/* --- wire ----------------------------------------------------------------- */

enum shm_msg_type {
  SHM_MSG_ERROR = 1,     /* S->C: dq.v1.Error */
  SHM_MSG_OK = 2,        /* S->C: empty */
  SHM_MSG_INFO_REQ = 3,  /* C->S: empty */
  SHM_MSG_INFO = 4,      /* S->C: dq.v1.WorkerInfo */
  SHM_MSG_SET_PLAN = 5,  /* C->S: dq.v1.SetPlan */
  SHM_MSG_WORK_UNIT = 6, /* C->S: dq.v1.WorkUnit */
  SHM_MSG_FINISH = 7,    /* C->S: empty */
  SHM_MSG_METRICS = 8,   /* S->C: dq.v1.TaskMetrics */
  SHM_MSG_EXECUTE = 9,   /* C->S: dq.v1.ExecuteTaskRequest */
  SHM_MSG_STREAM = 10,   /* S->C: empty + fds: ring memfd, data efd, space efd */
  SHM_MSG_CANCEL = 11,   /* C->S: empty */
  SHM_MSG_SEGMENT = 12,  /* S->C: empty + fd: a dedicated segment memfd */
  SHM_MSG_CLOSE = 13     /* C->S: the coordinator channel ends (the task is
                            freed); the connection goes back to idle */
};

/* Largest control message accepted (plans are the big ones). */
#define SHM_MAX_MSG (256u << 20)
#define SHM_MAX_FDS 4

/* Sends one message (and fds).  0 or a negative DQ_E* code. */
int shm_send(int sock, uint8_t type, const void *data, size_t len,
             const int *fds, int n_fds, dq_error *err);
/* Sends a message with no payload without ever blocking: 0, or -1 when
 * it could not be sent whole at once (the caller then hangs up). */
int shm_send_nowait(int sock, uint8_t type);
/* Receives one message: *data is malloc'd (free it), fds received are
 * stored in fds (at most SHM_MAX_FDS; *n_fds set).  DQ_EUNAVAILABLE on
 * EOF, DQ_EPROTO on a malformed frame, DQ_ETOOBIG over SHM_MAX_MSG. */
int shm_recv(int sock, uint8_t *type, void **data, size_t *len, int *fds,
             int *n_fds, dq_error *err);

/* Sends a dq_error as an SHM_MSG_ERROR. */
int shm_send_error(int sock, const dq_error *e);
/* Decodes an SHM_MSG_ERROR payload into err; returns its code (or
 * DQ_EPROTO for a malformed one). */
int shm_error_from_msg(const void *data, size_t len, dq_error *err);

/* --- the ring (shm_ring.c) ---------------------------------------------------*/

typedef struct shm_ring shm_ring;

/* Record kinds in the ring. */
enum shm_rec_kind {
  SHM_REC_SCHEMA = 1,  /* an Arrow IPC schema message */
  SHM_REC_BATCH = 2,   /* an Arrow IPC record batch message of `partition` */
  SHM_REC_EOS = 3,     /* `partition` ended */
  SHM_REC_END = 4,     /* the stream ended */
  SHM_REC_ERROR = 5,   /* a dq.v1.Error: the stream failed */
  SHM_REC_WRAP = 6,    /* skip to the start of the data area */
  SHM_REC_SEGMENT = 7  /* a batch in a dedicated segment: its fd follows
                          on the socket; payload: u64 size */
};

/* Producer side: creates the memfd and the two eventfds. */
int shm_ring_create(size_t data_size, shm_ring **out, int fds[3],
                    dq_error *err);
/* Consumer side: maps fds received (takes ownership of them). */
int shm_ring_attach(const int fds[3], shm_ring **out, dq_error *err);
shm_ring *shm_ring_ref(shm_ring *r);
void shm_ring_unref(shm_ring *r);

/* Producer: appends a record of `kind` whose payload is the concatenation
 * of the n (ptr, len) slices.  Waits for space while the consumer is busy
 * (backpressure), polling `sock` so a dead or cancelling consumer ends the
 * wait (DQ_ECANCELED / DQ_EUNAVAILABLE).  Returns DQ_ETOOBIG when the
 * record cannot be placed in the ring because it is larger than half of it,
 * or because the consumer holds the rest (it waits for data while the ring
 * is full): the caller then sends the record as a dedicated segment. */
typedef struct shm_slice {
  const void *p;
  size_t len;
} shm_slice;
int shm_ring_put(shm_ring *r, int sock, uint8_t kind, uint32_t partition,
                 const shm_slice *slices, size_t n, dq_error *err);

/* Consumer: the next record of the ring, without waiting: 0 and *out,
 * SHM_RING_EMPTY when there is none yet, or DQ_EPROTO for a malformed one.
 * The payload stays valid until shm_ring_release(r, out->hdr).  Records
 * carry the stream's sequence number: a record the producer had to send
 * through the socket instead (a segment) fills the gap in the sequence. */
#define SHM_RING_EMPTY 1
typedef struct shm_rec {
  uint8_t kind;
  uint32_t partition;
  uint64_t seq;
  const uint8_t *payload;
  size_t len;
  size_t capacity; /* payload bytes readable, padding included */
  void *hdr;       /* for release */
} shm_rec;
int shm_ring_get(shm_ring *r, shm_rec *out, dq_error *err);
/* Consumer: waits until the ring may have a record or the socket is
 * readable (a segment), spinning briefly first; DQ_EUNAVAILABLE when the
 * producer hung up with nothing left to read; SHM_WAIT_TIMEOUT when
 * timeout_ms (> 0) passed with nothing (-1: no timeout). */
#define SHM_WAIT_TIMEOUT 2
int shm_ring_wait(shm_ring *r, int sock, int timeout_ms, dq_error *err);
/* Producer: takes a sequence number for a record sent through the socket. */
uint64_t shm_ring_next_seq(shm_ring *r);
/* Gives a record's space back (any thread, any order). */
void shm_ring_release(shm_ring *r, void *hdr);
/* Marks the stream cancelled by the consumer and wakes both sides. */
void shm_ring_cancel(shm_ring *r);
int shm_ring_cancelled(shm_ring *r);
/* Wakes a consumer blocked in shm_ring_get (it then sees cancellation). */
void shm_ring_wake_consumer(shm_ring *r);

/* A record sent through the socket (SHM_MSG_SEGMENT): this header, then
 * the payload inline, or (has_fd) the payload in a memfd passed along. */
typedef struct shm_seg_hdr {
  uint64_t seq;
  uint64_t size; /* payload bytes */
  uint32_t partition;
  uint8_t kind;
  uint8_t has_fd;
  uint8_t pad[2];
} shm_seg_hdr;

/* A dedicated segment: a memfd holding one payload. */
int shm_segment_create(const shm_slice *slices, size_t n, int *fd,
                       size_t *size, dq_error *err);

/* --- peer checks ----------------------------------------------------------*/

/* The peer's uid must be ours or listed in allowed (n entries). */
int shm_check_peer(int sock, const uid_t *allowed, size_t n, dq_error *err);

#endif /* DQ_SHM_INTERNAL_H */
