/* grpc_internal.h — what the files of grpc.so share: the instance and its
 * settings (grpc_transport.c), the client (grpc_client.c) and server
 * (grpc_server.c) entry points, and the message helpers (grpc_frames.c)
 * that carry <dq/wire.h>'s encodings of worker.proto messages, dq errors
 * and Arrow IPC frames in gRPC byte buffers.  Nothing here is exported
 * from the module.
 */
#ifndef DQ_GRPC_INTERNAL_H
#define DQ_GRPC_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/transport.h>
#include <dq/wire.h>

#define GRPC_SCHEME "grpc://"
/* The shortest keepalive ping interval accepted ([transport.grpc]). */
#define GRPC_MIN_KEEPALIVE_MS 250

#define GRPC_M_COORD "/dq.v1.Worker/CoordinatorChannel"
#define GRPC_M_EXECUTE "/dq.v1.Worker/ExecuteTask"
#define GRPC_M_INFO "/dq.v1.Worker/GetWorkerInfo"

/* Trailing metadata of a failed call: a serialized dq.v1.Error. */
#define GRPC_ERROR_KEY "dq-error-bin"
/* Initial metadata the server sends once the call was accepted by the
 * worker service, so that the client can tell "started" from an error
 * answered with trailers only. */
#define GRPC_ACCEPT_KEY "dq-accepted"

/* Room for the PartitionFrame wrapper around an IPC message. */
#define GRPC_FRAME_OVERHEAD 32

typedef struct grpc_chan_entry grpc_chan_entry;

struct dq_transport {
  /* settings, fixed after init */
  int64_t max_message_size; /* bytes, both directions */
  int64_t deadline_ms;      /* unary calls and plan delivery */
  int64_t keepalive_ms;     /* 0: off */
  int cq_threads;
  long max_calls;           /* calls in progress at once per server */
  char *tls_cert, *tls_key; /* PEM contents (server) */
  char *tls_ca;             /* PEM contents (client) */
  char *token;              /* bearer token, or NULL */
  int allow_unauthenticated; /* serve beyond loopback without a token */

  pthread_mutex_t lock;
  grpc_chan_entry *channels; /* one grpc_channel per URL, kept until fini */
};

/* --- grpc_transport.c ---------------------------------------------------- */
/* Channel args for a client channel or a server. */
void grpc_tp_fill_args(const dq_transport *t, int server, grpc_arg *args,
                       size_t *n);
/* Whether this instance connects over TLS: tls_ca given, or tls_cert (a
 * TLS server talks TLS to its peers). */
static inline int grpc_tp_client_tls(const dq_transport *t) {
  return t->tls_ca != NULL || t->tls_cert != NULL;
}
/* "grpc://HOST:PORT" -> "HOST:PORT" in buf; DQ_EINVAL when malformed. */
int grpc_tp_target(const char *url, char *buf, size_t len, dq_error *err);

/* --- grpc_listen.c ------------------------------------------------------- */
/* Resolves target ("HOST:PORT" of url) for listening: *loopback = 1 when
 * every address it names is loopback; a host that does not resolve or an
 * address no socket can bind (in use, not ours, privileged) is
 * DQ_EUNAVAILABLE naming the real reason. */
int grpc_listen_check(const char *url, const char *target, int *loopback,
                      dq_error *err);

/* --- grpc_client.c ------------------------------------------------------- */
int grpc_c_channel_open(dq_transport *t, const char *url, dq_channel **out,
                        dq_error *err);
void grpc_c_channel_close(dq_channel *ch);
void grpc_c_close_all(dq_transport *t);
int grpc_c_get_worker_info(dq_channel *ch, dq_worker_info *out, dq_error *err);
int grpc_c_coord_open(dq_channel *ch, const dq_set_plan *plan, dq_coord **out,
                      dq_error *err);
int grpc_c_coord_send_work_unit(dq_coord *c, const void *data, size_t len,
                                dq_error *err);
int grpc_c_coord_finish(dq_coord *c, dq_task_metrics *out, dq_error *err);
void grpc_c_coord_close(dq_coord *c);
int grpc_c_execute_task(dq_channel *ch, const dq_execute_task *req,
                        dq_stream **out, dq_error *err);
int grpc_c_stream_next(dq_stream *s, dq_frame *out, dq_error *err);
void grpc_c_stream_cancel(dq_stream *s);
void grpc_c_stream_close(dq_stream *s);

/* --- grpc_server.c ------------------------------------------------------- */
int grpc_s_serve(dq_transport *t, const char *listen_url,
                 const dq_worker_service *svc, dq_server **out, dq_error *err);
const char *grpc_s_server_url(const dq_server *srv);
void grpc_s_stop(dq_server *srv);

/* --- grpc_frames.c ------------------------------------------------------- */
/* A byte buffer sending buf (a <dq/wire.h> encoding, taken over: freed when
 * gRPC is done with it) without a copy. */
grpc_byte_buffer *grpc_f_bytes(void *buf, size_t len);
/* The bytes of a received buffer as one slice (a copy only when it arrived
 * in several pieces: control messages are small).  Unref it. */
grpc_slice grpc_f_flatten(grpc_byte_buffer *bb);

/* The dq.v1.Error of err as a binary metadata value (a new slice). */
grpc_slice grpc_f_error_slice(const dq_error *err);
/* Rebuilds the error of a finished call from its status and trailing
 * metadata; url names the worker when the error does not. */
int grpc_f_status_error(grpc_status_code status, grpc_slice details,
                        const grpc_metadata_array *trailing, const char *url,
                        dq_error *err);
/* The gRPC status code that best carries a DQ_E* code. */
grpc_status_code grpc_f_status_of(int code);

/* A PartitionFrame carrying an encoded IPC message without copying it:
 * every body slice keeps a reference to msg until gRPC is done with it
 * (msg is borrowed). */
grpc_byte_buffer *grpc_f_ipc_frame(uint32_t partition, dq_ipc_message *msg);
grpc_byte_buffer *grpc_f_eos_frame(uint32_t partition);

/* Decodes a received PartitionFrame into out through the stream's frame
 * decoder (which checks the schema comes first, and only once).  Takes
 * nothing from bb: the caller destroys it afterwards. */
int grpc_f_decode_frame(grpc_byte_buffer *bb, dq_wire_frame_decoder *d,
                        dq_frame *out, dq_error *err);

/* Constant-time string comparison for the bearer token. */
int grpc_f_token_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif /* DQ_GRPC_INTERNAL_H */
