/* expr.c — expressions: literal parsing (dates, decimals), resolution
 * (column lookup, the type rules of dq/plan.h, implicit casts made
 * explicit) and rendering for messages and EXPLAIN.
 *
 * Resolution is where every type decision is made, once per plan: the
 * evaluator (expr_eval.c) then only ever sees operands that already have
 * the types its kernels expect, e.g. both sides of a decimal addition at
 * the same scale. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

/* Deeper trees than this are refused, so resolving an expression decoded
 * from the network cannot exhaust the stack. */
#define DQ_EXPR_MAX_DEPTH 200

bool dq_expr_op_is_binary(dq_expr_op op) {
  return op >= DQ_OP_ADD && op <= DQ_OP_OR;
}

bool dq_expr_op_valid(int op) {
  return (op >= DQ_OP_ADD && op <= DQ_OP_OR) ||
         (op >= DQ_OP_NOT && op <= DQ_OP_SUBSTRING);
}

bool dq_expr_op_n_args_ok(dq_expr_op op, size_t n) {
  switch (op) {
  case DQ_OP_LIKE: return n == 2;
  case DQ_OP_CASE: return n == 2 || n == 3;
  case DQ_OP_SUBSTRING: return n == 3;
  default: return n == (dq_expr_op_is_binary(op) ? 2u : 1u);
  }
}

const char *dq_expr_op_name(dq_expr_op op) {
  switch (op) {
  case DQ_OP_ADD: return "+";
  case DQ_OP_SUB: return "-";
  case DQ_OP_MUL: return "*";
  case DQ_OP_DIV: return "/";
  case DQ_OP_EQ: return "=";
  case DQ_OP_NE: return "<>";
  case DQ_OP_LT: return "<";
  case DQ_OP_LE: return "<=";
  case DQ_OP_GT: return ">";
  case DQ_OP_GE: return ">=";
  case DQ_OP_AND: return "AND";
  case DQ_OP_OR: return "OR";
  case DQ_OP_NOT: return "NOT";
  case DQ_OP_IS_NULL: return "IS NULL";
  case DQ_OP_IS_NOT_NULL: return "IS NOT NULL";
  case DQ_OP_NEG: return "-";
  case DQ_OP_CAST: return "CAST";
  case DQ_OP_IN: return "IN";
  case DQ_OP_LIKE: return "LIKE";
  case DQ_OP_CASE: return "CASE";
  case DQ_OP_EXTRACT_YEAR: return "EXTRACT(YEAR)";
  case DQ_OP_SUBSTRING: return "SUBSTRING";
  }
  return "?";
}

dq_expr *dq_expr_alloc(dq_expr_kind kind) {
  dq_expr *e = calloc(1, sizeof *e);
  if (e != NULL)
    e->kind = kind;
  return e;
}

void dq_expr_free(dq_expr *e) {
  if (e == NULL)
    return;
  if (e->resolved)
    for (size_t i = 0; i < e->n_args; i++)
      dq_expr_free(e->args[i]);
  for (size_t i = 0; i < e->n_list; i++)
    free(e->list[i].str);
  free(e->list);
  free(e->name);
  free(e->lit.str);
  free(e);
}

/* --- Dates and decimals ------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), H. Hinnant's
 * days_from_civil: exact integer arithmetic, no time zone involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool dq_date_parse(const char *text, int32_t *days) {
  if (text == NULL)
    return false;
  int y = 0, m = 0, d = 0, n = 0;
  if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
    return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
      return false;
  if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
    return false;
  static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1)
    return false;
  int maxd = mdays[m - 1] + (m == 2 && leap(y));
  if (d > maxd)
    return false;
  *days = (int32_t)days_from_civil(y, (unsigned)m, (unsigned)d);
  return true;
}

/* civil_from_days, the inverse of days_from_civil. */
static void civil_from_days(int32_t days, int64_t *year, unsigned *month,
                            unsigned *day) {
  int64_t z = (int64_t)days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *year = y + (m <= 2);
  *month = m;
  *day = d;
}

void dq_date_format(int32_t days, char *buf, size_t len) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(buf, len, "%04" PRId64 "-%02u-%02u", y, m, d);
}

int32_t dq_date_year(int32_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  return (int32_t)y;
}

