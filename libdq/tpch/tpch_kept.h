/* tpch_kept.h — TPC-H tables kept in memory (tpch_kept.c), as SCAN_TPCH
 * reads them. */
#ifndef DQ_TPCH_KEPT_H
#define DQ_TPCH_KEPT_H

#include <stdint.h>

#include <dq/batch.h>

#include "tpch/tpch.h"

typedef struct dq_tpch_kept dq_tpch_kept;

/* The kept (table, scale, seed), a new reference, or NULL if not kept. */
dq_tpch_kept *dq_tpch_kept_find(dq_tpch_table t, double scale, uint64_t seed);
void dq_tpch_kept_unref(dq_tpch_kept *k);

/* The next batch of units [*next_unit, end_unit): the given columns
 * (indices into the table's full schema) under `schema`, at most one kept
 * chunk's worth; advances *next_unit.  *out = NULL when the range is done. */
int dq_tpch_kept_read(const dq_tpch_kept *k, int64_t *next_unit,
                      int64_t end_unit, const int *columns, size_t n_columns,
                      dq_schema *schema, dq_batch **out, dq_error *err);

#endif /* DQ_TPCH_KEPT_H */
