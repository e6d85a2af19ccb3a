/* tpch_kept.h — TPC-H tables kept in memory (tpch_kept.c), as the TPC-H
 * source reads them. */
#ifndef DQ_TPCH_KEPT_H
#define DQ_TPCH_KEPT_H

#include <stddef.h>
#include <stdint.h>

#include <dq/batch.h>

#include "tpch/tpch.h"

typedef struct dq_tpch_kept dq_tpch_kept;

/* The kept (table, scale, seed), a new reference, or NULL if not kept. */
dq_tpch_kept *dq_tpch_kept_find(dq_tpch_table t, double scale, uint64_t seed);
void dq_tpch_kept_unref(dq_tpch_kept *k);
/* Bytes held by every kept table. */
size_t dq_tpch_kept_bytes(void);

/* Where the next units of [*next_unit, end_unit) are kept, at most one
 * kept chunk's worth: rows [*row0, *row0 + *n_rows) of *chunk (borrowed,
 * alive as long as k); advances *next_unit.  *chunk = NULL when the range
 * is done. */
int dq_tpch_kept_next(const dq_tpch_kept *k, int64_t *next_unit,
                      int64_t end_unit, const dq_batch **chunk,
                      int64_t *row0, int64_t *n_rows, dq_error *err);

#endif /* DQ_TPCH_KEPT_H */
