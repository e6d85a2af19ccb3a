/* tpch.c — the TPC-H data generator: table definitions, row counts per scale
 * factor, the generation state and column writers, and the public calls
 * (see tpch.h for the contract); the loop of each column is in
 * tpch_tables.c, what both files share in tpch_gen.h.
 *
 * How values are made.  Every random choice reads its own stream (enum
 * stream, tpch_gen.h) at an index derived from the row: the unit index for
 * per-row tables, order*8 + line for lineitem, part*4 + supplier for
 * partsupp.  A value that depends on another column's value (extended price
 * on the part key, return flag on the receipt date, o_totalprice on the
 * order's lines) recomputes that value from its stream rather than reading
 * it from a generated column.  That costs a few hashes, and buys three
 * things: columns can be generated in any subset and order (projection is
 * free), orders and lineitem agree without generating one to make the
 * other, and each column is one tight loop with no dispatch inside.
 *
 * The stream numbers and index formulas define the data: changing either
 * changes every row generated for a seed, so append new streams at the end.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <dq/tpch.h>

#include "tpch/tpch_gen.h"

/* --- Tables and columns --------------------------------------------------- */
typedef struct col_def {
  const char *name;
  dq_type_id type;
} col_def;

static const col_def lineitem_cols[] = {
    {"l_orderkey", I64},   {"l_partkey", I64},       {"l_suppkey", I64},
    {"l_linenumber", I32}, {"l_quantity", DEC},      {"l_extendedprice", DEC},
    {"l_discount", DEC},   {"l_tax", DEC},           {"l_returnflag", STR},
    {"l_linestatus", STR}, {"l_shipdate", DATE},     {"l_commitdate", DATE},
    {"l_receiptdate", DATE}, {"l_shipinstruct", STR}, {"l_shipmode", STR},
    {"l_comment", STR}};

static const col_def orders_cols[] = {
    {"o_orderkey", I64},      {"o_custkey", I64},   {"o_orderstatus", STR},
    {"o_totalprice", DEC},    {"o_orderdate", DATE}, {"o_orderpriority", STR},
    {"o_clerk", STR},         {"o_shippriority", I32}, {"o_comment", STR}};

static const col_def customer_cols[] = {
    {"c_custkey", I64}, {"c_name", STR},    {"c_address", STR},
    {"c_nationkey", I64}, {"c_phone", STR}, {"c_acctbal", DEC},
    {"c_mktsegment", STR}, {"c_comment", STR}};

static const col_def part_cols[] = {
    {"p_partkey", I64}, {"p_name", STR},      {"p_mfgr", STR},
    {"p_brand", STR},   {"p_type", STR},      {"p_size", I32},
    {"p_container", STR}, {"p_retailprice", DEC}, {"p_comment", STR}};

static const col_def partsupp_cols[] = {
    {"ps_partkey", I64}, {"ps_suppkey", I64}, {"ps_availqty", I32},
    {"ps_supplycost", DEC}, {"ps_comment", STR}};

static const col_def supplier_cols[] = {
    {"s_suppkey", I64},   {"s_name", STR},  {"s_address", STR},
    {"s_nationkey", I64}, {"s_phone", STR}, {"s_acctbal", DEC},
    {"s_comment", STR}};

static const col_def nation_cols[] = {{"n_nationkey", I64},
                                      {"n_name", STR},
                                      {"n_regionkey", I64},
                                      {"n_comment", STR}};

