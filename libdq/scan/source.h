/* source.h — a data source as a table of callbacks (one per kind: TPC-H,
 * CSV, Arrow IPC, ...), what plans, their codec, explain, the planner,
 * the coordinator and the executor call instead of knowing any kind.
 *
 * A scan node of a plan carries (kind, state, projected columns).  The
 * state is the kind's own parameters (a table name and scale, a list of
 * files and a schema); it is immutable once made, and everything a
 * worker needs travels in its encoding: decoding never opens a file, so a
 * worker decodes a plan the same whether or not it can read the data yet.
 *
 * How a stage's tasks share a source out is the kind's business: TPC-H
 * slices its generation units per pipeline (dq_scan_slice), Arrow IPC
 * deals files out, CSV has the coordinator cut its files into byte ranges
 * (work units) once for all tasks and send each task its own.
 *
 * Adding a kind: one file (scan/source_NAME.c, with a header for its
 * constructor if the plan builder makes it), one line in
 * source_registry.c, the file in scan/local.mk.  Nothing else changes.
 */
#ifndef DQ_SCAN_SOURCE_H
#define DQ_SCAN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/batch.h>

#include "base/internal_export.h"

/* One work unit as the coordinator sent it: opaque bytes.  On the
 * coordinator channel a unit is wrapped with the number of the scan it
 * is for (dq_source_unit_wrap); a source sees only its own bytes. */
typedef struct dq_work_unit {
  void *data;
  size_t len;
} dq_work_unit;

/* What one pipeline of one task reads of a scan. */
typedef struct dq_source_slice {
  uint32_t task_number, task_count; /* this task, in its stage (N) */
  uint32_t partition, n_partitions; /* this pipeline, of the task's P */
  int64_t batch_rows;               /* target rows per batch */
  /* units_sent: the coordinator sent this task work units (for this or
   * another scan of the stage); then `units` are this scan's, in the
   * order they arrived, valid during open only.  When none were sent (a
   * plan run without a coordinator) a source with work units cuts its
   * input itself, exactly as its work_units callback would. */
  bool units_sent;
  const dq_work_unit *units;
  size_t n_units;
  /* Which files a reader may open (file_policy.h): every path is checked
   * and the resolved one opened; NULL: any. */
  const struct dq_file_policy *files;
} dq_source_slice;

/* The projection a scan node asks for: columns of the source's full
 * schema, by index, and the schema of the batches to return. */
typedef struct dq_source_projection {
  const int *column_idx;
  const char *const *names;
  size_t n_columns;
  dq_schema *schema; /* every batch a reader returns has this schema */
} dq_source_projection;

/* A reader of one pipeline's slice: batches until *out = NULL.  Readers
 * embed this as their first member.  Cancellation is checked by whoever
 * pulls, between batches. */
typedef struct dq_source_reader dq_source_reader;
struct dq_source_reader {
  int (*next)(dq_source_reader *r, dq_batch **out, dq_error *err);
  void (*close)(dq_source_reader *r);
};

/* Rows of a slice keyed on `column` (an index into the full schema) have
 * key values that stay within the source's units, and every source of
 * the same `domain` slices the same units the same way: pipeline (t, p)
 * of two such scans in stages of equal N and P hold the same keys.  The
 * planner runs joins and aggregates on that key where the rows are. */
typedef struct dq_source_keying {
  size_t column;
  char domain[96];
} dq_source_keying;

/* Work units a coordinator sends, unit i to task task_of[i]. */
typedef struct dq_source_units {
  dq_work_unit *units;
  uint32_t *task_of;
  size_t n;
} dq_source_units;

