/* expr_eval.c — vectorized evaluation of resolved expressions, one batch at
 * a time, into arrays.
 *
 * Every kernel is a plain loop over one type and one operator, chosen once
 * per batch by a switch; a literal operand is read in place (a stride-0
 * loop) instead of being expanded into an array.  Nulls: a result's
 * validity is the AND of its operands' bitmaps (AND/OR/IS NULL excepted);
 * values under null slots are computed but meaningless, so kernels that can
 * fail (overflow) record a per-row flag and only rows that are valid fail
 * the batch.  Division by zero gives NULL (see dq/plan.h for why). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "arrow/decimal_width.h"

/* An evaluated operand: an array, or a literal read in place. */
typedef struct operand {
  dq_array *arr;        /* owned reference, NULL for a literal */
  const dq_scalar *lit; /* the literal */
  const uint8_t *data;  /* values (array) or the literal's value */
  const int32_t *offs;  /* UTF8 array offsets */
  const uint8_t *valid; /* validity bitmap, NULL when all valid */
  bool scalar;
  bool null;     /* a NULL literal */
  int64_t lit64; /* a decimal64 literal at its type's width (data points here) */
} operand;

static int operand_eval(const dq_expr *e, const dq_batch *b, operand *o,
                        dq_error *err) {
  memset(o, 0, sizeof *o);
  if (e->kind == DQ_EXPR_LITERAL) {
    o->scalar = true;
    o->lit = &e->lit;
    o->null = e->lit.is_null;
    if (e->lit.type.id == DQ_TYPE_UTF8)
      o->data = (const uint8_t *)(e->lit.str ? e->lit.str : "");
    else
      o->data = (const uint8_t *)&e->lit.v;
    /* Every decimal operand is laid out as its type says (decimal_width.h):
     * a literal of precision <= 18 fits 64 bits. */
    if (dq_type_width(e->type) == 8 && e->type.id == DQ_TYPE_DECIMAL) {
      o->lit64 = (int64_t)e->lit.v.dec;
      o->data = (const uint8_t *)&o->lit64;
    }
    return 0;
  }
  int rc = dq_expr_eval(e, b, &o->arr, err);
  if (rc != 0)
    return rc;
  o->data = o->arr->values->data;
  o->offs = o->arr->offsets ? (const int32_t *)o->arr->offsets->data : NULL;
  o->valid = o->arr->validity ? o->arr->validity->data : NULL;
  return 0;
}

static void operand_clear(operand *o) {
  dq_array_unref(o->arr);
  o->arr = NULL;
}

static int all_null(dq_type t, int64_t n, dq_array **out, dq_error *err) {
  dq_scalar s;
  memset(&s, 0, sizeof s);
  s.type = t;
  s.is_null = true;
  return dq_array_constant(&s, n, out, err);
}

/* The AND of the operands' validity into o (allocated when any has nulls
 * or `force`). */
static int combine_validity(const operand *a, const operand *b, int64_t n,
                            bool force, dq_array_out *o, dq_error *err) {
  const uint8_t *va = a ? a->valid : NULL, *vb = b ? b->valid : NULL;
  if (va == NULL && vb == NULL && !force)
    return 0;
  size_t nb = (size_t)(n + 7) / 8;
  o->validity = dq_buffer_new(nb);
  if (o->validity == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory (validity bitmap)");
  uint8_t *v = o->validity->data;
  if (va && vb)
    for (size_t i = 0; i < nb; i++)
      v[i] = va[i] & vb[i];
  else if (va || vb)
    memcpy(v, va ? va : vb, nb);
  else
    memset(v, 0xff, nb);
  return 0;
}

/* Fails if any valid row has its flag set. */
static int check_flags(const uint8_t *flags, const uint8_t *valid, int64_t n,
                       const char *what, dq_error *err) {
  /* Almost always all clear: skip 8 flags at a time to the first set one. */
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, flags + i, 8);
    if (w != 0)
      break;
  }
  for (; i < n; i++)
    if (flags[i] && (valid == NULL || dq_bit_get(valid, i)))
      return dq_error_set(err, DQ_EEXEC, "%s (at row %" PRId64 ")", what, i);
  return 0;
}

/* Whether every one of the n values is an int64 sign-extended to 128 bits. */
static bool fits_i64(const dq_i128 *v, int64_t n) {
  /* Little-endian halves: the high word must be the low word's sign.  On
   * 64-bit words so that the loop vectorizes. */
  const uint64_t *w = (const uint64_t *)v;
  uint64_t bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad |= w[2 * i + 1] ^ (uint64_t)((int64_t)w[2 * i] >> 63);
  return bad == 0;
}

