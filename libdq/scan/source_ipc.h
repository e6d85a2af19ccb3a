/* source_ipc.h — the Arrow IPC source's parameters (source_ipc.c), for
 * the plan builder's dq_node_scan_ipc. */
#ifndef DQ_SCAN_SOURCE_IPC_H
#define DQ_SCAN_SOURCE_IPC_H

#include "scan/source.h"

extern const dq_source_kind dq_source_ipc;

/* A state for dq_source_ipc: the files, the schema read from the first
 * (the only place a file is opened before the query runs). */
int dq_source_ipc_new(const char *const *paths, size_t n_paths, void **out,
                      dq_error *err);

#endif /* DQ_SCAN_SOURCE_IPC_H */
