/* op_sort.c — SORT: reads its whole input, then emits it ordered by the
 * keys, batch_rows rows at a time.
 *
 * The input is concatenated once, the keys are encoded as order-preserving
 * row keys (expr_array.c), and a stable merge sort orders row indices by
 * comparing an 8-byte big-endian key prefix first and the rest of the key
 * with memcmp only on prefix ties: no per-row type dispatch and no
 * comparator callback.  Stability makes the output deterministic: equal
 * keys keep their input order.
 *
 * The input held, and while sorting the keys and index vectors, are
 * reported to the pipeline's memory account. */
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

typedef struct sort_op {
  dq_op op;
  dq_batch *all;  /* the input, concatenated; NULL until sorted */
  uint32_t *order;
  int64_t n, emitted;
  bool sorted;
  int64_t mem; /* bytes reported to the pipeline's account */
} sort_op;

static void sort_account(sort_op *s, int64_t delta) {
  dq_mem_add(s->op.env, delta);
  s->mem += delta;
}

typedef struct sort_ctx {
  const uint8_t *bytes;
  const uint64_t *off;
  const uint64_t *prefix;
} sort_ctx;

/* a before b?  (Only strictly less: ties keep merge order.) */
static inline bool less(const sort_ctx *c, uint32_t a, uint32_t b) {
  if (c->prefix[a] != c->prefix[b])
    return c->prefix[a] < c->prefix[b];
  uint64_t la = c->off[a + 1] - c->off[a], lb = c->off[b + 1] - c->off[b];
  if (la <= 8 && lb <= 8)
    return la < lb;
  uint64_t m = (la < lb ? la : lb);
  int r = m > 8 ? memcmp(c->bytes + c->off[a] + 8, c->bytes + c->off[b] + 8,
                         m - 8)
                : 0;
  return r != 0 ? r < 0 : la < lb;
}

/* Bottom-up stable merge sort of v[0..n) using tmp. */
static void merge_sort(const sort_ctx *c, uint32_t *v, uint32_t *tmp,
                       int64_t n) {
  /* Insertion-sort runs of 16 first. */
  const int64_t run = 16;
  for (int64_t s = 0; s < n; s += run) {
    int64_t e = s + run < n ? s + run : n;
    for (int64_t i = s + 1; i < e; i++) {
      uint32_t x = v[i];
      int64_t j = i;
      while (j > s && less(c, x, v[j - 1])) {
        v[j] = v[j - 1];
        j--;
      }
      v[j] = x;
    }
  }
  uint32_t *src = v, *dst = tmp;
  for (int64_t w = run; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n;
      int64_t hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        dst[k++] = less(c, src[j], src[i]) ? src[j++] : src[i++];
      while (i < mid)
        dst[k++] = src[i++];
      while (j < hi)
        dst[k++] = src[j++];
    }
    uint32_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != v)
    memcpy(v, src, (size_t)n * sizeof *v);
}

