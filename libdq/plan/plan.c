/* plan.c — plans: the builder API of dq/plan.h, the node constructors that
 * derive and check every node's schema (shared with the decoder), stages,
 * the whole-plan checks, and EXPLAIN.
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

#include "plan/plan_internal.h"

/* --- Nodes ---------------------------------------------------------------- */

dq_node *dq_node_ref(dq_node *n) {
  if (n != NULL)
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
  return n;
}

static void free_strv(char **v, size_t n) {
  if (v == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void dq_node_unref(dq_node *n) {
  /* Iterative along the input chain so a long chain cannot recurse deep. */
  while (n != NULL &&
         atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1) {
    dq_node *input = n->input;
    dq_schema_unref(n->schema);
    if (n->source != NULL)
      n->source->free(n->source_state);
    free_strv(n->columns, n->n_columns);
    free(n->column_idx);
    dq_expr_free(n->predicate);
    for (size_t i = 0; i < n->n_exprs; i++)
      dq_expr_free(n->exprs ? n->exprs[i] : NULL);
    free(n->exprs);
    free_strv(n->names, n->n_exprs);
    for (size_t i = 0; i < n->n_aggs; i++) {
      dq_expr_free(n->aggs[i].arg);
      free(n->aggs[i].name);
    }
    free(n->aggs);
    for (size_t i = 0; i < n->n_keys; i++)
      dq_expr_free(n->keys[i].expr);
    free(n->keys);
    for (size_t i = 0; i < n->n_join_keys; i++) {
      dq_expr_free(n->probe_keys ? n->probe_keys[i] : NULL);
      dq_expr_free(n->build_keys ? n->build_keys[i] : NULL);
    }
    free(n->probe_keys);
    free(n->build_keys);
    dq_expr_free(n->residual);
    dq_schema_unref(n->join_schema);
    /* Extra inputs recurse: a tree is only as wide as its joins/unions. */
    for (size_t i = 0; i < n->n_more; i++)
      dq_node_unref(n->more[i]);
    free(n->more);
    free(n);
    n = input;
  }
}

dq_node *dq_node_alloc(dq_node_kind kind, dq_node *input) {
  dq_node *n = calloc(1, sizeof *n);
  if (n == NULL)
    return NULL;
  atomic_init(&n->refs, 1);
  n->kind = kind;
  n->input = dq_node_ref(input);
  return n;
}

size_t dq_node_n_inputs(const dq_node *n) {
  return n == NULL || n->input == NULL ? 0 : 1 + n->n_more;
}

const dq_node *dq_node_input_at(const dq_node *n, size_t i) {
  if (n == NULL || i >= dq_node_n_inputs(n))
    return NULL;
  return i == 0 ? n->input : n->more[i - 1];
}

size_t dq_node_reads(const dq_node *n, const dq_node **out, size_t cap) {
  size_t count = 0;
  /* Iterative along the first input, recursive into the others. */
  for (; n != NULL; n = n->input) {
    if (n->kind == DQ_NODE_READ) {
      if (count < cap)
        out[count] = n;
      count++;
    }
    for (size_t i = 0; i < n->n_more; i++)
      count += dq_node_reads(n->more[i], count < cap ? out + count : NULL,
                             count < cap ? cap - count : 0);
  }
  return count;
}

static char **dup_strv(const char *const *v, size_t n) {
  char **r = calloc(n ? n : 1, sizeof *r);
  if (r == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((r[i] = strdup(v[i])) == NULL) {
      free_strv(r, i);
      return NULL;
    }
  return r;
}

static int nomem(dq_error *err, const char *what) {
  return dq_error_set(err, DQ_ENOMEM, "out of memory making %s", what);
}

static int check_input(dq_node *input, const char *what, dq_error *err) {
  if (input == NULL || input->schema == NULL)
    return dq_error_set(err, DQ_EINVAL, "the %s node has no input", what);
  return 0;
}

static int check_names(const char *const *names, size_t n, const char *what,
                       dq_error *err) {
  if (n > 0 && names == NULL)
    return dq_error_set(err, DQ_EINVAL, "the %s node has no output names",
                        what);
  for (size_t i = 0; i < n; i++)
    if (names[i] == NULL || names[i][0] == '\0')
      return dq_error_set(err, DQ_EINVAL, "output %zu of the %s node has no "
                          "name", i, what);
  return 0;
}

int dq_node_new_filter(dq_node *input, const dq_expr *predicate,
                       dq_node **out, dq_error *err) {
  *out = NULL;
  int rc = check_input(input, "filter", err);
  if (rc != 0)
    return rc;
  dq_node *n = dq_node_alloc(DQ_NODE_FILTER, input);
  if (n == NULL)
    return nomem(err, "a filter");
  if ((rc = dq_expr_resolve(predicate, input->schema, &n->predicate, err))) {
    dq_node_unref(n);
    return rc;
  }
  if (n->predicate->type.id != DQ_TYPE_BOOL) {
    char text[200], t[32];
    dq_expr_format(n->predicate, input->schema, text, sizeof text);
    rc = dq_error_set(err, DQ_EINVAL, "the filter predicate %s is %s, not "
                      "bool", text,
                      dq_type_format(n->predicate->type, t, sizeof t));
    dq_node_unref(n);
    return rc;
  }
  n->schema = dq_schema_ref(input->schema);
  *out = n;
  return 0;
}

/* Resolves exprs and makes n->exprs, n->names and the schema of their
 * values (plus `extra` trailing fields). */
static int resolve_list(dq_node *n, const dq_schema *in, size_t count,
                        const dq_expr *const *exprs, const char *const *names,
                        const char *what, dq_error *err) {
  int rc = check_names(names, count, what, err);
  if (rc != 0)
    return rc;
  if (count > 0 && exprs == NULL)
    return dq_error_set(err, DQ_EINVAL, "the %s node has no expressions",
                        what);
  n->exprs = calloc(count ? count : 1, sizeof *n->exprs);
  n->names = dup_strv(names, count);
  n->n_exprs = count;
  if (n->exprs == NULL || n->names == NULL) {
    free(n->exprs);
    n->exprs = NULL;
    n->n_exprs = 0;
    return nomem(err, what);
  }
  for (size_t i = 0; i < count; i++) {
    dq_error e2;
    if ((rc = dq_expr_resolve(exprs[i], in, &n->exprs[i], &e2)) != 0)
      return dq_error_set(err, rc, "%s output \"%s\": %s", what, names[i],
                          e2.message);
  }
  return 0;
}

int dq_node_new_project(dq_node *input, size_t count,
                        const dq_expr *const *exprs, const char *const *names,
                        dq_node **out, dq_error *err) {
  *out = NULL;
  int rc = check_input(input, "project", err);
  if (rc != 0)
    return rc;
  dq_node *n = dq_node_alloc(DQ_NODE_PROJECT, input);
  if (n == NULL)
    return nomem(err, "a project");
  if ((rc = resolve_list(n, input->schema, count, exprs, names, "project",
                         err)) != 0)
    goto fail;
  dq_type *types = calloc(count ? count : 1, sizeof *types);
  if (types == NULL) {
    rc = nomem(err, "a project");
    goto fail;
  }
  for (size_t i = 0; i < count; i++)
    types[i] = n->exprs[i]->type;
  rc = dq_schema_new(count, (const char *const *)n->names, types, NULL,
                     &n->schema, err);
  free(types);
  if (rc != 0)
    goto fail;
  *out = n;
  return 0;
fail:
  dq_node_unref(n);
  return rc;
}

const char *dq_agg_func_name(dq_agg_func f) {
  switch (f) {
  case DQ_AGG_SUM: return "sum";
  case DQ_AGG_COUNT: return "count";
  case DQ_AGG_COUNT_STAR: return "count(*)";
  case DQ_AGG_MIN: return "min";
  case DQ_AGG_MAX: return "max";
  case DQ_AGG_AVG: return "avg";
  }
  return "?";
}

int dq_agg_types(dq_agg_func f, dq_type arg, dq_type *out_type,
                 size_t *n_state, dq_type state[2], dq_error *err) {
  dq_type i64 = {DQ_TYPE_INT64, 0, 0}, f64 = {DQ_TYPE_FLOAT64, 0, 0};
  dq_type dec0 = {DQ_TYPE_DECIMAL, 38, 0};
  bool is_int = arg.id == DQ_TYPE_INT32 || arg.id == DQ_TYPE_INT64;
  char t[32];
  *n_state = 1;
  switch (f) {
  case DQ_AGG_COUNT:
  case DQ_AGG_COUNT_STAR:
    *out_type = state[0] = i64;
    return 0;
  case DQ_AGG_SUM:
  case DQ_AGG_AVG:
    if (is_int) {
      state[0] = dec0;
      *out_type = f == DQ_AGG_SUM ? i64 : f64;
    } else if (arg.id == DQ_TYPE_DECIMAL) {
      dq_type s = {DQ_TYPE_DECIMAL, 38, arg.scale};
      state[0] = s;
      if (f == DQ_AGG_SUM) {
        *out_type = s;
      } else {
        int p = arg.precision + 4, sc = arg.scale + 4;
        dq_type a = {DQ_TYPE_DECIMAL, (uint8_t)(p > 38 ? 38 : p),
                     (int8_t)(sc > 38 ? 38 : sc)};
        *out_type = a;
      }
    } else if (arg.id == DQ_TYPE_FLOAT64) {
      *out_type = state[0] = f64;
    } else {
      return dq_error_set(err, DQ_EINVAL, "%s() needs a numeric argument, "
                          "not %s", dq_agg_func_name(f),
                          dq_type_format(arg, t, sizeof t));
    }
    if (f == DQ_AGG_AVG) {
      *n_state = 2;
      state[1] = i64;
    }
    return 0;
  case DQ_AGG_MIN:
  case DQ_AGG_MAX:
    if (arg.id == DQ_TYPE_BOOL || dq_type_check(arg, NULL) != 0)
      return dq_error_set(err, DQ_EINVAL, "%s() does not take %s",
                          dq_agg_func_name(f),
                          dq_type_format(arg, t, sizeof t));
    *out_type = state[0] = arg;
    return 0;
  }
  return dq_error_set(err, DQ_EINVAL, "unknown aggregate function %d",
                      (int)f);
}

/* Appends one field (name copied by dq_schema_new later). */
typedef struct fields {
  size_t n, cap;
  const char **names;
  char **owned; /* names made here, freed with the list */
  dq_type *types;
  bool *nullable;
} fields;

static int fields_add(fields *f, const char *name, const char *suffix,
                      dq_type t, bool nullable) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 8;
    const char **nn = realloc(f->names, cap * sizeof *nn);
    if (nn == NULL)
      return DQ_ENOMEM;
    f->names = nn;
    char **no = realloc(f->owned, cap * sizeof *no);
    if (no == NULL)
      return DQ_ENOMEM;
    f->owned = no;
    dq_type *nt = realloc(f->types, cap * sizeof *nt);
    if (nt == NULL)
      return DQ_ENOMEM;
    f->types = nt;
    bool *nb = realloc(f->nullable, cap * sizeof *nb);
    if (nb == NULL)
      return DQ_ENOMEM;
    f->nullable = nb;
    f->cap = cap;
  }
  char *own = NULL;
  if (suffix != NULL) {
    own = malloc(strlen(name) + strlen(suffix) + 1);
    if (own == NULL)
      return DQ_ENOMEM;
    strcpy(own, name);
    strcat(own, suffix);
  }
  f->owned[f->n] = own;
  f->names[f->n] = own ? own : name;
  f->types[f->n] = t;
  f->nullable[f->n] = nullable;
  f->n++;
  return 0;
}

static void fields_free(fields *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->owned[i]);
  free(f->owned);
  free(f->names);
  free(f->types);
  free(f->nullable);
}

