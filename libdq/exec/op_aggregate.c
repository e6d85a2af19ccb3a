/* op_aggregate.c — AGGREGATE: hash aggregation, SINGLE, PARTIAL or FINAL
 * (the type rules and state layout are documented in dq/plan.h).
 *
 * Per input batch: the group expressions are evaluated and encoded as row
 * keys (expr_array.c; NULL keys encode alike, so they group together), each
 * key is hashed and looked up in an open-addressing table that maps it to
 * a dense group id, and then each aggregate runs one typed loop over the
 * batch adding row i into group gid[i].  Keys are kept encoded and decoded
 * back into columns only when the groups are emitted, in first-seen order.
 *
 * The lookup is where a many-group aggregate spends its time (TPC-H Q18
 * groups 6 M rows into 1.5 M orders), so: a row whose key equals the
 * previous row's takes its group without a lookup (input clustered on the
 * key, as lineitem is on l_orderkey, is common), a check kept on only
 * while it pays, since on unclustered keys it is an unpredictable branch
 * per row (Q1 got 9% slower with it always on); keys are hashed with
 * row_key_hash.h's hash, cheaper than the routing hash; and each slot
 * holds the upper half of its group's hash beside the group id, so a probe
 * touches the group's key only when the hashes agree.
 *
 * Exactness: integer and decimal sums accumulate in 128 bits (an overflow
 * fails the query rather than wrapping), so SINGLE and PARTIAL→FINAL give
 * identical results whatever the split.  avg is derived at the end from
 * the exact sum and count.
 *
 * The bytes the table holds (keys, slots, accumulators, min/max strings)
 * are reported to the pipeline's memory account after every batch. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "exec/row_key_hash.h"
#include "arrow/decimal_width.h"

typedef struct acc {
  const dq_agg_call *call;
  dq_type in_type;   /* type of the column added: the argument, or the state */
  dq_i128 *isum;     /* SUM/AVG of integers and decimals; MIN/MAX of them */
  double *fsum;      /* SUM/AVG/MIN/MAX of float64 */
  int64_t *count;    /* COUNT; non-null inputs of SUM/AVG/MIN/MAX */
  char **str;        /* MIN/MAX of utf8 */
  size_t *len;
  int64_t str_bytes; /* held by str */
} acc;

typedef struct agg_op {
  dq_op op;
  dq_agg_mode mode;
  size_t n_groups_cols;
  /* groups: encoded keys, hashes, and the table */
  size_t n_groups, cap_groups;
  uint8_t *keys;
  size_t keys_len, keys_cap;
  uint64_t *key_off; /* n_groups + 1 */
  uint64_t *hash;
  uint64_t *table; /* (hash >> 32) << 32 | (group id + 1); 0 = empty */
  size_t table_cap;
  acc *accs;
  uint32_t *gid;
  int64_t gid_cap;
  bool consumed;
  bool clustered; /* the last batch's keys mostly repeated the row before */
  size_t emitted;
  int64_t mem; /* bytes reported to the pipeline's account */
} agg_op;

static void agg_account(agg_op *a) {
  int64_t per = 2 * (int64_t)sizeof(uint64_t); /* key_off, hash */
  int64_t strs = 0;
  for (size_t i = 0; i < a->op.node->n_aggs; i++) {
    const acc *c = &a->accs[i];
    per += (c->isum ? (int64_t)sizeof *c->isum : 0) +
           (c->fsum ? (int64_t)sizeof *c->fsum : 0) +
           (c->count ? (int64_t)sizeof *c->count : 0) +
           (c->str ? (int64_t)(sizeof *c->str + sizeof *c->len) : 0);
    strs += c->str_bytes;
  }
  int64_t m = (int64_t)a->cap_groups * per + (int64_t)a->keys_cap +
              (int64_t)(a->table_cap * sizeof *a->table) +
              a->gid_cap * (int64_t)sizeof *a->gid + strs;
  dq_mem_add(a->op.env, m - a->mem);
  a->mem = m;
}

/* --- Group table ---------------------------------------------------------- */

