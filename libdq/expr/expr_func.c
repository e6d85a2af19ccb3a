/* expr_func.c — the kernels of the non-arithmetic expressions: IN (a list
 * of literals), LIKE, CASE, EXTRACT(YEAR), SUBSTRING, and the casts that
 * are not integer/decimal rescaling (utf8 <-> date32, float64 -> integer
 * or decimal).  expr_eval.c dispatches to them once per batch.
 *
 * Strings are bytes: LIKE's `_` matches one byte and SUBSTRING counts
 * bytes, so both are exact for ASCII and never split what they are not
 * asked to.  NULL follows SQL: any NULL operand gives NULL, except that
 * x IN (...) is true on a match even when the list holds a NULL (and NULL,
 * not false, when it does not match), and CASE only evaluates a branch on
 * the rows that take it (so a branch that would fail elsewhere cannot). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

static const uint8_t *valid_of(const dq_array *a) {
  return a->validity && a->null_count > 0 ? a->validity->data : NULL;
}

static int nulls_like(const dq_array *x, int64_t n, dq_array_out *o,
                      dq_error *err) {
  const uint8_t *v = valid_of(x);
  if (v == NULL)
    return 0;
  o->validity = dq_buffer_new((size_t)(n + 7) / 8);
  if (o->validity == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory (validity bitmap)");
  memcpy(o->validity->data, v, (size_t)(n + 7) / 8);
  return 0;
}

/* --- IN ------------------------------------------------------------------- */

int dq_eval_in(const dq_expr *e, const dq_array *x, int64_t n,
               dq_array **out, dq_error *err) {
  const dq_scalar *L = e->list;
  size_t m = e->n_list;
  bool list_null = false;
  for (size_t k = 0; k < m; k++)
    list_null |= L[k].is_null;
  dq_array_out o;
  int rc = dq_out_init(&o, (dq_type){DQ_TYPE_BOOL, 0, 0}, n, true, 0, err);
  if (rc != 0)
    return rc;
  uint8_t *r = o.values->data, *rv = o.validity->data;
  const uint8_t *xv = valid_of(x);
  const uint8_t *d = x->values->data;
  /* One typed loop per type; the list is short and scanned per row. */
#define IN_LOOP(T, FIELD)                                                      \
  do {                                                                         \
    const T *v = (const T *)d;                                                 \
    for (int64_t i = 0; i < n; i++) {                                          \
      bool hit = false;                                                        \
      for (size_t k = 0; k < m && !hit; k++)                                   \
        hit = !L[k].is_null && v[i] == L[k].v.FIELD;                           \
      if (hit)                                                                 \
        dq_bit_set(r, i, true);                                                \
      if ((hit || !list_null) && (xv == NULL || dq_bit_get(xv, i)))            \
        dq_bit_set(rv, i, true);                                               \
    }                                                                          \
  } while (0)
  switch (x->type.id) {
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32: IN_LOOP(int32_t, i32); break;
  case DQ_TYPE_INT64: IN_LOOP(int64_t, i64); break;
  case DQ_TYPE_FLOAT64: IN_LOOP(double, f64); break;
  case DQ_TYPE_DECIMAL: /* 64 or 128 bits as the type says (decimal_width.h) */
    if (dq_type_width(x->type) == 8)
      IN_LOOP(int64_t, dec);
    else
      IN_LOOP(dq_i128, dec);
    break;
  case DQ_TYPE_BOOL:
    for (int64_t i = 0; i < n; i++) {
      bool val = dq_bit_get(d, i), hit = false;
      for (size_t k = 0; k < m && !hit; k++)
        hit = !L[k].is_null && val == L[k].v.b;
      if (hit)
        dq_bit_set(r, i, true);
      if ((hit || !list_null) && (xv == NULL || dq_bit_get(xv, i)))
        dq_bit_set(rv, i, true);
    }
    break;
  case DQ_TYPE_UTF8: {
    const int32_t *off = (const int32_t *)x->offsets->data;
    for (int64_t i = 0; i < n; i++) {
      size_t len = (size_t)(off[i + 1] - off[i]);
      bool hit = false;
      for (size_t k = 0; k < m && !hit; k++)
        hit = !L[k].is_null && L[k].len == len &&
              (len == 0 || memcmp(d + off[i], L[k].str, len) == 0);
      if (hit)
        dq_bit_set(r, i, true);
      if ((hit || !list_null) && (xv == NULL || dq_bit_get(xv, i)))
        dq_bit_set(rv, i, true);
    }
    break;
  }
  }
#undef IN_LOOP
  return dq_out_finish(&o, out, err);
}

