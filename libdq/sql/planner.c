/* planner.c — query blocks to plan nodes.  A SELECT is planned as a block:
 * its FROM items (tables, views, WITH queries, subqueries in FROM, LEFT
 * joins) with the WHERE conjuncts that touch one item pushed into that
 * item's scan, the columns nobody references dropped at the scan, the items
 * joined in an order planned on row estimates (see "Join order" below: no
 * cross product where a join predicate exists), subqueries decorrelated
 * into joins (EXISTS / IN ->
 * semi joins, NOT EXISTS / NOT IN -> anti joins, scalar subqueries ->
 * joins with their aggregate grouped on the correlation keys), then
 * GROUP BY / aggregates, HAVING, the select list, DISTINCT, ORDER BY and
 * LIMIT / OFFSET.  Everything goes through the public plan API; the result
 * is a single-node plan for dq_plan_distribute(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "binder.h"

enum { IT_TABLE = 1, IT_REL, IT_LEFTJOIN, IT_BLOCK };

struct block;

typedef struct item {
  int kind;
  int loc;
  sql_table *table;          /* TABLE */
  rel r;                     /* REL: planned already */
  sql_col **cols;            /* visible columns */
  size_t n;
  struct item *left, *right; /* LEFTJOIN */
  sx **on;                   /* LEFTJOIN: ON; BLOCK: the inner joins' ON */
  size_t n_on;
  struct block *sub;         /* BLOCK: inner joins under an outer join */
  sx **filters;              /* WHERE conjuncts on this item alone */
  size_t n_filters;
  sx **subq_filters;         /* ... and those with subqueries */
  size_t n_subq_filters;
  double rows;               /* estimated, after its filters */
  double base;               /* estimated, before its filters */
} item;

typedef struct block {
  item **items;
  size_t n_items;
  scope sc;
  const pgnode **pending_on; /* ON of inner joins, bound with WHERE */
  size_t n_pending;
} block;

static const char *str_of(const pgnode *n) {
  return n != NULL && n->node_case == PG_QUERY__NODE__NODE_STRING
             ? n->string->sval
             : NULL;
}

static void add_scope_col(sctx *c, scope *sc, sql_col *col) {
  sc->cols = sa_grow(c, sc->cols, sc->n, sizeof *sc->cols);
  sc->cols[sc->n++] = col;
}

static void push_sx(sctx *c, sx ***list, size_t *n, sx *e) {
  *list = sa_grow(c, *list, *n, sizeof **list);
  (*list)[(*n)++] = e;
}

/* --- FROM items ---------------------------------------------------------------*/

static item *item_from_rel(sctx *c, rel *r, const char *alias,
                           const PgQuery__Alias *al, int loc) {
  item *it = sa_alloc(c, sizeof *it);
  it->kind = IT_REL;
  it->loc = loc;
  it->r = *r;
  it->rows = r->rows;
  size_t n_alias = al ? al->n_colnames : 0;
  if (n_alias > r->n)
    sfail(c, loc, DQ_EINVAL, "table \"%s\" has %zu columns available but %zu "
          "columns specified", alias, r->n, n_alias);
  it->cols = sa_alloc(c, (r->n + 1) * sizeof *it->cols);
  for (size_t i = 0; i < r->n; i++) {
    sql_col *col = sa_alloc(c, sizeof *col);
    *col = *r->cols[i];
    col->qual = alias ? sa_lower(c, alias) : NULL;
    if (i < n_alias && str_of(al->colnames[i]))
      col->name = sa_lower(c, str_of(al->colnames[i]));
    col->used = false;
    it->cols[it->n++] = col;
  }
  return it;
}

static item *make_item(sctx *c, block *bl, const pgnode *n, scope *outer);
static void add_from(sctx *c, block *bl, const pgnode *n, scope *outer);
static void split_and(sctx *c, sx *e, sx ***out, size_t *n);

/* Inner joins under an outer join ((a JOIN b ON ..) LEFT JOIN c ON ..): a
 * block of their own, joined as a unit before the outer join. */
static item *block_item(sctx *c, const pgnode *n, scope *outer) {
  block *sub = sa_alloc(c, sizeof *sub);
  sub->sc.outer = outer;
  add_from(c, sub, n, outer);
  item *it = sa_alloc(c, sizeof *it);
  it->kind = IT_BLOCK;
  it->sub = sub;
  for (size_t i = 0; i < sub->n_pending; i++) {
    sx *e = bind_expr(c, &sub->sc, sub->pending_on[i], false);
    if (e->type.id != DQ_TYPE_BOOL)
      sfail(c, e->loc, DQ_EINVAL, "argument of JOIN/ON must be boolean");
    if (e->has_outer || e->has_subq)
      sfail(c, e->loc, DQ_EUNSUPPORTED,
            "a join's ON under an outer join may not hold subqueries or "
            "outer references");
    split_and(c, e, &it->on, &it->n_on);
  }
  it->cols = sub->sc.cols;
  it->n = sub->sc.n;
  it->rows = 1;
  for (size_t i = 0; i < sub->n_items; i++)
    if (sub->items[i]->rows > it->rows)
      it->rows = sub->items[i]->rows;
  return it;
}

static const PgQuery__CommonTableExpr *find_cte(sctx *c, const char *name,
                                                const char **src) {
  for (size_t i = c->n_ctes; i-- > 0;)
    if (strcasecmp(c->ctes[i]->ctename, name) == 0) {
      *src = c->cte_src[i];
      return c->ctes[i];
    }
  return NULL;
}

static item *table_item(sctx *c, const PgQuery__RangeVar *rv) {
  const char *name = rv->relname;
  const char *alias = rv->alias ? rv->alias->aliasname : name;
  const char *csrc;
  const PgQuery__CommonTableExpr *cte = find_cte(c, name, &csrc);
  if (cte != NULL) {
    rel r;
    plan_query(c, cte->ctequery, NULL, SUB_FROM, NULL, &r);
    PgQuery__Alias al = {0};
    al.n_colnames = cte->n_aliascolnames;
    al.colnames = cte->aliascolnames;
    item *it = item_from_rel(c, &r, alias, &al, rv->location);
    if (rv->alias && rv->alias->n_colnames)
      it = item_from_rel(c, &r, alias, rv->alias, rv->location);
    return it;
  }
  sql_view *v = sql_catalog_view(c->s, name);
  if (v != NULL) {
    const char *saved = c->src;
    c->src = v->src;
    rel r;
    /* WITH queries of the referencing statement are not visible inside
     * the view. */
    size_t saved_ctes = c->n_ctes;
    c->n_ctes = 0;
    plan_query(c, v->query, NULL, SUB_FROM, NULL, &r);
    c->n_ctes = saved_ctes;
    c->src = saved;
    if (v->n_colnames > r.n)
      sfail(c, rv->location, DQ_EINVAL, "view \"%s\" names more columns than "
                                        "it has", name);
    for (size_t i = 0; i < v->n_colnames; i++) {
      sql_col *col = sa_alloc(c, sizeof *col);
      *col = *r.cols[i];
      col->name = v->colnames[i];
      r.cols[i] = col;
    }
    return item_from_rel(c, &r, alias, rv->alias, rv->location);
  }
  sql_table *t = sql_catalog_find(c->s, name);
  if (t == NULL) {
    size_t n = c->s->n_tables + c->s->n_views + c->n_ctes;
    const char **cands = sa_alloc(c, (n + 1) * sizeof *cands);
    size_t k = 0;
    for (size_t i = 0; i < c->s->n_tables; i++)
      cands[k++] = c->s->tables[i]->name;
    for (size_t i = 0; i < c->s->n_views; i++)
      cands[k++] = c->s->views[i].name;
    for (size_t i = 0; i < c->n_ctes; i++)
      cands[k++] = c->ctes[i]->ctename;
    const char *close = sql_closest(name, cands, k);
    if (close)
      sfail(c, rv->location, DQ_ENOENT,
            "relation \"%s\" does not exist (did you mean \"%s\"?)", name,
            close);
    if (k == 0)
      sfail(c, rv->location, DQ_ENOENT,
            "relation \"%s\" does not exist (no tables are defined: use "
            "--table NAME=SPEC, [tables] in the config or CREATE TABLE)",
            name);
    sfail(c, rv->location, DQ_ENOENT, "relation \"%s\" does not exist", name);
  }
  item *it = sa_alloc(c, sizeof *it);
  it->kind = IT_TABLE;
  it->loc = rv->location;
  it->table = t;
  it->rows = t->rows;
  size_t nf = dq_schema_n_fields(t->schema);
  it->cols = sa_alloc(c, (nf + 1) * sizeof *it->cols);
  for (size_t i = 0; i < nf; i++) {
    sql_col *col = sa_alloc(c, sizeof *col);
    col->qual = sa_lower(c, alias);
    col->name = sa_lower(c, dq_schema_field_name(t->schema, i));
    col->iname = unique_iname(c, col->name);
    col->type = dq_schema_field_type(t->schema, i);
    col->nullable = dq_schema_field_nullable(t->schema, i);
    col->item = -1;
    if (t->ranged != NULL && t->ranged[i] && t->hi[i] > t->lo[i]) {
      col->ranged = true;
      col->lo = t->lo[i];
      col->hi = t->hi[i];
    }
    it->cols[it->n++] = col;
  }
  return it;
}

