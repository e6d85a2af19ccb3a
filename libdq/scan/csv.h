/* csv.h — how CSV scans share their files out: cutting files into byte
 * ranges, the CsvSplit work units (proto/plan.proto) that carry ranges
 * from the coordinator to tasks, and which pipeline reads which range.
 * The parser itself is op_scan_csv.c.
 *
 * Assignment (the same whether the coordinator cuts the files or a task
 * cuts them itself): the ranges of one scan, numbered i over its files in
 * order, go to task i mod N; a task's j-th range of that scan (in the
 * order the units arrived) to its pipeline j mod P. */
#ifndef DQ_CSV_H
#define DQ_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "exec/exec.h"
#include "plan/plan_internal.h"
#include "base/internal_export.h"

/* Most CSV scans one stage may hold (a unit names its scan by number). */
#define DQ_CSV_MAX_SCANS 64

typedef struct dq_csv_range {
  const char *path; /* borrowed: one of the node's paths */
  int64_t offset, length;
} dq_csv_range;

/* The SCAN_CSV nodes under n in pre-order (n, then each input in order):
 * the numbering of CsvSplit.scan.  Returns the count, fills at most cap. */
size_t dq_csv_scans(const dq_node *n, const dq_node **out, size_t cap);

/* Cuts the scan's files (their sizes now) into ranges of at most
 * n->csv_split_bytes; an empty file gives none.  DQ_ENOENT, naming the
 * file, for one that cannot be opened.  *out is malloc'd. */
int dq_csv_split_files(const dq_node *n, dq_csv_range **out, size_t *n_out,
                       dq_error *err);

/* The work units of every task of the stage (encoded CsvSplits of every
 * CSV scan in it), grouped by task in task order, task_of[i] the task of
 * unit i; none when the stage has no CSV scan.  The files are cut once,
 * so every task sees the same sizes.  A task whose share is empty gets
 * one empty unit (length 0) so that it reads nothing instead of cutting
 * the files itself.  Free with dq_work_units_free and free(task_of). */
DQ_INTERNAL
int dq_csv_stage_units(const dq_stage *s, dq_work_unit **out,
                       uint32_t **task_of, size_t *n_out, dq_error *err);
DQ_INTERNAL
void dq_work_units_free(dq_work_unit *u, size_t n);

/* The ranges pipeline `partition` of this task reads for scan node n:
 * from env's work units when there are any, else cut here.  Ranges point
 * at n's paths.  *out is malloc'd (may be NULL when *n_out is 0). */
int dq_csv_pipeline_ranges(const dq_node *n, const dq_exec_env *env,
                           uint32_t partition, dq_csv_range **out,
                           size_t *n_out, dq_error *err);

#endif /* DQ_CSV_H */