/* Loops over n rows with ia/ib the operand indexes (0 for a literal). */
#define LOOP2(sa, sb, n, ...)                                                  \
  do {                                                                         \
    if (!(sa) && !(sb)) {                                                      \
      for (int64_t i = 0; i < (n); i++) {                                      \
        const int64_t ia = i, ib = i;                                          \
        __VA_ARGS__;                                                           \
      }                                                                        \
    } else if (!(sa)) {                                                        \
      for (int64_t i = 0; i < (n); i++) {                                      \
        const int64_t ia = i, ib = 0;                                          \
        __VA_ARGS__;                                                           \
      }                                                                        \
    } else {                                                                   \
      for (int64_t i = 0; i < (n); i++) {                                      \
        const int64_t ia = 0, ib = i;                                          \
        __VA_ARGS__;                                                           \
      }                                                                        \
    }                                                                          \
  } while (0)

/* --- Arithmetic ----------------------------------------------------------- */

#define INT_ARITH(T, UT, MIN)                                                  \
  do {                                                                         \
    const T *x = (const T *)a->data, *y = (const T *)b->data;                  \
    T *r = (T *)o.values->data;                                                \
    switch (op) {                                                              \
    case DQ_OP_ADD:                                                            \
      LOOP2(a->scalar, b->scalar, n,                                           \
            flags[i] = (uint8_t)__builtin_add_overflow(x[ia], y[ib], &r[i]));  \
      break;                                                                   \
    case DQ_OP_SUB:                                                            \
      LOOP2(a->scalar, b->scalar, n,                                           \
            flags[i] = (uint8_t)__builtin_sub_overflow(x[ia], y[ib], &r[i]));  \
      break;                                                                   \
    case DQ_OP_MUL:                                                            \
      LOOP2(a->scalar, b->scalar, n,                                           \
            flags[i] = (uint8_t)__builtin_mul_overflow(x[ia], y[ib], &r[i]));  \
      break;                                                                   \
    default:                                                                   \
      LOOP2(a->scalar, b->scalar, n, {                                         \
        T xv = x[ia], yv = y[ib];                                              \
        zero[i] = yv == 0;                                                     \
        flags[i] = yv == -1 && xv == (MIN);                                    \
        r[i] = yv == 0 ? 0 : yv == -1 ? (T)(0 - (UT)xv) : xv / yv;             \
      });                                                                      \
      break;                                                                   \
    }                                                                          \
  } while (0)

/* Whether v fits a result of type T (int64_t: decimal64; dq_i128: always,
 * the 128-bit operation having flagged its own overflow). */
#define DEC_FITS(T, v) (sizeof(T) == 8 ? dq_i128_fits_i64(v) : true)

/* Decimal arithmetic with operands of types TX, TY (int64_t for decimal64,
 * dq_i128 for decimal128) into results of type TR, every overflow flagged
 * exactly.  A product of two values that fit 64 bits fits 127 bits and is
 * computed without the libgcc call of a checked 128-bit multiply. */
