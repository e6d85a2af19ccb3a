/* expr.h — expressions inside libdq: their representation, resolution
 * (name lookup, type rules, implicit casts), vectorized evaluation, and the
 * array kernels the operators share (output arrays, take, concat, slice,
 * hashing, order-preserving row keys).
 *
 * One struct serves two lives.  A builder's expression (dq_plan.h) is
 * unresolved: columns by name, no types, children borrowed from the same
 * builder.  dq_expr_resolve() turns it into a resolved tree that owns its
 * children, has every type filled in and every implicit cast written out as
 * an explicit CAST.  Nodes hold only resolved trees; the codec encodes them
 * and the decoder resolves the decoded tree again, which both type-checks
 * untrusted input and reproduces the same tree (resolution is idempotent).
 */
#ifndef DQ_EXPR_H
#define DQ_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include <dq/plan.h>

#include "arrow/batch_internal.h"

/* Values match dq.v1.ExprOp in plan.proto. */
typedef enum dq_expr_op {
  DQ_OP_ADD = 1,
  DQ_OP_SUB = 2,
  DQ_OP_MUL = 3,
  DQ_OP_DIV = 4,
  DQ_OP_EQ = 5,
  DQ_OP_NE = 6,
  DQ_OP_LT = 7,
  DQ_OP_LE = 8,
  DQ_OP_GT = 9,
  DQ_OP_GE = 10,
  DQ_OP_AND = 11,
  DQ_OP_OR = 12,
  DQ_OP_NOT = 20,
  DQ_OP_IS_NULL = 21,
  DQ_OP_IS_NOT_NULL = 22,
  DQ_OP_NEG = 23,
  DQ_OP_CAST = 24,
  DQ_OP_IN = 25,           /* args[0] IN (list[0..n_list)) */
  DQ_OP_LIKE = 26,         /* args[0] LIKE args[1] (a utf8 literal) */
  DQ_OP_CASE = 27,         /* CASE WHEN args[0] THEN args[1] [ELSE args[2]] */
  DQ_OP_EXTRACT_YEAR = 28, /* EXTRACT(YEAR FROM args[0]) */
  DQ_OP_SUBSTRING = 29     /* SUBSTRING(args[0], args[1], args[2]) */
} dq_expr_op;

typedef enum dq_expr_kind {
  DQ_EXPR_COLUMN = 1,
  DQ_EXPR_LITERAL = 2,
  DQ_EXPR_CALL = 3
} dq_expr_kind;

/* A typed constant.  DATE32 and INT32 use i32; str is NUL-terminated. */
typedef struct dq_scalar {
  dq_type type;
  bool is_null;
  union {
    bool b;
    int32_t i32;
    int64_t i64;
    double f64;
    dq_i128 dec;
  } v;
  char *str;
  size_t len;
} dq_scalar;

struct dq_expr {
  dq_expr_kind kind;
  dq_expr_op op;        /* CALL */
  bool resolved;
  dq_type type;         /* resolved: the result type */
  char *name;           /* COLUMN: the name, or NULL when given by index */
  uint32_t column;      /* COLUMN: the index (resolved, or decoded) */
  dq_scalar lit;        /* LITERAL */
  dq_type cast_type;    /* CAST: the target */
  size_t n_args;        /* CALL: 1 to 3 (dq_expr_op_n_args_ok) */
  dq_expr *args[3];     /* borrowed when unresolved, owned when resolved */
  size_t n_list;        /* IN: the values, literals (owned), of one type */
  dq_scalar *list;      /* with args[0] once resolved */
  dq_expr *builder_next; /* the builder's list of its handles */
};

bool dq_expr_op_is_binary(dq_expr_op op);
/* Whether op takes n arguments (CASE takes 2 or 3). */
bool dq_expr_op_n_args_ok(dq_expr_op op, size_t n);
bool dq_expr_op_valid(int op);
const char *dq_expr_op_name(dq_expr_op op);

/* A fresh unresolved expression (calloc'd); NULL when out of memory. */
dq_expr *dq_expr_alloc(dq_expr_kind kind);
/* Frees one expression and, for a resolved tree, its children. */
void dq_expr_free(dq_expr *e);

/* Resolves `src` against the input schema (see the top of this file).
 * Errors name the column or the expression and the types involved. */
int dq_expr_resolve(const dq_expr *src, const dq_schema *input, dq_expr **out,
                    dq_error *err);
/* Brings two resolved expressions to one type the way a comparison does
 * (wrapping them in CASTs as needed); *ok false when they cannot be
 * compared.  Hash joins use it for their key pairs. */
int dq_expr_unify(dq_expr **l, dq_expr **r, bool *ok, dq_error *err);
/* Writes a SQL-like rendering ("(l_quantity < 24)") into buf; column names
 * come from `input` when given, else from the expression, else "#i". */
const char *dq_expr_format(const dq_expr *e, const dq_schema *input,
                           char *buf, size_t len);

/* Evaluates a resolved expression over a batch: *out gets an array of
 * e->type with one value per row (a column reference returns a new
 * reference to the batch's column). */
int dq_expr_eval(const dq_expr *e, const dq_batch *b, dq_array **out,
                 dq_error *err);

