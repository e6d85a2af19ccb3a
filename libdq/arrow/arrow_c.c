/* arrow_c.c — schemas and batches as Arrow C Data Interface structs
 * (format/CDataInterface.rst), in both directions, without copying buffers.
 *
 * Export: a batch becomes a struct array ("+s") whose children are its
 * columns.  Every child owns its own private data (a reference to its
 * dq_array, or its own format and name strings), so the consumer may move a
 * child out or release it before or after its parent, as the specification
 * allows; the parent's release releases only the children still alive.
 *
 * Import: the ArrowArray is moved into one refcounted owner; every buffer
 * the batch keeps wraps the producer's memory and holds a reference to that
 * owner, and the producer's release runs when the last buffer goes.  Data is
 * copied only where dq's invariants (offset 0, aligned values) cannot be met
 * by pointing into the producer's memory: a bitmap whose offset is not a
 * multiple of 8, or a values/offsets buffer misaligned for its type (the
 * specification lets consumers reject those; copying is friendlier).
 * Nothing the producer hands over is trusted: counts, lengths, offsets and
 * required pointers are checked before use. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/batch_internal.h"
#include "arrow/decimal_width.h"

/* Exported in place of an empty buffer whose pointer is NULL: the
 * specification allows NULL there, but some consumers mishandle it (see
 * apache/arrow#33936), so dq never exports one. */
static const uint64_t zero_region[8] __attribute__((aligned(64)));

/* --- Schema export -------------------------------------------------------- */

typedef struct child_schema_priv {
  char format[16]; /* "d:38,38" at most */
  char name[];
} child_schema_priv;

static void release_child_schema(struct ArrowSchema *s) {
  if (s == NULL || s->release == NULL)
    return;
  free(s->private_data);
  s->release = NULL;
}

/* The root's private data is one block: the children pointer array followed
 * by the child structs themselves (moving a child copies the struct out, so
 * nothing outside the block may point at the slot). */
static void release_root_schema(struct ArrowSchema *s) {
  if (s == NULL || s->release == NULL)
    return;
  for (int64_t i = 0; i < s->n_children; i++) {
    struct ArrowSchema *c = s->children[i];
    if (c->release != NULL)
      c->release(c);
  }
  free(s->private_data);
  s->release = NULL;
}

static void type_to_format(dq_type t, char *buf, size_t len) {
  switch (t.id) {
  case DQ_TYPE_BOOL: snprintf(buf, len, "b"); break;
  case DQ_TYPE_INT32: snprintf(buf, len, "i"); break;
  case DQ_TYPE_INT64: snprintf(buf, len, "l"); break;
  case DQ_TYPE_FLOAT64: snprintf(buf, len, "g"); break;
  case DQ_TYPE_UTF8: snprintf(buf, len, "u"); break;
  case DQ_TYPE_DATE32: snprintf(buf, len, "tdD"); break;
  case DQ_TYPE_DECIMAL: /* decimal64 when the precision allows it */
    snprintf(buf, len, dq_type_width(t) == 8 ? "d:%u,%d,64" : "d:%u,%d",
             (unsigned)t.precision, (int)t.scale);
    break;
  default: snprintf(buf, len, "n"); break; /* unreachable: schemas are checked */
  }
}