static const col_def region_cols[] = {
    {"r_regionkey", I64}, {"r_name", STR}, {"r_comment", STR}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
  const char *name;
  const col_def *cols;
  size_t n_cols;
} tables[DQ_TPCH_N_TABLES] = {
    [DQ_TPCH_LINEITEM] = {"lineitem", lineitem_cols, N_OF(lineitem_cols)},
    [DQ_TPCH_ORDERS] = {"orders", orders_cols, N_OF(orders_cols)},
    [DQ_TPCH_CUSTOMER] = {"customer", customer_cols, N_OF(customer_cols)},
    [DQ_TPCH_PART] = {"part", part_cols, N_OF(part_cols)},
    [DQ_TPCH_PARTSUPP] = {"partsupp", partsupp_cols, N_OF(partsupp_cols)},
    [DQ_TPCH_SUPPLIER] = {"supplier", supplier_cols, N_OF(supplier_cols)},
    [DQ_TPCH_NATION] = {"nation", nation_cols, N_OF(nation_cols)},
    [DQ_TPCH_REGION] = {"region", region_cols, N_OF(region_cols)}};

static dq_type type_of(dq_type_id id) {
  dq_type t = {id, 0, 0};
  if (id == DQ_TYPE_DECIMAL) {
    t.precision = 15;
    t.scale = 2;
  }
  return t;
}

static bool table_ok(dq_tpch_table t) {
  return (unsigned)t < DQ_TPCH_N_TABLES;
}

/* --- Sizes ---------------------------------------------------------------- */
#define MAX_SCALE 100000.0

static bool scale_ok(double scale) {
  /* Written so that NaN fails too. */
  return scale > 0.0 && scale <= MAX_SCALE;
}

static int64_t scaled(double scale, double base) {
  int64_t n = (int64_t)(scale * base + 0.5);
  return n < 1 ? 1 : n;
}

static sizes sizes_of(double scale) {
  sizes z;
  z.cust = scaled(scale, 150000);
  z.orders = scaled(scale, 1500000);
  z.part = scaled(scale, 200000);
  z.supp = scaled(scale, 10000);
  z.clerks = scaled(scale, 1000);
  z.n_ps = z.supp < 4 ? z.supp : 4;
  /* The spec's SF*5 = supp/2000, but at least one so that Q16's filter has
   * something to remove at the small scales tests use. */
  z.n_bbb = (z.supp * 5 + 5000) / 10000;
  if (z.n_bbb < 1)
    z.n_bbb = 1;
  return z;
}

static int64_t units_of(dq_tpch_table t, const sizes *z) {
  switch (t) {
  case DQ_TPCH_LINEITEM:
  case DQ_TPCH_ORDERS: return z->orders;
  case DQ_TPCH_CUSTOMER: return z->cust;
  case DQ_TPCH_PART:
  case DQ_TPCH_PARTSUPP: return z->part;
  case DQ_TPCH_SUPPLIER: return z->supp;
  case DQ_TPCH_NATION: return 25;
  case DQ_TPCH_REGION: return 5;
  }
  return 0;
}

/* The spec's formula repeats a supplier of a part when some d*step
 * (d = 1..3) is a multiple of S, which happens at small scales (S below
 * ~230) and when S < 4.  (ps_partkey, ps_suppkey) is a key, so a repeated
 * supplier moves on to the next one not yet taken. */
int64_t tpch_supp_slow(int64_t partkey, int64_t i, int64_t S) {
  int64_t step = S / 4 + (partkey - 1) / S;
  int64_t got[4];
  for (int64_t k = 0; k <= i; k++) {
    int64_t s = (partkey + k * step) % S;
    bool taken = true;
    while (taken) {
      taken = false;
      for (int64_t m = 0; m < k; m++)
        if (got[m] == s) {
          s = (s + 1) % S;
          taken = true;
          break;
        }
    }
    got[k] = s;
  }
  return got[i] + 1;
}

static void gen_free(gen *g) {
  free(g->nlines);
  free(g->odate);
  free(g->lidx);
  free(g->lord);
}

int tpch_nomem(const gen *g, dq_error *err) {
  return dq_error_set(err, DQ_ENOMEM,
                      "out of memory generating TPC-H %s units [%" PRId64
                      ", %" PRId64 ")",
                      tables[g->table].name, g->start, g->end);
}