static int sort_input(sort_op *s, dq_error *err) {
  dq_op *op = &s->op;
  const dq_node *n = op->node;
  dq_batch **bs = NULL;
  size_t nb = 0, cap = 0;
  int rc = 0;
  for (;;) {
    dq_batch *b;
    if ((rc = dq_op_next(op->input, &b, err)) != 0 || b == NULL)
      break;
    if (nb == cap) {
      cap = cap ? 2 * cap : 16;
      dq_batch **nbs = realloc(bs, cap * sizeof *nbs);
      if (nbs == NULL) {
        dq_batch_unref(b);
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory sorting");
        break;
      }
      bs = nbs;
    }
    bs[nb++] = b;
    sort_account(s, (int64_t)dq_batch_byte_size(b));
  }
  /* The input is fully read: release it now. */
  dq_op_close(op->input);
  op->input = NULL;
  int64_t held = s->mem;
  if (rc == 0)
    rc = dq_batch_concat(n->schema, bs, nb, &s->all, err);
  if (rc == 0 && nb > 1)
    sort_account(s, (int64_t)dq_batch_byte_size(s->all));
  for (size_t i = 0; i < nb; i++)
    dq_batch_unref(bs[i]);
  free(bs);
  if (nb > 1)
    sort_account(s, -held);
  if (rc != 0)
    return rc;

  int64_t rows = s->all->n_rows;
  s->n = rows;
  dq_array **keys = calloc(n->n_keys, sizeof *keys);
  bool *desc = calloc(n->n_keys, sizeof *desc);
  bool *nf = calloc(n->n_keys, sizeof *nf);
  s->order = malloc(((size_t)rows + 1) * sizeof *s->order);
  uint32_t *tmp = malloc(((size_t)rows + 1) * sizeof *tmp);
  uint64_t *prefix = malloc(((size_t)rows + 1) * sizeof *prefix);
  dq_row_keys rk = {0, NULL, NULL};
  if (keys == NULL || desc == NULL || nf == NULL || s->order == NULL ||
      tmp == NULL || prefix == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory sorting");
    goto done;
  }
  for (size_t k = 0; k < n->n_keys; k++) {
    desc[k] = n->keys[k].descending;
    nf[k] = n->keys[k].nulls_first;
    if ((rc = dq_expr_eval(n->keys[k].expr, s->all, &keys[k], err)) != 0)
      goto done;
  }
  if ((rc = dq_row_keys_encode((const dq_array *const *)keys, n->n_keys, desc,
                               nf, rows, &rk, err)) != 0)
    goto done;
  /* order stays; tmp, prefix and the keys go when sorted. */
  int64_t scratch = (rows + 1) * (int64_t)(sizeof *tmp + sizeof *prefix +
                                           sizeof *rk.offsets) +
                    (int64_t)rk.offsets[rows];
  sort_account(s, scratch + (rows + 1) * (int64_t)sizeof *s->order);
  for (int64_t i = 0; i < rows; i++) {
    uint64_t len = rk.offsets[i + 1] - rk.offsets[i];
    uint8_t pb[8] = {0};
    memcpy(pb, rk.bytes + rk.offsets[i], len < 8 ? len : 8);
    uint64_t p;
    memcpy(&p, pb, 8);
    prefix[i] = __builtin_bswap64(p);
    s->order[i] = (uint32_t)i;
  }
  sort_ctx c = {rk.bytes, rk.offsets, prefix};
  merge_sort(&c, s->order, tmp, rows);
  sort_account(s, -scratch);
done:
  for (size_t k = 0; keys != NULL && k < n->n_keys; k++)
    dq_array_unref(keys[k]);
  free(keys);
  free(desc);
  free(nf);
  free(tmp);
  free(prefix);
  dq_row_keys_free(&rk);
  return rc;
}

static int sort_next(dq_op *op, dq_batch **out, dq_error *err) {
  sort_op *s = (sort_op *)op;
  if (!s->sorted) {
    int rc = sort_input(s, err);
    if (rc != 0)
      return rc;
    s->sorted = true;
  }
  *out = NULL;
  if (s->emitted >= s->n)
    return 0;
  int64_t take = s->n - s->emitted;
  if (take > op->env->batch_rows)
    take = op->env->batch_rows;
  int rc = dq_batch_take(s->all, s->order + s->emitted, take, out, err);
  if (rc == 0)
    s->emitted += take;
  return rc;
}

static void sort_close(dq_op *op) {
  sort_op *s = (sort_op *)op;
  dq_op_close(op->input);
  dq_mem_add(op->env, -s->mem);
  dq_batch_unref(s->all);
  free(s->order);
  free(s);
}

int dq_op_sort_open(const dq_node *n, dq_op *input, dq_op **out,
                    dq_error *err) {
  sort_op *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a sort");
  s->op.next = sort_next;
  s->op.close = sort_close;
  *out = &s->op;
  return 0;
}
