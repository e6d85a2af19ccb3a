/* plan_scan.c — the SCAN node: a data source (scan/source.h), its state
 * and the columns read of it.  The node's schema is the projection of the
 * source's; the builder's three scans (TPC-H, CSV, Arrow IPC) make their
 * source's state and come here, and so does the decoder.  Also what is
 * asked of a stage's scans as a whole: their numbering, the work units a
 * coordinator sends, and making their data ready (materialize). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/tpch.h>

#include "plan/plan_internal.h"
#include "scan/source_csv.h"
#include "scan/source_ipc.h"
#include "scan/source_tpch.h"

/* Projects the source's schema onto the named columns (all of them when
 * columns is NULL), filling n's n_columns, columns, column_idx and
 * schema. */
static int project(dq_node *n, const char *const *columns, size_t n_columns,
                   dq_error *err) {
  const dq_schema *full = n->source->schema(n->source_state);
  if (columns == NULL)
    n_columns = dq_schema_n_fields(full);
  size_t c = n_columns ? n_columns : 1;
  const char **names = calloc(c, sizeof *names);
  dq_type *types = calloc(c, sizeof *types);
  bool *nullable = calloc(c, sizeof *nullable);
  n->columns = calloc(c, sizeof *n->columns);
  n->column_idx = calloc(c, sizeof *n->column_idx);
  int rc = 0;
  if (names == NULL || types == NULL || nullable == NULL ||
      n->columns == NULL || n->column_idx == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
  else
    n->n_columns = n_columns;
  for (size_t i = 0; rc == 0 && i < n_columns; i++) {
    int idx = columns == NULL ? (int)i
              : columns[i]   ? dq_schema_field_index(full, columns[i])
                             : -1;
    if (idx < 0) {
      char what[300];
      n->source->describe(n->source_state, what, sizeof what);
      rc = dq_error_set(err, DQ_EINVAL, "%s has no column named \"%s\"",
                        what, columns[i] ? columns[i] : "(null)");
      break;
    }
    n->column_idx[i] = idx;
    names[i] = dq_schema_field_name(full, (size_t)idx);
    types[i] = dq_schema_field_type(full, (size_t)idx);
    nullable[i] = dq_schema_field_nullable(full, (size_t)idx);
    if ((n->columns[i] = strdup(names[i])) == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
  }
  if (rc == 0)
    rc = dq_schema_new(n_columns, names, types, nullable, &n->schema, err);
  free(names);
  free(types);
  free(nullable);
  return rc;
}

int dq_node_new_scan(const dq_source_kind *kind, void *state,
                     const char *const *columns, size_t n_columns,
                     dq_node **out, dq_error *err) {
  *out = NULL;
  dq_node *n = dq_node_alloc(DQ_NODE_SCAN, NULL);
  if (n == NULL) {
    kind->free(state);
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
  }
  n->source = kind;
  n->source_state = state;
  int rc = project(n, columns, n_columns, err);
  if (rc != 0) {
    dq_node_unref(n);
    return rc;
  }
  *out = n;
  return 0;
}

int dq_node_new_scan_ipc(const char *const *paths, size_t n_paths,
                         const char *const *columns, size_t n_columns,
                         dq_node **out, dq_error *err) {
  void *state;
  *out = NULL;
  int rc = dq_source_ipc_new(paths, n_paths, &state, err);
  return rc ? rc
            : dq_node_new_scan(&dq_source_ipc, state, columns, n_columns, out,
                               err);
}

int dq_node_new_scan_csv(const char *const *paths, size_t n_paths,
                         const dq_schema *schema,
                         const dq_csv_options *opts, dq_node **out,
                         dq_error *err) {
  void *state;
  *out = NULL;
  int rc = dq_source_csv_new(paths, n_paths, schema, opts, &state, err);
  return rc ? rc : dq_node_new_scan(&dq_source_csv, state, NULL, 0, out, err);
}

int dq_node_new_scan_tpch(const char *table, double scale, uint64_t seed,
                          const char *const *columns, size_t n_columns,
                          dq_node **out, dq_error *err) {
  void *state;
  *out = NULL;
  int rc = dq_source_tpch_new(table, scale, seed, &state, err);
  return rc ? rc
            : dq_node_new_scan(&dq_source_tpch, state, columns, n_columns,
                               out, err);
}

dq_source_projection dq_node_scan_projection(const dq_node *n) {
  return (dq_source_projection){n->column_idx,
                                (const char *const *)n->columns,
                                n->n_columns, n->schema};
}

static size_t scans_walk(const dq_node *n, const dq_node **out, size_t cap,
                         size_t k) {
  if (n == NULL)
    return k;
  if (n->kind == DQ_NODE_SCAN) {
    if (k < cap)
      out[k] = n;
    k++;
  }
  for (size_t i = 0; i < dq_node_n_inputs(n); i++)
    k = scans_walk(dq_node_input_at(n, i), out, cap, k);
  return k;
}

size_t dq_node_scans(const dq_node *n, const dq_node **out, size_t cap) {
  return scans_walk(n, out, cap, 0);
}

typedef struct unit_list {
  dq_work_unit *u;
  uint32_t *to;
  size_t n, cap;
} unit_list;

static int push(unit_list *l, uint32_t scan, const dq_work_unit *src,
                uint32_t task, dq_error *err) {
  if (l->n == l->cap) {
    size_t c = l->cap ? l->cap * 2 : 8;
    dq_work_unit *g = realloc(l->u, c * sizeof *g);
    if (g != NULL)
      l->u = g;
    uint32_t *h = g != NULL ? realloc(l->to, c * sizeof *h) : NULL;
    if (h != NULL)
      l->to = h;
    if (g == NULL || h == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    l->cap = c;
  }
  int rc = dq_source_unit_wrap(scan, src ? src->data : NULL,
                               src ? src->len : 0, &l->u[l->n], err);
  if (rc == 0)
    l->to[l->n++] = task;
  return rc;
}

int dq_stage_work_units(const dq_stage *s, dq_work_unit **out,
                        uint32_t **task_of, size_t *n_out, dq_error *err) {
  *out = NULL;
  *task_of = NULL;
  *n_out = 0;
  size_t ns = dq_node_scans(s->root, NULL, 0);
  const dq_node **scans = calloc(ns ? ns : 1, sizeof *scans);
  dq_source_units *su = calloc(ns ? ns : 1, sizeof *su);
  int rc = scans == NULL || su == NULL
               ? dq_error_set(err, DQ_ENOMEM, "out of memory")
               : 0;
  bool any = false;
  if (rc == 0)
    dq_node_scans(s->root, scans, ns);
  /* Each source's input is cut once, for all the stage's tasks. */
  uint32_t N = s->task_count ? s->task_count : 1;
  for (size_t k = 0; rc == 0 && k < ns; k++)
    if (scans[k]->source->work_units != NULL) {
      rc = scans[k]->source->work_units(scans[k]->source_state, N, &su[k],
                                        err);
      any = true;
    }
  unit_list l = {NULL, NULL, 0, 0};
  /* Tasks in order, each with its units scan by scan, in the order the
   * source gave them. */
  for (uint32_t t = 0; any && rc == 0 && t < N; t++) {
    size_t before = l.n;
    for (size_t k = 0; rc == 0 && k < ns; k++)
      for (size_t i = 0; rc == 0 && i < su[k].n; i++)
        if (su[k].task_of[i] == t && su[k].units[i].len > 0)
          rc = push(&l, (uint32_t)k, &su[k].units[i], t, err);
    /* An empty share still needs one unit: a task with no unit at all
     * would cut the input itself and read everything. */
    if (rc == 0 && l.n == before)
      rc = push(&l, 0, NULL, t, err);
  }
  for (size_t k = 0; su != NULL && k < ns; k++) {
    dq_work_units_free(su[k].units, su[k].n);
    free(su[k].task_of);
  }
  free(su);
  free(scans);
  if (rc != 0) {
    dq_work_units_free(l.u, l.n);
    free(l.to);
    return rc;
  }
  *out = l.u;
  *task_of = l.to;
  *n_out = l.n;
  return 0;
}

static int materialize(const dq_node *n, dq_error *err) {
  if (n->kind == DQ_NODE_SCAN && n->source->materialize != NULL) {
    int rc = n->source->materialize(n->source_state, err);
    if (rc != 0)
      return rc;
  }
  for (size_t i = 0; i < dq_node_n_inputs(n); i++) {
    int rc = materialize(dq_node_input_at(n, i), err);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Every source that can make its data ready does: today TPC-H tables are
 * kept (tpch_kept.c). */
int dq_tpch_materialize_plan(const dq_plan *plan, size_t *bytes,
                             dq_error *err) {
  if (plan == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_tpch_materialize_plan: plan is "
                        "NULL");
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < plan->n_stages; i++)
    rc = materialize(plan->stages[i].root, err);
  if (bytes != NULL)
    *bytes = dq_source_tpch_kept_bytes();
  return rc;
}
