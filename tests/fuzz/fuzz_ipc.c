/* fuzz_ipc.c — libFuzzer target for the Arrow IPC decoder (dq/ipc.h).
 *
 * The input is read as a stream of encapsulated messages.  Each message is
 * peeked; the first schema is decoded, and every record batch after it is
 * decoded twice, in copy mode and in zero-copy mode (from an aligned copy,
 * so buffers really are borrowed).  The whole input then goes through the
 * stream reader over a memory FILE (fmemopen).
 *
 * Oracles beyond "no crash, no leak, no sanitizer report":
 *  - every value of every accepted batch is read, so a length or offset the
 *    decoder failed to check shows up as an out-of-bounds read;
 *  - zero-copy release() runs exactly once, on success and on failure;
 *  - an accepted batch re-encodes, and its encoding decodes again to the
 *    same number of rows and columns (dq must read what dq writes).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/batch.h>
#include <dq/ipc.h>

#include "fuzz.h"

/* More batches than this per input add time, not coverage. */
#define MAX_MESSAGES 64

static volatile uint64_t sink;

/* Reads every value: what a consumer of the batch would do. */
static void touch_batch(const dq_batch *b) {
  int64_t n = dq_batch_n_rows(b);
  uint64_t acc = 0;
  for (size_t c = 0; c < dq_batch_n_columns(b); c++) {
    const dq_array *a = dq_batch_column(b, c);
    fuzz_require(dq_array_length(a) == n, "column %zu has %lld rows of %lld",
                 c, (long long)dq_array_length(a), (long long)n);
    dq_type t = dq_array_type(a);
    for (int64_t i = 0; i < n; i++) {
      acc += dq_array_is_null(a, i);
      switch (t.id) {
      case DQ_TYPE_BOOL: acc += dq_array_bool(a, i); break;
      case DQ_TYPE_INT32: acc += (uint64_t)dq_array_int32(a, i); break;
      case DQ_TYPE_INT64: acc += (uint64_t)dq_array_int64(a, i); break;
      case DQ_TYPE_FLOAT64: acc += (uint64_t)(dq_array_float64(a, i) != 0); break;
      case DQ_TYPE_DATE32: acc += (uint64_t)dq_array_date32(a, i); break;
      case DQ_TYPE_DECIMAL: acc += dq_array_decimal(a, i).lo; break;
      case DQ_TYPE_UTF8: {
        size_t len;
        const char *s = dq_array_utf8(a, i, &len);
        for (size_t k = 0; k < len; k++)
          acc += (uint8_t)s[k];
        break;
      }
      default: fuzz_require(0, "column %zu has type id %d", c, (int)t.id);
      }
    }
  }
  sink += acc;
}

/* An accepted batch must survive export and re-encoding. */
static void check_batch(dq_schema *schema, dq_batch *b) {
  touch_batch(b);
  dq_error err;
  struct ArrowArray arr;
  int rc = dq_batch_export(b, &arr, &err);
  fuzz_require(rc == 0, "export of a decoded batch: %s", err.message);
  arr.release(&arr);

  void *enc;
  size_t len;
  rc = dq_ipc_encode_batch_flat(b, &enc, &len, &err);
  fuzz_require(rc == 0, "re-encoding a decoded batch: %s", err.message);
  /* Decoded against the schema as dq itself encodes it, which is not
   * always the stream's: a decimal128 of precision <= 18 from elsewhere is
   * narrowed to decimal64 on import, and dq writes it as decimal64. */
  void *senc;
  size_t slen;
  dq_schema *own = NULL;
  rc = dq_ipc_encode_schema_flat(schema, &senc, &slen, &err);
  fuzz_require(rc == 0, "re-encoding a decoded schema: %s", err.message);
  rc = dq_ipc_decode_schema(senc, slen, &own, &err);
  fuzz_require(rc == 0, "decoding dq's own schema: %s", err.message);
  free(senc);
  dq_batch *again = NULL;
  rc = dq_ipc_decode_batch(own, enc, len, NULL, NULL, &again, &err);
  dq_schema_unref(own);
  fuzz_require(rc == 0, "decoding dq's own encoding: %s", err.message);
  fuzz_require(dq_batch_n_rows(again) == dq_batch_n_rows(b) &&
                   dq_batch_n_columns(again) == dq_batch_n_columns(b),
               "round trip changed the shape");
  touch_batch(again);
  dq_batch_unref(again);
  free(enc);
}

