/* tpch.h — libdq's built-in TPC-H data generator (internal, not installed).
 *
 * Produces the eight TPC-H tables as dq batches, following the value
 * distributions of the TPC-H specification (section 4.2.3) and keeping every
 * cross-table relation the queries rely on (join keys, l_extendedprice from
 * p_retailprice, o_totalprice and o_orderstatus from the order's lineitems).
 * The rows are NOT byte-identical to the official dbgen's.
 *
 * Determinism.  Every value is a pure function of (seed, column stream,
 * row index): a counter-based generator (splitmix64 finaliser of the
 * stream's key plus the index), integer arithmetic only.  The same
 * (table, scale, seed, units) gives the same rows on any machine, and any
 * slice of a table can be generated without generating what comes before
 * it, so each distributed task generates only its own slice.
 *
 * Units.  Tables are generated in units:
 *   - lineitem: units are orders; unit i yields order i's 1..7 lineitems
 *     (l_linenumber 1..n), so a lineitem slice lines up with the orders
 *     slice of the same units;
 *   - partsupp: units are parts; unit i yields part i's 4 partsupp rows
 *     (fewer when the scale has fewer than 4 suppliers, see below);
 *   - every other table: units are rows.
 * Unit i has key i+1 (p_partkey, c_custkey, ...) except in nation and
 * region, whose keys start at 0 as in the spec, and orders, whose
 * o_orderkey is the spec's sparse key: only the first 8 of every 32 keys
 * are used (unit i -> (i/8)*32 + i%8 + 1).  For ~8192-row batches ask for
 * 2048 units of lineitem or partsupp and 8192 units of the others.
 *
 * Seeds.  Any 64-bit value.  A seed changes every random value; keys, the
 * fixed rows of nation and region, and the row counts do not depend on it.
 *
 * Where this departs from dbgen or the letter of the spec, and why:
 *   - comments are cuts of a 1 MiB pool of the spec's grammar (dbgen's is
 *     300 MB): queries only look for words in them;
 *   - "Customer ... Complaints" / "... Recommends" go to round(SF*5)
 *     suppliers each, but at least one, so Q16 filters something at the
 *     small scales tests use;
 *   - when the spec's PS_SUPPKEY formula repeats a supplier for a part
 *     (small scales only), the repeat moves to the next free supplier;
 *   - o_totalprice truncates each line's price to cents, as dbgen does.
 *
 * Scale.  Any finite scale factor in (0, 100000], fractional too.  Row counts
 * are the spec's base counts times the scale, rounded to the nearest integer
 * and at least 1: customer 150000·SF, orders 1500000·SF, part 200000·SF,
 * supplier 10000·SF; nation (25) and region (5) are fixed.  Below SF 0.0004
 * there are fewer than 4 suppliers; each part then has one partsupp row per
 * supplier, so (ps_partkey, ps_suppkey) stays a key.
 *
 * Types: keys INT64; l_linenumber, p_size, ps_availqty, o_shippriority
 * INT32; money, quantities, discount and tax DECIMAL(15,2); dates DATE32;
 * everything else (flags too) UTF8.  No column has nulls.
 *
 * Thread safety: every function may be called from several threads at once.
 */
#ifndef DQ_TPCH_H
#define DQ_TPCH_H

#include <stddef.h>
#include <stdint.h>

#include <dq/batch.h>

typedef enum dq_tpch_table {
  DQ_TPCH_LINEITEM,
  DQ_TPCH_ORDERS,
  DQ_TPCH_CUSTOMER,
  DQ_TPCH_PART,
  DQ_TPCH_PARTSUPP,
  DQ_TPCH_SUPPLIER,
  DQ_TPCH_NATION,
  DQ_TPCH_REGION
} dq_tpch_table;

#define DQ_TPCH_N_TABLES 8
/* Most units one call generates (it keeps per-row scratch in 32 bits). */
#define DQ_TPCH_MAX_UNITS ((int64_t)INT32_MAX / 8)