/* Adds the output (SINGLE/FINAL) or state (PARTIAL) fields of the calls. */
static int agg_fields(const dq_node *n, fields *f, dq_error *err) {
  for (size_t i = 0; i < n->n_aggs; i++) {
    const dq_agg_call *a = &n->aggs[i];
    dq_type out_t, st[2];
    size_t ns;
    int rc = dq_agg_types(a->func, a->arg_type, &out_t, &ns, st, err);
    if (rc != 0)
      return rc;
    bool is_count = a->func == DQ_AGG_COUNT || a->func == DQ_AGG_COUNT_STAR;
    if (n->mode == DQ_AGG_PARTIAL) {
      if (ns == 1)
        rc = fields_add(f, a->name, NULL, st[0], !is_count);
      else if ((rc = fields_add(f, a->name, "$sum", st[0], true)) == 0)
        rc = fields_add(f, a->name, "$count", st[1], false);
    } else {
      rc = fields_add(f, a->name, NULL, out_t, !is_count);
    }
    if (rc != 0)
      return nomem(err, "an aggregate");
  }
  return 0;
}

static int agg_finish_schema(dq_node *n, size_t n_groups,
                             const dq_type *group_types, dq_error *err) {
  fields f;
  memset(&f, 0, sizeof f);
  int rc = 0;
  for (size_t i = 0; i < n_groups && rc == 0; i++)
    if (fields_add(&f, n->names[i], NULL, group_types[i], true) != 0)
      rc = nomem(err, "an aggregate");
  if (rc == 0)
    rc = agg_fields(n, &f, err);
  if (rc == 0)
    rc = dq_schema_new(f.n, f.names, f.types, f.nullable, &n->schema, err);
  fields_free(&f);
  return rc;
}

