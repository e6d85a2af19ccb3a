/* batch_internal.h — the layout of buffers, arrays and batches, for libdq's
 * own vectorized code (executor, generator, IPC codec) that reads and writes
 * values in bulk instead of through the public per-value accessors.
 *
 * Invariants every producer of these structs keeps:
 *  - arrays start at offset 0 (an imported Arrow array with an offset is
 *    normalised on import), so value i lives at index i of `values`;
 *  - `validity` is NULL when null_count == 0, else a bitmap of >= length bits;
 *  - fixed-width values: `values->size >= length * width`; BOOL: a bitmap;
 *    UTF8: `offsets` holds length+1 int32 offsets into `values`, monotonic,
 *    within `values->size`; the first offset is >= 0 but not necessarily 0
 *    (Arrow allows that, and a zero-copy import of a slice produces it), so
 *    row i is values[offsets[i] .. offsets[i+1]);
 *  - buffers made by dq_buffer_new are 64-byte aligned and padded to 64
 *    bytes, so vector loops may read whole words past the last value.
 *    Wrapped buffers (IPC messages, imported ArrowArrays) are only aligned to
 *    min(value width, 8) and not padded: read no further than `size`, and
 *    load decimals with memcpy (they may be 8- but not 16-byte aligned).
 */
#ifndef DQ_BATCH_INTERNAL_H
#define DQ_BATCH_INTERNAL_H

#include <stdatomic.h>

#include <dq/batch.h>
#include "base/internal_export.h"

typedef __int128 dq_i128;

/* Reference-counted bytes.  `release` (if set) frees foreign memory that the
 * buffer wraps without owning, e.g. a received message or an imported
 * ArrowArray; otherwise `data` was allocated by dq_buffer_new. */
typedef struct dq_buffer {
  atomic_long refs;
  uint8_t *data;
  size_t size;     /* bytes in use */
  size_t capacity; /* bytes allocated (owned buffers only) */
  void (*release)(void *ctx);
  void *release_ctx;
} dq_buffer;

/* New zero-filled, 64-byte aligned buffer of `size` bytes (capacity rounded
 * up to 64).  NULL when out of memory. */
dq_buffer *dq_buffer_new(size_t size);
/* Wraps foreign memory; release(ctx) runs when the last reference goes
 * (release may be NULL for memory that outlives every reference).  NULL when
 * out of memory or when data is NULL but size is not 0; release is then not
 * called and the caller still owns the memory. */
dq_buffer *dq_buffer_wrap(void *data, size_t size, void (*release)(void *),
                          void *ctx);
/* Grows an owned, unshared buffer's capacity to at least `size` bytes
 * (contents kept, new bytes zeroed; at least doubles, so appends are
 * amortized O(1)).  `size` (bytes in use) is left for the caller to set.
 * 0, DQ_ENOMEM, or DQ_EINVAL for a wrapped or shared buffer. */
int dq_buffer_reserve(dq_buffer *b, size_t size);
dq_buffer *dq_buffer_ref(dq_buffer *b);
/* Bytes of freed buffer blocks that threads keep for reuse (buffer.c):
 * bounded per thread and freed at thread exit, but counted by mallinfo. */
DQ_INTERNAL
size_t dq_buffer_cached_bytes(void);
/* Frees the calling thread's cached blocks now.  A detached thread calls
 * it before it tells a waiter it is done: the waiter may end the process
 * before the thread's exit destructor runs, and the blocks would show as
 * leaked. */
void dq_buffer_cache_release(void);
void dq_buffer_unref(dq_buffer *b);

struct dq_array {
  atomic_long refs;
  dq_type type;
  int64_t length;
  int64_t null_count;
  dq_buffer *validity; /* NULL when null_count == 0 */
  dq_buffer *values;   /* fixed-width values, BOOL bitmap, or UTF8 bytes */
  dq_buffer *offsets;  /* UTF8: int32[length + 1]; otherwise NULL */
};

/* Assembles an array from buffers, taking over the caller's references (they
 * are dropped on failure too).  Checks everything against length and type,
 * since the IPC decoder passes untrusted data: type parameters, null_count
 * (-1 means "count it"; otherwise it must match the bitmap), buffer sizes and
 * alignment, UTF8 offsets.  A validity buffer with no nulls is dropped.  A
 * NULL values (or UTF8 offsets) buffer is accepted only where its required
 * size is 0 (an empty array), and replaced by an empty owned buffer. */
int dq_array_from_buffers(dq_type type, int64_t length, int64_t null_count,
                          dq_buffer *validity, dq_buffer *values,
                          dq_buffer *offsets, dq_array **out, dq_error *err);

/* DQ_EINVAL with a sentence unless t is a known type with valid parameters
 * (DECIMAL: precision 1..38, scale 0..precision). */
int dq_type_check(dq_type t, dq_error *err);
/* Same type; precision and scale count only for DECIMAL. */
bool dq_type_equal(dq_type a, dq_type b);

struct dq_schema {
  atomic_long refs;
  size_t n_fields;
  char **names;
  dq_type *types;
  bool *nullable;
  /* Per field, 1 when it was imported from a decimal128 that dq stores as
   * decimal64 (decimal_width.h); NULL when no field was. */
  uint8_t *wide_dec;
};

struct dq_batch {
  atomic_long refs;
  dq_schema *schema;
  int64_t n_rows;
  dq_array **columns; /* schema->n_fields entries */
};

static inline bool dq_bit_get(const uint8_t *bits, int64_t i) {
  return (bits[i >> 3] >> (i & 7)) & 1;
}
static inline void dq_bit_set(uint8_t *bits, int64_t i, bool v) {
  if (v)
    bits[i >> 3] |= (uint8_t)(1u << (i & 7));
  else
    bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}
static inline bool dq_array_valid(const dq_array *a, int64_t i) {
  return a->validity == NULL || dq_bit_get(a->validity->data, i);
}
static inline dq_i128 dq_decimal_to_i128(dq_decimal d) {
  return (dq_i128)(((unsigned __int128)(uint64_t)d.hi << 64) | d.lo);
}
static inline dq_decimal dq_decimal_from_i128(dq_i128 v) {
  dq_decimal d;
  d.lo = (uint64_t)v;
  d.hi = (int64_t)(v >> 64);
  return d;
}

#endif /* DQ_BATCH_INTERNAL_H */