static int gen_init(gen *g, dq_tpch_table t, double scale, uint64_t seed,
                    int64_t start, int64_t end, dq_error *err) {
  memset(g, 0, sizeof *g);
  g->table = t;
  g->z = sizes_of(scale);
  g->start = start;
  g->end = end;
  for (unsigned s = 0; s < S_COUNT; s++)
    g->key[s] = tpch_stream_key(seed, s);

  int64_t units = end - start;
  switch (t) {
  case DQ_TPCH_LINEITEM:
  case DQ_TPCH_ORDERS: {
    /* Per-order data, computed once and read by every column. */
    g->nlines = malloc((size_t)units + 1);
    g->odate = malloc(((size_t)units + 1) * sizeof *g->odate);
    if (g->nlines == NULL || g->odate == NULL)
      return tpch_nomem(g, err);
    int64_t rows = 0;
    for (int64_t o = 0; o < units; o++) {
      g->nlines[o] = (uint8_t)order_nlines(g->key[S_O_NLINES], start + o);
      g->odate[o] = order_date(g->key[S_O_DATE], start + o);
      rows += g->nlines[o];
    }
    if (t == DQ_TPCH_ORDERS) {
      g->n_rows = units;
      break;
    }
    g->n_rows = rows;
    g->lidx = malloc(((size_t)rows + 1) * sizeof *g->lidx);
    g->lord = malloc(((size_t)rows + 1) * sizeof *g->lord);
    if (g->lidx == NULL || g->lord == NULL)
      return tpch_nomem(g, err);
    int64_t r = 0;
    for (int64_t o = 0; o < units; o++)
      for (int j = 0; j < g->nlines[o]; j++, r++) {
        g->lidx[r] = (uint64_t)(start + o) * 8 + (uint64_t)j;
        g->lord[r] = (uint32_t)o;
      }
    break;
  }
  case DQ_TPCH_PARTSUPP:
    g->n_rows = units * g->z.n_ps;
    break;
  default:
    g->n_rows = units;
    break;
  }
  return 0;
}

/* --- Column writers ------------------------------------------------------- */

/* A zero-filled fixed-width values buffer of n values. */
void *tpch_fixed_new(const gen *g, dq_buffer **b, size_t width) {
  *b = dq_buffer_new((size_t)g->n_rows * width);
  return *b != NULL ? (*b)->data : NULL;
}

int tpch_fixed_done(const gen *g, dq_type_id id, dq_buffer *b,
                      dq_array **out, dq_error *err) {
  return dq_array_from_buffers(type_of(id), g->n_rows, 0, NULL, b, NULL, out,
                               err);
}

int tpch_strcol_init(const gen *g, strcol *s, size_t avg_len,
                       dq_error *err) {
  size_t n = (size_t)g->n_rows;
  s->cap = n * avg_len + 256;
  if (s->cap > INT32_MAX)
    s->cap = INT32_MAX;
  s->offsets = dq_buffer_new((n + 1) * sizeof(int32_t));
  s->values = dq_buffer_new(s->cap);
  if (s->offsets == NULL || s->values == NULL) {
    dq_buffer_unref(s->offsets);
    dq_buffer_unref(s->values);
    s->offsets = s->values = NULL;
    return tpch_nomem(g, err);
  }
  s->off = (int32_t *)s->offsets->data;
  s->p = (char *)s->values->data;
  s->used = 0;
  return 0;
}

int tpch_strcol_grow(const gen *g, strcol *s, size_t need, int col,
                       dq_error *err) {
  /* need includes the overrun, which is not text. */
  if (s->used + need > (size_t)INT32_MAX + STRCOL_OVERRUN)
    return dq_error_set(err, DQ_ETOOBIG,
                        "TPC-H %s units [%" PRId64 ", %" PRId64 ") make more "
                        "than 2 GiB of %s text, too much for one batch: ask "
                        "for fewer units at a time",
                        tables[g->table].name, g->start, g->end,
                        tables[g->table].cols[col].name);
  size_t cap = s->cap * 2;
  if (cap < s->used + need)
    cap = s->used + need;
  if (cap > (size_t)INT32_MAX + STRCOL_OVERRUN)
    cap = (size_t)INT32_MAX + STRCOL_OVERRUN;
  if (dq_buffer_reserve(s->values, cap) != 0)
    return tpch_nomem(g, err);
  s->p = (char *)s->values->data;
  s->cap = cap;
  return 0;
}

