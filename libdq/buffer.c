/* buffer.c — dq_buffer: reference-counted bytes behind every array.
 *
 * Two kinds share one struct: owned buffers (dq_buffer_new; 64-byte aligned,
 * zero-filled, padded to a multiple of 64 so vector loops may read whole
 * words past the last value) and wrapped buffers (dq_buffer_wrap; foreign
 * memory such as a received IPC message or an imported ArrowArray, freed by
 * the wrapper's release callback).  `capacity != 0` marks an owned buffer:
 * dq_buffer_new always allocates at least one 64-byte block, and a wrapped
 * buffer has capacity 0. */
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"

#define DQ_BUFFER_ALIGN 64

/* Rounds n up to the alignment; false when that overflows. */
static bool round_up(size_t n, size_t *out) {
  if (n > SIZE_MAX - (DQ_BUFFER_ALIGN - 1))
    return false;
  size_t r = (n + DQ_BUFFER_ALIGN - 1) & ~(size_t)(DQ_BUFFER_ALIGN - 1);
  /* Never allocate zero bytes: aligned_alloc(64, 0) may return NULL, and an
   * owned buffer must always have readable padding. */
  *out = r == 0 ? DQ_BUFFER_ALIGN : r;
  return true;
}

dq_buffer *dq_buffer_new(size_t size) {
  size_t cap;
  if (!round_up(size, &cap))
    return NULL;
  dq_buffer *b = malloc(sizeof *b);
  if (b == NULL)
    return NULL;
  b->data = aligned_alloc(DQ_BUFFER_ALIGN, cap);
  if (b->data == NULL) {
    free(b);
    return NULL;
  }
  /* Zero all of it, padding included: builders rely on fresh bytes being
   * zero (null slots, unset bits), and padding must never leak old heap. */
  memset(b->data, 0, cap);
  atomic_init(&b->refs, 1);
  b->size = size;
  b->capacity = cap;
  b->release = NULL;
  b->release_ctx = NULL;
  return b;
}

dq_buffer *dq_buffer_wrap(void *data, size_t size, void (*release)(void *),
                          void *ctx) {
  if (data == NULL && size != 0)
    return NULL;
  dq_buffer *b = malloc(sizeof *b);
  if (b == NULL)
    return NULL;
  atomic_init(&b->refs, 1);
  b->data = data;
  b->size = size;
  b->capacity = 0;
  b->release = release;
  b->release_ctx = ctx;
  return b;
}

int dq_buffer_reserve(dq_buffer *b, size_t size) {
  /* Only an owned buffer nobody else sees may move: a shared one may be
   * read concurrently, and wrapped memory is not ours to reallocate. */
  if (b == NULL || b->capacity == 0 ||
      atomic_load_explicit(&b->refs, memory_order_acquire) != 1)
    return DQ_EINVAL;
  if (size <= b->capacity)
    return 0;
  /* Double so that appending value by value costs amortized O(1). */
  size_t want = b->capacity <= SIZE_MAX / 2 ? b->capacity * 2 : size;
  if (want < size)
    want = size;
  size_t cap;
  if (!round_up(want, &cap))
    return DQ_ENOMEM;
  uint8_t *data = aligned_alloc(DQ_BUFFER_ALIGN, cap);
  if (data == NULL)
    return DQ_ENOMEM;
  memcpy(data, b->data, b->capacity);
  memset(data + b->capacity, 0, cap - b->capacity);
  free(b->data);
  b->data = data;
  b->capacity = cap;
  return 0;
}

dq_buffer *dq_buffer_ref(dq_buffer *b) {
  if (b != NULL)
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  return b;
}

void dq_buffer_unref(dq_buffer *b) {
  if (b == NULL)
    return;
  /* acq_rel: the thread that frees must see every other holder's writes. */
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (b->capacity != 0)
    free(b->data);
  else if (b->release != NULL)
    b->release(b->release_ctx);
  free(b);
}
