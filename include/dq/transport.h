/* dq/transport.h — the transport plugin ABI, version 1.
 *
 * A transport moves the three calls of the worker protocol
 * (proto/worker.proto) between a coordinator or worker (the client side) and
 * a worker (the server side), and nothing else: planning, routing, execution
 * and cleanup stay in libdq.  The ops table below mirrors worker.proto one
 * to one:
 *
 *   CoordinatorChannel  coord_open (sends SetPlan) / coord_send_work_unit /
 *                       coord_finish (half-close, receive TaskMetrics) /
 *                       coord_close (closing frees the task on the worker)
 *   ExecuteTask         execute_task -> a partition stream:
 *                       stream_next / stream_cancel / stream_close
 *   GetWorkerInfo       get_worker_info
 *
 * plus connection management (channel_open/close), instance lifecycle
 * (init/fini) and the server side (serve/server_url/stop), where a transport
 * hosts libdq's dq_worker_service, which has the same calls.
 *
 * Versioning (checked by the host when it loads a plugin):
 *  - the plugin exports one function, NAME_LTX_dq_transport_plugin_v1 (write
 *    it with DQ_TRANSPORT_PLUGIN), returning a const descriptor;
 *  - the host accepts abi_major == DQ_TRANSPORT_ABI_MAJOR and
 *    abi_minor <= DQ_TRANSPORT_ABI_MINOR, and struct/ops sizes of at least
 *    v1.0's; every op of v1.0 is mandatory;
 *  - tables are append-only: a new op bumps the minor version and the host
 *    calls it only when ops->size > offsetof(dq_transport_ops, op); anything
 *    else (removing, reordering, retyping) bumps the major version.
 *
 * Ownership: pointers passed *into* an op are borrowed for the duration of
 * the call unless stated otherwise (serve borrows the worker service until
 * stop returns); the transport copies what it keeps.  Handles an op returns
 * (instance, channel, coord, stream, server) belong to the caller until
 * passed to the matching fini/close/stop op, called exactly once; `*out` is
 * written only on success.  A coord or stream handle may outlive the
 * channel that opened it: the caller may close the channel first.
 *
 * Errors: every int-returning op returns 0 or a negative DQ_E* code and
 * fills `err` (never NULL) with dq_error_set(), which clears the origin, so
 * call dq_error_set_origin() after it.  An error raised by the worker
 * service (a failed task, a refused request) reaches the caller unchanged:
 * code, message, worker URL and task key, even across a network.  An error
 * the transport detects itself names the worker URL.  Void ops cannot fail.
 * Never abort() and never let a signal escape (send with MSG_NOSIGNAL);
 * check every length a peer sends before using it.
 *
 * Threading: a transport instance is used from many threads at once: any
 * op but init and fini may run concurrently with any op on other handles.
 * Each channel may be used by several threads concurrently (different coord
 * and stream handles); one coord or stream handle is used by one thread at a
 * time, except stream_cancel, which any thread may call at any time, also
 * while another thread is blocked in stream_next on the same stream (never
 * concurrently with or after stream_close).  Ops that talk to a worker may
 * block (coord_open, coord_send_work_unit, coord_finish, execute_task,
 * stream_next, get_worker_info); the close ops and stream_cancel must not
 * wait for a remote peer.  No thread of the plugin may still run once fini
 * has returned (for a server, once stop has returned).
 *
 * Lifetime: once libdq has loaded a plugin for use (a dq_context created an
 * instance of it), the module stays mapped until the process exits, even
 * after every context is freed: libdq makes it resident and never unloads
 * it.  So memory a transport lent — batches pointing into its buffers,
 * whose release callbacks are its code — may be released at any time, from
 * any thread, after stream_close, after fini and after dq_context_free.
 * Keep such memory alive by reference from the batch, never by a stream,
 * channel or instance, and let release callbacks touch nothing else.  What
 * ends with fini is the instance and its threads, not the code.  (Only
 * plugins rejected by the loader's checks, or merely probed by `dq
 * plugins`, are unloaded: nothing of theirs was lent.)
 *
 * Cancellation and cleanup: closing a coordinator channel frees the task on
 * the worker (cancelling it if it runs): that is how a query dropped early
 * stops every task on every worker.  stream_cancel stops one stream only.
 * After any query, finished, failed or cancelled, no task, thread or file
 * descriptor of it may remain.  dq-transport(7) has the whole contract;
 * dq-transport-check(1) tests a plugin against it.
 *
 * Batches cross the ABI as Arrow C Data Interface structs.  A transport that
 * must serialize uses libdq's Arrow IPC codec; one that can hand memory over
 * (inmem) moves the structs as they are.
 */
