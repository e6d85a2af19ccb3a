/* expr_array.c — array kernels shared by the evaluator and the operators:
 * making output arrays, constants, take (gather), slice, concat, the
 * partitioning hash, and order-preserving row keys (sort and group-by).
 *
 * Row keys turn "compare these k columns with these directions and null
 * placements" into one memcmp, so the sort and the hash aggregate never
 * dispatch on types per row: every type is encoded once per batch, column
 * at a time, into bytes whose unsigned lexicographic order is the wanted
 * order (big-endian, sign bit flipped, floats in total order, strings
 * escaped and terminated so no key is a prefix of another). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "arrow/decimal_width.h"

/* --- Output arrays -------------------------------------------------------- */

int dq_out_init(dq_array_out *o, dq_type t, int64_t n, bool nullable,
                int64_t utf8_bytes, dq_error *err) {
  memset(o, 0, sizeof *o);
  o->type = t;
  o->n = n;
  size_t vsize;
  if (t.id == DQ_TYPE_BOOL)
    vsize = (size_t)(n + 7) / 8;
  else if (t.id == DQ_TYPE_UTF8)
    vsize = (size_t)utf8_bytes;
  else
    vsize = (size_t)n * dq_type_width(t);
  o->values = dq_buffer_new(vsize);
  if (t.id == DQ_TYPE_UTF8)
    o->offsets = dq_buffer_new(((size_t)n + 1) * sizeof(int32_t));
  if (nullable)
    o->validity = dq_buffer_new((size_t)(n + 7) / 8);
  if (o->values == NULL || (t.id == DQ_TYPE_UTF8 && o->offsets == NULL) ||
      (nullable && o->validity == NULL)) {
    dq_out_discard(o);
    return dq_error_set(err, DQ_ENOMEM, "out of memory allocating an array "
                        "of %" PRId64 " rows", n);
  }
  return 0;
}

int dq_out_finish(dq_array_out *o, dq_array **out, dq_error *err) {
  int rc = dq_array_from_buffers(o->type, o->n, o->validity ? -1 : 0,
                                 o->validity, o->values, o->offsets, out, err);
  o->validity = o->values = o->offsets = NULL;
  return rc;
}

void dq_out_discard(dq_array_out *o) {
  dq_buffer_unref(o->values);
  dq_buffer_unref(o->validity);
  dq_buffer_unref(o->offsets);
  o->values = o->validity = o->offsets = NULL;
}

int dq_array_constant(const dq_scalar *s, int64_t n, dq_array **out,
                      dq_error *err) {
  dq_array_out o;
  int64_t bytes = 0;
  if (s->type.id == DQ_TYPE_UTF8 && !s->is_null) {
    if (s->len > 0 && (uint64_t)n > (uint64_t)INT32_MAX / s->len)
      return dq_error_set(err, DQ_ETOOBIG, "a constant string of %zu bytes "
                          "repeated %" PRId64 " times exceeds 2 GiB",
                          s->len, n);
    bytes = (int64_t)s->len * n;
  }
  int rc = dq_out_init(&o, s->type, n, s->is_null, bytes, err);
  if (rc != 0)
    return rc;
  if (!s->is_null) {
    uint8_t *v = o.values->data;
    switch (s->type.id) {
    case DQ_TYPE_BOOL:
      if (s->v.b) {
        memset(v, 0xff, (size_t)(n + 7) / 8);
        if (n & 7)
          v[n >> 3] = (uint8_t)((1u << (n & 7)) - 1);
      }
      break;
    case DQ_TYPE_INT32:
    case DQ_TYPE_DATE32:
      for (int64_t i = 0; i < n; i++)
        ((int32_t *)v)[i] = s->v.i32;
      break;
    case DQ_TYPE_INT64:
      for (int64_t i = 0; i < n; i++)
        ((int64_t *)v)[i] = s->v.i64;
      break;
    case DQ_TYPE_FLOAT64:
      for (int64_t i = 0; i < n; i++)
        ((double *)v)[i] = s->v.f64;
      break;
    case DQ_TYPE_DECIMAL:
      if (dq_type_width(o.type) == 8) /* precision <= 18: the value fits */
        for (int64_t i = 0; i < n; i++)
          ((int64_t *)v)[i] = (int64_t)s->v.dec;
      else
        for (int64_t i = 0; i < n; i++)
          ((dq_i128 *)v)[i] = s->v.dec;
      break;
    case DQ_TYPE_UTF8: {
      int32_t *off = (int32_t *)o.offsets->data;
      for (int64_t i = 0; i < n; i++) {
        off[i] = (int32_t)(i * (int64_t)s->len);
        if (s->len)
          memcpy(v + i * (int64_t)s->len, s->str, s->len);
      }
      off[n] = (int32_t)(n * (int64_t)s->len);
      break;
    }
    }
  }
  return dq_out_finish(&o, out, err);
}

