/* ipc_read.c — the decoder half of the Arrow IPC codec: an encapsulated
 * message's bytes become a dq_schema or a dq_batch.
 *
 * The bytes come from the network or from another process, so nothing in
 * them is believed: the framing, every flatbuffer offset (flatbuf.c), every
 * node and buffer against the schema and the body, bitmap and value sizes
 * against the row count, and utf8 offsets against the data they index.  All
 * checks finish before a batch exists, so a caller never sees a half-checked
 * batch.  Size arithmetic is written as comparisons against what is present
 * (`n > avail / w`), never as products that could wrap.
 *
 * Zero copy: the message memory becomes one dq_buffer (the "parent") that
 * carries the caller's release callback; each column buffer read in place is
 * a dq_buffer wrapping a slice of it that holds a reference to the parent,
 * so the caller's memory lives exactly as long as the last column using it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/ipc.h>

#include "arrow/batch_internal.h"
#include "ipc/flatbuf.h"
#include "ipc/ipc_format.h"
#include "arrow/decimal_width.h"

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

int ipc_parse_prefix(const uint8_t p[IPC_PREFIX], size_t *meta_len,
                     dq_error *err) {
  uint32_t cont = le32(p);
  if (cont != IPC_CONTINUATION)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC message: it starts with 0x%08x "
                        "instead of the continuation marker 0xFFFFFFFF (the "
                        "pre-0.15 format without it is not supported)",
                        cont);
  int32_t n = (int32_t)le32(p + 4);
  if (n < 0)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC message: negative metadata "
                        "length %d",
                        n);
  *meta_len = (size_t)n;
  return 0;
}

int ipc_parse_meta(const uint8_t *meta, size_t len, ipc_meta *m,
                   dq_error *err) {
  memset(m, 0, sizeof *m);
  m->fb.data = meta;
  m->fb.len = len;
  int rc = fb_root(&m->fb, "Message", &m->msg, err);
  if (rc != 0)
    return rc;
  int16_t version;
  int64_t body;
  bool present;
  if ((rc = fb_i16(&m->msg, MSG_VERSION, 0, "Message.version", &version,
                   err)) != 0 ||
      (rc = fb_u8(&m->msg, MSG_HEADER_TYPE, 0, "Message.header_type",
                  &m->header_type, err)) != 0 ||
      (rc = fb_i64(&m->msg, MSG_BODY_LENGTH, 0, "Message.bodyLength", &body,
                   err)) != 0 ||
      (rc = fb_table_field(&m->msg, MSG_HEADER, "Message.header", &m->header,
                           &present, err)) != 0)
    return rc;
  if (version < IPC_V4)
    return dq_error_set(err, DQ_EUNSUPPORTED,
                        "Arrow IPC metadata version V%d (Arrow before 0.8) is "
                        "not supported; dq reads V4 and V5",
                        version + 1);
  if (version > IPC_V5)
    return dq_error_set(err, DQ_EUNSUPPORTED,
                        "Arrow IPC metadata version V%d is newer than dq "
                        "knows; dq reads V4 and V5",
                        version + 1);
  if (m->header_type < IPC_HDR_SCHEMA ||
      m->header_type > IPC_HDR_SPARSE_TENSOR)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC message: unknown header type %u",
                        m->header_type);
  if (!present)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC message: header type %u but no "
                        "header table",
                        m->header_type);
  if (body < 0)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC message: negative body length "
                        "%lld",
                        (long long)body);
  m->body_len = body;
  return 0;
}

/* Framing plus metadata of the message at data; *meta parsed in place. */
static int peek(const uint8_t *data, size_t len, dq_ipc_info *info,
                ipc_meta *meta, dq_error *err) {
  size_t meta_len;
  memset(info, 0, sizeof *info);
  if (data == NULL || len < IPC_PREFIX)
    return dq_error_set(err, DQ_EPROTO,
                        "truncated Arrow IPC message: %zu bytes, fewer than "
                        "its 8-byte prefix",
                        data ? len : 0);
  int rc = ipc_parse_prefix(data, &meta_len, err);
  if (rc != 0)
    return rc;
  if (meta_len == 0) {
    info->type = DQ_IPC_EOS;
    info->message_len = IPC_PREFIX;
    return 0;
  }
  if (meta_len > len - IPC_PREFIX)
    return dq_error_set(err, DQ_EPROTO,
                        "truncated Arrow IPC message: metadata length %zu "
                        "runs past the %zu bytes present",
                        meta_len, len - IPC_PREFIX);
  rc = ipc_parse_meta(data + IPC_PREFIX, meta_len, meta, err);
  if (rc != 0)
    return rc;
  size_t avail = len - IPC_PREFIX - meta_len;
  if ((uint64_t)meta->body_len > avail)
    return dq_error_set(err, DQ_EPROTO,
                        "truncated Arrow IPC message: body length %lld runs "
                        "past the %zu bytes present",
                        (long long)meta->body_len, avail);
  info->type = (dq_ipc_type)meta->header_type;
  info->metadata_len = meta_len;
  info->body_len = (size_t)meta->body_len;
  info->message_len = IPC_PREFIX + meta_len + info->body_len;
  return 0;
}