#ifndef DQ_TRANSPORT_H
#define DQ_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <dq/arrow.h>
#include <dq/dq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DQ_TRANSPORT_ABI_MAJOR 1
#define DQ_TRANSPORT_ABI_MINOR 0

/* The version of the worker protocol (proto/worker.proto) these calls carry. */
#define DQ_PROTOCOL_VERSION 1

/* ---------------------------------------------------------------------------
 * Protocol messages as C types.
 * ------------------------------------------------------------------------- */

/* SetPlan: the first message of a coordinator channel. */
typedef struct dq_set_plan {
  dq_task_key key;
  uint32_t task_count;           /* tasks in this task's stage */
  const uint8_t *plan;           /* encoded plan (proto/plan.proto) */
  size_t plan_len;
  const char *target_worker_url; /* the worker the task was assigned to */
  const dq_kv *config;           /* executor settings for the task */
  size_t n_config;
} dq_set_plan;

/* ExecuteTask: read partitions [partition_start, partition_end) of a task's
 * output, routed by the producer head (an encoded plan.proto ProducerHead:
 * how the task's output is split for this boundary). */
typedef struct dq_execute_task {
  dq_task_key key;
  uint32_t partition_start;
  uint32_t partition_end; /* exclusive */
  const uint8_t *producer_head;
  size_t producer_head_len;
} dq_execute_task;

/* One element of a partition stream. */
typedef enum dq_frame_kind {
  DQ_FRAME_SCHEMA = 1, /* first frame of every stream: the batches' schema */
  DQ_FRAME_BATCH = 2,  /* one record batch of `partition` */
  DQ_FRAME_EOS = 3,    /* `partition` has no more batches */
  DQ_FRAME_END = 4     /* every partition of the range has ended */
} dq_frame_kind;

/* After stream_next returns 0, the caller owns `schema` (kind SCHEMA) or
 * `array` (kind BATCH, a struct array whose children are the columns) and
 * must release it; the other member is zeroed, and EOS/END frames carry
 * neither.  The batch may point into memory the transport lent (shared
 * memory, a received message): releasing it gives that memory back — from
 * any thread, at any time, even after the stream, the instance and the
 * context are gone (see Lifetime above) — so a consumer that holds many
 * batches for long (a hash-join build side) should copy them.  The same
 * holds for frames the worker service hands a transport. */
typedef struct dq_frame {
  uint32_t kind;      /* a dq_frame_kind */
  uint32_t partition; /* BATCH and EOS: the global partition number */
  struct ArrowSchema schema;
  struct ArrowArray array;
} dq_frame;

/* Metrics of one boundary read by a task (the task as consumer). */
typedef struct dq_boundary_metrics {
  uint32_t producer_stage_id;
  uint32_t kind;          /* 1 shuffle, 2 coalesce, 3 broadcast */
  uint64_t bytes;         /* bytes of batches received */
  uint64_t batches;
  uint64_t rows;
  uint64_t latency_ns;    /* time spent waiting for the boundary's data */
  uint64_t buffered_peak; /* most bytes buffered ahead of the reader */
} dq_boundary_metrics;

/* TaskMetrics: the worker's answer when the coordinator side ends. */
typedef struct dq_task_metrics {
  dq_task_key key;
  uint64_t plan_bytes;     /* size of the encoded plan received */
  uint64_t queued_ns;      /* from SetPlan to the task starting */
  uint64_t run_ns;         /* from the task starting to its output ending */
  uint64_t rows_out;
  uint64_t batches_out;
  uint64_t bytes_out;
  size_t n_boundaries;
  const dq_boundary_metrics *boundaries; /* owned by the handle it came from */
} dq_task_metrics;