#define DEC_ARITH(TX, TY, TR)                                                  \
  do {                                                                         \
    const TX *x = (const TX *)a->data;                                         \
    const TY *y = (const TY *)b->data;                                         \
    TR *r = (TR *)o.values->data;                                              \
    switch (op) {                                                              \
    case DQ_OP_ADD:                                                            \
    case DQ_OP_SUB:                                                            \
      if (sizeof(TX) == 8 && sizeof(TY) == 8 && sizeof(TR) == 8) {             \
        if (op == DQ_OP_ADD)                                                   \
          LOOP2(a->scalar, b->scalar, n,                                       \
                flags[i] = (uint8_t)__builtin_add_overflow(                    \
                    (int64_t)x[ia], (int64_t)y[ib], (int64_t *)&r[i]));        \
        else                                                                   \
          LOOP2(a->scalar, b->scalar, n,                                       \
                flags[i] = (uint8_t)__builtin_sub_overflow(                    \
                    (int64_t)x[ia], (int64_t)y[ib], (int64_t *)&r[i]));        \
        break;                                                                 \
      }                                                                        \
      LOOP2(a->scalar, b->scalar, n, {                                         \
        dq_i128 v_;                                                            \
        uint8_t f_ = op == DQ_OP_ADD                                           \
                         ? (uint8_t)__builtin_add_overflow(                    \
                               (dq_i128)x[ia], (dq_i128)y[ib], &v_)            \
                         : (uint8_t)__builtin_sub_overflow(                    \
                               (dq_i128)x[ia], (dq_i128)y[ib], &v_);           \
        flags[i] = (uint8_t)(f_ | !DEC_FITS(TR, v_));                          \
        r[i] = (TR)v_;                                                         \
      });                                                                      \
      break;                                                                   \
    case DQ_OP_MUL:                                                            \
      if ((sizeof(TX) == 8 ||                                                  \
           fits_i64((const dq_i128 *)(const void *)x, a->scalar ? 1 : n)) &&  \
          (sizeof(TY) == 8 ||                                                  \
           fits_i64((const dq_i128 *)(const void *)y, b->scalar ? 1 : n))) {  \
        if (sizeof(TR) == 8)                                                   \
          LOOP2(a->scalar, b->scalar, n, {                                     \
            dq_i128 v_ = (dq_i128)(int64_t)x[ia] * (int64_t)y[ib];             \
            flags[i] = (uint8_t)!DEC_FITS(TR, v_);                             \
            r[i] = (TR)v_;                                                     \
          });                                                                  \
        else                                                                   \
          LOOP2(a->scalar, b->scalar, n,                                       \
                r[i] = (TR)((dq_i128)(int64_t)x[ia] * (int64_t)y[ib]));        \
      } else {                                                                 \
        LOOP2(a->scalar, b->scalar, n, {                                       \
          dq_i128 v_;                                                          \
          uint8_t f_ = (uint8_t)__builtin_mul_overflow((dq_i128)x[ia],         \
                                                       (dq_i128)y[ib], &v_);   \
          flags[i] = (uint8_t)(f_ | !DEC_FITS(TR, v_));                        \
          r[i] = (TR)v_;                                                       \
        });                                                                    \
      }                                                                        \
      break;                                                                   \
    default:                                                                   \
      LOOP2(a->scalar, b->scalar, n, {                                         \
        dq_i128 num, yv = (dq_i128)y[ib], v_;                                  \
        zero[i] = yv == 0;                                                     \
        uint8_t f_ = (uint8_t)__builtin_mul_overflow((dq_i128)x[ia], m, &num); \
        v_ = yv == 0 ? 0 : dq_i128_div_round(num, yv);                         \
        flags[i] = (uint8_t)(f_ | !DEC_FITS(TR, v_));                          \
        r[i] = (TR)v_;                                                         \
      });                                                                      \
      break;                                                                   \
    }                                                                          \
  } while (0)

static int eval_arith(const dq_expr *e, operand *a, operand *b, int64_t n,
                      dq_array **out, dq_error *err) {
  dq_expr_op op = e->op;
  dq_type ta = e->args[0]->type;
  if (a->null || b->null)
    return all_null(e->type, n, out, err);
  dq_array_out o;
  int rc = dq_out_init(&o, e->type, n, false, 0, err);
  if (rc != 0)
    return rc;
  bool is_div = op == DQ_OP_DIV;
  if ((rc = combine_validity(a, b, n, is_div, &o, err)) != 0)
    goto done;
  uint8_t *flags = calloc((size_t)n + 1, 2);
  if (flags == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory evaluating %s",
                      dq_expr_op_name(op));
    goto done;
  }
  uint8_t *zero = flags + n + 1;
  const char *what = "integer overflow";
  switch (ta.id) {
  case DQ_TYPE_INT32: INT_ARITH(int32_t, uint32_t, INT32_MIN); break;
  case DQ_TYPE_INT64: INT_ARITH(int64_t, uint64_t, INT64_MIN); break;
  case DQ_TYPE_DATE32: {
    /* date +/- int32 -> date; date - date -> int32 days */
    const int32_t *x = (const int32_t *)a->data, *y = (const int32_t *)b->data;
    int32_t *r = (int32_t *)o.values->data;
    what = "date out of range";
    if (op == DQ_OP_ADD)
      LOOP2(a->scalar, b->scalar, n,
            flags[i] = (uint8_t)__builtin_add_overflow(x[ia], y[ib], &r[i]));
    else
      LOOP2(a->scalar, b->scalar, n,
            flags[i] = (uint8_t)__builtin_sub_overflow(x[ia], y[ib], &r[i]));
    break;
  }
  case DQ_TYPE_FLOAT64: {
    const double *x = (const double *)a->data, *y = (const double *)b->data;
    double *r = (double *)o.values->data;
    switch (op) {
    case DQ_OP_ADD: LOOP2(a->scalar, b->scalar, n, r[i] = x[ia] + y[ib]); break;
    case DQ_OP_SUB: LOOP2(a->scalar, b->scalar, n, r[i] = x[ia] - y[ib]); break;
    case DQ_OP_MUL: LOOP2(a->scalar, b->scalar, n, r[i] = x[ia] * y[ib]); break;
    default:
      LOOP2(a->scalar, b->scalar, n, {
        zero[i] = y[ib] == 0.0;
        r[i] = y[ib] == 0.0 ? 0.0 : x[ia] / y[ib];
      });
      break;
    }
    break;
  }
  case DQ_TYPE_DECIMAL: {
    /* Each operand and the result is 64 or 128 bits as its type says; the
     * arithmetic is on 128 bits and a 64-bit result is narrowed with an
     * exact check (decimal_width.h). */
    what = "decimal overflow";
    int wx = (int)dq_type_width(ta), wy = (int)dq_type_width(e->args[1]->type);
    int wr = (int)dq_type_width(e->type);
    int k = op == DQ_OP_DIV
                ? e->type.scale - ta.scale + e->args[1]->type.scale
                : 0;
    const dq_i128 m = dq_pow10_i128(k);
    if (wx == 8 && wy == 8 && wr == 8)
      DEC_ARITH(int64_t, int64_t, int64_t);
    else if (wx == 8 && wy == 8)
      DEC_ARITH(int64_t, int64_t, dq_i128);
    else if (wx == 8 && wr == 8)
      DEC_ARITH(int64_t, dq_i128, int64_t);
    else if (wx == 8)
      DEC_ARITH(int64_t, dq_i128, dq_i128);
    else if (wy == 8 && wr == 8)
      DEC_ARITH(dq_i128, int64_t, int64_t);
    else if (wy == 8)
      DEC_ARITH(dq_i128, int64_t, dq_i128);
    else if (wr == 8)
      DEC_ARITH(dq_i128, dq_i128, int64_t);
    else
      DEC_ARITH(dq_i128, dq_i128, dq_i128);
    break;
  }
  default:
    rc = dq_error_set(err, DQ_EINTERNAL, "no arithmetic kernel for type %d",
                      (int)ta.id);
    free(flags);
    goto done;
  }
  rc = check_flags(flags, o.validity ? o.validity->data : NULL, n, what, err);
  if (rc == 0 && is_div) {
    uint8_t *v = o.validity->data;
    for (int64_t i = 0; i < n; i++)
      if (zero[i])
        dq_bit_set(v, i, false);
  }
  free(flags);
  if (rc == 0)
    return dq_out_finish(&o, out, err);