/* --- LIKE ----------------------------------------------------------------- */

typedef enum like_kind {
  LIKE_ANY,      /* only '%': every non-NULL string */
  LIKE_EXACT,    /* no wildcard */
  LIKE_PREFIX,   /* "abc%" */
  LIKE_SUFFIX,   /* "%abc" */
  LIKE_CONTAINS, /* "%abc%" */
  LIKE_GENERAL
} like_kind;

/* Wildcard match with one backtracking point: on a mismatch after a '%',
 * the '%' takes one more byte.  O(n*m) at worst, no recursion. */
static bool like_general(const uint8_t *s, size_t n, const uint8_t *p,
                         size_t m) {
  size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;
  while (i < n) {
    if (j < m && p[j] == '%') {
      star = j++;
      mark = i;
    } else if (j < m && (p[j] == '_' || p[j] == s[i])) {
      i++;
      j++;
    } else if (star != SIZE_MAX) {
      j = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (j < m && p[j] == '%')
    j++;
  return j == m;
}

static bool contains(const uint8_t *s, size_t n, const uint8_t *p, size_t m) {
  if (m == 0)
    return true;
  if (m > n)
    return false;
  const uint8_t *end = s + (n - m) + 1;
  for (const uint8_t *q = s; q < end;) {
    q = memchr(q, p[0], (size_t)(end - q));
    if (q == NULL)
      return false;
    if (memcmp(q, p, m) == 0)
      return true;
    q++;
  }
  return false;
}

int dq_eval_like(const dq_expr *e, const dq_array *x, int64_t n,
                 dq_array **out, dq_error *err) {
  const dq_scalar *pat = &e->args[1]->lit;
  dq_type bt = {DQ_TYPE_BOOL, 0, 0};
  if (pat->is_null) {
    dq_scalar s;
    memset(&s, 0, sizeof s);
    s.type = bt;
    s.is_null = true;
    return dq_array_constant(&s, n, out, err);
  }
  const uint8_t *p = (const uint8_t *)(pat->str ? pat->str : "");
  size_t m = pat->len;
  /* Classify once: the literal part between leading and trailing '%'. */
  size_t lead = 0, trail = 0;
  while (lead < m && p[lead] == '%')
    lead++;
  while (trail < m - lead && p[m - 1 - trail] == '%')
    trail++;
  const uint8_t *lit = p + lead;
  size_t ll = m - lead - trail;
  bool wild = false;
  for (size_t k = 0; k < ll; k++)
    wild |= lit[k] == '%' || lit[k] == '_';
  like_kind kind = LIKE_GENERAL;
  if (ll == 0 && m > 0)
    kind = LIKE_ANY;
  else if (!wild)
    kind = lead == 0 && trail == 0 ? LIKE_EXACT
           : lead == 0             ? LIKE_PREFIX
           : trail == 0            ? LIKE_SUFFIX
                                   : LIKE_CONTAINS;
  dq_array_out o;
  int rc = dq_out_init(&o, bt, n, false, 0, err);
  if (rc == 0)
    rc = nulls_like(x, n, &o, err);
  if (rc != 0) {
    dq_out_discard(&o);
    return rc;
  }
  uint8_t *r = o.values->data;
  const uint8_t *d = x->values->data;
  const int32_t *off = (const int32_t *)x->offsets->data;
#define LIKE_LOOP(COND)                                                        \
  for (int64_t i = 0; i < n; i++) {                                            \
    const uint8_t *s = d + off[i];                                             \
    size_t len = (size_t)(off[i + 1] - off[i]);                                \
    if (COND)                                                                  \
      dq_bit_set(r, i, true);                                                  \
  }
  switch (kind) {
  case LIKE_ANY:
    for (int64_t i = 0; i < n; i++)
      dq_bit_set(r, i, true);
    break;
  case LIKE_EXACT: LIKE_LOOP(len == ll && memcmp(s, lit, ll) == 0); break;
  case LIKE_PREFIX: LIKE_LOOP(len >= ll && memcmp(s, lit, ll) == 0); break;
  case LIKE_SUFFIX:
    LIKE_LOOP(len >= ll && memcmp(s + len - ll, lit, ll) == 0);
    break;
  case LIKE_CONTAINS: LIKE_LOOP(contains(s, len, lit, ll)); break;
  case LIKE_GENERAL: LIKE_LOOP(like_general(s, len, p, m)); break;
  }
#undef LIKE_LOOP
  return dq_out_finish(&o, out, err);
}

/* --- EXTRACT(YEAR) -------------------------------------------------------- */

int dq_eval_extract_year(const dq_array *x, int64_t n, dq_array **out,
                         dq_error *err) {
  dq_array_out o;
  int rc = dq_out_init(&o, (dq_type){DQ_TYPE_INT32, 0, 0}, n, false, 0, err);
  if (rc == 0)
    rc = nulls_like(x, n, &o, err);
  if (rc != 0) {
    dq_out_discard(&o);
    return rc;
  }
  const int32_t *v = (const int32_t *)x->values->data;
  int32_t *r = (int32_t *)o.values->data;
  for (int64_t i = 0; i < n; i++)
    r[i] = dq_date_year(v[i]);
  return dq_out_finish(&o, out, err);
}

/* --- CASE ----------------------------------------------------------------- */

/* One branch over the rows idx[0..k) of b (all rows when k == n). */
static int eval_branch(const dq_expr *e, const dq_batch *b, const uint32_t *idx,
                       int64_t k, dq_array **out, dq_error *err) {
  if (k == b->n_rows)
    return dq_expr_eval(e, b, out, err);
  dq_batch *sub;
  int rc = dq_batch_take(b, idx, k, &sub, err);
  if (rc != 0)
    return rc;
  rc = dq_expr_eval(e, sub, out, err);
  dq_batch_unref(sub);
  return rc;
}

int dq_eval_case(const dq_expr *e, const dq_batch *b, dq_array **out,
                 dq_error *err) {
  int64_t n = b->n_rows;
  dq_array *cond = NULL, *vt = NULL, *vf = NULL;
  int rc = dq_expr_eval(e->args[0], b, &cond, err);
  if (rc != 0)
    return rc;
  uint32_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
  uint32_t *perm = malloc(((size_t)n + 1) * sizeof *perm);
  dq_schema *one = NULL;
  dq_batch *parts[2] = {NULL, NULL}, *both = NULL;
  if (idx == NULL || perm == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory evaluating CASE");
    goto out;
  }
  /* The rows taking THEN first in idx, then the others from the end. */
  const uint8_t *cv = cond->values->data, *cvalid = valid_of(cond);
  int64_t nt = 0, nf = 0;
  for (int64_t i = 0; i < n; i++) {
    bool t = dq_bit_get(cv, i) && (cvalid == NULL || dq_bit_get(cvalid, i));
    if (t)
      idx[nt++] = (uint32_t)i;
    else
      idx[n - 1 - nf++] = (uint32_t)i;
  }
  /* The ELSE rows, back in row order. */
  for (int64_t a = nt, z = n - 1; a < z; a++, z--) {
    uint32_t t = idx[a];
    idx[a] = idx[z];
    idx[z] = t;
  }
  if (nt > 0 && (rc = eval_branch(e->args[1], b, idx, nt, &vt, err)) != 0)
    goto out;
  if (nf > 0 || nt == 0) { /* nt == nf == 0: an empty batch */
    if (e->n_args > 2) {
      rc = eval_branch(e->args[2], b, idx + nt, nf, &vf, err);
    } else {
      dq_scalar s;
      memset(&s, 0, sizeof s);
      s.type = e->type;
      s.is_null = true;
      rc = dq_array_constant(&s, nf, &vf, err);
    }
    if (rc != 0)
      goto out;
  }
  if (nf == 0 || nt == 0) {
    *out = nt == 0 ? vf : vt;
    vt = vf = NULL;
    goto out;
  }
  /* Both: concatenate THEN's and ELSE's values and put each row back. */
  const char *name = "v";
  if ((rc = dq_schema_new(1, &name, &e->type, NULL, &one, err)) != 0 ||
      (rc = dq_batch_new(one, nt, &vt, &parts[0], err)) != 0 ||
      (rc = dq_batch_new(one, nf, &vf, &parts[1], err)) != 0 ||
      (rc = dq_batch_concat(one, parts, 2, &both, err)) != 0)
    goto out;
  for (int64_t k = 0; k < n; k++)
    perm[idx[k]] = (uint32_t)k;
  rc = dq_array_take(both->columns[0], perm, n, out, err);
out:
  dq_batch_unref(both);
  dq_batch_unref(parts[0]);
  dq_batch_unref(parts[1]);
  dq_schema_unref(one);
  dq_array_unref(cond);
  dq_array_unref(vt);
  dq_array_unref(vf);
  free(idx);
  free(perm);
  return rc;
}

/* --- SUBSTRING ------------------------------------------------------------ */

/* SQL: the bytes at 1-based positions [start, start + len) that exist. */
static inline void substr_range(int64_t slen, int64_t start, int64_t len,
                                int64_t *b, int64_t *e) {
  int64_t end;
  if (__builtin_add_overflow(start, len, &end))
    end = INT64_MAX;
  int64_t lo = start < 1 ? 1 : start;
  int64_t hi = end > slen + 1 ? slen + 1 : end;
  *b = lo - 1;
  *e = hi > lo ? hi - 1 : lo - 1;
}

int dq_eval_substring(const dq_expr *e, const dq_batch *b, dq_array **out,
                      dq_error *err) {
  int64_t n = b->n_rows;
  dq_array *x = NULL, *st = NULL, *ln = NULL;
  int rc;
  if ((rc = dq_expr_eval(e->args[0], b, &x, err)) != 0 ||
      (rc = dq_expr_eval(e->args[1], b, &st, err)) != 0 ||
      (rc = dq_expr_eval(e->args[2], b, &ln, err)) != 0)
    goto out;
  const uint8_t *vx = valid_of(x), *vs = valid_of(st), *vl = valid_of(ln);
  const int32_t *off = (const int32_t *)x->offsets->data;
  const uint8_t *d = x->values->data;
  const int64_t *s = (const int64_t *)st->values->data;
  const int64_t *l = (const int64_t *)ln->values->data;
  int64_t bytes = 0;
  for (int64_t i = 0; i < n; i++) {
    if ((vx && !dq_bit_get(vx, i)) || (vs && !dq_bit_get(vs, i)) ||
        (vl && !dq_bit_get(vl, i)))
      continue;
    if (l[i] < 0) {
      rc = dq_error_set(err, DQ_EEXEC, "SUBSTRING with a negative length "
                        "(%" PRId64 ") at row %" PRId64, l[i], i);
      goto out;
    }
    int64_t lo, hi;
    substr_range(off[i + 1] - off[i], s[i], l[i], &lo, &hi);
    bytes += hi - lo;
  }
  dq_array_out o;
  if ((rc = dq_out_init(&o, e->type, n, vx || vs || vl, bytes, err)) != 0)
    goto out;
  int32_t *ro = (int32_t *)o.offsets->data;
  uint8_t *rd = o.values->data, *rv = o.validity ? o.validity->data : NULL;
  int32_t pos = 0;
  for (int64_t i = 0; i < n; i++) {
    ro[i] = pos;
    if ((vx && !dq_bit_get(vx, i)) || (vs && !dq_bit_get(vs, i)) ||
        (vl && !dq_bit_get(vl, i)))
      continue;
    if (rv)
      dq_bit_set(rv, i, true);
    int64_t lo, hi;
    substr_range(off[i + 1] - off[i], s[i], l[i], &lo, &hi);
    if (hi > lo)
      memcpy(rd + pos, d + off[i] + lo, (size_t)(hi - lo));
    pos += (int32_t)(hi - lo);
  }
  ro[n] = pos;
  rc = dq_out_finish(&o, out, err);
out:
  dq_array_unref(x);
  dq_array_unref(st);
  dq_array_unref(ln);
  return rc;
}

/* --- Casts ---------------------------------------------------------------- */

static const double pow10d[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
    1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38};

int dq_eval_cast_other(const dq_array *x, dq_type to, int64_t n,
                       dq_array **out, dq_error *err) {
  dq_type from = x->type;
  const uint8_t *vx = valid_of(x);
  char tf[32], tt[32];
  dq_type_format(from, tf, sizeof tf);
  dq_type_format(to, tt, sizeof tt);
  if (from.id == DQ_TYPE_DATE32 && to.id == DQ_TYPE_UTF8) {
    /* Most dates are 10 bytes; format into a scratch first. */
    char *tmp = malloc(((size_t)n + 1) * 24);
    int32_t *len = malloc(((size_t)n + 1) * sizeof *len);
    int64_t bytes = 0;
    int rc = 0;
    if (tmp == NULL || len == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory casting");
    } else {
      const int32_t *v = (const int32_t *)x->values->data;
      for (int64_t i = 0; i < n; i++) {
        len[i] = 0;
        if (vx && !dq_bit_get(vx, i))
          continue;
        dq_date_format(v[i], tmp + i * 24, 24);
        len[i] = (int32_t)strlen(tmp + i * 24);
        bytes += len[i];
      }
      dq_array_out o;
      rc = dq_out_init(&o, to, n, false, bytes, err);
      if (rc == 0 && (rc = nulls_like(x, n, &o, err)) != 0)
        dq_out_discard(&o);
      if (rc == 0) {
        int32_t *ro = (int32_t *)o.offsets->data, pos = 0;
        for (int64_t i = 0; i < n; i++) {
          ro[i] = pos;
          memcpy(o.values->data + pos, tmp + i * 24, (size_t)len[i]);
          pos += len[i];
        }
        ro[n] = pos;
        rc = dq_out_finish(&o, out, err);
      }
    }
    free(tmp);
    free(len);
    return rc;
  }
  dq_array_out o;
  int rc = dq_out_init(&o, to, n, false, 0, err);
  if (rc == 0 && (rc = nulls_like(x, n, &o, err)) != 0)
    dq_out_discard(&o);
  if (rc != 0)
    return rc;
  int64_t bad = -1;
  if (from.id == DQ_TYPE_UTF8 && to.id == DQ_TYPE_DATE32) {
    const int32_t *off = (const int32_t *)x->offsets->data;
    int32_t *r = (int32_t *)o.values->data;
    for (int64_t i = 0; i < n && bad < 0; i++) {
      if (vx && !dq_bit_get(vx, i))
        continue;
      char buf[11];
      int32_t len = off[i + 1] - off[i];
      if (len != 10) {
        bad = i;
        break;
      }
      memcpy(buf, x->values->data + off[i], 10);
      buf[10] = '\0';
      if (!dq_date_parse(buf, &r[i]))
        bad = i;
    }
    if (bad >= 0) {
      dq_out_discard(&o);
      return dq_error_set(err, DQ_EEXEC, "cannot cast a utf8 value to date32 "
                          "at row %" PRId64 ": not a YYYY-MM-DD date", bad);
    }
    return dq_out_finish(&o, out, err);
  }
  if (from.id == DQ_TYPE_FLOAT64) {
    /* Rounds half away from zero, like decimal -> integer; NaN, infinities
     * and values out of range fail. */
    const double *v = (const double *)x->values->data;
    int sc = to.id == DQ_TYPE_DECIMAL ? to.scale : 0;
    double lim = to.id == DQ_TYPE_INT32   ? 2147483647.5
                 : to.id == DQ_TYPE_INT64 ? 9223372036854775807.0
                                          : 1.7e38;
    for (int64_t i = 0; i < n && bad < 0; i++) {
      if (vx && !dq_bit_get(vx, i))
        continue;
      double r = round(v[i] * pow10d[sc]);
      if (!(fabs(r) < lim) && !(to.id == DQ_TYPE_INT32 && r == -2147483648.0)) {
        bad = i;
        break;
      }
      switch (to.id) {
      case DQ_TYPE_INT32: ((int32_t *)o.values->data)[i] = (int32_t)r; break;
      case DQ_TYPE_INT64: ((int64_t *)o.values->data)[i] = (int64_t)r; break;
      default:
        if (dq_type_width(to) == 8) { /* decimal64 */
          if (!(fabs(r) < 9223372036854775807.0)) {
            bad = i;
            break;
          }
          ((int64_t *)o.values->data)[i] = (int64_t)r;
        } else {
          ((dq_i128 *)o.values->data)[i] = (dq_i128)r;
        }
        break;
      }
    }
    if (bad >= 0) {
      dq_out_discard(&o);
      return dq_error_set(err, DQ_EEXEC, "value out of range casting %s to %s "
                          "(at row %" PRId64 ")", tf, tt, bad);
    }
    return dq_out_finish(&o, out, err);
  }
  dq_out_discard(&o);
  return dq_error_set(err, DQ_EINTERNAL, "no cast from %s to %s", tf, tt);
}
