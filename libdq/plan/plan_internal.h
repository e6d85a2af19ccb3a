/* plan_internal.h — the representation of nodes, stages and plans inside
 * libdq, shared by the constructors (node*.c, plan_scan.c), stages and
 * plans (stage.c), the builder (builder.c), explain (explain.c), the codec
 * (plan_codec.c), the executor (exec.c, op_*.c), the planner and the
 * runtime.
 *
 * Nodes are immutable once made and reference-counted: a node holds a
 * reference to its input, a builder to every node it made, a stage to its
 * root.  So a builder can be freed while plans built from it live on, and
 * nothing is ever copied.  Every node is made by one of the dq_node_new_*
 * functions below, which derive and check its schema; the builder and the
 * decoder both go through them, so a decoded plan is checked exactly like a
 * built one.
 */
#ifndef DQ_PLAN_INTERNAL_H
#define DQ_PLAN_INTERNAL_H

#include <stdatomic.h>

#include <dq/plan.h>

#include "expr/expr.h"
#include "base/internal_export.h"
#include "scan/source.h"

/* Values match dq.v1.Node's oneof cases in plan.proto. */
typedef enum dq_node_kind {
  DQ_NODE_SCAN = 1,
  DQ_NODE_FILTER = 2,
  DQ_NODE_PROJECT = 3,
  DQ_NODE_AGGREGATE = 4,
  DQ_NODE_SORT = 5,
  DQ_NODE_LIMIT = 6,
  DQ_NODE_READ = 7,
  DQ_NODE_HASH_JOIN = 8,
  DQ_NODE_TOPN = 9,
  DQ_NODE_UNION = 10
} dq_node_kind;

typedef struct dq_agg_call {
  dq_agg_func func;
  dq_expr *arg;      /* SINGLE/PARTIAL: resolved argument (NULL: count(*));
                      * FINAL: a column reference to the first state column */
  dq_type arg_type;  /* the original argument's type (count(*): id 0) */
  dq_type out_type;  /* the SINGLE/FINAL result type */
  char *name;
  uint32_t state_col; /* FINAL: index of the first state column */
} dq_agg_call;

typedef struct dq_sort_spec {
  dq_expr *expr; /* resolved */
  bool descending;
  bool nulls_first;
} dq_sort_spec;

struct dq_node {
  atomic_long refs;
  dq_node_kind kind;
  dq_schema *schema; /* output schema */
  dq_node *input;    /* owned reference; NULL for leaves */
  /* Inputs after the first (owned references): HASH_JOIN's build side,
   * UNION's second and later inputs.  Every walker of the tree goes
   * through dq_node_n_inputs()/dq_node_input_at() or dq_node_reads(). */
  size_t n_more;
  dq_node **more;
  dq_node *builder_next;

  /* SCAN: a data source (scan/source.h), its state (owned), and the
   * columns read of it: names in output order, indices into the
   * source's schema. */
  const dq_source_kind *source;
  void *source_state;
  size_t n_columns;
  char **columns;
  int *column_idx;

  /* FILTER */
  dq_expr *predicate;

  /* PROJECT (exprs, names) and AGGREGATE (group exprs, group names) */
  size_t n_exprs;
  dq_expr **exprs;
  char **names;

  /* AGGREGATE */
  dq_agg_mode mode;
  size_t n_aggs;
  dq_agg_call *aggs;

  /* SORT, TOPN */
  size_t n_keys;
  dq_sort_spec *keys;

  /* LIMIT, TOPN */
  int64_t count;
  int64_t offset;

  /* HASH_JOIN: input = probe (left), more[0] = build (right).  Keys are
   * resolved against their own side, already cast to one type per pair;
   * the residual against join_schema (probe columns then build columns,
   * under the output names), which is also the output schema except for
   * SEMI/ANTI (probe columns only). */
  dq_join_kind join_kind;
  size_t n_join_keys;
  dq_expr **probe_keys;
  dq_expr **build_keys;
  dq_expr *residual; /* NULL: none */
  dq_schema *join_schema;

  /* READ */
  uint32_t producer;
};