/* GetWorkerInfo. */
typedef struct dq_worker_info {
  char version[64];          /* dq version of the worker */
  uint32_t protocol_version; /* DQ_PROTOCOL_VERSION of the worker */
  char url[256];             /* the URL the worker serves at */
} dq_worker_info;

/* ---------------------------------------------------------------------------
 * The worker service: libdq's implementation of the protocol, which a
 * transport's server side calls for each request it receives.  Same calls,
 * same rules as the client ops below; `self` is passed back untouched.
 * Calls may block (execute_task waits up to [executor] plan_wait_ms for a
 * late SetPlan, stream_next waits for data); a transport calls them from its
 * own threads, never from a signal handler.  All of them are thread-safe
 * under the client ops' rules: stream_cancel may be called from any thread
 * while another is blocked in stream_next on that stream, and wakes it.
 * Each task from coord_open is closed with coord_close, and each stream
 * from execute_task with stream_close, at most once and only after every
 * other call on it has returned.  Whatever the transport has not closed
 * when its stop() returns it must never touch again: the worker frees what
 * is left itself (dq_worker_stop).  Frames from stream_next
 * belong to the transport (release them, or hand them to the client).
 * `size` grows with new members: refuse a service smaller than the one you
 * were built with.
 * ------------------------------------------------------------------------- */
typedef struct dq_ws_task dq_ws_task;     /* a task opened by coord_open */
typedef struct dq_ws_stream dq_ws_stream; /* a stream opened by execute_task */

typedef struct dq_worker_service {
  size_t size; /* sizeof(dq_worker_service) of the libdq that made it */
  void *self;
  int (*get_worker_info)(void *self, dq_worker_info *out, dq_error *err);
  int (*coord_open)(void *self, const dq_set_plan *plan, dq_ws_task **out,
                    dq_error *err);
  int (*coord_send_work_unit)(void *self, dq_ws_task *task, const void *data,
                              size_t len, dq_error *err);
  /* The coordinator's side ended: fills *out (valid until coord_close). */
  int (*coord_finish)(void *self, dq_ws_task *task, dq_task_metrics *out,
                      dq_error *err);
  /* The channel closed (normally or not): frees the task.  Never fails. */
  void (*coord_close)(void *self, dq_ws_task *task);
  int (*execute_task)(void *self, const dq_execute_task *req,
                      dq_ws_stream **out, dq_error *err);
  int (*stream_next)(void *self, dq_ws_stream *s, dq_frame *out,
                     dq_error *err);
  void (*stream_cancel)(void *self, dq_ws_stream *s);
  void (*stream_close)(void *self, dq_ws_stream *s);
} dq_worker_service;

/* ---------------------------------------------------------------------------
 * The plugin's ops table.
 * ------------------------------------------------------------------------- */
typedef struct dq_transport dq_transport; /* one instance, plugin-defined */
typedef struct dq_channel dq_channel;     /* a connection to one worker */
typedef struct dq_coord dq_coord;         /* one coordinator channel */
typedef struct dq_stream dq_stream;       /* one ExecuteTask stream */
typedef struct dq_server dq_server;       /* a worker being served */

