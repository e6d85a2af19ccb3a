/* op_topn.c — TOPN: ORDER BY ... LIMIT count OFFSET offset in one pass,
 * keeping only the best K = count + offset rows in a bounded max-heap
 * instead of sorting the whole input.
 *
 * Rows are ordered by their order-preserving row keys (expr_array.c) and
 * then by arrival (a sequence number), which makes the order total and
 * the result equal to a stable sort followed by a limit.  The heap's top
 * is the worst row kept, so a row that does not beat it costs one memcmp.
 * A heap entry points at (batch, row) of the input batches it came from;
 * a batch is released as soon as none of its rows is left in the heap,
 * and the keys live in an append-only arena compacted when it is mostly
 * garbage.  At the end the heap is sorted in place (heapsort: no
 * comparator callbacks) and the rows are gathered. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

typedef struct entry {
  uint64_t seq;
  uint64_t koff;
  uint32_t klen;
  uint32_t batch, row;
} entry;

typedef struct topn_op {
  dq_op op;
  int64_t k; /* count + offset */
  entry *heap;
  int64_t n, heap_cap;
  int64_t batch_bytes; /* of the batches kept */
  uint8_t *keys;
  size_t keys_len, keys_cap, live_bytes;
  dq_batch **batches; /* NULL once no entry points into it */
  int64_t *live;
  size_t n_batches, cap_batches;
  uint64_t seq;
  int64_t mem;
  /* output */
  bool done_input;
  dq_batch *all;
  uint32_t *order;
  int64_t out_n, emitted;
} topn_op;

/* a after b (worse)? */
static inline bool worse(const uint8_t *keys, const entry *a, const entry *b) {
  uint32_t m = a->klen < b->klen ? a->klen : b->klen;
  int r = m ? memcmp(keys + a->koff, keys + b->koff, m) : 0;
  if (r != 0)
    return r > 0;
  if (a->klen != b->klen)
    return a->klen > b->klen;
  return a->seq > b->seq;
}