static int check_func(dq_agg_func f, size_t i, dq_error *err) {
  if (f < DQ_AGG_SUM || f > DQ_AGG_AVG)
    return dq_error_set(err, DQ_EINVAL, "aggregate %zu has an unknown "
                        "function (%d)", i, (int)f);
  return 0;
}

int dq_node_new_aggregate(dq_node *input, dq_agg_mode mode, size_t n_groups,
                          const dq_expr *const *groups,
                          const char *const *group_names, size_t n_aggs,
                          const dq_agg_func *funcs,
                          const dq_expr *const *args,
                          const char *const *names, dq_node **out,
                          dq_error *err) {
  *out = NULL;
  int rc = check_input(input, "aggregate", err);
  if (rc != 0)
    return rc;
  if (mode != DQ_AGG_SINGLE && mode != DQ_AGG_PARTIAL)
    return dq_error_set(err, DQ_EINVAL, "aggregate mode %d is not SINGLE or "
                        "PARTIAL (a FINAL aggregate is made from its "
                        "PARTIAL)", (int)mode);
  if ((rc = check_names(names, n_aggs, "aggregate", err)) != 0)
    return rc;
  if (n_aggs > 0 && funcs == NULL)
    return dq_error_set(err, DQ_EINVAL, "the aggregate node has no "
                        "functions");
  dq_node *n = dq_node_alloc(DQ_NODE_AGGREGATE, input);
  dq_type *gt = calloc(n_groups ? n_groups : 1, sizeof *gt);
  if (n == NULL || gt == NULL) {
    free(gt);
    dq_node_unref(n);
    return nomem(err, "an aggregate");
  }
  n->mode = mode;
  if ((rc = resolve_list(n, input->schema, n_groups, groups, group_names,
                         "aggregate group", err)) != 0)
    goto done;
  for (size_t i = 0; i < n_groups; i++)
    gt[i] = n->exprs[i]->type;
  n->aggs = calloc(n_aggs ? n_aggs : 1, sizeof *n->aggs);
  if (n->aggs == NULL) {
    rc = nomem(err, "an aggregate");
    goto done;
  }
  n->n_aggs = n_aggs;
  for (size_t i = 0; i < n_aggs; i++) {
    dq_agg_call *a = &n->aggs[i];
    a->func = funcs[i];
    if ((a->name = strdup(names[i])) == NULL) {
      rc = nomem(err, "an aggregate");
      goto done;
    }
    if ((rc = check_func(funcs[i], i, err)) != 0)
      goto done;
    const dq_expr *arg = args ? args[i] : NULL;
    if (funcs[i] == DQ_AGG_COUNT_STAR) {
      if (arg != NULL) {
        rc = dq_error_set(err, DQ_EINVAL, "aggregate \"%s\": count(*) takes "
                          "no argument", names[i]);
        goto done;
      }
      continue;
    }
    if (arg == NULL) {
      rc = dq_error_set(err, DQ_EINVAL, "aggregate \"%s\": %s() needs an "
                        "argument", names[i], dq_agg_func_name(funcs[i]));
      goto done;
    }
    dq_error e2;
    if ((rc = dq_expr_resolve(arg, input->schema, &a->arg, &e2)) != 0) {
      rc = dq_error_set(err, rc, "aggregate \"%s\": %s", names[i],
                        e2.message);
      goto done;
    }
    a->arg_type = a->arg->type;
    dq_type st[2];
    size_t ns;
    if ((rc = dq_agg_types(a->func, a->arg_type, &a->out_type, &ns, st,
                           &e2)) != 0) {
      rc = dq_error_set(err, rc, "aggregate \"%s\": %s", names[i],
                        e2.message);
      goto done;
    }
  }
  for (size_t i = 0; i < n_aggs; i++)
    if (n->aggs[i].func == DQ_AGG_COUNT_STAR)
      n->aggs[i].out_type.id = DQ_TYPE_INT64;
  rc = agg_finish_schema(n, n_groups, gt, err);
done:
  free(gt);
  if (rc != 0) {
    dq_node_unref(n);
    return rc;
  }
  *out = n;
  return 0;
}