/* --- Take, slice, concat -------------------------------------------------- */

/* A filter keeping most rows gives indices in long ascending runs: those
 * are copied a run at a time (one memcpy per run instead of a load and a
 * store, or a memcpy call, per value).  Dense: the indices span at most
 * n + n/8 rows, so runs average 8 or more (exact for increasing indices,
 * which is what filters give; for any others the run copy is still right,
 * only slower). */
static bool take_dense(const uint32_t *idx, int64_t n) {
  return n >= 64 && idx[n - 1] >= idx[0] &&
         (int64_t)(idx[n - 1] - idx[0]) < n + n / 8;
}

/* Runs the body (the variadic argument, so that it may hold commas) with
 * i, j bounding each maximal run idx[i..j) of consecutive indices. */
#define EACH_RUN(idx, n, ...)                                                  \
  for (int64_t i = 0, j; i < (n); i = j) {                                     \
    for (j = i + 1; j < (n) && (idx)[j] == (idx)[j - 1] + 1; j++)              \
      ;                                                                        \
    __VA_ARGS__;                                                               \
  }

int dq_array_take(const dq_array *a, const uint32_t *idx, int64_t n,
                  dq_array **out, dq_error *err) {
  dq_array_out o;
  int64_t bytes = 0;
  const int32_t *so = NULL;
  if (a->type.id == DQ_TYPE_UTF8) {
    so = (const int32_t *)a->offsets->data;
    for (int64_t i = 0; i < n; i++)
      bytes += so[idx[i] + 1] - so[idx[i]];
    if (bytes > INT32_MAX)
      return dq_error_set(err, DQ_ETOOBIG, "gathered strings exceed 2 GiB "
                          "(%" PRId64 " bytes)", bytes);
  }
  int rc = dq_out_init(&o, a->type, n, a->validity != NULL, bytes, err);
  if (rc != 0)
    return rc;
  const uint8_t *sv = a->values->data;
  uint8_t *dv = o.values->data;
  size_t w = dq_type_width(a->type);
  if (a->type.id != DQ_TYPE_BOOL && take_dense(idx, n)) {
    if (a->type.id == DQ_TYPE_UTF8) {
      int32_t *d = (int32_t *)o.offsets->data;
      int32_t pos = 0;
      EACH_RUN(idx, n, {
        int32_t base = so[idx[i]], end = so[idx[j - 1] + 1];
        for (int64_t k = i; k < j; k++)
          d[k] = pos + (so[idx[k]] - base);
        memcpy(dv + pos, sv + base, (size_t)(end - base));
        pos += end - base;
      });
      d[n] = pos;
    } else {
      EACH_RUN(idx, n,
               memcpy(dv + w * (size_t)i, sv + w * (size_t)idx[i],
                      w * (size_t)(j - i)));
    }
    goto validity;
  }
  switch (a->type.id) {
  case DQ_TYPE_BOOL:
    for (int64_t i = 0; i < n; i++)
      if (dq_bit_get(sv, idx[i]))
        dv[i >> 3] |= (uint8_t)(1u << (i & 7));
    break;
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32:
    for (int64_t i = 0; i < n; i++)
      ((int32_t *)dv)[i] = ((const int32_t *)sv)[idx[i]];
    break;
  case DQ_TYPE_INT64:
  case DQ_TYPE_FLOAT64:
    for (int64_t i = 0; i < n; i++)
      ((int64_t *)dv)[i] = ((const int64_t *)sv)[idx[i]];
    break;
  case DQ_TYPE_DECIMAL:
    if (w == 8)
      for (int64_t i = 0; i < n; i++)
        ((int64_t *)dv)[i] = ((const int64_t *)sv)[idx[i]];
    else
      for (int64_t i = 0; i < n; i++)
        memcpy(dv + 16 * i, sv + 16 * (size_t)idx[i], 16);
    break;
  case DQ_TYPE_UTF8: {
    int32_t *d = (int32_t *)o.offsets->data;
    int32_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
      int32_t s = so[idx[i]], len = so[idx[i] + 1] - s;
      d[i] = pos;
      if (len)
        memcpy(dv + pos, sv + s, (size_t)len);
      pos += len;
    }
    d[n] = pos;
    break;
  }
  }
