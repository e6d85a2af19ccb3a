/* planner.c — the automatic distributed planner: dq_plan_distribute()
 * turns a single-node plan (one head stage, no READ nodes) into stages
 * joined by shuffle, coalesce and broadcast boundaries (DESIGN.md,
 * "Executor and planner").
 *
 * The single-node tree is walked bottom-up.  Each subtree becomes a
 * fragment: a node tree that will sit in a stage not yet added, and how
 * its rows are spread over that stage's pipelines:
 *   SINGLE  one pipeline holds every row (a 1 x 1 stage, the head's shape);
 *   ANY     spread over n_tasks x partitions pipelines, no known key (scans
 *           slice their table by pipeline);
 *   HASH    spread by the hash of some output columns, so equal values of
 *           those columns share a pipeline (what a shuffle leaves behind);
 *   KEYED   equal values of some output columns share a pipeline, but not
 *           by that hash: a source that says so (its keying callback,
 *           scan/source.h) slices whole units, and every row of a key
 *           value comes from one unit (a TPC-H scan: all the lines of
 *           one order).  An aggregate grouping on the key runs where
 *           the rows are, with no shuffle; a join of two KEYED sides of
 *           one unit domain (lineitem and orders on the order key, part
 *           and partsupp on the part key) runs where they are too, since
 *           pipeline k of both scans generates the same units; against
 *           anything else KEYED counts as ANY.
 * An operator that needs rows together (an aggregate's groups, a join's
 * keys, a sort's everything) closes the fragment below it as a stage with
 * the boundary it needs and continues in a new fragment from a READ of it.
 * Every stage goes through dq_plan_stage() and the plan through
 * dq_plan_builder_finish(), so the result is checked like any built plan.
 *
 * Nodes are immutable and shared by reference: an unchanged subtree (a
 * scan, a filter over it) is reused as is, and a node whose inputs change
 * is rebuilt with the builder's constructors from its resolved
 * expressions, which resolve again to themselves against an input of the
 * same column layout — every fragment root keeps the layout of the node it
 * stands for.
 *
 * Distributed stages all run n_tasks x partitions pipelines, so two
 * fragments hashed alike can meet in one stage: that is how a join reuses
 * a side already partitioned on its keys (an aggregate's output, an
 * earlier join's probe side) and shuffles only the other one. */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan_internal.h"

/* Rows a build side may be estimated at and still be broadcast, when the
 * options leave it 0: every join pipeline builds its own hash table of the
 * whole side, so this stays small. */
#define DEFAULT_BROADCAST_MAX_ROWS 100000
/* Hash keys tracked per fragment; a shuffle on more group columns hashes
 * the first ones only, which still keeps every group together. */
#define MAX_HASH_KEYS 16

typedef enum dist_kind {
  DIST_SINGLE,
  DIST_ANY,
  DIST_HASH,
  DIST_KEYED
} dist_kind;

/* HASH and KEYED both keep every key value in one pipeline. */
static bool keeps_keys(dist_kind d) {
  return d == DIST_HASH || d == DIST_KEYED;
}

typedef struct frag {
  /* Borrowed: owned by the builder, by the input plan (reused nodes) or by
   * planner.owned. */
  dq_node *root;
  dist_kind dist;
  size_t n_keys;
  uint32_t keys[MAX_HASH_KEYS]; /* HASH, KEYED: columns of root's schema */
  /* KEYED: whose units the slices are (dq_source_keying.domain) */
  char domain[sizeof ((dq_source_keying *)0)->domain];
} frag;

typedef struct planner {
  dq_plan_builder *b;
  uint32_t tasks, parts;
  int64_t bcast_max; /* < 0: never broadcast */
  dq_error *err;
  /* Nodes made with the internal constructors (not the builder's). */
  dq_node **owned;
  size_t n_owned, cap_owned;
} planner;

static bool distributed(const planner *p) {
  return (uint64_t)p->tasks * p->parts > 1;
}

/* The builder's sticky error, after a builder call returned NULL/0. */
static int built_error(planner *p) {
  int rc = dq_plan_builder_error(p->b, p->err);
  if (rc == 0)
    rc = dq_error_set(p->err, DQ_EINTERNAL, "the distributed planner lost "
                      "a node without an error");
  return rc;
}

#define NEED(p, x)                                                            \
  do {                                                                        \
    if ((x) == 0)                                                             \
      return built_error(p);                                                  \
  } while (0)

