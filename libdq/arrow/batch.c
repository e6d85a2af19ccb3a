/* batch.c — dq_batch: a schema plus one array per field, all of one length.
 *
 * A batch is immutable and shares its arrays by reference, so projections
 * and hand-overs between threads never copy column data. */
#include <inttypes.h>
#include <stdlib.h>

#include "arrow/batch_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dq stores values in Arrow's little-endian layout and needs a little-endian host"
#endif

int dq_batch_new(dq_schema *schema, int64_t n_rows, dq_array *const *columns,
                 dq_batch **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_new: out is NULL");
  *out = NULL;
  if (schema == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_batch_new: schema is NULL");
  if (n_rows < 0)
    return dq_error_set(err, DQ_EINVAL,
                        "a batch cannot have a negative row count (%" PRId64
                        ")", n_rows);
  size_t n = schema->n_fields;
  if (n > 0 && columns == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_batch_new: columns is NULL for %zu fields", n);
  for (size_t i = 0; i < n; i++) {
    const dq_array *a = columns[i];
    const char *name = schema->names[i];
    char want[32], got[32];
    if (a == NULL)
      return dq_error_set(err, DQ_EINVAL, "column %zu (\"%s\") is NULL", i,
                          name);
    if (!dq_type_equal(a->type, schema->types[i]))
      return dq_error_set(err, DQ_EINVAL,
                          "column %zu (\"%s\") is %s but the schema says %s",
                          i, name, dq_type_format(a->type, got, sizeof got),
                          dq_type_format(schema->types[i], want, sizeof want));
    if (a->length != n_rows)
      return dq_error_set(err, DQ_EINVAL,
                          "column %zu (\"%s\") has %" PRId64
                          " rows but the batch has %" PRId64,
                          i, name, a->length, n_rows);
    if (!schema->nullable[i] && a->null_count > 0)
      return dq_error_set(err, DQ_EINVAL,
                          "column %zu (\"%s\") is not nullable but has %" PRId64
                          " nulls", i, name, a->null_count);
  }

  dq_batch *b = malloc(sizeof *b);
  dq_array **cols = calloc(n ? n : 1, sizeof *cols);
  if (b == NULL || cols == NULL) {
    free(b);
    free(cols);
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a batch");
  }
  atomic_init(&b->refs, 1);
  b->schema = dq_schema_ref(schema);
  b->n_rows = n_rows;
  b->columns = cols;
  for (size_t i = 0; i < n; i++)
    cols[i] = dq_array_ref(columns[i]);
  *out = b;
  return 0;
}

dq_batch *dq_batch_ref(dq_batch *b) {
  if (b != NULL)
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  return b;
}

void dq_batch_unref(dq_batch *b) {
  if (b == NULL ||
      atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < b->schema->n_fields; i++)
    dq_array_unref(b->columns[i]);
  free(b->columns);
  dq_schema_unref(b->schema);
  free(b);
}

const dq_schema *dq_batch_schema(const dq_batch *b) {
  return b ? b->schema : NULL;
}

int64_t dq_batch_n_rows(const dq_batch *b) { return b ? b->n_rows : 0; }

size_t dq_batch_n_columns(const dq_batch *b) {
  return b ? b->schema->n_fields : 0;
}

const dq_array *dq_batch_column(const dq_batch *b, size_t i) {
  return b == NULL || i >= b->schema->n_fields ? NULL : b->columns[i];
}

/* Bytes in use (not capacity) of every column's buffers, counted per column:
 * that is what a reader of the batch sees and roughly what the IPC encoder
 * sends.  A buffer shared by two columns is counted twice. */
size_t dq_batch_byte_size(const dq_batch *b) {
  if (b == NULL)
    return 0;
  size_t total = 0;
  for (size_t i = 0; i < b->schema->n_fields; i++) {
    const dq_array *a = b->columns[i];
    if (a->validity)
      total += a->validity->size;
    if (a->values)
      total += a->values->size;
    if (a->offsets)
      total += a->offsets->size;
  }
  return total;
}