int dq_ipc_peek(const void *data, size_t len, dq_ipc_info *info,
                dq_error *err) {
  ipc_meta meta;
  dq_ipc_info tmp;
  return peek(data, len, info ? info : &tmp, &meta, err);
}

static const char *header_name(int t) {
  switch (t) {
  case DQ_IPC_EOS: return "the end-of-stream marker";
  case DQ_IPC_SCHEMA: return "a schema message";
  case DQ_IPC_DICTIONARY: return "a dictionary batch";
  case DQ_IPC_RECORD_BATCH: return "a record batch message";
  case DQ_IPC_TENSOR: return "a tensor message";
  default: return "a sparse tensor message";
  }
}

/* Names of the members of union Type, for messages about types dq lacks. */
static const char *arrow_type_name(unsigned t) {
  static const char *const names[] = {
      "NONE",          "Null",          "Int",           "FloatingPoint",
      "Binary",        "Utf8",          "Bool",          "Decimal",
      "Date",          "Time",          "Timestamp",     "Interval",
      "List",          "Struct",        "Union",         "FixedSizeBinary",
      "FixedSizeList", "Map",           "Duration",      "LargeBinary",
      "LargeUtf8",     "LargeList",     "RunEndEncoded", "BinaryView",
      "Utf8View",      "ListView",      "LargeListView"};
  return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* The dq type of one Field, from its type union. */
static int field_type(const fb_table *f, const char *name, dq_type *out,
                      bool *wide, dq_error *err) {
  uint8_t tt;
  fb_table t;
  bool present;
  int rc;
  memset(out, 0, sizeof *out);
  *wide = false;
  if ((rc = fb_u8(f, FIELD_TYPE_TYPE, 0, "Field.type_type", &tt, err)) != 0 ||
      (rc = fb_table_field(f, FIELD_TYPE, "Field.type", &t, &present,
                           err)) != 0)
    return rc;
  if (tt == 0 || !present)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC schema: field '%s' has no type",
                        name);
  switch (tt) {
  case TYPE_BOOL:
    out->id = DQ_TYPE_BOOL;
    return 0;
  case TYPE_UTF8:
    out->id = DQ_TYPE_UTF8;
    return 0;
  case TYPE_INT: {
    int32_t bits;
    uint8_t is_signed;
    if ((rc = fb_i32(&t, INT_BIT_WIDTH, 0, "Int.bitWidth", &bits, err)) ||
        (rc = fb_u8(&t, INT_IS_SIGNED, 0, "Int.is_signed", &is_signed, err)))
      return rc;
    if (is_signed && bits == 32)
      out->id = DQ_TYPE_INT32;
    else if (is_signed && bits == 64)
      out->id = DQ_TYPE_INT64;
    else
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field '%s' has type %sint%d; dq supports int32 "
                          "and int64",
                          name, is_signed ? "" : "u", bits);
    return 0;
  }
  case TYPE_FLOATING_POINT: {
    int16_t prec;
    if ((rc = fb_i16(&t, FP_PRECISION, 0, "FloatingPoint.precision", &prec,
                     err)) != 0)
      return rc;
    if (prec != FP_DOUBLE)
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field '%s' has type %s; dq supports float64 only",
                          name, prec == 0 ? "float16" : prec == 1 ? "float32"
                                                                  : "float?");
    out->id = DQ_TYPE_FLOAT64;
    return 0;
  }
  case TYPE_DATE: {
    int16_t unit;
    if ((rc = fb_i16(&t, DATE_UNIT, DATE_MILLISECOND, "Date.unit", &unit,
                     err)) != 0)
      return rc;
    if (unit != DATE_DAY)
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field '%s' has type date64 (milliseconds); dq "
                          "supports date32 (days)",
                          name);
    out->id = DQ_TYPE_DATE32;
    return 0;
  }
  case TYPE_DECIMAL: {
    int32_t p, s, bits;
    if ((rc = fb_i32(&t, DEC_PRECISION, 0, "Decimal.precision", &p, err)) ||
        (rc = fb_i32(&t, DEC_SCALE, 0, "Decimal.scale", &s, err)) ||
        (rc = fb_i32(&t, DEC_BIT_WIDTH, 128, "Decimal.bitWidth", &bits, err)))
      return rc;
    if (bits != 128 && bits != 64)
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field '%s' has type decimal%d; dq supports "
                          "decimal64 and decimal128",
                          name, bits);
    if (p < 1 || p > 38 || s < 0 || s > p)
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field '%s' has type decimal(%d,%d); dq supports "
                          "precision 1..38 and scale 0..precision",
                          name, p, s);
    if (bits == 64 && p > DQ_DECIMAL64_MAX_PRECISION)
      return dq_error_set(err, DQ_EPROTO,
                          "malformed Arrow IPC schema: field '%s' is a "
                          "64-bit decimal of precision %d; 64 bits hold at "
                          "most 18 digits",
                          name, p);
    /* A decimal128 that dq stores in 64 bits: narrowed as it is read. */
    *wide = bits == 128 && p <= DQ_DECIMAL64_MAX_PRECISION;
    out->id = DQ_TYPE_DECIMAL;
    out->precision = (uint8_t)p;
    out->scale = (int8_t)s;
    return 0;
  }
  default:
    return dq_error_set(err, DQ_EUNSUPPORTED,
                        "field '%s' has Arrow type %s (union member %u), "
                        "which dq does not support",
                        name, arrow_type_name(tt), tt);
  }
}

