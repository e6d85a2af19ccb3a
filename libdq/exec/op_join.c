/* op_join.c — HASH_JOIN: INNER, LEFT (outer), LEFT SEMI and LEFT ANTI
 * equi-joins with an optional residual predicate (semantics in
 * dq/plan.h).
 *
 * The build side (n->more[0]) is read completely on the first pull and
 * concatenated into one batch of its own (never a reference to a
 * transport's buffers); its keys are encoded as row keys
 * (expr_array.c: equal exactly when every column is equal) and hashed into
 * a chained table: head[slot] is the first row + 1, next[row] the next row
 * + 1 of the same slot.  Rows are inserted last to first so each chain
 * lists rows in build order, which makes the output deterministic.  Rows
 * with a NULL in any key are left out of the table, and probe rows with a
 * NULL key skip the lookup: SQL's NULL never equals anything.
 *
 * The probe side streams.  Per probe batch, matching (probe row, build
 * row) pairs are gathered into index vectors, at most batch_rows at a
 * time (a resumable cursor: probe row and chain position), and the output
 * is assembled with two takes.  A residual is evaluated over the joined
 * rows of each chunk; `matched` remembers per probe row whether any pair
 * passed, so LEFT, SEMI and ANTI emit their one-per-probe-row rows after
 * the batch's last chunk.  SEMI and ANTI without a residual stop at a
 * row's first match.
 *
 * Most probes of a selective join find nothing (Q3: nine lineitems in ten),
 * and each cost two cache misses on a table larger than the caches: the
 * slot, then the first row's hash.  So the upper half of each slot holds a
 * 32-bit filter of its chain (one bit per row, chosen by the hash's top 5
 * bits): a probe whose bit is clear skips the chain unread.  The probe
 * also prefetches the slot of the row 24 ahead, its hash being known. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "exec/row_key_hash.h"

typedef struct join_op {
  dq_op op;
  dq_op *build_in; /* until the build side is read */
  bool built;
  /* build side */
  dq_batch *build; /* NULL when it had no rows */
  int64_t n_build;
  dq_row_keys bkeys;
  uint64_t *bhash;
  uint64_t *head; /* first row + 1 | chain filter << 32 (see the top) */
  uint32_t *next;
  uint64_t mask;
  int64_t mem; /* bytes reported to the pipeline's account */
  /* current probe batch */
  dq_batch *probe;
  dq_row_keys pkeys;
  uint64_t *phash;
  uint8_t *pvalid, *matched;
  int64_t prow;
  uint32_t pchain;
  int64_t pcap;
  /* pair scratch, batch_rows long */
  uint32_t *pi, *bi, *sel;
} join_op;

/* A row's bit in its slot's chain filter: one of 32, by the hash's top 5
 * bits (the slot is chosen by its low bits). */
static inline uint64_t chain_bit(uint64_t h) {
  return (uint64_t)1 << (32 + (h >> 59));
}

/* How many probe rows ahead a slot is prefetched, and from how many slots
 * on (256 KiB of them: smaller tables stay in the caches). */
#define JOIN_PREFETCH 24
#define JOIN_PREFETCH_SLOTS 32768

/* Row keys of the key expressions over b, their hashes, and per row
 * whether every key is non-NULL. */