int tpch_strcol_done(const gen *g, strcol *s, dq_array **out,
                       dq_error *err) {
  size_t tail = s->values->capacity - s->used;
  memset(s->p + s->used, 0, tail < STRCOL_OVERRUN ? tail : STRCOL_OVERRUN);
  s->values->size = s->used;
  int rc = dq_array_from_buffers(type_of(STR), g->n_rows, 0, NULL, s->values,
                                 s->offsets, out, err);
  s->values = s->offsets = NULL;
  return rc;
}

void tpch_strcol_drop(strcol *s) {
  dq_buffer_unref(s->values);
  dq_buffer_unref(s->offsets);
  s->values = s->offsets = NULL;
}

/* One-character columns (flags) need no estimate: row r is byte r. */
char *tpch_flags_new(const gen *g, strcol *s, dq_error *err) {
  size_t n = (size_t)g->n_rows;
  s->offsets = dq_buffer_new((n + 1) * sizeof(int32_t));
  s->values = dq_buffer_new(n);
  if (s->offsets == NULL || s->values == NULL) {
    tpch_strcol_drop(s);
    tpch_nomem(g, err);
    return NULL;
  }
  s->off = (int32_t *)s->offsets->data;
  for (size_t i = 0; i <= n; i++)
    s->off[i] = (int32_t)i;
  s->used = n;
  s->p = (char *)s->values->data;
  return s->p;
}

const char *tpch_pool_of(gen *g) {
  if (g->pool == NULL)
    g->pool = tpch_text_pool();
  return g->pool;
}

static int gen_column(gen *g, int col, dq_array **out, dq_error *err) {
  switch (g->table) {
  case DQ_TPCH_LINEITEM: return tpch_gen_lineitem(g, col, out, err);
  case DQ_TPCH_ORDERS: return tpch_gen_orders(g, col, out, err);
  case DQ_TPCH_CUSTOMER: return tpch_gen_person(g, &tpch_customer_def, col, out, err);
  case DQ_TPCH_SUPPLIER: return tpch_gen_person(g, &tpch_supplier_def, col, out, err);
  case DQ_TPCH_PART: return tpch_gen_part(g, col, out, err);
  case DQ_TPCH_PARTSUPP: return tpch_gen_partsupp(g, col, out, err);
  case DQ_TPCH_NATION:
  case DQ_TPCH_REGION: return tpch_gen_fixed_table(g, col, out, err);
  }
  return dq_error_set(err, DQ_EINTERNAL, "TPC-H table %d", (int)g->table);
}

/* --- Public functions ----------------------------------------------------- */
int dq_tpch_table_from_name(const char *name, dq_tpch_table *out,
                            dq_error *err) {
  for (int t = 0; name != NULL && t < DQ_TPCH_N_TABLES; t++)
    if (strcmp(name, tables[t].name) == 0) {
      if (out != NULL)
        *out = (dq_tpch_table)t;
      return 0;
    }
  return dq_error_set(err, DQ_ENOENT,
                      "unknown TPC-H table \"%s\": the tables are lineitem, "
                      "orders, customer, part, partsupp, supplier, nation "
                      "and region",
                      name != NULL ? name : "(null)");
}

const char *dq_tpch_table_name(dq_tpch_table t) {
  return table_ok(t) ? tables[t].name : NULL;
}

size_t dq_tpch_n_columns(dq_tpch_table t) {
  return table_ok(t) ? tables[t].n_cols : 0;
}