done:
  dq_out_discard(&o);
  return rc;
}

/* --- Comparisons ---------------------------------------------------------- */

#define CMP_LOOPS(XA, YB)                                                      \
  do {                                                                         \
    switch (op) {                                                              \
    case DQ_OP_EQ: LOOP2(a->scalar, b->scalar, n, r[i] = (XA) == (YB)); break; \
    case DQ_OP_NE: LOOP2(a->scalar, b->scalar, n, r[i] = (XA) != (YB)); break; \
    case DQ_OP_LT: LOOP2(a->scalar, b->scalar, n, r[i] = (XA) < (YB)); break;  \
    case DQ_OP_LE: LOOP2(a->scalar, b->scalar, n, r[i] = (XA) <= (YB)); break; \
    case DQ_OP_GT: LOOP2(a->scalar, b->scalar, n, r[i] = (XA) > (YB)); break;  \
    default: LOOP2(a->scalar, b->scalar, n, r[i] = (XA) >= (YB)); break;       \
    }                                                                          \
  } while (0)

static int utf8_cmp(const uint8_t *pa, size_t la, const uint8_t *pb,
                    size_t lb) {
  size_t m = la < lb ? la : lb;
  int c = m ? memcmp(pa, pb, m) : 0;
  if (c != 0)
    return c;
  return la < lb ? -1 : la > lb;
}

/* Packs one byte per row (0/1) into a bitmap. */
static void pack_bits(const uint8_t *r, int64_t n, uint8_t *bits) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint8_t byte = 0;
    for (int j = 0; j < 8; j++)
      byte |= (uint8_t)((r[i + j] & 1) << j);
    bits[i >> 3] = byte;
  }
  if (i < n) {
    uint8_t byte = 0;
    for (int j = 0; i + j < n; j++)
      byte |= (uint8_t)((r[i + j] & 1) << j);
    bits[i >> 3] = byte;
  }
}

static void unpack_bits(const uint8_t *bits, int64_t n, uint8_t *r) {
  for (int64_t i = 0; i < n; i++)
    r[i] = dq_bit_get(bits, i);
}