static item *make_item(sctx *c, block *bl, const pgnode *n, scope *outer) {
  switch (n->node_case) {
  case PG_QUERY__NODE__NODE_RANGE_VAR:
    return table_item(c, n->range_var);
  case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
    const PgQuery__RangeSubselect *rs = n->range_subselect;
    if (rs->lateral)
      sfail(c, -1, DQ_EUNSUPPORTED, "LATERAL subqueries are not supported");
    rel r;
    plan_query(c, rs->subquery, NULL, SUB_FROM, NULL, &r);
    return item_from_rel(c, &r, rs->alias ? rs->alias->aliasname : NULL,
                         rs->alias, -1);
  }
  case PG_QUERY__NODE__NODE_JOIN_EXPR: {
    const PgQuery__JoinExpr *j = n->join_expr;
    if (j->is_natural || j->n_using_clause > 0)
      sfail(c, -1, DQ_EUNSUPPORTED,
            "NATURAL joins and JOIN ... USING are not supported (write ON "
            "a.x = b.x)");
    if (j->jointype == PG_QUERY__JOIN_TYPE__JOIN_FULL)
      sfail(c, -1, DQ_EUNSUPPORTED, "FULL OUTER JOIN is not supported");
    if (j->jointype == PG_QUERY__JOIN_TYPE__JOIN_INNER)
      return bl == NULL ? block_item(c, n, outer)
                        : NULL; /* flattened by the caller */
    if (j->jointype != PG_QUERY__JOIN_TYPE__JOIN_LEFT &&
        j->jointype != PG_QUERY__JOIN_TYPE__JOIN_RIGHT)
      sfail(c, -1, DQ_EUNSUPPORTED, "this join type is not supported");
    bool right = j->jointype == PG_QUERY__JOIN_TYPE__JOIN_RIGHT;
    /* RIGHT JOIN is the LEFT JOIN with the sides swapped. */
    item *l = make_item(c, NULL, right ? j->rarg : j->larg, outer);
    item *r = make_item(c, NULL, right ? j->larg : j->rarg, outer);
    item *it = sa_alloc(c, sizeof *it);
    it->kind = IT_LEFTJOIN;
    it->left = l;
    it->right = r;
    it->rows = l->rows;
    it->cols = sa_alloc(c, (l->n + r->n + 1) * sizeof *it->cols);
    /* Columns in the written order (a RIGHT join's left side first). */
    item *first = right ? r : l, *second = right ? l : r;
    for (size_t i = 0; i < first->n; i++)
      it->cols[it->n++] = first->cols[i];
    for (size_t i = 0; i < second->n; i++)
      it->cols[it->n++] = second->cols[i];
    for (size_t i = 0; i < r->n; i++)
      r->cols[i]->nullable = true;
    scope sc = {it->cols, it->n, outer};
    if (j->quals == NULL)
      sfail(c, -1, DQ_EINVAL, "an outer join needs ON");
    sx *on = bind_expr(c, &sc, j->quals, false);
    if (on->has_outer || on->has_subq)
      sfail(c, on->loc, DQ_EUNSUPPORTED,
            "an outer join's ON may not hold subqueries or outer references");
    if (on->kind == SX_AND)
      for (size_t i = 0; i < on->n_args; i++)
        push_sx(c, &it->on, &it->n_on, on->args[i]);
    else
      push_sx(c, &it->on, &it->n_on, on);
    return it;
  }
  default:
    sfail(c, -1, DQ_EUNSUPPORTED, "this kind of FROM item is not supported");
  }
}

static void add_from(sctx *c, block *bl, const pgnode *n, scope *outer) {
  item *it = make_item(c, bl, n, outer);
  if (it == NULL) { /* inner join: its items join the block */
    const PgQuery__JoinExpr *j = n->join_expr;
    add_from(c, bl, j->larg, outer);
    add_from(c, bl, j->rarg, outer);
    if (j->quals != NULL) {
      bl->pending_on =
          sa_grow(c, bl->pending_on, bl->n_pending, sizeof *bl->pending_on);
      bl->pending_on[bl->n_pending++] = j->quals;
    }
    return;
  }
  if (bl->n_items >= 64)
    sfail(c, it->loc, DQ_EUNSUPPORTED, "more than 64 tables in one FROM");
  /* Two items under one name would make every column ambiguous. */
  if (it->n > 0 && it->cols[0]->qual != NULL && it->kind != IT_LEFTJOIN)
    for (size_t i = 0; i < bl->n_items; i++)
      if (bl->items[i]->kind != IT_LEFTJOIN && bl->items[i]->n > 0 &&
          bl->items[i]->cols[0]->qual != NULL &&
          strcmp(bl->items[i]->cols[0]->qual, it->cols[0]->qual) == 0)
        sfail(c, it->loc, DQ_EINVAL,
              "table name \"%s\" specified more than once (give one an "
              "alias)",
              it->cols[0]->qual);
  int idx = (int)bl->n_items;
  for (size_t i = 0; i < it->n; i++) {
    it->cols[i]->item = idx;
    add_scope_col(c, &bl->sc, it->cols[i]);
  }
  bl->items = sa_grow(c, bl->items, bl->n_items, sizeof *bl->items);
  bl->items[bl->n_items++] = it;
}

/* --- Building items ---------------------------------------------------------*/

static double selectivity(const sx *e) {
  switch (e->kind) {
  case SX_BIN:
    return e->op == OP_EQ ? 0.1 : e->op == OP_NE ? 0.9 : 0.35;
  case SX_AND: {
    double s = 1;
    for (size_t i = 0; i < e->n_args; i++)
      s *= selectivity(e->args[i]);
    return s;
  }
  case SX_OR: {
    double s = 0;
    for (size_t i = 0; i < e->n_args; i++)
      s += selectivity(e->args[i]);
    return s > 1 ? 1 : s;
  }
  case SX_IN:
    return 0.1 * (double)(e->n_args - 1) > 0.5 ? 0.5 : 0.1 * (double)(e->n_args - 1);
  case SX_LIKE:
    return 0.2;
  case SX_NOT:
    return 1 - selectivity(e->args[0]) * 0.5;
  default:
    return 0.5;
  }
}

static bool const_value(const sx *e, double *v) {
  if (e->kind != SX_CONST)
    return false;
  switch (e->v.kind) {
  case CV_INT:
  case CV_DATE:
    *v = (double)e->v.i;
    return true;
  case CV_DEC:
    *v = strtod(e->v.s, NULL);
    return true;
  case CV_FLOAT:
    *v = e->v.f;
    return true;
  default:
    return false;
  }
}

/* The fraction of an item's rows its filters keep: range conditions on a
 * column with a sampled range (x >= a AND x < b, BETWEEN) intersect into
 * one interval, the share of the range it covers; everything else counts
 * with selectivity()'s fixed guesses. */
static double filters_selectivity(sctx *c, sx **f, size_t n) {
  sql_col **cols = sa_alloc(c, (2 * n + 1) * sizeof *cols);
  double *lo = sa_alloc(c, (2 * n + 1) * sizeof *lo);
  double *hi = sa_alloc(c, (2 * n + 1) * sizeof *hi);
  size_t nc = 0;
  double sel = 1;
  for (size_t i = 0; i < n; i++) {
    const sx *e = f[i];
    double v;
    if (e->kind == SX_BIN && e->op >= OP_LT && e->op <= OP_GE) {
      const sx *a = e->args[0], *b = e->args[1];
      int op = e->op;
      if (b->kind == SX_COL && const_value(a, &v)) { /* 5 < x: x > 5 */
        const sx *t = a;
        a = b;
        b = t;
        op = op == OP_LT ? OP_GT : op == OP_LE ? OP_GE
             : op == OP_GT ? OP_LT : OP_LE;
      }
      if (a->kind == SX_COL && a->col->ranged && const_value(b, &v)) {
        size_t k = 0;
        while (k < nc && cols[k] != a->col)
          k++;
        if (k == nc) {
          cols[nc] = a->col;
          lo[nc] = a->col->lo;
          hi[nc++] = a->col->hi;
        }
        if ((op == OP_LT || op == OP_LE) && v < hi[k])
          hi[k] = v;
        if ((op == OP_GT || op == OP_GE) && v > lo[k])
          lo[k] = v;
        continue;
      }
    }
    sel *= selectivity(e);
  }
  for (size_t k = 0; k < nc; k++) {
    double share = (hi[k] - lo[k]) / (cols[k]->hi - cols[k]->lo);
    sel *= share < 0.001 ? 0.001 : share > 1 ? 1 : share;
  }
  return sel;
}

static rel apply_filter(sctx *c, rel r, sx *e) {
  r.node = scheck(c, dq_node_filter(c->b, r.node, sx_emit(c, e)), e->loc);
  r.rows *= selectivity(e);
  if (r.rows < 1)
    r.rows = 1;
  return r;
}

static bool has_col(sql_col **cols, size_t n, const sql_col *col) {
  for (size_t i = 0; i < n; i++)
    if (cols[i] == col)
      return true;
  return false;
}

/* Every local column of e is among cols. */
static bool sx_within(const sx *e, sql_col **cols, size_t n) {
  if (e->kind == SX_COL && e->outer == 0)
    return has_col(cols, n, e->col);
  for (size_t i = 0; i < e->n_args; i++)
    if (!sx_within(e->args[i], cols, n))
      return false;
  return true;
}

static bool sx_has_local_col(const sx *e) {
  if (e->kind == SX_COL)
    return e->outer == 0;
  for (size_t i = 0; i < e->n_args; i++)
    if (sx_has_local_col(e->args[i]))
      return true;
  return false;
}

static rel build_item(sctx *c, item *it);
static rel apply_subq_conj(sctx *c, rel cur, sx *e);
static rel join_block(sctx *c, struct block *bl, sx **conj, size_t n_conj);

static rel hash_join(sctx *c, dq_join_kind kind, rel probe, rel build,
                     size_t n_keys, sx **pk, sx **bk, sx *residual, int loc) {
  dq_expr **p = sa_alloc(c, (n_keys + 1) * sizeof *p);
  dq_expr **q = sa_alloc(c, (n_keys + 1) * sizeof *q);
  for (size_t i = 0; i < n_keys; i++) {
    p[i] = sx_emit(c, pk[i]);
    q[i] = sx_emit(c, bk[i]);
  }
  if (n_keys == 0) { /* a cross join: one constant key on both sides */
    p[0] = dq_expr_int32(c->b, 1);
    q[0] = dq_expr_int32(c->b, 1);
    n_keys = 1;
  }
  dq_expr *res = residual ? sx_emit(c, residual) : NULL;
  rel out = probe;
  out.node = scheck(c,
                    dq_node_hash_join(c->b, kind, probe.node, build.node,
                                      n_keys, (dq_expr *const *)p,
                                      (dq_expr *const *)q, res, NULL),
                    loc);
  if (kind == DQ_JOIN_INNER || kind == DQ_JOIN_LEFT) {
    out.cols = sa_alloc(c, (probe.n + build.n + 1) * sizeof *out.cols);
    if (probe.n > 0) /* a count's relation has no columns (and no array) */
      memcpy(out.cols, probe.cols, probe.n * sizeof *out.cols);
    if (build.n > 0)
      memcpy(out.cols + probe.n, build.cols, build.n * sizeof *out.cols);
    out.n = probe.n + build.n;
    out.rows = probe.rows > build.rows ? probe.rows : build.rows;
  }
  return out;
}

