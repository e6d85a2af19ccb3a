/* builder.c — the builder API of dq/plan.h: expressions, nodes (through
 * the constructors of node*.c and plan_scan.c), stages, and finishing a
 * plan with its whole-plan checks.
 *
 * The builder's first error is sticky so embedders can chain calls and
 * check once, at dq_plan_builder_finish(); a handle from a failed call is
 * NULL, and every call given a NULL handle after a failure just returns
 * NULL without overwriting the first (more useful) message. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/node_build.h"

struct dq_plan_builder {
  int rc;
  dq_error err;
  dq_expr *exprs;
  dq_node *nodes; /* the builder holds one reference to each */
  size_t n_stages, cap;
  dq_stage *stages;
};

int dq_plan_builder_new(dq_plan_builder **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_builder_new: out is NULL");
  *out = calloc(1, sizeof **out);
  if (*out == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a plan builder");
  return 0;
}

void dq_plan_builder_free(dq_plan_builder *b) {
  if (b == NULL)
    return;
  for (dq_expr *e = b->exprs; e != NULL;) {
    dq_expr *next = e->builder_next;
    dq_expr_free(e); /* unresolved: children are other list members */
    e = next;
  }
  for (dq_node *n = b->nodes; n != NULL;) {
    dq_node *next = n->builder_next;
    dq_node_unref(n);
    n = next;
  }
  for (size_t i = 0; i < b->n_stages; i++)
    dq_stage_clear(&b->stages[i]);
  free(b->stages);
  free(b);
}

int dq_plan_builder_error(const dq_plan_builder *b, dq_error *err) {
  if (b == NULL)
    return dq_error_set(err, DQ_EINVAL, "the plan builder is NULL");
  if (b->rc != 0 && err != NULL)
    *err = b->err;
  return b->rc;
}

static bool live(dq_plan_builder *b) { return b != NULL && b->rc == 0; }

static void fail(dq_plan_builder *b, int rc, const dq_error *e) {
  if (b->rc == 0) {
    b->rc = rc;
    b->err = *e;
  }
}

static void failf(dq_plan_builder *b, int rc, const char *fmt, ...)
    DQ_PRINTF(3, 4);
static void failf(dq_plan_builder *b, int rc, const char *fmt, ...) {
  if (b->rc != 0)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  b->rc = rc;
  dq_error_set(&b->err, rc, "%s", msg);
}

static dq_expr *new_expr(dq_plan_builder *b, dq_expr_kind kind) {
  if (!live(b))
    return NULL;
  dq_expr *e = dq_expr_alloc(kind);
  if (e == NULL) {
    failf(b, DQ_ENOMEM, "out of memory making an expression");
    return NULL;
  }
  e->builder_next = b->exprs;
  b->exprs = e;
  return e;
}

dq_expr *dq_expr_column(dq_plan_builder *b, const char *name) {
  if (live(b) && name == NULL) {
    failf(b, DQ_EINVAL, "dq_expr_column: the name is NULL");
    return NULL;
  }
  dq_expr *e = new_expr(b, DQ_EXPR_COLUMN);
  if (e != NULL && (e->name = strdup(name)) == NULL) {
    failf(b, DQ_ENOMEM, "out of memory making an expression");
    return NULL;
  }
  return e;
}

static dq_expr *literal(dq_plan_builder *b, dq_type_id id) {
  dq_expr *e = new_expr(b, DQ_EXPR_LITERAL);
  if (e != NULL)
    e->lit.type.id = id;
  return e;
}

dq_expr *dq_expr_null(dq_plan_builder *b, dq_type type) {
  if (live(b)) {
    dq_error e2;
    if (dq_type_check(type, &e2) != 0) {
      failf(b, DQ_EINVAL, "dq_expr_null: %s", e2.message);
      return NULL;
    }
  }
  dq_expr *e = literal(b, type.id);
  if (e != NULL) {
    e->lit.type = type;
    e->lit.is_null = true;
  }
  return e;
}

dq_expr *dq_expr_bool(dq_plan_builder *b, bool v) {
  dq_expr *e = literal(b, DQ_TYPE_BOOL);
  if (e != NULL)
    e->lit.v.b = v;
  return e;
}

dq_expr *dq_expr_int32(dq_plan_builder *b, int32_t v) {
  dq_expr *e = literal(b, DQ_TYPE_INT32);
  if (e != NULL)
    e->lit.v.i32 = v;
  return e;
}

dq_expr *dq_expr_int64(dq_plan_builder *b, int64_t v) {
  dq_expr *e = literal(b, DQ_TYPE_INT64);
  if (e != NULL)
    e->lit.v.i64 = v;
  return e;
}

dq_expr *dq_expr_float64(dq_plan_builder *b, double v) {
  dq_expr *e = literal(b, DQ_TYPE_FLOAT64);
  if (e != NULL)
    e->lit.v.f64 = v;
  return e;
}

dq_expr *dq_expr_utf8(dq_plan_builder *b, const char *s) {
  if (live(b) && s == NULL) {
    failf(b, DQ_EINVAL, "dq_expr_utf8: the string is NULL");
    return NULL;
  }
  dq_expr *e = literal(b, DQ_TYPE_UTF8);
  if (e != NULL) {
    e->lit.len = strlen(s);
    if ((e->lit.str = strdup(s)) == NULL) {
      failf(b, DQ_ENOMEM, "out of memory making an expression");
      return NULL;
    }
  }
  return e;
}

dq_expr *dq_expr_date(dq_plan_builder *b, const char *text) {
  int32_t days;
  if (live(b) && !dq_date_parse(text, &days)) {
    failf(b, DQ_EINVAL, "\"%s\" is not a date of the form YYYY-MM-DD",
          text ? text : "(null)");
    return NULL;
  }
  dq_expr *e = literal(b, DQ_TYPE_DATE32);
  if (e != NULL)
    e->lit.v.i32 = days;
  return e;
}

dq_expr *dq_expr_date32(dq_plan_builder *b, int32_t days) {
  dq_expr *e = literal(b, DQ_TYPE_DATE32);
  if (e != NULL)
    e->lit.v.i32 = days;
  return e;
}

dq_expr *dq_expr_decimal(dq_plan_builder *b, const char *text) {
  dq_i128 v = 0;
  uint8_t p = 0;
  int8_t s = 0;
  if (live(b) && !dq_decimal_parse(text, &v, &p, &s)) {
    failf(b, DQ_EINVAL, "\"%s\" is not a decimal number of at most 38 "
          "digits", text ? text : "(null)");
    return NULL;
  }
  dq_expr *e = literal(b, DQ_TYPE_DECIMAL);
  if (e != NULL) {
    e->lit.type.precision = p;
    e->lit.type.scale = s;
    e->lit.v.dec = v;
  }
  return e;
}

dq_expr *dq_expr_decimal128(dq_plan_builder *b, dq_decimal unscaled,
                            uint8_t precision, int8_t scale) {
  dq_type t = {DQ_TYPE_DECIMAL, precision, scale};
  if (live(b)) {
    dq_error e2;
    if (dq_type_check(t, &e2) != 0) {
      failf(b, DQ_EINVAL, "dq_expr_decimal128: %s", e2.message);
      return NULL;
    }
  }
  dq_expr *e = literal(b, DQ_TYPE_DECIMAL);
  if (e != NULL) {
    e->lit.type = t;
    e->lit.v.dec = dq_decimal_to_i128(unscaled);
  }
  return e;
}

static dq_expr *call(dq_plan_builder *b, dq_expr_op op, dq_expr *l,
                     dq_expr *r) {
  if (!live(b))
    return NULL;
  bool binary = dq_expr_op_is_binary(op);
  if (l == NULL || (binary && r == NULL)) {
    failf(b, DQ_EINVAL, "an operand of %s is NULL", dq_expr_op_name(op));
    return NULL;
  }
  dq_expr *e = new_expr(b, DQ_EXPR_CALL);
  if (e != NULL) {
    e->op = op;
    e->n_args = binary ? 2 : 1;
    e->args[0] = l;
    e->args[1] = binary ? r : NULL;
  }
  return e;
}

dq_expr *dq_expr_add(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_ADD, l, r);
}
dq_expr *dq_expr_sub(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_SUB, l, r);
}
dq_expr *dq_expr_mul(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_MUL, l, r);
}
dq_expr *dq_expr_div(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_DIV, l, r);
}
dq_expr *dq_expr_neg(dq_plan_builder *b, dq_expr *e) {
  return call(b, DQ_OP_NEG, e, NULL);
}
dq_expr *dq_expr_eq(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_EQ, l, r);
}
dq_expr *dq_expr_ne(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_NE, l, r);
}
dq_expr *dq_expr_lt(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_LT, l, r);
}
dq_expr *dq_expr_le(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_LE, l, r);
}
dq_expr *dq_expr_gt(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_GT, l, r);
}
dq_expr *dq_expr_ge(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_GE, l, r);
}
dq_expr *dq_expr_and(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_AND, l, r);
}
dq_expr *dq_expr_or(dq_plan_builder *b, dq_expr *l, dq_expr *r) {
  return call(b, DQ_OP_OR, l, r);
}
dq_expr *dq_expr_not(dq_plan_builder *b, dq_expr *e) {
  return call(b, DQ_OP_NOT, e, NULL);
}
dq_expr *dq_expr_is_null(dq_plan_builder *b, dq_expr *e) {
  return call(b, DQ_OP_IS_NULL, e, NULL);
}
dq_expr *dq_expr_is_not_null(dq_plan_builder *b, dq_expr *e) {
  return call(b, DQ_OP_IS_NOT_NULL, e, NULL);
}
dq_expr *dq_expr_between(dq_plan_builder *b, dq_expr *x, dq_expr *lo,
                         dq_expr *hi) {
  return dq_expr_and(b, dq_expr_ge(b, x, lo), dq_expr_le(b, x, hi));
}
dq_expr *dq_expr_cast(dq_plan_builder *b, dq_expr *e, dq_type to) {
  if (live(b)) {
    dq_error e2;
    if (dq_type_check(to, &e2) != 0) {
      failf(b, DQ_EINVAL, "dq_expr_cast: %s", e2.message);
      return NULL;
    }
  }
  dq_expr *c = call(b, DQ_OP_CAST, e, NULL);
  if (c != NULL)
    c->cast_type = to;
  return c;
}