static int own(planner *p, dq_node *n) {
  if (p->n_owned == p->cap_owned) {
    size_t cap = p->cap_owned ? 2 * p->cap_owned : 8;
    dq_node **v = realloc(p->owned, cap * sizeof *v);
    if (v == NULL) {
      dq_node_unref(n);
      return dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
    }
    p->owned = v;
    p->cap_owned = cap;
  }
  p->owned[p->n_owned++] = n;
  return 0;
}

/* --- Row estimates --------------------------------------------------------
 * Guesses good enough to tell a dimension table from a fact table: table
 * sizes from the TPC-H generator (or file sizes), times textbook
 * selectivities per predicate. */

static double selectivity(const dq_expr *e) {
  if (e == NULL)
    return 1.0;
  if (e->kind == DQ_EXPR_LITERAL)
    return e->lit.type.id == DQ_TYPE_BOOL && !e->lit.is_null && e->lit.v.b
               ? 1.0 : 0.0;
  if (e->kind != DQ_EXPR_CALL)
    return 0.5;
  switch (e->op) {
  case DQ_OP_AND: return selectivity(e->args[0]) * selectivity(e->args[1]);
  case DQ_OP_OR: {
    double a = selectivity(e->args[0]), b = selectivity(e->args[1]);
    return a + b - a * b;
  }
  case DQ_OP_NOT: return 1.0 - selectivity(e->args[0]);
  case DQ_OP_EQ: return 0.1;
  case DQ_OP_NE: return 0.9;
  case DQ_OP_LT:
  case DQ_OP_LE:
  case DQ_OP_GT:
  case DQ_OP_GE: return 1.0 / 3;
  case DQ_OP_IN: return e->n_list * 0.1 < 0.5 ? e->n_list * 0.1 : 0.5;
  case DQ_OP_LIKE: return 0.25;
  case DQ_OP_IS_NULL: return 0.05;
  case DQ_OP_IS_NOT_NULL: return 0.95;
  default: return 0.5;
  }
}

/* *base: the rows of the scans below before any filter, so a join can
 * tell what fraction of its build side survived. */
static double estimate(const dq_node *n, double *base) {
  double b0 = 0, b1 = 0, r, r1;
  switch (n->kind) {
  case DQ_NODE_SCAN: {
    /* Not known counts as large, so it is not broadcast. */
    double rows = n->source->row_estimate(n->source_state);
    *base = rows < 0 ? 1e15 : rows;
    return *base;
  }
  case DQ_NODE_READ: *base = 0; return 0;
  case DQ_NODE_FILTER:
    r = estimate(n->input, base);
    return r * selectivity(n->predicate);
  case DQ_NODE_AGGREGATE:
    r = estimate(n->input, base);
    if (n->n_exprs == 0)
      return 1;
    return r / 10 > 1 ? r / 10 : 1;
  case DQ_NODE_LIMIT:
  case DQ_NODE_TOPN:
    r = estimate(n->input, base);
    return (double)n->count < r ? (double)n->count : r;
  case DQ_NODE_HASH_JOIN: {
    r = estimate(n->input, &b0);
    r1 = estimate(n->more[0], &b1);
    double kept = b1 > 0 ? r1 / b1 : 1;
    if (kept > 1)
      kept = 1;
    *base = b0;
    switch (n->join_kind) {
    case DQ_JOIN_LEFT: return r;
    case DQ_JOIN_LEFT_ANTI: return r * (1 - kept > 0.1 ? 1 - kept : 0.1);
    default: return r * kept;
    }
  }
  case DQ_NODE_UNION:
    r = 0;
    *base = 0;
    for (size_t i = 0; i < dq_node_n_inputs(n); i++) {
      r += estimate(dq_node_input_at(n, i), &b0);
      *base += b0;
    }
    return r;
  default:
    return estimate(n->input, base); /* project, sort: as many rows */
  }
}

/* --- Boundaries ----------------------------------------------------------- */

static void frag_parallelism(const planner *p, const frag *f, uint32_t *tasks,
                             uint32_t *parts) {
  bool one = f->dist == DIST_SINGLE;
  *tasks = one ? 1 : p->tasks;
  *parts = one ? 1 : p->parts;
}

/* Adds f as a stage with output boundary bd and makes f a READ of it (in
 * the consumer's fragment; the caller sets the distribution). */
static int close_frag(planner *p, frag *f, const dq_boundary *bd) {
  uint32_t tasks, parts;
  frag_parallelism(p, f, &tasks, &parts);
  uint32_t id = dq_plan_stage(p->b, f->root, tasks, parts, bd);
  NEED(p, id);
  dq_node *r = dq_node_read(p->b, id);
  NEED(p, r);
  f->root = r;
  f->n_keys = 0;
  return 0;
}

