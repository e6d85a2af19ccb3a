/* array.c — dq_array, one immutable column: assembling it from buffers (with
 * the checks that make untrusted buffers safe to read) and the public
 * per-value accessors.
 *
 * dq_array_from_buffers is the single gate every array passes through
 * (builders, the IPC decoder, the C Data Interface importer), so the
 * invariants in batch_internal.h are enforced here and nowhere else. */
#include <inttypes.h>
#include <string.h>
#include <stdlib.h>

#include "arrow/batch_internal.h"

/* Number of set bits among the first n bits of bits. */
static int64_t count_set_bits(const uint8_t *bits, int64_t n) {
  int64_t count = 0, i = 0;
  for (; i + 64 <= n; i += 64) {
    uint64_t w;
    memcpy(&w, bits + i / 8, sizeof w);
    count += __builtin_popcountll(w);
  }
  for (; i + 8 <= n; i += 8)
    count += __builtin_popcount(bits[i / 8]);
  for (; i < n; i++)
    count += dq_bit_get(bits, i);
  return count;
}

static bool aligned(const void *p, size_t align) {
  return align <= 1 || ((uintptr_t)p & (align - 1)) == 0;
}

/* Required alignment of a fixed-width values buffer: natural alignment,
 * capped at 8 because the IPC format only promises 8. */
static size_t value_align(dq_type t) {
  size_t w = dq_type_width(t);
  return w > 8 ? 8 : w;
}