typedef struct dq_transport_ops {
  size_t size; /* sizeof(dq_transport_ops) the plugin was built with */

  /* Creates an instance from the [transport.NAME] options (borrowed).  An
   * unknown option is DQ_ECONFIG with a message naming it.  Called once per
   * dq_context (so several instances may live in one process), and by
   * `dq plugins` to see whether the plugin starts.  May not block long. */
  int (*init)(const dq_kv *options, size_t n_options, dq_transport **out,
              dq_error *err);
  /* Destroys an instance; every channel and server of it was closed (and
   * stopped) first, by the caller.  No thread of the plugin may outlive
   * this call.  Batches it lent may: the module stays loaded (Lifetime). */
  void (*fini)(dq_transport *t);

  /* Client side.  A channel to the worker at url (borrowed: copy it); the
   * transport may share connections between channels, or connect lazily.
   * A url the transport does not serve (wrong scheme, malformed) is
   * DQ_EINVAL; an unreachable worker is DQ_EUNAVAILABLE, here or at the
   * first call, with the URL as the error's worker_url.  Used by many
   * threads at once. */
  int (*channel_open)(dq_transport *t, const char *url, dq_channel **out,
                      dq_error *err);
  /* Closes a channel.  Coord and stream handles it opened may still be
   * open and must keep working (test_runtime closes the channel right
   * after coord_open).  Must not wait for the worker. */
  void (*channel_close)(dq_channel *ch);

  /* GetWorkerInfo: fills *out (caller-owned) with the service's answer.
   * May block on the network. */
  int (*get_worker_info)(dq_channel *ch, dq_worker_info *out, dq_error *err);

  /* Opens a coordinator channel for one task and sends SetPlan; returns
   * once the worker accepted or refused the plan (its error, e.g. a
   * malformed plan, DQ_EPROTO, comes back unchanged).  `plan` and all it
   * points to are borrowed for the call.  May block. */
  int (*coord_open)(dq_channel *ch, const dq_set_plan *plan, dq_coord **out,
                    dq_error *err);
  /* Sends one work unit (data borrowed) and returns the worker's answer:
   * the worker refuses units after its task started (DQ_EINVAL). */
  int (*coord_send_work_unit)(dq_coord *c, const void *data, size_t len,
                              dq_error *err);
  /* Ends the coordinator's side and waits for the task's metrics; *out and
   * what it points to (boundaries) are owned by the handle and stay valid
   * until coord_close (or the next coord_finish).  May block.  Does not
   * free the task: only coord_close does. */
  int (*coord_finish)(dq_coord *c, dq_task_metrics *out, dq_error *err);
  /* Closes the channel, finished or not; the worker then frees the task,
   * cancelling it if it still runs (the service's coord_close).  Never
   * blocks on the worker and cannot fail: if the worker is unreachable its
   * idle TTL frees the task, but a transport that sees a client vanish
   * should close the task at once.  NULL is a no-op. */
  void (*coord_close)(dq_coord *c);

  /* Starts reading partitions [partition_start, partition_end) of a task;
   * `req` (and the producer head bytes) is borrowed for the call.  Returns
   * once the worker accepted the request: it may block up to the worker's
   * plan_wait_ms when the task's SetPlan has not arrived, then fail with
   * DQ_ETIMEDOUT naming the worker and the task.  A refusal (a partition
   * already being read, a malformed or different producer head) may come
   * here or from the first stream_next.  The stream's frames: SCHEMA first,
   * then BATCH and one EOS per partition, interleaved in any order, then
   * END. */
  int (*execute_task)(dq_channel *ch, const dq_execute_task *req,
                      dq_stream **out, dq_error *err);
  /* Blocks for the next frame, which the caller then owns (see dq_frame;
   * on failure *out holds nothing to release).  After the END frame, or an
   * error, further calls return the same result.  A cancelled stream
   * returns DQ_ECANCELED, also a call already blocked in another thread,
   * which must return promptly; after END a cancel may give either END or
   * DQ_ECANCELED.  A worker that vanishes is DQ_EUNAVAILABLE, never a
   * hang. */
  int (*stream_next)(dq_stream *s, dq_frame *out, dq_error *err);
  /* Cancels this stream only (siblings keep running) and tells the worker
   * to stop producing it (the service's stream_cancel).  Thread-safe: any
   * thread, any time before stream_close, including while stream_next
   * blocks.  Must not block on the worker; cannot fail; idempotent. */
  void (*stream_cancel)(dq_stream *s);
  /* Frees the stream, cancelling it first if it has not ended; the
   * worker's stream state goes too (the service's stream_close).  Batches
   * already handed out stay valid: memory they borrow from the transport is
   * reference-counted, not tied to the stream.  Must not block on the
   * worker.  NULL is a no-op. */
  void (*stream_close)(dq_stream *s);

  /* Server side.  Serves svc (borrowed until stop) at listen_url; a port of
   * 0 binds an ephemeral port, see server_url.  "NAME://" with nothing
   * after the scheme asks for a fresh address of the transport's choosing
   * (a free loopback port for a network transport, a new name for a local
   * one): every transport must take it, and the integration suite and
   * dq-transport-check start their workers there.  A listen_url the
   * transport cannot parse is DQ_EINVAL.  Requests are handled on the transport's own
   * threads, which call svc's functions; svc->size smaller than the
   * transport's sizeof(dq_worker_service) is DQ_EINVAL. */
  int (*serve)(dq_transport *t, const char *listen_url,
               const dq_worker_service *svc, dq_server **out, dq_error *err);
  /* The URL clients connect to (with the port actually bound), owned by
   * the server and valid until stop.  Never NULL. */
  const char *(*server_url)(const dq_server *srv);
  /* Stops accepting, fails calls in flight (cancelling streams blocked in
   * svc's stream_next), waits for the transport's threads that call svc to
   * return, and frees the server.  After it returns svc is never called
   * again; client handles still open fail with DQ_EUNAVAILABLE.  Blocks (at
   * most about plan_wait_ms, for an execute_task waiting on a plan).  The
   * worker frees the tasks and streams nobody closed. */
  void (*stop)(dq_server *srv);
} dq_transport_ops;