validity:
  if (a->validity) {
    const uint8_t *sn = a->validity->data;
    uint8_t *dn = o.validity->data;
    for (int64_t i = 0; i < n; i++)
      if (dq_bit_get(sn, idx[i]))
        dn[i >> 3] |= (uint8_t)(1u << (i & 7));
  }
  return dq_out_finish(&o, out, err);
}

static int batch_from_columns(dq_schema *schema, int64_t n, dq_array **cols,
                              size_t nc, dq_batch **out, dq_error *err) {
  int rc = dq_batch_new(schema, n, cols, out, err);
  for (size_t c = 0; c < nc; c++)
    dq_array_unref(cols[c]);
  free(cols);
  return rc;
}

int dq_batch_take(const dq_batch *b, const uint32_t *idx, int64_t n,
                  dq_batch **out, dq_error *err) {
  size_t nc = b->schema->n_fields;
  dq_array **cols = calloc(nc ? nc : 1, sizeof *cols);
  if (cols == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory gathering rows");
  for (size_t c = 0; c < nc; c++) {
    int rc = dq_array_take(b->columns[c], idx, n, &cols[c], err);
    if (rc != 0) {
      for (size_t k = 0; k < c; k++)
        dq_array_unref(cols[k]);
      free(cols);
      return rc;
    }
  }
  return batch_from_columns(b->schema, n, cols, nc, out, err);
}

int dq_batch_slice(const dq_batch *b, int64_t start, int64_t n,
                   dq_batch **out, dq_error *err) {
  if (start == 0 && n == b->n_rows) {
    *out = dq_batch_ref((dq_batch *)b);
    return 0;
  }
  size_t nc = b->schema->n_fields;
  if (start == 0) {
    /* A prefix shares the buffers: arrays start at offset 0 either way. */
    dq_array **cols = calloc(nc ? nc : 1, sizeof *cols);
    if (cols == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory slicing a batch");
    for (size_t c = 0; c < nc; c++) {
      const dq_array *a = b->columns[c];
      int rc = dq_array_from_buffers(a->type, n, a->validity ? -1 : 0,
                                     dq_buffer_ref(a->validity),
                                     dq_buffer_ref(a->values),
                                     dq_buffer_ref(a->offsets), &cols[c], err);
      if (rc != 0) {
        for (size_t k = 0; k < c; k++)
          dq_array_unref(cols[k]);
        free(cols);
        return rc;
      }
    }
    return batch_from_columns(b->schema, n, cols, nc, out, err);
  }
  uint32_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
  if (idx == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory slicing a batch");
  for (int64_t i = 0; i < n; i++)
    idx[i] = (uint32_t)(start + i);
  int rc = dq_batch_take(b, idx, n, out, err);
  free(idx);
  return rc;
}

static int concat_column(dq_batch *const *bs, size_t nb, size_t c,
                         int64_t total, dq_array **out, dq_error *err) {
  dq_type t = bs[0]->columns[c]->type;
  bool nullable = false;
  int64_t bytes = 0;
  for (size_t k = 0; k < nb; k++) {
    const dq_array *a = bs[k]->columns[c];
    nullable |= a->validity != NULL;
    if (t.id == DQ_TYPE_UTF8)
      bytes += ((const int32_t *)a->offsets->data)[a->length];
  }
  if (bytes > INT32_MAX)
    return dq_error_set(err, DQ_ETOOBIG, "concatenated strings exceed 2 GiB "
                        "(%" PRId64 " bytes)", bytes);
  dq_array_out o;
  int rc = dq_out_init(&o, t, total, nullable, bytes, err);
  if (rc != 0)
    return rc;
  uint8_t *dv = o.values->data;
  size_t w = dq_type_width(t);
  int64_t row = 0, pos = 0;
  for (size_t k = 0; k < nb; k++) {
    const dq_array *a = bs[k]->columns[c];
    int64_t n = a->length;
    const uint8_t *sv = a->values->data;
    if (t.id == DQ_TYPE_BOOL) {
      for (int64_t i = 0; i < n; i++)
        if (dq_bit_get(sv, i))
          dq_bit_set(dv, row + i, true);
    } else if (t.id == DQ_TYPE_UTF8) {
      const int32_t *so = (const int32_t *)a->offsets->data;
      int32_t *d = (int32_t *)o.offsets->data;
      for (int64_t i = 0; i < n; i++)
        d[row + i] = (int32_t)(pos + so[i] - so[0]);
      int32_t len = so[n] - so[0];
      if (len)
        memcpy(dv + pos, sv + so[0], (size_t)len);
      pos += len;
    } else if (n > 0) {
      memcpy(dv + (size_t)row * w, sv, (size_t)n * w);
    }
    if (nullable) {
      uint8_t *dn = o.validity->data;
      if (a->validity == NULL) {
        for (int64_t i = 0; i < n; i++)
          dq_bit_set(dn, row + i, true);
      } else {
        const uint8_t *sn = a->validity->data;
        for (int64_t i = 0; i < n; i++)
          if (dq_bit_get(sn, i))
            dq_bit_set(dn, row + i, true);
      }
    }
    row += n;
  }
  if (t.id == DQ_TYPE_UTF8)
    ((int32_t *)o.offsets->data)[total] = (int32_t)pos;
  return dq_out_finish(&o, out, err);
}

int dq_batch_concat(dq_schema *schema, dq_batch *const *bs, size_t n,
                    dq_batch **out, dq_error *err) {
  if (n == 1) {
    *out = dq_batch_ref(bs[0]);
    return 0;
  }
  int64_t total = 0;
  for (size_t k = 0; k < n; k++)
    total += bs[k]->n_rows;
  if (total > UINT32_MAX)
    return dq_error_set(err, DQ_ETOOBIG, "%" PRId64 " rows are too many to "
                        "hold in one batch", total);
  size_t nc = schema->n_fields;
  dq_array **cols = calloc(nc ? nc : 1, sizeof *cols);
  if (cols == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory concatenating");
  for (size_t c = 0; c < nc; c++) {
    int rc;
    if (n == 0) {
      dq_array_out o;
      if ((rc = dq_out_init(&o, schema->types[c], 0, false, 0, err)) == 0)
        rc = dq_out_finish(&o, &cols[c], err);
    } else {
      rc = concat_column(bs, n, c, total, &cols[c], err);
    }
    if (rc != 0) {
      for (size_t k = 0; k < c; k++)
        dq_array_unref(cols[k]);
      free(cols);
      return rc;
    }
  }
  return batch_from_columns(schema, total, cols, nc, out, err);
}

int dq_batch_reschema(const dq_batch *b, dq_schema *schema, dq_batch **out,
                      dq_error *err) {
  if (b->schema == schema || dq_schema_equal(b->schema, schema)) {
    *out = dq_batch_ref((dq_batch *)b);
    return 0;
  }
  if (schema->n_fields != b->schema->n_fields)
    return dq_error_set(err, DQ_EPROTO, "a batch of %zu columns arrived "
                        "where %zu were expected", b->schema->n_fields,
                        schema->n_fields);
  return dq_batch_new(schema, b->n_rows, b->columns, out, err);
}

/* --- Hashing ----------------------------------------------------------------
 * The partitioning hash is part of the wire contract (two builds must route
 * a key to the same partition), so it is defined here exactly:
 *   h_0 = 0x84222325cbf29ce4;  h_{c+1} = fmix64(h_c + u_c * K)
 * with K = 0x9e3779b97f4a7c15, fmix64 MurmurHash3's 64-bit finaliser, and
 * u_c the value of column c in the row: NULL -> 0x6a09e667f3bcc909; bool
 * -> 0/1; int32/date32 sign-extended to 64 bits (so an int32 and an int64
 * of equal value hash alike); int64 as is; float64 its IEEE bits with -0.0
 * as 0.0 and every NaN as 0x7ff8000000000000; decimal lo ^ fmix64(hi);
 * utf8 dq_hash_bytes(bytes, len, 0). */

static inline uint64_t fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

#define HASH_K 0x9e3779b97f4a7c15ULL
#define HASH_NULL 0x6a09e667f3bcc909ULL
#define HASH_SEED 0x84222325cbf29ce4ULL

uint64_t dq_hash_bytes(const void *data, size_t len, uint64_t seed) {
  const uint8_t *p = data;
  uint64_t h = seed ^ ((uint64_t)len * HASH_K);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ fmix64(w)) * HASH_K;
  }
  if (i < len) {
    uint64_t w = 0;
    memcpy(&w, p + i, len - i);
    h = (h ^ fmix64(w ^ 0xff)) * HASH_K;
  }
  return fmix64(h);
}

static inline uint64_t f64_bits(double d) {
  uint64_t u;
  if (d == 0.0)
    return 0;
  if (isnan(d))
    return 0x7ff8000000000000ULL;
  memcpy(&u, &d, 8);
  return u;
}

void dq_hash_columns(const dq_array *const *cols, size_t n_cols, int64_t n,
                     uint64_t *h) {
  for (int64_t i = 0; i < n; i++)
    h[i] = HASH_SEED;
  for (size_t c = 0; c < n_cols; c++) {
    const dq_array *a = cols[c];
    const uint8_t *v = a->values->data;
    const uint8_t *valid = a->validity ? a->validity->data : NULL;
#define HLOOP(U)                                                               \
  do {                                                                         \
    if (valid == NULL)                                                         \
      for (int64_t i = 0; i < n; i++)                                          \
        h[i] = fmix64(h[i] + (U) * HASH_K);                                    \
    else                                                                       \
      for (int64_t i = 0; i < n; i++)                                          \
        h[i] = fmix64(h[i] + (dq_bit_get(valid, i) ? (U) : HASH_NULL) *        \
                                 HASH_K);                                      \
  } while (0)
    switch (a->type.id) {
    case DQ_TYPE_BOOL: HLOOP((uint64_t)dq_bit_get(v, i)); break;
    case DQ_TYPE_INT32:
    case DQ_TYPE_DATE32:
      HLOOP((uint64_t)(int64_t)((const int32_t *)v)[i]);
      break;
    case DQ_TYPE_INT64: HLOOP((uint64_t)((const int64_t *)v)[i]); break;
    case DQ_TYPE_FLOAT64: HLOOP(f64_bits(((const double *)v)[i])); break;
    case DQ_TYPE_DECIMAL: {
      const uint64_t *d = (const uint64_t *)v;
      if (dq_type_width(a->type) == 8) /* decimal64: hi is lo's sign */
        HLOOP(d[i] ^ fmix64((uint64_t)((int64_t)d[i] >> 63)));
      else
        HLOOP(d[2 * i] ^ fmix64(d[2 * i + 1]));
      break;
    }
    case DQ_TYPE_UTF8: {
      const int32_t *o = (const int32_t *)a->offsets->data;
      HLOOP(dq_hash_bytes(v + o[i], (size_t)(o[i + 1] - o[i]), 0));
      break;
    }
    }
#undef HLOOP
  }
}

/* --- Row keys ------------------------------------------------------------- */

static size_t key_width(dq_type t) {
  switch (t.id) {
  case DQ_TYPE_BOOL: return 1;
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32: return 4;
  case DQ_TYPE_INT64:
  case DQ_TYPE_FLOAT64: return 8;
  case DQ_TYPE_DECIMAL: return 16;
  default: return 0;
  }
}

static inline void put_be64(uint8_t *p, uint64_t v) {
  v = __builtin_bswap64(v);
  memcpy(p, &v, 8);
}
static inline uint64_t get_be64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  v = __builtin_bswap32(v);
  memcpy(p, &v, 4);
}
static inline uint32_t get_be32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

void dq_row_keys_free(dq_row_keys *k) {
  free(k->bytes);
  free(k->offsets);
  k->bytes = NULL;
  k->offsets = NULL;
}

int dq_row_keys_encode(const dq_array *const *cols, size_t n_cols,
                       const bool *descending, const bool *nulls_first,
                       int64_t n, dq_row_keys *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  out->n = n;
  out->offsets = malloc(((size_t)n + 1) * sizeof *out->offsets);
  if (out->offsets == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding keys");
  uint64_t *off = out->offsets;
  size_t fixed = 0;
  bool any_utf8 = false;
  for (size_t c = 0; c < n_cols; c++) {
    fixed += 1 + key_width(cols[c]->type);
    any_utf8 |= cols[c]->type.id == DQ_TYPE_UTF8;
  }
  /* Row lengths, then offsets. */
  for (int64_t i = 0; i < n; i++)
    off[i + 1] = fixed;
  if (any_utf8)
    for (size_t c = 0; c < n_cols; c++) {
      const dq_array *a = cols[c];
      if (a->type.id != DQ_TYPE_UTF8)
        continue;
      const int32_t *o = (const int32_t *)a->offsets->data;
      const uint8_t *v = a->values->data;
      for (int64_t i = 0; i < n; i++) {
        if (!dq_array_valid(a, i))
          continue;
        size_t len = (size_t)(o[i + 1] - o[i]), zeros = 0;
        const uint8_t *p = v + o[i], *end = p + len;
        if (len < 32) { /* group keys are short: no call per value */
          for (size_t j = 0; j < len; j++)
            zeros += p[j] == 0;
        } else {
          while (p < end && (p = memchr(p, 0, (size_t)(end - p))) != NULL) {
            zeros++;
            p++;
          }
        }
        off[i + 1] += len + zeros + 2;
      }
    }
  off[0] = 0;
  for (int64_t i = 0; i < n; i++)
    off[i + 1] += off[i];
  out->bytes = malloc(off[n] ? off[n] : 1);
  uint64_t *pos = malloc(((size_t)n + 1) * sizeof *pos);
  if (out->bytes == NULL || pos == NULL) {
    free(pos);
    dq_row_keys_free(out);
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding keys");
  }
  memcpy(pos, off, (size_t)n * sizeof *pos);
  uint8_t *k = out->bytes;
  for (size_t c = 0; c < n_cols; c++) {
    const dq_array *a = cols[c];
    const uint8_t *v = a->values->data;
    uint8_t nullm = nulls_first && nulls_first[c] ? 0x00 : 0x02;
    uint8_t flip = descending && descending[c] ? 0xff : 0x00;
    size_t w = key_width(a->type);
    for (int64_t i = 0; i < n; i++) {
      uint8_t *p = k + pos[i];
      if (!dq_array_valid(a, i)) {
        *p = nullm;
        memset(p + 1, 0, w);
        pos[i] += 1 + w;
        continue;
      }
      *p++ = 0x01;
      switch (a->type.id) {
      case DQ_TYPE_BOOL: *p = (uint8_t)dq_bit_get(v, i); break;
      case DQ_TYPE_INT32:
      case DQ_TYPE_DATE32:
        put_be32(p, (uint32_t)((const int32_t *)v)[i] ^ 0x80000000u);
        break;
      case DQ_TYPE_INT64:
        put_be64(p, (uint64_t)((const int64_t *)v)[i] ^ (1ULL << 63));
        break;
      case DQ_TYPE_FLOAT64: {
        uint64_t u = f64_bits(((const double *)v)[i]);
        u = (u >> 63) ? ~u : u | (1ULL << 63);
        put_be64(p, u);
        break;
      }
      case DQ_TYPE_DECIMAL: {
        /* 16 bytes for either width, so keys compare across widths. */
        const uint64_t *d = (const uint64_t *)v;
        if (dq_type_width(a->type) == 8) {
          put_be64(p, (uint64_t)((int64_t)d[i] >> 63) ^ (1ULL << 63));
          put_be64(p + 8, d[i]);
        } else {
          put_be64(p, d[2 * i + 1] ^ (1ULL << 63));
          put_be64(p + 8, d[2 * i]);
        }
        break;
      }
      case DQ_TYPE_UTF8: {
        const int32_t *o = (const int32_t *)a->offsets->data;
        const uint8_t *s = v + o[i];
        size_t len = (size_t)(o[i + 1] - o[i]);
        uint8_t *q = p;
        for (size_t j = 0; j < len; j++) {
          *q++ = s[j];
          if (s[j] == 0)
            *q++ = 0x01;
        }
        *q++ = 0;
        *q++ = 0;
        w = (size_t)(q - p);
        break;
      }
      }
      if (flip)
        for (size_t j = 0; j < w; j++)
          p[j] ^= flip;
      pos[i] += 1 + w;
      if (a->type.id == DQ_TYPE_UTF8)
        w = 0;
    }
  }
  free(pos);
  return 0;
}

int dq_row_keys_decode_column(const uint8_t *const *rows, size_t *pos,
                              int64_t n, dq_type type, dq_array **out,
                              dq_error *err) {
  int64_t bytes = 0;
  size_t w = key_width(type);
  if (type.id == DQ_TYPE_UTF8) {
    for (int64_t i = 0; i < n; i++) {
      const uint8_t *p = rows[i] + pos[i];
      if (*p++ != 0x01)
        continue;
      for (; !(p[0] == 0 && p[1] == 0); p++) {
        if (p[0] == 0)
          p++;
        bytes++;
      }
    }
    if (bytes > INT32_MAX)
      return dq_error_set(err, DQ_ETOOBIG, "group keys exceed 2 GiB");
  }
  dq_array_out o;
  int rc = dq_out_init(&o, type, n, true, bytes, err);
  if (rc != 0)
    return rc;
  uint8_t *v = o.values->data, *valid = o.validity->data;
  int32_t *offs = o.offsets ? (int32_t *)o.offsets->data : NULL;
  int32_t sp = 0;
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *p = rows[i] + pos[i];
    bool is_valid = *p++ == 0x01;
    if (offs)
      offs[i] = sp;
    if (!is_valid) {
      pos[i] += 1 + w;
      continue;
    }
    dq_bit_set(valid, i, true);
    switch (type.id) {
    case DQ_TYPE_BOOL:
      if (*p)
        dq_bit_set(v, i, true);
      break;
    case DQ_TYPE_INT32:
    case DQ_TYPE_DATE32:
      ((int32_t *)v)[i] = (int32_t)(get_be32(p) ^ 0x80000000u);
      break;
    case DQ_TYPE_INT64:
      ((int64_t *)v)[i] = (int64_t)(get_be64(p) ^ (1ULL << 63));
      break;
    case DQ_TYPE_FLOAT64: {
      uint64_t u = get_be64(p);
      u = (u >> 63) ? u ^ (1ULL << 63) : ~u;
      memcpy(&((double *)v)[i], &u, 8);
      break;
    }
    case DQ_TYPE_DECIMAL: {
      uint64_t *d = (uint64_t *)v;
      if (dq_type_width(type) == 8) { /* the key's low word is the value */
        d[i] = get_be64(p + 8);
        break;
      }
      d[2 * i + 1] = get_be64(p) ^ (1ULL << 63);
      d[2 * i] = get_be64(p + 8);
      break;
    }
    case DQ_TYPE_UTF8: {
      const uint8_t *q = p;
      for (; !(q[0] == 0 && q[1] == 0); q++) {
        v[sp++] = q[0];
        if (q[0] == 0)
          q++;
      }
      w = (size_t)(q + 2 - p);
      break;
    }
    }
    pos[i] += 1 + w;
    if (type.id == DQ_TYPE_UTF8)
      w = 0;
  }
  if (offs)
    offs[n] = sp;
  return dq_out_finish(&o, out, err);
}