/* Everything into one pipeline: a COALESCE into a 1 x 1 consumer.  Nothing
 * to do (the boundary is elided) when f is in one pipeline already. */
static int to_single(planner *p, frag *f) {
  if (f->dist == DIST_SINGLE)
    return 0;
  const dq_boundary co = {DQ_BOUNDARY_COALESCE, 0, NULL};
  int rc = close_frag(p, f, &co);
  f->dist = DIST_SINGLE;
  return rc;
}

static int broadcast(planner *p, frag *f) {
  const dq_boundary bc = {DQ_BOUNDARY_BROADCAST, 0, NULL};
  return close_frag(p, f, &bc);
}

/* Which hash a value's bits give (hash_partition.c, dq_hash_columns):
 * integers and dates hash their value widened to 64 bits, so int32 and
 * int64 agree; a decimal hashes its unscaled value, so only decimals of
 * one scale agree with each other. */
static int hash_class(dq_type t) {
  switch (t.id) {
  case DQ_TYPE_INT32:
  case DQ_TYPE_INT64: return 1000;
  case DQ_TYPE_DATE32: return 1001;
  case DQ_TYPE_DECIMAL: return 2000 + t.scale;
  default: return (int)t.id;
  }
}

/* The column of `s` a shuffle may route key e (resolved against s) by:
 * e itself is that column, or a cast of it that hashes the same (int32 to
 * int64, a decimal to another precision of its scale); and the column's
 * name names it alone, since boundaries name their keys.  -1 when the key
 * must be computed into a column of its own first. */
static int route_col(const dq_expr *e, const dq_schema *s) {
  const dq_expr *c = e;
  if (c->kind == DQ_EXPR_CALL && c->op == DQ_OP_CAST &&
      c->args[0]->kind == DQ_EXPR_COLUMN)
    c = c->args[0];
  if (c->kind != DQ_EXPR_COLUMN || c->column >= dq_schema_n_fields(s))
    return -1;
  dq_type ct = dq_schema_field_type(s, c->column);
  if (c != e && hash_class(ct) != hash_class(e->type))
    return -1;
  if (dq_schema_field_index(s, dq_schema_field_name(s, c->column)) !=
      (int)c->column)
    return -1;
  return (int)c->column;
}

/* A column name not in s and not among names[0..n). */
static void fresh_name(const dq_schema *s, const char *const *names, size_t n,
                       size_t k, char *buf, size_t len) {
  for (unsigned v = 0;; v++) {
    if (v == 0)
      snprintf(buf, len, "$key%zu", k);
    else
      snprintf(buf, len, "$key%zu_%u", k, v);
    bool taken = dq_schema_field_index(s, buf) >= 0;
    for (size_t i = 0; i < n && !taken; i++)
      taken = names[i] != NULL && strcmp(names[i], buf) == 0;
    if (!taken)
      return;
  }
}

/* Closes f with a SHUFFLE on the values of keys[0..n) (resolved against
 * f's schema; at most MAX_HASH_KEYS) and continues f from a READ of it
 * with f's column layout.  Keys that are not routable columns are
 * computed into extra columns by a projection under the boundary and
 * dropped again over the READ, so both sides of a join hash equal values
 * of the join's common key type equally whatever their own types. */
