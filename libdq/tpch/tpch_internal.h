/* tpch_internal.h — pieces shared by the TPC-H generator's two files: the
 * counter-based random numbers (tpch.c) and the spec's word lists and text
 * pool (tpch_text.c).
 *
 * Random numbers: a value is mix64(stream_key + index * GOLDEN), i.e. the
 * output of splitmix64 at position `index` of a sequence whose start depends
 * on (seed, stream).  No state is carried from one value to the next, which
 * is what lets any slice of a table be generated on its own, and all of it
 * is integer arithmetic, so every machine gets the same bits.
 */
#ifndef DQ_TPCH_INTERNAL_H
#define DQ_TPCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define TPCH_GOLDEN 0x9E3779B97F4A7C15ull

/* The splitmix64 finaliser (Steele, Lea, Flood 2014): a bijection on 64-bit
 * words whose output passes BigCrush for consecutive inputs. */
static inline uint64_t tpch_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The start of stream `stream` for a seed. */
static inline uint64_t tpch_stream_key(uint64_t seed, unsigned stream) {
  return tpch_mix64(seed ^ tpch_mix64((uint64_t)stream * TPCH_GOLDEN +
                                      0x632BE59BD9B4E019ull));
}

/* The value at position idx of a stream. */
static inline uint64_t tpch_rnd(uint64_t key, uint64_t idx) {
  return tpch_mix64(key + idx * TPCH_GOLDEN);
}

/* A number in [0, n) from 64 random bits by multiply-shift (Lemire): no
 * division, and the bias (< n / 2^64) is far below anything measurable. */
static inline uint64_t tpch_below(uint64_t r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)r * n) >> 64);
}

/* Draws a number in [0, n) from *r and leaves in *r the unused low bits
 * of the product, so one 64-bit value yields several small draws. */
static inline uint64_t tpch_draw(uint64_t *r, uint64_t n) {
  unsigned __int128 m = (unsigned __int128)*r * n;
  *r = (uint64_t)m;
  return (uint64_t)(m >> 64);
}

/* --- Word lists (tpch_text.c) --------------------------------------------- */
/* Words are stored zero-padded to a fixed size so that writers can copy
 * TPCH_WORD_MAX bytes with one constant-size memcpy (a couple of vector
 * moves) and advance by len, instead of a variable-length libc call. */
#define TPCH_WORD_MAX 24
typedef struct tpch_word {
  char s[TPCH_WORD_MAX];
  uint32_t len;
} tpch_word;

extern const tpch_word tpch_colors[92];
extern const tpch_word tpch_type_s1[6], tpch_type_s2[5], tpch_type_s3[5];
extern const tpch_word tpch_container_s1[5], tpch_container_s2[8];
extern const tpch_word tpch_segments[5];
extern const tpch_word tpch_priorities[5];
extern const tpch_word tpch_instructions[4];
extern const tpch_word tpch_modes[7];
extern const tpch_word tpch_nations[25];
extern const int tpch_nation_region[25];
extern const tpch_word tpch_regions[5];
/* The 64-character alphabet of v-strings (addresses). */
extern const char tpch_vstring_alphabet[64];

/* The text pool: TPCH_TEXT_POOL_SIZE bytes of sentences from the spec's
 * grammar (4.2.2.10), built once per process from a fixed seed and then
 * read-only.  A comment is a substring of it at a random offset, as in
 * dbgen, which makes comments cost one memcpy.  The pool is followed by
 * TPCH_TEXT_POOL_SLACK readable bytes, so any substring of at most that
 * length starting inside the pool is in bounds. */
#define TPCH_TEXT_POOL_SIZE (1u << 20)
#define TPCH_TEXT_POOL_SLACK 256u
const char *tpch_text_pool(void);

#endif /* DQ_TPCH_INTERNAL_H */
