/* dq/ipc.h — the Arrow IPC codec: batches to and from the encapsulated
 * messages of the Arrow IPC streaming format, and stream readers/writers.
 *
 * An encapsulated message is
 *   0xFFFFFFFF  int32 metadata length  flatbuffer Message + padding  body
 * little-endian, MetadataVersion V5, body buffers 64-byte aligned and padded.
 * A stream is a schema message, record batch messages, then the
 * end-of-stream marker 0xFFFFFFFF 0x00000000.  Any Arrow implementation can
 * read what dq writes, and dq reads the subset of Arrow that dq's types
 * cover (bool, int32, int64, float64, utf8, date32[day], decimal64 and
 * decimal128; a decimal128 of precision <= 18 is narrowed to the decimal64
 * dq stores it as).
 *
 * Decoding trusts nothing: malformed bytes give DQ_EPROTO and a sentence
 * saying what is wrong; valid Arrow that dq cannot represent (other types,
 * compressed bodies, dictionaries, big-endian data) gives DQ_EUNSUPPORTED.
 * Nothing here aborts or reads outside the bytes it was given.
 */
#ifndef DQ_IPC_H
#define DQ_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <dq/batch.h>
#include <dq/dq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Encoding ------------------------------------------------------------ */

/* One contiguous piece of an encoded message. */
typedef struct dq_ipc_slice {
  const void *data;
  size_t len;
} dq_ipc_slice;

/* An encoded message, as a list of slices to send in order: slice 0 is the
 * prefix and flatbuffer metadata (memory owned by the message), the rest are
 * the body — the batch's own buffers (not copied) and zero padding.  The
 * message holds a reference to the batch, so every slice stays valid until
 * the last reference to the message is dropped.  Reference-counted
 * (atomically), so a transport can hand one reference to each in-flight
 * send. */
typedef struct dq_ipc_message dq_ipc_message;

/* Encodes a schema message (no body: one slice). */
DQ_EXPORT int dq_ipc_encode_schema(const dq_schema *schema,
                                   dq_ipc_message **out, dq_error *err);
/* Encodes a record batch message.  Takes its own reference to the batch. */
DQ_EXPORT int dq_ipc_encode_batch(dq_batch *batch, dq_ipc_message **out,
                                  dq_error *err);
DQ_EXPORT dq_ipc_message *dq_ipc_message_ref(dq_ipc_message *m);
DQ_EXPORT void dq_ipc_message_unref(dq_ipc_message *m);
/* The slices (owned by the message) and their count. */
DQ_EXPORT const dq_ipc_slice *dq_ipc_message_slices(const dq_ipc_message *m,
                                                    size_t *n);
/* Total bytes of the message: the sum of its slices' lengths. */
DQ_EXPORT size_t dq_ipc_message_size(const dq_ipc_message *m);
/* Copies the whole message into dst, which must hold
 * dq_ipc_message_size(m) bytes. */
DQ_EXPORT void dq_ipc_message_copy(const dq_ipc_message *m, void *dst);

/* Convenience: encode into one contiguous block, 64-byte aligned (so a
 * zero-copy decode of it reads in place); the caller frees *out with
 * free(). */
DQ_EXPORT int dq_ipc_encode_schema_flat(const dq_schema *schema, void **out,
                                        size_t *len, dq_error *err);
DQ_EXPORT int dq_ipc_encode_batch_flat(dq_batch *batch, void **out,
                                       size_t *len, dq_error *err);

/* The 8 bytes of the end-of-stream marker. */
DQ_EXPORT extern const uint8_t dq_ipc_eos[8];

/* --- Decoding ------------------------------------------------------------ */

typedef enum dq_ipc_type {
  DQ_IPC_EOS = 0,          /* the end-of-stream marker */
  DQ_IPC_SCHEMA = 1,
  DQ_IPC_DICTIONARY = 2,   /* recognised, not supported */
  DQ_IPC_RECORD_BATCH = 3,
  DQ_IPC_TENSOR = 4,       /* recognised, not supported */
  DQ_IPC_SPARSE_TENSOR = 5 /* recognised, not supported */
} dq_ipc_type;