static int shuffle(planner *p, frag *f, size_t n, dq_expr *const *keys) {
  const dq_schema *s = f->root->schema;
  size_t nf = dq_schema_n_fields(s);
  int cols[MAX_HASH_KEYS];
  size_t n_extra = 0;
  if (n == 0 || n > MAX_HASH_KEYS)
    return dq_error_set(p->err, DQ_EINTERNAL, "the planner shuffles on %zu "
                        "keys", n);
  for (size_t i = 0; i < n; i++)
    if ((cols[i] = route_col(keys[i], s)) < 0)
      n_extra++;
  const char *names[MAX_HASH_KEYS];
  char extra_names[MAX_HASH_KEYS][32];
  dq_expr *col_refs = NULL;
  dq_expr **exprs = NULL;
  const char **all_names = NULL;
  int rc = 0;
  dq_node *below = f->root;
  if (n_extra > 0) {
    col_refs = calloc(nf ? nf : 1, sizeof *col_refs);
    exprs = calloc(nf + n_extra, sizeof *exprs);
    all_names = calloc(nf + n_extra, sizeof *all_names);
    if (col_refs == NULL || exprs == NULL || all_names == NULL) {
      rc = dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
      goto done;
    }
    for (size_t i = 0; i < nf; i++) {
      col_refs[i].kind = DQ_EXPR_COLUMN; /* by index: names may repeat */
      col_refs[i].column = (uint32_t)i;
      exprs[i] = &col_refs[i];
      all_names[i] = dq_schema_field_name(s, i);
    }
    size_t k = nf;
    for (size_t i = 0; i < n; i++) {
      if (cols[i] >= 0)
        continue;
      fresh_name(s, all_names + nf, k - nf, i, extra_names[i],
                 sizeof extra_names[i]);
      exprs[k] = keys[i];
      all_names[k] = extra_names[i];
      cols[i] = (int)k++;
    }
    below = dq_node_project(p->b, f->root, k, exprs, all_names);
    if (below == NULL) {
      rc = built_error(p);
      goto done;
    }
  }
  for (size_t i = 0; i < n; i++)
    names[i] = dq_schema_field_name(below->schema, (size_t)cols[i]);
  f->root = below;
  const dq_boundary sh = {DQ_BOUNDARY_SHUFFLE, n, names};
  if ((rc = close_frag(p, f, &sh)) != 0)
    goto done;
  if (n_extra > 0) {
    f->root = dq_node_project(p->b, f->root, nf, exprs, all_names);
    if (f->root == NULL) {
      rc = built_error(p);
      goto done;
    }
    f->dist = DIST_ANY; /* hashed by values no column holds */
  } else {
    f->dist = DIST_HASH;
    f->n_keys = n;
    for (size_t i = 0; i < n; i++)
      f->keys[i] = (uint32_t)cols[i];
  }
done:
  free(col_refs);
  free(exprs);
  free(all_names);
  return rc;
}

/* Shuffles f on its columns 0..n-1 (an aggregate's groups). */
static int shuffle_leading(planner *p, frag *f, size_t n) {
  if (n > MAX_HASH_KEYS)
    n = MAX_HASH_KEYS;
  dq_expr refs[MAX_HASH_KEYS];
  dq_expr *keys[MAX_HASH_KEYS];
  memset(refs, 0, sizeof refs);
  for (size_t i = 0; i < n; i++) {
    refs[i].kind = DQ_EXPR_COLUMN;
    refs[i].column = (uint32_t)i;
    refs[i].type = dq_schema_field_type(f->root->schema, i);
    keys[i] = &refs[i];
  }
  return shuffle(p, f, n, keys);
}

/* --- Operators ------------------------------------------------------------ */

static int plan_node(planner *p, const dq_node *n, frag *out);

/* When every hash key of f is grouped on as a plain column, each group is
 * whole in one pipeline; map[k] is then the group (output column) of f's
 * hash key k. */
static bool groups_cover_hash(const frag *f, const dq_node *agg,
                              uint32_t *map) {
  if (!keeps_keys(f->dist))
    return false;
  for (size_t k = 0; k < f->n_keys; k++) {
    bool found = false;
    for (size_t g = 0; g < agg->n_exprs && !found; g++) {
      const dq_expr *e = agg->exprs[g];
      if (e->kind == DQ_EXPR_COLUMN && e->column == f->keys[k]) {
        map[k] = (uint32_t)g;
        found = true;
      }
    }
    if (!found)
      return false;
  }
  return true;
}

/* A SINGLE or PARTIAL aggregate like n (mode `mode`) over input. */
static int agg_like(planner *p, const dq_node *n, dq_node *input,
                    dq_agg_mode mode, dq_node **out) {
  dq_agg *aggs = calloc(n->n_aggs ? n->n_aggs : 1, sizeof *aggs);
  if (aggs == NULL)
    return dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
  for (size_t i = 0; i < n->n_aggs; i++) {
    aggs[i].func = n->aggs[i].func;
    aggs[i].arg = n->aggs[i].func == DQ_AGG_COUNT_STAR ? NULL
                                                       : n->aggs[i].arg;
    aggs[i].name = n->aggs[i].name;
  }
  *out = dq_node_aggregate(p->b, input, mode, n->n_exprs, n->exprs,
                           (const char *const *)n->names, n->n_aggs, aggs);
  free(aggs);
  NEED(p, *out);
  return 0;
}

/* A FINAL aggregate like n over input (made outside the builder, which
 * only makes a FINAL from its PARTIAL node). */