int dq_node_new_aggregate_final(dq_node *input, size_t n_groups,
                                const char *const *group_names, size_t n_aggs,
                                const dq_agg_func *funcs,
                                const dq_type *arg_types,
                                const char *const *names, dq_node **out,
                                dq_error *err) {
  *out = NULL;
  int rc = check_input(input, "final aggregate", err);
  if (rc != 0)
    return rc;
  if ((rc = check_names(group_names, n_groups, "final aggregate", err)) ||
      (rc = check_names(names, n_aggs, "final aggregate", err)))
    return rc;
  if (n_aggs > 0 && (funcs == NULL || arg_types == NULL))
    return dq_error_set(err, DQ_EINVAL, "the final aggregate node has no "
                        "functions");
  const dq_schema *in = input->schema;
  size_t nf = dq_schema_n_fields(in);
  if (nf < n_groups)
    return dq_error_set(err, DQ_EINVAL, "the final aggregate's input has %zu "
                        "columns, fewer than its %zu group keys", nf,
                        n_groups);
  dq_node *n = dq_node_alloc(DQ_NODE_AGGREGATE, input);
  dq_type *gt = calloc(n_groups ? n_groups : 1, sizeof *gt);
  if (n == NULL || gt == NULL) {
    free(gt);
    dq_node_unref(n);
    return nomem(err, "a final aggregate");
  }
  n->mode = DQ_AGG_FINAL;
  n->exprs = calloc(n_groups ? n_groups : 1, sizeof *n->exprs);
  n->names = dup_strv(group_names, n_groups);
  n->aggs = calloc(n_aggs ? n_aggs : 1, sizeof *n->aggs);
  if (n->exprs == NULL || n->names == NULL || n->aggs == NULL) {
    rc = nomem(err, "a final aggregate");
    goto done;
  }
  n->n_exprs = n_groups;
  n->n_aggs = n_aggs;
  for (size_t i = 0; i < n_groups; i++) {
    dq_expr col = {.kind = DQ_EXPR_COLUMN, .column = (uint32_t)i};
    if ((rc = dq_expr_resolve(&col, in, &n->exprs[i], err)) != 0)
      goto done;
    gt[i] = n->exprs[i]->type;
  }
  size_t c = n_groups;
  for (size_t i = 0; i < n_aggs; i++) {
    dq_agg_call *a = &n->aggs[i];
    a->func = funcs[i];
    a->arg_type = arg_types[i];
    if ((a->name = strdup(names[i])) == NULL) {
      rc = nomem(err, "a final aggregate");
      goto done;
    }
    if ((rc = check_func(funcs[i], i, err)) != 0)
      goto done;
    if (a->func == DQ_AGG_COUNT_STAR)
      a->arg_type.id = 0;
    else if (a->arg_type.id == DQ_TYPE_DECIMAL &&
             dq_type_check(a->arg_type, NULL) != 0) {
      rc = dq_error_set(err, DQ_EINVAL, "aggregate \"%s\": its argument "
                        "type is invalid", names[i]);
      goto done;
    }
    if (a->arg_type.id != DQ_TYPE_DECIMAL)
      a->arg_type.precision = a->arg_type.scale = 0;
    dq_type st[2];
    size_t ns;
    dq_error e2;
    if ((rc = dq_agg_types(a->func, a->arg_type, &a->out_type, &ns, st,
                           &e2)) != 0) {
      rc = dq_error_set(err, rc, "aggregate \"%s\": %s", names[i],
                        e2.message);
      goto done;
    }
    for (size_t k = 0; k < ns; k++) {
      char want[32], got[32];
      if (c + k >= nf) {
        rc = dq_error_set(err, DQ_EINVAL, "the final aggregate's input has "
                          "%zu columns, too few for the state of \"%s\"", nf,
                          names[i]);
        goto done;
      }
      dq_type t = dq_schema_field_type(in, c + k);
      if (!dq_type_equal(t, st[k])) {
        rc = dq_error_set(err, DQ_EINVAL, "aggregate \"%s\": its partial "
                          "state column %zu (\"%s\") is %s, not %s", names[i],
                          c + k, dq_schema_field_name(in, c + k),
                          dq_type_format(t, got, sizeof got),
                          dq_type_format(st[k], want, sizeof want));
        goto done;
      }
    }
    a->state_col = (uint32_t)c;
    dq_expr col = {.kind = DQ_EXPR_COLUMN, .column = (uint32_t)c};
    if ((rc = dq_expr_resolve(&col, in, &a->arg, err)) != 0)
      goto done;
    c += ns;
  }
  if (c != nf) {
    rc = dq_error_set(err, DQ_EINVAL, "the final aggregate's input has %zu "
                      "columns but its groups and states use %zu", nf, c);
    goto done;
  }
  rc = agg_finish_schema(n, n_groups, gt, err);
done:
  free(gt);
  if (rc != 0) {
    dq_node_unref(n);
    return rc;
  }
  *out = n;
  return 0;
}

int dq_node_new_sort(dq_node *input, size_t count, const dq_expr *const *exprs,
                     const bool *descending, const bool *nulls_first,
                     dq_node **out, dq_error *err) {
  *out = NULL;
  int rc = check_input(input, "sort", err);
  if (rc != 0)
    return rc;
  if (count == 0 || exprs == NULL)
    return dq_error_set(err, DQ_EINVAL, "a sort needs at least one key");
  dq_node *n = dq_node_alloc(DQ_NODE_SORT, input);
  if (n == NULL || (n->keys = calloc(count, sizeof *n->keys)) == NULL) {
    dq_node_unref(n);
    return nomem(err, "a sort");
  }
  n->n_keys = count;
  for (size_t i = 0; i < count; i++) {
    dq_error e2;
    if ((rc = dq_expr_resolve(exprs[i], input->schema, &n->keys[i].expr,
                              &e2)) != 0) {
      rc = dq_error_set(err, rc, "sort key %zu: %s", i, e2.message);
      dq_node_unref(n);
      return rc;
    }
    n->keys[i].descending = descending && descending[i];
    n->keys[i].nulls_first = nulls_first && nulls_first[i];
  }
  n->schema = dq_schema_ref(input->schema);
  *out = n;
  return 0;
}

int dq_node_new_limit(dq_node *input, int64_t count, int64_t offset,
                      dq_node **out, dq_error *err) {
  *out = NULL;
  int rc = check_input(input, "limit", err);
  if (rc != 0)
    return rc;
  if (count < 0 || offset < 0)
    return dq_error_set(err, DQ_EINVAL, "a limit needs a count and offset "
                        ">= 0 (got %" PRId64 " and %" PRId64 ")", count,
                        offset);
  dq_node *n = dq_node_alloc(DQ_NODE_LIMIT, input);
  if (n == NULL)
    return nomem(err, "a limit");
  n->count = count;
  n->offset = offset;
  n->schema = dq_schema_ref(input->schema);
  *out = n;
  return 0;
}

static bool fields_has(const fields *f, const char *name) {
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->names[i], name) == 0)
      return true;
  return false;
}

