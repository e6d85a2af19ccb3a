/* source_tpch.h — the TPC-H source's parameters (source_tpch.c), for the
 * plan builder's dq_node_scan_tpch. */
#ifndef DQ_SCAN_SOURCE_TPCH_H
#define DQ_SCAN_SOURCE_TPCH_H

#include <stdint.h>

#include <dq/batch.h>

#include "scan/source.h"

extern const dq_source_kind dq_source_tpch;

/* A state for dq_source_tpch: table by name, scale in (0, 100000]. */
int dq_source_tpch_new(const char *table, double scale, uint64_t seed,
                       void **out, dq_error *err);

/* Bytes held by the TPC-H tables kept in this process (tpch_kept.c). */
size_t dq_source_tpch_kept_bytes(void);

#endif /* DQ_SCAN_SOURCE_TPCH_H */
