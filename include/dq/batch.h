/* dq/batch.h — columnar record batches: types, schemas, arrays, batches,
 * builders, and their exchange as Arrow C Data Interface structs.
 *
 * All three of dq_schema, dq_array and dq_batch are immutable once built and
 * reference-counted with atomic counts, so one batch can be handed between
 * threads and shared by several readers without copying.  *_ref() returns
 * its argument; *_unref(NULL) is a no-op.
 *
 * Types (Arrow format string in brackets):
 *   BOOL     [b]   bit-packed, LSB first
 *   INT32    [i]   INT64 [l]   FLOAT64 [g]
 *   UTF8     [u]   int32 offsets + bytes
 *   DATE32   [tdD] days since 1970-01-01, int32
 *   DECIMAL  [d:P,S,64] precision P <= 18: Arrow decimal64, a 64-bit
 *            two's-complement unscaled integer, little-endian;
 *            [d:P,S]    P > 18: Arrow decimal128, 128 bits {low, high word};
 *            value = unscaled / 10^S.  The width follows from the precision
 *            (dq_type_width); a decimal128 of P <= 18 from elsewhere is
 *            narrowed on import.  Money columns are DECIMAL(15,2), 8 bytes.
 *            Sums and products are computed on 128-bit unscaled integers and
 *            narrowed with an exact check, so they are exact or fail.
 * Validity: a bitmap (bit set = valid), absent when the array has no nulls.
 */
#ifndef DQ_BATCH_H
#define DQ_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/arrow.h>
#include <dq/dq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dq_type_id {
  DQ_TYPE_BOOL = 1,
  DQ_TYPE_INT32 = 2,
  DQ_TYPE_INT64 = 3,
  DQ_TYPE_FLOAT64 = 4,
  DQ_TYPE_UTF8 = 5,
  DQ_TYPE_DATE32 = 6,
  DQ_TYPE_DECIMAL = 7
} dq_type_id;

typedef struct dq_type {
  dq_type_id id;
  uint8_t precision; /* DECIMAL only: 1..38 */
  int8_t scale;      /* DECIMAL only: 0..precision */
} dq_type;

/* A decimal's unscaled 128-bit value, split so the header stays C99. */
typedef struct dq_decimal {
  uint64_t lo;
  int64_t hi;
} dq_decimal;

/* Name of a type ("int64", "decimal(15,2)", ...) into buf; returns buf. */
DQ_EXPORT const char *dq_type_format(dq_type t, char *buf, size_t len);
/* Byte width of one value, 0 for BOOL (bits) and UTF8 (variable). */
DQ_EXPORT size_t dq_type_width(dq_type t);

/* --- Schemas -------------------------------------------------------------- */
typedef struct dq_schema dq_schema;

/* nullable may be NULL (every field nullable).  Names are copied. */
DQ_EXPORT int dq_schema_new(size_t n_fields, const char *const *names,
                            const dq_type *types, const bool *nullable,
                            dq_schema **out, dq_error *err);
DQ_EXPORT dq_schema *dq_schema_ref(dq_schema *s);
DQ_EXPORT void dq_schema_unref(dq_schema *s);
DQ_EXPORT size_t dq_schema_n_fields(const dq_schema *s);
DQ_EXPORT const char *dq_schema_field_name(const dq_schema *s, size_t i);
DQ_EXPORT dq_type dq_schema_field_type(const dq_schema *s, size_t i);
DQ_EXPORT bool dq_schema_field_nullable(const dq_schema *s, size_t i);
/* Index of the field called name, or -1. */
DQ_EXPORT int dq_schema_field_index(const dq_schema *s, const char *name);
DQ_EXPORT bool dq_schema_equal(const dq_schema *a, const dq_schema *b);

/* --- Arrays (one column) -------------------------------------------------- */
typedef struct dq_array dq_array;

DQ_EXPORT dq_array *dq_array_ref(dq_array *a);
DQ_EXPORT void dq_array_unref(dq_array *a);
DQ_EXPORT dq_type dq_array_type(const dq_array *a);
DQ_EXPORT int64_t dq_array_length(const dq_array *a);
DQ_EXPORT int64_t dq_array_null_count(const dq_array *a);
DQ_EXPORT bool dq_array_is_null(const dq_array *a, int64_t i);
/* Typed accessors; calling one on the wrong type or with an index out of
 * range returns 0 / false / NULL (dq_array_is_null then returns false). */
DQ_EXPORT bool dq_array_bool(const dq_array *a, int64_t i);
DQ_EXPORT int32_t dq_array_int32(const dq_array *a, int64_t i);
DQ_EXPORT int64_t dq_array_int64(const dq_array *a, int64_t i);
DQ_EXPORT double dq_array_float64(const dq_array *a, int64_t i);
DQ_EXPORT int32_t dq_array_date32(const dq_array *a, int64_t i);
DQ_EXPORT dq_decimal dq_array_decimal(const dq_array *a, int64_t i);
/* Pointer to the bytes of a UTF8 value (not NUL-terminated) and its length;
 * a null value reads as "" (length 0). */