int dq_node_new_hash_join(dq_join_kind kind, dq_node *probe, dq_node *build,
                          size_t n_keys, const dq_expr *const *probe_keys,
                          const dq_expr *const *build_keys,
                          const dq_expr *residual, const char *const *names,
                          dq_node **out, dq_error *err) {
  *out = NULL;
  int rc;
  if ((rc = check_input(probe, "hash join's probe", err)) != 0 ||
      (rc = check_input(build, "hash join's build", err)) != 0)
    return rc;
  if (kind < DQ_JOIN_INNER || kind > DQ_JOIN_LEFT_ANTI)
    return dq_error_set(err, DQ_EINVAL, "unknown join kind %d", (int)kind);
  if (n_keys == 0 || probe_keys == NULL || build_keys == NULL)
    return dq_error_set(err, DQ_EINVAL, "a hash join needs at least one key "
                        "pair");
  size_t np = dq_schema_n_fields(probe->schema);
  size_t nb = dq_schema_n_fields(build->schema);
  if (names != NULL && (rc = check_names(names, np + nb, "hash join", err)))
    return rc;
  dq_node *n = dq_node_alloc(DQ_NODE_HASH_JOIN, probe);
  fields f;
  memset(&f, 0, sizeof f);
  char *cand = NULL;
  if (n == NULL)
    return nomem(err, "a hash join");
  n->join_kind = kind;
  n->more = calloc(1, sizeof *n->more);
  n->probe_keys = calloc(n_keys, sizeof *n->probe_keys);
  n->build_keys = calloc(n_keys, sizeof *n->build_keys);
  if (n->more == NULL || n->probe_keys == NULL || n->build_keys == NULL) {
    rc = nomem(err, "a hash join");
    goto fail;
  }
  n->more[0] = dq_node_ref(build);
  n->n_more = 1;
  n->n_join_keys = n_keys;
  for (size_t i = 0; i < n_keys; i++) {
    dq_error e2;
    if ((rc = dq_expr_resolve(probe_keys[i], probe->schema,
                              &n->probe_keys[i], &e2)) != 0) {
      rc = dq_error_set(err, rc, "join key %zu (probe side): %s", i,
                        e2.message);
      goto fail;
    }
    if ((rc = dq_expr_resolve(build_keys[i], build->schema,
                              &n->build_keys[i], &e2)) != 0) {
      rc = dq_error_set(err, rc, "join key %zu (build side): %s", i,
                        e2.message);
      goto fail;
    }
    bool ok;
    if ((rc = dq_expr_unify(&n->probe_keys[i], &n->build_keys[i], &ok,
                            err)) != 0)
      goto fail;
    if (!ok) {
      char a[200], b[200], ta[32], tb[32];
      dq_expr_format(n->probe_keys[i], probe->schema, a, sizeof a);
      dq_expr_format(n->build_keys[i], build->schema, b, sizeof b);
      rc = dq_error_set(err, DQ_EINVAL, "join key %zu: %s (%s) cannot be "
                        "compared with %s (%s)", i, a,
                        dq_type_format(n->probe_keys[i]->type, ta, sizeof ta),
                        b,
                        dq_type_format(n->build_keys[i]->type, tb, sizeof tb));
      goto fail;
    }
  }
  for (size_t i = 0; i < np && rc == 0; i++)
    if (fields_add(&f, names ? names[i] : dq_schema_field_name(probe->schema,
                                                               i),
                   NULL, dq_schema_field_type(probe->schema, i),
                   dq_schema_field_nullable(probe->schema, i)) != 0)
      rc = nomem(err, "a hash join");
  for (size_t i = 0; i < nb && rc == 0; i++) {
    const char *name = names ? names[np + i]
                             : dq_schema_field_name(build->schema, i);
    free(cand);
    if ((cand = strdup(name)) == NULL) {
      rc = nomem(err, "a hash join");
      break;
    }
    /* The default rule of dq/plan.h: "_r" until the name is free. */
    while (names == NULL && fields_has(&f, cand)) {
      size_t len = strlen(cand);
      char *c2 = realloc(cand, len + 3);
      if (c2 == NULL) {
        rc = nomem(err, "a hash join");
        break;
      }
      memcpy(c2 + len, "_r", 3);
      cand = c2;
    }
    if (rc == 0 &&
        fields_add(&f, cand, "", dq_schema_field_type(build->schema, i),
                   kind == DQ_JOIN_LEFT ||
                       dq_schema_field_nullable(build->schema, i)) != 0)
      rc = nomem(err, "a hash join");
  }
  if (rc == 0)
    rc = dq_schema_new(f.n, f.names, f.types, f.nullable, &n->join_schema,
                       err);
  if (rc != 0)
    goto fail;
  if (residual != NULL) {
    dq_error e2;
    if ((rc = dq_expr_resolve(residual, n->join_schema, &n->residual,
                              &e2)) != 0) {
      rc = dq_error_set(err, rc, "join residual: %s", e2.message);
      goto fail;
    }
    if (n->residual->type.id != DQ_TYPE_BOOL) {
      char text[200], t[32];
      dq_expr_format(n->residual, n->join_schema, text, sizeof text);
      rc = dq_error_set(err, DQ_EINVAL, "the join residual %s is %s, not "
                        "bool", text,
                        dq_type_format(n->residual->type, t, sizeof t));
      goto fail;
    }
  }
  if (kind == DQ_JOIN_LEFT_SEMI || kind == DQ_JOIN_LEFT_ANTI)
    rc = dq_schema_new(np, f.names, f.types, f.nullable, &n->schema, err);
  else
    n->schema = dq_schema_ref(n->join_schema);
  if (rc != 0)
    goto fail;
  free(cand);
  fields_free(&f);
  *out = n;
  return 0;
fail:
  free(cand);
  fields_free(&f);
  dq_node_unref(n);
  return rc;
}

int dq_node_new_topn(dq_node *input, size_t count_keys,
                     const dq_expr *const *exprs, const bool *descending,
                     const bool *nulls_first, int64_t count, int64_t offset,
                     dq_node **out, dq_error *err) {
  *out = NULL;
  if (count < 0 || offset < 0)
    return dq_error_set(err, DQ_EINVAL, "a top-N needs a count and offset "
                        ">= 0 (got %" PRId64 " and %" PRId64 ")", count,
                        offset);
  /* The heap holds count + offset rows, each indexed by 32 bits. */
  if (count > (int64_t)UINT32_MAX / 2 || offset > (int64_t)UINT32_MAX / 2)
    return dq_error_set(err, DQ_EINVAL, "a top-N of %" PRId64 " rows after "
                        "%" PRId64 " is too large; use a sort and a limit",
                        count, offset);
  int rc = dq_node_new_sort(input, count_keys, exprs, descending, nulls_first,
                            out, err);
  if (rc != 0)
    return rc;
  (*out)->kind = DQ_NODE_TOPN;
  (*out)->count = count;
  (*out)->offset = offset;
  return 0;
}

