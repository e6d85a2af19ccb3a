/* node.c — plan nodes: references, inputs, and the constructors of the
 * row-at-a-time kinds (filter, project, sort, limit, top-N, union, read)
 * with the helpers every constructor shares (node_build.h).  A
 * constructor derives and checks the node's schema; the builder and the
 * decoder both go through it, so a decoded plan is checked exactly like a
 * built one.  Aggregates are node_aggregate.c, joins node_join.c, scans
 * plan_scan.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/node_build.h"

dq_node *dq_node_ref(dq_node *n) {
  if (n != NULL)
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
  return n;
}

void dq_strv_free(char **v, size_t n) {
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
    dq_strv_free(n->columns, n->n_columns);
    free(n->column_idx);
    dq_expr_free(n->predicate);
    for (size_t i = 0; i < n->n_exprs; i++)
      dq_expr_free(n->exprs ? n->exprs[i] : NULL);
    free(n->exprs);
    dq_strv_free(n->names, n->n_exprs);
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

char **dq_strv_dup(const char *const *v, size_t n) {
  char **r = calloc(n ? n : 1, sizeof *r);
  if (r == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((r[i] = strdup(v[i])) == NULL) {
      dq_strv_free(r, i);
      return NULL;
    }
  return r;
}

int dq_node_nomem(dq_error *err, const char *what) {
  return dq_error_set(err, DQ_ENOMEM, "out of memory making %s", what);
}

int dq_node_check_input(dq_node *input, const char *what,
                        dq_error *err) {
  if (input == NULL || input->schema == NULL)
    return dq_error_set(err, DQ_EINVAL, "the %s node has no input", what);
  return 0;
}

int dq_node_check_names(const char *const *names, size_t n,
                        const char *what, dq_error *err) {
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
  int rc = dq_node_check_input(input, "filter", err);
  if (rc != 0)
    return rc;
  dq_node *n = dq_node_alloc(DQ_NODE_FILTER, input);
  if (n == NULL)
    return dq_node_nomem(err, "a filter");
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

int dq_node_resolve_list(dq_node *n, const dq_schema *in, size_t count,
                         const dq_expr *const *exprs,
                         const char *const *names, const char *what,
                         dq_error *err) {
  int rc = dq_node_check_names(names, count, what, err);
  if (rc != 0)
    return rc;
  if (count > 0 && exprs == NULL)
    return dq_error_set(err, DQ_EINVAL, "the %s node has no expressions",
                        what);
  n->exprs = calloc(count ? count : 1, sizeof *n->exprs);
  n->names = dq_strv_dup(names, count);
  n->n_exprs = count;
  if (n->exprs == NULL || n->names == NULL) {
    free(n->exprs);
    n->exprs = NULL;
    n->n_exprs = 0;
    return dq_node_nomem(err, what);
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
  int rc = dq_node_check_input(input, "project", err);
  if (rc != 0)
    return rc;
  dq_node *n = dq_node_alloc(DQ_NODE_PROJECT, input);
  if (n == NULL)
    return dq_node_nomem(err, "a project");
  if ((rc = dq_node_resolve_list(n, input->schema, count, exprs, names, "project",
                         err)) != 0)
    goto fail;
  dq_type *types = calloc(count ? count : 1, sizeof *types);
  if (types == NULL) {
    rc = dq_node_nomem(err, "a project");
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


int dq_fields_add(dq_fields *f, const char *name, const char *suffix,
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

void dq_fields_free(dq_fields *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->owned[i]);
  free(f->owned);
  free(f->names);
  free(f->types);
  free(f->nullable);
}

bool dq_fields_has(const dq_fields *f, const char *name) {
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->names[i], name) == 0)
      return true;
  return false;
}

int dq_node_new_sort(dq_node *input, size_t count, const dq_expr *const *exprs,
                     const bool *descending, const bool *nulls_first,
                     dq_node **out, dq_error *err) {
  *out = NULL;
  int rc = dq_node_check_input(input, "sort", err);
  if (rc != 0)
    return rc;
  if (count == 0 || exprs == NULL)
    return dq_error_set(err, DQ_EINVAL, "a sort needs at least one key");
  dq_node *n = dq_node_alloc(DQ_NODE_SORT, input);
  if (n == NULL || (n->keys = calloc(count, sizeof *n->keys)) == NULL) {
    dq_node_unref(n);
    return dq_node_nomem(err, "a sort");
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
  int rc = dq_node_check_input(input, "limit", err);
  if (rc != 0)
    return rc;
  if (count < 0 || offset < 0)
    return dq_error_set(err, DQ_EINVAL, "a limit needs a count and offset "
                        ">= 0 (got %" PRId64 " and %" PRId64 ")", count,
                        offset);
  dq_node *n = dq_node_alloc(DQ_NODE_LIMIT, input);
  if (n == NULL)
    return dq_node_nomem(err, "a limit");
  n->count = count;
  n->offset = offset;
  n->schema = dq_schema_ref(input->schema);
  *out = n;
  return 0;
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
    int rc = dq_node_check_input(inputs[i], "union", err);
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
    return dq_node_nomem(err, "a union");
  }
  for (size_t i = 1; i < count; i++)
    n->more[n->n_more++] = dq_node_ref(inputs[i]);
  /* A column is nullable when it is in any input. */
  const dq_schema *s0 = inputs[0]->schema;
  size_t nf = dq_schema_n_fields(s0);
  dq_fields f;
  memset(&f, 0, sizeof f);
  int rc = 0;
  for (size_t c = 0; c < nf && rc == 0; c++) {
    bool nullable = false;
    for (size_t i = 0; i < count; i++)
      nullable |= dq_schema_field_nullable(inputs[i]->schema, c);
    if (dq_fields_add(&f, dq_schema_field_name(s0, c), NULL,
                   dq_schema_field_type(s0, c), nullable) != 0)
      rc = dq_node_nomem(err, "a union");
  }
  if (rc == 0)
    rc = dq_schema_new(nf, f.names, f.types, f.nullable, &n->schema, err);
  dq_fields_free(&f);
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
    return dq_node_nomem(err, "a read");
  n->producer = producer;
  n->schema = dq_schema_ref(schema);
  *out = n;
  return 0;
}