static int eval_compare(const dq_expr *e, operand *a, operand *b, int64_t n,
                        dq_array **out, dq_error *err) {
  dq_expr_op op = e->op;
  if (a->null || b->null)
    return all_null(e->type, n, out, err);
  dq_array_out o;
  int rc = dq_out_init(&o, e->type, n, false, 0, err);
  if (rc != 0)
    return rc;
  if ((rc = combine_validity(a, b, n, false, &o, err)) != 0)
    goto fail;
  uint8_t *r = malloc((size_t)n + 1);
  uint8_t *ua = NULL, *ub = NULL;
  if (r == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory comparing");
    goto fail;
  }
  switch (e->args[0]->type.id) {
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32: {
    const int32_t *x = (const int32_t *)a->data, *y = (const int32_t *)b->data;
    CMP_LOOPS(x[ia], y[ib]);
    break;
  }
  case DQ_TYPE_INT64: {
    const int64_t *x = (const int64_t *)a->data, *y = (const int64_t *)b->data;
    CMP_LOOPS(x[ia], y[ib]);
    break;
  }
  case DQ_TYPE_FLOAT64: {
    const double *x = (const double *)a->data, *y = (const double *)b->data;
    CMP_LOOPS(x[ia], y[ib]);
    break;
  }
  case DQ_TYPE_DECIMAL: {
    /* Either operand 64 or 128 bits (decimal_width.h). */
    bool x8 = dq_type_width(e->args[0]->type) == 8,
         y8 = dq_type_width(e->args[1]->type) == 8;
    if (x8 && y8) {
      const int64_t *x = (const int64_t *)a->data, *y = (const int64_t *)b->data;
      CMP_LOOPS(x[ia], y[ib]);
    } else if (x8) {
      const int64_t *x = (const int64_t *)a->data;
      const dq_i128 *y = (const dq_i128 *)b->data;
      CMP_LOOPS((dq_i128)x[ia], y[ib]);
    } else if (y8) {
      const dq_i128 *x = (const dq_i128 *)a->data;
      const int64_t *y = (const int64_t *)b->data;
      CMP_LOOPS(x[ia], (dq_i128)y[ib]);
    } else {
      const dq_i128 *x = (const dq_i128 *)a->data, *y = (const dq_i128 *)b->data;
      CMP_LOOPS(x[ia], y[ib]);
    }
    break;
  }
  case DQ_TYPE_BOOL: {
    /* Rare enough to unpack first. */
    ua = malloc((size_t)n + 1);
    ub = malloc((size_t)n + 1);
    if (ua == NULL || ub == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory comparing");
      break;
    }
    if (a->scalar)
      ua[0] = a->lit->v.b;
    else
      unpack_bits(a->data, n, ua);
    if (b->scalar)
      ub[0] = b->lit->v.b;
    else
      unpack_bits(b->data, n, ub);
    CMP_LOOPS(ua[ia], ub[ib]);
    break;
  }
  case DQ_TYPE_UTF8: {
    const uint8_t *pa = a->data, *pb = b->data;
    size_t la = a->scalar ? a->lit->len : 0, lb = b->scalar ? b->lit->len : 0;
#define SA (a->scalar ? pa : pa + a->offs[ia])
#define LA (a->scalar ? la : (size_t)(a->offs[ia + 1] - a->offs[ia]))
#define SB (b->scalar ? pb : pb + b->offs[ib])
#define LB (b->scalar ? lb : (size_t)(b->offs[ib + 1] - b->offs[ib]))
    CMP_LOOPS(utf8_cmp(SA, LA, SB, LB), 0);
#undef SA
#undef LA
#undef SB
#undef LB
    break;
  }
  default:
    rc = dq_error_set(err, DQ_EINTERNAL, "no comparison kernel for type %d",
                      (int)e->args[0]->type.id);
    break;
  }
  if (rc == 0)
    pack_bits(r, n, o.values->data);
  free(r);
  free(ua);
  free(ub);
  if (rc == 0)
    return dq_out_finish(&o, out, err);
fail:
  dq_out_discard(&o);
  return rc;
}

/* --- Logic ---------------------------------------------------------------- */

/* Byte k of an operand's values and validity, a literal expanded. */
static inline uint8_t val_byte(const operand *o, size_t k) {
  if (o->scalar)
    return o->null ? 0 : (o->lit->v.b ? 0xff : 0);
  return o->data[k];
}
static inline uint8_t valid_byte(const operand *o, size_t k) {
  if (o->scalar)
    return o->null ? 0 : 0xff;
  return o->valid ? o->valid[k] : 0xff;
}

/* SQL three-valued AND/OR on whole bytes: a result is known when both
 * sides are, or when one known side decides it (false for AND, true for
 * OR). */