int dq_schema_export(const dq_schema *s, struct ArrowSchema *out,
                     dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_schema_export: out is NULL");
  memset(out, 0, sizeof *out);
  if (s == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_schema_export: schema is NULL");
  size_t n = s->n_fields;
  size_t block = n * (sizeof(struct ArrowSchema *) + sizeof(struct ArrowSchema));
  void *priv = malloc(block ? block : 1);
  if (priv == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory exporting a schema");
  struct ArrowSchema **ptrs = priv;
  struct ArrowSchema *kids = (struct ArrowSchema *)(ptrs + n);
  for (size_t i = 0; i < n; i++) {
    size_t name_len = strlen(s->names[i]);
    child_schema_priv *cp = malloc(sizeof *cp + name_len + 1);
    if (cp == NULL) {
      for (size_t k = 0; k < i; k++)
        release_child_schema(&kids[k]);
      free(priv);
      return dq_error_set(err, DQ_ENOMEM, "out of memory exporting a schema");
    }
    type_to_format(s->types[i], cp->format, sizeof cp->format);
    memcpy(cp->name, s->names[i], name_len + 1);
    kids[i] = (struct ArrowSchema){
        .format = cp->format,
        .name = cp->name,
        .metadata = NULL,
        .flags = s->nullable[i] ? ARROW_FLAG_NULLABLE : 0,
        .n_children = 0,
        .children = NULL,
        .dictionary = NULL,
        .release = release_child_schema,
        .private_data = cp,
    };
    ptrs[i] = &kids[i];
  }
  *out = (struct ArrowSchema){
      .format = "+s",
      .name = "",
      .metadata = NULL,
      .flags = 0,
      .n_children = (int64_t)n,
      .children = n ? ptrs : NULL,
      .dictionary = NULL,
      .release = release_root_schema,
      .private_data = priv,
  };
  return 0;
}

/* --- Schema import -------------------------------------------------------- */

/* Parses the decimal digits at *p (at most 3: precision and scale are
 * <= 38); false if there are none or too many. */
static bool parse_small_int(const char **p, int *out) {
  const char *s = *p;
  int v = 0, digits = 0;
  while (*s >= '0' && *s <= '9' && digits < 4) {
    v = v * 10 + (*s - '0');
    s++, digits++;
  }
  if (digits == 0 || digits > 3)
    return false;
  *out = v;
  *p = s;
  return true;
}

static int format_to_type(const char *f, size_t i, const char *name,
                          dq_type *t, bool *wide, dq_error *err) {
  static const struct {
    const char *format;
    dq_type_id id;
  } simple[] = {{"b", DQ_TYPE_BOOL},  {"i", DQ_TYPE_INT32},
                {"l", DQ_TYPE_INT64}, {"g", DQ_TYPE_FLOAT64},
                {"u", DQ_TYPE_UTF8},  {"tdD", DQ_TYPE_DATE32}};
  *t = (dq_type){0, 0, 0};
  *wide = false;
  for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++)
    if (strcmp(f, simple[k].format) == 0) {
      t->id = simple[k].id;
      return 0;
    }
  if (strncmp(f, "d:", 2) == 0) {
    const char *p = f + 2;
    int prec, scale, bits = 128;
    bool negative = false;
    if (!parse_small_int(&p, &prec) || *p++ != ',')
      goto bad_decimal;
    if (*p == '-') {
      negative = true;
      p++;
    }
    if (!parse_small_int(&p, &scale))
      goto bad_decimal;
    if (*p == ',') {
      p++;
      if (!parse_small_int(&p, &bits))
        goto bad_decimal;
    }
    if (*p != '\0')
      goto bad_decimal;
    if (bits != 128 && bits != 64)
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field %zu (\"%s\") is a %d-bit decimal (\"%s\"); dq "
                          "supports decimal64 and decimal128", i, name, bits,
                          f);
    if (negative)
      return dq_error_set(err, DQ_EUNSUPPORTED,
                          "field %zu (\"%s\") has a negative decimal scale "
                          "(\"%s\"), which dq does not support", i, name, f);
    /* Range-check before narrowing to dq_type's small fields. */
    if (prec < 1 || prec > 38)
      return dq_error_set(err, DQ_EINVAL,
                          "field %zu (\"%s\"): decimal precision %d is outside "
                          "1..38 (format \"%s\")", i, name, prec, f);
    if (scale > prec)
      return dq_error_set(err, DQ_EINVAL,
                          "field %zu (\"%s\"): decimal scale %d is outside "
                          "0..%d (the precision; format \"%s\")", i, name,
                          scale, prec, f);
    if (bits == 64 && prec > DQ_DECIMAL64_MAX_PRECISION)
      return dq_error_set(err, DQ_EINVAL,
                          "field %zu (\"%s\"): a 64-bit decimal of precision "
                          "%d (format \"%s\"); 64 bits hold at most 18 digits",
                          i, name, prec, f);
    dq_type d = {DQ_TYPE_DECIMAL, (uint8_t)prec, (int8_t)scale};
    *t = d;
    /* A decimal128 that dq stores in 64 bits: narrowed on import. */
    *wide = bits == 128 && prec <= DQ_DECIMAL64_MAX_PRECISION;
    return 0;
  bad_decimal:
    return dq_error_set(err, DQ_EINVAL,
                        "field %zu (\"%s\") has a malformed decimal format "
                        "\"%s\" (expected d:P,S, d:P,S,128 or d:P,S,64)", i,
                        name, f);
  }
  return dq_error_set(err, DQ_EUNSUPPORTED,
                      "field %zu (\"%s\") has Arrow format \"%s\", which dq "
                      "does not support (it supports b, i, l, g, u, tdD and "
                      "d:P,S)", i, name, f);
}

int dq_schema_import(const struct ArrowSchema *in, dq_schema **out,
                     dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_schema_import: out is NULL");
  *out = NULL;
  if (in == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_schema_import: schema is NULL");
  if (in->release == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "the ArrowSchema has been released (release is NULL)");
  if (in->format == NULL || strcmp(in->format, "+s") != 0)
    return dq_error_set(err, DQ_EINVAL,
                        "a batch's ArrowSchema must be a struct (format "
                        "\"+s\"), not \"%s\"",
                        in->format ? in->format : "(null)");
  if (in->dictionary != NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "a batch's ArrowSchema cannot be dictionary-encoded");
  if (in->n_children < 0 || in->n_children > INT32_MAX)
    return dq_error_set(err, DQ_EINVAL,
                        "the ArrowSchema has %" PRId64 " children",
                        in->n_children);
  if (in->n_children > 0 && in->children == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "the ArrowSchema has %" PRId64
                        " children but its children pointer is NULL",
                        in->n_children);
  size_t n = (size_t)in->n_children;
  const char **names = calloc(n ? n : 1, sizeof *names);
  dq_type *types = calloc(n ? n : 1, sizeof *types);
  bool *nullable = calloc(n ? n : 1, sizeof *nullable);
  bool *wide = calloc(n ? n : 1, sizeof *wide);
  int rc = 0;
  if (names == NULL || types == NULL || nullable == NULL || wide == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory importing a schema");
    goto done;
  }
  for (size_t i = 0; i < n && rc == 0; i++) {
    const struct ArrowSchema *c = in->children[i];
    if (c == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "field %zu of the ArrowSchema is NULL",
                        i);
      break;
    }
    names[i] = c->name ? c->name : "";
    if (c->release == NULL) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "field %zu (\"%s\") of the ArrowSchema has been "
                        "released", i, names[i]);
    } else if (c->format == NULL) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "field %zu (\"%s\") has no format string", i,
                        names[i]);
    } else if (c->dictionary != NULL) {
      rc = dq_error_set(err, DQ_EUNSUPPORTED,
                        "field %zu (\"%s\") is dictionary-encoded, which dq "
                        "does not support", i, names[i]);
    } else if ((rc = format_to_type(c->format, i, names[i], &types[i],
                                    &wide[i], err)) == 0) {
      if (c->n_children != 0)
        rc = dq_error_set(err, DQ_EINVAL,
                          "field %zu (\"%s\") of format \"%s\" has %" PRId64
                          " children; expected 0", i, names[i], c->format,
                          c->n_children);
      nullable[i] = (c->flags & ARROW_FLAG_NULLABLE) != 0;
    }
  }
  if (rc == 0)
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