static int eval_keys(dq_expr *const *exprs, size_t nk, const dq_batch *b,
                     dq_row_keys *rk, uint64_t *hash, uint8_t *valid,
                     dq_error *err) {
  dq_array **cols = calloc(nk, sizeof *cols);
  if (cols == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory joining");
  int64_t n = b->n_rows;
  int rc = 0;
  size_t done = 0;
  for (; done < nk; done++)
    if ((rc = dq_expr_eval(exprs[done], b, &cols[done], err)) != 0)
      goto out;
  if ((rc = dq_row_keys_encode((const dq_array *const *)cols, nk, NULL, NULL,
                               n, rk, err)) != 0)
    goto out;
  memset(valid, 1, (size_t)n);
  for (size_t k = 0; k < nk; k++) {
    const dq_array *a = cols[k];
    if (a->validity == NULL || a->null_count == 0)
      continue;
    const uint8_t *vb = a->validity->data;
    for (int64_t i = 0; i < n; i++)
      valid[i] &= dq_bit_get(vb, i);
  }
  for (int64_t i = 0; i < n; i++)
    hash[i] = dq_row_key_hash(rk->bytes + rk->offsets[i],
                              (size_t)(rk->offsets[i + 1] - rk->offsets[i]));
out:
  for (size_t i = 0; i < done; i++)
    dq_array_unref(cols[i]);
  free(cols);
  return rc;
}

static int build_table(join_op *j, dq_error *err) {
  dq_op *op = &j->op;
  const dq_node *n = op->node;
  dq_batch **bs = NULL;
  size_t nb = 0, cap = 0;
  int rc = 0;
  for (;;) {
    dq_batch *b;
    if ((rc = dq_op_next(j->build_in, &b, err)) != 0 || b == NULL)
      break;
    if (nb == cap) {
      cap = cap ? 2 * cap : 16;
      dq_batch **nbs = realloc(bs, cap * sizeof *nbs);
      if (nbs == NULL) {
        dq_batch_unref(b);
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory reading a join's "
                          "build side");
        break;
      }
      bs = nbs;
    }
    bs[nb++] = b;
  }
  dq_op_close(j->build_in);
  j->build_in = NULL;
  if (rc == 0 && nb > 1)
    rc = dq_batch_concat(n->more[0]->schema, bs, nb, &j->build, err);
  if (rc == 0 && nb == 1) {
    /* Copied even when it is one batch: the table lives as long as the
     * probe side streams, and must not pin a transport's buffer (an shm
     * ring) that the producer needs back to go on. */
    int64_t rows = bs[0]->n_rows;
    uint32_t *idx = malloc((size_t)rows * sizeof *idx);
    if (idx == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory reading a join's "
                        "build side");
    } else {
      for (int64_t i = 0; i < rows; i++)
        idx[i] = (uint32_t)i;
      rc = dq_batch_take(bs[0], idx, rows, &j->build, err);
      free(idx);
    }
  }
  for (size_t i = 0; i < nb; i++)
    dq_batch_unref(bs[i]);
  free(bs);
  if (rc != 0 || j->build == NULL)
    return rc;
  int64_t rows = j->n_build = j->build->n_rows;
  if (rows >= (int64_t)UINT32_MAX)
    return dq_error_set(err, DQ_ETOOBIG, "a join's build side of %" PRId64
                        " rows is too large", rows);
  uint64_t slots = 16;
  while (slots < 2 * (uint64_t)rows)
    slots *= 2;
  j->mask = slots - 1;
  j->head = calloc(slots, sizeof *j->head);
  j->next = calloc((size_t)rows, sizeof *j->next);
  j->bhash = malloc((size_t)rows * sizeof *j->bhash);
  uint8_t *valid = malloc((size_t)rows);
  if (j->head == NULL || j->next == NULL || j->bhash == NULL ||
      valid == NULL) {
    free(valid);
    return dq_error_set(err, DQ_ENOMEM, "out of memory building a join's "
                        "hash table");
  }
  rc = eval_keys(n->build_keys, n->n_join_keys, j->build, &j->bkeys,
                 j->bhash, valid, err);
  if (rc == 0)
    for (int64_t i = rows - 1; i >= 0; i--) {
      if (!valid[i])
        continue;
      uint64_t h = j->bhash[i], s = h & j->mask;
      j->next[i] = (uint32_t)j->head[s];
      j->head[s] = (j->head[s] & ~(uint64_t)UINT32_MAX) | chain_bit(h) |
                   ((uint64_t)i + 1);
    }
  free(valid);
  j->mem = (int64_t)dq_batch_byte_size(j->build) +
           (int64_t)(slots * sizeof *j->head) +
           rows * (int64_t)(sizeof *j->next + sizeof *j->bhash +
                            sizeof *j->bkeys.offsets) +
           (int64_t)j->bkeys.offsets[rows];
  dq_mem_add(op->env, j->mem);
  return rc;
}