/* Size of the v1.0 ops table: the host rejects anything shorter. */
#define DQ_TRANSPORT_OPS_V1_0_SIZE \
  (offsetof(dq_transport_ops, stop) + sizeof(void (*)(void)))

/* The descriptor the entry function returns.  Its first three members never
 * move, so a host can read the version of any descriptor. */
typedef struct dq_transport_plugin {
  uint32_t abi_major;
  uint32_t abi_minor;
  size_t struct_size; /* sizeof(dq_transport_plugin) */
  const char *name;   /* must equal the name the plugin is loaded by */
  const char *version;
  const char *description;
  const dq_transport_ops *ops;
} dq_transport_plugin;

#define DQ_TRANSPORT_PLUGIN_V1_0_SIZE \
  (offsetof(dq_transport_plugin, ops) + sizeof(const dq_transport_ops *))

/* The entry point's name, and its type. */
#define DQ_TRANSPORT_ENTRY "dq_transport_plugin_v1"
typedef const dq_transport_plugin *(*dq_transport_entry_fn)(void);

#if defined(__GNUC__)
#define DQ_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define DQ_PLUGIN_EXPORT
#endif

/* Defines the entry point of the transport called NAME (an identifier: the
 * module's file name without .so, which libtool uses as the _LTX_ prefix so
 * that several transports can be linked into one program with -dlpreopen).
 *
 *   static const dq_transport_ops my_ops = { sizeof my_ops, ... };
 *   DQ_TRANSPORT_PLUGIN(tcp, "1.2.0", "TCP sockets", &my_ops)
 */
#define DQ_TRANSPORT_PLUGIN(NAME, VERSION, DESCRIPTION, OPS)                 \
  static const dq_transport_plugin NAME##_dq_transport_descriptor = {        \
      DQ_TRANSPORT_ABI_MAJOR, DQ_TRANSPORT_ABI_MINOR,                         \
      sizeof(dq_transport_plugin), #NAME, VERSION, DESCRIPTION, OPS};        \
  DQ_PLUGIN_EXPORT const dq_transport_plugin                                 \
      *NAME##_LTX_dq_transport_plugin_v1(void);                              \
  DQ_PLUGIN_EXPORT const dq_transport_plugin                                 \
      *NAME##_LTX_dq_transport_plugin_v1(void) {                             \
    return &NAME##_dq_transport_descriptor;                                  \
  }

#ifdef __cplusplus
}
#endif

#endif /* DQ_TRANSPORT_H */