int dq_node_new_union(size_t count, dq_node *const *inputs, dq_node **out,
                      dq_error *err) {
  *out = NULL;
  if (count < 2 || inputs == NULL)
    return dq_error_set(err, DQ_EINVAL, "a union needs at least two inputs "
                        "(got %zu)", inputs ? count : 0);
  for (size_t i = 0; i < count; i++) {
    int rc = check_input(inputs[i], "union", err);
    if (rc != 0)
      return rc;
    const dq_schema *a = inputs[0]->schema, *b = inputs[i]->schema;
    if (dq_schema_n_fields(a) != dq_schema_n_fields(b))
      return dq_error_set(err, DQ_EINVAL, "union input %zu has %zu columns; "
                          "input 0 has %zu", i, dq_schema_n_fields(b),
                          dq_schema_n_fields(a));
    for (size_t c = 0; c < dq_schema_n_fields(a); c++)
      if (!dq_type_equal(dq_schema_field_type(a, c),
                         dq_schema_field_type(b, c))) {
        char ta[32], tb[32];
        return dq_error_set(err, DQ_EINVAL, "union input %zu's column %zu "
                            "(\"%s\") is %s; input 0's (\"%s\") is %s", i, c,
                            dq_schema_field_name(b, c),
                            dq_type_format(dq_schema_field_type(b, c), tb,
                                           sizeof tb),
                            dq_schema_field_name(a, c),
                            dq_type_format(dq_schema_field_type(a, c), ta,
                                           sizeof ta));
      }
  }
  dq_node *n = dq_node_alloc(DQ_NODE_UNION, inputs[0]);
  if (n == NULL || (n->more = calloc(count - 1, sizeof *n->more)) == NULL) {
    dq_node_unref(n);
    return nomem(err, "a union");
  }
  for (size_t i = 1; i < count; i++)
    n->more[n->n_more++] = dq_node_ref(inputs[i]);
  /* A column is nullable when it is in any input. */
  const dq_schema *s0 = inputs[0]->schema;
  size_t nf = dq_schema_n_fields(s0);
  fields f;
  memset(&f, 0, sizeof f);
  int rc = 0;
  for (size_t c = 0; c < nf && rc == 0; c++) {
    bool nullable = false;
    for (size_t i = 0; i < count; i++)
      nullable |= dq_schema_field_nullable(inputs[i]->schema, c);
    if (fields_add(&f, dq_schema_field_name(s0, c), NULL,
                   dq_schema_field_type(s0, c), nullable) != 0)
      rc = nomem(err, "a union");
  }
  if (rc == 0)
    rc = dq_schema_new(nf, f.names, f.types, f.nullable, &n->schema, err);
  fields_free(&f);
  if (rc != 0) {
    dq_node_unref(n);
    return rc;
  }
  *out = n;
  return 0;
}

int dq_node_new_read(uint32_t producer, dq_schema *schema, dq_node **out,
                     dq_error *err) {
  *out = NULL;
  if (producer == 0)
    return dq_error_set(err, DQ_EINVAL, "a read names stage 0; stages are "
                        "numbered from 1");
  if (schema == NULL)
    return dq_error_set(err, DQ_EINVAL, "a read of stage %" PRIu32 " has no "
                        "schema", producer);
  dq_node *n = dq_node_alloc(DQ_NODE_READ, NULL);
  if (n == NULL)
    return nomem(err, "a read");
  n->producer = producer;
  n->schema = dq_schema_ref(schema);
  *out = n;
  return 0;
}

/* --- Stages and plans ----------------------------------------------------- */

void dq_stage_clear(dq_stage *s) {
  dq_node_unref(s->root);
  free(s->keys);
  memset(s, 0, sizeof *s);
}

int dq_stage_check(const dq_stage *s, dq_error *err) {
  if (s->id == 0)
    return dq_error_set(err, DQ_EINVAL, "a stage has id 0; stages are "
                        "numbered from 1");
  if (s->root == NULL)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has no root node",
                        s->id);
  if (s->task_count == 0 || s->partitions == 0)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " needs at least one "
                        "task and one partition (has %" PRIu32 " and %" PRIu32
                        ")", s->id, s->task_count, s->partitions);
  /* Plans arrive from the network and a worker starts a thread per
   * pipeline: bound what one plan can ask for. */
  if (s->task_count > DQ_MAX_TASKS || s->partitions > DQ_MAX_PARTITIONS)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " asks for %" PRIu32
                        " tasks of %" PRIu32 " partitions; the limits are %u "
                        "tasks and %u partitions per task",
                        s->id, s->task_count, s->partitions, DQ_MAX_TASKS,
                        DQ_MAX_PARTITIONS);
  switch (s->out_kind) {
  case DQ_BOUNDARY_NONE:
    if (s->n_keys != 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " is the head but "
                          "has shuffle keys", s->id);
    break;
  case DQ_BOUNDARY_SHUFFLE:
    if (s->n_keys == 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " shuffles on no "
                          "key", s->id);
    for (size_t i = 0; i < s->n_keys; i++)
      if (s->keys[i] >= dq_schema_n_fields(s->root->schema))
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " shuffles on "
                            "column %" PRIu32 ", but its output has %zu "
                            "columns", s->id, s->keys[i],
                            dq_schema_n_fields(s->root->schema));
    break;
  case DQ_BOUNDARY_COALESCE:
  case DQ_BOUNDARY_BROADCAST:
    if (s->n_keys != 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has keys but "
                          "only a shuffle takes keys", s->id);
    break;
  default:
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has an unknown "
                        "boundary kind %d", s->id, (int)s->out_kind);
  }
  if (s->out_kind != DQ_BOUNDARY_NONE && s->consumer != 0) {
    if (s->consumer <= s->id)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " feeds stage %"
                          PRIu32 "; a consumer must come later", s->id,
                          s->consumer);
    if (s->consumer_tasks == 0 || s->consumer_partitions == 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s boundary "
                          "lacks its consumer's task and partition counts",
                          s->id);
  }
  return 0;
}

static const dq_stage *find_stage(const dq_plan *p, uint32_t id) {
  for (size_t i = 0; p != NULL && i < p->n_stages; i++)
    if (p->stages[i].id == id)
      return &p->stages[i];
  return NULL;
}

