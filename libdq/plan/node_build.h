/* node_build.h — what the node constructors (node*.c, plan_scan.c) and
 * the builder share: string lists, the common checks, and a growing list
 * of output fields. */
#ifndef DQ_PLAN_NODE_BUILD_H
#define DQ_PLAN_NODE_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "plan/plan_internal.h"

void dq_strv_free(char **v, size_t n);
/* A copy of n strings (malloc'd), or NULL when out of memory. */
char **dq_strv_dup(const char *const *v, size_t n);
/* DQ_ENOMEM, "out of memory making WHAT". */
int dq_node_nomem(dq_error *err, const char *what);
/* DQ_EINVAL unless input is a node with a schema. */
int dq_node_check_input(dq_node *input, const char *what, dq_error *err);
/* DQ_EINVAL unless each of the n names is a non-empty string. */
int dq_node_check_names(const char *const *names, size_t n, const char *what,
                        dq_error *err);

/* Resolves exprs against `in` and makes n->exprs, n->names and the
 * schema of their values. */
int dq_node_resolve_list(dq_node *n, const dq_schema *in, size_t count,
                         const dq_expr *const *exprs,
                         const char *const *names, const char *what,
                         dq_error *err);

/* Output fields being collected (names copied by dq_schema_new later). */
typedef struct dq_fields {
  size_t n, cap;
  const char **names;
  char **owned; /* names made here, freed with the list */
  dq_type *types;
  bool *nullable;
} dq_fields;

/* Appends name (+ suffix, when not NULL); DQ_ENOMEM on failure. */
int dq_fields_add(dq_fields *f, const char *name, const char *suffix,
                  dq_type t, bool nullable);
void dq_fields_free(dq_fields *f);
bool dq_fields_has(const dq_fields *f, const char *name);

#endif /* DQ_PLAN_NODE_BUILD_H */