dq_i128 dq_pow10_i128(int k) {
  dq_i128 v = 1;
  for (int i = 0; i < k && i < 38; i++)
    v *= 10;
  return v;
}

dq_i128 dq_i128_div_round(dq_i128 v, dq_i128 d) {
  if (d == 0)
    return 0;
  if (d == -1) /* avoids the one overflowing quotient */
    return (dq_i128)(0 - (unsigned __int128)v);
  dq_i128 q = v / d, r = v % d;
  unsigned __int128 ar = r < 0 ? 0 - (unsigned __int128)r : (unsigned __int128)r;
  unsigned __int128 ad = d < 0 ? 0 - (unsigned __int128)d : (unsigned __int128)d;
  if (ar >= ad - ar) /* 2|r| >= |d|, without overflow */
    q += ((v < 0) != (d < 0)) ? -1 : 1;
  return q;
}

bool dq_decimal_parse(const char *text, dq_i128 *v, uint8_t *precision,
                      int8_t *scale) {
  if (text == NULL)
    return false;
  const char *p = text;
  bool neg = false;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  int int_digits = 0, frac_digits = 0, sig = 0;
  bool any = false, point = false;
  dq_i128 acc = 0;
  for (; *p; p++) {
    if (*p == '.') {
      if (point)
        return false;
      point = true;
      continue;
    }
    if (*p < '0' || *p > '9')
      return false;
    any = true;
    if (point)
      frac_digits++;
    else if (sig > 0 || *p != '0')
      int_digits++;
    if (sig > 0 || *p != '0')
      sig++;
    if (int_digits + frac_digits > 38)
      return false;
    acc = acc * 10 + (*p - '0');
  }
  if (!any)
    return false;
  int prec = int_digits + frac_digits;
  if (prec < 1)
    prec = 1;
  *v = neg ? -acc : acc;
  *precision = (uint8_t)prec;
  *scale = (int8_t)frac_digits;
  return true;
}

void dq_decimal_format(dq_i128 v, int scale, char *buf, size_t len) {
  char tmp[64];
  int pos = (int)sizeof tmp - 1;
  tmp[pos] = '\0';
  unsigned __int128 u = v < 0 ? 0 - (unsigned __int128)v : (unsigned __int128)v;
  int digits = 0;
  do {
    tmp[--pos] = (char)('0' + (int)(u % 10));
    u /= 10;
    digits++;
    if (digits == scale && scale > 0) {
      tmp[--pos] = '.';
      if (u == 0) {
        tmp[--pos] = '0';
        break;
      }
    }
  } while (u != 0 || digits < scale);
  if (v < 0)
    tmp[--pos] = '-';
  snprintf(buf, len, "%s", tmp + pos);
}

/* --- Rendering ------------------------------------------------------------ */

typedef struct sbuf {
  char *buf;
  size_t len, pos;
} sbuf;