int dq_plan_check(dq_plan *p, bool complete, dq_error *err) {
  int rc;
  if (complete && p->n_stages == 0)
    return dq_error_set(err, DQ_EINVAL, "the plan has no stages");
  for (size_t i = 0; i < p->n_stages; i++) {
    dq_stage *s = &p->stages[i];
    if ((rc = dq_stage_check(s, err)) != 0)
      return rc;
    for (size_t j = 0; j < i; j++)
      if (p->stages[j].id == s->id)
        return dq_error_set(err, DQ_EINVAL, "two stages have id %" PRIu32,
                            s->id);
    if (complete && s->id != i + 1)
      return dq_error_set(err, DQ_EINVAL, "stage %zu has id %" PRIu32 "; "
                          "stages are numbered 1..n in order", i + 1, s->id);
    bool head = complete && i + 1 == p->n_stages;
    if (head && (s->out_kind != DQ_BOUNDARY_NONE || s->task_count != 1 ||
                 s->partitions != 1))
      return dq_error_set(err, DQ_EINVAL, "the last stage (%" PRIu32 ") is "
                          "the head: it must have no output boundary, one "
                          "task and one partition", s->id);
    if (complete && !head && s->out_kind == DQ_BOUNDARY_NONE)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " is not the last "
                          "stage but has no output boundary", s->id);
    /* Each READ: an earlier producer, read once, with matching schema. */
    const dq_node *reads[64];
    size_t nr = dq_node_reads(s->root, reads, 64);
    if (nr > 64)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads %zu "
                          "boundaries; at most 64 are supported", s->id, nr);
    for (size_t r = 0; r < nr; r++) {
      const dq_node *n = reads[r];
      if (n->producer >= s->id)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 "; a stage reads only earlier stages",
                            s->id, n->producer);
      const dq_stage *q = find_stage(p, n->producer);
      if (q == NULL) {
        if (complete)
          return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage "
                              "%" PRIu32 ", which does not exist", s->id,
                              n->producer);
        continue;
      }
      if (q->out_kind == DQ_BOUNDARY_NONE)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 ", which has no output boundary", s->id,
                            q->id);
      if (q->consumer != s->id)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 ", whose output goes to stage %" PRIu32,
                            s->id, q->id, q->consumer);
      if (q->consumer_tasks != s->task_count ||
          q->consumer_partitions != s->partitions)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s boundary "
                            "expects %" PRIu32 " consumer tasks of %" PRIu32
                            " partitions but stage %" PRIu32 " has %" PRIu32
                            " of %" PRIu32, q->id, q->consumer_tasks,
                            q->consumer_partitions, s->id, s->task_count,
                            s->partitions);
      if (!dq_schema_equal(q->root->schema, n->schema))
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " reads stage %"
                            PRIu32 " with a schema other than its output",
                            s->id, q->id);
    }
  }
  if (complete)
    for (size_t i = 0; i + 1 < p->n_stages; i++) {
      const dq_stage *s = &p->stages[i];
      const dq_stage *c = find_stage(p, s->consumer);
      size_t reads = 0;
      const dq_node *rv[64];
      size_t nr = c ? dq_node_reads(c->root, rv, 64) : 0;
      for (size_t r = 0; r < nr && r < 64; r++)
        reads += rv[r]->producer == s->id;
      if (reads != 1)
        return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s output is "
                            "read %zu times; each boundary has exactly one "
                            "reader", s->id, reads);
    }
  return 0;
}

void dq_plan_free(dq_plan *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n_stages; i++)
    dq_stage_clear(&p->stages[i]);
  free(p->stages);
  free(p);
}

size_t dq_plan_n_stages(const dq_plan *p) { return p ? p->n_stages : 0; }

const dq_stage *dq_plan_stage_by_id(const dq_plan *p, uint32_t id) {
  return find_stage(p, id);
}

const dq_stage *dq_plan_head(const dq_plan *p) {
  const dq_stage *h = NULL;
  for (size_t i = 0; p != NULL && i < p->n_stages; i++)
    if (h == NULL || p->stages[i].id > h->id)
      h = &p->stages[i];
  return h;
}

uint32_t dq_stage_id(const dq_stage *s) { return s ? s->id : 0; }
uint32_t dq_stage_task_count(const dq_stage *s) {
  return s ? s->task_count : 0;
}
uint32_t dq_stage_partitions(const dq_stage *s) {
  return s ? s->partitions : 0;
}
const dq_schema *dq_stage_schema(const dq_stage *s) {
  return s && s->root ? s->root->schema : NULL;
}
dq_boundary_kind dq_stage_boundary_kind(const dq_stage *s) {
  return s ? s->out_kind : DQ_BOUNDARY_NONE;
}
uint32_t dq_stage_consumer(const dq_stage *s) { return s ? s->consumer : 0; }
const uint32_t *dq_stage_boundary_keys(const dq_stage *s, size_t *n_keys) {
  if (n_keys)
    *n_keys = s ? s->n_keys : 0;
  return s ? s->keys : NULL;
}

size_t dq_stage_inputs(const dq_stage *s, uint32_t *ids, size_t cap) {
  size_t count = 0;
  /* Ascending insertion; stages have few reads. */
  uint32_t tmp[64];
  const dq_node *reads[64];
  size_t nr = s ? dq_node_reads(s->root, reads, 64) : 0;
  for (size_t r = 0; r < nr && r < 64; r++) {
    const dq_node *n = reads[r];
    size_t j = count++;
    while (j > 0 && tmp[j - 1] > n->producer) {
      tmp[j] = tmp[j - 1];
      j--;
    }
    tmp[j] = n->producer;
  }
  for (size_t i = 0; i < count && i < cap; i++)
    ids[i] = tmp[i];
  return count;
}

int dq_stage_producer_head(const dq_stage *s, dq_producer_head *out,
                           dq_error *err) {
  memset(out, 0, sizeof *out);
  out->kind = s->out_kind;
  switch (s->out_kind) {
  case DQ_BOUNDARY_SHUFFLE: {
    uint64_t n = (uint64_t)s->consumer_tasks * s->consumer_partitions;
    if (n == 0 || n > UINT32_MAX)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s shuffle has "
                          "no valid consumer partition count", s->id);
    out->n_keys = s->n_keys;
    out->keys = s->keys;
    out->partition_count = (uint32_t)n;
    return 0;
  }
  case DQ_BOUNDARY_COALESCE:
  case DQ_BOUNDARY_BROADCAST:
    /* Pass-through: the task's own pipelines are its partitions. */
    out->partition_count = s->partitions;
    return 0;
  default:
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has no output "
                        "boundary", s->id);
  }
}

void dq_producer_head_clear(dq_producer_head *h) {
  free(h->keys);
  memset(h, 0, sizeof *h);
}

/* --- Builder -------------------------------------------------------------- */

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

/* --- EXPLAIN -------------------------------------------------------------- */

typedef struct xbuf {
  char *buf;
  size_t len, pos;
} xbuf;

