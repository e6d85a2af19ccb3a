/* dq/wire.h — libdq's canonical encoding of the worker protocol, for
 * transports that put it on a wire.
 *
 * Two parts:
 *
 *  - Messages: every message of proto/worker.proto that the transport ABI
 *    carries (SetPlan, WorkUnit, CoordinatorMessage, ExecuteTaskRequest,
 *    TaskMetrics, WorkerInfo, Error) to and from its protobuf bytes, so a
 *    transport never writes its own serializer and every transport speaks
 *    the same bytes that grpc.so serves (any protobuf library reads them;
 *    the .proto files are installed in $(pkgdatadir)).  Encoders return a
 *    buffer to free with dq_wire_free.  Decoders trust nothing: truncated or
 *    corrupt bytes, a task key whose query id is not 16 bytes, a string
 *    that does not fit its C field — all are DQ_EPROTO with a sentence
 *    naming the message and the fault; nothing is silently dropped.  (A
 *    message cut exactly at a field boundary is a valid shorter message
 *    to protobuf, so a transport's framing must carry each length.)
 *    Decoded structs are owned by the caller and freed with the matching
 *    *_free function (fixed-size ones, dq_worker_info and dq_error, are
 *    filled in the caller's storage).
 *
 *  - Frames: the data of a partition stream as Arrow IPC encapsulated
 *    messages.  A frame encoder turns the worker service's frames into IPC
 *    messages (importing the Arrow C structs, remembering the stream's
 *    schema, splitting a batch whose message would exceed a size limit into
 *    row ranges); a frame decoder turns received IPC messages back into
 *    frames, in place (zero copy) when the caller lends the bytes.  How a
 *    transport delimits messages, tags partitions and signals EOS, END and
 *    errors is its own business (its framing); these do the rest.
 *
 * Everything here is thread-safe on distinct objects; one encoder or decoder
 * belongs to one stream and is used by one thread at a time.  The protobuf
 * library used inside libdq is not part of this interface.
 */
#ifndef DQ_WIRE_H
#define DQ_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Frees a buffer an encoder returned (NULL is a no-op). */
DQ_EXPORT void dq_wire_free(void *buf);

/* --- Messages ------------------------------------------------------------
 * Encoders: 0 and a malloc'd *buf of *len bytes (free with dq_wire_free;
 * never NULL, even for an empty message), or DQ_ENOMEM / DQ_EINVAL (a NULL
 * pointer with a non-zero count) with err filled.  Decoders: 0 and the
 * decoded value, or DQ_EPROTO / DQ_ENOMEM with err filled and nothing to
 * free.  `data` is only read during the call. */

/* SetPlan.  A decoded plan owns all it points to (plan bytes, URL,
 * config pairs), until dq_wire_set_plan_free. */
DQ_EXPORT int dq_wire_encode_set_plan(const dq_set_plan *m, void **buf,
                                      size_t *len, dq_error *err);
DQ_EXPORT int dq_wire_decode_set_plan(const void *data, size_t len,
                                      dq_set_plan **out, dq_error *err);
DQ_EXPORT void dq_wire_set_plan_free(dq_set_plan *m);

/* WorkUnit.  A decoded unit is a malloc'd copy of its bytes (free it with
 * dq_wire_free; *out is never NULL on success, even for 0 bytes). */
DQ_EXPORT int dq_wire_encode_work_unit(const void *unit, size_t unit_len,
                                       void **buf, size_t *len,
                                       dq_error *err);
DQ_EXPORT int dq_wire_decode_work_unit(const void *data, size_t len,
                                       void **out, size_t *out_len,
                                       dq_error *err);

/* CoordinatorMessage: the client stream of CoordinatorChannel (a SetPlan,
 * then WorkUnits), for transports that carry that stream as one message
 * type.  Decoding gives exactly one of the two: *set_plan (free with
 * dq_wire_set_plan_free) or *unit / *unit_len (free with dq_wire_free),
 * the other NULL; a message carrying neither is DQ_EPROTO. */
DQ_EXPORT int dq_wire_encode_coord_set_plan(const dq_set_plan *m, void **buf,
                                            size_t *len, dq_error *err);
DQ_EXPORT int dq_wire_encode_coord_work_unit(const void *unit,
                                             size_t unit_len, void **buf,
                                             size_t *len, dq_error *err);
DQ_EXPORT int dq_wire_decode_coord_message(const void *data, size_t len,
                                           dq_set_plan **set_plan,
                                           void **unit, size_t *unit_len,
                                           dq_error *err);

/* ExecuteTaskRequest.  A decoded request owns its producer head bytes. */
DQ_EXPORT int dq_wire_encode_execute_task(const dq_execute_task *m,
                                          void **buf, size_t *len,
                                          dq_error *err);
DQ_EXPORT int dq_wire_decode_execute_task(const void *data, size_t len,
                                          dq_execute_task **out,
                                          dq_error *err);
DQ_EXPORT void dq_wire_execute_task_free(dq_execute_task *m);