static int decode_schema(const ipc_meta *m, dq_schema **out, dq_error *err) {
  int16_t endian;
  fb_vec fields;
  bool present;
  int rc;
  const fb_table *s = &m->header;
  if ((rc = fb_i16(s, SCHEMA_ENDIANNESS, 0, "Schema.endianness", &endian,
                   err)) != 0 ||
      (rc = fb_vector(s, SCHEMA_FIELDS, 4, "Schema.fields", &fields, &present,
                      err)) != 0)
    return rc;
  if (endian != 0)
    return dq_error_set(err, DQ_EUNSUPPORTED,
                        "the Arrow IPC stream is big-endian; dq reads "
                        "little-endian data only");
  size_t n = fields.n;
  const char **names = calloc(n ? n : 1, sizeof *names);
  dq_type *types = calloc(n ? n : 1, sizeof *types);
  bool *nullable = calloc(n ? n : 1, sizeof *nullable);
  bool *wide = calloc(n ? n : 1, sizeof *wide);
  if (names == NULL || types == NULL || nullable == NULL || wide == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a schema");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    fb_table f, dict;
    fb_vec children;
    uint32_t name_len;
    uint8_t null_flag;
    bool has_name, has_dict, has_children;
    if ((rc = fb_vec_table(&fields, (uint32_t)i, "Schema.fields[]", &f,
                           err)) != 0 ||
        (rc = fb_string(&f, FIELD_NAME, "Field.name", &names[i], &name_len,
                        &has_name, err)) != 0 ||
        (rc = fb_u8(&f, FIELD_NULLABLE, 0, "Field.nullable", &null_flag,
                    err)) != 0 ||
        (rc = fb_table_field(&f, FIELD_DICTIONARY, "Field.dictionary", &dict,
                             &has_dict, err)) != 0 ||
        (rc = fb_vector(&f, FIELD_CHILDREN, 4, "Field.children", &children,
                        &has_children, err)) != 0)
      goto done;
    if (!has_name)
      names[i] = "";
    nullable[i] = null_flag != 0;
    if (has_dict) {
      rc = dq_error_set(err, DQ_EUNSUPPORTED,
                        "field '%s' is dictionary-encoded, which dq does not "
                        "support",
                        names[i]);
      goto done;
    }
    if ((rc = field_type(&f, names[i], &types[i], &wide[i], err)) != 0)
      goto done;
    if (has_children && children.n > 0) {
      rc = dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC schema: field '%s' of a "
                        "primitive type has %u children",
                        names[i], children.n);
      goto done;
    }
  }
  rc = dq_schema_new(n, names, types, nullable, out, err);
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (wide[i] && (rc = dq_schema_set_wide_decimal(*out, i, err)) != 0) {
      dq_schema_unref(*out);
      *out = NULL;
    }