static int bad_table(dq_tpch_table t, dq_error *err) {
  return dq_error_set(err, DQ_EINVAL,
                      "unknown TPC-H table number %d (0..%d are valid)",
                      (int)t, DQ_TPCH_N_TABLES - 1);
}

static int bad_scale(double scale, dq_error *err) {
  return dq_error_set(err, DQ_EINVAL,
                      "TPC-H scale factor %g is invalid: it must be above 0 "
                      "and at most %g",
                      scale, MAX_SCALE);
}

/* The schema of columns cols[0..n) of table t (all of them if cols is
 * NULL). */
static int make_schema(dq_tpch_table t, const int *cols, size_t n,
                       dq_schema **out, dq_error *err) {
  size_t m = n ? n : 1;
  const char **names = malloc(m * sizeof *names);
  dq_type *types = malloc(m * sizeof *types);
  bool *nullable = malloc(m * sizeof *nullable);
  int rc;
  if (names == NULL || types == NULL || nullable == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory making a schema");
  } else {
    for (size_t i = 0; i < n; i++) {
      const col_def *c = &tables[t].cols[cols ? (size_t)cols[i] : i];
      names[i] = c->name;
      types[i] = type_of(c->type);
      nullable[i] = false;
    }
    rc = dq_schema_new(n, names, types, nullable, out, err);
  }
  free(names);
  free(types);
  free(nullable);
  return rc;
}

int dq_tpch_schema(dq_tpch_table t, dq_schema **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_tpch_schema: out is NULL");
  *out = NULL;
  if (!table_ok(t))
    return bad_table(t, err);
  return make_schema(t, NULL, tables[t].n_cols, out, err);
}

int64_t dq_tpch_unit_count(dq_tpch_table t, double scale) {
  if (!table_ok(t) || !scale_ok(scale))
    return DQ_EINVAL;
  sizes z = sizes_of(scale);
  return units_of(t, &z);
}

int64_t dq_tpch_row_estimate(dq_tpch_table t, double scale) {
  if (!table_ok(t) || !scale_ok(scale))
    return DQ_EINVAL;
  sizes z = sizes_of(scale);
  int64_t units = units_of(t, &z);
  if (t == DQ_TPCH_LINEITEM)
    return units * 4;
  if (t == DQ_TPCH_PARTSUPP)
    return units * z.n_ps;
  return units;
}

int64_t dq_tpch_unit_rows(dq_tpch_table t, double scale, uint64_t seed,
                          int64_t unit_start, int64_t unit_end) {
  if (!table_ok(t) || !scale_ok(scale))
    return DQ_EINVAL;
  sizes z = sizes_of(scale);
  if (unit_start < 0 || unit_end < unit_start || unit_end > units_of(t, &z))
    return DQ_EINVAL;
  if (t == DQ_TPCH_PARTSUPP)
    return (unit_end - unit_start) * z.n_ps;
  if (t != DQ_TPCH_LINEITEM)
    return unit_end - unit_start;
  uint64_t key = tpch_stream_key(seed, S_O_NLINES);
  int64_t rows = 0;
  for (int64_t o = unit_start; o < unit_end; o++)
    rows += order_nlines(key, o);
  return rows;
}

