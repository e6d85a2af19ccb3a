/* buffer.c — dq_buffer: reference-counted bytes behind every array.
 *
 * Two kinds share one struct: owned buffers (dq_buffer_new; 64-byte aligned,
 * zero-filled, padded to a multiple of 64 so vector loops may read whole
 * words past the last value) and wrapped buffers (dq_buffer_wrap; foreign
 * memory such as a received IPC message or an imported ArrowArray, freed by
 * the wrapper's release callback).  `capacity != 0` marks an owned buffer:
 * dq_buffer_new always allocates at least one 64-byte block, and a wrapped
 * buffer has capacity 0.
 *
 * Each thread keeps a few of the large blocks it freed for its next
 * dq_buffer_new.  Why: an operator's output column of 8192 decimals is
 * 128 KiB, glibc's mmap threshold, so without the cache each batch's
 * columns came from fresh mmap()s or a re-grown heap top, and page faults
 * plus zeroing fresh pages took 12% of TPC-H Q1.  The cache is small and
 * bounded (BLOCK_CACHE_SLOTS blocks, BLOCK_CACHE_BYTES per thread), and a
 * thread's blocks are freed when it exits; dq_buffer_cached_bytes() says
 * what all threads hold, for tests that count the heap. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/batch_internal.h"

#define DQ_BUFFER_ALIGN 64

#define BLOCK_CACHE_MIN (32u << 10)   /* smaller blocks: malloc is fine */
#define BLOCK_CACHE_MAX (4u << 20)    /* larger: rare, not worth holding */
#define BLOCK_CACHE_SLOTS 8
#define BLOCK_CACHE_BYTES (8u << 20)

typedef struct block_cache {
  size_t n, bytes;
  void *data[BLOCK_CACHE_SLOTS]; /* oldest first */
  size_t cap[BLOCK_CACHE_SLOTS];
  bool registered; /* the exit destructor is armed for this thread */
  bool exiting;    /* it ran: blocks freed from now on are not kept */
} block_cache;

static _Thread_local block_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;
static atomic_size_t cached_total;

static void cache_flush(void *arg) {
  block_cache *c = arg;
  for (size_t i = 0; i < c->n; i++)
    free(c->data[i]);
  atomic_fetch_sub(&cached_total, c->bytes);
  c->n = 0;
  c->bytes = 0;
  /* Other keys' destructors may still free buffers on this thread. */
  c->exiting = true;
}

static void cache_key_init(void) {
  cache_key_ok = pthread_key_create(&cache_key, cache_flush) == 0;
}

/* When libdq is unloaded (dlclose of a program's plugin that linked it),
 * the key must not outlive cache_flush's code; threads still running keep
 * their blocks until they exit, as glibc's own caches do. */
__attribute__((destructor)) static void cache_unload(void) {
  if (cache_key_ok) {
    cache_flush(&cache);
    pthread_key_delete(cache_key);
    cache_key_ok = false;
  }
}

/* A cached block of at least cap bytes (and not wastefully larger), or
 * NULL.  *got is its real capacity. */
static void *cache_take(size_t cap, size_t *got) {
  block_cache *c = &cache;
  for (size_t i = c->n; i-- > 0;) {
    if (c->cap[i] < cap || c->cap[i] / 2 > cap)
      continue;
    void *p = c->data[i];
    *got = c->cap[i];
    c->bytes -= c->cap[i];
    atomic_fetch_sub(&cached_total, c->cap[i]);
    memmove(&c->data[i], &c->data[i + 1], (c->n - i - 1) * sizeof *c->data);
    memmove(&c->cap[i], &c->cap[i + 1], (c->n - i - 1) * sizeof *c->cap);
    c->n--;
    return p;
  }
  return NULL;
}

/* Keeps a freed block, evicting the oldest ones for room; frees it when
 * it is not a size worth keeping or the thread cannot be cleaned up. */
static void cache_put(void *data, size_t cap) {
  block_cache *c = &cache;
  if (cap < BLOCK_CACHE_MIN || cap > BLOCK_CACHE_MAX || c->exiting) {
    free(data);
    return;
  }
  if (!c->registered) {
    pthread_once(&cache_once, cache_key_init);
    if (!cache_key_ok || pthread_setspecific(cache_key, c) != 0) {
      free(data);
      return;
    }
    c->registered = true;
  }
  while (c->n == BLOCK_CACHE_SLOTS || c->bytes + cap > BLOCK_CACHE_BYTES) {
    if (c->n == 0) {
      free(data);
      return;
    }
    free(c->data[0]);
    c->bytes -= c->cap[0];
    atomic_fetch_sub(&cached_total, c->cap[0]);
    memmove(&c->data[0], &c->data[1], (c->n - 1) * sizeof *c->data);
    memmove(&c->cap[0], &c->cap[1], (c->n - 1) * sizeof *c->cap);
    c->n--;
  }
  c->data[c->n] = data;
  c->cap[c->n++] = cap;
  c->bytes += cap;
  atomic_fetch_add(&cached_total, cap);
}

size_t dq_buffer_cached_bytes(void) { return atomic_load(&cached_total); }

void dq_buffer_cache_release(void) {
  cache_flush(&cache);
  cache.exiting = false; /* the thread goes on: it may cache again */
}

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
  b->data = cap >= BLOCK_CACHE_MIN ? cache_take(cap, &cap) : NULL;
  if (b->data == NULL)
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
    cache_put(b->data, b->capacity);
  else if (b->release != NULL)
    b->release(b->release_ctx);
  free(b);
}
