/* ipc_testdata.h — the data set the IPC tests round-trip: every dq type,
 * nulls in every nullable column, values computed from the row number so a
 * reader can check each one without a reference copy.
 *
 * tests/interop/interop.mjs computes the same values in JavaScript: change
 * both together.  Row r (counting across batches from 0), column c:
 *   null when the column is nullable and (r + c) % 3 == 1
 *   id    int64  (not nullable)  r
 *   flag  bool                   r % 5 < 2
 *   i32   int32                  r * 37 - 500
 *   i64   int64                  r * 1000000007 - 2^40
 *   f64   float64                r * 0.25 - 3.5
 *   name  utf8                   "" when r % 7 == 0, else "é" + r in decimal
 *                                repeated (r % 4) + 1 times
 *   day   date32                 r - 400
 *   price decimal(15,2)          unscaled r * 12345 - 99999
 *   big   decimal(38,10)         unscaled (r * 10^20 + r) * (r odd ? -1 : 1)
 */
#ifndef DQ_IPC_TESTDATA_H
#define DQ_IPC_TESTDATA_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <dq/batch.h>

#include "arrow/batch_internal.h"

#define TD_NCOLS 9

static const char *const td_names[TD_NCOLS] = {
    "id", "flag", "i32", "i64", "f64", "name", "day", "price", "big"};

static inline dq_schema *td_schema(void) {
  const dq_type types[TD_NCOLS] = {
      {DQ_TYPE_INT64, 0, 0},    {DQ_TYPE_BOOL, 0, 0},
      {DQ_TYPE_INT32, 0, 0},    {DQ_TYPE_INT64, 0, 0},
      {DQ_TYPE_FLOAT64, 0, 0},  {DQ_TYPE_UTF8, 0, 0},
      {DQ_TYPE_DATE32, 0, 0},   {DQ_TYPE_DECIMAL, 15, 2},
      {DQ_TYPE_DECIMAL, 38, 10}};
  const bool nullable[TD_NCOLS] = {false, true, true, true, true,
                                   true,  true, true, true};
  dq_schema *s = NULL;
  dq_schema_new(TD_NCOLS, td_names, types, nullable, &s, NULL);
  return s;
}

static inline bool td_null(size_t c, int64_t r) {
  return c > 0 && (r + (int64_t)c) % 3 == 1;
}
static inline bool td_flag(int64_t r) { return r % 5 < 2; }
static inline int32_t td_i32(int64_t r) { return (int32_t)(r * 37 - 500); }
static inline int64_t td_i64(int64_t r) { return r * 1000000007LL - (1LL << 40); }
static inline double td_f64(int64_t r) { return (double)r * 0.25 - 3.5; }
static inline size_t td_name(int64_t r, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  if (r % 7 == 0)
    return 0;
  for (int k = 0; k <= r % 4; k++)
    n += (size_t)snprintf(buf + n, len - n, "\xc3\xa9%lld", (long long)r);
  return n;
}
static inline int32_t td_day(int64_t r) { return (int32_t)(r - 400); }
static inline dq_decimal td_price(int64_t r) {
  return dq_decimal_from_i128((dq_i128)(r * 12345 - 99999));
}
static inline dq_decimal td_big(int64_t r) {
  dq_i128 v = (dq_i128)r * ((dq_i128)10000000000LL * 10000000000LL) + r;
  if (r % 2)
    v = -v;
  return dq_decimal_from_i128(v);
}

/* A batch of rows [start, start + n). */
static inline dq_batch *td_batch(dq_schema *s, int64_t start, int64_t n) {
  dq_batch_builder *b = NULL;
  dq_batch *out = NULL;
  char name[128];
  if (dq_batch_builder_new(s, n, &b, NULL) != 0)
    return NULL;
  for (int64_t r = start; r < start + n; r++) {
    for (size_t c = 0; c < TD_NCOLS; c++) {
      if (td_null(c, r)) {
        dq_builder_append_null(b, c);
        continue;
      }
      switch (c) {
      case 0: dq_builder_append_int64(b, c, r); break;
      case 1: dq_builder_append_bool(b, c, td_flag(r)); break;
      case 2: dq_builder_append_int32(b, c, td_i32(r)); break;
      case 3: dq_builder_append_int64(b, c, td_i64(r)); break;
      case 4: dq_builder_append_float64(b, c, td_f64(r)); break;
      case 5: {
        size_t len = td_name(r, name, sizeof name);
        dq_builder_append_utf8(b, c, name, len);
        break;
      }
      case 6: dq_builder_append_date32(b, c, td_day(r)); break;
      case 7: dq_builder_append_decimal(b, c, td_price(r)); break;
      case 8: dq_builder_append_decimal(b, c, td_big(r)); break;
      }
    }
  }
  dq_batch_builder_finish(b, &out, NULL);
  dq_batch_builder_free(b);
  return out;
}

static inline bool dec_eq(dq_decimal a, dq_decimal b) {
  return a.lo == b.lo && a.hi == b.hi;
}

/* 0 when b holds rows [start, start + n) of the data set, else -1 with the
 * first difference in why. */
static inline int td_check(const dq_batch *b, int64_t start, int64_t n, char *why,
                    size_t len) {
  char name[128];
  if (dq_batch_n_rows(b) != n || dq_batch_n_columns(b) != TD_NCOLS) {
    snprintf(why, len, "batch has %lld rows, %zu columns; expected %lld, %d",
             (long long)dq_batch_n_rows(b), dq_batch_n_columns(b),
             (long long)n, TD_NCOLS);
    return -1;
  }
  for (size_t c = 0; c < TD_NCOLS; c++) {
    const dq_array *a = dq_batch_column(b, c);
    for (int64_t i = 0; i < n; i++) {
      int64_t r = start + i;
      bool ok;
      if (dq_array_is_null(a, i) != td_null(c, r)) {
        snprintf(why, len, "column %s row %lld: null is %d, expected %d",
                 td_names[c], (long long)r, dq_array_is_null(a, i),
                 td_null(c, r));
        return -1;
      }
      if (td_null(c, r))
        continue;
      switch (c) {
      case 0: ok = dq_array_int64(a, i) == r; break;
      case 1: ok = dq_array_bool(a, i) == td_flag(r); break;
      case 2: ok = dq_array_int32(a, i) == td_i32(r); break;
      case 3: ok = dq_array_int64(a, i) == td_i64(r); break;
      case 4: ok = dq_array_float64(a, i) == td_f64(r); break;
      case 5: {
        size_t got_len = 0;
        const char *got = dq_array_utf8(a, i, &got_len);
        size_t want = td_name(r, name, sizeof name);
        ok = got_len == want && (want == 0 || memcmp(got, name, want) == 0);
        break;
      }
      case 6: ok = dq_array_date32(a, i) == td_day(r); break;
      case 7: ok = dec_eq(dq_array_decimal(a, i), td_price(r)); break;
      default: ok = dec_eq(dq_array_decimal(a, i), td_big(r)); break;
      }
      if (!ok) {
        snprintf(why, len, "column %s row %lld holds a wrong value",
                 td_names[c], (long long)r);
        return -1;
      }
    }
  }
  return 0;
}

#endif /* DQ_IPC_TESTDATA_H */