/* TaskMetrics.  A decoded one owns its boundaries array. */
DQ_EXPORT int dq_wire_encode_task_metrics(const dq_task_metrics *m,
                                          void **buf, size_t *len,
                                          dq_error *err);
DQ_EXPORT int dq_wire_decode_task_metrics(const void *data, size_t len,
                                          dq_task_metrics **out,
                                          dq_error *err);
DQ_EXPORT void dq_wire_task_metrics_free(dq_task_metrics *m);

/* WorkerInfo, decoded into the caller's struct: a version or URL longer
 * than its field is DQ_EPROTO, not truncated. */
DQ_EXPORT int dq_wire_encode_worker_info(const dq_worker_info *m, void **buf,
                                         size_t *len, dq_error *err);
DQ_EXPORT int dq_wire_decode_worker_info(const void *data, size_t len,
                                         dq_worker_info *out, dq_error *err);

/* Error: a dq_error as it travels (code, message, worker URL, task key).
 * Decoding fills *out with the error carried (its code, origin and task
 * restored) and returns 0; a code that is not a DQ_E* code arrives as
 * DQ_EPROTO with the message saying which code it was, an empty message as
 * the code's name.  Only bytes that are not an Error (or carry a malformed
 * task key) fail the call, with DQ_EPROTO in err. */
DQ_EXPORT int dq_wire_encode_error(const dq_error *m, void **buf,
                                   size_t *len, dq_error *err);
DQ_EXPORT int dq_wire_decode_error(const void *data, size_t len,
                                   dq_error *out, dq_error *err);

/* --- Frames ---------------------------------------------------------------
 * The IPC message kinds a partition stream carries (DQ_FRAME_SCHEMA and
 * DQ_FRAME_BATCH); EOS and END carry no IPC message. */

typedef struct dq_wire_frame_encoder dq_wire_frame_encoder;

/* An encoder for one stream.  max_message bounds each IPC message in bytes
 * (0: no bound): a batch whose message would be larger is split into row
 * ranges that fit, and a single row that does not fit is DQ_ETOOBIG. */
DQ_EXPORT int dq_wire_frame_encoder_new(size_t max_message,
                                        dq_wire_frame_encoder **out,
                                        dq_error *err);
DQ_EXPORT void dq_wire_frame_encoder_free(dq_wire_frame_encoder *e);

/* Called for each piece of a frame, in order: kind is the frame's kind,
 * partition its partition, msg the IPC message for SCHEMA and BATCH (NULL
 * for EOS and END), borrowed for the call (dq_ipc_message_ref it to keep
 * it, e.g. for a send that completes later).  A non-zero return stops the
 * encoding and is returned by dq_wire_frame_encode. */
typedef int (*dq_wire_emit_fn)(void *ctx, uint32_t kind, uint32_t partition,
                               dq_ipc_message *msg, dq_error *err);

/* Encodes one frame from the worker service and emits it (once, or once per
 * piece of a split batch).  Takes the frame's schema or array whatever
 * happens (it is released).  A BATCH before the stream's SCHEMA, or a second
 * SCHEMA, is DQ_EPROTO. */
DQ_EXPORT int dq_wire_frame_encode(dq_wire_frame_encoder *e, dq_frame *frame,
                                   dq_wire_emit_fn emit, void *ctx,
                                   dq_error *err);

typedef struct dq_wire_frame_decoder dq_wire_frame_decoder;

DQ_EXPORT int dq_wire_frame_decoder_new(dq_wire_frame_decoder **out,
                                        dq_error *err);
DQ_EXPORT void dq_wire_frame_decoder_free(dq_wire_frame_decoder *d);

/* Decodes one received IPC message of the stream into *out (zeroed first):
 * a SCHEMA frame (the first message must be the schema, and only the first)
 * or a BATCH frame of `partition`, which the caller then owns.
 *
 * With release == NULL, data is only read during the call and the batch
 * owns copies.  With release != NULL the call takes the bytes over: the
 * batch points into them where their alignment allows (64-byte aligned
 * buffers whose padding lies within data[0..len), as dq writes them), and
 * release(ctx) is called exactly once when nothing points into them any
 * more — on failure and for a schema before this returns.  Bytes past the
 * message (padding) are ignored.  Anything else (a record batch before the
 * schema, a second schema, another IPC message type, corrupt bytes) is
 * DQ_EPROTO (or DQ_EUNSUPPORTED for valid Arrow dq cannot represent). */
DQ_EXPORT int dq_wire_frame_decode(dq_wire_frame_decoder *d,
                                   uint32_t partition, const void *data,
                                   size_t len, void (*release)(void *ctx),
                                   void *ctx, dq_frame *out, dq_error *err);

/* The stream's schema once its SCHEMA frame was decoded, else NULL
 * (borrowed from the decoder). */
DQ_EXPORT dq_schema *dq_wire_frame_decoder_schema(
    const dq_wire_frame_decoder *d);

#ifdef __cplusplus
}
#endif

#endif /* DQ_WIRE_H */