static void xput(xbuf *x, const char *fmt, ...) DQ_PRINTF(2, 3);
static void xput(xbuf *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = x->pos < x->len ? x->len - x->pos : 0;
  int n = vsnprintf(room ? x->buf + x->pos : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    x->pos += (size_t)n;
}

static void xexpr(xbuf *x, const dq_expr *e, const dq_schema *in) {
  char tmp[512];
  xput(x, "%s", dq_expr_format(e, in, tmp, sizeof tmp));
}

static const char *kind_name(dq_boundary_kind k) {
  switch (k) {
  case DQ_BOUNDARY_SHUFFLE: return "SHUFFLE";
  case DQ_BOUNDARY_COALESCE: return "COALESCE";
  case DQ_BOUNDARY_BROADCAST: return "BROADCAST";
  default: return "NONE";
  }
}

static const char *join_kind_name(dq_join_kind k) {
  switch (k) {
  case DQ_JOIN_INNER: return "INNER";
  case DQ_JOIN_LEFT: return "LEFT";
  case DQ_JOIN_LEFT_SEMI: return "LEFT SEMI";
  case DQ_JOIN_LEFT_ANTI: return "LEFT ANTI";
  }
  return "?";
}

static void explain_keys(xbuf *x, const dq_node *n, const dq_schema *in) {
  for (size_t i = 0; i < n->n_keys; i++) {
    xput(x, "%s", i ? ", " : "");
    xexpr(x, n->keys[i].expr, in);
    xput(x, " %s NULLS %s", n->keys[i].descending ? "DESC" : "ASC",
         n->keys[i].nulls_first ? "FIRST" : "LAST");
  }
}

static void explain_node(xbuf *x, const dq_node *n, int depth) {
  for (; n != NULL; n = n->input, depth++) {
    const dq_schema *in = n->input ? n->input->schema : NULL;
    xput(x, "%*s", 2 + 2 * depth, "");
    switch (n->kind) {
    case DQ_NODE_HASH_JOIN: {
      const dq_schema *bs = n->more[0]->schema;
      xput(x, "HashJoin %s ON ", join_kind_name(n->join_kind));
      for (size_t i = 0; i < n->n_join_keys; i++) {
        xput(x, "%s", i ? " AND " : "");
        xexpr(x, n->probe_keys[i], in);
        xput(x, " = ");
        xexpr(x, n->build_keys[i], bs);
      }
      if (n->residual != NULL) {
        xput(x, " WHERE ");
        xexpr(x, n->residual, n->join_schema);
      }
      xput(x, "\n%*sProbe:\n", 4 + 2 * depth, "");
      explain_node(x, n->input, depth + 2);
      xput(x, "%*sBuild:\n", 4 + 2 * depth, "");
      explain_node(x, n->more[0], depth + 2);
      return;
    }
    case DQ_NODE_UNION:
      xput(x, "UnionAll %zu inputs\n", 1 + n->n_more);
      for (size_t i = 0; i < dq_node_n_inputs(n); i++)
        explain_node(x, dq_node_input_at(n, i), depth + 1);
      return;
    case DQ_NODE_TOPN:
      xput(x, "TopN %" PRId64 " OFFSET %" PRId64 " BY ", n->count, n->offset);
      explain_keys(x, n, in);
      xput(x, "\n");
      break;
    case DQ_NODE_SCAN: {
      /* The source's own line; xput copes with a full buffer the same. */
      dq_source_projection p = dq_node_scan_projection(n);
      size_t need = n->source->explain(n->source_state, &p, NULL, 0) + 1;
      char *line = malloc(need);
      if (line != NULL) {
        n->source->explain(n->source_state, &p, line, need);
        xput(x, "%s\n", line);
      }
      free(line);
      break;
    }
    case DQ_NODE_FILTER:
      xput(x, "Filter ");
      xexpr(x, n->predicate, in);
      xput(x, "\n");
      break;
    case DQ_NODE_PROJECT:
      xput(x, "Project ");
      for (size_t i = 0; i < n->n_exprs; i++) {
        xput(x, "%s", i ? ", " : "");
        xexpr(x, n->exprs[i], in);
        xput(x, " AS %s", n->names[i]);
      }
      xput(x, "\n");
      break;
    case DQ_NODE_AGGREGATE:
      xput(x, "Aggregate %s",
           n->mode == DQ_AGG_SINGLE ? "SINGLE"
           : n->mode == DQ_AGG_PARTIAL ? "PARTIAL" : "FINAL");
      if (n->n_exprs) {
        xput(x, " BY ");
        for (size_t i = 0; i < n->n_exprs; i++) {
          xput(x, "%s", i ? ", " : "");
          xexpr(x, n->exprs[i], in);
          xput(x, " AS %s", n->names[i]);
        }
      }
      xput(x, ":");
      for (size_t i = 0; i < n->n_aggs; i++) {
        const dq_agg_call *a = &n->aggs[i];
        xput(x, "%s %s", i ? "," : "", dq_agg_func_name(a->func));
        if (a->func != DQ_AGG_COUNT_STAR) {
          xput(x, "(");
          xexpr(x, a->arg, in);
          xput(x, ")");
        }
        xput(x, " AS %s", a->name);
      }
      xput(x, "\n");
      break;
    case DQ_NODE_SORT:
      xput(x, "Sort ");
      explain_keys(x, n, in);
      xput(x, "\n");
      break;
    case DQ_NODE_LIMIT:
      xput(x, "Limit %" PRId64 " OFFSET %" PRId64 "\n", n->count, n->offset);
      break;
    case DQ_NODE_READ:
      xput(x, "Read stage %" PRIu32 "\n", n->producer);
      break;
    }
  }
}

size_t dq_plan_explain(const dq_plan *p, char *buf, size_t len) {
  xbuf x = {buf, len, 0};
  if (len > 0)
    buf[0] = '\0';
  for (size_t i = 0; p != NULL && i < p->n_stages; i++) {
    const dq_stage *s = &p->stages[i];
    xput(&x, "Stage %" PRIu32 " (%" PRIu32 " task%s x %" PRIu32
         " partition%s)", s->id, s->task_count, s->task_count == 1 ? "" : "s",
         s->partitions, s->partitions == 1 ? "" : "s");
    if (s->out_kind == DQ_BOUNDARY_NONE) {
      xput(&x, " head\n");
    } else {
      xput(&x, " -> %s", kind_name(s->out_kind));
      if (s->n_keys) {
        xput(&x, " [");
        for (size_t k = 0; k < s->n_keys; k++)
          xput(&x, "%s%s", k ? ", " : "",
               dq_schema_field_name(s->root->schema, s->keys[k]));
        xput(&x, "]");
      }
      xput(&x, " to stage %" PRIu32 "\n", s->consumer);
    }
    explain_node(&x, s->root, 0);
  }
  if (len > 0 && x.pos >= len)
    buf[len - 1] = '\0';
  return x.pos + 1;
}