static int final_like(planner *p, const dq_node *n, dq_node *input,
                      dq_node **out) {
  size_t na = n->n_aggs;
  dq_agg_func *funcs = calloc(na ? na : 1, sizeof *funcs);
  dq_type *types = calloc(na ? na : 1, sizeof *types);
  const char **names = calloc(na ? na : 1, sizeof *names);
  int rc;
  if (funcs == NULL || types == NULL || names == NULL) {
    rc = dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
  } else {
    for (size_t i = 0; i < na; i++) {
      funcs[i] = n->aggs[i].func;
      types[i] = n->aggs[i].arg_type;
      names[i] = n->aggs[i].name;
    }
    rc = dq_node_new_aggregate_final(input, n->n_exprs,
                                     (const char *const *)n->names, na, funcs,
                                     types, names, out, p->err);
    if (rc == 0)
      rc = own(p, *out);
  }
  free(funcs);
  free(types);
  free(names);
  return rc;
}

/* The aggregate n over f, in place: f's distribution already keeps each
 * group in one pipeline. */
static int agg_in_place(planner *p, const dq_node *n, frag *f,
                        const uint32_t *map) {
  dq_node *r = (dq_node *)n;
  if (f->root != n->input) {
    if (n->mode == DQ_AGG_FINAL) {
      int rc = final_like(p, n, f->root, &r);
      if (rc != 0)
        return rc;
    } else {
      int rc = agg_like(p, n, f->root, n->mode, &r);
      if (rc != 0)
        return rc;
    }
  }
  f->root = r;
  if (keeps_keys(f->dist) && map != NULL)
    for (size_t k = 0; k < f->n_keys; k++)
      f->keys[k] = map[k];
  else if (keeps_keys(f->dist))
    f->dist = DIST_ANY;
  return 0;
}

static int plan_aggregate(planner *p, const dq_node *n, frag *f) {
  int rc = plan_node(p, n->input, f);
  if (rc != 0)
    return rc;
  uint32_t map[MAX_HASH_KEYS];
  if (f->dist == DIST_SINGLE || groups_cover_hash(f, n, map))
    return agg_in_place(p, n, f, keeps_keys(f->dist) ? map : NULL);
  if (n->mode == DQ_AGG_PARTIAL) /* any split of the input will do */
    return agg_in_place(p, n, f, NULL);
  if (n->mode == DQ_AGG_FINAL) { /* the input is some PARTIAL's states */
    rc = n->n_exprs == 0 ? to_single(p, f) : shuffle_leading(p, f, n->n_exprs);
    if (rc != 0)
      return rc;
    dist_kind d = f->dist;
    size_t nk = f->n_keys;
    rc = agg_in_place(p, n, f, NULL);
    f->dist = d; /* hash keys are the leading group columns, in place */
    f->n_keys = nk;
    return rc;
  }
  /* SINGLE: PARTIAL where the rows are, FINAL once the groups meet. */
  dq_node *partial;
  if ((rc = agg_like(p, n, f->root, DQ_AGG_PARTIAL, &partial)) != 0)
    return rc;
  f->root = partial;
  rc = n->n_exprs == 0 ? to_single(p, f) : shuffle_leading(p, f, n->n_exprs);
  if (rc != 0)
    return rc;
  dq_node *final = dq_node_aggregate_final(p->b, f->root, partial);
  NEED(p, final);
  f->root = final;
  return 0;
}

static void sort_keys_of(const dq_node *n, dq_sort_key *keys) {
  for (size_t i = 0; i < n->n_keys; i++) {
    keys[i].expr = n->keys[i].expr;
    keys[i].descending = n->keys[i].descending;
    keys[i].nulls_first = n->keys[i].nulls_first;
  }
}

/* SORT, TOPN and LIMIT (over a SORT or not).  Each pipeline keeps only the
 * rows that can make the answer (a top-N or limit of count + offset), the
 * survivors are coalesced into one pipeline and the original operator runs
 * again there. */