/* Is e "a = b" with a over `left` columns only and b over `right` only
 * (either way round)?  Sets *lk, *rk. */
static bool equi_key(const sx *e, sql_col **lc, size_t ln, sql_col **rc,
                     size_t rn, sx **lk, sx **rk) {
  if (e->kind != SX_BIN || e->op != OP_EQ || e->has_subq || e->has_outer)
    return false;
  sx *a = e->args[0], *b = e->args[1];
  if (!sx_has_local_col(a) || !sx_has_local_col(b))
    return false;
  if (sx_within(a, lc, ln) && sx_within(b, rc, rn)) {
    *lk = a;
    *rk = b;
    return true;
  }
  if (sx_within(b, lc, ln) && sx_within(a, rc, rn)) {
    *lk = b;
    *rk = a;
    return true;
  }
  return false;
}

static sx *and_of(sctx *c, sx *acc, sx *e) {
  if (acc == NULL)
    return e;
  sx *a = sx_new(c, SX_AND, e->loc);
  a->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
  sx_add_arg(c, a, acc);
  sx_add_arg(c, a, e);
  return a;
}

static rel build_leftjoin(sctx *c, item *it) {
  rel l = build_item(c, it->left);
  rel r = build_item(c, it->right);
  sx **pk = sa_alloc(c, (it->n_on + 1) * sizeof *pk);
  sx **bk = sa_alloc(c, (it->n_on + 1) * sizeof *bk);
  size_t nk = 0;
  sx *residual = NULL;
  for (size_t i = 0; i < it->n_on; i++) {
    sx *e = it->on[i];
    if (equi_key(e, it->left->cols, it->left->n, it->right->cols,
                 it->right->n, &pk[nk], &bk[nk])) {
      nk++;
    } else if (sx_within(e, it->right->cols, it->right->n)) {
      /* A condition on the inner side alone filters it before the join:
       * the same for a LEFT join. */
      r = apply_filter(c, r, e);
    } else {
      residual = and_of(c, residual, e);
    }
  }
  if (nk == 0)
    sfail(c, it->on[0]->loc, DQ_EUNSUPPORTED,
          "an outer join needs an equality between its two sides in ON");
  return hash_join(c, DQ_JOIN_LEFT, l, r, nk, pk, bk, residual,
                   it->on[0]->loc);
}

static rel build_item(sctx *c, item *it) {
  rel r = {0};
  if (it->kind == IT_TABLE) {
    sql_table *t = it->table;
    size_t n_used = 0;
    for (size_t i = 0; i < it->n; i++)
      n_used += it->cols[i]->used;
    /* A scan needs a column even when only rows are counted. */
    if (n_used == 0)
      it->cols[0]->used = true, n_used = 1;
    const char **names = sa_alloc(c, (it->n + 1) * sizeof *names);
    sql_col **used = sa_alloc(c, (it->n + 1) * sizeof *used);
    size_t k = 0;
    bool renamed = false;
    for (size_t i = 0; i < it->n; i++) {
      if (!it->cols[i]->used)
        continue;
      names[k] = dq_schema_field_name(t->schema, i);
      renamed |= strcmp(names[k], it->cols[i]->iname) != 0;
      used[k++] = it->cols[i];
    }
    dq_node *n = NULL;
    switch (t->kind) {
    case SQL_TABLE_TPCH:
      n = dq_node_scan_tpch(c->b, t->tpch_table, t->scale, t->seed, names, k);
      break;
    case SQL_TABLE_ARROW:
      n = dq_node_scan_ipc(c->b, t->n_paths, (const char *const *)t->paths,
                           names, k);
      break;
    case SQL_TABLE_CSV: {
      dq_csv_options o = {.header = t->header};
      n = dq_node_scan_csv_with(c->b, t->n_paths,
                                (const char *const *)t->paths, t->schema, &o);
      renamed = true; /* keep only the used columns */
      break;
    }
    }
    n = scheck(c, n, it->loc);
    if (renamed) {
      dq_expr **ex = sa_alloc(c, (k + 1) * sizeof *ex);
      const char **in = sa_alloc(c, (k + 1) * sizeof *in);
      for (size_t i = 0; i < k; i++) {
        ex[i] = dq_expr_column(c->b, names[i]);
        in[i] = used[i]->iname;
      }
      n = scheck(c, dq_node_project(c->b, n, k, (dq_expr *const *)ex, in),
                 it->loc);
    }
    r.node = n;
    r.cols = used;
    r.n = k;
    r.rows = t->rows;
  } else if (it->kind == IT_REL) {
    r = it->r;
  } else if (it->kind == IT_BLOCK) {
    r = join_block(c, it->sub, it->on, it->n_on);
  } else {
    r = build_leftjoin(c, it);
  }
  it->base = r.rows;
  for (size_t i = 0; i < it->n_filters; i++)
    r = apply_filter(c, r, it->filters[i]);
  r.rows = it->base * filters_selectivity(c, it->filters, it->n_filters);
  if (r.rows < 1)
    r.rows = 1;
  for (size_t i = 0; i < it->n_subq_filters; i++)
    r = apply_subq_conj(c, r, it->subq_filters[i]);
  it->rows = r.rows;
  return r;
}

/* --- Subquery conjuncts -------------------------------------------------------*/

static bool sx_nullable(const sx *e) {
  if (e->kind == SX_COL)
    return e->col->nullable;
  if (e->kind == SX_CONST)
    return e->v.kind == CV_NULL;
  for (size_t i = 0; i < e->n_args; i++)
    if (sx_nullable(e->args[i]))
      return true;
  return false;
}

/* Joins in the scalar subqueries of e and replaces them with their value
 * columns (a copy of e is returned). */
static sx *join_scalars(sctx *c, rel *cur, sx *e) {
  if (e->kind == SX_SUBQ) {
    subq *q = e->sub;
    if (q->kind != SUB_SCALAR)
      sfail(c, e->loc, DQ_EUNSUPPORTED,
            "EXISTS and IN subqueries are supported only as conditions "
            "joined by AND (not under OR or in a value)");
    sx **bk = sa_alloc(c, (q->n_keys + 1) * sizeof *bk);
    for (size_t i = 0; i < q->n_keys; i++)
      bk[i] = sx_col(c, q->inner_keys[i], e->loc);
    /* Uncorrelated: one row (or none: HAVING), joined to every row.
     * Correlated: a row per key.  A LEFT join, so that a missing row reads
     * as the NULL SQL gives an empty scalar subquery. */
    *cur = hash_join(c, DQ_JOIN_LEFT, *cur, q->r, q->n_keys, q->outer_keys,
                     bk, NULL, e->loc);
    return sx_col(c, q->value, e->loc);
  }
  if (!e->has_subq)
    return e;
  sx *copy = sa_alloc(c, sizeof *copy);
  *copy = *e;
  copy->args = NULL;
  copy->n_args = 0;
  copy->has_subq = false;
  for (size_t i = 0; i < e->n_args; i++)
    sx_add_arg(c, copy, join_scalars(c, cur, e->args[i]));
  return copy;
}

/* Applies one condition holding subqueries to cur. */
static rel apply_subq_conj(sctx *c, rel cur, sx *e) {
  bool neg = false;
  sx *s = e;
  if (s->kind == SX_NOT && s->args[0]->kind == SX_SUBQ &&
      s->args[0]->sub->kind != SUB_SCALAR) {
    neg = true;
    s = s->args[0];
  }
  if (s->kind == SX_SUBQ && s->sub->kind != SUB_SCALAR) {
    subq *q = s->sub;
    size_t nk = q->n_keys + (q->kind == SUB_IN);
    sx **pk = sa_alloc(c, (nk + 1) * sizeof *pk);
    sx **bk = sa_alloc(c, (nk + 1) * sizeof *bk);
    size_t k = 0;
    if (q->kind == SUB_IN) {
      pk[k] = join_scalars(c, &cur, q->test);
      bk[k++] = sx_col(c, q->value, s->loc);
    }
    for (size_t i = 0; i < q->n_keys; i++) {
      pk[k] = q->outer_keys[i];
      bk[k++] = sx_col(c, q->inner_keys[i], s->loc);
    }
    if (k == 0)
      sfail(c, s->loc, DQ_EUNSUPPORTED,
            "an EXISTS subquery needs an equality with the outer query "
            "(uncorrelated EXISTS is not supported)");
    rel out = hash_join(c, neg ? DQ_JOIN_LEFT_ANTI : DQ_JOIN_LEFT_SEMI, cur,
                        q->r, k, pk, bk, q->residual, s->loc);
    out.rows = cur.rows * 0.5;
    if (neg && q->kind == SUB_IN &&
        (sx_nullable(q->test) || q->value->nullable)) {
      /* NOT IN is not NOT EXISTS when NULLs appear: a NULL in the
       * subquery makes every row unknown, and a NULL test value is
       * unknown unless the subquery is empty.  Join in the subquery's
       * row counts and keep rows only where the answer is true. */
      if (q->n_keys > 0)
        sfail(c, s->loc, DQ_EUNSUPPORTED,
              "a correlated NOT IN over nullable columns is not supported "
              "(write NOT EXISTS)");
      subq again = {0};
      rel r2;
      plan_query(c, q->select, q->outer_scope, SUB_IN, &again, &r2);
      const char *nn = unique_iname(c, "notin_n");
      const char *nv = unique_iname(c, "notin_nv");
      dq_agg aggs[2] = {{DQ_AGG_COUNT_STAR, NULL, nn},
                        {DQ_AGG_COUNT, dq_expr_column(c->b, again.value->iname),
                         nv}};
      rel counts = {0};
      counts.node = scheck(c,
                           dq_node_aggregate(c->b, r2.node, DQ_AGG_SINGLE, 0,
                                             NULL, NULL, 2, aggs),
                           s->loc);
      counts.rows = 1;
      out = hash_join(c, DQ_JOIN_INNER, out, counts, 0, NULL, NULL, NULL,
                      s->loc);
      dq_expr *n_ = dq_expr_column(c->b, nn), *v_ = dq_expr_column(c->b, nv);
      dq_expr *keep = dq_expr_or(
          c->b, dq_expr_eq(c->b, n_, dq_expr_int64(c->b, 0)),
          dq_expr_and(c->b, dq_expr_is_not_null(c->b, sx_emit(c, q->test)),
                      dq_expr_eq(c->b, v_, n_)));
      out.node = scheck(c, dq_node_filter(c->b, out.node, keep), s->loc);
    }
    return out;
  }
  sx *f = join_scalars(c, &cur, e);
  return apply_filter(c, cur, f);
}

