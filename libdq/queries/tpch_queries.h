/* tpch_queries.h — TPC-H queries written with the public plan API, for
 * `dq run`, the tests and the benchmarks. */
#ifndef DQ_TPCH_QUERIES_H
#define DQ_TPCH_QUERIES_H

#include <stdint.h>

#include <dq/plan.h>

/* dq_tpch_query_plan and dq_tpch_query_names are declared, and exported,
 * by <dq/tpch.h>. */
#include <dq/tpch.h>

#endif /* DQ_TPCH_QUERIES_H */