DQ_EXPORT const char *dq_array_utf8(const dq_array *a, int64_t i,
                                    size_t *len);

/* --- Batches -------------------------------------------------------------- */
typedef struct dq_batch dq_batch;

/* Makes a batch of n_rows rows from one array per schema field (each array's
 * type must match its field and its length must be n_rows).  Takes a new
 * reference to the schema and to each array. */
DQ_EXPORT int dq_batch_new(dq_schema *schema, int64_t n_rows,
                           dq_array *const *columns, dq_batch **out,
                           dq_error *err);
DQ_EXPORT dq_batch *dq_batch_ref(dq_batch *b);
DQ_EXPORT void dq_batch_unref(dq_batch *b);
DQ_EXPORT const dq_schema *dq_batch_schema(const dq_batch *b);
DQ_EXPORT int64_t dq_batch_n_rows(const dq_batch *b);
DQ_EXPORT size_t dq_batch_n_columns(const dq_batch *b);
DQ_EXPORT const dq_array *dq_batch_column(const dq_batch *b, size_t i);
/* Bytes held by the batch's buffers (for metrics and memory accounting). */
DQ_EXPORT size_t dq_batch_byte_size(const dq_batch *b);

/* --- Builders --------------------------------------------------------------
 * Append values row by row, then finish into a batch.  Appending a value of
 * the wrong type to a column is DQ_EINVAL.  A builder is for one thread. */
typedef struct dq_batch_builder dq_batch_builder;

DQ_EXPORT int dq_batch_builder_new(dq_schema *schema, int64_t capacity_hint,
                                   dq_batch_builder **out, dq_error *err);
DQ_EXPORT void dq_batch_builder_free(dq_batch_builder *b);
DQ_EXPORT int dq_builder_append_null(dq_batch_builder *b, size_t col);
DQ_EXPORT int dq_builder_append_bool(dq_batch_builder *b, size_t col, bool v);
DQ_EXPORT int dq_builder_append_int32(dq_batch_builder *b, size_t col,
                                      int32_t v);
DQ_EXPORT int dq_builder_append_int64(dq_batch_builder *b, size_t col,
                                      int64_t v);
DQ_EXPORT int dq_builder_append_float64(dq_batch_builder *b, size_t col,
                                        double v);
DQ_EXPORT int dq_builder_append_date32(dq_batch_builder *b, size_t col,
                                       int32_t days);
DQ_EXPORT int dq_builder_append_decimal(dq_batch_builder *b, size_t col,
                                        dq_decimal v);
DQ_EXPORT int dq_builder_append_utf8(dq_batch_builder *b, size_t col,
                                     const char *s, size_t len);
/* The sentence explaining the last failed append ("" if none): the append
 * functions return only a code, to keep the per-value path small.  Valid
 * until the next call on the builder. */
DQ_EXPORT const char *dq_batch_builder_error(const dq_batch_builder *b);
/* Every column must have the same number of values.  On success the builder
 * is reset and may be reused; on failure it is left as it was. */
DQ_EXPORT int dq_batch_builder_finish(dq_batch_builder *b, dq_batch **out,
                                      dq_error *err);

/* --- Arrow C Data Interface ------------------------------------------------
 * A batch is exported as a struct array ("+s") whose children are the
 * columns.  Export does not copy: the exported struct holds references that
 * its release callback drops; its children may be moved out or released
 * independently, as the specification allows.  Import takes ownership of the
 * ArrowArray (moves it; the caller's struct is marked released), on failure
 * too, unless `in` is NULL or already released.  It does not copy buffers
 * either: a non-zero offset is normalised by pointing into the producer's
 * buffers, and only a bitmap whose offset is not a multiple of 8, or a
 * buffer misaligned for its type, is copied.  The producer's release runs
 * when the last imported buffer is dropped.  The ArrowArray must match the
 * schema (one child per field, of the field's type).  An ArrowArray that
 * dq_batch_export of this same library produced and nobody modified is
 * taken back by reference (the batch shares the exporter's arrays; their
 * checks were made when they were built); any other is checked in full. */
DQ_EXPORT int dq_schema_export(const dq_schema *s, struct ArrowSchema *out,
                               dq_error *err);
/* Reads (does not take) an ArrowSchema of a struct type. */
DQ_EXPORT int dq_schema_import(const struct ArrowSchema *in, dq_schema **out,
                               dq_error *err);
DQ_EXPORT int dq_batch_export(dq_batch *b, struct ArrowArray *out,
                              dq_error *err);
DQ_EXPORT int dq_batch_import(struct ArrowArray *in, dq_schema *schema,
                              dq_batch **out, dq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* DQ_BATCH_H */