/* --- Joining a block ----------------------------------------------------------*/

/* --- Join order ---------------------------------------------------------------
 * Planned on estimates first, then built.  The largest input (after its
 * filters) is the probe side that streams.  Each step joins in the item,
 * connected to what is joined by an equality, that gives the smallest
 * estimated result; before it is hashed, an item is itself joined with
 * the items that hang off it alone when they shrink it (a filtered
 * customer reduces orders before orders meets lineitem: a bushy plan where
 * it pays).  A join's size is estimated as |A| |B| / min(base A, base B),
 * the textbook |A||B| / max(V(A,k), V(B,k)) with the smaller table's rows
 * standing for the key's distinct values, which is exact for a foreign key
 * into the smaller table.  Only where no equality connects the rest does
 * a cross product (of the smallest remaining item) happen. */

typedef struct jnode {
  int item;                 /* a leaf: the item; else -1 */
  struct jnode *probe, *build;
  uint64_t mask;
  double rows, base;
} jnode;

typedef struct jplan {
  sctx *c;
  block *bl;
  rel *rels;
  sx **conj;
  size_t n_conj;
  bool *done;
  size_t n;
} jplan;

static jnode *jp_leaf(jplan *p, int i) {
  jnode *j = sa_alloc(p->c, sizeof *j);
  j->item = i;
  j->mask = UINT64_C(1) << i;
  j->rows = p->rels[i].rows;
  j->base = p->bl->items[i]->base > j->rows ? p->bl->items[i]->base : j->rows;
  return j;
}

static double jp_est(const jnode *a, const jnode *b) {
  double v = a->base < b->base ? a->base : b->base;
  return a->rows * b->rows / (v > 1 ? v : 1);
}

static jnode *jp_join(jplan *p, jnode *probe, jnode *build) {
  jnode *j = sa_alloc(p->c, sizeof *j);
  if (build->rows > probe->rows) { /* hash the smaller side */
    jnode *t = probe;
    probe = build;
    build = t;
  }
  j->item = -1;
  j->probe = probe;
  j->build = build;
  j->mask = probe->mask | build->mask;
  j->rows = jp_est(probe, build);
  j->base = probe->base > build->base ? probe->base : build->base;
  return j;
}

/* Does an open equality join the item sets a and b? */
static bool jp_connected(const jplan *p, uint64_t a, uint64_t b) {
  for (size_t i = 0; i < p->n_conj; i++) {
    const sx *e = p->conj[i];
    if (p->done[i] || e->kind != SX_BIN || e->op != OP_EQ || e->has_subq ||
        e->has_outer || e->has_agg)
      continue;
    uint64_t l = e->args[0]->rels, r = e->args[1]->rels;
    if (l == 0 || r == 0)
      continue;
    if (((l & ~a) == 0 && (r & ~b) == 0) || ((l & ~b) == 0 && (r & ~a) == 0))
      return true;
  }
  return false;
}

/* Item k joined with the items off it (not connected to `avoid`) that
 * shrink it; marks what it takes in *used. */
static jnode *jp_reduce(jplan *p, int k, uint64_t avoid, uint64_t *used,
                        int depth) {
  jnode *t = jp_leaf(p, k);
  *used |= t->mask;
  if (depth > 6 || p->n > 16)
    return t;
  for (;;) {
    jnode *best = NULL;
    uint64_t best_used = 0;
    double best_e = t->rows * 0.9;
    for (size_t m = 0; m < p->n; m++) {
      uint64_t bit = UINT64_C(1) << m;
      if ((*used & bit) || jp_connected(p, avoid, bit) ||
          !jp_connected(p, t->mask, bit))
        continue;
      uint64_t u = *used;
      jnode *tm = jp_reduce(p, (int)m, avoid | t->mask, &u, depth + 1);
      double e = jp_est(t, tm);
      if (e < best_e) {
        best = tm;
        best_e = e;
        best_used = u;
      }
    }
    if (best == NULL)
      return t;
    t = jp_join(p, t, best);
    *used = best_used;
  }
}

static jnode *jp_order(jplan *p, int start) {
  uint64_t all = p->n >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << p->n) - 1;
  jnode *cur = jp_leaf(p, start);
  uint64_t used = cur->mask;
  while (used != all) {
    jnode *best = NULL;
    uint64_t best_used = 0;
    double best_e = 0;
    for (size_t j = 0; j < p->n; j++) {
      uint64_t bit = UINT64_C(1) << j;
      if ((used & bit) || !jp_connected(p, cur->mask, bit))
        continue;
      uint64_t u = used;
      jnode *tj = jp_reduce(p, (int)j, cur->mask, &u, 0);
      double e = jp_est(cur, tj);
      if (best == NULL || e < best_e ||
          (e == best_e && tj->rows < best->rows)) {
        best = tj;
        best_e = e;
        best_used = u;
      }
    }
    if (best == NULL) { /* nothing connects: the smallest, crossed */
      for (size_t j = 0; j < p->n; j++) {
        uint64_t bit = UINT64_C(1) << j;
        if (!(used & bit) && (best == NULL || p->rels[j].rows < best->rows))
          best = jp_leaf(p, (int)j);
      }
      best_used = used | best->mask;
    }
    cur = jp_join(p, cur, best);
    used = best_used;
  }
  return cur;
}

/* Builds the planned tree: keys are the open equalities between the two
 * sides; conditions in reach once a join is made are applied over it. */
static rel jp_emit(jplan *p, const jnode *t) {
  sctx *c = p->c;
  if (t->item >= 0)
    return p->rels[t->item];
  rel probe = jp_emit(p, t->probe);
  rel build = jp_emit(p, t->build);
  sx **pk = sa_alloc(c, (p->n_conj + 1) * sizeof *pk);
  sx **bk = sa_alloc(c, (p->n_conj + 1) * sizeof *bk);
  size_t nk = 0;
  for (size_t i = 0; i < p->n_conj; i++) {
    if (p->done[i])
      continue;
    if (equi_key(p->conj[i], probe.cols, probe.n, build.cols, build.n,
                 &pk[nk], &bk[nk])) {
      nk++;
      p->done[i] = true;
    }
  }
  int loc = t->build->item >= 0 ? p->bl->items[t->build->item]->loc : -1;
  rel cur = hash_join(c, DQ_JOIN_INNER, probe, build, nk, pk, bk, NULL, loc);
  cur.rows = t->rows > 1 ? t->rows : 1;
  for (size_t i = 0; i < p->n_conj; i++) {
    sx *e = p->conj[i];
    if (p->done[i] || e->has_subq || e->has_outer || e->has_agg)
      continue;
    if ((e->rels & ~t->mask) == 0) {
      cur = apply_filter(c, cur, e);
      p->done[i] = true;
    }
  }
  return cur;
}

static rel join_block(sctx *c, block *bl, sx **conj, size_t n_conj) {
  bool *done = sa_alloc(c, (n_conj + 1) * sizeof *done);
  /* Push single-item conditions into the items, those with subqueries
   * too (a semi join on orders alone shrinks orders before it meets
   * lineitem: inner joins commute with it). */
  for (size_t i = 0; i < n_conj; i++) {
    sx *e = conj[i];
    if (e->has_outer || e->has_agg)
      continue;
    if (e->rels != 0 && (e->rels & (e->rels - 1)) == 0) {
      int k = __builtin_ctzll(e->rels);
      item *it = bl->items[k];
      if (e->has_subq)
        push_sx(c, &it->subq_filters, &it->n_subq_filters, e);
      else
        push_sx(c, &it->filters, &it->n_filters, e);
      done[i] = true;
    }
  }
  size_t n = bl->n_items;
  rel *rels = sa_alloc(c, (n + 1) * sizeof *rels);
  for (size_t i = 0; i < n; i++)
    rels[i] = build_item(c, bl->items[i]);
  jplan jp = {c, bl, rels, conj, n_conj, done, n};
  int start = 0;
  for (size_t i = 1; i < n; i++)
    if (rels[i].rows > rels[start].rows)
      start = (int)i;
  rel cur = jp_emit(&jp, jp_order(&jp, start));
  for (size_t i = 0; i < n_conj; i++) {
    if (done[i] || conj[i]->has_subq)
      continue;
    if (conj[i]->has_agg)
      sfail(c, conj[i]->loc, DQ_EINVAL,
            "aggregate functions are not allowed in WHERE");
    cur = apply_filter(c, cur, conj[i]);
    done[i] = true;
  }
  for (size_t i = 0; i < n_conj; i++)
    if (!done[i])
      cur = apply_subq_conj(c, cur, conj[i]);
  return cur;
}

/* --- Conjuncts ----------------------------------------------------------------*/

static void split_and(sctx *c, sx *e, sx ***out, size_t *n) {
  if (e->kind == SX_AND) {
    for (size_t i = 0; i < e->n_args; i++)
      split_and(c, e->args[i], out, n);
  } else {
    push_sx(c, out, n, e);
  }
}