done:
  free(names);
  free(types);
  free(nullable);
  free(wide);
  return rc;
}

int dq_ipc_decode_schema(const void *data, size_t len, dq_schema **out,
                         dq_error *err) {
  dq_ipc_info info;
  ipc_meta meta;
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_ipc_decode_schema: out is NULL");
  *out = NULL;
  int rc = peek(data, len, &info, &meta, err);
  if (rc != 0)
    return rc;
  if (info.type != DQ_IPC_SCHEMA)
    return dq_error_set(err, DQ_EPROTO,
                        "expected an Arrow IPC schema message, got %s",
                        header_name(info.type));
  return decode_schema(&meta, out, err);
}

/* --- Record batches ------------------------------------------------------ */

/* What decoding one batch needs besides the message. */
typedef struct batch_ctx {
  const uint8_t *data; /* the whole message */
  size_t len;          /* bytes readable at data */
  const uint8_t *body;
  size_t body_len;
  dq_buffer *parent;   /* zero-copy mode: the message memory; else NULL */
} batch_ctx;

/* One Buffer struct of the message, checked against the body. */
typedef struct span {
  size_t off, len;
} span;

static void unref_parent(void *parent) { dq_buffer_unref(parent); }

/* A dq_buffer of the first n bytes of span s (n <= s.len, checked by the
 * caller): a slice of the message when it meets dq's alignment and padding
 * invariant, else a copy.  A copy is allocated with at least one byte so
 * that an empty buffer is still a real one. */
static dq_buffer *make_buffer(const batch_ctx *bc, span s, size_t n) {
  const uint8_t *p = bc->body + s.off;
  if (bc->parent != NULL && ((uintptr_t)p % IPC_ALIGN) == 0) {
    size_t at = (size_t)(p - bc->data);
    size_t padded = n + (IPC_ALIGN - n % IPC_ALIGN) % IPC_ALIGN;
    if (padded <= bc->len - at) {
      dq_buffer *b = dq_buffer_wrap((void *)p, n, unref_parent,
                                    dq_buffer_ref(bc->parent));
      if (b == NULL)
        dq_buffer_unref(bc->parent);
      return b;
    }
  }
  dq_buffer *b = dq_buffer_new(n);
  if (b != NULL && n > 0)
    memcpy(b->data, p, n);
  return b;
}