/* A call of n arguments (IN, LIKE, CASE, EXTRACT, SUBSTRING). */
static dq_expr *calln(dq_plan_builder *b, dq_expr_op op, size_t n,
                      dq_expr *const *args) {
  if (!live(b))
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (args[i] == NULL) {
      failf(b, DQ_EINVAL, "an operand of %s is NULL", dq_expr_op_name(op));
      return NULL;
    }
  dq_expr *e = new_expr(b, DQ_EXPR_CALL);
  if (e != NULL) {
    e->op = op;
    e->n_args = n;
    for (size_t i = 0; i < n; i++)
      e->args[i] = args[i];
  }
  return e;
}

dq_expr *dq_expr_in(dq_plan_builder *b, dq_expr *x, size_t n,
                    dq_expr *const *values) {
  if (!live(b))
    return NULL;
  if (n == 0 || values == NULL) {
    failf(b, DQ_EINVAL, "dq_expr_in: the list of values is empty");
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (values[i] == NULL || values[i]->kind != DQ_EXPR_LITERAL) {
      failf(b, DQ_EINVAL, "dq_expr_in: value %zu is not a literal", i);
      return NULL;
    }
  dq_expr *e = calln(b, DQ_OP_IN, 1, &x);
  if (e == NULL)
    return NULL;
  if ((e->list = calloc(n, sizeof *e->list)) == NULL) {
    failf(b, DQ_ENOMEM, "out of memory making an expression");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    e->list[i] = values[i]->lit;
    e->list[i].str = NULL;
    e->n_list = i + 1;
    if (values[i]->lit.str != NULL &&
        (e->list[i].str = strdup(values[i]->lit.str)) == NULL) {
      failf(b, DQ_ENOMEM, "out of memory making an expression");
      return NULL;
    }
  }
  return e;
}

dq_expr *dq_expr_like(dq_plan_builder *b, dq_expr *x, const char *pattern) {
  dq_expr *args[2] = {x, dq_expr_utf8(b, pattern)};
  return calln(b, DQ_OP_LIKE, 2, args);
}

dq_expr *dq_expr_case(dq_plan_builder *b, size_t n, dq_expr *const *whens,
                      dq_expr *const *thens, dq_expr *else_value) {
  if (!live(b))
    return NULL;
  if (n == 0 || whens == NULL || thens == NULL) {
    failf(b, DQ_EINVAL, "dq_expr_case: no WHEN branch");
    return NULL;
  }
  /* WHEN a THEN x WHEN b THEN y ELSE z = WHEN a THEN x ELSE (WHEN b ...) */
  dq_expr *cur = else_value;
  for (size_t i = n; i-- > 0;) {
    dq_expr *args[3] = {whens[i], thens[i], cur};
    cur = calln(b, DQ_OP_CASE, cur ? 3 : 2, args);
    if (cur == NULL)
      return NULL;
  }
  return cur;
}

dq_expr *dq_expr_extract_year(dq_plan_builder *b, dq_expr *date) {
  return calln(b, DQ_OP_EXTRACT_YEAR, 1, &date);
}

dq_expr *dq_expr_substring(dq_plan_builder *b, dq_expr *s, dq_expr *start,
                           dq_expr *len) {
  dq_expr *args[3] = {s, start, len};
  return calln(b, DQ_OP_SUBSTRING, 3, args);
}

/* Registers a node made by a constructor (or records its error). */
static dq_node *keep(dq_plan_builder *b, int rc, dq_node *n,
                     const dq_error *e) {
  if (rc != 0) {
    fail(b, rc, e);
    return NULL;
  }
  n->builder_next = b->nodes;
  b->nodes = n;
  return n;
}

static bool need_input(dq_plan_builder *b, dq_node *input, const char *what) {
  if (!live(b))
    return false;
  if (input == NULL) {
    failf(b, DQ_EINVAL, "%s: the input node is NULL", what);
    return false;
  }
  return true;
}

dq_node *dq_node_scan_tpch(dq_plan_builder *b, const char *table,
                           double scale, uint64_t seed,
                           const char *const *columns, size_t n_columns) {
  if (!live(b))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_scan_tpch(table, scale, seed, columns, n_columns, &n,
                                 &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_scan_ipc(dq_plan_builder *b, size_t n_paths,
                          const char *const *paths,
                          const char *const *columns, size_t n_columns) {
  if (!live(b))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_scan_ipc(paths, n_paths, columns, n_columns, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_scan_csv_with(dq_plan_builder *b, size_t n_paths,
                               const char *const *paths,
                               const dq_schema *schema,
                               const dq_csv_options *opts) {
  if (!live(b))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_scan_csv(paths, n_paths, schema, opts, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_scan_csv(dq_plan_builder *b, size_t n_paths,
                          const char *const *paths, const dq_schema *schema,
                          bool header) {
  dq_csv_options o = {header, 0, 0};
  return dq_node_scan_csv_with(b, n_paths, paths, schema, &o);
}

dq_node *dq_node_filter(dq_plan_builder *b, dq_node *input,
                        dq_expr *predicate) {
  if (!need_input(b, input, "dq_node_filter"))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_filter(input, predicate, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_project(dq_plan_builder *b, dq_node *input, size_t count,
                         dq_expr *const *exprs, const char *const *names) {
  if (!need_input(b, input, "dq_node_project"))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_project(input, count, (const dq_expr *const *)exprs,
                               names, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_aggregate(dq_plan_builder *b, dq_node *input,
                           dq_agg_mode mode, size_t n_groups,
                           dq_expr *const *groups,
                           const char *const *group_names, size_t n_aggs,
                           const dq_agg *aggs) {
  if (!need_input(b, input, "dq_node_aggregate"))
    return NULL;
  if (n_aggs > 0 && aggs == NULL) {
    failf(b, DQ_EINVAL, "dq_node_aggregate: aggs is NULL");
    return NULL;
  }
  dq_agg_func *funcs = calloc(n_aggs ? n_aggs : 1, sizeof *funcs);
  const dq_expr **args = calloc(n_aggs ? n_aggs : 1, sizeof *args);
  const char **names = calloc(n_aggs ? n_aggs : 1, sizeof *names);
  dq_node *n = NULL;
  dq_error e;
  int rc;
  if (funcs == NULL || args == NULL || names == NULL) {
    rc = dq_error_set(&e, DQ_ENOMEM, "out of memory making an aggregate");
  } else {
    for (size_t i = 0; i < n_aggs; i++) {
      funcs[i] = aggs[i].func;
      args[i] = aggs[i].arg;
      names[i] = aggs[i].name;
    }
    rc = dq_node_new_aggregate(input, mode, n_groups,
                               (const dq_expr *const *)groups, group_names,
                               n_aggs, funcs, args, names, &n, &e);
  }
  free(funcs);
  free(args);
  free(names);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_aggregate_final(dq_plan_builder *b, dq_node *input,
                                 const dq_node *partial) {
  if (!need_input(b, input, "dq_node_aggregate_final"))
    return NULL;
  if (partial == NULL || partial->kind != DQ_NODE_AGGREGATE ||
      partial->mode != DQ_AGG_PARTIAL) {
    failf(b, DQ_EINVAL, "dq_node_aggregate_final: `partial` is not a "
          "PARTIAL aggregate node");
    return NULL;
  }
  size_t na = partial->n_aggs;
  dq_agg_func *funcs = calloc(na ? na : 1, sizeof *funcs);
  dq_type *types = calloc(na ? na : 1, sizeof *types);
  const char **names = calloc(na ? na : 1, sizeof *names);
  dq_node *n = NULL;
  dq_error e;
  int rc;
  if (funcs == NULL || types == NULL || names == NULL) {
    rc = dq_error_set(&e, DQ_ENOMEM, "out of memory making an aggregate");
  } else {
    for (size_t i = 0; i < na; i++) {
      funcs[i] = partial->aggs[i].func;
      types[i] = partial->aggs[i].arg_type;
      names[i] = partial->aggs[i].name;
    }
    rc = dq_node_new_aggregate_final(input, partial->n_exprs,
                                     (const char *const *)partial->names, na,
                                     funcs, types, names, &n, &e);
  }
  free(funcs);
  free(types);
  free(names);
  return keep(b, rc, n, &e);
}

/* The node constructors take sort keys as three arrays; the public API as
 * dq_sort_key structs.  Splits them (0 or DQ_ENOMEM). */
typedef struct sort_arrays {
  const dq_expr **exprs;
  bool *desc, *nulls_first;
} sort_arrays;

static void sort_arrays_free(sort_arrays *a) {
  free(a->exprs);
  free(a->desc);
  free(a->nulls_first);
}

static int split_sort_keys(size_t count, const dq_sort_key *keys,
                           sort_arrays *a, const char *what, dq_error *e) {
  size_t n = count ? count : 1;
  a->exprs = calloc(n, sizeof *a->exprs);
  a->desc = calloc(n, sizeof *a->desc);
  a->nulls_first = calloc(n, sizeof *a->nulls_first);
  if (a->exprs == NULL || a->desc == NULL || a->nulls_first == NULL)
    return dq_error_set(e, DQ_ENOMEM, "out of memory making a %s", what);
  for (size_t i = 0; i < count; i++) {
    a->exprs[i] = keys[i].expr;
    a->desc[i] = keys[i].descending;
    a->nulls_first[i] = keys[i].nulls_first;
  }
  return 0;
}

dq_node *dq_node_sort(dq_plan_builder *b, dq_node *input, size_t count,
                      const dq_sort_key *keys) {
  if (!need_input(b, input, "dq_node_sort"))
    return NULL;
  if (count > 0 && keys == NULL) {
    failf(b, DQ_EINVAL, "dq_node_sort: keys is NULL");
    return NULL;
  }
  dq_node *n = NULL;
  dq_error e;
  sort_arrays sa;
  int rc = split_sort_keys(count, keys, &sa, "sort", &e);
  if (rc == 0)
    rc = dq_node_new_sort(input, count, sa.exprs, sa.desc, sa.nulls_first, &n,
                          &e);
  sort_arrays_free(&sa);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_limit(dq_plan_builder *b, dq_node *input, int64_t count,
                       int64_t offset) {
  if (!need_input(b, input, "dq_node_limit"))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_limit(input, count, offset, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_hash_join(dq_plan_builder *b, dq_join_kind kind,
                           dq_node *probe, dq_node *build, size_t n_keys,
                           dq_expr *const *probe_keys,
                           dq_expr *const *build_keys, dq_expr *residual,
                           const char *const *names) {
  if (!need_input(b, probe, "dq_node_hash_join (probe)") ||
      !need_input(b, build, "dq_node_hash_join (build)"))
    return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_hash_join(kind, probe, build, n_keys,
                                 (const dq_expr *const *)probe_keys,
                                 (const dq_expr *const *)build_keys, residual,
                                 names, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_topn(dq_plan_builder *b, dq_node *input, size_t count_keys,
                      const dq_sort_key *keys, int64_t count,
                      int64_t offset) {
  if (!need_input(b, input, "dq_node_topn"))
    return NULL;
  if (count_keys > 0 && keys == NULL) {
    failf(b, DQ_EINVAL, "dq_node_topn: keys is NULL");
    return NULL;
  }
  dq_node *n = NULL;
  dq_error e;
  sort_arrays sa;
  int rc = split_sort_keys(count_keys, keys, &sa, "top-N", &e);
  if (rc == 0)
    rc = dq_node_new_topn(input, count_keys, sa.exprs, sa.desc,
                          sa.nulls_first, count, offset, &n, &e);
  sort_arrays_free(&sa);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_union(dq_plan_builder *b, size_t count,
                       dq_node *const *inputs) {
  if (!live(b))
    return NULL;
  for (size_t i = 0; inputs != NULL && i < count; i++)
    if (!need_input(b, inputs[i], "dq_node_union"))
      return NULL;
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_union(count, inputs, &n, &e);
  return keep(b, rc, n, &e);
}

dq_node *dq_node_read(dq_plan_builder *b, uint32_t producer_stage_id) {
  if (!live(b))
    return NULL;
  if (producer_stage_id == 0 || producer_stage_id > b->n_stages) {
    failf(b, DQ_EINVAL, "dq_node_read: there is no stage %" PRIu32 " yet "
          "(%zu stages so far)", producer_stage_id, b->n_stages);
    return NULL;
  }
  dq_node *n;
  dq_error e;
  int rc = dq_node_new_read(producer_stage_id,
                            b->stages[producer_stage_id - 1].root->schema, &n,
                            &e);
  return keep(b, rc, n, &e);
}

const dq_schema *dq_node_schema(const dq_node *n) {
  return n ? n->schema : NULL;
}

uint32_t dq_plan_stage(dq_plan_builder *b, dq_node *root, uint32_t task_count,
                       uint32_t partitions, const dq_boundary *output) {
  if (!need_input(b, root, "dq_plan_stage"))
    return 0;
  if (b->n_stages >= UINT32_MAX - 1) {
    failf(b, DQ_EINVAL, "too many stages");
    return 0;
  }
  if (b->n_stages == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 4;
    dq_stage *ns = realloc(b->stages, cap * sizeof *ns);
    if (ns == NULL) {
      failf(b, DQ_ENOMEM, "out of memory adding a stage");
      return 0;
    }
    b->stages = ns;
    b->cap = cap;
  }
  dq_stage s;
  memset(&s, 0, sizeof s);
  s.id = (uint32_t)b->n_stages + 1;
  s.task_count = task_count;
  s.partitions = partitions;
  s.out_kind = output ? output->kind : DQ_BOUNDARY_NONE;
  if (output != NULL && output->kind == DQ_BOUNDARY_NONE) {
    failf(b, DQ_EINVAL, "stage %" PRIu32 ": an output boundary of kind NONE; "
          "pass NULL for the head", s.id);
    return 0;
  }
  if (output != NULL && output->n_keys > 0) {
    if (output->keys == NULL) {
      failf(b, DQ_EINVAL, "stage %" PRIu32 ": the boundary's keys are NULL",
            s.id);
      return 0;
    }
    s.keys = calloc(output->n_keys, sizeof *s.keys);
    if (s.keys == NULL) {
      failf(b, DQ_ENOMEM, "out of memory adding a stage");
      return 0;
    }
    s.n_keys = output->n_keys;
    for (size_t i = 0; i < output->n_keys; i++) {
      int idx = dq_schema_field_index(root->schema, output->keys[i]);
      if (idx < 0) {
        failf(b, DQ_EINVAL, "stage %" PRIu32 ": the shuffle key \"%s\" is "
              "not a column of the stage's output", s.id,
              output->keys[i] ? output->keys[i] : "(null)");
        free(s.keys);
        return 0;
      }
      s.keys[i] = (uint32_t)idx;
    }
  }
  s.root = dq_node_ref(root);
  dq_error e;
  int rc = dq_stage_check(&s, &e);
  /* The stages this one reads now know their consumer. */
  const dq_node *reads[64];
  size_t nr = dq_node_reads(root, reads, 64);
  if (rc == 0 && nr > 64)
    rc = dq_error_set(&e, DQ_EINVAL, "stage %" PRIu32 " reads %zu "
                      "boundaries; at most 64 are supported", s.id, nr);
  for (size_t r = 0; rc == 0 && r < nr; r++) {
    const dq_node *n = reads[r];
    dq_stage *q = &b->stages[n->producer - 1];
    if (q->consumer != 0) {
      rc = dq_error_set(&e, DQ_EINVAL, "stage %" PRIu32 " is read by stages %"
                        PRIu32 " and %" PRIu32 "; each boundary has exactly "
                        "one reader", q->id, q->consumer, s.id);
      break;
    }
    if (q->out_kind == DQ_BOUNDARY_NONE) {
      rc = dq_error_set(&e, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                        PRIu32 ", which has no output boundary", s.id, q->id);
      break;
    }
  }
  if (rc != 0) {
    fail(b, rc, &e);
    dq_stage_clear(&s);
    return 0;
  }
  for (size_t r = 0; r < nr; r++) {
    {
      const dq_node *n = reads[r];
      dq_stage *q = &b->stages[n->producer - 1];
      q->consumer = s.id;
      q->consumer_tasks = task_count;
      q->consumer_partitions = partitions;
    }
  }
  b->stages[b->n_stages++] = s;
  return s.id;
}

int dq_plan_builder_finish(dq_plan_builder *b, dq_plan **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_builder_finish: out is "
                        "NULL");
  *out = NULL;
  if (b == NULL)
    return dq_error_set(err, DQ_EINVAL, "the plan builder is NULL");
  if (b->rc != 0) {
    if (err != NULL)
      *err = b->err;
    return b->rc;
  }
  dq_plan *p = calloc(1, sizeof *p);
  if (p == NULL ||
      (p->stages = calloc(b->n_stages ? b->n_stages : 1,
                          sizeof *p->stages)) == NULL) {
    free(p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a plan");
  }
  for (size_t i = 0; i < b->n_stages; i++) {
    dq_stage *d = &p->stages[i];
    *d = b->stages[i];
    d->root = dq_node_ref(d->root);
    d->keys = NULL;
    p->n_stages = i + 1;
    if (d->n_keys > 0) {
      d->keys = malloc(d->n_keys * sizeof *d->keys);
      if (d->keys == NULL) {
        dq_plan_free(p);
        return dq_error_set(err, DQ_ENOMEM, "out of memory making a plan");
      }
      memcpy(d->keys, b->stages[i].keys, d->n_keys * sizeof *d->keys);
    }
  }
  int rc = dq_plan_check(p, true, err);
  if (rc != 0) {
    dq_plan_free(p);
    return rc;
  }
  *out = p;
  return 0;
}
