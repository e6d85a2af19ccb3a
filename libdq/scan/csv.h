/* csv.h — inside source "csv": its parameters, the byte ranges its files
 * are cut into (source_csv.c), and the parser that reads ranges into
 * batches (csv_parse.c).
 *
 * Assignment (the same whether the coordinator cuts the files or a task
 * cuts them itself): the ranges of one scan, numbered i over its files in
 * order, go to task i mod N; a task's j-th range of that scan (in the
 * order the units arrived) to its pipeline j mod P. */
#ifndef DQ_CSV_H
#define DQ_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/source.h"

/* The source's state. */
typedef struct dq_csv_params {
  char **paths;
  size_t n_paths;
  dq_schema *schema;   /* the declared columns */
  bool header;
  int64_t split_bytes; /* > 0, defaults applied */
  int64_t max_line;    /* > 0, defaults applied */
} dq_csv_params;

typedef struct dq_csv_range {
  const char *path; /* borrowed: one of the params' paths */
  int64_t offset, length;
} dq_csv_range;

/* Cuts the files (their sizes now) into ranges of at most split_bytes;
 * an empty file gives none.  DQ_ENOENT, naming the file, for one that
 * cannot be opened.  *out is malloc'd. */
int dq_csv_split_files(const dq_csv_params *p, dq_csv_range **out,
                       size_t *n_out, dq_error *err);

/* A reader of `ranges` (taken over, also on failure), in order. */
int dq_csv_reader_open(const dq_csv_params *p,
                       const struct dq_file_policy *files,
                       const dq_source_projection *proj, int64_t batch_rows,
                       dq_csv_range *ranges, size_t n_ranges,
                       dq_source_reader **out, dq_error *err);

#endif /* DQ_CSV_H */