/* Bytes of a bitmap of n bits, n >= 0, without overflow. */
static uint64_t bitmap_bytes(int64_t n) {
  return (uint64_t)n / 8 + ((uint64_t)n % 8 != 0);
}

static int decode_column(const batch_ctx *bc, const dq_schema *schema,
                         size_t c, int64_t length, int64_t nulls,
                         const span *sp, dq_array **out, dq_error *err) {
  dq_type t = schema->types[c];
  const char *name = schema->names[c];
  uint64_t bits = bitmap_bytes(length);
  dq_buffer *validity = NULL, *values = NULL, *offsets = NULL;
  size_t values_len;
  int rc;

  if (nulls > 0 && sp[0].len < bits)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: column '%s' has %lld "
                        "nulls but a %zu-byte validity bitmap for %lld rows",
                        name, (long long)nulls, sp[0].len, (long long)length);

  if (t.id == DQ_TYPE_UTF8) {
    span so = sp[1], sd = sp[2];
    /* an empty column may omit its single offset (Arrow allows it) */
    bool empty_offsets = length == 0 && so.len == 0;
    if (!empty_offsets && (uint64_t)length >= so.len / 4)
      return dq_error_set(err, DQ_EPROTO,
                          "malformed Arrow IPC batch: utf8 column '%s' has "
                          "%zu bytes of offsets for %lld rows",
                          name, so.len, (long long)length);
    if (!empty_offsets) {
      const uint8_t *o = bc->body + so.off;
      int32_t prev = (int32_t)le32(o);
      if (prev < 0)
        return dq_error_set(err, DQ_EPROTO,
                            "malformed Arrow IPC batch: utf8 column '%s' "
                            "starts at negative offset %d",
                            name, prev);
      for (int64_t i = 1; i <= length; i++) {
        int32_t cur = (int32_t)le32(o + 4 * i);
        if (cur < prev)
          return dq_error_set(err, DQ_EPROTO,
                              "malformed Arrow IPC batch: utf8 column '%s' "
                              "has decreasing offsets at row %lld "
                              "(%d after %d)",
                              name, (long long)(i - 1), cur, prev);
        prev = cur;
      }
      if ((uint64_t)prev > sd.len)
        return dq_error_set(err, DQ_EPROTO,
                            "malformed Arrow IPC batch: utf8 column '%s' "
                            "has offsets up to %d past its %zu data bytes",
                            name, prev, sd.len);
      values_len = (size_t)prev;
      offsets = make_buffer(bc, so, (size_t)(length + 1) * 4);
    } else {
      values_len = 0;
      offsets = dq_buffer_new(4); /* one zero offset */
    }
    values = make_buffer(bc, sd, values_len);
  } else {
    uint64_t need;
    if (t.id == DQ_TYPE_BOOL) {
      need = bits;
    } else {
      size_t w = dq_schema_wide_decimal(schema, c) ? 16 : dq_type_width(t);
      if ((uint64_t)length > sp[1].len / w)
        return dq_error_set(err, DQ_EPROTO,
                            "malformed Arrow IPC batch: column '%s' has "
                            "%zu value bytes, too few for %lld rows",
                            name, sp[1].len, (long long)length);
      need = (uint64_t)length * w;
    }
    if (need > sp[1].len)
      return dq_error_set(err, DQ_EPROTO,
                          "malformed Arrow IPC batch: column '%s' has %zu "
                          "value bytes, too few for %lld rows",
                          name, sp[1].len, (long long)length);
    values = make_buffer(bc, sp[1], (size_t)need);
  }
  if (nulls > 0)
    validity = make_buffer(bc, sp[0], (size_t)bits);
  if (values != NULL && dq_schema_wide_decimal(schema, c) &&
      (nulls == 0 || validity != NULL)) {
    /* decimal128 on the wire, decimal64 in dq (decimal_width.h) */
    dq_buffer *narrow;
    dq_error e;
    rc = dq_decimal_narrow(values->data, length,
                           validity ? validity->data : NULL, &narrow, &e);
    dq_buffer_unref(values);
    values = narrow;
    if (rc != 0) {
      dq_buffer_unref(validity);
      dq_buffer_unref(offsets);
      return dq_error_set(err, rc == DQ_ENOMEM ? DQ_ENOMEM : DQ_EPROTO,
                          "malformed Arrow IPC batch: column '%s': %s", name,
                          e.message);
    }
  }
  if (values == NULL || (t.id == DQ_TYPE_UTF8 && offsets == NULL) ||
      (nulls > 0 && validity == NULL)) {
    dq_buffer_unref(values);
    dq_buffer_unref(offsets);
    dq_buffer_unref(validity);
    return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a batch");
  }
  rc = dq_array_from_buffers(t, length, nulls, validity, values, offsets,
                             out, err);
  /* what the array gate still refuses here (a null count that disagrees
   * with the bitmap, a misaligned buffer) came from the message */
  if (rc == DQ_EINVAL && err != NULL) {
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    rc = dq_error_set(err, DQ_EPROTO,
                      "malformed Arrow IPC batch: column '%s': %s", name, why);
  } else if (rc == DQ_EINVAL) {
    rc = DQ_EPROTO;
  }
  return rc;
}

