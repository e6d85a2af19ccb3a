/* dq/plan.h — building query plans: expressions, nodes, stages.
 *
 * A plan is a query split into stages, numbered bottom-up from 1 in the order
 * they are added.  The last stage is the head: one task, one partition, run
 * by the coordinator; its output is the query result.  Every other stage
 * ends in an output boundary (shuffle, coalesce or broadcast) that exactly
 * one later stage reads through a READ node.  A stage runs `task_count`
 * tasks, each with `partitions` pipelines.
 *
 * Plans are built with a dq_plan_builder.  Expressions and nodes are handles
 * owned by the builder (freed with it).  Errors are sticky: the first failed
 * call records its error, every later call returns NULL / 0 without doing
 * anything, and dq_plan_builder_finish() reports that first error.  So an
 * embedder may chain calls and check once:
 *
 *   dq_plan_builder *b;  dq_plan_builder_new(&b, &err);
 *   dq_node *n = dq_node_scan_tpch(b, "lineitem", 1.0, 42, cols, 3);
 *   n = dq_node_filter(b, n, dq_expr_lt(b, dq_expr_column(b, "l_quantity"),
 *                                          dq_expr_decimal(b, "24")));
 *   dq_plan_stage(b, n, 1, 1, NULL);
 *   rc = dq_plan_builder_finish(b, &plan, &err);  dq_plan_builder_free(b);
 *
 * Expressions are untyped until a node uses them: each node resolves its
 * expressions against its input's schema, so a bad column name or a type
 * mismatch fails at that node with a message naming the column or
 * expression.  An expression handle may be used by several nodes.
 *
 * Types of expressions (SQL rules, decimals as in SQL Server):
 *   int32 op int32 -> int32, else int64 when both are integers (overflow is
 *   an execution error); an integer with a decimal is the decimal(10,0) or
 *   decimal(19,0) it converts to exactly; float64 with anything numeric is
 *   float64.  For decimal(p1,s1) op decimal(p2,s2):
 *     + -  scale max(s1,s2), precision max(p1-s1,p2-s2)+scale+1
 *     *    scale s1+s2,       precision p1+p2+1
 *     /    scale max(6, s1+p2+1), precision p1-s1+s2+scale; when that
 *          precision exceeds 38 the scale shrinks to 38-(p1-s1+s2), but
 *          not below 6 (nor below s1-s2)
 *   precision capped at 38 (a scale above 38 is a build error).  Values are
 *   checked against the 128-bit range only, not against the precision.
 *   Division rounds half away from zero; integer division truncates;
 *   division by zero gives NULL (so a vectorized evaluation of
 *   `b <> 0 AND a / b > 1` cannot fail on rows the AND discards).
 *   date - date -> int32 days; date +/- integer -> date.
 *   Comparisons take two operands of one type after the same promotions
 *   (decimals compare by value whatever their scales); utf8 compares by
 *   bytes.  AND/OR/NOT use SQL's three-valued logic.
 *
 * Aggregates (sum, count, count(*), min, max, avg):
 *   sum(int32|int64) -> int64 (accumulated in 128 bits; an out-of-range
 *   total is an execution error); sum(decimal(p,s)) -> decimal(38,s);
 *   sum(float64) -> float64; count -> int64; min/max -> the argument's type;
 *   avg(decimal(p,s)) -> decimal(min(38,p+4), min(38,s+4)), the exact sum
 *   divided by the count rounded half away from zero; avg(integer) ->
 *   float64, the exact sum converted to double divided by the count;
 *   avg(float64) -> float64.  sum/min/max/avg of no non-null values is NULL.
 *   Decimal and integer results are exact, so equal for every partitioning
 *   of the input; float64 sums (and avg(float64)) add in input order and may
 *   differ in the last bits between partitionings.
 *   Partial/final: a PARTIAL aggregate outputs the group keys then, per
 *   call, its state: sum -> the sum (decimal(38,0) for integers, so partial
 *   sums never overflow); count -> int64; min/max -> the value; avg -> two
 *   columns "<name>$sum" and "<name>$count".  dq_node_aggregate_final()
 *   builds the FINAL aggregate that merges those columns.
 *   Groups come out in first-seen order; a grouping with no keys gives one
 *   row even for an empty input (SINGLE, FINAL) and no row for an empty
 *   input (PARTIAL).  NULL keys form one group.
 */