typedef struct dq_ipc_info {
  dq_ipc_type type;
  size_t metadata_len; /* flatbuffer + padding, after the 8-byte prefix */
  size_t body_len;
  size_t message_len;  /* 8 + metadata_len + body_len; 8 for EOS */
} dq_ipc_info;

/* Reads the framing and metadata of the message at the start of data[0..len)
 * (bytes after the message are ignored, so a caller holding several
 * messages back to back can step by info->message_len).  Checks that the
 * whole message, body included, is present. */
DQ_EXPORT int dq_ipc_peek(const void *data, size_t len, dq_ipc_info *info,
                          dq_error *err);

/* Decodes a schema message.  data is only read during the call; names are
 * copied. */
DQ_EXPORT int dq_ipc_decode_schema(const void *data, size_t len,
                                   dq_schema **out, dq_error *err);

/* Decodes a record batch message against the stream's schema (the batch
 * takes a reference to it).
 *
 * Copy mode (release == NULL): data is only read during the call; the batch
 * owns copies of the buffers.
 *
 * Zero-copy mode (release != NULL): the call takes over the message memory.
 * The batch's buffers point into data wherever a buffer is 64-byte aligned
 * and its 64-byte padding lies within data[0..len) (dq's own invariant for
 * batch buffers); other buffers are copied.  release(ctx) is called exactly
 * once, when nothing points into data any more — possibly before this
 * function returns, and always on failure — and until then all len bytes
 * must stay readable and unchanged. */
DQ_EXPORT int dq_ipc_decode_batch(dq_schema *schema, const void *data,
                                  size_t len, void (*release)(void *ctx),
                                  void *ctx, dq_batch **out, dq_error *err);

/* --- Streams --------------------------------------------------------------
 * The IPC streaming format over a file descriptor or a stdio stream, which
 * stays the caller's: neither close nor free closes it. */
typedef struct dq_ipc_writer dq_ipc_writer;

/* Writes the schema message at once.  The writer keeps a schema reference. */
DQ_EXPORT int dq_ipc_writer_open_fd(int fd, dq_schema *schema,
                                    dq_ipc_writer **out, dq_error *err);
DQ_EXPORT int dq_ipc_writer_open_file(FILE *f, dq_schema *schema,
                                      dq_ipc_writer **out, dq_error *err);
/* The batch's schema must equal the writer's (DQ_EINVAL otherwise).  Writes
 * from the batch's buffers, without an intermediate copy on a descriptor. */
DQ_EXPORT int dq_ipc_writer_write(dq_ipc_writer *w, dq_batch *batch,
                                  dq_error *err);
/* Writes the end-of-stream marker (and fflush on a FILE*), then frees w
 * whatever the result. */
DQ_EXPORT int dq_ipc_writer_close(dq_ipc_writer *w, dq_error *err);
/* Frees w without writing the marker (after an error, say). */
DQ_EXPORT void dq_ipc_writer_free(dq_ipc_writer *w);

typedef struct dq_ipc_reader dq_ipc_reader;

/* Reads the schema message at once. */
DQ_EXPORT int dq_ipc_reader_open_fd(int fd, dq_ipc_reader **out,
                                    dq_error *err);
DQ_EXPORT int dq_ipc_reader_open_file(FILE *f, dq_ipc_reader **out,
                                      dq_error *err);
/* Borrowed: valid until dq_ipc_reader_free (dq_schema_ref it to keep it). */
DQ_EXPORT dq_schema *dq_ipc_reader_schema(const dq_ipc_reader *r);
/* The next batch (a new reference for the caller, its buffers decoded
 * without a copy from memory the batch owns), or *out = NULL and 0 at the
 * end of the stream: the marker, or end of file at a message boundary.
 * After an error every later call fails too. */
DQ_EXPORT int dq_ipc_reader_next(dq_ipc_reader *r, dq_batch **out,
                                 dq_error *err);
DQ_EXPORT void dq_ipc_reader_free(dq_ipc_reader *r);

#ifdef __cplusplus
}
#endif

#endif /* DQ_IPC_H */
