/* source_csv.h — the CSV source's parameters (source_csv.c), for the
 * plan builder's dq_node_scan_csv. */
#ifndef DQ_SCAN_SOURCE_CSV_H
#define DQ_SCAN_SOURCE_CSV_H

#include <dq/plan.h>

#include "scan/source.h"

extern const dq_source_kind dq_source_csv;

/* A state for dq_source_csv.  The files are not opened here: a worker
 * decodes the same parameters, and a missing file is reported where it
 * is read (or split), naming it. */
int dq_source_csv_new(const char *const *paths, size_t n_paths,
                      const dq_schema *schema, const dq_csv_options *opts,
                      void **out, dq_error *err);

#endif /* DQ_SCAN_SOURCE_CSV_H */