dq_node *dq_node_ref(dq_node *n);
/* A node of this kind with one reference, taking one to input (may be
 * NULL); the constructors fill in the rest. */
dq_node *dq_node_alloc(dq_node_kind kind, dq_node *input);
void dq_node_unref(dq_node *n);

/* The node's inputs: 0 for leaves, 1, 2 for a join, n for a union. */
size_t dq_node_n_inputs(const dq_node *n);
const dq_node *dq_node_input_at(const dq_node *n, size_t i);
/* The READ nodes under n (n included), in no particular order; returns
 * the count and fills at most `cap` (out may be NULL when cap is 0). */
size_t dq_node_reads(const dq_node *n, const dq_node **out, size_t cap);

/* Constructors.  Expressions are given unresolved (or decoded) and are
 * resolved against the input's schema; `input` gets a new reference. */
/* A scan of a data source (plan_scan.c): takes over `state` (freed on
 * failure too); columns by name, NULL for every column. */
int dq_node_new_scan(const dq_source_kind *kind, void *state,
                     const char *const *columns, size_t n_columns,
                     dq_node **out, dq_error *err);
/* Scans Arrow IPC stream files; the schema is read from the first. */
int dq_node_new_scan_ipc(const char *const *paths, size_t n_paths,
                         const char *const *columns, size_t n_columns,
                         dq_node **out, dq_error *err);
/* CSV files with a declared schema (see dq_node_scan_csv_with). */
int dq_node_new_scan_csv(const char *const *paths, size_t n_paths,
                         const dq_schema *schema,
                         const dq_csv_options *opts, dq_node **out,
                         dq_error *err);
int dq_node_new_scan_tpch(const char *table, double scale, uint64_t seed,
                          const char *const *columns, size_t n_columns,
                          dq_node **out, dq_error *err);
/* The SCAN nodes under n in pre-order (n, then each input in order): a
 * stage's scans are numbered so, and its work units name them by number.
 * Returns the count, fills at most cap. */
size_t dq_node_scans(const dq_node *n, const dq_node **out, size_t cap);
/* The projection a SCAN node asks its source for. */
dq_source_projection dq_node_scan_projection(const dq_node *n);
/* The work units of every task of the stage, wrapped with their scan's
 * number, grouped by task in task order, task_of[i] the task of unit i;
 * none when no scan of the stage has work units.  A task whose share is
 * empty gets one empty unit, so that it reads nothing instead of cutting
 * the input itself.  Free with dq_work_units_free and free(task_of). */
DQ_INTERNAL
int dq_stage_work_units(const dq_stage *s, dq_work_unit **out,
                        uint32_t **task_of, size_t *n_out, dq_error *err);
int dq_node_new_filter(dq_node *input, const dq_expr *predicate,
                       dq_node **out, dq_error *err);
int dq_node_new_project(dq_node *input, size_t n, const dq_expr *const *exprs,
                        const char *const *names, dq_node **out,
                        dq_error *err);
/* SINGLE or PARTIAL. */
int dq_node_new_aggregate(dq_node *input, dq_agg_mode mode, size_t n_groups,
                          const dq_expr *const *groups,
                          const char *const *group_names, size_t n_aggs,
                          const dq_agg_func *funcs,
                          const dq_expr *const *args,
                          const char *const *names, dq_node **out,
                          dq_error *err);
/* FINAL, from what a PARTIAL's calls were: the input must have the
 * PARTIAL's output layout for these groups and calls. */
int dq_node_new_aggregate_final(dq_node *input, size_t n_groups,
                                const char *const *group_names, size_t n_aggs,
                                const dq_agg_func *funcs,
                                const dq_type *arg_types,
                                const char *const *names, dq_node **out,
                                dq_error *err);
int dq_node_new_sort(dq_node *input, size_t n, const dq_expr *const *exprs,
                     const bool *descending, const bool *nulls_first,
                     dq_node **out, dq_error *err);
int dq_node_new_limit(dq_node *input, int64_t count, int64_t offset,
                      dq_node **out, dq_error *err);
/* names: n_probe + n_build output names (probe then build), or NULL for
 * the default rule of dq/plan.h.  residual may be NULL. */