/* --- Batch export --------------------------------------------------------- */

typedef struct child_array_priv {
  dq_array *array;
  const void *buffers[3];
} child_array_priv;

static void release_child_array(struct ArrowArray *a) {
  if (a == NULL || a->release == NULL)
    return;
  child_array_priv *cp = a->private_data;
  dq_array_unref(cp->array);
  free(cp);
  a->release = NULL;
}

/* Same one-block layout as the root schema, after the root's own buffer
 * pointer (its absent validity bitmap). */
typedef struct root_array_priv {
  const void *buffers[1];
  struct ArrowArray *ptrs[];
} root_array_priv;

static void release_root_array(struct ArrowArray *a) {
  if (a == NULL || a->release == NULL)
    return;
  for (int64_t i = 0; i < a->n_children; i++) {
    struct ArrowArray *c = a->children[i];
    if (c->release != NULL)
      c->release(c);
  }
  free(a->private_data);
  a->release = NULL;
}

static const void *export_ptr(const dq_buffer *b) {
  return b->data != NULL ? (const void *)b->data : (const void *)zero_region;
}

int dq_batch_export(dq_batch *b, struct ArrowArray *out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_export: out is NULL");
  memset(out, 0, sizeof *out);
  if (b == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_export: batch is NULL");
  size_t n = b->schema->n_fields;
  root_array_priv *rp =
      malloc(sizeof *rp + n * (sizeof(struct ArrowArray *) +
                               sizeof(struct ArrowArray)));
  if (rp == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory exporting a batch");
  rp->buffers[0] = NULL; /* no top-level nulls */
  struct ArrowArray *kids = (struct ArrowArray *)(rp->ptrs + n);
  for (size_t i = 0; i < n; i++) {
    dq_array *a = b->columns[i];
    child_array_priv *cp = malloc(sizeof *cp);
    if (cp == NULL) {
      for (size_t k = 0; k < i; k++)
        release_child_array(&kids[k]);
      free(rp);
      return dq_error_set(err, DQ_ENOMEM, "out of memory exporting a batch");
    }
    cp->array = dq_array_ref(a);
    cp->buffers[0] = a->validity ? export_ptr(a->validity) : NULL;
    int64_t n_buffers = 2;
    if (a->type.id == DQ_TYPE_UTF8) {
      cp->buffers[1] = export_ptr(a->offsets);
      cp->buffers[2] = export_ptr(a->values);
      n_buffers = 3;
    } else {
      cp->buffers[1] = export_ptr(a->values);
      cp->buffers[2] = NULL;
    }
    kids[i] = (struct ArrowArray){
        .length = a->length,
        .null_count = a->null_count,
        .offset = 0,
        .n_buffers = n_buffers,
        .n_children = 0,
        .buffers = cp->buffers,
        .children = NULL,
        .dictionary = NULL,
        .release = release_child_array,
        .private_data = cp,
    };
    rp->ptrs[i] = &kids[i];
  }
  *out = (struct ArrowArray){
      .length = b->n_rows,
      .null_count = 0,
      .offset = 0,
      .n_buffers = 1,
      .n_children = (int64_t)n,
      .buffers = rp->buffers,
      .children = n ? rp->ptrs : NULL,
      .dictionary = NULL,
      .release = release_root_array,
      .private_data = rp,
  };
  return 0;
}

/* --- Batch import --------------------------------------------------------- */

/* The moved ArrowArray, released when the last buffer pointing into it
 * goes (one owner for the whole batch, as the producer allocated it). */
typedef struct import_owner {
  atomic_long refs;
  struct ArrowArray array;
} import_owner;

static void owner_unref(void *p) {
  import_owner *o = p;
  if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (o->array.release != NULL)
    o->array.release(&o->array);
  free(o);
}

static dq_buffer *wrap_owned(import_owner *o, const void *p, size_t size) {
  atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
  /* The cast drops const only to fit dq_buffer; nothing writes to a
   * wrapped buffer (dq_buffer_reserve refuses them). */
  dq_buffer *b = dq_buffer_wrap((void *)p, size, owner_unref, o);
  if (b == NULL) /* the import still holds its own reference */
    atomic_fetch_sub_explicit(&o->refs, 1, memory_order_relaxed);
  return b;
}

static dq_buffer *copy_bytes(const void *p, size_t size) {
  dq_buffer *b = dq_buffer_new(size);
  if (b != NULL && size != 0)
    memcpy(b->data, p, size);
  return b;
}

/* n bits of src starting at bit off, as a buffer starting at bit 0. */
static dq_buffer *slice_bits(import_owner *o, const uint8_t *src, int64_t off,
                             int64_t n) {
  size_t nbytes = (size_t)(n / 8 + (n % 8 != 0));
  if (off % 8 == 0)
    return wrap_owned(o, src + off / 8, nbytes);
  dq_buffer *b = dq_buffer_new(nbytes);
  if (b == NULL)
    return NULL;
  size_t first = (size_t)(off / 8), last = (size_t)((off + n - 1) / 8);
  unsigned shift = (unsigned)(off % 8);
  for (size_t k = 0; k < nbytes; k++) {
    size_t j = first + k;
    unsigned v = src[j] >> shift;
    if (j + 1 <= last) /* never read past the last byte holding our bits */
      v |= (unsigned)src[j + 1] << (8 - shift);
    b->data[k] = (uint8_t)v;
  }
  if (n % 8 != 0) /* clear the bits past the end, for tidy comparisons */
    b->data[nbytes - 1] &= (uint8_t)((1u << (n % 8)) - 1);
  return b;
}

/* `size` bytes at p, wrapped if p is aligned to `align`, else copied. */
static dq_buffer *slice_bytes(import_owner *o, const uint8_t *p, size_t size,
                              size_t align) {
  if (((uintptr_t)p & (align - 1)) == 0)
    return wrap_owned(o, p, size);
  return copy_bytes(p, size);
}

/* Builds column i from child c, covering rows [off, off + n) of c's buffers
 * (off already includes c->offset and the parent's offset). */
static int import_column(import_owner *o, const struct ArrowArray *c,
                         bool exact, int64_t off, int64_t n, dq_type t,
                         bool wide, dq_array **out, dq_error *e) {
  dq_buffer *validity = NULL, *values = NULL, *offsets = NULL;
  int64_t null_count = 0;
#define COLUMN_FAIL(code, ...)                                                 \
  do {                                                                         \
    rc = dq_error_set(e, (code), __VA_ARGS__);                                 \
    goto fail;                                                                 \
  } while (0)
  int rc = 0;
  /* Keeps every size below ((n + 1) * 16 at most) far from overflow. */
  if ((uint64_t)n > (SIZE_MAX - 64) / 16)
    COLUMN_FAIL(DQ_ETOOBIG, "%" PRId64 " rows are too many for this host", n);
  const uint8_t *vb = c->buffers[0];
  if (c->null_count != 0 && n > 0) {
    if (vb == NULL) {
      if (c->null_count > 0)
        COLUMN_FAIL(DQ_EINVAL, "null_count is %" PRId64
                    " but the validity buffer is NULL", c->null_count);
    } else {
      if ((validity = slice_bits(o, vb, off, n)) == NULL)
        COLUMN_FAIL(DQ_ENOMEM, "out of memory");
      /* The producer's count covers the child's whole range; recount
       * when only part of it is imported. */
      null_count = exact ? c->null_count : -1;
    }
  }
  if (n > 0) {
    size_t rows = (size_t)n;
    if (t.id == DQ_TYPE_UTF8) {
      const uint8_t *op = c->buffers[1];
      if (op == NULL)
        COLUMN_FAIL(DQ_EINVAL, "the offsets buffer (buffer 1) is NULL");
      if ((uint64_t)off > (SIZE_MAX - 64) / 4 - rows)
        COLUMN_FAIL(DQ_EINVAL, "offset %" PRId64 " is too large", off);
      offsets = slice_bytes(o, op + (size_t)off * 4, (rows + 1) * 4, 4);
      if (offsets == NULL)
        COLUMN_FAIL(DQ_ENOMEM, "out of memory");
      int32_t end = ((const int32_t *)offsets->data)[rows];
      if (end < 0)
        COLUMN_FAIL(DQ_EINVAL, "utf8 offset %" PRId64 " is negative (%" PRId32
                    ")", off + n, end);
      const uint8_t *dp = c->buffers[2];
      if (dp == NULL && end > 0)
        COLUMN_FAIL(DQ_EINVAL, "the data buffer (buffer 2) is NULL but the "
                    "offsets reach %" PRId32, end);
      if (dp != NULL && (values = wrap_owned(o, dp, (size_t)end)) == NULL)
        COLUMN_FAIL(DQ_ENOMEM, "out of memory");
    } else {
      const uint8_t *dp = c->buffers[1];
      if (dp == NULL)
        COLUMN_FAIL(DQ_EINVAL, "the data buffer (buffer 1) is NULL");
      if (t.id == DQ_TYPE_BOOL) {
        values = slice_bits(o, dp, off, n);
      } else {
        size_t w = wide ? 16 : dq_type_width(t);
        if ((uint64_t)off > (SIZE_MAX - 64) / w - rows)
          COLUMN_FAIL(DQ_EINVAL, "offset %" PRId64 " is too large", off);
        values = slice_bytes(o, dp + (size_t)off * w, rows * w, w > 8 ? 8 : w);
        if (values != NULL && wide) { /* decimal128 stored as decimal64 */
          dq_buffer *narrow;
          rc = dq_decimal_narrow(values->data, n,
                                 validity ? validity->data : NULL, &narrow, e);
          dq_buffer_unref(values);
          values = narrow;
          if (rc != 0)
            goto fail;
        }
      }
      if (values == NULL)
        COLUMN_FAIL(DQ_ENOMEM, "out of memory");
    }
  }
#undef COLUMN_FAIL
  return dq_array_from_buffers(t, n, null_count, validity, values, offsets,
                               out, e);
fail:
  dq_buffer_unref(validity);
  dq_buffer_unref(values);
  dq_buffer_unref(offsets);
  return rc;
}

/* An ArrowArray that dq_batch_export of this very library made, untouched
 * (no child moved out, nothing sliced or re-pointed), is taken back by
 * reference: its arrays are libdq's own, checked when they were built and
 * immutable since, so checking every utf8 offset again (the bulk of an
 * import's cost) would only re-prove what is known.  This is what inmem's
 * hand-off by pointer and a worker reading its own output go through.
 * Anything else takes the full checks.  1 when taken, with *out set. */
static int import_own_export(const struct ArrowArray *root,
                             dq_schema *schema, dq_batch **out,
                             dq_error *err, int *rc) {
  if (root->release != release_root_array || root->offset != 0 ||
      root->null_count != 0 || root->n_buffers != 1 ||
      root->dictionary != NULL || schema == NULL || out == NULL ||
      root->n_children != (int64_t)schema->n_fields || root->length < 0)
    return 0;
  const root_array_priv *rp = root->private_data;
  size_t nf = schema->n_fields;
  if (rp == NULL || root->buffers != rp->buffers ||
      (nf > 0 && root->children != rp->ptrs))
    return 0;
  dq_array *stack[16], **arrays = nf <= 16 ? stack : malloc(nf * sizeof *arrays);
  if (arrays == NULL)
    return 0;
  int ok = 1;
  for (size_t i = 0; ok && i < nf; i++) {
    const struct ArrowArray *c = root->children[i];
    const child_array_priv *cp = c ? c->private_data : NULL;
    const dq_array *a = cp ? cp->array : NULL;
    ok = c != NULL && c->release == release_child_array && cp != NULL &&
         c->buffers == cp->buffers && c->offset == 0 && c->n_children == 0 &&
         c->dictionary == NULL && a != NULL && c->length == a->length &&
         a->length == root->length && c->null_count == a->null_count &&
         c->n_buffers == (a->type.id == DQ_TYPE_UTF8 ? 3 : 2) &&
         dq_type_equal(a->type, schema->types[i]) &&
         (schema->nullable[i] || a->null_count == 0) &&
         cp->buffers[0] == (a->validity ? export_ptr(a->validity) : NULL) &&
         cp->buffers[1] == export_ptr(a->type.id == DQ_TYPE_UTF8 ? a->offsets
                                                                 : a->values) &&
         (a->type.id != DQ_TYPE_UTF8 || cp->buffers[2] == export_ptr(a->values));
    if (ok)
      arrays[i] = cp->array;
  }
  if (ok)
    *rc = dq_batch_new(schema, root->length, arrays, out, err);
  if (arrays != stack)
    free(arrays);
  return ok;
}

int dq_batch_import(struct ArrowArray *in, dq_schema *schema, dq_batch **out,
                    dq_error *err) {
  if (out != NULL)
    *out = NULL;
  if (in == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_import: array is NULL");
  if (in->release == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "the ArrowArray has been released (release is NULL)");
  /* Take ownership first, so every path below releases it exactly once. */
  import_owner *o = malloc(sizeof *o);
  if (o == NULL) {
    in->release(in);
    return dq_error_set(err, DQ_ENOMEM, "out of memory importing a batch");
  }
  atomic_init(&o->refs, 1);
  o->array = *in;
  in->release = NULL;
  const struct ArrowArray *root = &o->array;
  int own_rc = 0;
  if (import_own_export(root, schema, out, err, &own_rc)) {
    owner_unref(o); /* dq_batch_new took its own references */
    return own_rc;
  }

  size_t nf = schema ? schema->n_fields : 0;
  dq_array **arrays = NULL;
  int rc = 0;
  if (out == NULL || schema == NULL) {
    rc = dq_error_set(err, DQ_EINVAL, "dq_batch_import: %s is NULL",
                      out == NULL ? "out" : "schema");
    goto done;
  }
  if (root->length < 0 || root->offset < 0 ||
      root->offset > INT64_MAX - root->length) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "the ArrowArray has length %" PRId64 " and offset %" PRId64
                      "; both must be >= 0", root->length, root->offset);
    goto done;
  }
  if (root->n_buffers != 1) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "a batch's ArrowArray is a struct array and must have 1 "
                      "buffer, not %" PRId64, root->n_buffers);
    goto done;
  }
  if (root->buffers == NULL) {
    rc = dq_error_set(err, DQ_EINVAL, "the ArrowArray's buffers pointer is NULL");
    goto done;
  }
  if (root->dictionary != NULL) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "a batch's ArrowArray cannot be dictionary-encoded");
    goto done;
  }
  if (root->n_children != (int64_t)nf) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "the ArrowArray has %" PRId64
                      " children but the schema has %zu fields",
                      root->n_children, nf);
    goto done;
  }
  if (nf > 0 && root->children == NULL) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "the ArrowArray has %zu children but its children "
                      "pointer is NULL", nf);
    goto done;
  }
  /* dq batches have no top-level nulls (a whole row missing): refuse any. */
  int64_t top_nulls = root->null_count;
  if (top_nulls < 0 && root->buffers[0] != NULL) {
    const uint8_t *bits = root->buffers[0];
    top_nulls = 0;
    for (int64_t r = 0; r < root->length; r++)
      top_nulls += !dq_bit_get(bits, root->offset + r);
  }
  if (top_nulls > 0) {
    rc = dq_error_set(err, DQ_EUNSUPPORTED,
                      "the ArrowArray's struct has %" PRId64 " null rows; dq "
                      "batches cannot have top-level nulls", top_nulls);
    goto done;
  }

  arrays = calloc(nf ? nf : 1, sizeof *arrays);
  if (arrays == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory importing a batch");
    goto done;
  }
  for (size_t i = 0; i < nf; i++) {
    const struct ArrowArray *c = root->children[i];
    const char *name = schema->names[i];
    dq_type t = schema->types[i];
    char tname[32]; /* formatted only when an error is written */
#define TNAME dq_type_format(t, tname, sizeof tname)
    if (c == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "column %zu (\"%s\"): its ArrowArray "
                        "child is NULL", i, name);
      goto done;
    }
    if (c->release == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "column %zu (\"%s\"): its ArrowArray "
                        "child has been released", i, name);
      goto done;
    }
    int64_t want_buffers = t.id == DQ_TYPE_UTF8 ? 3 : 2;
    if (c->n_buffers != want_buffers) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "column %zu (\"%s\", %s) has %" PRId64
                        " buffers; expected %" PRId64, i, name, TNAME,
                        c->n_buffers, want_buffers);
      goto done;
    }
    if (c->buffers == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "column %zu (\"%s\", %s): the buffers "
                        "pointer is NULL", i, name, TNAME);
      goto done;
    }
    if (c->n_children != 0 || c->dictionary != NULL) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "column %zu (\"%s\", %s) has children or a dictionary;"
                        " expected neither", i, name, TNAME);
      goto done;
    }
    if (c->length < 0 || c->offset < 0 || c->null_count < -1 ||
        c->null_count > c->length) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "column %zu (\"%s\", %s) has length %" PRId64
                        ", offset %" PRId64 ", null_count %" PRId64
                        "; expected length >= 0, offset >= 0, null_count in "
                        "-1..length", i, name, TNAME, c->length, c->offset,
                        c->null_count);
      goto done;
    }
    /* A struct's offset applies to its children on top of their own. */
    if (root->offset + root->length > c->length ||
        c->offset > INT64_MAX - root->offset - root->length) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "column %zu (\"%s\", %s) has %" PRId64
                        " rows, fewer than the struct's offset + length (%"
                        PRId64 ")", i, name, TNAME, c->length,
                        root->offset + root->length);
      goto done;
    }
    int64_t off = c->offset + root->offset;
    bool exact = root->offset == 0 && root->length == c->length;
    dq_error e;
    rc = import_column(o, c, exact, off, root->length, t,
                       dq_schema_wide_decimal(schema, i), &arrays[i], &e);
    if (rc != 0) {
      dq_error_set(err, rc, "column %zu (\"%s\", %s): %s", i, name, TNAME,
                   e.message);
      goto done;
    }
  }
  rc = dq_batch_new(schema, root->length, arrays, out, err);

done:
  if (arrays != NULL) {
    for (size_t i = 0; i < nf; i++)
      dq_array_unref(arrays[i]);
    free(arrays);
  }
  owner_unref(o); /* the buffers, if any, keep the producer's memory alive */
  return rc;
}

#undef TNAME