static int eval_logic(const dq_expr *e, operand *a, operand *b, int64_t n,
                      dq_array **out, dq_error *err) {
  dq_array_out o;
  int rc = dq_out_init(&o, e->type, n, false, 0, err);
  if (rc != 0)
    return rc;
  size_t nb = (size_t)(n + 7) / 8;
  bool any_null = (a->scalar ? a->null : a->valid != NULL) ||
                  (b != NULL && (b->scalar ? b->null : b->valid != NULL));
  bool is_test = e->op == DQ_OP_IS_NULL || e->op == DQ_OP_IS_NOT_NULL;
  if (any_null && !is_test) {
    o.validity = dq_buffer_new(nb);
    if (o.validity == NULL) {
      dq_out_discard(&o);
      return dq_error_set(err, DQ_ENOMEM, "out of memory (validity bitmap)");
    }
  }
  uint8_t *rv = o.values->data;
  uint8_t *rn = o.validity ? o.validity->data : NULL;
  switch (e->op) {
  case DQ_OP_AND:
    for (size_t k = 0; k < nb; k++) {
      uint8_t x = val_byte(a, k), y = val_byte(b, k);
      uint8_t vx = valid_byte(a, k), vy = valid_byte(b, k);
      uint8_t fx = vx & (uint8_t)~x, fy = vy & (uint8_t)~y; /* known false */
      rv[k] = x & y & vx & vy;
      if (rn)
        rn[k] = (vx & vy) | fx | fy;
    }
    break;
  case DQ_OP_OR:
    for (size_t k = 0; k < nb; k++) {
      uint8_t x = val_byte(a, k), y = val_byte(b, k);
      uint8_t vx = valid_byte(a, k), vy = valid_byte(b, k);
      uint8_t tx = vx & x, ty = vy & y; /* known true */
      rv[k] = tx | ty;
      if (rn)
        rn[k] = (vx & vy) | tx | ty;
    }
    break;
  case DQ_OP_NOT:
    for (size_t k = 0; k < nb; k++) {
      rv[k] = (uint8_t)~val_byte(a, k) & valid_byte(a, k);
      if (rn)
        rn[k] = valid_byte(a, k);
    }
    break;
  case DQ_OP_IS_NULL:
  case DQ_OP_IS_NOT_NULL:
    for (size_t k = 0; k < nb; k++) {
      uint8_t v = valid_byte(a, k);
      rv[k] = e->op == DQ_OP_IS_NULL ? (uint8_t)~v : v;
    }
    break;
  default: break;
  }
  /* Keep the bits past n clear, as fresh buffers have them. */
  if (n & 7) {
    uint8_t mask = (uint8_t)((1u << (n & 7)) - 1);
    rv[nb - 1] &= mask;
    if (rn)
      rn[nb - 1] &= mask;
  }
  return dq_out_finish(&o, out, err);
}

/* --- Negation and casts --------------------------------------------------- */

static int eval_neg(const dq_expr *e, operand *a, int64_t n, dq_array **out,
                    dq_error *err) {
  if (a->null)
    return all_null(e->type, n, out, err);
  dq_array_out o;
  int rc = dq_out_init(&o, e->type, n, false, 0, err);
  if (rc != 0)
    return rc;
  if ((rc = combine_validity(a, NULL, n, false, &o, err)) != 0) {
    dq_out_discard(&o);
    return rc;
  }
  uint8_t *flags = calloc((size_t)n + 1, 1);
  if (flags == NULL) {
    dq_out_discard(&o);
    return dq_error_set(err, DQ_ENOMEM, "out of memory negating");
  }
  bool s = a->scalar;
#define NEG_LOOP(T)                                                            \
  do {                                                                         \
    const T *x = (const T *)a->data;                                           \
    T *r = (T *)o.values->data;                                                \
    for (int64_t i = 0; i < n; i++)                                            \
      flags[i] = (uint8_t)__builtin_sub_overflow((T)0, x[s ? 0 : i], &r[i]);   \
  } while (0)
  switch (e->type.id) {
  case DQ_TYPE_INT32: NEG_LOOP(int32_t); break;
  case DQ_TYPE_INT64: NEG_LOOP(int64_t); break;
  case DQ_TYPE_DECIMAL:
    if (dq_type_width(e->type) == 8)
      NEG_LOOP(int64_t);
    else
      NEG_LOOP(dq_i128);
    break;
  default: {
    const double *x = (const double *)a->data;
    double *r = (double *)o.values->data;
    for (int64_t i = 0; i < n; i++)
      r[i] = -x[s ? 0 : i];
    break;
  }
  }
#undef NEG_LOOP
  rc = check_flags(flags, o.validity ? o.validity->data : NULL, n,
                   "overflow negating", err);
  free(flags);
  if (rc != 0) {
    dq_out_discard(&o);
    return rc;
  }
  return dq_out_finish(&o, out, err);
}

static const double pow10_double[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
    1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38};