static int plan_ordered(planner *p, const dq_node *n, frag *f) {
  const dq_node *sort = n->kind == DQ_NODE_SORT ? n
                        : n->kind == DQ_NODE_LIMIT &&
                                n->input->kind == DQ_NODE_SORT
                            ? n->input
                            : NULL;
  const dq_node *below = sort ? sort->input : n->input;
  int rc = plan_node(p, below, f);
  if (rc != 0)
    return rc;
  size_t nk = n->kind == DQ_NODE_TOPN ? n->n_keys : sort ? sort->n_keys : 0;
  dq_sort_key *keys = calloc(nk ? nk : 1, sizeof *keys);
  if (keys == NULL)
    return dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
  sort_keys_of(n->kind == DQ_NODE_TOPN ? n : sort ? sort : n, keys);
  bool changed = f->root != below;
  if (f->dist != DIST_SINGLE) {
    changed = true;
    /* What a pipeline must keep: count + offset rows, when that fits. */
    int64_t keep = -1;
    if (n->kind != DQ_NODE_SORT && n->count <= INT64_MAX - n->offset)
      keep = n->count + n->offset;
    if (keep >= 0 && nk > 0 && keep <= (int64_t)UINT32_MAX / 2)
      f->root = dq_node_topn(p->b, f->root, nk, keys, keep, 0);
    else if (keep >= 0 && nk == 0)
      f->root = dq_node_limit(p->b, f->root, keep, 0);
    if (f->root == NULL || (rc = to_single(p, f)) != 0) {
      free(keys);
      return f->root == NULL ? built_error(p) : rc;
    }
  }
  if (!changed) {
    free(keys);
    f->root = (dq_node *)n;
    return 0;
  }
  dq_node *r = f->root;
  if (n->kind == DQ_NODE_TOPN)
    r = dq_node_topn(p->b, r, nk, keys, n->count, n->offset);
  else if (sort != NULL)
    r = dq_node_sort(p->b, r, nk, keys);
  if (r != NULL && n->kind == DQ_NODE_LIMIT)
    r = dq_node_limit(p->b, r, n->count, n->offset);
  free(keys);
  NEED(p, r);
  f->root = r;
  return 0;
}

/* Whether f is hashed on the routing columns of some of the join keys:
 * sel[k] is then the join key f's hash key k routes by. */
static bool hashed_on_keys(const frag *f, const int *route, size_t nk,
                           size_t *sel) {
  if (f->dist != DIST_HASH || f->n_keys == 0)
    return false;
  for (size_t k = 0; k < f->n_keys; k++) {
    bool found = false;
    for (size_t i = 0; i < nk && !found; i++)
      if (route[i] >= 0 && (uint32_t)route[i] == f->keys[k]) {
        sel[k] = i;
        found = true;
      }
    if (!found)
      return false;
  }
  return true;
}

/* Whether f is hashed exactly on the routing columns of join keys sel. */
static bool hashed_like(const frag *f, const int *route, const size_t *sel,
                        size_t ns) {
  if (f->dist != DIST_HASH || f->n_keys != ns)
    return false;
  for (size_t k = 0; k < ns; k++)
    if (route[sel[k]] < 0 || (uint32_t)route[sel[k]] != f->keys[k])
      return false;
  return true;
}

/* Whether probe side f and build side bf are both KEYED over the same
 * units on a pair of their join keys: then matching rows are in the same
 * pipeline already. */
static bool keyed_alike(const frag *f, const frag *bf, const int *rp,
                        const int *rb, size_t nk) {
  if (f->dist != DIST_KEYED || bf->dist != DIST_KEYED || f->n_keys != 1 ||
      bf->n_keys != 1 || strcmp(f->domain, bf->domain) != 0)
    return false;
  for (size_t i = 0; i < nk; i++)
    if (rp[i] >= 0 && rb[i] >= 0 && (uint32_t)rp[i] == f->keys[0] &&
        (uint32_t)rb[i] == bf->keys[0])
      return true;
  return false;
}

static int join_shuffle(planner *p, frag *f, dq_expr *const *keys,
                        const size_t *sel, size_t ns) {
  dq_expr *chosen[MAX_HASH_KEYS] = {NULL};
  if (ns > MAX_HASH_KEYS)
    ns = MAX_HASH_KEYS;
  for (size_t k = 0; k < ns; k++)
    chosen[k] = keys[sel[k]];
  return shuffle(p, f, ns, chosen);
}

