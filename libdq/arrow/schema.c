/* schema.c — column types (names, widths, validation) and dq_schema, the
 * immutable, reference-counted list of named, typed fields a batch follows.
 *
 * Types are validated here once, when a schema is made, so every later
 * consumer (builders, IPC, the executor) can trust a schema's types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/batch_internal.h"

const char *dq_type_format(dq_type t, char *buf, size_t len) {
  if (buf == NULL || len == 0)
    return buf;
  switch (t.id) {
  case DQ_TYPE_BOOL: snprintf(buf, len, "bool"); break;
  case DQ_TYPE_INT32: snprintf(buf, len, "int32"); break;
  case DQ_TYPE_INT64: snprintf(buf, len, "int64"); break;
  case DQ_TYPE_FLOAT64: snprintf(buf, len, "float64"); break;
  case DQ_TYPE_UTF8: snprintf(buf, len, "utf8"); break;
  case DQ_TYPE_DATE32: snprintf(buf, len, "date32"); break;
  case DQ_TYPE_DECIMAL:
    snprintf(buf, len, "decimal(%u,%d)", (unsigned)t.precision, (int)t.scale);
    break;
  default: snprintf(buf, len, "invalid type %d", (int)t.id); break;
  }
  return buf;
}

size_t dq_type_width(dq_type t) {
  switch (t.id) {
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32: return 4;
  case DQ_TYPE_INT64:
  case DQ_TYPE_FLOAT64: return 8;
  case DQ_TYPE_DECIMAL: return t.precision <= 18 ? 8 : 16; /* decimal_width.h */
  default: return 0; /* BOOL (bits), UTF8 (variable), unknown */
  }
}

int dq_type_check(dq_type t, dq_error *err) {
  switch (t.id) {
  case DQ_TYPE_BOOL:
  case DQ_TYPE_INT32:
  case DQ_TYPE_INT64:
  case DQ_TYPE_FLOAT64:
  case DQ_TYPE_UTF8:
  case DQ_TYPE_DATE32: return 0;
  case DQ_TYPE_DECIMAL:
    if (t.precision < 1 || t.precision > 38)
      return dq_error_set(err, DQ_EINVAL,
                          "decimal precision %u is outside 1..38",
                          (unsigned)t.precision);
    if (t.scale < 0 || t.scale > (int)t.precision)
      return dq_error_set(err, DQ_EINVAL,
                          "decimal scale %d is outside 0..%u (the precision)",
                          (int)t.scale, (unsigned)t.precision);
    return 0;
  default:
    return dq_error_set(err, DQ_EINVAL, "unknown type id %d", (int)t.id);
  }
}

bool dq_type_equal(dq_type a, dq_type b) {
  if (a.id != b.id)
    return false;
  return a.id != DQ_TYPE_DECIMAL ||
         (a.precision == b.precision && a.scale == b.scale);
}

static void schema_free(dq_schema *s) {
  if (s->names != NULL)
    for (size_t i = 0; i < s->n_fields; i++)
      free(s->names[i]);
  free(s->names);
  free(s->types);
  free(s->nullable);
  free(s->wide_dec);
  free(s);
}

int dq_schema_new(size_t n_fields, const char *const *names,
                  const dq_type *types, const bool *nullable, dq_schema **out,
                  dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_schema_new: out is NULL");
  *out = NULL;
  if (n_fields > 0 && (names == NULL || types == NULL))
    return dq_error_set(err, DQ_EINVAL,
                        "dq_schema_new: names and types are required for "
                        "%zu fields", n_fields);
  if (n_fields > (size_t)INT32_MAX)
    return dq_error_set(err, DQ_EINVAL, "a schema of %zu fields is too large",
                        n_fields);
  for (size_t i = 0; i < n_fields; i++) {
    if (names[i] == NULL)
      return dq_error_set(err, DQ_EINVAL, "field %zu has no name (NULL)", i);
    dq_error terr;
    if (dq_type_check(types[i], &terr) != 0)
      return dq_error_set(err, DQ_EINVAL, "field %zu (\"%s\"): %s", i,
                          names[i], terr.message);
  }

  dq_schema *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a schema");
  atomic_init(&s->refs, 1);
  s->n_fields = n_fields;
  /* calloc(0) may return NULL; allocate one slot so NULL always means
   * failure. */
  size_t n = n_fields ? n_fields : 1;
  s->names = calloc(n, sizeof *s->names);
  s->types = calloc(n, sizeof *s->types);
  s->nullable = calloc(n, sizeof *s->nullable);
  if (s->names == NULL || s->types == NULL || s->nullable == NULL)
    goto nomem;
  for (size_t i = 0; i < n_fields; i++) {
    size_t len = strlen(names[i]) + 1; /* not strdup: plain C11 */
    if ((s->names[i] = malloc(len)) == NULL)
      goto nomem;
    memcpy(s->names[i], names[i], len);
    /* Normalise: precision and scale mean nothing outside DECIMAL, and
     * stray values there must not make two equal schemas differ. */
    s->types[i] = types[i];
    if (types[i].id != DQ_TYPE_DECIMAL) {
      s->types[i].precision = 0;
      s->types[i].scale = 0;
    }
    s->nullable[i] = nullable == NULL ? true : nullable[i];
  }
  *out = s;
  return 0;
nomem:
  schema_free(s);
  return dq_error_set(err, DQ_ENOMEM, "out of memory making a schema");
}

dq_schema *dq_schema_ref(dq_schema *s) {
  if (s != NULL)
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

void dq_schema_unref(dq_schema *s) {
  if (s != NULL &&
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
    schema_free(s);
}

size_t dq_schema_n_fields(const dq_schema *s) {
  return s == NULL ? 0 : s->n_fields;
}

const char *dq_schema_field_name(const dq_schema *s, size_t i) {
  return s == NULL || i >= s->n_fields ? NULL : s->names[i];
}

dq_type dq_schema_field_type(const dq_schema *s, size_t i) {
  if (s == NULL || i >= s->n_fields) {
    dq_type none = {0, 0, 0};
    return none;
  }
  return s->types[i];
}

bool dq_schema_field_nullable(const dq_schema *s, size_t i) {
  return s != NULL && i < s->n_fields && s->nullable[i];
}

/* Names need not be unique (a query may produce two "sum" columns); the
 * first match wins, as in a SQL select list. */
int dq_schema_field_index(const dq_schema *s, const char *name) {
  if (s == NULL || name == NULL)
    return -1;
  for (size_t i = 0; i < s->n_fields; i++)
    if (strcmp(s->names[i], name) == 0)
      return (int)i;
  return -1;
}

bool dq_schema_equal(const dq_schema *a, const dq_schema *b) {
  if (a == b)
    return true;
  if (a == NULL || b == NULL || a->n_fields != b->n_fields)
    return false;
  for (size_t i = 0; i < a->n_fields; i++)
    if (strcmp(a->names[i], b->names[i]) != 0 ||
        !dq_type_equal(a->types[i], b->types[i]) ||
        a->nullable[i] != b->nullable[i])
      return false;
  return true;
}