static int eval_cast(const dq_expr *e, operand *a, int64_t n, dq_array **out,
                     dq_error *err) {
  dq_type from = e->args[0]->type, to = e->type;
  if (a->null)
    return all_null(to, n, out, err);
  if (dq_type_equal(from, to)) {
    if (a->scalar)
      return dq_array_constant(a->lit, n, out, err);
    *out = dq_array_ref(a->arr);
    return 0;
  }
  if (from.id == DQ_TYPE_UTF8 || to.id == DQ_TYPE_UTF8 ||
      (from.id == DQ_TYPE_FLOAT64 && to.id != DQ_TYPE_FLOAT64)) {
    if (!a->scalar)
      return dq_eval_cast_other(a->arr, to, n, out, err);
    dq_array *x;
    int rc = dq_array_constant(a->lit, n, &x, err);
    if (rc == 0) {
      rc = dq_eval_cast_other(x, to, n, out, err);
      dq_array_unref(x);
    }
    return rc;
  }
  /* Same layout, other precision: share the buffers. */
  if (!a->scalar && from.id == DQ_TYPE_DECIMAL && to.id == DQ_TYPE_DECIMAL &&
      from.scale == to.scale && dq_type_width(from) == dq_type_width(to))
    return dq_array_from_buffers(to, n, a->arr->null_count,
                                 dq_buffer_ref(a->arr->validity),
                                 dq_buffer_ref(a->arr->values), NULL, out,
                                 err);
  dq_array_out o;
  int rc = dq_out_init(&o, to, n, false, 0, err);
  if (rc != 0)
    return rc;
  if ((rc = combine_validity(a, NULL, n, false, &o, err)) != 0) {
    dq_out_discard(&o);
    return rc;
  }
  uint8_t *flags = calloc((size_t)n + 1, 1);
  if (flags == NULL) {
    dq_out_discard(&o);
    return dq_error_set(err, DQ_ENOMEM, "out of memory casting");
  }
  bool s = a->scalar;
  void *rv = o.values->data;
  const void *xv = a->data;
  /* Read the source as a 128-bit integer (integers and decimals). */
#define SRC_I(i)                                                               \
  (from.id == DQ_TYPE_INT32   ? (dq_i128)((const int32_t *)xv)[s ? 0 : (i)]    \
   : from.id == DQ_TYPE_INT64 || from8                                         \
       ? (dq_i128)((const int64_t *)xv)[s ? 0 : (i)]                           \
       : ((const dq_i128 *)xv)[s ? 0 : (i)])
  const bool from8 = dq_type_width(from) == 8 && from.id == DQ_TYPE_DECIMAL;
  const bool to8 = dq_type_width(to) == 8 && to.id == DQ_TYPE_DECIMAL;
  if (to.id == DQ_TYPE_FLOAT64) {
    double *r = rv;
    if (from.id == DQ_TYPE_DECIMAL) {
      double d = pow10_double[from.scale];
      for (int64_t i = 0; i < n; i++)
        r[i] = (double)SRC_I(i) / d;
    } else if (from.id == DQ_TYPE_FLOAT64) {
      for (int64_t i = 0; i < n; i++)
        r[i] = ((const double *)xv)[s ? 0 : i];
    } else {
      for (int64_t i = 0; i < n; i++)
        r[i] = (double)SRC_I(i);
    }
  } else {
    /* Integer or decimal target: scale the 128-bit value, then narrow. */
    int sf = from.id == DQ_TYPE_DECIMAL ? from.scale : 0;
    int st = to.id == DQ_TYPE_DECIMAL ? to.scale : 0;
    dq_i128 m = dq_pow10_i128(st > sf ? st - sf : sf - st);
    for (int64_t i = 0; i < n; i++) {
      dq_i128 v = SRC_I(i), w;
      uint8_t f = 0;
      if (st > sf)
        f = (uint8_t)__builtin_mul_overflow(v, m, &w);
      else if (st < sf)
        w = dq_i128_div_round(v, m);
      else
        w = v;
      switch (to.id) {
      case DQ_TYPE_INT32:
        f |= w < INT32_MIN || w > INT32_MAX;
        ((int32_t *)rv)[i] = (int32_t)w;
        break;
      case DQ_TYPE_INT64:
        f |= w < INT64_MIN || w > INT64_MAX;
        ((int64_t *)rv)[i] = (int64_t)w;
        break;
      default:
        if (to8) {
          f |= !dq_i128_fits_i64(w);
          ((int64_t *)rv)[i] = (int64_t)w;
        } else {
          ((dq_i128 *)rv)[i] = w;
        }
        break;
      }
      flags[i] = f;
    }
  }
#undef SRC_I
  char tf[32], tt[32], what[96];
  snprintf(what, sizeof what, "value out of range casting %s to %s",
           dq_type_format(from, tf, sizeof tf), dq_type_format(to, tt, sizeof tt));
  rc = check_flags(flags, o.validity ? o.validity->data : NULL, n, what, err);
  free(flags);
  if (rc != 0) {
    dq_out_discard(&o);
    return rc;
  }
  return dq_out_finish(&o, out, err);
}

/* --- Entry point ---------------------------------------------------------- */