static int buffers_of(dq_type t) { return t.id == DQ_TYPE_UTF8 ? 3 : 2; }

static int decode_batch(const batch_ctx *bc, const ipc_meta *m,
                        dq_schema *schema, dq_batch **out, dq_error *err) {
  const fb_table *rb = &m->header;
  int64_t length;
  fb_table comp;
  fb_vec nodes, bufs, variadic;
  bool has_comp, has_nodes, has_bufs, has_variadic;
  int rc;
  if ((rc = fb_i64(rb, RB_LENGTH, 0, "RecordBatch.length", &length, err)) ||
      (rc = fb_table_field(rb, RB_COMPRESSION, "RecordBatch.compression",
                           &comp, &has_comp, err)) ||
      (rc = fb_vector(rb, RB_NODES, IPC_STRUCT_SIZE, "RecordBatch.nodes",
                      &nodes, &has_nodes, err)) ||
      (rc = fb_vector(rb, RB_BUFFERS, IPC_STRUCT_SIZE, "RecordBatch.buffers",
                      &bufs, &has_bufs, err)) ||
      (rc = fb_vector(rb, RB_VARIADIC_COUNTS, 8,
                      "RecordBatch.variadicBufferCounts", &variadic,
                      &has_variadic, err)))
    return rc;
  if (has_comp) {
    uint8_t codec = 0;
    fb_u8(&comp, 0, 0, "BodyCompression.codec", &codec, NULL);
    return dq_error_set(err, DQ_EUNSUPPORTED,
                        "the Arrow IPC batch has a compressed body (%s), "
                        "which dq does not support",
                        codec == 0 ? "LZ4_FRAME" : codec == 1 ? "ZSTD"
                                                              : "unknown");
  }
  if (has_variadic && variadic.n > 0)
    return dq_error_set(err, DQ_EUNSUPPORTED,
                        "the Arrow IPC batch has variadic buffers (view "
                        "types), which dq does not support");
  if (length < 0)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: negative length %lld",
                        (long long)length);
  size_t ncol = schema->n_fields;
  uint32_t n_nodes = has_nodes ? nodes.n : 0;
  if (n_nodes != ncol)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: %u field nodes for a "
                        "schema of %zu fields",
                        n_nodes, ncol);
  size_t want = 0;
  for (size_t c = 0; c < ncol; c++)
    want += (size_t)buffers_of(schema->types[c]);
  uint32_t n_bufs = has_bufs ? bufs.n : 0;
  if (n_bufs != want)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: %u buffers where the "
                        "schema's %zu fields need %zu",
                        n_bufs, ncol, want);

  dq_array **cols = calloc(ncol ? ncol : 1, sizeof *cols);
  if (cols == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a batch");
  size_t bi = 0;
  for (size_t c = 0; c < ncol && rc == 0; c++) {
    const char *name = schema->names[c];
    const uint8_t *node = nodes.buf->data + nodes.pos + c * IPC_STRUCT_SIZE;
    int64_t n_len = fb_load_i64(node), n_nulls = fb_load_i64(node + 8);
    if (n_len != length) {
      rc = dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: column '%s' has %lld "
                        "rows in a batch of %lld",
                        name, (long long)n_len, (long long)length);
      break;
    }
    if (n_nulls < 0 || n_nulls > n_len) {
      rc = dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: column '%s' claims %lld "
                        "nulls in %lld rows",
                        name, (long long)n_nulls, (long long)n_len);
      break;
    }
    if (n_nulls > 0 && !schema->nullable[c]) {
      rc = dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC batch: non-nullable column "
                        "'%s' has %lld nulls",
                        name, (long long)n_nulls);
      break;
    }
    span sp[3];
    int nb = buffers_of(schema->types[c]);
    for (int k = 0; k < nb; k++, bi++) {
      const uint8_t *b = bufs.buf->data + bufs.pos + bi * IPC_STRUCT_SIZE;
      int64_t off = fb_load_i64(b), len = fb_load_i64(b + 8);
      if (off < 0 || len < 0 || (uint64_t)off > bc->body_len ||
          (uint64_t)len > bc->body_len - (uint64_t)off) {
        rc = dq_error_set(err, DQ_EPROTO,
                          "malformed Arrow IPC batch: buffer %zu (column "
                          "'%s') at offset %lld, length %lld lies outside "
                          "the %zu-byte body",
                          bi, name, (long long)off, (long long)len,
                          bc->body_len);
        break;
      }
      sp[k].off = (size_t)off;
      sp[k].len = (size_t)len;
    }
    if (rc == 0)
      rc = decode_column(bc, schema, c, n_len, n_nulls, sp, &cols[c], err);
  }
  if (rc == 0)
    rc = dq_batch_new(schema, length, cols, out, err);
  for (size_t c = 0; c < ncol; c++)
    dq_array_unref(cols[c]);
  free(cols);
  return rc;
}

