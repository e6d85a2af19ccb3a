/* node_aggregate.c — AGGREGATE nodes: the aggregate functions' type
 * rules (dq_agg_types) and the SINGLE, PARTIAL and FINAL constructors,
 * which derive the output or state columns of each call. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/node_build.h"

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

/* Adds the output (SINGLE/FINAL) or state (PARTIAL) fields of the calls. */
static int agg_fields(const dq_node *n, dq_fields *f, dq_error *err) {
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
        rc = dq_fields_add(f, a->name, NULL, st[0], !is_count);
      else if ((rc = dq_fields_add(f, a->name, "$sum", st[0], true)) == 0)
        rc = dq_fields_add(f, a->name, "$count", st[1], false);
    } else {
      rc = dq_fields_add(f, a->name, NULL, out_t, !is_count);
    }
    if (rc != 0)
      return dq_node_nomem(err, "an aggregate");
  }
  return 0;
}

static int agg_finish_schema(dq_node *n, size_t n_groups,
                             const dq_type *group_types, dq_error *err) {
  dq_fields f;
  memset(&f, 0, sizeof f);
  int rc = 0;
  for (size_t i = 0; i < n_groups && rc == 0; i++)
    if (dq_fields_add(&f, n->names[i], NULL, group_types[i], true) != 0)
      rc = dq_node_nomem(err, "an aggregate");
  if (rc == 0)
    rc = agg_fields(n, &f, err);
  if (rc == 0)
    rc = dq_schema_new(f.n, f.names, f.types, f.nullable, &n->schema, err);
  dq_fields_free(&f);
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
  int rc = dq_node_check_input(input, "aggregate", err);
  if (rc != 0)
    return rc;
  if (mode != DQ_AGG_SINGLE && mode != DQ_AGG_PARTIAL)
    return dq_error_set(err, DQ_EINVAL, "aggregate mode %d is not SINGLE or "
                        "PARTIAL (a FINAL aggregate is made from its "
                        "PARTIAL)", (int)mode);
  if ((rc = dq_node_check_names(names, n_aggs, "aggregate", err)) != 0)
    return rc;
  if (n_aggs > 0 && funcs == NULL)
    return dq_error_set(err, DQ_EINVAL, "the aggregate node has no "
                        "functions");
  dq_node *n = dq_node_alloc(DQ_NODE_AGGREGATE, input);
  dq_type *gt = calloc(n_groups ? n_groups : 1, sizeof *gt);
  if (n == NULL || gt == NULL) {
    free(gt);
    dq_node_unref(n);
    return dq_node_nomem(err, "an aggregate");
  }
  n->mode = mode;
  if ((rc = dq_node_resolve_list(n, input->schema, n_groups, groups, group_names,
                         "aggregate group", err)) != 0)
    goto done;
  for (size_t i = 0; i < n_groups; i++)
    gt[i] = n->exprs[i]->type;
  n->aggs = calloc(n_aggs ? n_aggs : 1, sizeof *n->aggs);
  if (n->aggs == NULL) {
    rc = dq_node_nomem(err, "an aggregate");
    goto done;
  }
  n->n_aggs = n_aggs;
  for (size_t i = 0; i < n_aggs; i++) {
    dq_agg_call *a = &n->aggs[i];
    a->func = funcs[i];
    if ((a->name = strdup(names[i])) == NULL) {
      rc = dq_node_nomem(err, "an aggregate");
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
  int rc = dq_node_check_input(input, "final aggregate", err);
  if (rc != 0)
    return rc;
  if ((rc = dq_node_check_names(group_names, n_groups, "final aggregate", err)) ||
      (rc = dq_node_check_names(names, n_aggs, "final aggregate", err)))
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
    return dq_node_nomem(err, "a final aggregate");
  }
  n->mode = DQ_AGG_FINAL;
  n->exprs = calloc(n_groups ? n_groups : 1, sizeof *n->exprs);
  n->names = dq_strv_dup(group_names, n_groups);
  n->aggs = calloc(n_aggs ? n_aggs : 1, sizeof *n->aggs);
  if (n->exprs == NULL || n->names == NULL || n->aggs == NULL) {
    rc = dq_node_nomem(err, "a final aggregate");
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
      rc = dq_node_nomem(err, "a final aggregate");
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