#ifndef DQ_PLAN_H
#define DQ_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/batch.h>
#include <dq/dq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dq_plan_builder dq_plan_builder;
typedef struct dq_expr dq_expr;
typedef struct dq_node dq_node;
typedef struct dq_plan dq_plan;
typedef struct dq_stage dq_stage;

/* --- Builder -------------------------------------------------------------- */
DQ_EXPORT int dq_plan_builder_new(dq_plan_builder **out, dq_error *err);
/* Frees the builder and every expression and node handle it made. */
DQ_EXPORT void dq_plan_builder_free(dq_plan_builder *b);
/* The first error so far (0 if none), copied into err. */
DQ_EXPORT int dq_plan_builder_error(const dq_plan_builder *b, dq_error *err);
/* Checks the stages (see the top of this file) and makes the plan, which is
 * independent of the builder.  Reports the builder's first error, if any. */
DQ_EXPORT int dq_plan_builder_finish(dq_plan_builder *b, dq_plan **out,
                                     dq_error *err);

/* --- Expressions ---------------------------------------------------------- */
DQ_EXPORT dq_expr *dq_expr_column(dq_plan_builder *b, const char *name);
DQ_EXPORT dq_expr *dq_expr_null(dq_plan_builder *b, dq_type type);
DQ_EXPORT dq_expr *dq_expr_bool(dq_plan_builder *b, bool v);
DQ_EXPORT dq_expr *dq_expr_int32(dq_plan_builder *b, int32_t v);
DQ_EXPORT dq_expr *dq_expr_int64(dq_plan_builder *b, int64_t v);
DQ_EXPORT dq_expr *dq_expr_float64(dq_plan_builder *b, double v);
DQ_EXPORT dq_expr *dq_expr_utf8(dq_plan_builder *b, const char *s);
/* "YYYY-MM-DD" (proleptic Gregorian). */
DQ_EXPORT dq_expr *dq_expr_date(dq_plan_builder *b, const char *text);
DQ_EXPORT dq_expr *dq_expr_date32(dq_plan_builder *b, int32_t days);
/* "-12.340": decimal(p,s) with s the digits after the point (3) and p the
 * significant digits before it plus s (5); at most 38 digits. */
DQ_EXPORT dq_expr *dq_expr_decimal(dq_plan_builder *b, const char *text);
DQ_EXPORT dq_expr *dq_expr_decimal128(dq_plan_builder *b, dq_decimal unscaled,
                                      uint8_t precision, int8_t scale);