int dq_array_from_buffers(dq_type type, int64_t length, int64_t null_count,
                          dq_buffer *validity, dq_buffer *values,
                          dq_buffer *offsets, dq_array **out, dq_error *err) {
  char tname[32];
  int rc;
  if (out == NULL) {
    rc = dq_error_set(err, DQ_EINVAL, "dq_array_from_buffers: out is NULL");
    goto fail;
  }
  *out = NULL;
  if ((rc = dq_type_check(type, err)) != 0)
    goto fail;
  /* The type's name only for error messages: formatted when one is
   * written, not on every call (imports run this per column per batch). */
#define TNAME dq_type_format(type, tname, sizeof tname)
  if (length < 0) {
    rc = dq_error_set(err, DQ_EINVAL, "%s array length %" PRId64
                      " is negative", TNAME, length);
    goto fail;
  }
  /* Bounds every size computed below (n * 16, (n + 1) * 4) far from
   * overflow, on 32-bit hosts too. */
  if ((uint64_t)length > (SIZE_MAX - 64) / 16) {
    rc = dq_error_set(err, DQ_ETOOBIG, "%s array length %" PRId64
                      " is too large for this host", TNAME, length);
    goto fail;
  }
  if (null_count < -1 || null_count > length) {
    rc = dq_error_set(err, DQ_EINVAL, "%s array null_count %" PRId64
                      " is outside 0..%" PRId64 " (its length)", TNAME,
                      null_count, length);
    goto fail;
  }
  const dq_buffer *all[3] = {validity, values, offsets};
  static const char *const what[3] = {"validity", "values", "offsets"};
  for (int k = 0; k < 3; k++)
    if (all[k] != NULL && all[k]->data == NULL && all[k]->size != 0) {
      rc = dq_error_set(err, DQ_EINVAL, "%s array %s buffer claims %zu bytes "
                        "but has no data", TNAME, what[k], all[k]->size);
      goto fail;
    }

  size_t n = (size_t)length;
  size_t bitmap_bytes = (n + 7) / 8;

  if (type.id == DQ_TYPE_UTF8) {
    size_t need = (n + 1) * sizeof(int32_t);
    if (n == 0 && (offsets == NULL || offsets->size == 0)) {
      /* Empty array: Arrow producers may omit the single 0 offset. */
      dq_buffer_unref(offsets);
      if ((offsets = dq_buffer_new(sizeof(int32_t))) == NULL) {
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
        goto fail;
      }
    }
    if (offsets == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "utf8 array of %" PRId64
                        " rows has no offsets buffer", length);
      goto fail;
    }
    if (offsets->size < need) {
      rc = dq_error_set(err, DQ_EINVAL, "utf8 offsets buffer holds %zu bytes "
                        "but %" PRId64 " rows need %zu", offsets->size, length,
                        need);
      goto fail;
    }
    if (!aligned(offsets->data, sizeof(int32_t))) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "utf8 offsets buffer is not 4-byte aligned");
      goto fail;
    }
    const int32_t *o = (const int32_t *)offsets->data;
    if (o[0] < 0) {
      rc = dq_error_set(err, DQ_EINVAL, "utf8 offset 0 is negative (%" PRId32
                        ")", o[0]);
      goto fail;
    }
    for (size_t i = 0; i < n; i++)
      if (o[i + 1] < o[i]) {
        rc = dq_error_set(err, DQ_EINVAL, "utf8 offsets decrease at row %zu "
                          "(%" PRId32 " then %" PRId32 ")", i, o[i],
                          o[i + 1]);
        goto fail;
      }
    if (values == NULL && o[n] == 0) {
      /* Every string is empty: no bytes, so Arrow allows a NULL buffer. */
      if ((values = dq_buffer_new(0)) == NULL) {
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
        goto fail;
      }
    }
    if (values == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "utf8 array of %" PRId64
                        " rows has no values buffer", length);
      goto fail;
    }
    if ((size_t)o[n] > values->size) {
      rc = dq_error_set(err, DQ_EINVAL, "utf8 offsets end at %" PRId32
                        " but the values buffer holds %zu bytes", o[n],
                        values->size);
      goto fail;
    }
  } else {
    if (offsets != NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "an offsets buffer was given for a "
                        "%s array, which has none", TNAME);
      goto fail;
    }
    size_t need = type.id == DQ_TYPE_BOOL ? bitmap_bytes
                                          : n * dq_type_width(type);
    if (values == NULL && need == 0) {
      if ((values = dq_buffer_new(0)) == NULL) {
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
        goto fail;
      }
    }
    if (values == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "%s array of %" PRId64
                        " rows has no values buffer", TNAME, length);
      goto fail;
    }
    if (values->size < need) {
      rc = dq_error_set(err, DQ_EINVAL, "%s values buffer holds %zu bytes "
                        "but %" PRId64 " rows need %zu", TNAME, values->size,
                        length, need);
      goto fail;
    }
    if (!aligned(values->data, value_align(type))) {
      rc = dq_error_set(err, DQ_EINVAL, "%s values buffer is not %zu-byte "
                        "aligned", TNAME, value_align(type));
      goto fail;
    }
  }

  if (null_count == 0) {
    /* Arrow: a bitmap with no nulls may be left out, and dq always leaves
     * it out so "validity != NULL" means "has nulls". */
    dq_buffer_unref(validity);
    validity = NULL;
  } else if (validity == NULL) {
    if (null_count > 0) {
      rc = dq_error_set(err, DQ_EINVAL, "%s array has null_count %" PRId64
                        " but no validity bitmap", TNAME, null_count);
      goto fail;
    }
    null_count = 0;
  } else {
    if (validity->size < bitmap_bytes) {
      rc = dq_error_set(err, DQ_EINVAL, "%s validity bitmap holds %zu bytes "
                        "but %" PRId64 " rows need %zu", TNAME, validity->size,
                        length, bitmap_bytes);
      goto fail;
    }
    /* Recount: a wrong count would make later code skip or trust the
     * bitmap wrongly, and popcount costs little next to the data. */
    int64_t nulls = length - count_set_bits(validity->data, length);
    if (null_count >= 0 && null_count != nulls) {
      rc = dq_error_set(err, DQ_EINVAL, "%s array declares null_count %" PRId64
                        " but its validity bitmap has %" PRId64 " nulls",
                        TNAME, null_count, nulls);
      goto fail;
    }
    null_count = nulls;
    if (nulls == 0) {
      dq_buffer_unref(validity);
      validity = NULL;
    }
  }

  dq_array *a = malloc(sizeof *a);
  if (a == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    goto fail;
  }
  atomic_init(&a->refs, 1);
  a->type = type;
  if (type.id != DQ_TYPE_DECIMAL)
    a->type.precision = a->type.scale = 0;
  a->length = length;
  a->null_count = null_count;
  a->validity = validity;
  a->values = values;
  a->offsets = offsets;
  *out = a;
  return 0;