/* The spec's dates, as DATE32 (days since 1970-01-01). */
#define DQ_TPCH_STARTDATE 8035   /* 1992-01-01 */
#define DQ_TPCH_CURRENTDATE 9298 /* 1995-06-17 */
#define DQ_TPCH_ENDDATE 10591    /* 1998-12-31 */

/* "lineitem", "orders", ... (lower case, as in the spec) -> *out.
 * DQ_ENOENT for any other name; the message lists the valid names. */
int dq_tpch_table_from_name(const char *name, dq_tpch_table *out,
                            dq_error *err);
/* The table's name, or NULL for a value outside the enum. */
const char *dq_tpch_table_name(dq_tpch_table t);
/* Number of columns of the table's full schema (0 for a bad table). */
size_t dq_tpch_n_columns(dq_tpch_table t);

/* The table's full schema, in the spec's column order.  The caller owns the
 * reference. */
int dq_tpch_schema(dq_tpch_table t, dq_schema **out, dq_error *err);

/* Number of generation units of the table at this scale (see "Units"), or
 * DQ_EINVAL (negative) for a bad table or scale. */
int64_t dq_tpch_unit_count(dq_tpch_table t, double scale);
/* The number of rows units [0, unit_count) make, for planning: exact for
 * every table but lineitem, whose count is estimated as 4 rows per order
 * (the mean of 1..7).  DQ_EINVAL (negative) for a bad table or scale. */
int64_t dq_tpch_row_estimate(dq_tpch_table t, double scale);

/* The column (index into the full schema) whose values never span two
 * units: every row of one key value is generated by one unit, so a scan's
 * pipelines, which slice the units, never split a key value.  For every
 * table it is the first column, its key (lineitem's l_orderkey: a unit is
 * an order; partsupp's ps_partkey: a unit is a part). */
static inline size_t dq_tpch_unit_key_column(dq_tpch_table t) {
  (void)t;
  return 0;
}

/* The table whose units `t`'s units are: lineitem's are orders (unit i is
 * order i, its lines carrying o_orderkey's value of order i), partsupp's
 * are parts (p_partkey = ps_partkey = i + 1); every other table's are its
 * own rows.  Tables of one domain have the same unit count at a scale and
 * the same key value in the same unit, so their scans' pipelines, which
 * slice units alike, hold matching keys in the same pipeline. */
static inline dq_tpch_table dq_tpch_unit_domain(dq_tpch_table t) {
  return t == DQ_TPCH_LINEITEM   ? DQ_TPCH_ORDERS
         : t == DQ_TPCH_PARTSUPP ? DQ_TPCH_PART
                                 : t;
}

/* Rows units [unit_start, unit_end) yield (what dq_tpch_generate of that
 * range returns, without generating it: lineitem draws each order's line
 * count, a cheap hash per unit).  DQ_EINVAL (negative) for a bad table,
 * scale or range. */
int64_t dq_tpch_unit_rows(dq_tpch_table t, double scale, uint64_t seed,
                          int64_t unit_start, int64_t unit_end);

/* Generates units [unit_start, unit_end) of the table, all columns, as one
 * batch.  An empty range gives a batch of 0 rows.  Errors: DQ_EINVAL for a
 * bad table, scale or range (0 <= unit_start <= unit_end <= unit count);
 * DQ_ETOOBIG for more than DQ_TPCH_MAX_UNITS units in one call, or when a
 * string column of the range would not fit one batch (2^31-1 bytes, UTF8's
 * 32-bit offsets); DQ_ENOMEM. */
int dq_tpch_generate(dq_tpch_table t, double scale, uint64_t seed,
                     int64_t unit_start, int64_t unit_end, dq_batch **out,
                     dq_error *err);

/* Same, generating only the given columns (indices into the full schema,
 * any order, repeats allowed; n_columns may be 0 for a batch that only
 * carries a row count).  The batch's schema is the projection, in the
 * order asked.  Columns not asked for cost nothing: each column's values
 * are computed independently of the others'. */
int dq_tpch_generate_columns(dq_tpch_table t, double scale, uint64_t seed,
                             int64_t unit_start, int64_t unit_end,
                             const int *columns, size_t n_columns,
                             dq_batch **out, dq_error *err);

#endif /* DQ_TPCH_H */