/* (A and X) or (A and Y) -> A and (X or Y): hoists the conditions every
 * branch of an OR shares, so that join keys written inside each branch
 * (TPC-H Q19) become join keys. */
static sx *factor_or(sctx *c, sx *e) {
  if (e->kind != SX_OR || e->n_args < 2)
    return e;
  sx ***parts = sa_alloc(c, e->n_args * sizeof *parts);
  size_t *np = sa_alloc(c, e->n_args * sizeof *np);
  for (size_t i = 0; i < e->n_args; i++)
    split_and(c, e->args[i], &parts[i], &np[i]);
  sx *common = NULL;
  bool **taken = sa_alloc(c, e->n_args * sizeof *taken);
  for (size_t i = 0; i < e->n_args; i++)
    taken[i] = sa_alloc(c, (np[i] + 1) * sizeof **taken);
  for (size_t k = 0; k < np[0]; k++) {
    sx *cand = parts[0][k];
    bool everywhere = true;
    size_t *where = sa_alloc(c, e->n_args * sizeof *where);
    for (size_t i = 1; i < e->n_args && everywhere; i++) {
      everywhere = false;
      for (size_t m = 0; m < np[i]; m++)
        if (!taken[i][m] && sx_equal(parts[i][m], cand)) {
          everywhere = true;
          where[i] = m;
          break;
        }
    }
    if (!everywhere)
      continue;
    taken[0][k] = true;
    for (size_t i = 1; i < e->n_args; i++)
      taken[i][where[i]] = true;
    common = and_of(c, common, cand);
  }
  if (common == NULL)
    return e;
  sx *rest = sx_new(c, SX_OR, e->loc);
  rest->type = e->type;
  for (size_t i = 0; i < e->n_args; i++) {
    sx *branch = NULL;
    for (size_t m = 0; m < np[i]; m++)
      if (!taken[i][m])
        branch = and_of(c, branch, parts[i][m]);
    if (branch == NULL)
      return common; /* one branch is all common: the OR is true */
    sx_add_arg(c, rest, branch);
  }
  return and_of(c, common, rest);
}

/* --- Aggregation --------------------------------------------------------------*/

typedef struct aggs {
  sx **groups;
  sql_col **group_cols;
  size_t n_groups;
  sx **list;
  sql_col **cols;
  size_t n;
} aggs;

static void collect_aggs(sctx *c, aggs *a, sx *e) {
  if (e->kind == SX_AGG) {
    for (size_t i = 0; i < a->n; i++)
      if (sx_equal(a->list[i], e))
        return;
    push_sx(c, &a->list, &a->n, e);
    return;
  }
  for (size_t i = 0; i < e->n_args; i++)
    collect_aggs(c, a, e->args[i]);
}

static sx *post_agg(sctx *c, aggs *a, sx *e) {
  for (size_t i = 0; i < a->n_groups; i++)
    if (sx_equal(a->groups[i], e))
      return sx_col(c, a->group_cols[i], e->loc);
  if (e->kind == SX_AGG) {
    for (size_t i = 0; i < a->n; i++)
      if (sx_equal(a->list[i], e))
        return sx_col(c, a->cols[i], e->loc);
  }
  if (e->kind == SX_COL && e->outer == 0)
    sfail(c, e->loc, DQ_EINVAL,
          "column \"%s%s%s\" must appear in the GROUP BY clause or be used "
          "in an aggregate function",
          e->col->qual ? e->col->qual : "", e->col->qual ? "." : "",
          e->col->name);
  if (e->kind == SX_COL)
    sfail(c, e->loc, DQ_EUNSUPPORTED,
          "an outer reference above an aggregate is not supported");
  if (e->n_args == 0 || e->kind == SX_SUBQ)
    return e;
  sx *copy = sa_alloc(c, sizeof *copy);
  *copy = *e;
  copy->args = NULL;
  copy->n_args = 0;
  copy->rels = 0;
  copy->has_agg = false;
  copy->has_outer = false;
  copy->has_subq = e->kind == SX_SUBQ;
  for (size_t i = 0; i < e->n_args; i++)
    sx_add_arg(c, copy, post_agg(c, a, e->args[i]));
  copy->rels = 0;
  return copy;
}

static sql_col *new_col(sctx *c, const char *name, dq_type t, bool nullable) {
  sql_col *col = sa_alloc(c, sizeof *col);
  col->name = sa_lower(c, name);
  col->iname = unique_iname(c, col->name);
  col->type = t;
  col->nullable = nullable;
  col->item = -1;
  return col;
}

static void fix_types(rel *r) {
  const dq_schema *s = dq_node_schema(r->node);
  for (size_t i = 0; i < r->n; i++) {
    int k = dq_schema_field_index(s, r->cols[i]->iname);
    if (k >= 0)
      r->cols[i]->type = dq_schema_field_type(s, (size_t)k);
  }
}

/* The aggregate node.  count(DISTINCT x) and friends run as an aggregate
 * over a grouping on (keys, x): the first level groups by keys and x and
 * computes the other aggregates partially (sum, count, min, max), the
 * second groups by keys, aggregates x and merges the partial values
 * (counts are summed). */
static rel aggregate(sctx *c, rel in, aggs *a, int loc) {
  const sx *darg = NULL;
  for (size_t i = 0; i < a->n; i++) {
    const sx *g = a->list[i];
    if (!g->distinct)
      continue;
    if (darg != NULL && !sx_equal(darg, g->args[0]))
      sfail(c, g->loc, DQ_EUNSUPPORTED,
            "DISTINCT aggregates over different arguments in one query are "
            "not supported");
    darg = g->args[0];
  }
  if (darg != NULL)
    for (size_t i = 0; i < a->n; i++)
      if (!a->list[i]->distinct && a->list[i]->op == DQ_AGG_AVG)
        sfail(c, a->list[i]->loc, DQ_EUNSUPPORTED,
              "avg() beside a DISTINCT aggregate is not supported (write "
              "sum() / count())");
  size_t ng = a->n_groups;
  dq_expr **ge = sa_alloc(c, (ng + 2) * sizeof *ge);
  const char **gn = sa_alloc(c, (ng + 2) * sizeof *gn);
  a->group_cols = sa_alloc(c, (ng + 1) * sizeof *a->group_cols);
  for (size_t i = 0; i < ng; i++) {
    sx *g = a->groups[i];
    const char *name = g->kind == SX_COL ? g->col->name : "group";
    sql_col *col = new_col(c, name, g->type, true);
    if (g->kind == SX_COL)
      col->qual = g->col->qual;
    a->group_cols[i] = col;
    ge[i] = sx_emit(c, g);
    gn[i] = col->iname;
  }
  a->cols = sa_alloc(c, (a->n + 1) * sizeof *a->cols);
  dq_agg *da = sa_alloc(c, (a->n + 1) * sizeof *da);
  const char **partial = sa_alloc(c, (a->n + 1) * sizeof *partial);
  dq_node *input = in.node;
  const char *dname = NULL;
  if (darg != NULL) {
    /* First level: one row per (keys, x), the other aggregates partial. */
    dname = unique_iname(c, "distinct_arg");
    ge[ng] = sx_emit(c, darg);
    gn[ng] = dname;
    const char **tmp = sa_alloc(c, (ng + 2) * sizeof *tmp);
    for (size_t i = 0; i < ng; i++)
      tmp[i] = unique_iname(c, gn[i]);
    tmp[ng] = dname;
    dq_agg *pa = sa_alloc(c, (a->n + 1) * sizeof *pa);
    size_t np = 0;
    for (size_t i = 0; i < a->n; i++) {
      sx *g = a->list[i];
      if (g->distinct)
        continue;
      partial[i] = unique_iname(c, "partial");
      pa[np].func = (dq_agg_func)g->op;
      pa[np].arg = g->op == DQ_AGG_COUNT_STAR ? NULL : sx_emit(c, g->args[0]);
      pa[np++].name = partial[i];
    }
    input = scheck(c,
                   dq_node_aggregate(c->b, input, DQ_AGG_SINGLE, ng + 1,
                                     (dq_expr *const *)ge, tmp, np, pa),
                   loc);
    for (size_t i = 0; i < ng; i++)
      ge[i] = dq_expr_column(c->b, tmp[i]);
  }
  bool fix_counts = false;
  for (size_t i = 0; i < a->n; i++) {
    sx *g = a->list[i];
    static const char *const fn[] = {"", "sum", "count", "count", "min", "max",
                                     "avg"};
    sql_col *col = new_col(c, fn[g->op], g->type, true);
    a->cols[i] = col;
    da[i].name = col->iname;
    if (dname != NULL && g->distinct) {
      da[i].func = (dq_agg_func)g->op;
      da[i].arg = dq_expr_column(c->b, dname);
    } else if (dname != NULL) {
      bool count = g->op == DQ_AGG_COUNT || g->op == DQ_AGG_COUNT_STAR;
      da[i].func = count ? DQ_AGG_SUM : (dq_agg_func)g->op;
      da[i].arg = dq_expr_column(c->b, partial[i]);
      fix_counts |= count && ng == 0;
    } else {
      da[i].func = (dq_agg_func)g->op;
      da[i].arg = g->op == DQ_AGG_COUNT_STAR ? NULL : sx_emit(c, g->args[0]);
    }
  }
  rel out = {0};
  out.node = scheck(c,
                    dq_node_aggregate(c->b, input, DQ_AGG_SINGLE, ng,
                                      (dq_expr *const *)ge, gn, a->n, da),
                    loc);
  if (fix_counts) {
    /* A merged count over no rows at all is a sum of nothing: NULL, where
     * count says 0. */
    dq_expr **ex = sa_alloc(c, (a->n + 1) * sizeof *ex);
    const char **nm = sa_alloc(c, (a->n + 1) * sizeof *nm);
    for (size_t i = 0; i < a->n; i++) {
      sx *g = a->list[i];
      dq_expr *v = dq_expr_column(c->b, da[i].name);
      if (!g->distinct &&
          (g->op == DQ_AGG_COUNT || g->op == DQ_AGG_COUNT_STAR)) {
        dq_expr *w = dq_expr_is_null(c->b, v);
        dq_expr *z = dq_expr_int64(c->b, 0);
        v = dq_expr_case(c->b, 1, &w, &z, v);
      }
      sql_col *col = new_col(c, a->cols[i]->name, g->type, true);
      ex[i] = v;
      nm[i] = col->iname;
      a->cols[i] = col;
    }
    out.node = scheck(c, dq_node_project(c->b, out.node, a->n,
                                         (dq_expr *const *)ex, nm),
                      loc);
  }
  out.rows = ng == 0 ? 1 : in.rows / 10 > 1 ? in.rows / 10 : 1;
  out.n = ng + a->n;
  out.cols = sa_alloc(c, (out.n + 1) * sizeof *out.cols);
  for (size_t i = 0; i < ng; i++)
    out.cols[i] = a->group_cols[i];
  for (size_t i = 0; i < a->n; i++)
    out.cols[ng + i] = a->cols[i];
  fix_types(&out);
  return out;
}

