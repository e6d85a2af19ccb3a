/* hmap.h — a small hash map from byte strings to pointers: the worker's
 * task table (keyed by the 24-byte task key) and the config parser's table
 * of keys already seen.  Lookups, inserts and removals are O(1) on average
 * whatever the size, where the linked lists they replace made a worker with
 * tens of thousands of tasks take minutes to retire them.
 *
 * Not thread-safe: the owner holds its own lock. */
#ifndef DQ_HMAP_H
#define DQ_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dq_hmap_entry dq_hmap_entry;

typedef struct dq_hmap {
  dq_hmap_entry **buckets; /* NULL until the first insert */
  size_t n_buckets;        /* a power of two, or 0 */
  size_t n;                /* entries */
} dq_hmap;

/* An empty map (no allocation). */
#define DQ_HMAP_INIT {NULL, 0, 0}

/* The value stored under key, or NULL. */
void *dq_hmap_get(const dq_hmap *m, const void *key, size_t len);
/* Stores value under key (replacing any value there).  0, or DQ_ENOMEM
 * with the map unchanged. */
int dq_hmap_put(dq_hmap *m, const void *key, size_t len, void *value);
/* Removes key; returns the value it had, or NULL. */
void *dq_hmap_remove(dq_hmap *m, const void *key, size_t len);
/* Some entry's value (for draining a map one entry at a time), or NULL
 * when it is empty. */
void *dq_hmap_any(const dq_hmap *m);
/* Calls fn on every value; fn must not change the map. */
void dq_hmap_each(const dq_hmap *m, void (*fn)(void *value, void *ctx),
                  void *ctx);
/* Frees the map's memory (not the values) and leaves it empty. */
void dq_hmap_clear(dq_hmap *m);

#endif /* DQ_HMAP_H */