static int plan_join(planner *p, const dq_node *n, frag *f) {
  frag bf;
  int rc = plan_node(p, n->input, f);
  if (rc == 0)
    rc = plan_node(p, n->more[0], &bf);
  if (rc != 0)
    return rc;
  double base;
  double est = estimate(n->more[0], &base);
  bool small = p->bcast_max >= 0 && est <= (double)p->bcast_max;
  size_t nk = n->n_join_keys;
  /* Each key's routing column on its side (-1: none); only a shuffle
   * needs them all, so more keys than that is an error only there. */
  int rp[64], rb[64];
  bool routed = nk <= 64;
  for (size_t i = 0; routed && i < nk; i++) {
    rp[i] = route_col(n->probe_keys[i], f->root->schema);
    rb[i] = route_col(n->build_keys[i], bf.root->schema);
  }
  if (f->dist == DIST_SINGLE && bf.dist == DIST_SINGLE) {
    /* one pipeline on both sides: join where they are */
  } else if (routed && keyed_alike(f, &bf, rp, rb, nk)) {
    /* both sides generated unit by unit alike: join where they are */
  } else if (bf.dist == DIST_SINGLE || (small && f->dist != DIST_SINGLE)) {
    if ((rc = broadcast(p, &bf)) != 0)
      return rc;
  } else if (small) { /* the probe side is in one pipeline */
    if ((rc = to_single(p, &bf)) != 0)
      return rc;
  } else {
    size_t sel[MAX_HASH_KEYS], ns;
    if (!routed)
      return dq_error_set(p->err, DQ_EUNSUPPORTED, "the planner handles "
                          "joins of at most 64 keys (this one has %zu)", nk);
    if (hashed_on_keys(f, rp, nk, sel)) {
      ns = f->n_keys;
      if (!hashed_like(&bf, rb, sel, ns))
        rc = join_shuffle(p, &bf, n->build_keys, sel, ns);
    } else if (hashed_on_keys(&bf, rb, nk, sel)) {
      /* The build side is partitioned already (say, an aggregate on the
       * key): only the probe side moves, into the build side's stage. */
      ns = bf.n_keys;
      rc = join_shuffle(p, f, n->probe_keys, sel, ns);
    } else {
      ns = nk < MAX_HASH_KEYS ? nk : MAX_HASH_KEYS;
      for (size_t k = 0; k < ns; k++)
        sel[k] = k;
      rc = join_shuffle(p, f, n->probe_keys, sel, ns);
      if (rc == 0)
        rc = join_shuffle(p, &bf, n->build_keys, sel, ns);
    }
    if (rc != 0)
      return rc;
  }
  if (f->root == n->input && bf.root == n->more[0]) {
    f->root = (dq_node *)n;
    return 0;
  }
  size_t nn = dq_schema_n_fields(n->join_schema);
  const char **names = calloc(nn ? nn : 1, sizeof *names);
  if (names == NULL)
    return dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
  for (size_t i = 0; i < nn; i++)
    names[i] = dq_schema_field_name(n->join_schema, i);
  dq_node *j = dq_node_hash_join(p->b, n->join_kind, f->root, bf.root, nk,
                                 n->probe_keys, n->build_keys, n->residual,
                                 names);
  free(names);
  NEED(p, j);
  /* Probe columns come first in the output, so f's hash keys hold. */
  f->root = j;
  return 0;
}

static int plan_union(planner *p, const dq_node *n, frag *f) {
  size_t ni = dq_node_n_inputs(n);
  frag *in = calloc(ni, sizeof *in);
  dq_node **roots = calloc(ni, sizeof *roots);
  int rc = 0;
  if (in == NULL || roots == NULL) {
    rc = dq_error_set(p->err, DQ_ENOMEM, "out of memory planning");
    goto done;
  }
  bool all_single = true, changed = false;
  for (size_t i = 0; i < ni && rc == 0; i++) {
    rc = plan_node(p, dq_node_input_at(n, i), &in[i]);
    all_single &= in[i].dist == DIST_SINGLE;
  }
  /* Distributed inputs share one stage (each pipeline passes its part of
   * each); an input in one pipeline is coalesced into that stage. */
  for (size_t i = 0; i < ni && rc == 0; i++) {
    if (!all_single && in[i].dist == DIST_SINGLE) {
      const dq_boundary co = {DQ_BOUNDARY_COALESCE, 0, NULL};
      rc = close_frag(p, &in[i], &co);
    }
    roots[i] = in[i].root;
    changed |= roots[i] != dq_node_input_at(n, i);
  }
  if (rc != 0)
    goto done;
  f->dist = all_single ? DIST_SINGLE : DIST_ANY;
  f->n_keys = 0;
  f->root = changed ? dq_node_union(p->b, ni, roots) : (dq_node *)n;
  if (f->root == NULL)
    rc = built_error(p);
done:
  free(in);
  free(roots);
  return rc;
}

