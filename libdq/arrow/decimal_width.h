/* decimal_width.h — how a decimal is stored: in 64 bits when its precision
 * is at most 18 (Arrow decimal64, format "d:P,S,64"; 10^18 - 1 < 2^63), in
 * 128 bits otherwise (decimal128, "d:P,S").  The width follows from the
 * type alone (dq_type_width), so two arrays of one type always share a
 * layout; arithmetic widens to 128 bits and narrows its result with an
 * exact check.  The functions below read and write one value of either
 * width. */
#ifndef DQ_DECIMAL_WIDTH_H
#define DQ_DECIMAL_WIDTH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "batch_internal.h"

#define DQ_DECIMAL64_MAX_PRECISION 18

static inline bool dq_decimal_is64(dq_type t) {
  return t.id == DQ_TYPE_DECIMAL && t.precision <= DQ_DECIMAL64_MAX_PRECISION;
}

/* Value i of a decimal buffer of width w (8 or 16); memcpy because wrapped
 * buffers are only 8-byte aligned. */
static inline dq_i128 dq_decimal_load(const uint8_t *data, size_t w,
                                      int64_t i) {
  if (w == 8) {
    int64_t v;
    memcpy(&v, data + (size_t)i * 8, 8);
    return v;
  }
  dq_i128 v;
  memcpy(&v, data + (size_t)i * 16, 16);
  return v;
}

static inline bool dq_i128_fits_i64(dq_i128 v) {
  return v >= INT64_MIN && v <= INT64_MAX;
}

/* Stores v as value i; for w == 8 the caller has checked that v fits. */
static inline void dq_decimal_store(uint8_t *data, size_t w, int64_t i,
                                    dq_i128 v) {
  if (w == 8) {
    int64_t x = (int64_t)v;
    memcpy(data + (size_t)i * 8, &x, 8);
  } else {
    memcpy(data + (size_t)i * 16, &v, 16);
  }
}

/* Marks field i of s as arriving in 128 bits though dq stores it in 64
 * (decimal_width.c); the batch importers then narrow it. */
int dq_schema_set_wide_decimal(dq_schema *s, size_t i, dq_error *err);
bool dq_schema_wide_decimal(const dq_schema *s, size_t i);

/* n decimal128 values at src into a new buffer of n decimal64 values;
 * fails (DQ_EINVAL) when a valid one does not fit 64 bits.  validity: bit
 * i for value i, or NULL. */
int dq_decimal_narrow(const uint8_t *src, int64_t n, const uint8_t *validity,
                      dq_buffer **out, dq_error *err);

#endif /* DQ_DECIMAL_WIDTH_H */