/* --- A block ----------------------------------------------------------------*/

static bool has_count(const sx *e) {
  if (e->kind == SX_AGG &&
      (e->op == DQ_AGG_COUNT || e->op == DQ_AGG_COUNT_STAR))
    return true;
  for (size_t i = 0; i < e->n_args; i++)
    if (has_count(e->args[i]))
      return true;
  return false;
}

typedef struct target {
  sx *e;
  const char *name;
  int loc;
} target;

static int64_t const_count(sctx *c, scope *sc, const pgnode *n,
                           const char *what) {
  sx *e = bind_expr(c, sc, n, false);
  if (e->kind == SX_CONST && e->v.kind == CV_NULL)
    return -1;
  if (e->kind != SX_CONST || e->v.kind != CV_INT || e->v.i < 0)
    sfail(c, e->loc, DQ_EINVAL, "%s must be a non-negative integer constant",
          what);
  return e->v.i;
}

static void plan_block(sctx *c, const PgQuery__SelectStmt *st, scope *outer,
                       sub_kind kind, subq *sq, rel *out);

static rel project(sctx *c, rel in, size_t n, sx **es, sql_col **cols, int loc) {
  dq_expr **ex = sa_alloc(c, (n + 1) * sizeof *ex);
  const char **nm = sa_alloc(c, (n + 1) * sizeof *nm);
  for (size_t i = 0; i < n; i++) {
    ex[i] = sx_emit(c, es[i]);
    nm[i] = cols[i]->iname;
  }
  rel out = {0};
  out.node = scheck(c, dq_node_project(c->b, in.node, n, (dq_expr *const *)ex,
                                       nm),
                    loc);
  out.cols = cols;
  out.n = n;
  out.rows = in.rows;
  fix_types(&out);
  return out;
}

static void plan_setop(sctx *c, const PgQuery__SelectStmt *st, rel *out) {
  if (st->op != PG_QUERY__SET_OPERATION__SETOP_UNION)
    sfail(c, -1, DQ_EUNSUPPORTED, "INTERSECT and EXCEPT are not supported");
  rel l, r;
  PgQuery__Node ln = PG_QUERY__NODE__INIT, rn = PG_QUERY__NODE__INIT;
  ln.node_case = rn.node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
  ln.select_stmt = st->larg;
  rn.select_stmt = st->rarg;
  plan_query(c, &ln, NULL, SUB_FROM, NULL, &l);
  plan_query(c, &rn, NULL, SUB_FROM, NULL, &r);
  if (l.n != r.n)
    sfail(c, -1, DQ_EINVAL, "each UNION query must have the same number of "
                            "columns (%zu and %zu)", l.n, r.n);
  const dq_schema *ls = dq_node_schema(l.node), *rs = dq_node_schema(r.node);
  for (size_t i = 0; i < l.n; i++) {
    dq_type a = dq_schema_field_type(ls, i), b = dq_schema_field_type(rs, i);
    if (a.id != b.id || a.precision != b.precision || a.scale != b.scale)
      sfail(c, -1, DQ_EINVAL,
            "UNION column %zu (\"%s\") has different types on each side "
            "(CAST one to the other's type)",
            i + 1, l.cols[i]->name);
  }
  dq_node *ins[2] = {l.node, r.node};
  rel u = l;
  u.node = scheck(c, dq_node_union(c->b, 2, ins), -1);
  u.rows = l.rows + r.rows;
  if (!st->all) {
    dq_expr **g = sa_alloc(c, (u.n + 1) * sizeof *g);
    const char **gn = sa_alloc(c, (u.n + 1) * sizeof *gn);
    for (size_t i = 0; i < u.n; i++) {
      g[i] = dq_expr_column(c->b, u.cols[i]->iname);
      gn[i] = u.cols[i]->iname;
    }
    u.node = scheck(c, dq_node_aggregate(c->b, u.node, DQ_AGG_SINGLE, u.n,
                                         (dq_expr *const *)g, gn, 0, NULL),
                    -1);
  }
  *out = u;
}

/* ORDER BY / LIMIT over an already planned relation (set operations). */
static rel order_limit_outputs(sctx *c, rel r, const PgQuery__SelectStmt *st) {
  scope sc = {r.cols, r.n, NULL};
  size_t nk = st->n_sort_clause;
  dq_sort_key *keys = sa_alloc(c, (nk + 1) * sizeof *keys);
  for (size_t i = 0; i < nk; i++) {
    const PgQuery__SortBy *sb = st->sort_clause[i]->sort_by;
    sx *e = bind_expr(c, &sc, sb->node, false);
    if (e->kind == SX_CONST && e->v.kind == CV_INT) {
      if (e->v.i < 1 || (size_t)e->v.i > r.n)
        sfail(c, e->loc, DQ_EINVAL, "ORDER BY position %lld is not in the "
              "select list", (long long)e->v.i);
      e = sx_col(c, r.cols[e->v.i - 1], e->loc);
    }
    keys[i].expr = sx_emit(c, e);
    keys[i].descending = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    keys[i].nulls_first =
        sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
        (sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST &&
         keys[i].descending);
  }
  int64_t limit = st->limit_count ? const_count(c, &sc, st->limit_count,
                                                "LIMIT")
                                  : -1;
  int64_t offset = st->limit_offset ? const_count(c, &sc, st->limit_offset,
                                                  "OFFSET")
                                    : 0;
  if (offset < 0)
    offset = 0;
  if (nk > 0 && limit >= 0)
    r.node = scheck(c, dq_node_topn(c->b, r.node, nk, keys, limit, offset), -1);
  else {
    if (nk > 0)
      r.node = scheck(c, dq_node_sort(c->b, r.node, nk, keys), -1);
    if (limit >= 0 || offset > 0)
      r.node = scheck(c, dq_node_limit(c->b, r.node,
                                       limit >= 0 ? limit : INT64_MAX, offset),
                      -1);
  }
  return r;
}