int dq_ipc_decode_batch(dq_schema *schema, const void *data, size_t len,
                        void (*release)(void *ctx), void *ctx, dq_batch **out,
                        dq_error *err) {
  batch_ctx bc = {data, len, NULL, 0, NULL};
  int rc;
  if (out != NULL)
    *out = NULL;
  if (schema == NULL || out == NULL) {
    if (release != NULL)
      release(ctx);
    return dq_error_set(err, DQ_EINVAL,
                        "dq_ipc_decode_batch: schema and out are required");
  }
  if (release != NULL) {
    bc.parent = dq_buffer_wrap((void *)data, len, release, ctx);
    if (bc.parent == NULL) {
      release(ctx);
      return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a batch");
    }
  }
  dq_ipc_info info;
  ipc_meta meta;
  rc = peek(data, len, &info, &meta, err);
  if (rc == 0 && info.type != DQ_IPC_RECORD_BATCH)
    rc = dq_error_set(err,
                      info.type == DQ_IPC_DICTIONARY ||
                              info.type == DQ_IPC_TENSOR ||
                              info.type == DQ_IPC_SPARSE_TENSOR
                          ? DQ_EUNSUPPORTED
                          : DQ_EPROTO,
                      "expected an Arrow IPC record batch message, got %s%s",
                      header_name(info.type),
                      info.type == DQ_IPC_DICTIONARY
                          ? " (dictionary encoding is not supported)"
                          : "");
  if (rc == 0) {
    bc.body = bc.data + IPC_PREFIX + info.metadata_len;
    bc.body_len = info.body_len;
    rc = decode_batch(&bc, &meta, schema, out, err);
  }
  dq_buffer_unref(bc.parent);
  return rc;
}