DQ_EXPORT dq_expr *dq_expr_add(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_sub(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_mul(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_div(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_neg(dq_plan_builder *b, dq_expr *e);
DQ_EXPORT dq_expr *dq_expr_eq(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_ne(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_lt(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_le(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_gt(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_ge(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_and(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_or(dq_plan_builder *b, dq_expr *l, dq_expr *r);
DQ_EXPORT dq_expr *dq_expr_not(dq_plan_builder *b, dq_expr *e);
DQ_EXPORT dq_expr *dq_expr_is_null(dq_plan_builder *b, dq_expr *e);
DQ_EXPORT dq_expr *dq_expr_is_not_null(dq_plan_builder *b, dq_expr *e);
/* x BETWEEN lo AND hi, i.e. x >= lo AND x <= hi. */
DQ_EXPORT dq_expr *dq_expr_between(dq_plan_builder *b, dq_expr *x,
                                   dq_expr *lo, dq_expr *hi);
/* Numeric conversions: integer <-> integer (checked), integer/decimal ->
 * float64, integer -> decimal, decimal -> decimal (rounds half away from
 * zero when the scale shrinks), decimal -> integer (same rounding),
 * float64 -> integer/decimal (same rounding; NaN, infinities and values
 * out of range are execution errors).  utf8 -> date32 parses
 * "YYYY-MM-DD" (anything else is an execution error); date32 -> utf8
 * formats it so. */
DQ_EXPORT dq_expr *dq_expr_cast(dq_plan_builder *b, dq_expr *e, dq_type to);

/* x IN (values): the values are literals (dq_expr_int32(), ...) comparable
 * with x; x and the values meet at one type as in a comparison.  NULL when
 * x is NULL, or when nothing matches and a value is NULL. */
DQ_EXPORT dq_expr *dq_expr_in(dq_plan_builder *b, dq_expr *x, size_t n,
                              dq_expr *const *values);
/* x LIKE pattern (utf8): `%` matches any run of bytes, `_` one byte; no
 * escape character.  Prefix ("ab%"), suffix ("%ab") and contains ("%ab%")
 * patterns take a fast path. */
DQ_EXPORT dq_expr *dq_expr_like(dq_plan_builder *b, dq_expr *x,
                                const char *pattern);
/* CASE WHEN whens[0] THEN thens[0] ... ELSE else_value END (else_value NULL:
 * ELSE NULL).  Conditions are bool, NULL counting as false; the result
 * type is where the THEN/ELSE types meet (as in a comparison: int32 and
 * int64 -> int64, decimals -> the decimal holding both, with float64 ->
 * float64).  A branch is evaluated only on the rows that take it. */
DQ_EXPORT dq_expr *dq_expr_case(dq_plan_builder *b, size_t n,
                                dq_expr *const *whens, dq_expr *const *thens,
                                dq_expr *else_value);
/* EXTRACT(YEAR FROM date) -> int32. */
DQ_EXPORT dq_expr *dq_expr_extract_year(dq_plan_builder *b, dq_expr *date);
/* SUBSTRING(s FROM start FOR len) on bytes, SQL-style: the bytes at 1-based
 * positions [start, start + len) that exist (start may be < 1); integer
 * start and len; a negative len is an execution error. -> utf8. */
DQ_EXPORT dq_expr *dq_expr_substring(dq_plan_builder *b, dq_expr *s,
                                     dq_expr *start, dq_expr *len);

/* --- Nodes ---------------------------------------------------------------- */
typedef enum dq_agg_mode {
  DQ_AGG_SINGLE = 1,
  DQ_AGG_PARTIAL = 2,
  DQ_AGG_FINAL = 3
} dq_agg_mode;

typedef enum dq_agg_func {
  DQ_AGG_SUM = 1,
  DQ_AGG_COUNT = 2,
  DQ_AGG_COUNT_STAR = 3, /* arg is NULL */
  DQ_AGG_MIN = 4,
  DQ_AGG_MAX = 5,
  DQ_AGG_AVG = 6
} dq_agg_func;

typedef struct dq_agg {
  dq_agg_func func;
  dq_expr *arg; /* NULL for DQ_AGG_COUNT_STAR */
  const char *name;
} dq_agg;

typedef struct dq_sort_key {
  dq_expr *expr;
  bool descending;
  bool nulls_first;
} dq_sort_key;

/* Scans a built-in TPC-H table ("lineitem", ...) generated at `scale` from
 * `seed`, keeping the named columns in the order given (all of them when
 * columns is NULL).  Each pipeline generates only its own slice. */
DQ_EXPORT dq_node *dq_node_scan_tpch(dq_plan_builder *b, const char *table,
                                     double scale, uint64_t seed,
                                     const char *const *columns,
                                     size_t n_columns);
/* Scans Arrow IPC stream files (as `dq gen --format arrow` writes them),
 * keeping the named columns (all when columns is NULL).  The schema is read
 * from the first file when the node is built; every file must have those
 * columns with the same types.  File i is read by pipeline i mod (tasks x
 * partitions) of its stage, so the files should be reachable at the same
 * path on every worker.  Batches are projected without copying. */
DQ_EXPORT dq_node *dq_node_scan_ipc(dq_plan_builder *b, size_t n_paths,
                                    const char *const *paths,
                                    const char *const *columns,
                                    size_t n_columns);
/* Scans CSV files (RFC 4180: fields quoted with '"' may hold commas, line
 * breaks and doubled quotes; records end with LF or CRLF) whose columns
 * are declared by `schema`: the node's output, one field per column in
 * order.  Text forms: int32/int64 decimal integers; float64 as strtod
 * reads it; decimal(p,s) "-12.34" with at most s digits after the point
 * (padded with zeros) and p - s before it; date32 "YYYY-MM-DD"; bool
 * "true"/"false" (also t/f, 1/0, any case); utf8 as is.  An empty field
 * is NULL (an error for a non-nullable column), except that a quoted
 * empty field ("") of a utf8 column is the empty string.  With
 * `header`, each file's first record is skipped (it must have as many
 * fields as the schema).  The coordinator cuts the files into byte ranges
 * and spreads them over the stage's tasks and pipelines, so the files
 * must be reachable at the same path on every worker.  A line break
 * inside a quoted field must not fall on a range boundary (the query
 * fails saying so): read such files as one range (split_bytes above
 * their size).  Malformed input fails the query with
 * "FILE:LINE:COLUMN: ..." (1-based, COLUMN in bytes of the physical
 * line); a file that cannot be opened with "cannot open CSV file FILE". */
DQ_EXPORT dq_node *dq_node_scan_csv(dq_plan_builder *b, size_t n_paths,
                                    const char *const *paths,
                                    const dq_schema *schema, bool header);
/* Defaults: no header, 8 MiB ranges, records up to 1 MiB. */
typedef struct dq_csv_options {
  bool header;
  int64_t split_bytes;    /* bytes per range (work unit); 0: 8 MiB */
  int64_t max_line_bytes; /* a longer record is an error; 0: 1 MiB */
} dq_csv_options;
/* dq_node_scan_csv with every option (opts NULL: the defaults). */
DQ_EXPORT dq_node *dq_node_scan_csv_with(dq_plan_builder *b, size_t n_paths,
                                         const char *const *paths,
                                         const dq_schema *schema,
                                         const dq_csv_options *opts);
/* Keeps the rows where predicate (bool) is true: NULL counts as false. */
DQ_EXPORT dq_node *dq_node_filter(dq_plan_builder *b, dq_node *input,
                                  dq_expr *predicate);
DQ_EXPORT dq_node *dq_node_project(dq_plan_builder *b, dq_node *input,
                                   size_t n, dq_expr *const *exprs,
                                   const char *const *names);
/* mode is DQ_AGG_SINGLE or DQ_AGG_PARTIAL (see the top of this file). */
DQ_EXPORT dq_node *dq_node_aggregate(dq_plan_builder *b, dq_node *input,
                                     dq_agg_mode mode, size_t n_groups,
                                     dq_expr *const *groups,
                                     const char *const *group_names,
                                     size_t n_aggs, const dq_agg *aggs);
/* The FINAL aggregate matching `partial` (a PARTIAL aggregate node of this
 * builder), over an input with partial's output schema (typically a READ of
 * the stage whose root is partial).  Its output equals what the SINGLE
 * aggregate with partial's arguments would give. */
DQ_EXPORT dq_node *dq_node_aggregate_final(dq_plan_builder *b, dq_node *input,
                                           const dq_node *partial);
/* A stable sort: rows with equal keys keep their input order. */
DQ_EXPORT dq_node *dq_node_sort(dq_plan_builder *b, dq_node *input, size_t n,
                                const dq_sort_key *keys);
/* Skips `offset` rows, then passes `count` rows and stops reading its input
 * (so upstream work can be cancelled). */
DQ_EXPORT dq_node *dq_node_limit(dq_plan_builder *b, dq_node *input,
                                 int64_t count, int64_t offset);
/* Hash join.  `probe` (the left input) streams; `build` (the right input)
 * is read completely into a hash table first, once per pipeline.  Keys are
 * n_keys pairs (probe_keys[i] over probe's schema, build_keys[i] over
 * build's) of comparable types, brought to one type as comparisons are; a
 * NULL key never matches (SQL).  `residual` (bool, may be NULL) is
 * evaluated on the joined row (probe columns then build columns) and a
 * pair matches only where it is true.
 *   INNER: the matching pairs.  LEFT: also each probe row with no match,
 *   its build columns NULL.  LEFT_SEMI / LEFT_ANTI: each probe row that
 *   has at least one / no match, once, probe columns only.
 * Output (and residual) columns: probe columns then build columns, named
 * by `names` (n_probe + n_build names, also for SEMI/ANTI where they name
 * the residual's columns) or, when names is NULL, by their inputs' names
 * with a build column whose name is already taken renamed "<name>_r"
 * ("_r" appended until unique).  Rows come out in no particular order. */
typedef enum dq_join_kind {
  DQ_JOIN_INNER = 1,
  DQ_JOIN_LEFT = 2,
  DQ_JOIN_LEFT_SEMI = 3,
  DQ_JOIN_LEFT_ANTI = 4
} dq_join_kind;
DQ_EXPORT dq_node *dq_node_hash_join(dq_plan_builder *b, dq_join_kind kind,
                                     dq_node *probe, dq_node *build,
                                     size_t n_keys,
                                     dq_expr *const *probe_keys,
                                     dq_expr *const *build_keys,
                                     dq_expr *residual,
                                     const char *const *names);
/* Sort + limit in one: the first `count` rows after skipping `offset` of
 * the input ordered by the keys, kept in a bounded heap of count + offset
 * rows instead of sorting everything.  Ties keep their input order, so
 * the result equals dq_node_limit(dq_node_sort(...)). */
DQ_EXPORT dq_node *dq_node_topn(dq_plan_builder *b, dq_node *input, size_t n,
                                const dq_sort_key *keys, int64_t count,
                                int64_t offset);
/* UNION ALL of n >= 2 inputs whose columns have equal types (names and
 * nullability come from the first): each pipeline passes on its partition
 * of every input, the first input's first. */
DQ_EXPORT dq_node *dq_node_union(dq_plan_builder *b, size_t n,
                                 dq_node *const *inputs);
/* Reads the output boundary of an earlier stage (which this stage then
 * consumes).  Its schema is that stage's output schema. */
DQ_EXPORT dq_node *dq_node_read(dq_plan_builder *b, uint32_t producer_stage_id);
/* The node's output schema (owned by the node), or NULL for a NULL node. */
DQ_EXPORT const dq_schema *dq_node_schema(const dq_node *n);

/* --- Stages --------------------------------------------------------------- */
typedef enum dq_boundary_kind {
  DQ_BOUNDARY_NONE = 0, /* the head stage */
  DQ_BOUNDARY_SHUFFLE = 1,
  DQ_BOUNDARY_COALESCE = 2,
  DQ_BOUNDARY_BROADCAST = 3
} dq_boundary_kind;

typedef struct dq_boundary {
  dq_boundary_kind kind;
  size_t n_keys;            /* SHUFFLE: >= 1 */
  const char *const *keys;  /* SHUFFLE: columns of the stage's output */
} dq_boundary;

/* Adds a stage with `root` as its node tree; returns its id (1, 2, ...), or
 * 0 on error.  `output` is NULL for the head (the last stage added). */
DQ_EXPORT uint32_t dq_plan_stage(dq_plan_builder *b, dq_node *root,
                                 uint32_t task_count, uint32_t partitions,
                                 const dq_boundary *output);

/* --- Plans ---------------------------------------------------------------- */
DQ_EXPORT void dq_plan_free(dq_plan *p);
DQ_EXPORT size_t dq_plan_n_stages(const dq_plan *p);
/* The stage with this id, or NULL. */
DQ_EXPORT const dq_stage *dq_plan_stage_by_id(const dq_plan *p, uint32_t id);
/* The head stage (the highest id), or NULL for an empty plan. */
DQ_EXPORT const dq_stage *dq_plan_head(const dq_plan *p);

DQ_EXPORT uint32_t dq_stage_id(const dq_stage *s);
DQ_EXPORT uint32_t dq_stage_task_count(const dq_stage *s);
DQ_EXPORT uint32_t dq_stage_partitions(const dq_stage *s);
/* The schema of the stage's output (its root node's). */
DQ_EXPORT const dq_schema *dq_stage_schema(const dq_stage *s);
DQ_EXPORT dq_boundary_kind dq_stage_boundary_kind(const dq_stage *s);
/* The stage reading this one's output boundary (0 for the head). */
DQ_EXPORT uint32_t dq_stage_consumer(const dq_stage *s);
/* SHUFFLE key columns, as indices into dq_stage_schema(). */
DQ_EXPORT const uint32_t *dq_stage_boundary_keys(const dq_stage *s,
                                                 size_t *n_keys);
/* Ids of the stages this stage's READ nodes read, ascending; returns the
 * count and fills at most `cap` ids. */
DQ_EXPORT size_t dq_stage_inputs(const dq_stage *s, uint32_t *ids, size_t cap);

/* Writes a readable, indented description of the plan into buf (truncated
 * to len, always NUL-terminated); returns the length it needed. */
DQ_EXPORT size_t dq_plan_explain(const dq_plan *p, char *buf, size_t len);

/* Runs a one-stage plan (the head alone, no READ nodes) in the calling
 * thread, passing each result batch to on_batch (which borrows it: take a
 * reference to keep it).  on_batch returns 0 to go on, > 0 to stop early
 * (dq_plan_run_local then returns 0) or a negative DQ_E* code to fail. */
typedef int (*dq_batch_fn)(void *ctx, const dq_batch *batch, dq_error *err);
DQ_EXPORT int dq_plan_run_local(const dq_plan *p, dq_batch_fn on_batch,
                                void *ctx, dq_error *err);

/* --- Distributed planning ---------------------------------------------------
 * dq_plan_distribute() turns a single-node plan (one head stage, no READ
 * nodes) into stages, the way DESIGN.md's "Executor and planner" says:
 *   - an aggregate runs PARTIAL where its input is, below a SHUFFLE on the
 *     group keys, and FINAL above it (no group keys: PARTIAL, COALESCE,
 *     FINAL in one pipeline); input already partitioned on the group keys
 *     is aggregated in place;
 *   - a join broadcasts its build side when that is estimated (TPC-H table
 *     sizes or file sizes, times guessed filter selectivities) at no more
 *     than broadcast_max_rows rows, or is in one pipeline already;
 *     otherwise both sides are shuffled on the join keys, hashed in the
 *     keys' common type, and a side already partitioned on them stays put;
 *   - SORT, TOPN and LIMIT need one pipeline: a COALESCE brings the rows
 *     together, and TOPN / LIMIT (also LIMIT over SORT, as a top-N) keep
 *     only count + offset rows per pipeline below it;
 *   - the result is coalesced into the head.
 * Every stage but those in one pipeline runs n_tasks tasks of `partitions`
 * pipelines.  A boundary from one pipeline to one pipeline is elided: with
 * n_tasks = 1 and partitions = 1 the result is the input's single stage.
 * Results equal the single-node plan's, except where that plan leaves the
 * answer open: the order of rows no sort fixes, which rows a LIMIT
 * without order keeps, ties of a top-N, float64 sums' last bits.
 * dq_plan_explain() shows the stages chosen. */
typedef struct dq_distribute_opts {
  size_t size;        /* sizeof(dq_distribute_opts): fields beyond it are
                       * taken as 0 */
  uint32_t n_tasks;   /* tasks per distributed stage, >= 1 */
  uint32_t partitions; /* pipelines per task; 0 means 1 */
  /* Broadcast a join's build side estimated at no more rows than this;
   * 0: a default (100000); negative: never broadcast (shuffle). */
  int64_t broadcast_max_rows;
} dq_distribute_opts;

/* Makes *out (free with dq_plan_free()); single_node is not changed and
 * may be freed before *out.  DQ_EINVAL for a plan that is not single-node
 * or bad options. */
DQ_EXPORT int dq_plan_distribute(const dq_plan *single_node,
                                 const dq_distribute_opts *opts,
                                 dq_plan **out, dq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* DQ_PLAN_H */