int dq_tpch_generate_columns(dq_tpch_table t, double scale, uint64_t seed,
                             int64_t unit_start, int64_t unit_end,
                             const int *columns, size_t n_columns,
                             dq_batch **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_tpch_generate: out is NULL");
  *out = NULL;
  if (!table_ok(t))
    return bad_table(t, err);
  if (!scale_ok(scale))
    return bad_scale(scale, err);
  sizes z = sizes_of(scale);
  int64_t units = units_of(t, &z);
  if (unit_start < 0 || unit_end < unit_start || unit_end > units)
    return dq_error_set(err, DQ_EINVAL,
                        "TPC-H %s unit range [%" PRId64 ", %" PRId64 ") is "
                        "outside [0, %" PRId64 ") at scale %g",
                        tables[t].name, unit_start, unit_end, units, scale);
  if (unit_end - unit_start > DQ_TPCH_MAX_UNITS)
    return dq_error_set(err, DQ_ETOOBIG,
                        "TPC-H %s unit range [%" PRId64 ", %" PRId64 ") is "
                        "too large for one batch (at most %" PRId64 " units)",
                        tables[t].name, unit_start, unit_end,
                        DQ_TPCH_MAX_UNITS);
  if (n_columns > 0 && columns == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_tpch_generate_columns: columns is NULL for %zu "
                        "columns", n_columns);
  for (size_t i = 0; i < n_columns; i++)
    if (columns[i] < 0 || (size_t)columns[i] >= tables[t].n_cols)
      return dq_error_set(err, DQ_EINVAL,
                          "TPC-H table %s has no column %d (it has columns "
                          "0..%zu)",
                          tables[t].name, columns[i], tables[t].n_cols - 1);

  gen g;
  dq_schema *schema = NULL;
  dq_array **arrays = calloc(n_columns ? n_columns : 1, sizeof *arrays);
  int rc;
  if (arrays == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    memset(&g, 0, sizeof g);
    goto done;
  }
  if ((rc = gen_init(&g, t, scale, seed, unit_start, unit_end, err)) != 0)
    goto done;
  if ((rc = make_schema(t, columns, n_columns, &schema, err)) != 0)
    goto done;
  for (size_t i = 0; i < n_columns; i++)
    if ((rc = gen_column(&g, columns[i], &arrays[i], err)) != 0)
      goto done;
  rc = dq_batch_new(schema, g.n_rows, arrays, out, err);

done:
  if (arrays != NULL)
    for (size_t i = 0; i < n_columns; i++)
      dq_array_unref(arrays[i]);
  free(arrays);
  dq_schema_unref(schema);
  gen_free(&g);
  return rc;
}

int dq_tpch_generate(dq_tpch_table t, double scale, uint64_t seed,
                     int64_t unit_start, int64_t unit_end, dq_batch **out,
                     dq_error *err) {
  static const int all[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                              8, 9, 10, 11, 12, 13, 14, 15};
  size_t n = dq_tpch_n_columns(t);
  return dq_tpch_generate_columns(t, scale, seed, unit_start, unit_end, all,
                                  n, out, err);
}

/* --- exported through <dq/tpch.h> ---------------------------------------- */

int64_t dq_tpch_table_rows(const char *table, double scale) {
  dq_tpch_table t;
  if (table == NULL || dq_tpch_table_from_name(table, &t, NULL) < 0)
    return -1;
  int64_t rows = dq_tpch_row_estimate(t, scale);
  return rows < 0 ? -1 : rows;
}

static const char *const table_names[] = {
    "lineitem", "orders", "customer", "part", "partsupp",
    "supplier", "nation", "region", NULL};

const char *const *dq_tpch_table_names(void) { return table_names; }

int64_t dq_tpch_table_units(const char *table, double scale) {
  dq_tpch_table t;
  if (table == NULL || dq_tpch_table_from_name(table, &t, NULL) < 0)
    return -1;
  int64_t n = dq_tpch_unit_count(t, scale);
  return n < 0 ? -1 : n;
}

int dq_tpch_table_schema(const char *table, dq_schema **out, dq_error *err) {
  dq_tpch_table t;
  int rc = dq_tpch_table_from_name(table, &t, err);
  return rc < 0 ? rc : dq_tpch_schema(t, out, err);
}

int dq_tpch_table_generate(const char *table, double scale, uint64_t seed,
                           int64_t unit_start, int64_t unit_end,
                           dq_batch **out, dq_error *err) {
  dq_tpch_table t;
  int rc = dq_tpch_table_from_name(table, &t, err);
  return rc < 0 ? rc
                : dq_tpch_generate(t, scale, seed, unit_start, unit_end, out,
                                   err);
}