static void sput(sbuf *s, const char *fmt, ...) DQ_PRINTF(2, 3);
static void sput(sbuf *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = s->pos < s->len ? s->len - s->pos : 0;
  int n = vsnprintf(room ? s->buf + s->pos : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    s->pos += (size_t)n;
}

static void format_scalar(sbuf *s, const dq_scalar *l) {
  char tmp[64];
  if (l->is_null) {
    sput(s, "NULL");
    return;
  }
  switch (l->type.id) {
  case DQ_TYPE_BOOL: sput(s, "%s", l->v.b ? "TRUE" : "FALSE"); break;
  case DQ_TYPE_INT32: sput(s, "%" PRId32, l->v.i32); break;
  case DQ_TYPE_INT64: sput(s, "%" PRId64, l->v.i64); break;
  case DQ_TYPE_FLOAT64: sput(s, "%.17g", l->v.f64); break;
  case DQ_TYPE_UTF8: sput(s, "'%.*s'", (int)(l->len > 40 ? 40 : l->len),
                          l->str ? l->str : ""); break;
  case DQ_TYPE_DATE32:
    dq_date_format(l->v.i32, tmp, sizeof tmp);
    sput(s, "DATE '%s'", tmp);
    break;
  case DQ_TYPE_DECIMAL:
    dq_decimal_format(l->v.dec, l->type.scale, tmp, sizeof tmp);
    sput(s, "%s", tmp);
    break;
  default: sput(s, "?"); break;
  }
}

static void format_expr(sbuf *s, const dq_expr *e, const dq_schema *in,
                        int depth) {
  if (e == NULL) {
    sput(s, "(null)");
    return;
  }
  if (depth > 16) {
    sput(s, "...");
    return;
  }
  switch (e->kind) {
  case DQ_EXPR_COLUMN:
    if (in != NULL && e->name == NULL && e->column < dq_schema_n_fields(in))
      sput(s, "%s", dq_schema_field_name(in, e->column));
    else if (e->name != NULL)
      sput(s, "%s", e->name);
    else
      sput(s, "#%" PRIu32, e->column);
    return;
  case DQ_EXPR_LITERAL: format_scalar(s, &e->lit); return;
  case DQ_EXPR_CALL: break;
  }
  const dq_expr *a = e->n_args > 0 ? e->args[0] : NULL;
  const dq_expr *b = e->n_args > 1 ? e->args[1] : NULL;
  char tname[32];
  switch (e->op) {
  case DQ_OP_NOT:
    sput(s, "(NOT ");
    format_expr(s, a, in, depth + 1);
    sput(s, ")");
    break;
  case DQ_OP_NEG:
    sput(s, "(-");
    format_expr(s, a, in, depth + 1);
    sput(s, ")");
    break;
  case DQ_OP_IS_NULL:
  case DQ_OP_IS_NOT_NULL:
    sput(s, "(");
    format_expr(s, a, in, depth + 1);
    sput(s, " %s)", dq_expr_op_name(e->op));
    break;
  case DQ_OP_CAST:
    sput(s, "CAST(");
    format_expr(s, a, in, depth + 1);
    sput(s, " AS %s)", dq_type_format(e->cast_type, tname, sizeof tname));
    break;
  case DQ_OP_IN:
    sput(s, "(");
    format_expr(s, a, in, depth + 1);
    sput(s, " IN (");
    for (size_t i = 0; i < e->n_list; i++) {
      sput(s, "%s", i ? ", " : "");
      format_scalar(s, &e->list[i]);
    }
    sput(s, "))");
    break;
  case DQ_OP_CASE:
    sput(s, "CASE WHEN ");
    format_expr(s, a, in, depth + 1);
    sput(s, " THEN ");
    format_expr(s, b, in, depth + 1);
    if (e->n_args > 2) {
      sput(s, " ELSE ");
      format_expr(s, e->args[2], in, depth + 1);
    }
    sput(s, " END");
    break;
  case DQ_OP_EXTRACT_YEAR:
    sput(s, "EXTRACT(YEAR FROM ");
    format_expr(s, a, in, depth + 1);
    sput(s, ")");
    break;
  case DQ_OP_SUBSTRING:
    sput(s, "SUBSTRING(");
    format_expr(s, a, in, depth + 1);
    sput(s, ", ");
    format_expr(s, b, in, depth + 1);
    sput(s, ", ");
    format_expr(s, e->args[2], in, depth + 1);
    sput(s, ")");
    break;
  default:
    sput(s, "(");
    format_expr(s, a, in, depth + 1);
    sput(s, " %s ", dq_expr_op_name(e->op));
    format_expr(s, b, in, depth + 1);
    sput(s, ")");
    break;
  }
}

const char *dq_expr_format(const dq_expr *e, const dq_schema *input,
                           char *buf, size_t len) {
  sbuf s = {buf, len, 0};
  if (len > 0)
    buf[0] = '\0';
  format_expr(&s, e, input, 0);
  if (len > 0 && s.pos >= len && len > 4)
    memcpy(buf + len - 4, "...", 4);
  return buf;
}

/* --- Resolution ----------------------------------------------------------- */

static bool is_int(dq_type t) {
  return t.id == DQ_TYPE_INT32 || t.id == DQ_TYPE_INT64;
}
static bool is_numeric(dq_type t) {
  return is_int(t) || t.id == DQ_TYPE_FLOAT64 || t.id == DQ_TYPE_DECIMAL;
}
static dq_type mk(dq_type_id id) {
  dq_type t = {id, 0, 0};
  return t;
}
static dq_type mkdec(int p, int s) {
  dq_type t = {DQ_TYPE_DECIMAL, (uint8_t)(p > 38 ? 38 : p), (int8_t)s};
  return t;
}
/* The decimal an integer type converts to exactly. */
static dq_type int_as_decimal(dq_type t) {
  return mkdec(t.id == DQ_TYPE_INT32 ? 10 : 19, 0);
}

static bool cast_supported(dq_type from, dq_type to) {
  if (dq_type_equal(from, to))
    return true;
  if (is_numeric(from) && is_numeric(to))
    return true;
  return (from.id == DQ_TYPE_UTF8 && to.id == DQ_TYPE_DATE32) ||
         (from.id == DQ_TYPE_DATE32 && to.id == DQ_TYPE_UTF8);
}

static int set_err(dq_error *err, int code, const char *what,
                   const dq_expr *e, const dq_schema *in) {
  char text[256];
  dq_expr_format(e, in, text, sizeof text);
  return dq_error_set(err, code, "%s in %s", what, text);
}

/* Converts a literal in place; false (literal untouched) when the value
 * does not fit, so the CAST stays and fails at run time like any other. */
static bool fold_literal_cast(dq_scalar *l, dq_type to) {
  dq_type from = l->type;
  if (l->is_null) {
    l->type = to;
    return true;
  }
  if (to.id == DQ_TYPE_FLOAT64) {
    if (from.id == DQ_TYPE_INT32)
      l->v.f64 = (double)l->v.i32;
    else if (from.id == DQ_TYPE_INT64)
      l->v.f64 = (double)l->v.i64;
    else if (from.id == DQ_TYPE_DECIMAL)
      l->v.f64 = (double)l->v.dec / (double)dq_pow10_i128(from.scale);
    else
      return false;
    l->type = to;
    return true;
  }
  dq_i128 v;
  int sf = 0;
  switch (from.id) {
  case DQ_TYPE_INT32: v = l->v.i32; break;
  case DQ_TYPE_INT64: v = l->v.i64; break;
  case DQ_TYPE_DECIMAL: v = l->v.dec; sf = from.scale; break;
  default: return false;
  }
  int st = to.id == DQ_TYPE_DECIMAL ? to.scale : 0;
  if (st > sf) {
    if (__builtin_mul_overflow(v, dq_pow10_i128(st - sf), &v))
      return false;
  } else if (st < sf) {
    v = dq_i128_div_round(v, dq_pow10_i128(sf - st));
  }
  switch (to.id) {
  case DQ_TYPE_INT32:
    if (v < INT32_MIN || v > INT32_MAX)
      return false;
    l->v.i32 = (int32_t)v;
    break;
  case DQ_TYPE_INT64:
    if (v < INT64_MIN || v > INT64_MAX)
      return false;
    l->v.i64 = (int64_t)v;
    break;
  case DQ_TYPE_DECIMAL: l->v.dec = v; break;
  default: return false;
  }
  l->type = to;
  return true;
}

/* Wraps a resolved expression in a CAST to `to` (no-op if already).  A
 * literal is converted instead, so kernels see it as a scalar operand. */
static int cast_to(dq_expr **pe, dq_type to, dq_error *err) {
  dq_expr *e = *pe;
  if (dq_type_equal(e->type, to))
    return 0;
  if (e->kind == DQ_EXPR_LITERAL && fold_literal_cast(&e->lit, to)) {
    e->type = to;
    return 0;
  }
  dq_expr *c = dq_expr_alloc(DQ_EXPR_CALL);
  if (c == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory resolving a cast");
  c->op = DQ_OP_CAST;
  c->resolved = true;
  c->cast_type = to;
  c->type = to;
  c->n_args = 1;
  c->args[0] = e;
  *pe = c;
  return 0;
}

/* Decimal with the same value at a larger scale s. */
static dq_type rescaled(dq_type t, int s) {
  return mkdec(t.precision - t.scale + s, s);
}

/* Brings two operands to one type for comparison; false if impossible. */
static int common_compare_type(dq_expr **l, dq_expr **r, bool *ok,
                               dq_error *err) {
  dq_type a = (*l)->type, b = (*r)->type;
  *ok = true;
  if (a.id == b.id && a.id != DQ_TYPE_DECIMAL)
    return 0;
  if (is_numeric(a) && is_numeric(b)) {
    if (a.id == DQ_TYPE_FLOAT64 || b.id == DQ_TYPE_FLOAT64) {
      int rc = cast_to(l, mk(DQ_TYPE_FLOAT64), err);
      return rc ? rc : cast_to(r, mk(DQ_TYPE_FLOAT64), err);
    }
    if (is_int(a) && is_int(b)) {
      int rc = cast_to(l, mk(DQ_TYPE_INT64), err);
      return rc ? rc : cast_to(r, mk(DQ_TYPE_INT64), err);
    }
    if (is_int(a))
      a = int_as_decimal(a);
    if (is_int(b))
      b = int_as_decimal(b);
    int s = a.scale > b.scale ? a.scale : b.scale;
    int rc = cast_to(l, rescaled(a, s), err);
    return rc ? rc : cast_to(r, rescaled(b, s), err);
  }
  *ok = false;
  return 0;
}

int dq_expr_unify(dq_expr **l, dq_expr **r, bool *ok, dq_error *err) {
  return common_compare_type(l, r, ok, err);
}

static int resolve_arith(dq_expr *e, const dq_schema *in, dq_error *err) {
  dq_type a = e->args[0]->type, b = e->args[1]->type;
  char ta[32], tb[32], what[128];
  int rc;
  if (e->op == DQ_OP_ADD && is_int(a) && b.id == DQ_TYPE_DATE32) {
    dq_expr *t = e->args[0]; /* int + date: evaluate as date + int */
    e->args[0] = e->args[1];
    e->args[1] = t;
    a = e->args[0]->type;
    b = e->args[1]->type;
  }
  if (a.id == DQ_TYPE_DATE32 &&
      (e->op == DQ_OP_ADD || e->op == DQ_OP_SUB) && is_int(b)) {
    e->type = mk(DQ_TYPE_DATE32);
    return cast_to(&e->args[1], mk(DQ_TYPE_INT32), err);
  }
  if (a.id == DQ_TYPE_DATE32 && b.id == DQ_TYPE_DATE32 && e->op == DQ_OP_SUB) {
    e->type = mk(DQ_TYPE_INT32);
    return 0;
  }
  if (!is_numeric(a) || !is_numeric(b)) {
    snprintf(what, sizeof what, "cannot apply %s to %s and %s",
             dq_expr_op_name(e->op), dq_type_format(a, ta, sizeof ta),
             dq_type_format(b, tb, sizeof tb));
    return set_err(err, DQ_EINVAL, what, e, in);
  }
  if (a.id == DQ_TYPE_FLOAT64 || b.id == DQ_TYPE_FLOAT64) {
    e->type = mk(DQ_TYPE_FLOAT64);
    if ((rc = cast_to(&e->args[0], e->type, err)) != 0)
      return rc;
    return cast_to(&e->args[1], e->type, err);
  }
  if (is_int(a) && is_int(b)) {
    e->type = mk(a.id == DQ_TYPE_INT64 || b.id == DQ_TYPE_INT64
                     ? DQ_TYPE_INT64 : DQ_TYPE_INT32);
    if ((rc = cast_to(&e->args[0], e->type, err)) != 0)
      return rc;
    return cast_to(&e->args[1], e->type, err);
  }
  if (is_int(a))
    a = int_as_decimal(a);
  if (is_int(b))
    b = int_as_decimal(b);
  int p1 = a.precision, s1 = a.scale, p2 = b.precision, s2 = b.scale;
  switch (e->op) {
  case DQ_OP_ADD:
  case DQ_OP_SUB: {
    int s = s1 > s2 ? s1 : s2;
    int ip = (p1 - s1) > (p2 - s2) ? (p1 - s1) : (p2 - s2);
    e->type = mkdec(ip + s + 1, s);
    if ((rc = cast_to(&e->args[0], rescaled(a, s), err)) != 0)
      return rc;
    return cast_to(&e->args[1], rescaled(b, s), err);
  }
  case DQ_OP_MUL:
    if (s1 + s2 > 38)
      return set_err(err, DQ_EINVAL,
                     "the product's decimal scale would exceed 38", e, in);
    e->type = mkdec(p1 + p2 + 1, s1 + s2);
    break;
  default: { /* DIV */
    /* SQL Server's rule: scale max(6, s1 + p2 + 1); when the integer
     * digits (p1 - s1 + s2) and that scale need more than 38 digits, the
     * scale shrinks (not below 6) rather than the precision being capped,
     * which would scale a large dividend (a sum) past 128 bits. */
    int ip = p1 - s1 + s2;
    int s = s1 + p2 + 1;
    if (s < 6)
      s = 6;
    if (ip + s > 38)
      s = 38 - ip > 6 ? 38 - ip : 6;
    if (s < s1 - s2) /* the dividend is only ever scaled up */
      s = s1 - s2;
    if (s > 38 || s - s1 + s2 > 38)
      return set_err(err, DQ_EINVAL,
                     "the quotient's decimal scale would exceed 38", e, in);
    int p = ip + s;
    if (p > 38)
      p = 38;
    if (p < s)
      p = s;
    e->type = mkdec(p, s);
    break;
  }
  }
  if ((rc = cast_to(&e->args[0], a, err)) != 0)
    return rc;
  return cast_to(&e->args[1], b, err);
}

static int resolve_rec(const dq_expr *src, const dq_schema *in,
                       dq_expr **out, int depth, dq_error *err);
static int copy_scalar(dq_scalar *dst, const dq_scalar *src, dq_error *err);

/* The type two operands of a comparison meet at (the rules of
 * common_compare_type, for types alone); decimals meet at the precision
 * that holds both, capped at 38. */
static bool compare_type(dq_type a, dq_type b, dq_type *t) {
  if (a.id == b.id && a.id != DQ_TYPE_DECIMAL) {
    *t = a;
    return true;
  }
  if (!is_numeric(a) || !is_numeric(b))
    return false;
  if (a.id == DQ_TYPE_FLOAT64 || b.id == DQ_TYPE_FLOAT64) {
    *t = mk(DQ_TYPE_FLOAT64);
    return true;
  }
  if (is_int(a) && is_int(b)) {
    *t = mk(DQ_TYPE_INT64);
    return true;
  }
  if (is_int(a))
    a = int_as_decimal(a);
  if (is_int(b))
    b = int_as_decimal(b);
  int sc = a.scale > b.scale ? a.scale : b.scale;
  int ip = a.precision - a.scale > b.precision - b.scale
               ? a.precision - a.scale
               : b.precision - b.scale;
  *t = mkdec(ip + sc > 38 ? 38 : ip + sc, sc);
  return true;
}

/* x IN (values): the values are literals; x and every value are brought
 * to one type, the values converted once here. */
static int resolve_in(const dq_expr *src, dq_expr *e, const dq_schema *in,
                      dq_error *err) {
  char ta[32], tb[32], what[160];
  if (src->n_list == 0 || src->list == NULL)
    return set_err(err, DQ_EINVAL, "IN needs at least one value", e, in);
  dq_type t = e->args[0]->type;
  for (size_t i = 0; i < src->n_list; i++) {
    if (src->list[i].is_null)
      continue;
    if (!compare_type(t, src->list[i].type, &t)) {
      snprintf(what, sizeof what, "cannot compare %s with the IN value %zu "
               "(%s)", dq_type_format(e->args[0]->type, ta, sizeof ta), i,
               dq_type_format(src->list[i].type, tb, sizeof tb));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
  }
  int rc = cast_to(&e->args[0], t, err);
  if (rc != 0)
    return rc;
  e->list = calloc(src->n_list, sizeof *e->list);
  if (e->list == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory resolving IN");
  for (size_t i = 0; i < src->n_list; i++) {
    if ((rc = copy_scalar(&e->list[i], &src->list[i], err)) != 0)
      return rc;
    e->n_list = i + 1;
    if (!dq_type_equal(e->list[i].type, t) &&
        !fold_literal_cast(&e->list[i], t)) {
      snprintf(what, sizeof what, "the IN value %zu does not fit %s", i,
               dq_type_format(t, ta, sizeof ta));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
  }
  e->type = mk(DQ_TYPE_BOOL);
  return 0;
}

static int resolve_call(const dq_expr *src, const dq_schema *in, dq_expr *e,
                        int depth, dq_error *err) {
  int rc;
  char ta[32], tb[32], what[160];
  if (!dq_expr_op_valid((int)src->op))
    return dq_error_set(err, DQ_EINVAL, "unknown expression operator %d",
                        (int)src->op);
  if (!dq_expr_op_n_args_ok(src->op, src->n_args))
    return dq_error_set(err, DQ_EINVAL, "operator %s does not take %zu "
                        "argument%s", dq_expr_op_name(src->op), src->n_args,
                        src->n_args == 1 ? "" : "s");
  e->op = src->op;
  size_t want = src->n_args;
  for (size_t i = 0; i < want; i++) {
    if ((rc = resolve_rec(src->args[i], in, &e->args[i], depth + 1, err)))
      return rc;
    e->n_args = i + 1;
  }
  dq_type a = e->args[0]->type;
  dq_type b = want > 1 ? e->args[1]->type : a;
  switch (e->op) {
  case DQ_OP_IN: return resolve_in(src, e, in, err);
  case DQ_OP_LIKE:
    if (a.id != DQ_TYPE_UTF8 || e->args[1]->kind != DQ_EXPR_LITERAL ||
        b.id != DQ_TYPE_UTF8)
      return set_err(err, DQ_EINVAL, "LIKE takes a utf8 value and a utf8 "
                     "literal pattern", e, in);
    e->type = mk(DQ_TYPE_BOOL);
    return 0;
  case DQ_OP_CASE: {
    if (a.id != DQ_TYPE_BOOL) {
      snprintf(what, sizeof what, "a CASE condition must be bool, not %s",
               dq_type_format(a, ta, sizeof ta));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    dq_type t = b;
    if (want == 3 && !compare_type(b, e->args[2]->type, &t)) {
      snprintf(what, sizeof what, "CASE branches of types %s and %s have no "
               "common type", dq_type_format(b, ta, sizeof ta),
               dq_type_format(e->args[2]->type, tb, sizeof tb));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    e->type = t;
    if ((rc = cast_to(&e->args[1], t, err)) != 0)
      return rc;
    return want == 3 ? cast_to(&e->args[2], t, err) : 0;
  }
  case DQ_OP_EXTRACT_YEAR:
    if (a.id != DQ_TYPE_DATE32) {
      snprintf(what, sizeof what, "EXTRACT(YEAR) needs a date32, not %s",
               dq_type_format(a, ta, sizeof ta));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    e->type = mk(DQ_TYPE_INT32);
    return 0;
  case DQ_OP_SUBSTRING:
    if (a.id != DQ_TYPE_UTF8 || !is_int(b) || !is_int(e->args[2]->type))
      return set_err(err, DQ_EINVAL, "SUBSTRING takes a utf8 value, an "
                     "integer start and an integer length", e, in);
    e->type = mk(DQ_TYPE_UTF8);
    if ((rc = cast_to(&e->args[1], mk(DQ_TYPE_INT64), err)) != 0)
      return rc;
    return cast_to(&e->args[2], mk(DQ_TYPE_INT64), err);
  case DQ_OP_ADD:
  case DQ_OP_SUB:
  case DQ_OP_MUL:
  case DQ_OP_DIV: return resolve_arith(e, in, err);
  case DQ_OP_EQ:
  case DQ_OP_NE:
  case DQ_OP_LT:
  case DQ_OP_LE:
  case DQ_OP_GT:
  case DQ_OP_GE: {
    bool ok;
    if ((rc = common_compare_type(&e->args[0], &e->args[1], &ok, err)))
      return rc;
    if (!ok) {
      snprintf(what, sizeof what, "cannot compare %s with %s",
               dq_type_format(a, ta, sizeof ta),
               dq_type_format(b, tb, sizeof tb));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    e->type = mk(DQ_TYPE_BOOL);
    return 0;
  }
  case DQ_OP_AND:
  case DQ_OP_OR:
  case DQ_OP_NOT:
    if (a.id != DQ_TYPE_BOOL || b.id != DQ_TYPE_BOOL) {
      snprintf(what, sizeof what, "%s needs bool operands, not %s%s%s",
               dq_expr_op_name(e->op), dq_type_format(a, ta, sizeof ta),
               want > 1 ? " and " : "",
               want > 1 ? dq_type_format(b, tb, sizeof tb) : "");
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    e->type = mk(DQ_TYPE_BOOL);
    return 0;
  case DQ_OP_IS_NULL:
  case DQ_OP_IS_NOT_NULL: e->type = mk(DQ_TYPE_BOOL); return 0;
  case DQ_OP_NEG:
    if (!is_numeric(a)) {
      snprintf(what, sizeof what, "cannot negate %s",
               dq_type_format(a, ta, sizeof ta));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    e->type = a;
    return 0;
  case DQ_OP_CAST: {
    dq_error terr;
    if (dq_type_check(src->cast_type, &terr) != 0)
      return dq_error_set(err, DQ_EINVAL, "bad cast target: %s", terr.message);
    e->cast_type = src->cast_type;
    if (e->cast_type.id != DQ_TYPE_DECIMAL)
      e->cast_type.precision = e->cast_type.scale = 0;
    if (!cast_supported(a, e->cast_type)) {
      snprintf(what, sizeof what, "cannot cast %s to %s",
               dq_type_format(a, ta, sizeof ta),
               dq_type_format(e->cast_type, tb, sizeof tb));
      return set_err(err, DQ_EINVAL, what, e, in);
    }
    e->type = e->cast_type;
    return 0;
  }
  }
  return dq_error_set(err, DQ_EINVAL, "unknown expression operator %d",
                      (int)e->op);
}

static int copy_scalar(dq_scalar *dst, const dq_scalar *src, dq_error *err) {
  *dst = *src;
  dst->str = NULL;
  if (src->type.id == DQ_TYPE_DECIMAL) {
    dq_error terr;
    if (dq_type_check(src->type, &terr) != 0)
      return dq_error_set(err, DQ_EINVAL, "bad literal type: %s",
                          terr.message);
  }
  if (src->type.id != DQ_TYPE_DECIMAL)
    dst->type.precision = dst->type.scale = 0;
  if (src->type.id == DQ_TYPE_UTF8 && !src->is_null) {
    dst->str = malloc(src->len + 1);
    if (dst->str == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory copying a literal");
    if (src->len)
      memcpy(dst->str, src->str, src->len);
    dst->str[src->len] = '\0';
  }
  return 0;
}

static int resolve_rec(const dq_expr *src, const dq_schema *in,
                       dq_expr **out, int depth, dq_error *err) {
  *out = NULL;
  if (src == NULL)
    return dq_error_set(err, DQ_EINVAL, "an expression is missing (NULL)");
  if (depth > DQ_EXPR_MAX_DEPTH)
    return dq_error_set(err, DQ_EINVAL, "expression nesting exceeds %d "
                        "levels", DQ_EXPR_MAX_DEPTH);
  dq_expr *e = dq_expr_alloc(src->kind);
  if (e == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory resolving an "
                        "expression");
  e->resolved = true;
  int rc = 0;
  switch (src->kind) {
  case DQ_EXPR_COLUMN: {
    size_t nf = dq_schema_n_fields(in);
    if (src->name != NULL) {
      int i = dq_schema_field_index(in, src->name);
      if (i < 0) {
        char cols[256] = "";
        sbuf s = {cols, sizeof cols, 0};
        for (size_t k = 0; k < nf; k++)
          sput(&s, "%s%s", k ? ", " : "", dq_schema_field_name(in, k));
        rc = dq_error_set(err, DQ_EINVAL, "no column named \"%s\" (the input "
                          "has: %s)", src->name, nf ? cols : "no columns");
        break;
      }
      e->column = (uint32_t)i;
    } else {
      if (src->column >= nf) {
        rc = dq_error_set(err, DQ_EINVAL, "column index %" PRIu32 " is out "
                          "of range (the input has %zu columns)", src->column,
                          nf);
        break;
      }
      e->column = src->column;
    }
    e->type = dq_schema_field_type(in, e->column);
    break;
  }
  case DQ_EXPR_LITERAL:
    if ((rc = copy_scalar(&e->lit, &src->lit, err)) == 0)
      e->type = e->lit.type;
    break;
  case DQ_EXPR_CALL: rc = resolve_call(src, in, e, depth, err); break;
  default:
    rc = dq_error_set(err, DQ_EINVAL, "unknown expression kind %d",
                      (int)src->kind);
    break;
  }
  if (rc != 0) {
    dq_expr_free(e);
    return rc;
  }
  *out = e;
  return 0;
}

int dq_expr_resolve(const dq_expr *src, const dq_schema *input, dq_expr **out,
                    dq_error *err) {
  return resolve_rec(src, input, out, 0, err);
}