/* The probe rows idx[0..n) with the build rows bidx[0..n), or with NULL
 * build columns when bidx is NULL, under `schema`; probe_only: just the
 * probe rows. */
static int assemble(join_op *j, const uint32_t *idx, const uint32_t *bidx,
                    int64_t n, dq_schema *schema, bool probe_only,
                    dq_batch **out, dq_error *err) {
  const dq_node *node = j->op.node;
  dq_batch *p = NULL, *b = NULL;
  int rc = dq_batch_take(j->probe, idx, n, &p, err);
  if (rc != 0 || probe_only) {
    if (rc == 0 && p->schema != schema) {
      rc = dq_batch_reschema(p, schema, out, err);
      dq_batch_unref(p);
      return rc;
    }
    *out = p;
    return rc;
  }
  size_t np = p->schema->n_fields;
  size_t nb = node->more[0]->schema->n_fields;
  dq_array **cols = calloc(np + nb ? np + nb : 1, sizeof *cols);
  if (cols == NULL) {
    dq_batch_unref(p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory joining");
  }
  for (size_t c = 0; c < np; c++)
    cols[c] = dq_array_ref(p->columns[c]);
  if (bidx != NULL) {
    rc = dq_batch_take(j->build, bidx, n, &b, err);
    for (size_t c = 0; rc == 0 && c < nb; c++)
      cols[np + c] = dq_array_ref(b->columns[c]);
  } else {
    for (size_t c = 0; rc == 0 && c < nb; c++) {
      dq_scalar nul;
      memset(&nul, 0, sizeof nul);
      nul.type = node->more[0]->schema->types[c];
      nul.is_null = true;
      rc = dq_array_constant(&nul, n, &cols[np + c], err);
    }
  }
  if (rc == 0)
    rc = dq_batch_new(schema, n, cols, out, err);
  for (size_t c = 0; c < np + nb; c++)
    dq_array_unref(cols[c]);
  free(cols);
  dq_batch_unref(p);
  dq_batch_unref(b);
  return rc;
}

static int start_probe(join_op *j, dq_batch *b, dq_error *err) {
  const dq_node *n = j->op.node;
  int64_t rows = b->n_rows;
  j->probe = b;
  j->prow = 0;
  j->pchain = 0;
  if (rows > j->pcap) {
    free(j->phash);
    free(j->pvalid);
    free(j->matched);
    j->phash = malloc((size_t)rows * sizeof *j->phash);
    j->pvalid = malloc((size_t)rows);
    j->matched = malloc((size_t)rows);
    j->pcap = rows;
    if (j->phash == NULL || j->pvalid == NULL || j->matched == NULL) {
      j->pcap = 0;
      return dq_error_set(err, DQ_ENOMEM, "out of memory joining");
    }
  }
  memset(j->matched, 0, (size_t)rows);
  dq_row_keys_free(&j->pkeys);
  return eval_keys(n->probe_keys, n->n_join_keys, b, &j->pkeys, j->phash,
                   j->pvalid, err);
}

/* Gathers up to `cap` pairs from the cursor on; semi/anti without a
 * residual only mark rows. */
static int64_t gather(join_op *j, int64_t cap) {
  const dq_node *n = j->op.node;
  bool mark_only = n->residual == NULL &&
                   (n->join_kind == DQ_JOIN_LEFT_SEMI ||
                    n->join_kind == DQ_JOIN_LEFT_ANTI);
  bool skip_matched = n->join_kind == DQ_JOIN_LEFT_SEMI ||
                      n->join_kind == DQ_JOIN_LEFT_ANTI;
  const uint8_t *bk = j->bkeys.bytes, *pk = j->pkeys.bytes;
  const uint64_t *bo = j->bkeys.offsets, *po = j->pkeys.offsets;
  int64_t rows = j->probe->n_rows, k = 0;
  /* A table that fits the caches gains nothing from prefetching. */
  bool prefetch = j->mask >= JOIN_PREFETCH_SLOTS;
  for (int64_t i = j->prow; i < rows; i++, j->pchain = 0) {
    if (!j->pvalid[i] || (skip_matched && j->matched[i]))
      continue;
    uint64_t h = j->phash[i];
    const uint8_t *key = pk + po[i];
    uint64_t len = po[i + 1] - po[i];
    if (prefetch && i + JOIN_PREFETCH < rows)
      __builtin_prefetch(&j->head[j->phash[i + JOIN_PREFETCH] & j->mask]);
    uint32_t e = j->pchain;
    if (e == 0) {
      uint64_t slot = j->head[h & j->mask];
      e = slot & chain_bit(h) ? (uint32_t)slot : 0;
    }
    for (; e != 0; e = j->next[e - 1]) {
      uint32_t r = e - 1;
      if (j->bhash[r] != h || bo[r + 1] - bo[r] != len ||
          !dq_row_key_eq(bk + bo[r], key, len))
        continue;
      if (mark_only) {
        j->matched[i] = 1;
        break;
      }
      if (k == cap) {
        /* Full: resume at this row and build row. */
        j->prow = i;
        j->pchain = e;
        return k;
      }
      j->pi[k] = (uint32_t)i;
      j->bi[k] = r;
      k++;
    }
  }
  j->prow = rows;
  j->pchain = 0;
  return k;
}

/* Pairs of one chunk: residual, marks, and the INNER/LEFT output. */
static int emit_pairs(join_op *j, int64_t k, dq_batch **out, dq_error *err) {
  const dq_node *n = j->op.node;
  bool pairs_out = n->join_kind == DQ_JOIN_INNER ||
                   n->join_kind == DQ_JOIN_LEFT;
  if (n->residual == NULL) {
    for (int64_t i = 0; i < k; i++)
      j->matched[j->pi[i]] = 1;
    return pairs_out ? assemble(j, j->pi, j->bi, k, n->join_schema, false,
                                out, err)
                     : 0;
  }
  dq_batch *joined;
  int rc = assemble(j, j->pi, j->bi, k, n->join_schema, false, &joined, err);
  if (rc != 0)
    return rc;
  dq_array *pred;
  if ((rc = dq_expr_eval(n->residual, joined, &pred, err)) != 0) {
    dq_batch_unref(joined);
    return rc;
  }
  const uint8_t *v = pred->values->data;
  const uint8_t *valid = pred->validity ? pred->validity->data : NULL;
  int64_t m = 0;
  for (int64_t i = 0; i < k; i++)
    if (dq_bit_get(v, i) && (valid == NULL || dq_bit_get(valid, i))) {
      j->matched[j->pi[i]] = 1;
      j->sel[m++] = (uint32_t)i;
    }
  dq_array_unref(pred);
  if (pairs_out && m == k)
    *out = dq_batch_ref(joined);
  else if (pairs_out && m > 0)
    rc = dq_batch_take(joined, j->sel, m, out, err);
  dq_batch_unref(joined);
  return rc;
}

/* After a probe batch's last chunk: LEFT's unmatched rows, SEMI's matched
 * rows, ANTI's unmatched rows. */
static int emit_rest(join_op *j, dq_batch **out, dq_error *err) {
  const dq_node *n = j->op.node;
  if (n->join_kind == DQ_JOIN_INNER)
    return 0;
  uint8_t want = n->join_kind == DQ_JOIN_LEFT_SEMI;
  int64_t rows = j->probe->n_rows, m = 0;
  uint32_t *idx = malloc((size_t)rows * sizeof *idx);
  if (idx == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory joining");
  for (int64_t i = 0; i < rows; i++)
    if (j->matched[i] == want)
      idx[m++] = (uint32_t)i;
  int rc = 0;
  if (m == rows && n->join_kind != DQ_JOIN_LEFT)
    rc = dq_batch_reschema(j->probe, n->schema, out, err); /* no copy */
  else if (m > 0)
    rc = assemble(j, idx, NULL, m, n->schema, n->join_kind != DQ_JOIN_LEFT,
                  out, err);
  free(idx);
  return rc;
}

static int join_next(dq_op *op, dq_batch **out, dq_error *err) {
  join_op *j = (join_op *)op;
  const dq_node *n = op->node;
  int rc;
  *out = NULL;
  if (!j->built) {
    if ((rc = build_table(j, err)) != 0)
      return rc;
    j->built = true;
    j->pi = malloc((size_t)op->env->batch_rows * sizeof *j->pi);
    j->bi = malloc((size_t)op->env->batch_rows * sizeof *j->bi);
    j->sel = malloc((size_t)op->env->batch_rows * sizeof *j->sel);
    if (j->pi == NULL || j->bi == NULL || j->sel == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory joining");
  }
  /* No build rows: INNER and SEMI can produce nothing, so the probe side
   * is not read at all (its upstream can be cancelled). */
  if (j->build == NULL && (n->join_kind == DQ_JOIN_INNER ||
                           n->join_kind == DQ_JOIN_LEFT_SEMI)) {
    dq_op_close(op->input);
    op->input = NULL;
    return 0;
  }
  while (op->input != NULL) {
    if (j->probe == NULL) {
      dq_batch *b;
      if ((rc = dq_op_next(op->input, &b, err)) != 0)
        return rc;
      if (b == NULL) {
        dq_op_close(op->input);
        op->input = NULL;
        break;
      }
      if (j->build == NULL) {
        /* LEFT or ANTI against nothing: every probe row, unmatched. */
        j->probe = b;
        j->prow = b->n_rows;
        if (b->n_rows > j->pcap) {
          free(j->matched);
          j->pcap = 0;
          if ((j->matched = malloc((size_t)b->n_rows)) == NULL)
            return dq_error_set(err, DQ_ENOMEM, "out of memory joining");
          j->pcap = b->n_rows;
        }
        memset(j->matched, 0, (size_t)b->n_rows);
      } else if ((rc = start_probe(j, b, err)) != 0) {
        return rc;
      }
    }
    while (j->prow < j->probe->n_rows) {
      int64_t k = gather(j, op->env->batch_rows);
      if (k > 0 && (rc = emit_pairs(j, k, out, err)) != 0)
        return rc;
      if (*out != NULL)
        return 0;
    }
    rc = emit_rest(j, out, err);
    dq_batch_unref(j->probe);
    j->probe = NULL;
    if (rc != 0 || *out != NULL)
      return rc;
  }
  return 0;
}

static void join_close(dq_op *op) {
  join_op *j = (join_op *)op;
  dq_op_close(op->input);
  dq_op_close(j->build_in);
  dq_mem_add(op->env, -j->mem);
  dq_batch_unref(j->build);
  dq_batch_unref(j->probe);
  dq_row_keys_free(&j->bkeys);
  dq_row_keys_free(&j->pkeys);
  free(j->bhash);
  free(j->head);
  free(j->next);
  free(j->phash);
  free(j->pvalid);
  free(j->matched);
  free(j->pi);
  free(j->bi);
  free(j->sel);
  free(j);
}

int dq_op_hash_join_open(const dq_node *n, dq_op *input, dq_op *build,
                         dq_op **out, dq_error *err) {
  (void)n;
  (void)input;
  join_op *j = calloc(1, sizeof *j);
  if (j == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a join");
  j->build_in = build;
  j->op.next = join_next;
  j->op.close = join_close;
  *out = &j->op;
  return 0;
}