fail:
  dq_buffer_unref(validity);
  dq_buffer_unref(values);
  dq_buffer_unref(offsets);
  return rc;
}

dq_array *dq_array_ref(dq_array *a) {
  if (a != NULL)
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
  return a;
}

void dq_array_unref(dq_array *a) {
  if (a == NULL ||
      atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
    return;
  dq_buffer_unref(a->validity);
  dq_buffer_unref(a->values);
  dq_buffer_unref(a->offsets);
  free(a);
}

dq_type dq_array_type(const dq_array *a) {
  if (a == NULL) {
    dq_type none = {0, 0, 0};
    return none;
  }
  return a->type;
}

int64_t dq_array_length(const dq_array *a) { return a ? a->length : 0; }

int64_t dq_array_null_count(const dq_array *a) {
  return a ? a->null_count : 0;
}

/* The per-value accessors are for tests, tools and glue, not hot loops, so
 * they check everything: a NULL array, an index out of range or the wrong
 * type all give 0 / false / NULL instead of undefined behaviour. */
static bool in_range(const dq_array *a, int64_t i, dq_type_id id) {
  return a != NULL && a->type.id == id && i >= 0 && i < a->length;
}

bool dq_array_is_null(const dq_array *a, int64_t i) {
  return a != NULL && i >= 0 && i < a->length && !dq_array_valid(a, i);
}

bool dq_array_bool(const dq_array *a, int64_t i) {
  return in_range(a, i, DQ_TYPE_BOOL) && dq_bit_get(a->values->data, i);
}

int32_t dq_array_int32(const dq_array *a, int64_t i) {
  return in_range(a, i, DQ_TYPE_INT32) ? ((const int32_t *)a->values->data)[i]
                                       : 0;
}

int64_t dq_array_int64(const dq_array *a, int64_t i) {
  return in_range(a, i, DQ_TYPE_INT64) ? ((const int64_t *)a->values->data)[i]
                                       : 0;
}

double dq_array_float64(const dq_array *a, int64_t i) {
  return in_range(a, i, DQ_TYPE_FLOAT64)
             ? ((const double *)a->values->data)[i]
             : 0.0;
}

int32_t dq_array_date32(const dq_array *a, int64_t i) {
  return in_range(a, i, DQ_TYPE_DATE32)
             ? ((const int32_t *)a->values->data)[i]
             : 0;
}

dq_decimal dq_array_decimal(const dq_array *a, int64_t i) {
  dq_decimal d = {0, 0};
  if (in_range(a, i, DQ_TYPE_DECIMAL)) {
    /* Arrow decimal128 is little-endian {low word, high word}, which is
     * dq_decimal's layout on the little-endian hosts dq supports; memcpy
     * because wrapped buffers are only 8-byte aligned. */
    if (dq_type_width(a->type) == 8) { /* decimal64: sign-extend */
      int64_t v;
      memcpy(&v, a->values->data + (size_t)i * 8, 8);
      d.lo = (uint64_t)v;
      d.hi = v < 0 ? -1 : 0;
      return d;
    }
    uint64_t w[2];
    memcpy(w, a->values->data + (size_t)i * 16, sizeof w);
    d.lo = w[0];
    d.hi = (int64_t)w[1];
  }
  return d;
}

const char *dq_array_utf8(const dq_array *a, int64_t i, size_t *len) {
  if (len != NULL)
    *len = 0;
  if (!in_range(a, i, DQ_TYPE_UTF8))
    return NULL;
  /* Arrow lets a null slot cover bytes; callers should not see them. */
  if (!dq_array_valid(a, i))
    return "";
  const int32_t *o = (const int32_t *)a->offsets->data;
  if (len != NULL)
    *len = (size_t)(o[i + 1] - o[i]);
  /* A wrapped, empty values buffer may have a NULL data pointer; callers
   * get a valid pointer for every in-range row. */
  if (a->values->data == NULL)
    return "";
  return (const char *)a->values->data + o[i];
}

#undef TNAME