void plan_query(sctx *c, const pgnode *n, scope *outer, sub_kind kind,
                subq *sq, rel *out) {
  if (++c->depth > 100)
    sfail(c, -1, DQ_EUNSUPPORTED, "queries nested too deeply");
  if (n->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
    sfail(c, -1, DQ_EUNSUPPORTED, "a subquery must be a SELECT");
  const PgQuery__SelectStmt *st = n->select_stmt;
  size_t saved_ctes = c->n_ctes;
  if (st->with_clause != NULL) {
    if (st->with_clause->recursive)
      sfail(c, st->with_clause->location, DQ_EUNSUPPORTED,
            "WITH RECURSIVE is not supported");
    for (size_t i = 0; i < st->with_clause->n_ctes; i++) {
      const pgnode *q = st->with_clause->ctes[i];
      if (c->n_ctes == c->cap_ctes) {
        size_t cap = c->cap_ctes ? 2 * c->cap_ctes : 8;
        const PgQuery__CommonTableExpr **g = sa_alloc(c, cap * sizeof *g);
        const char **s = sa_alloc(c, cap * sizeof *s);
        if (c->n_ctes) {
          memcpy(g, c->ctes, c->n_ctes * sizeof *g);
          memcpy(s, c->cte_src, c->n_ctes * sizeof *s);
        }
        c->ctes = g;
        c->cte_src = s;
        c->cap_ctes = cap;
      }
      c->ctes[c->n_ctes] = q->common_table_expr;
      c->cte_src[c->n_ctes++] = c->src;
    }
  }
  if (st->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
      st->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED) {
    if (kind != SUB_FROM && outer != NULL)
      sfail(c, -1, DQ_EUNSUPPORTED, "UNION inside a subquery expression is "
                                    "not supported");
    rel r;
    plan_setop(c, st, &r);
    r = order_limit_outputs(c, r, st);
    if (kind == SUB_IN || kind == SUB_SCALAR) {
      if (r.n != 1)
        sfail(c, -1, DQ_EINVAL, "subquery must return only one column");
      sq->value = r.cols[0];
      if (kind == SUB_SCALAR)
        sfail(c, -1, DQ_EUNSUPPORTED, "a scalar subquery must be an "
                                      "aggregate without GROUP BY");
    }
    *out = r;
  } else {
    plan_block(c, st, outer, kind, sq, out);
  }
  c->n_ctes = saved_ctes;
  c->depth--;
}

static void plan_block(sctx *c, const PgQuery__SelectStmt *st, scope *outer,
                       sub_kind kind, subq *sq, rel *out) {
  if (st->n_values_lists > 0)
    sfail(c, -1, DQ_EUNSUPPORTED, "VALUES lists are not supported");
  if (st->into_clause != NULL)
    sfail(c, -1, DQ_EUNSUPPORTED, "SELECT INTO is not supported");
  if (st->n_window_clause > 0)
    sfail(c, -1, DQ_EUNSUPPORTED, "WINDOW clauses are not supported");
  if (st->n_locking_clause > 0)
    sfail(c, -1, DQ_EUNSUPPORTED, "FOR UPDATE/SHARE is not supported");
  if (st->n_from_clause == 0)
    sfail(c, st->n_target_list ? st->target_list[0]->res_target->location : -1,
          DQ_EUNSUPPORTED, "SELECT without FROM is not supported");
  bool distinct = st->n_distinct_clause > 0;
  if (distinct && !(st->n_distinct_clause == 1 &&
                    st->distinct_clause[0]->node_case ==
                        PG_QUERY__NODE__NODE__NOT_SET))
    sfail(c, -1, DQ_EUNSUPPORTED, "DISTINCT ON is not supported");

  block bl = {0};
  bl.sc.outer = outer;
  for (size_t i = 0; i < st->n_from_clause; i++)
    add_from(c, &bl, st->from_clause[i], outer);

  /* WHERE and the ON of inner joins: conjuncts. */
  sx **conj = NULL;
  size_t n_conj = 0;
  for (size_t i = 0; i < bl.n_pending; i++) {
    sx *e = bind_expr(c, &bl.sc, bl.pending_on[i], false);
    if (e->type.id != DQ_TYPE_BOOL)
      sfail(c, e->loc, DQ_EINVAL, "argument of JOIN/ON must be boolean");
    split_and(c, e, &conj, &n_conj);
  }
  if (st->where_clause != NULL) {
    sx *w = bind_expr(c, &bl.sc, st->where_clause, false);
    if (w->type.id != DQ_TYPE_BOOL)
      sfail(c, w->loc, DQ_EINVAL, "argument of WHERE must be boolean, not a "
                                  "value");
    split_and(c, w, &conj, &n_conj);
  }
  for (size_t i = 0; i < n_conj; i++)
    conj[i] = factor_or(c, conj[i]);
  {
    /* Factoring may produce ANDs: split again. */
    sx **flat = NULL;
    size_t nf = 0;
    for (size_t i = 0; i < n_conj; i++)
      split_and(c, conj[i], &flat, &nf);
    conj = flat;
    n_conj = nf;
  }

  /* Correlation: conditions that reach outside this block. */
  sx **corr = NULL;
  size_t n_corr = 0;
  if (kind != SUB_FROM) {
    size_t k = 0;
    for (size_t i = 0; i < n_conj; i++) {
      sx *e = conj[i];
      if (e->has_outer && !e->has_subq)
        push_sx(c, &corr, &n_corr, e);
      else if (e->has_outer)
        sfail(c, e->loc, DQ_EUNSUPPORTED,
              "a condition with both a subquery and an outer reference is "
              "not supported");
      else
        conj[k++] = e;
    }
    n_conj = k;
  }

  /* Select list (stars expanded). */
  target *tl = NULL;
  size_t n_t = 0;
  for (size_t i = 0; i < st->n_target_list; i++) {
    const PgQuery__ResTarget *rt = st->target_list[i]->res_target;
    const pgnode *v = rt->val;
    if (v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
      const PgQuery__ColumnRef *cr = v->column_ref;
      const pgnode *last = cr->fields[cr->n_fields - 1];
      if (last->node_case == PG_QUERY__NODE__NODE_A_STAR) {
        const char *qual = cr->n_fields == 2 ? str_of(cr->fields[0]) : NULL;
        bool any = false;
        for (size_t k = 0; k < bl.sc.n; k++) {
          sql_col *col = bl.sc.cols[k];
          if (qual && (col->qual == NULL || strcasecmp(col->qual, qual) != 0))
            continue;
          col->used = true;
          tl = sa_grow(c, tl, n_t, sizeof *tl);
          tl[n_t++] = (target){sx_col(c, col, cr->location), col->name,
                               cr->location};
          any = true;
        }
        if (!any && qual)
          sfail(c, cr->location, DQ_ENOENT,
                "missing FROM-clause entry for table \"%s\"", qual);
        continue;
      }
    }
    tl = sa_grow(c, tl, n_t, sizeof *tl);
    tl[n_t++] = (target){bind_expr(c, &bl.sc, v, true),
                         rt->name && rt->name[0] ? sa_lower(c, rt->name)
                                  : sa_lower(c, sx_name(v)),
                         rt->location};
  }
  if (n_t == 0)
    sfail(c, -1, DQ_EINVAL, "SELECT needs at least one output column");
  for (size_t i = 0; i < n_t; i++)
    if (tl[i].e->has_outer)
      sfail(c, tl[i].loc, DQ_EUNSUPPORTED,
            "outer references in a subquery's select list are not "
            "supported");

  /* GROUP BY: input columns first, then output names, then positions. */
  aggs ag = {0};
  for (size_t i = 0; i < st->n_group_clause; i++) {
    const pgnode *g = st->group_clause[i];
    sx *e = NULL;
    if (g->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        g->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
      int pos = g->a_const->ival->ival;
      if (pos < 1 || (size_t)pos > n_t)
        sfail(c, g->a_const->location, DQ_EINVAL,
              "GROUP BY position %d is not in the select list", pos);
      e = tl[pos - 1].e;
    } else if (g->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
               g->column_ref->n_fields == 1) {
      const char *name = str_of(g->column_ref->fields[0]);
      bool input = false;
      for (size_t k = 0; k < bl.sc.n && name; k++)
        input |= strcasecmp(bl.sc.cols[k]->name, name) == 0;
      if (!input)
        for (size_t k = 0; k < n_t && name; k++)
          if (strcasecmp(tl[k].name, name) == 0) {
            e = tl[k].e;
            break;
          }
    }
    if (e == NULL)
      e = bind_expr(c, &bl.sc, g, false);
    if (e->has_agg)
      sfail(c, e->loc, DQ_EINVAL, "aggregate functions are not allowed in "
                                  "GROUP BY");
    if (e->has_subq)
      sfail(c, e->loc, DQ_EUNSUPPORTED, "subqueries in GROUP BY are not "
                                        "supported");
    push_sx(c, &ag.groups, &ag.n_groups, e);
  }
  sx *having = st->having_clause ? bind_expr(c, &bl.sc, st->having_clause, true)
                                 : NULL;

  /* ORDER BY: output names and positions, else expressions of the input. */
  size_t n_sort = st->n_sort_clause;
  sx **sort_e = sa_alloc(c, (n_sort + 1) * sizeof *sort_e);
  int *sort_out = sa_alloc(c, (n_sort + 1) * sizeof *sort_out);
  for (size_t i = 0; i < n_sort; i++) {
    const PgQuery__SortBy *sb = st->sort_clause[i]->sort_by;
    const pgnode *v = sb->node;
    sort_out[i] = -1;
    if (v->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        v->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
      int pos = v->a_const->ival->ival;
      if (pos < 1 || (size_t)pos > n_t)
        sfail(c, v->a_const->location, DQ_EINVAL,
              "ORDER BY position %d is not in the select list", pos);
      sort_out[i] = pos - 1;
      continue;
    }
    if (v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
        v->column_ref->n_fields == 1) {
      const char *name = str_of(v->column_ref->fields[0]);
      for (size_t k = 0; k < n_t && name; k++)
        if (strcasecmp(tl[k].name, name) == 0) {
          sort_out[i] = (int)k;
          break;
        }
      if (sort_out[i] >= 0)
        continue;
    }
    sort_e[i] = bind_expr(c, &bl.sc, v, true);
    if (sort_e[i]->has_subq)
      sfail(c, sort_e[i]->loc, DQ_EUNSUPPORTED, "subqueries in ORDER BY are "
                                                "not supported");
  }

  bool has_agg = ag.n_groups > 0 || (having && having->has_agg);
  for (size_t i = 0; i < n_t; i++)
    has_agg |= tl[i].e->has_agg;
  for (size_t i = 0; i < n_sort; i++)
    has_agg |= sort_out[i] < 0 && sort_e[i]->has_agg;
  if (having != NULL && !has_agg)
    has_agg = true; /* HAVING alone makes one group */

  /* Decorrelation: equalities with the outer query become keys. */
  sx **okeys = NULL;
  sx **ikeys = NULL;
  size_t n_keys = 0;
  sx *residual = NULL;
  for (size_t i = 0; i < n_corr; i++) {
    sx *e = corr[i];
    sx *o = NULL, *in = NULL;
    if (e->kind == SX_BIN && e->op == OP_EQ) {
      sx *a = e->args[0], *b = e->args[1];
      if (a->has_outer && !sx_has_local_col(a) && !b->has_outer)
        o = a, in = b;
      else if (b->has_outer && !sx_has_local_col(b) && !a->has_outer)
        o = b, in = a;
    }
    if (o != NULL && in->kind == SX_COL) {
      /* The outer side is bound in the outer block: re-seat its levels. */
      push_sx(c, &okeys, &n_keys, o);
      n_keys--;
      push_sx(c, &ikeys, &n_keys, in);
    } else {
      if (kind == SUB_SCALAR)
        sfail(c, e->loc, DQ_EUNSUPPORTED,
              "a correlated scalar subquery may refer to the outer query "
              "only in equalities (inner_column = outer_expression)");
      residual = and_of(c, residual, e);
    }
  }

  rel r = join_block(c, &bl, conj, n_conj);

  if (kind == SUB_EXISTS || (kind == SUB_IN && !has_agg && !distinct)) {
    if (kind == SUB_IN) {
      if (n_t != 1)
        sfail(c, tl[n_t > 1 ? 1 : 0].loc, DQ_EINVAL,
              "subquery has too many columns");
      sx *v = tl[0].e;
      if (v->kind == SX_COL) {
        sq->value = v->col;
      } else {
        sql_col **cols = sa_alloc(c, (r.n + 2) * sizeof *cols);
        sx **es = sa_alloc(c, (r.n + 2) * sizeof *es);
        for (size_t i = 0; i < r.n; i++) {
          cols[i] = r.cols[i];
          es[i] = sx_col(c, r.cols[i], v->loc);
        }
        cols[r.n] = new_col(c, tl[0].name, v->type, true);
        es[r.n] = v;
        r = project(c, r, r.n + 1, es, cols, v->loc);
        sq->value = cols[r.n - 1];
      }
    } else if (has_agg) {
      sfail(c, -1, DQ_EUNSUPPORTED, "aggregates in an EXISTS subquery are "
                                    "not supported");
    }
    sq->n_keys = n_keys;
    sq->outer_keys = okeys;
    sq->inner_keys = sa_alloc(c, (n_keys + 1) * sizeof *sq->inner_keys);
    for (size_t i = 0; i < n_keys; i++)
      sq->inner_keys[i] = ikeys[i]->col;
    sq->residual = residual;
    *out = r;
    return;
  }
  if (kind == SUB_IN && (n_keys > 0 || residual != NULL))
    sfail(c, -1, DQ_EUNSUPPORTED,
          "a correlated IN subquery with aggregates or DISTINCT is not "
          "supported");
  if (kind == SUB_SCALAR && n_keys > 0 && n_t == 1 && has_count(tl[0].e))
    sfail(c, tl[0].loc, DQ_EUNSUPPORTED,
          "a correlated scalar subquery with count() is not supported (its "
          "empty groups would read as NULL, not 0): join a grouped subquery "
          "instead");
  if (kind == SUB_SCALAR && (!has_agg || ag.n_groups > 0))
    sfail(c, -1, DQ_EUNSUPPORTED,
          "a scalar subquery must be an aggregate without GROUP BY (one "
          "row)");

  /* Aggregation. */
  size_t user_groups = ag.n_groups;
  if (has_agg) {
    for (size_t i = 0; i < n_keys; i++)
      push_sx(c, &ag.groups, &ag.n_groups, ikeys[i]);
    for (size_t i = 0; i < n_t; i++)
      collect_aggs(c, &ag, tl[i].e);
    if (having)
      collect_aggs(c, &ag, having);
    for (size_t i = 0; i < n_sort; i++)
      if (sort_out[i] < 0)
        collect_aggs(c, &ag, sort_e[i]);
    r = aggregate(c, r, &ag, -1);
    for (size_t i = 0; i < n_t; i++)
      tl[i].e = post_agg(c, &ag, tl[i].e);
    for (size_t i = 0; i < n_sort; i++)
      if (sort_out[i] < 0)
        sort_e[i] = post_agg(c, &ag, sort_e[i]);
    if (having) {
      sx *h = post_agg(c, &ag, having);
      sx **hc = NULL;
      size_t nh = 0;
      split_and(c, h, &hc, &nh);
      for (size_t i = 0; i < nh; i++)
        r = hc[i]->has_subq ? apply_subq_conj(c, r, hc[i])
                            : apply_filter(c, r, hc[i]);
    }
  }
  (void)user_groups;

  /* The select list, then hidden sort columns. */
  size_t extra = kind == SUB_SCALAR ? n_keys : 0;
  sx **es = sa_alloc(c, (n_t + n_sort + extra + 1) * sizeof *es);
  sql_col **cols = sa_alloc(c, (n_t + n_sort + extra + 1) * sizeof *cols);
  size_t n_out = 0;
  for (size_t i = 0; i < n_t; i++) {
    if (tl[i].e->has_subq) {
      /* A scalar subquery in the select list: joined in first. */
      tl[i].e = join_scalars(c, &r, tl[i].e);
    }
    es[n_out] = tl[i].e;
    cols[n_out] = new_col(c, tl[i].name, tl[i].e->type, true);
    if (tl[i].e->kind == SX_COL) {
      cols[n_out]->nullable = tl[i].e->col->nullable;
      cols[n_out]->qual = tl[i].e->col->qual;
    }
    n_out++;
  }
  if (kind == SUB_SCALAR) {
    if (n_t != 1)
      sfail(c, tl[1].loc, DQ_EINVAL, "subquery must return only one column");
    sq->inner_keys = sa_alloc(c, (n_keys + 1) * sizeof *sq->inner_keys);
    for (size_t i = 0; i < n_keys; i++) {
      es[n_out] = sx_col(c, ag.group_cols[user_groups + i], -1);
      cols[n_out] = new_col(c, ag.group_cols[user_groups + i]->name,
                            ag.group_cols[user_groups + i]->type, true);
      sq->inner_keys[i] = cols[n_out];
      n_out++;
    }
    sq->n_keys = n_keys;
    sq->outer_keys = okeys;
  }
  size_t n_visible = n_out;
  dq_sort_key *keys = sa_alloc(c, (n_sort + 1) * sizeof *keys);
  for (size_t i = 0; i < n_sort; i++) {
    int k = sort_out[i];
    if (k < 0) {
      for (size_t j = 0; j < n_visible; j++)
        if (sx_equal(es[j], sort_e[i])) {
          k = (int)j;
          break;
        }
    }
    if (k < 0) {
      if (distinct)
        sfail(c, sort_e[i]->loc, DQ_EINVAL,
              "for SELECT DISTINCT, ORDER BY expressions must appear in the "
              "select list");
      es[n_out] = sort_e[i];
      cols[n_out] = new_col(c, "sort_key", sort_e[i]->type, true);
      k = (int)n_out++;
    }
    sort_out[i] = k;
  }
  r = project(c, r, n_out, es, cols, -1);
  if (distinct) {
    dq_expr **g = sa_alloc(c, (n_out + 1) * sizeof *g);
    const char **gn = sa_alloc(c, (n_out + 1) * sizeof *gn);
    for (size_t i = 0; i < n_out; i++) {
      g[i] = dq_expr_column(c->b, cols[i]->iname);
      gn[i] = cols[i]->iname;
    }
    r.node = scheck(c, dq_node_aggregate(c->b, r.node, DQ_AGG_SINGLE, n_out,
                                         (dq_expr *const *)g, gn, 0, NULL),
                    -1);
  }
  for (size_t i = 0; i < n_sort; i++) {
    const PgQuery__SortBy *sb = st->sort_clause[i]->sort_by;
    keys[i].expr = dq_expr_column(c->b, cols[sort_out[i]]->iname);
    keys[i].descending = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    /* PostgreSQL: NULLs sort as larger than every value. */
    keys[i].nulls_first =
        sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
        (sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST &&
         keys[i].descending);
  }
  scope none = {0};
  int64_t limit = st->limit_count ? const_count(c, &none, st->limit_count,
                                                "LIMIT")
                                  : -1;
  int64_t offset = st->limit_offset ? const_count(c, &none, st->limit_offset,
                                                  "OFFSET")
                                    : 0;
  if (offset < 0)
    offset = 0;
  if (n_sort > 0 && limit >= 0)
    r.node = scheck(c, dq_node_topn(c->b, r.node, n_sort, keys, limit, offset),
                    -1);
  else {
    if (n_sort > 0)
      r.node = scheck(c, dq_node_sort(c->b, r.node, n_sort, keys), -1);
    if (limit >= 0 || offset > 0)
      r.node = scheck(c, dq_node_limit(c->b, r.node,
                                       limit >= 0 ? limit : INT64_MAX, offset),
                      -1);
  }
  if (limit >= 0 && r.rows > (double)limit)
    r.rows = (double)limit > 1 ? (double)limit : 1;
  if (n_out > n_visible) { /* drop the hidden sort columns */
    sx **vis = sa_alloc(c, (n_visible + 1) * sizeof *vis);
    sql_col **vc = sa_alloc(c, (n_visible + 1) * sizeof *vc);
    for (size_t i = 0; i < n_visible; i++) {
      vis[i] = sx_col(c, cols[i], -1);
      vc[i] = new_col(c, cols[i]->name, cols[i]->type, cols[i]->nullable);
      vc[i]->qual = cols[i]->qual;
    }
    r = project(c, r, n_visible, vis, vc, -1);
    if (kind == SUB_SCALAR)
      for (size_t i = 0; i < n_keys; i++)
        sq->inner_keys[i] = vc[n_t + i];
  }
  r.n = n_visible;
  if (kind == SUB_IN || kind == SUB_SCALAR) {
    if (n_t != 1)
      sfail(c, tl[1].loc, DQ_EINVAL, "subquery must return only one column");
    sq->value = r.cols[0];
  }
  *out = r;
}

/* --- Entry ------------------------------------------------------------------*/

int sql_plan_select(dq_sql *s, const char *src, const pgnode *select,
                    dq_plan **out, dq_error *err) {
  *out = NULL;
  sctx *c = calloc(1, sizeof *c);
  if (c == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  c->s = s;
  c->src = src;
  c->err = err;
  int rc = dq_plan_builder_new(&c->b, err);
  if (rc == 0 && setjmp(c->jb) == 0) {
    rel r;
    plan_query(c, select, NULL, SUB_FROM, NULL, &r);
    /* The result columns under their SQL names (made unique). */
    const char **names = sa_alloc(c, (r.n + 1) * sizeof *names);
    dq_expr **ex = sa_alloc(c, (r.n + 1) * sizeof *ex);
    bool same = true;
    for (size_t i = 0; i < r.n; i++) {
      char buf[200];
      snprintf(buf, sizeof buf, "%s", r.cols[i]->name);
      for (int k = 2;; k++) {
        bool taken = false;
        for (size_t j = 0; j < i && !taken; j++)
          taken = strcmp(names[j], buf) == 0;
        if (!taken)
          break;
        snprintf(buf, sizeof buf, "%s_%d", r.cols[i]->name, k);
      }
      names[i] = sa_strdup(c, buf);
      ex[i] = dq_expr_column(c->b, r.cols[i]->iname);
      same &= strcmp(names[i], r.cols[i]->iname) == 0;
    }
    const dq_schema *sch = dq_node_schema(r.node);
    if (!same || dq_schema_n_fields(sch) != r.n)
      r.node = scheck(c, dq_node_project(c->b, r.node, r.n,
                                         (dq_expr *const *)ex, names),
                      -1);
    if (dq_plan_stage(c->b, r.node, 1, 1, NULL) == 0)
      scheck(c, NULL, -1);
    rc = dq_plan_builder_finish(c->b, out, err);
  } else if (rc == 0) {
    rc = err->code ? err->code : DQ_EINTERNAL;
  }
  dq_plan_builder_free(c->b);
  for (size_t i = 0; i < c->n_blocks; i++)
    free(c->blocks[i]);
  free(c->blocks);
  free(c);
  return rc;
}