int dq_node_new_hash_join(dq_join_kind kind, dq_node *probe, dq_node *build,
                          size_t n_keys, const dq_expr *const *probe_keys,
                          const dq_expr *const *build_keys,
                          const dq_expr *residual, const char *const *names,
                          dq_node **out, dq_error *err);
int dq_node_new_topn(dq_node *input, size_t n, const dq_expr *const *exprs,
                     const bool *descending, const bool *nulls_first,
                     int64_t count, int64_t offset, dq_node **out,
                     dq_error *err);
int dq_node_new_union(size_t n, dq_node *const *inputs, dq_node **out,
                      dq_error *err);
/* schema: the producer's output schema (a new reference is taken). */
int dq_node_new_read(uint32_t producer, dq_schema *schema, dq_node **out,
                     dq_error *err);

/* Type rules of aggregates (see dq/plan.h). */
int dq_agg_types(dq_agg_func f, dq_type arg, dq_type *out_type,
                 size_t *n_state, dq_type state[2], dq_error *err);
const char *dq_agg_func_name(dq_agg_func f);

struct dq_stage {
  uint32_t id;
  uint32_t task_count;
  uint32_t partitions;
  dq_node *root;
  dq_boundary_kind out_kind;
  size_t n_keys;
  uint32_t *keys;          /* SHUFFLE: columns of root->schema */
  uint32_t consumer;       /* 0 for the head, or when not known */
  uint32_t consumer_tasks; /* N_c */
  uint32_t consumer_partitions; /* P_c */
};

struct dq_plan {
  size_t n_stages;
  dq_stage *stages; /* ascending ids; a decoded plan may hold a subset */
};

/* What one stage may ask for (plans come from the network). */
#define DQ_MAX_TASKS 65536u
#define DQ_MAX_PARTITIONS 1024u

/* Checks a stage's fields against its root (boundary keys in range, counts
 * non-zero); the builder and the decoder both call it. */
int dq_stage_check(const dq_stage *s, dq_error *err);
/* Checks the plan's stages against each other: ids 1..n in order, the last
 * one the head, each other stage read by exactly one later stage (its
 * consumer) with matching schema.  `complete`: every stage is present. */
int dq_plan_check(dq_plan *p, bool complete, dq_error *err);
/* Frees the stages' contents (not the array). */
void dq_stage_clear(dq_stage *s);

/* Producer heads (ExecuteTaskRequest.producer_head). */
typedef struct dq_producer_head {
  dq_boundary_kind kind;
  size_t n_keys;
  uint32_t *keys;           /* SHUFFLE: columns of the producer's output */
  uint32_t partition_count; /* SHUFFLE: P_c * N_c; else 0 */
} dq_producer_head;

/* The head a stage's output boundary needs (keys point into the stage). */
DQ_INTERNAL
int dq_stage_producer_head(const dq_stage *s, dq_producer_head *out,
                           dq_error *err);
void dq_producer_head_clear(dq_producer_head *h);

/* --- Codec (plan_codec.c) --------------------------------------------------
 * Encoded bytes are malloc'd; free them with free(). */
DQ_INTERNAL
int dq_plan_encode(const dq_plan *p, uint8_t **buf, size_t *len,
                   dq_error *err);
/* What one task receives: a dq.v1.Plan holding only this stage. */
int dq_stage_encode(const dq_stage *s, uint8_t **buf, size_t *len,
                    dq_error *err);
/* Decodes and checks a plan (whole, or any subset of stages such as the
 * one a task receives).  DQ_EPROTO for bytes that are not a plan, DQ_EINVAL
 * for a plan that does not check; never crashes on any input. */
DQ_INTERNAL
int dq_plan_decode(const uint8_t *buf, size_t len, dq_plan **out,
                   dq_error *err);
DQ_INTERNAL
int dq_producer_head_encode(const dq_producer_head *h, uint8_t **buf,
                            size_t *len, dq_error *err);
/* out's keys are malloc'd: free with dq_producer_head_clear(). */
DQ_INTERNAL
int dq_producer_head_decode(const uint8_t *buf, size_t len,
                            dq_producer_head *out, dq_error *err);

#endif /* DQ_PLAN_INTERNAL_H */
