/* builder.c — dq_batch_builder: appending values row by row into growable
 * column buffers, then handing the buffers over to a batch.
 *
 * Buffers grow by doubling (dq_buffer_reserve), so appends are amortized
 * O(1).  A validity bitmap is made only when a column gets its first null,
 * so columns without nulls never carry one.  Every append reserves all it
 * needs before writing anything: a failed append leaves the column as it
 * was. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/batch_internal.h"

/* The first allocation of a column is capped so that a wild capacity hint
 * cannot reserve gigabytes up front; growth takes over from there. */
#define DQ_BUILDER_MAX_HINT ((int64_t)1 << 20)

typedef struct builder_col {
  dq_type type;
  bool nullable;
  int64_t len;
  int64_t nulls;
  dq_buffer *values;   /* fixed-width values, BOOL bits, or UTF8 bytes */
  dq_buffer *validity; /* made at the first null */
  dq_buffer *offsets;  /* UTF8 only */
} builder_col;

struct dq_batch_builder {
  dq_schema *schema;
  size_t hint; /* rows */
  size_t n_cols;
  builder_col *cols;
  char error[256];
};

DQ_PRINTF(3, 4)
static int fail(dq_batch_builder *b, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->error, sizeof b->error, fmt, ap);
  va_end(ap);
  return code;
}