static int plan_node(planner *p, const dq_node *n, frag *f) {
  int rc;
  switch (n->kind) {
  case DQ_NODE_READ:
    return dq_error_set(p->err, DQ_EINVAL, "the plan to distribute reads "
                        "stage %" PRIu32 "; it must be a single-node plan "
                        "without READ nodes", n->producer);
  case DQ_NODE_FILTER:
    if ((rc = plan_node(p, n->input, f)) != 0)
      return rc;
    if (f->root != n->input) {
      f->root = dq_node_filter(p->b, f->root, n->predicate);
      NEED(p, f->root);
    } else {
      f->root = (dq_node *)n;
    }
    return 0;
  case DQ_NODE_PROJECT: {
    if ((rc = plan_node(p, n->input, f)) != 0)
      return rc;
    if (f->root != n->input) {
      f->root = dq_node_project(p->b, f->root, n->n_exprs, n->exprs,
                                (const char *const *)n->names);
      NEED(p, f->root);
    } else {
      f->root = (dq_node *)n;
    }
    /* Hash keys survive when projected as plain columns. */
    for (size_t k = 0; keeps_keys(f->dist) && k < f->n_keys; k++) {
      bool found = false;
      for (size_t j = 0; j < n->n_exprs && !found; j++)
        if (n->exprs[j]->kind == DQ_EXPR_COLUMN &&
            n->exprs[j]->column == f->keys[k]) {
          f->keys[k] = (uint32_t)j;
          found = true;
        }
      if (!found)
        f->dist = DIST_ANY;
    }
    return 0;
  }
  case DQ_NODE_AGGREGATE: return plan_aggregate(p, n, f);
  case DQ_NODE_SORT:
  case DQ_NODE_TOPN:
  case DQ_NODE_LIMIT: return plan_ordered(p, n, f);
  case DQ_NODE_HASH_JOIN: return plan_join(p, n, f);
  case DQ_NODE_UNION: return plan_union(p, n, f);
  default:
    if (dq_node_n_inputs(n) != 0)
      return dq_error_set(p->err, DQ_EUNSUPPORTED, "the distributed planner "
                          "does not know node kind %d", (int)n->kind);
    /* A scan: each pipeline of its stage reads its own slice. */
    f->root = (dq_node *)n;
    f->dist = distributed(p) ? DIST_ANY : DIST_SINGLE;
    f->n_keys = 0;
    dq_source_keying k;
    if (f->dist == DIST_ANY && n->kind == DQ_NODE_SCAN &&
        n->source->keying != NULL &&
        n->source->keying(n->source_state, &k)) {
      /* Its slices are whole units: keyed, if the column whose values
       * stay within a unit is scanned. */
      for (size_t c = 0; c < n->n_columns; c++)
        if ((size_t)n->column_idx[c] == k.column) {
          f->dist = DIST_KEYED;
          f->keys[0] = (uint32_t)c;
          f->n_keys = 1;
          snprintf(f->domain, sizeof f->domain, "%s", k.domain);
          break;
        }
    }
    return 0;
  }
}

int dq_plan_distribute(const dq_plan *single_node,
                       const dq_distribute_opts *opts, dq_plan **out,
                       dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_distribute: out is NULL");
  *out = NULL;
  if (single_node == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_distribute: the plan is "
                        "NULL");
  size_t need = offsetof(dq_distribute_opts, n_tasks) + sizeof opts->n_tasks;
  if (opts == NULL || opts->size < need)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_distribute: options are "
                        "required, with size set to sizeof "
                        "(dq_distribute_opts)");
  if (single_node->n_stages != 1 || single_node->stages[0].root == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_distribute: the plan has "
                        "%zu stages; it must be a single-node plan (one head "
                        "stage)", single_node->n_stages);
  planner p;
  memset(&p, 0, sizeof p);
  p.err = err;
  p.tasks = opts->n_tasks;
  p.parts = 1;
  p.bcast_max = DEFAULT_BROADCAST_MAX_ROWS;
  if (opts->size >= offsetof(dq_distribute_opts, partitions) +
                        sizeof opts->partitions &&
      opts->partitions > 0)
    p.parts = opts->partitions;
  if (opts->size >= offsetof(dq_distribute_opts, broadcast_max_rows) +
                        sizeof opts->broadcast_max_rows &&
      opts->broadcast_max_rows != 0)
    p.bcast_max = opts->broadcast_max_rows;
  if (p.tasks == 0)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_distribute: n_tasks is 0; "
                        "a stage needs at least one task");
  if ((uint64_t)p.tasks * p.parts > UINT32_MAX)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_distribute: %" PRIu32
                        " tasks of %" PRIu32 " partitions are too many",
                        p.tasks, p.parts);
  int rc = dq_plan_builder_new(&p.b, err);
  if (rc != 0)
    return rc;
  frag f;
  memset(&f, 0, sizeof f);
  rc = plan_node(&p, single_node->stages[0].root, &f);
  if (rc == 0)
    rc = to_single(&p, &f);
  if (rc == 0 && dq_plan_stage(p.b, f.root, 1, 1, NULL) == 0)
    rc = built_error(&p);
  if (rc == 0)
    rc = dq_plan_builder_finish(p.b, out, err);
  dq_plan_builder_free(p.b);
  for (size_t i = 0; i < p.n_owned; i++)
    dq_node_unref(p.owned[i]);
  free(p.owned);
  return rc;
}