static int grow_groups(agg_op *a, dq_error *err) {
  size_t cap = a->cap_groups ? 2 * a->cap_groups : 64;
  uint64_t *ko = realloc(a->key_off, (cap + 1) * sizeof *ko);
  if (ko != NULL)
    a->key_off = ko;
  uint64_t *h = realloc(a->hash, cap * sizeof *h);
  if (h != NULL)
    a->hash = h;
  if (ko == NULL || h == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory growing groups");
  for (size_t i = 0; i < a->op.node->n_aggs; i++) {
    acc *c = &a->accs[i];
#define GROW(field)                                                            \
  if (c->field != NULL) {                                                      \
    void *p = realloc(c->field, cap * sizeof *c->field);                       \
    if (p == NULL)                                                             \
      return dq_error_set(err, DQ_ENOMEM, "out of memory growing groups");     \
    c->field = p;                                                              \
    memset(c->field + a->cap_groups, 0,                                        \
           (cap - a->cap_groups) * sizeof *c->field);                          \
  }
    GROW(isum)
    GROW(fsum)
    GROW(count)
    GROW(str)
    GROW(len)
#undef GROW
  }
  a->cap_groups = cap;
  return 0;
}

static inline uint64_t slot_of(uint64_t h, size_t g) {
  return (h & 0xffffffff00000000ull) | ((uint64_t)g + 1);
}

static int rehash(agg_op *a, dq_error *err) {
  size_t cap = a->table_cap ? 2 * a->table_cap : 256;
  uint64_t *t = calloc(cap, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory growing the group "
                        "table");
  for (size_t g = 0; g < a->n_groups; g++) {
    size_t s = a->hash[g] & (cap - 1);
    while (t[s] != 0)
      s = (s + 1) & (cap - 1);
    t[s] = slot_of(a->hash[g], g);
  }
  free(a->table);
  a->table = t;
  a->table_cap = cap;
  return 0;
}

static int add_group(agg_op *a, const uint8_t *key, size_t len, uint64_t h,
                     uint32_t *gid, dq_error *err) {
  int rc;
  if (a->n_groups >= UINT32_MAX - 1)
    return dq_error_set(err, DQ_ETOOBIG, "too many groups");
  if (a->n_groups == a->cap_groups && (rc = grow_groups(a, err)) != 0)
    return rc;
  if (a->keys_len + len > a->keys_cap) {
    size_t cap = a->keys_cap ? 2 * a->keys_cap : 4096;
    while (cap < a->keys_len + len)
      cap *= 2;
    uint8_t *k = realloc(a->keys, cap);
    if (k == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory storing group keys");
    a->keys = k;
    a->keys_cap = cap;
  }
  if (len)
    memcpy(a->keys + a->keys_len, key, len);
  size_t g = a->n_groups++;
  a->key_off[g] = a->keys_len;
  a->keys_len += len;
  a->key_off[g + 1] = a->keys_len;
  a->hash[g] = h;
  *gid = (uint32_t)g;
  if (2 * a->n_groups > a->table_cap)
    return rehash(a, err); /* reinserts g too */
  size_t s = h & (a->table_cap - 1);
  while (a->table[s] != 0)
    s = (s + 1) & (a->table_cap - 1);
  a->table[s] = slot_of(h, g);
  return 0;
}

/* Fills a->gid[0..n) with the group of each row. */
static int assign_groups(agg_op *a, const dq_batch *in, dq_error *err) {
  const dq_node *n = a->op.node;
  int64_t rows = in->n_rows;
  int rc = 0;
  if (n->n_exprs == 0) {
    if (a->n_groups == 0 &&
        (rc = add_group(a, NULL, 0, 0, &a->gid[0], err)) != 0)
      return rc;
    memset(a->gid, 0, (size_t)rows * sizeof *a->gid);
    return 0;
  }
  dq_array **cols = calloc(n->n_exprs, sizeof *cols);
  if (cols == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory grouping");
  dq_row_keys rk = {0, NULL, NULL};
  size_t done = 0;
  for (; done < n->n_exprs; done++)
    if ((rc = dq_expr_eval(n->exprs[done], in, &cols[done], err)) != 0)
      goto out;
  if ((rc = dq_row_keys_encode((const dq_array *const *)cols, n->n_exprs,
                               NULL, NULL, rows, &rk, err)) != 0)
    goto out;
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  int64_t repeats = 0;
  for (int64_t i = 0; i < rows; i++) {
    const uint8_t *k = rk.bytes + rk.offsets[i];
    size_t len = (size_t)(rk.offsets[i + 1] - rk.offsets[i]);
    uint32_t g = 0;
    if (prev != NULL && len == prev_len && dq_row_key_eq(k, prev, len)) {
      a->gid[i] = a->gid[i - 1];
      repeats++;
      continue;
    }
    if (a->clustered) {
      prev = k;
      prev_len = len;
    }
    uint64_t h = dq_row_key_hash(k, len);
    size_t s = a->table_cap ? h & (a->table_cap - 1) : 0;
    for (; a->table_cap; s = (s + 1) & (a->table_cap - 1)) {
      uint64_t e = a->table[s];
      if (e == 0)
        break;
      if ((e ^ h) >> 32 != 0)
        continue;
      g = (uint32_t)e - 1;
      if (a->key_off[g + 1] - a->key_off[g] == len &&
          dq_row_key_eq(a->keys + a->key_off[g], k, len))
        goto found;
    }
    if ((rc = add_group(a, k, len, h, &g, err)) != 0)
      goto out;
  found:
    a->gid[i] = g;
  }
  /* Checked every batch, so a change in the input's order is followed;
   * while off, a sample of the batch's first rows decides. */
  if (a->clustered) {
    a->clustered = repeats * 2 > rows;
  } else {
    int64_t sample = rows < 64 ? rows : 64, same = 0;
    for (int64_t i = 1; i < sample; i++)
      same += a->gid[i] == a->gid[i - 1];
    a->clustered = same * 2 > sample;
  }
out:
  for (size_t i = 0; i < done; i++)
    dq_array_unref(cols[i]);
  free(cols);
  dq_row_keys_free(&rk);
  return rc;
}

/* --- Accumulation --------------------------------------------------------- */

/* Runs BODY for each valid row i (g = its group). */
#define EACH_VALID(arr, BODY)                                                  \
  do {                                                                         \
    const uint8_t *vb_ = (arr)->validity ? (arr)->validity->data : NULL;       \
    if (vb_ == NULL) {                                                         \
      for (int64_t i = 0; i < rows; i++) {                                     \
        uint32_t g = gid[i];                                                   \
        BODY;                                                                  \
      }                                                                        \
    } else {                                                                   \
      for (int64_t i = 0; i < rows; i++) {                                     \
        if (!dq_bit_get(vb_, i))                                               \
          continue;                                                            \
        uint32_t g = gid[i];                                                   \
        BODY;                                                                  \
      }                                                                        \
    }                                                                          \
  } while (0)

static int add_minmax_str(acc *c, uint32_t g, const uint8_t *s, size_t len,
                          bool is_min, dq_error *err) {
  if (c->count[g] != 0) {
    size_t m = len < c->len[g] ? len : c->len[g];
    int r = m ? memcmp(s, c->str[g], m) : 0;
    if (r == 0)
      r = len < c->len[g] ? -1 : len > c->len[g];
    if (is_min ? r >= 0 : r <= 0)
      return 0;
  }
  char *p = realloc(c->str[g], len ? len : 1);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory in min/max");
  c->str_bytes += (int64_t)len - (int64_t)c->len[g];
  if (len)
    memcpy(p, s, len);
  c->str[g] = p;
  c->len[g] = len;
  c->count[g] = 1;
  return 0;
}

/* Adds column `x` (of c->in_type) into the accumulator. */
static int accumulate(acc *c, dq_agg_mode mode, const dq_array *x,
                      const dq_array *x2, const uint32_t *gid, int64_t rows,
                      dq_error *err) {
  dq_agg_func f = c->call->func;
  const uint8_t *v = x ? x->values->data : NULL;
  bool ovf = false;
  if (f == DQ_AGG_COUNT_STAR && mode != DQ_AGG_FINAL) {
    for (int64_t i = 0; i < rows; i++)
      c->count[gid[i]]++;
    return 0;
  }
  if ((f == DQ_AGG_COUNT || f == DQ_AGG_COUNT_STAR) && mode == DQ_AGG_FINAL) {
    const int64_t *p = (const int64_t *)v;
    EACH_VALID(x, c->count[g] += p[i]);
    return 0;
  }
  if (f == DQ_AGG_COUNT) {
    EACH_VALID(x, c->count[g]++);
    return 0;
  }
  if (f == DQ_AGG_SUM || f == DQ_AGG_AVG) {
    /* A FINAL avg counts from the state's count column, not from rows. */
    const int64_t inc = f == DQ_AGG_AVG && mode == DQ_AGG_FINAL ? 0 : 1;
    switch (c->in_type.id) {
    case DQ_TYPE_INT32: {
      const int32_t *p = (const int32_t *)v;
      EACH_VALID(x, { c->isum[g] += p[i]; c->count[g] += inc; });
      break;
    }
    case DQ_TYPE_INT64: {
      const int64_t *p = (const int64_t *)v;
      EACH_VALID(x, { c->isum[g] += p[i]; c->count[g] += inc; });
      break;
    }
    case DQ_TYPE_DECIMAL: {
      if (dq_type_width(c->in_type) == 8) { /* decimal64 (decimal_width.h) */
        const int64_t *p = (const int64_t *)v;
        EACH_VALID(x, {
          ovf |= __builtin_add_overflow(c->isum[g], (dq_i128)p[i],
                                        &c->isum[g]);
          c->count[g] += inc;
        });
        break;
      }
      const dq_i128 *p = (const dq_i128 *)v;
      EACH_VALID(x, {
        ovf |= __builtin_add_overflow(c->isum[g], p[i], &c->isum[g]);
        c->count[g] += inc;
      });
      break;
    }
    case DQ_TYPE_FLOAT64: {
      const double *p = (const double *)v;
      EACH_VALID(x, { c->fsum[g] += p[i]; c->count[g] += inc; });
      break;
    }
    default: break;
    }
    if (ovf)
      return dq_error_set(err, DQ_EEXEC, "the sum \"%s\" overflows 128 bits",
                          c->call->name);
    if (inc == 0) {
      const int64_t *p = (const int64_t *)x2->values->data;
      EACH_VALID(x2, c->count[g] += p[i]);
    }
    return 0;
  }
  /* MIN / MAX */
  bool is_min = f == DQ_AGG_MIN;
  switch (c->in_type.id) {
#define MINMAX_INT(T)                                                          \
  do {                                                                         \
    const T *p = (const T *)v;                                                 \
    EACH_VALID(x, {                                                            \
      dq_i128 val = p[i];                                                      \
      if (c->count[g] == 0 || (is_min ? val < c->isum[g] : val > c->isum[g])) \
        c->isum[g] = val;                                                      \
      c->count[g] = 1;                                                         \
    });                                                                        \
  } while (0)
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32: MINMAX_INT(int32_t); break;
  case DQ_TYPE_INT64: MINMAX_INT(int64_t); break;
  case DQ_TYPE_DECIMAL:
    if (dq_type_width(c->in_type) == 8)
      MINMAX_INT(int64_t);
    else
      MINMAX_INT(dq_i128);
    break;
#undef MINMAX_INT
  case DQ_TYPE_FLOAT64: {
    const double *p = (const double *)v;
    EACH_VALID(x, {
      if (c->count[g] == 0 || (is_min ? p[i] < c->fsum[g] : p[i] > c->fsum[g]))
        c->fsum[g] = p[i];
      c->count[g] = 1;
    });
    break;
  }
  case DQ_TYPE_UTF8: {
    const int32_t *o = (const int32_t *)x->offsets->data;
    int rc = 0;
    EACH_VALID(x, {
      rc = add_minmax_str(c, g, v + o[i], (size_t)(o[i + 1] - o[i]), is_min,
                          err);
      if (rc != 0)
        return rc;
    });
    break;
  }
  default: break;
  }
  return 0;
}

static int consume(agg_op *a, dq_error *err) {
  dq_op *op = &a->op;
  const dq_node *n = op->node;
  for (;;) {
    dq_batch *in;
    int rc = dq_op_next(op->input, &in, err);
    if (rc != 0)
      return rc;
    if (in == NULL)
      break;
    int64_t rows = in->n_rows;
    if (rows > a->gid_cap) {
      uint32_t *p = realloc(a->gid, (size_t)rows * sizeof *p);
      if (p == NULL) {
        dq_batch_unref(in);
        return dq_error_set(err, DQ_ENOMEM, "out of memory aggregating");
      }
      a->gid = p;
      a->gid_cap = rows;
    }
    rc = assign_groups(a, in, err);
    for (size_t i = 0; rc == 0 && i < n->n_aggs; i++) {
      const dq_agg_call *call = &n->aggs[i];
      dq_array *x = NULL, *x2 = NULL;
      if (a->mode == DQ_AGG_FINAL) {
        x = dq_array_ref(in->columns[call->state_col]);
        if (call->func == DQ_AGG_AVG)
          x2 = dq_array_ref(in->columns[call->state_col + 1]);
      } else if (call->arg != NULL) {
        rc = dq_expr_eval(call->arg, in, &x, err);
      }
      if (rc == 0)
        rc = accumulate(&a->accs[i], a->mode, x, x2, a->gid, rows, err);
      dq_array_unref(x);
      dq_array_unref(x2);
    }
    dq_batch_unref(in);
    agg_account(a);
    if (rc != 0)
      return rc;
  }
  dq_op_close(op->input);
  op->input = NULL;
  /* SQL: a grouping without keys has one row even over no input; a
   * PARTIAL leaves that row to its FINAL. */
  if (n->n_exprs == 0 && a->n_groups == 0 && a->mode != DQ_AGG_PARTIAL) {
    uint32_t g;
    int rc = add_group(a, NULL, 0, 0, &g, err);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* --- Output --------------------------------------------------------------- */

/* One output column of groups [g0, g0+n) for accumulator c: either its
 * state (`state` 0 or 1, PARTIAL) or its result (state < 0). */
static int emit_column(const acc *c, dq_type t, int state, size_t g0,
                       int64_t n, dq_array **out, dq_error *err) {
  dq_agg_func f = c->call->func;
  bool is_count = f == DQ_AGG_COUNT || f == DQ_AGG_COUNT_STAR ||
                  (f == DQ_AGG_AVG && state == 1);
  int64_t bytes = 0;
  if (t.id == DQ_TYPE_UTF8)
    for (int64_t i = 0; i < n; i++)
      bytes += c->count[g0 + i] ? (int64_t)c->len[g0 + i] : 0;
  if (bytes > INT32_MAX)
    return dq_error_set(err, DQ_ETOOBIG, "min/max strings exceed 2 GiB");
  dq_array_out o;
  int rc = dq_out_init(&o, t, n, !is_count, bytes, err);
  if (rc != 0)
    return rc;
  uint8_t *v = o.values->data;
  uint8_t *valid = o.validity ? o.validity->data : NULL;
  const char *fail = NULL;
  int32_t sp = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t g = g0 + i;
    int64_t cnt = c->count[g];
    if (is_count) {
      ((int64_t *)v)[i] = cnt;
      continue;
    }
    if (t.id == DQ_TYPE_UTF8)
      ((int32_t *)o.offsets->data)[i] = sp;
    if (cnt == 0)
      continue; /* NULL */
    dq_bit_set(valid, i, true);
    switch (t.id) {
    case DQ_TYPE_INT32:
    case DQ_TYPE_DATE32: ((int32_t *)v)[i] = (int32_t)c->isum[g]; break;
    case DQ_TYPE_INT64:
      if (c->isum[g] < INT64_MIN || c->isum[g] > INT64_MAX)
        fail = "does not fit int64";
      ((int64_t *)v)[i] = (int64_t)c->isum[g];
      break;
    case DQ_TYPE_FLOAT64:
      if (f == DQ_AGG_AVG && state < 0)
        ((double *)v)[i] = (c->fsum ? c->fsum[g] : (double)c->isum[g]) /
                           (double)cnt;
      else
        ((double *)v)[i] = c->fsum ? c->fsum[g] : (double)c->isum[g];
      break;
    case DQ_TYPE_DECIMAL: {
      dq_i128 r = c->isum[g];
      if (f == DQ_AGG_AVG && state < 0) {
        dq_i128 m = dq_pow10_i128(t.scale - c->call->arg_type.scale), num;
        if (__builtin_mul_overflow(c->isum[g], m, &num))
          fail = "overflows 128 bits";
        r = dq_i128_div_round(num, cnt);
      }
      if (dq_type_width(t) == 8) { /* decimal64 (decimal_width.h) */
        if (!dq_i128_fits_i64(r))
          fail = "does not fit its 64-bit decimal type";
        ((int64_t *)v)[i] = (int64_t)r;
      } else {
        ((dq_i128 *)v)[i] = r;
      }
      break;
    }
    case DQ_TYPE_UTF8:
      if (c->len[g])
        memcpy(v + sp, c->str[g], c->len[g]);
      sp += (int32_t)c->len[g];
      break;
    default: break;
    }
  }
  if (t.id == DQ_TYPE_UTF8)
    ((int32_t *)o.offsets->data)[n] = sp;
  if (fail != NULL) {
    dq_out_discard(&o);
    return dq_error_set(err, DQ_EEXEC, "the aggregate \"%s\" %s",
                        c->call->name, fail);
  }
  return dq_out_finish(&o, out, err);
}

static int agg_next(dq_op *op, dq_batch **out, dq_error *err) {
  agg_op *a = (agg_op *)op;
  const dq_node *n = op->node;
  *out = NULL;
  if (!a->consumed) {
    int rc = consume(a, err);
    if (rc != 0)
      return rc;
    a->consumed = true;
  }
  if (a->emitted >= a->n_groups)
    return 0;
  size_t g0 = a->emitted;
  int64_t count = (int64_t)(a->n_groups - g0);
  if (count > op->env->batch_rows)
    count = op->env->batch_rows;
  size_t nf = n->schema->n_fields;
  dq_array **cols = calloc(nf ? nf : 1, sizeof *cols);
  const uint8_t **rows = calloc((size_t)count, sizeof *rows);
  size_t *pos = calloc((size_t)count, sizeof *pos);
  int rc = 0;
  if (cols == NULL || rows == NULL || pos == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory emitting groups");
    goto done;
  }
  for (int64_t i = 0; i < count; i++)
    rows[i] = a->keys + a->key_off[g0 + i];
  size_t c = 0;
  for (; c < n->n_exprs && rc == 0; c++)
    rc = dq_row_keys_decode_column(rows, pos, count, n->schema->types[c],
                                   &cols[c], err);
  for (size_t i = 0; i < n->n_aggs && rc == 0; i++) {
    const acc *ac = &a->accs[i];
    if (a->mode == DQ_AGG_PARTIAL) {
      rc = emit_column(ac, n->schema->types[c], 0, g0, count, &cols[c], err);
      c++;
      if (rc == 0 && ac->call->func == DQ_AGG_AVG) {
        rc = emit_column(ac, n->schema->types[c], 1, g0, count, &cols[c],
                         err);
        c++;
      }
    } else {
      rc = emit_column(ac, n->schema->types[c], -1, g0, count, &cols[c],
                       err);
      c++;
    }
  }
  if (rc == 0)
    rc = dq_batch_new(n->schema, count, cols, out, err);
  if (rc == 0)
    a->emitted += (size_t)count;
done:
  for (size_t i = 0; cols != NULL && i < nf; i++)
    dq_array_unref(cols[i]);
  free(cols);
  free(rows);
  free(pos);
  return rc;
}

static void agg_close(dq_op *op) {
  agg_op *a = (agg_op *)op;
  dq_op_close(op->input);
  dq_mem_add(op->env, -a->mem);
  for (size_t i = 0; a->accs != NULL && i < op->node->n_aggs; i++) {
    acc *c = &a->accs[i];
    if (c->str != NULL)
      for (size_t g = 0; g < a->n_groups; g++)
        free(c->str[g]);
    free(c->isum);
    free(c->fsum);
    free(c->count);
    free(c->str);
    free(c->len);
  }
  free(a->accs);
  free(a->keys);
  free(a->key_off);
  free(a->hash);
  free(a->table);
  free(a->gid);
  free(a);
}

int dq_op_aggregate_open(const dq_node *n, dq_op *input, dq_op **out,
                         dq_error *err) {
  agg_op *a = calloc(1, sizeof *a);
  if (a == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening an aggregate");
  a->op.next = agg_next;
  a->op.close = agg_close;
  a->op.node = n;
  a->mode = n->mode;
  a->accs = calloc(n->n_aggs ? n->n_aggs : 1, sizeof *a->accs);
  bool ok = a->accs != NULL;
  /* Accumulator arrays start as 1-byte allocations so GROW() knows which
   * ones this call uses. */
  for (size_t i = 0; ok && i < n->n_aggs; i++) {
    acc *c = &a->accs[i];
    const dq_agg_call *call = &n->aggs[i];
    c->call = call;
    c->in_type = a->mode == DQ_AGG_FINAL ? call->arg->type : call->arg_type;
    dq_type_id t = c->in_type.id;
    ok &= (c->count = malloc(1)) != NULL;
    if (call->func == DQ_AGG_COUNT || call->func == DQ_AGG_COUNT_STAR)
      continue;
    if (t == DQ_TYPE_FLOAT64)
      ok &= (c->fsum = malloc(1)) != NULL;
    else if (t == DQ_TYPE_UTF8)
      ok &= (c->str = malloc(1)) != NULL && (c->len = malloc(1)) != NULL;
    else
      ok &= (c->isum = malloc(1)) != NULL;
  }
  if (ok) {
    /* Start with capacity 0 so the first group allocates for real. */
    dq_error e2;
    ok = grow_groups(a, &e2) == 0;
  }
  if (!ok) {
    a->op.input = NULL;
    agg_close(&a->op);
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening an aggregate");
  }
  *out = &a->op;
  return 0;
}