typedef struct dq_source_kind {
  /* Its name on the wire (plan.proto's Scan.source). */
  const char *name;

  /* Parameters to and from bytes (malloc'd).  decode checks everything
   * and never touches the file system. */
  int (*encode)(const void *state, uint8_t **buf, size_t *len,
                dq_error *err);
  int (*decode)(const uint8_t *buf, size_t len, void **state,
                dq_error *err);
  void (*free)(void *state);

  /* The schema of every column it can produce (borrowed from the state),
   * and how errors name it ("TPC-H table lineitem"). */
  const dq_schema *(*schema)(const void *state);
  void (*describe)(const void *state, char *buf, size_t len);

  /* EXPLAIN's line for a scan of these columns (no indent, no newline),
   * snprintf-style: returns the length it needed. */
  size_t (*explain)(const void *state, const dq_source_projection *proj,
                    char *buf, size_t len);

  /* Rows the planner expects (before any filter); < 0: not known. */
  double (*row_estimate)(const void *state);
  /* Optional: whether its slices are keyed (see dq_source_keying). */
  bool (*keying)(const void *state, dq_source_keying *out);
  /* Optional: the units of a stage of n_tasks tasks, cut once for all of
   * them; a task may get none. */
  int (*work_units)(const void *state, uint32_t n_tasks,
                    dq_source_units *out, dq_error *err);
  /* Optional: make this source's data ready in this process before
   * queries run (dq_tpch_materialize_plan keeps TPC-H tables). */
  int (*materialize)(const void *state, dq_error *err);

  /* A reader of one pipeline's slice. */
  int (*open)(const void *state, const dq_source_projection *proj,
              const dq_source_slice *slice, dq_source_reader **out,
              dq_error *err);
} dq_source_kind;

/* --- The registry (source_registry.c) ------------------------------------ */

/* The kind named `name`, or NULL. */
const dq_source_kind *dq_source_find(const char *name);
/* Every registered kind, NULL-terminated. */
const dq_source_kind *const *dq_source_kinds(void);

/* --- Shared by the sources and their callers (source.c) ------------------- */

/* The slice of units [start, end) that partition p of task t covers when
 * a stage of N tasks of P partitions scans `units` units. */
void dq_scan_slice(int64_t units, uint32_t task, uint32_t n_tasks,
                   uint32_t partition, uint32_t n_partitions, int64_t *start,
                   int64_t *end);

/* Rows of files, for planning: about 100 bytes a row (TPC-H's average); a
 * file that cannot be looked at counts as large (1e15). */
double dq_source_file_rows(char *const *paths, size_t n_paths);

/* Prefixes err's message with the file it is about. */
int dq_source_prefix_path(dq_error *err, int rc, const char *path);

/* A batch of `full` columns projected (by reference, nothing copied)
 * onto proj; takes over b's reference. */
int dq_source_project(dq_batch *b, const dq_source_projection *proj,
                      dq_batch **out, dq_error *err);

/* A unit for the scan numbered `scan` of its stage, as the coordinator
 * channel carries it: 4 bytes little-endian scan number, then the
 * source's own bytes (none: an empty unit, which tells a task that its
 * share is empty).  *out is malloc'd. */
DQ_INTERNAL
int dq_source_unit_wrap(uint32_t scan, const void *data, size_t len,
                        dq_work_unit *out, dq_error *err);
/* The units of scan `scan` among a task's wrapped units, in order, empty
 * ones left out: pointers into the wrapped units (free(*out) only).
 * DQ_EPROTO for a unit too short to be wrapped. */
int dq_source_units_for(const dq_work_unit *units, size_t n, uint32_t scan,
                        dq_work_unit **out, size_t *n_out, dq_error *err);
DQ_INTERNAL
void dq_work_units_free(dq_work_unit *u, size_t n);

/* Encoded schemas in source parameters are Arrow IPC schema messages. */
int dq_source_schema_encode(const dq_schema *s, uint8_t **buf, size_t *len,
                            dq_error *err);
int dq_source_schema_decode(const uint8_t *buf, size_t len,
                            dq_schema **out, dq_error *err);

#endif /* DQ_SCAN_SOURCE_H */
