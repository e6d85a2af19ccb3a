/* decimal_width.c — decimals that arrive wider than dq stores them: an
 * Arrow decimal128 column whose precision is at most 18 (what most Arrow
 * writers produce for decimal(15,2)) is stored by dq as decimal64
 * (decimal_width.h).  The importers (the C Data Interface, Arrow IPC) mark
 * such a field on the schema they build and narrow its values on import,
 * each checked to fit. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/decimal_width.h"

int dq_schema_set_wide_decimal(dq_schema *s, size_t i, dq_error *err) {
  if (s->wide_dec == NULL &&
      (s->wide_dec = calloc(s->n_fields ? s->n_fields : 1, 1)) == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a schema");
  s->wide_dec[i] = 1;
  return 0;
}

bool dq_schema_wide_decimal(const dq_schema *s, size_t i) {
  return s != NULL && s->wide_dec != NULL && i < s->n_fields &&
         s->wide_dec[i] != 0;
}

int dq_decimal_narrow(const uint8_t *src, int64_t n, const uint8_t *validity,
                      dq_buffer **out, dq_error *err) {
  *out = dq_buffer_new((size_t)n * 8 + (n == 0));
  if (*out == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory narrowing decimals");
  int64_t *d = (int64_t *)(*out)->data;
  for (int64_t i = 0; i < n; i++) {
    dq_i128 v = dq_decimal_load(src, 16, i);
    if (validity != NULL && !dq_bit_get(validity, i)) {
      d[i] = 0; /* a null slot's bytes mean nothing */
      continue;
    }
    if (!dq_i128_fits_i64(v)) {
      dq_buffer_unref(*out);
      *out = NULL;
      return dq_error_set(err, DQ_EINVAL,
                          "decimal value at row %" PRId64 " has more digits "
                          "than its precision (<= 18) allows", i);
    }
    d[i] = (int64_t)v;
  }
  return 0;
}