typedef struct zc_ctx {
  void *mem;
  int released;
} zc_ctx;

static void zc_release(void *ctx) {
  zc_ctx *z = ctx;
  z->released++;
  free(z->mem);
  z->mem = NULL;
}

static void decode_batch_both(dq_schema *schema, const uint8_t *msg,
                              size_t len) {
  dq_error err;
  dq_batch *b = NULL;
  if (dq_ipc_decode_batch(schema, msg, len, NULL, NULL, &b, &err) == 0) {
    fuzz_require(b != NULL, "copy decode returned 0 without a batch");
    check_batch(schema, b);
    dq_batch_unref(b);
  }

  /* Zero-copy: the decoder borrows an aligned, exact-length copy. */
  zc_ctx z = {aligned_alloc(64, (len + 63) / 64 * 64 + 64), 0};
  if (z.mem == NULL)
    return;
  memcpy(z.mem, msg, len);
  b = NULL;
  int rc = dq_ipc_decode_batch(schema, z.mem, len, zc_release, &z, &b, &err);
  if (rc == 0) {
    fuzz_require(b != NULL, "zero-copy decode returned 0 without a batch");
    check_batch(schema, b);
    dq_batch_unref(b);
  }
  fuzz_require(z.released == 1,
               "zero-copy release ran %d times (rc %d), expected once",
               z.released, rc);
}

static void walk_messages(const uint8_t *data, size_t size) {
  dq_schema *schema = NULL;
  size_t off = 0;
  for (int i = 0; i < MAX_MESSAGES && off < size; i++) {
    dq_ipc_info info;
    dq_error err;
    if (dq_ipc_peek(data + off, size - off, &info, &err) != 0)
      break;
    fuzz_require(info.message_len > 0 && info.message_len <= size - off,
                 "peek says %zu bytes with %zu left", info.message_len,
                 size - off);
    if (info.type == DQ_IPC_EOS)
      break;
    const uint8_t *msg = data + off;
    if (info.type == DQ_IPC_SCHEMA && schema == NULL) {
      if (dq_ipc_decode_schema(msg, info.message_len, &schema, &err) == 0)
        fuzz_require(schema != NULL, "schema decode returned 0 without one");
    } else if (info.type == DQ_IPC_RECORD_BATCH && schema != NULL) {
      decode_batch_both(schema, msg, info.message_len);
    } else {
      /* Wrong message kind for the call: must be refused, not misread. */
      dq_schema *s = NULL;
      if (dq_ipc_decode_schema(msg, info.message_len, &s, &err) == 0)
        dq_schema_unref(s);
    }
    off += info.message_len;
  }
  if (schema != NULL)
    dq_schema_unref(schema);
}

static void read_stream(const uint8_t *data, size_t size) {
  if (size == 0)
    return;
  FILE *f = fmemopen((void *)data, size, "rb");
  if (f == NULL)
    return;
  dq_ipc_reader *r = NULL;
  dq_error err;
  if (dq_ipc_reader_open_file(f, &r, &err) == 0) {
    fuzz_require(dq_ipc_reader_schema(r) != NULL, "reader has no schema");
    for (int i = 0; i < MAX_MESSAGES; i++) {
      dq_batch *b = NULL;
      if (dq_ipc_reader_next(r, &b, &err) != 0 || b == NULL)
        break;
      touch_batch(b);
      dq_batch_unref(b);
    }
    dq_ipc_reader_free(r);
  }
  fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  walk_messages(data, size);
  read_stream(data, size);
  return 0;
}