int dq_batch_builder_new(dq_schema *schema, int64_t capacity_hint,
                         dq_batch_builder **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_builder_new: out is NULL");
  *out = NULL;
  if (schema == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_batch_builder_new: schema is NULL");
  if (capacity_hint < 0)
    return dq_error_set(err, DQ_EINVAL,
                        "a builder's capacity hint cannot be negative (%" PRId64
                        ")", capacity_hint);
  dq_batch_builder *b = calloc(1, sizeof *b);
  size_t n = schema->n_fields;
  builder_col *cols = calloc(n ? n : 1, sizeof *cols);
  if (b == NULL || cols == NULL) {
    free(b);
    free(cols);
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a builder");
  }
  b->schema = dq_schema_ref(schema);
  b->hint = (size_t)(capacity_hint < DQ_BUILDER_MAX_HINT ? capacity_hint
                                                         : DQ_BUILDER_MAX_HINT);
  b->n_cols = n;
  b->cols = cols;
  for (size_t i = 0; i < n; i++) {
    cols[i].type = schema->types[i];
    cols[i].nullable = schema->nullable[i];
  }
  *out = b;
  return 0;
}

static void col_reset(builder_col *c) {
  dq_buffer_unref(c->values);
  dq_buffer_unref(c->validity);
  dq_buffer_unref(c->offsets);
  c->values = c->validity = c->offsets = NULL;
  c->len = c->nulls = 0;
}

void dq_batch_builder_free(dq_batch_builder *b) {
  if (b == NULL)
    return;
  for (size_t i = 0; i < b->n_cols; i++)
    col_reset(&b->cols[i]);
  free(b->cols);
  dq_schema_unref(b->schema);
  free(b);
}

const char *dq_batch_builder_error(const dq_batch_builder *b) {
  return b == NULL ? "" : b->error;
}

/* Makes *buf hold at least `need` bytes; a new buffer starts at `initial`
 * bytes (the capacity hint) if that is more. */
static int grow(dq_buffer **buf, size_t need, size_t initial) {
  if (*buf == NULL) {
    dq_buffer *nb = dq_buffer_new(need > initial ? need : initial);
    if (nb == NULL)
      return DQ_ENOMEM;
    nb->size = 0; /* the builder tracks lengths itself until finish */
    *buf = nb;
    return 0;
  }
  return dq_buffer_reserve(*buf, need);
}

static size_t bitmap_bytes(size_t rows) { return rows / 8 + (rows % 8 != 0); }

/* Finds column col, checks that a value of type `id` may go in (id 0: a
 * null), and reserves room for one more row (UTF8 bytes excepted). */
static int prepare(dq_batch_builder *b, size_t col, dq_type_id id,
                   builder_col **out) {
  if (b == NULL)
    return DQ_EINVAL;
  b->error[0] = '\0';
  if (col >= b->n_cols)
    return fail(b, DQ_EINVAL, "column %zu does not exist (the schema has %zu)",
                col, b->n_cols);
  builder_col *c = &b->cols[col];
  const char *name = b->schema->names[col];
  char tname[32];
  static const char *const given[] = {"a null",    "a bool",    "an int32",
                                      "an int64",  "a float64", "a utf8",
                                      "a date32",  "a decimal"};
  if (id != 0 && id != c->type.id)
    return fail(b, DQ_EINVAL, "cannot append %s value to column %zu (\"%s\")"
                " of type %s", given[id], col, name,
                dq_type_format(c->type, tname, sizeof tname));
  if (id == 0 && !c->nullable)
    return fail(b, DQ_EINVAL, "cannot append a null to column %zu (\"%s\"), "
                "which is not nullable", col, name);
  if (c->len >= INT32_MAX)
    return fail(b, DQ_ETOOBIG, "column %zu (\"%s\") already holds %" PRId64
                " rows; finish the batch first", col, name, c->len);

  size_t rows = (size_t)c->len + 1;
  size_t hint = b->hint > rows ? b->hint : rows;
  int rc;
  switch (c->type.id) {
  case DQ_TYPE_BOOL:
    rc = grow(&c->values, bitmap_bytes(rows), bitmap_bytes(hint));
    break;
  case DQ_TYPE_UTF8:
    /* Offsets only; append_utf8 reserves the bytes itself. */
    rc = grow(&c->offsets, (rows + 1) * 4, (hint + 1) * 4);
    if (rc == 0 && c->values == NULL)
      rc = grow(&c->values, 0, hint * 8);
    break;
  default: {
    size_t w = dq_type_width(c->type);
    rc = grow(&c->values, rows * w, hint * w);
    break;
  }
  }
  if (rc == 0 && (c->validity != NULL || id == 0)) {
    bool fresh = c->validity == NULL;
    rc = grow(&c->validity, bitmap_bytes(rows), bitmap_bytes(hint));
    if (rc == 0 && fresh) {
      /* Every row before the first null was valid. */
      size_t full = (size_t)c->len / 8;
      memset(c->validity->data, 0xff, full);
      for (int64_t i = (int64_t)full * 8; i < c->len; i++)
        dq_bit_set(c->validity->data, i, true);
    }
  }
  if (rc != 0)
    return fail(b, rc, "out of memory growing column %zu (\"%s\")", col, name);
  *out = c;
  return 0;
}

/* Records one more row whose value is already in place. */
static void commit(builder_col *c, bool valid) {
  if (c->validity != NULL)
    dq_bit_set(c->validity->data, c->len, valid);
  if (c->type.id == DQ_TYPE_UTF8 && !valid) {
    int32_t *o = (int32_t *)c->offsets->data;
    o[c->len + 1] = o[c->len];
  }
  if (!valid)
    c->nulls++;
  c->len++;
}

int dq_builder_append_null(dq_batch_builder *b, size_t col) {
  builder_col *c;
  int rc = prepare(b, col, 0, &c);
  if (rc != 0)
    return rc;
  /* The value slot stays as allocated: zero bytes, a zero bit, or an empty
   * string (commit repeats the offset). */
  commit(c, false);
  return 0;
}

int dq_builder_append_bool(dq_batch_builder *b, size_t col, bool v) {
  builder_col *c;
  int rc = prepare(b, col, DQ_TYPE_BOOL, &c);
  if (rc != 0)
    return rc;
  dq_bit_set(c->values->data, c->len, v);
  commit(c, true);
  return 0;
}

static int append_fixed(dq_batch_builder *b, size_t col, dq_type_id id,
                        const void *v, size_t width) {
  builder_col *c;
  int rc = prepare(b, col, id, &c);
  if (rc != 0)
    return rc;
  memcpy(c->values->data + (size_t)c->len * width, v, width);
  commit(c, true);
  return 0;
}

int dq_builder_append_int32(dq_batch_builder *b, size_t col, int32_t v) {
  return append_fixed(b, col, DQ_TYPE_INT32, &v, sizeof v);
}

int dq_builder_append_int64(dq_batch_builder *b, size_t col, int64_t v) {
  return append_fixed(b, col, DQ_TYPE_INT64, &v, sizeof v);
}

int dq_builder_append_float64(dq_batch_builder *b, size_t col, double v) {
  return append_fixed(b, col, DQ_TYPE_FLOAT64, &v, sizeof v);
}

int dq_builder_append_date32(dq_batch_builder *b, size_t col, int32_t days) {
  return append_fixed(b, col, DQ_TYPE_DATE32, &days, sizeof days);
}

int dq_builder_append_decimal(dq_batch_builder *b, size_t col, dq_decimal v) {
  if (b != NULL && col < b->n_cols &&
      b->cols[col].type.id == DQ_TYPE_DECIMAL) {
    /* A value with more digits than the precision would be silently wrong
     * everywhere downstream (IPC readers, formatting, comparisons). */
    dq_type t = b->cols[col].type;
    dq_i128 limit = 1;
    for (int i = 0; i < t.precision; i++)
      limit *= 10;
    dq_i128 x = dq_decimal_to_i128(v);
    if (x >= limit || x <= -limit) {
      b->error[0] = '\0';
      return fail(b, DQ_EINVAL, "value does not fit column %zu (\"%s\") of "
                  "type decimal(%u,%d): more than %u digits", col,
                  b->schema->names[col], (unsigned)t.precision, (int)t.scale,
                  (unsigned)t.precision);
    }
  }
  if (b != NULL && col < b->n_cols &&
      dq_type_width(b->cols[col].type) == 8) { /* decimal64: fits, checked */
    int64_t x = (int64_t)v.lo;
    return append_fixed(b, col, DQ_TYPE_DECIMAL, &x, sizeof x);
  }
  uint64_t w[2] = {v.lo, (uint64_t)v.hi};
  return append_fixed(b, col, DQ_TYPE_DECIMAL, w, sizeof w);
}

/* Length of the valid UTF-8 prefix of s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_valid_prefix(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      n = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (len - i < n)
      return i;
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return i;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += n;
  }
  return len;
}

int dq_builder_append_utf8(dq_batch_builder *b, size_t col, const char *s,
                           size_t len) {
  if (b != NULL && s == NULL && len != 0) {
    b->error[0] = '\0';
    return fail(b, DQ_EINVAL, "utf8 value is NULL but its length is %zu", len);
  }
  if (b != NULL && col < b->n_cols && b->cols[col].type.id == DQ_TYPE_UTF8) {
    size_t ok = utf8_valid_prefix((const uint8_t *)s, len);
    if (ok != len)
      return fail(b, DQ_EINVAL, "value for column %zu (\"%s\") is not valid "
                  "UTF-8 (bad byte 0x%02x at offset %zu)", col,
                  b->schema->names[col], (unsigned)(uint8_t)s[ok], ok);
  }
  builder_col *c;
  int rc = prepare(b, col, DQ_TYPE_UTF8, &c);
  if (rc != 0)
    return rc;
  int32_t *o = (int32_t *)c->offsets->data;
  int32_t end = o[c->len];
  if (len > (size_t)(INT32_MAX - end))
    return fail(b, DQ_ETOOBIG, "column %zu (\"%s\") would exceed 2 GiB of "
                "utf8 bytes (Arrow's int32 offsets); finish the batch first",
                col, b->schema->names[col]);
  if ((rc = dq_buffer_reserve(c->values, (size_t)end + len)) != 0)
    return fail(b, rc, "out of memory growing column %zu (\"%s\")", col,
                b->schema->names[col]);
  if (len != 0)
    memcpy(c->values->data + end, s, len);
  o[c->len + 1] = end + (int32_t)len;
  commit(c, true);
  return 0;
}

int dq_batch_builder_finish(dq_batch_builder *b, dq_batch **out,
                            dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_builder_finish: out is NULL");
  *out = NULL;
  if (b == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_batch_builder_finish: builder is NULL");
  size_t n = b->n_cols;
  int64_t rows = n ? b->cols[0].len : 0;
  for (size_t i = 1; i < n; i++)
    if (b->cols[i].len != rows)
      return dq_error_set(err, DQ_EINVAL,
                          "column %zu (\"%s\") has %" PRId64
                          " values but column 0 (\"%s\") has %" PRId64,
                          i, b->schema->names[i], b->cols[i].len,
                          b->schema->names[0], rows);

  dq_array **arrays = calloc(n ? n : 1, sizeof *arrays);
  if (arrays == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory finishing a batch");
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    builder_col *c = &b->cols[i];
    size_t len = (size_t)c->len;
    if (c->validity)
      c->validity->size = bitmap_bytes(len);
    if (c->offsets) {
      c->offsets->size = (len + 1) * 4;
      c->values->size = (size_t)((int32_t *)c->offsets->data)[len];
    } else if (c->values) {
      c->values->size = c->type.id == DQ_TYPE_BOOL
                            ? bitmap_bytes(len)
                            : len * dq_type_width(c->type);
    }
    /* The arrays take their own references, so on failure the builder
     * still holds everything and is unchanged. */
    rc = dq_array_from_buffers(c->type, c->len, c->nulls,
                               dq_buffer_ref(c->validity),
                               dq_buffer_ref(c->values),
                               dq_buffer_ref(c->offsets), &arrays[i], err);
  }
  if (rc == 0)
    rc = dq_batch_new(b->schema, rows, arrays, out, err);
  for (size_t i = 0; i < n; i++)
    dq_array_unref(arrays[i]);
  free(arrays);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    col_reset(&b->cols[i]);
  b->error[0] = '\0';
  return 0;
}
