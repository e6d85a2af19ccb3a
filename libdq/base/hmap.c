/* hmap.c — the byte-string hash map of hmap.h: separate chaining, FNV-1a
 * hashes kept in the entries so that growing never rehashes keys, the
 * table doubling at one entry per bucket.  Removal frees the entry at once
 * (no tombstones), so a table that held 65,536 tasks and emptied costs no
 * more to search than a fresh one. */
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>

#include "base/hmap.h"

struct dq_hmap_entry {
  dq_hmap_entry *next;
  uint64_t hash;
  void *value;
  size_t len;
  unsigned char key[]; /* a copy of the key */
};

static uint64_t hash_bytes(const void *key, size_t len) {
  const unsigned char *p = key;
  uint64_t h = UINT64_C(14695981039346656037);
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= UINT64_C(1099511628211);
  }
  return h ^ (h >> 29);
}

static dq_hmap_entry **slot(const dq_hmap *m, const void *key, size_t len,
                            uint64_t h) {
  dq_hmap_entry **pp = &m->buckets[h & (m->n_buckets - 1)];
  for (; *pp != NULL; pp = &(*pp)->next)
    if ((*pp)->hash == h && (*pp)->len == len &&
        memcmp((*pp)->key, key, len) == 0)
      break;
  return pp;
}

void *dq_hmap_get(const dq_hmap *m, const void *key, size_t len) {
  if (m->n == 0)
    return NULL;
  dq_hmap_entry *e = *slot(m, key, len, hash_bytes(key, len));
  return e ? e->value : NULL;
}

static int grow(dq_hmap *m) {
  size_t nb = m->n_buckets ? m->n_buckets * 2 : 16;
  dq_hmap_entry **b = calloc(nb, sizeof *b);
  if (b == NULL)
    return DQ_ENOMEM;
  for (size_t i = 0; i < m->n_buckets; i++)
    for (dq_hmap_entry *e = m->buckets[i], *next; e != NULL; e = next) {
      next = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
  free(m->buckets);
  m->buckets = b;
  m->n_buckets = nb;
  return 0;
}

int dq_hmap_put(dq_hmap *m, const void *key, size_t len, void *value) {
  uint64_t h = hash_bytes(key, len);
  if (m->n_buckets > 0) {
    dq_hmap_entry *e = *slot(m, key, len, h);
    if (e != NULL) {
      e->value = value;
      return 0;
    }
  }
  /* A failed grow leaves a working (if fuller) table behind. */
  if (m->n >= m->n_buckets && grow(m) < 0 && m->n_buckets == 0)
    return DQ_ENOMEM;
  dq_hmap_entry *e = malloc(sizeof *e + len);
  if (e == NULL)
    return DQ_ENOMEM;
  e->hash = h;
  e->value = value;
  e->len = len;
  memcpy(e->key, key, len);
  dq_hmap_entry **head = &m->buckets[h & (m->n_buckets - 1)];
  e->next = *head;
  *head = e;
  m->n++;
  return 0;
}

void *dq_hmap_remove(dq_hmap *m, const void *key, size_t len) {
  if (m->n == 0)
    return NULL;
  dq_hmap_entry **pp = slot(m, key, len, hash_bytes(key, len));
  dq_hmap_entry *e = *pp;
  if (e == NULL)
    return NULL;
  void *v = e->value;
  *pp = e->next;
  free(e);
  m->n--;
  return v;
}

void *dq_hmap_any(const dq_hmap *m) {
  for (size_t i = 0; m->n > 0 && i < m->n_buckets; i++)
    if (m->buckets[i] != NULL)
      return m->buckets[i]->value;
  return NULL;
}

void dq_hmap_each(const dq_hmap *m, void (*fn)(void *value, void *ctx),
                  void *ctx) {
  for (size_t i = 0; i < m->n_buckets; i++)
    for (dq_hmap_entry *e = m->buckets[i]; e != NULL; e = e->next)
      fn(e->value, ctx);
}

void dq_hmap_clear(dq_hmap *m) {
  for (size_t i = 0; i < m->n_buckets; i++)
    for (dq_hmap_entry *e = m->buckets[i], *next; e != NULL; e = next) {
      next = e->next;
      free(e);
    }
  free(m->buckets);
  m->buckets = NULL;
  m->n_buckets = 0;
  m->n = 0;
}
