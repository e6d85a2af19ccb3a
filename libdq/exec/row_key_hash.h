/* row_key_hash.h — hashing and comparing encoded row keys (dq_row_keys)
 * inside one operator's hash table: the aggregate's groups and the hash
 * join's build side.
 *
 * Not the routing hash (dq_hash_columns / dq_hash_bytes): that one is a
 * wire contract, fixed forever, and costs three full mixes for a 9-byte
 * key.  These tables live and die in one process, so they use a cheaper
 * multiply-xorshift per 8 bytes and a final mix, so that the low bits (the
 * slot) and the high bits (the aggregate's slot tag) both depend on every
 * byte.  Keys are short (an int64 key encodes in 9 bytes), so they are
 * compared inline rather than through a memcmp call per row. */
#ifndef DQ_ROW_KEY_HASH_H
#define DQ_ROW_KEY_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t dq_row_key_hash(const uint8_t *k, size_t len) {
  const uint64_t m = 0x9e3779b97f4a7c15ull;
  uint64_t h = (uint64_t)len * m;
  for (; len >= 8; k += 8, len -= 8) {
    uint64_t w;
    memcpy(&w, k, 8);
    h = (h ^ w) * m;
    h ^= h >> 29;
  }
  if (len > 0) {
    uint64_t w = 0;
    for (size_t j = 0; j < len; j++)
      w |= (uint64_t)k[j] << (8 * j);
    h = (h ^ w) * m;
    h ^= h >> 29;
  }
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

static inline bool dq_row_key_eq(const uint8_t *x, const uint8_t *y,
                                 size_t len) {
  for (; len >= 8; x += 8, y += 8, len -= 8) {
    uint64_t u, v;
    memcpy(&u, x, 8);
    memcpy(&v, y, 8);
    if (u != v)
      return false;
  }
  for (size_t j = 0; j < len; j++)
    if (x[j] != y[j])
      return false;
  return true;
}

#endif /* DQ_ROW_KEY_HASH_H */