static void sift_down(const uint8_t *keys, entry *h, int64_t n, int64_t i) {
  entry x = h[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && worse(keys, &h[c + 1], &h[c]))
      c++;
    if (!worse(keys, &h[c], &x))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

static void sift_up(const uint8_t *keys, entry *h, int64_t i) {
  entry x = h[i];
  while (i > 0) {
    int64_t p = (i - 1) / 2;
    if (!worse(keys, &x, &h[p]))
      break;
    h[i] = h[p];
    i = p;
  }
  h[i] = x;
}

static int key_store(topn_op *t, const uint8_t *k, size_t len, uint64_t *off,
                     dq_error *err) {
  if (t->keys_len + len > t->keys_cap) {
    size_t cap = t->keys_cap ? 2 * t->keys_cap : 4096;
    while (cap < t->keys_len + len)
      cap *= 2;
    uint8_t *p = realloc(t->keys, cap);
    if (p == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory in a top-N");
    t->keys = p;
    t->keys_cap = cap;
  }
  memcpy(t->keys + t->keys_len, k, len);
  *off = t->keys_len;
  t->keys_len += len;
  t->live_bytes += len;
  return 0;
}

/* Copies the live keys into a fresh arena. */
static int compact(topn_op *t, dq_error *err) {
  size_t cap = t->live_bytes ? t->live_bytes * 2 : 4096;
  uint8_t *p = malloc(cap);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory in a top-N");
  size_t pos = 0;
  for (int64_t i = 0; i < t->n; i++) {
    memcpy(p + pos, t->keys + t->heap[i].koff, t->heap[i].klen);
    t->heap[i].koff = pos;
    pos += t->heap[i].klen;
  }
  free(t->keys);
  t->keys = p;
  t->keys_cap = cap;
  t->keys_len = pos;
  return 0;
}

static void account(topn_op *t) {
  int64_t m = (int64_t)t->keys_cap + t->heap_cap * (int64_t)sizeof(entry) +
              t->batch_bytes;
  dq_mem_add(t->op.env, m - t->mem);
  t->mem = m;
}

/* One entry of batch b left the heap; the batch being added (cur) is
 * settled by add_batch itself. */
static void release(topn_op *t, uint32_t b, uint32_t cur) {
  if (--t->live[b] == 0 && b != cur) {
    t->batch_bytes -= (int64_t)dq_batch_byte_size(t->batches[b]);
    dq_batch_unref(t->batches[b]);
    t->batches[b] = NULL;
  }
}

static int add_batch(topn_op *t, dq_batch *in, dq_error *err) {
  const dq_node *n = t->op.node;
  int64_t rows = in->n_rows;
  if (t->n_batches == t->cap_batches) {
    size_t cap = t->cap_batches ? 2 * t->cap_batches : 16;
    dq_batch **nb = realloc(t->batches, cap * sizeof *nb);
    if (nb != NULL)
      t->batches = nb;
    int64_t *nl = realloc(t->live, cap * sizeof *nl);
    if (nl != NULL)
      t->live = nl;
    if (nb == NULL || nl == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory in a top-N");
    t->cap_batches = cap;
  }
  uint32_t bidx = (uint32_t)t->n_batches;
  t->batches[bidx] = in;
  t->live[bidx] = 0;
  t->n_batches++;
  dq_array **cols = calloc(n->n_keys, sizeof *cols);
  bool *desc = calloc(n->n_keys, sizeof *desc);
  bool *nf = calloc(n->n_keys, sizeof *nf);
  dq_row_keys rk = {0, NULL, NULL};
  int rc = 0;
  if (cols == NULL || desc == NULL || nf == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory in a top-N");
    goto out;
  }
  for (size_t c = 0; c < n->n_keys; c++) {
    desc[c] = n->keys[c].descending;
    nf[c] = n->keys[c].nulls_first;
    if ((rc = dq_expr_eval(n->keys[c].expr, in, &cols[c], err)) != 0)
      goto out;
  }
  if ((rc = dq_row_keys_encode((const dq_array *const *)cols, n->n_keys,
                               desc, nf, rows, &rk, err)) != 0)
    goto out;
  for (int64_t i = 0; i < rows; i++) {
    const uint8_t *k = rk.bytes + rk.offsets[i];
    size_t len = (size_t)(rk.offsets[i + 1] - rk.offsets[i]);
    if (t->n == t->k) {
      /* Full: a later row must be strictly better than the worst. */
      const entry *top = &t->heap[0];
      uint32_t m = len < top->klen ? (uint32_t)len : top->klen;
      int r = m ? memcmp(k, t->keys + top->koff, m) : 0;
      if (r > 0 || (r == 0 && len >= top->klen))
        continue;
      t->live_bytes -= top->klen;
      release(t, top->batch, bidx);
      entry e = {t->seq++, 0, (uint32_t)len, bidx, (uint32_t)i};
      if ((rc = key_store(t, k, len, &e.koff, err)) != 0)
        goto out;
      t->heap[0] = e;
      sift_down(t->keys, t->heap, t->n, 0);
    } else {
      if (t->n == t->heap_cap) {
        int64_t cap = t->heap_cap ? 2 * t->heap_cap : 1024;
        if (cap > t->k)
          cap = t->k;
        entry *h = realloc(t->heap, (size_t)cap * sizeof *h);
        if (h == NULL) {
          rc = dq_error_set(err, DQ_ENOMEM, "out of memory in a top-N");
          goto out;
        }
        t->heap = h;
        t->heap_cap = cap;
      }
      entry e = {t->seq++, 0, (uint32_t)len, bidx, (uint32_t)i};
      if ((rc = key_store(t, k, len, &e.koff, err)) != 0)
        goto out;
      t->heap[t->n++] = e;
      sift_up(t->keys, t->heap, t->n - 1);
    }
    t->live[bidx]++;
  }
  if (t->keys_len > 2 * t->live_bytes + 65536)
    rc = compact(t, err);
out:
  for (size_t c = 0; cols != NULL && c < n->n_keys; c++)
    dq_array_unref(cols[c]);
  free(cols);
  free(desc);
  free(nf);
  dq_row_keys_free(&rk);
  if (t->live[bidx] == 0) {
    /* Nothing kept (or a failure): the batch goes at once. */
    dq_batch_unref(in);
    t->batches[bidx] = NULL;
  } else {
    t->batch_bytes += (int64_t)dq_batch_byte_size(in);
  }
  account(t);
  return rc;
}

static int finish(topn_op *t, dq_error *err) {
  const dq_node *n = t->op.node;
  /* Heapsort: popping the worst to the end leaves the heap ascending. */
  for (int64_t m = t->n - 1; m > 0; m--) {
    entry x = t->heap[0];
    t->heap[0] = t->heap[m];
    t->heap[m] = x;
    sift_down(t->keys, t->heap, m, 0);
  }
  int64_t skip = n->offset < t->n ? n->offset : t->n;
  t->out_n = t->n - skip;
  if (t->out_n == 0)
    return 0;
  /* Gather only the rows kept: per batch, its output rows (in output
   * order), then one concatenation of K rows at most, not of every batch
   * that still has a row in the heap. */
  size_t nbat = t->n_batches ? t->n_batches : 1;
  int64_t *base = calloc(nbat, sizeof *base);
  int64_t *fill = calloc(nbat, sizeof *fill);
  uint32_t *rows = malloc((size_t)t->out_n * sizeof *rows);
  dq_batch **parts = calloc(nbat, sizeof *parts);
  t->order = malloc((size_t)t->out_n * sizeof *t->order);
  int rc = 0;
  size_t np = 0;
  if (base == NULL || fill == NULL || rows == NULL || parts == NULL ||
      t->order == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory in a top-N");
    goto out;
  }
  for (int64_t i = skip; i < t->n; i++)
    fill[t->heap[i].batch]++;
  int64_t pos = 0;
  for (size_t b = 0; b < t->n_batches; b++) {
    base[b] = pos;
    pos += fill[b];
    fill[b] = 0;
  }
  for (int64_t i = 0; i < t->out_n; i++) {
    const entry *e = &t->heap[skip + i];
    int64_t slot = base[e->batch] + fill[e->batch]++;
    rows[slot] = e->row;
    t->order[i] = (uint32_t)slot;
  }
  for (size_t b = 0; b < t->n_batches && rc == 0; b++)
    if (fill[b] > 0)
      rc = dq_batch_take(t->batches[b], rows + base[b], fill[b],
                         &parts[np++], err);
  if (rc == 0)
    rc = dq_batch_concat(n->schema, parts, np, &t->all, err);
  if (rc != 0)
    goto out;
  /* Both held for a moment; then only the output and the order remain. */
  t->batch_bytes += (int64_t)dq_batch_byte_size(t->all);
  account(t);
  for (size_t b = 0; b < t->n_batches; b++) {
    dq_batch_unref(t->batches[b]);
    t->batches[b] = NULL;
  }
  free(t->keys);
  t->keys = NULL;
  t->keys_len = t->keys_cap = t->live_bytes = 0;
  t->batch_bytes = (int64_t)dq_batch_byte_size(t->all) +
                   t->out_n * (int64_t)sizeof *t->order;
  account(t);
out:
  for (size_t b = 0; parts != NULL && b < np; b++)
    dq_batch_unref(parts[b]);
  free(parts);
  free(base);
  free(fill);
  free(rows);
  return rc;
}

static int topn_next(dq_op *op, dq_batch **out, dq_error *err) {
  topn_op *t = (topn_op *)op;
  *out = NULL;
  int rc;
  if (!t->done_input) {
    while (t->k > 0) {
      dq_batch *in;
      if ((rc = dq_op_next(op->input, &in, err)) != 0)
        return rc;
      if (in == NULL)
        break;
      if ((rc = add_batch(t, in, err)) != 0)
        return rc;
    }
    dq_op_close(op->input);
    op->input = NULL;
    t->done_input = true;
    if ((rc = finish(t, err)) != 0)
      return rc;
  }
  if (t->emitted >= t->out_n)
    return 0;
  int64_t take = t->out_n - t->emitted;
  if (take > op->env->batch_rows)
    take = op->env->batch_rows;
  rc = dq_batch_take(t->all, t->order + t->emitted, take, out, err);
  if (rc == 0)
    t->emitted += take;
  return rc;
}

static void topn_close(dq_op *op) {
  topn_op *t = (topn_op *)op;
  dq_op_close(op->input);
  if (op->env != NULL)
    dq_mem_add(op->env, -t->mem);
  for (size_t b = 0; b < t->n_batches; b++)
    dq_batch_unref(t->batches[b]);
  free(t->batches);
  free(t->live);
  free(t->heap);
  free(t->keys);
  dq_batch_unref(t->all);
  free(t->order);
  free(t);
}

int dq_op_topn_open(const dq_node *n, dq_op *input, dq_op **out,
                    dq_error *err) {
  (void)input;
  topn_op *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a top-N");
  t->k = n->count + n->offset;
  t->op.next = topn_next;
  t->op.close = topn_close;
  *out = &t->op;
  return 0;
}