/* Kernels of expr_func.c, called by dq_expr_eval once per batch: IN,
 * LIKE and EXTRACT(YEAR) over their evaluated argument x; CASE and
 * SUBSTRING evaluate their own arguments; the casts that are not integer
 * or decimal rescaling (utf8 <-> date32, float64 -> integer/decimal). */
int dq_eval_in(const dq_expr *e, const dq_array *x, int64_t n,
               dq_array **out, dq_error *err);
int dq_eval_like(const dq_expr *e, const dq_array *x, int64_t n,
                 dq_array **out, dq_error *err);
int dq_eval_extract_year(const dq_array *x, int64_t n, dq_array **out,
                         dq_error *err);
int dq_eval_case(const dq_expr *e, const dq_batch *b, dq_array **out,
                 dq_error *err);
int dq_eval_substring(const dq_expr *e, const dq_batch *b, dq_array **out,
                      dq_error *err);
int dq_eval_cast_other(const dq_array *x, dq_type to, int64_t n,
                       dq_array **out, dq_error *err);

/* Parses "YYYY-MM-DD" into days since 1970-01-01; false when malformed. */
bool dq_date_parse(const char *text, int32_t *days);
void dq_date_format(int32_t days, char *buf, size_t len);
/* The (proleptic Gregorian) year of a day number. */
int32_t dq_date_year(int32_t days);
/* Parses a decimal literal; false when malformed or above 38 digits. */
bool dq_decimal_parse(const char *text, dq_i128 *v, uint8_t *precision,
                      int8_t *scale);
/* Formats an unscaled value with `scale` digits after the point. */
void dq_decimal_format(dq_i128 v, int scale, char *buf, size_t len);
/* 10^k for 0 <= k <= 38. */
dq_i128 dq_pow10_i128(int k);
/* v / 10^k rounded half away from zero (k >= 0). */
dq_i128 dq_i128_div_round(dq_i128 v, dq_i128 d);

/* --- Array kernels ---------------------------------------------------------
 * Building an output array: buffers sized for n rows, filled in place by the
 * caller, then assembled (the null count is recounted from the bitmap). */
typedef struct dq_array_out {
  dq_type type;
  int64_t n;
  dq_buffer *values;
  dq_buffer *validity; /* NULL when no nulls are possible */
  dq_buffer *offsets;  /* UTF8 */
} dq_array_out;

int dq_out_init(dq_array_out *o, dq_type t, int64_t n, bool nullable,
                int64_t utf8_bytes, dq_error *err);
int dq_out_finish(dq_array_out *o, dq_array **out, dq_error *err);
void dq_out_discard(dq_array_out *o);

/* An array of n copies of a scalar. */
int dq_array_constant(const dq_scalar *s, int64_t n, dq_array **out,
                      dq_error *err);
/* Rows idx[0..n) of a, in that order. */
int dq_array_take(const dq_array *a, const uint32_t *idx, int64_t n,
                  dq_array **out, dq_error *err);
/* Every column of b taken at idx. */
int dq_batch_take(const dq_batch *b, const uint32_t *idx, int64_t n,
                  dq_batch **out, dq_error *err);
/* Rows [start, start+n) of b. */
int dq_batch_slice(const dq_batch *b, int64_t start, int64_t n,
                   dq_batch **out, dq_error *err);
/* The batches, one after the other (all of `schema`).  n may be 0. */
int dq_batch_concat(dq_schema *schema, dq_batch *const *bs, size_t n,
                    dq_batch **out, dq_error *err);
/* The same columns under another schema of equal types (names may differ). */
int dq_batch_reschema(const dq_batch *b, dq_schema *schema, dq_batch **out,
                      dq_error *err);

/* The hash dq_hash_partition routes by: per row, over the columns in order,
 * deterministic on every host (see hash_partition.c for the definition). */
void dq_hash_columns(const dq_array *const *cols, size_t n_cols, int64_t n,
                     uint64_t *out);
/* A 64-bit hash of bytes. */
uint64_t dq_hash_bytes(const void *data, size_t len, uint64_t seed);

/* Order-preserving row keys: for each row, bytes whose memcmp order is the
 * order of the columns (with per-column direction and null placement) and
 * which are equal exactly when every column is equal (NULLs equal each
 * other, -0.0 equals 0.0, NaNs equal each other).  Row i's key is
 * bytes[offsets[i] .. offsets[i+1]). */
typedef struct dq_row_keys {
  int64_t n;
  uint8_t *bytes;
  uint64_t *offsets; /* n + 1 */
} dq_row_keys;

int dq_row_keys_encode(const dq_array *const *cols, size_t n_cols,
                       const bool *descending, const bool *nulls_first,
                       int64_t n, dq_row_keys *out, dq_error *err);
void dq_row_keys_free(dq_row_keys *k);
/* Decodes column `col` of keys made by dq_row_keys_encode with every column
 * ascending, for the rows `rows` (pointers to each row's key); `pos[i]` is
 * row i's read position, advanced past the column. */
int dq_row_keys_decode_column(const uint8_t *const *rows, size_t *pos,
                              int64_t n, dq_type type, dq_array **out,
                              dq_error *err);

#endif /* DQ_EXPR_H */