int dq_expr_eval(const dq_expr *e, const dq_batch *b, dq_array **out,
                 dq_error *err) {
  *out = NULL;
  int64_t n = b->n_rows;
  switch (e->kind) {
  case DQ_EXPR_COLUMN:
    if (e->column >= b->schema->n_fields ||
        !dq_type_equal(b->columns[e->column]->type, e->type))
      return dq_error_set(err, DQ_EEXEC, "a batch does not match the "
                          "schema its plan was checked against (column "
                          "%" PRIu32 ")", e->column);
    *out = dq_array_ref(b->columns[e->column]);
    return 0;
  case DQ_EXPR_LITERAL: return dq_array_constant(&e->lit, n, out, err);
  case DQ_EXPR_CALL: break;
  }
  switch (e->op) {
  case DQ_OP_CASE: return dq_eval_case(e, b, out, err);
  case DQ_OP_SUBSTRING: return dq_eval_substring(e, b, out, err);
  case DQ_OP_IN:
  case DQ_OP_LIKE:
  case DQ_OP_EXTRACT_YEAR: {
    dq_array *x;
    int rc = dq_expr_eval(e->args[0], b, &x, err);
    if (rc != 0)
      return rc;
    if (e->op == DQ_OP_IN)
      rc = dq_eval_in(e, x, n, out, err);
    else if (e->op == DQ_OP_LIKE)
      rc = dq_eval_like(e, x, n, out, err);
    else
      rc = dq_eval_extract_year(x, n, out, err);
    dq_array_unref(x);
    return rc;
  }
  default: break;
  }
  operand a, c;
  int rc = operand_eval(e->args[0], b, &a, err);
  if (rc != 0)
    return rc;
  bool bin = e->n_args == 2;
  if (bin && (rc = operand_eval(e->args[1], b, &c, err)) != 0) {
    operand_clear(&a);
    return rc;
  }
  if (a.scalar && (!bin || c.scalar) && n > 1) {
    /* Constant operands: evaluate once, then broadcast. */
    operand_clear(&a);
    if (bin)
      operand_clear(&c);
    dq_batch one = *b;
    one.n_rows = 1;
    dq_array *v = NULL;
    if ((rc = dq_expr_eval(e, &one, &v, err)) != 0)
      return rc;
    dq_scalar s;
    memset(&s, 0, sizeof s);
    s.type = e->type;
    s.is_null = v->null_count > 0;
    if (!s.is_null && e->type.id == DQ_TYPE_UTF8) {
      /* A CAST to utf8 of a constant: copy its one string. */
      const int32_t *o = (const int32_t *)v->offsets->data;
      s.len = (size_t)(o[1] - o[0]);
      if ((s.str = malloc(s.len + 1)) == NULL) {
        dq_array_unref(v);
        return dq_error_set(err, DQ_ENOMEM, "out of memory");
      }
      memcpy(s.str, v->values->data + o[0], s.len);
      s.str[s.len] = '\0';
    }
    if (!s.is_null)
      switch (e->type.id) {
      case DQ_TYPE_BOOL: s.v.b = dq_bit_get(v->values->data, 0); break;
      case DQ_TYPE_INT32:
      case DQ_TYPE_DATE32: memcpy(&s.v.i32, v->values->data, 4); break;
      case DQ_TYPE_INT64: memcpy(&s.v.i64, v->values->data, 8); break;
      case DQ_TYPE_FLOAT64: memcpy(&s.v.f64, v->values->data, 8); break;
      case DQ_TYPE_DECIMAL:
        s.v.dec = dq_decimal_load(v->values->data, dq_type_width(e->type), 0);
        break;
      default: break; /* utf8: above */
      }
    rc = dq_array_constant(&s, n, out, err);
    free(s.str);
    dq_array_unref(v);
    return rc;
  }
  switch (e->op) {
  case DQ_OP_ADD:
  case DQ_OP_SUB:
  case DQ_OP_MUL:
  case DQ_OP_DIV: rc = eval_arith(e, &a, &c, n, out, err); break;
  case DQ_OP_EQ:
  case DQ_OP_NE:
  case DQ_OP_LT:
  case DQ_OP_LE:
  case DQ_OP_GT:
  case DQ_OP_GE: rc = eval_compare(e, &a, &c, n, out, err); break;
  case DQ_OP_AND:
  case DQ_OP_OR: rc = eval_logic(e, &a, &c, n, out, err); break;
  case DQ_OP_NOT:
  case DQ_OP_IS_NULL:
  case DQ_OP_IS_NOT_NULL: rc = eval_logic(e, &a, NULL, n, out, err); break;
  case DQ_OP_NEG: rc = eval_neg(e, &a, n, out, err); break;
  case DQ_OP_CAST: rc = eval_cast(e, &a, n, out, err); break;
  default:
    rc = dq_error_set(err, DQ_EINTERNAL, "unknown operator %d", (int)e->op);
    break;
  }
  operand_clear(&a);
  if (bin)
    operand_clear(&c);
  return rc;
}
