/* node_join.c — HASH_JOIN nodes: keys resolved against their own side
 * and cast to one type per pair, output names (the default rule of
 * dq/plan.h), and the residual resolved against both sides. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/node_build.h"

int dq_node_new_hash_join(dq_join_kind kind, dq_node *probe, dq_node *build,
                          size_t n_keys, const dq_expr *const *probe_keys,
                          const dq_expr *const *build_keys,
                          const dq_expr *residual, const char *const *names,
                          dq_node **out, dq_error *err) {
  *out = NULL;
  int rc;
  if ((rc = dq_node_check_input(probe, "hash join's probe", err)) != 0 ||
      (rc = dq_node_check_input(build, "hash join's build", err)) != 0)
    return rc;
  if (kind < DQ_JOIN_INNER || kind > DQ_JOIN_LEFT_ANTI)
    return dq_error_set(err, DQ_EINVAL, "unknown join kind %d", (int)kind);
  if (n_keys == 0 || probe_keys == NULL || build_keys == NULL)
    return dq_error_set(err, DQ_EINVAL, "a hash join needs at least one key "
                        "pair");
  size_t np = dq_schema_n_fields(probe->schema);
  size_t nb = dq_schema_n_fields(build->schema);
  if (names != NULL && (rc = dq_node_check_names(names, np + nb, "hash join", err)))
    return rc;
  dq_node *n = dq_node_alloc(DQ_NODE_HASH_JOIN, probe);
  dq_fields f;
  memset(&f, 0, sizeof f);
  char *cand = NULL;
  if (n == NULL)
    return dq_node_nomem(err, "a hash join");
  n->join_kind = kind;
  n->more = calloc(1, sizeof *n->more);
  n->probe_keys = calloc(n_keys, sizeof *n->probe_keys);
  n->build_keys = calloc(n_keys, sizeof *n->build_keys);
  if (n->more == NULL || n->probe_keys == NULL || n->build_keys == NULL) {
    rc = dq_node_nomem(err, "a hash join");
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
    if (dq_fields_add(&f, names ? names[i] : dq_schema_field_name(probe->schema,
                                                               i),
                   NULL, dq_schema_field_type(probe->schema, i),
                   dq_schema_field_nullable(probe->schema, i)) != 0)
      rc = dq_node_nomem(err, "a hash join");
  for (size_t i = 0; i < nb && rc == 0; i++) {
    const char *name = names ? names[np + i]
                             : dq_schema_field_name(build->schema, i);
    free(cand);
    if ((cand = strdup(name)) == NULL) {
      rc = dq_node_nomem(err, "a hash join");
      break;
    }
    /* The default rule of dq/plan.h: "_r" until the name is free. */
    while (names == NULL && dq_fields_has(&f, cand)) {
      size_t len = strlen(cand);
      char *c2 = realloc(cand, len + 3);
      if (c2 == NULL) {
        rc = dq_node_nomem(err, "a hash join");
        break;
      }
      memcpy(c2 + len, "_r", 3);
      cand = c2;
    }
    if (rc == 0 &&
        dq_fields_add(&f, cand, "", dq_schema_field_type(build->schema, i),
                   kind == DQ_JOIN_LEFT ||
                       dq_schema_field_nullable(build->schema, i)) != 0)
      rc = dq_node_nomem(err, "a hash join");
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
  dq_fields_free(&f);
  *out = n;
  return 0;
fail:
  free(cand);
  dq_fields_free(&f);
  dq_node_unref(n);
  return rc;
}
