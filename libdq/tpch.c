/* tpch.c — the TPC-H data generator: table definitions, row counts per scale
 * factor, and one generator loop per column (see tpch.h for the contract).
 *
 * How values are made.  Every random choice reads its own stream (enum
 * stream below) at an index derived from the row: the unit index for
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

#include "batch_internal.h"
#include "tpch.h"
#include "tpch_internal.h"

/* --- Tables and columns --------------------------------------------------- */
typedef struct col_def {
  const char *name;
  dq_type_id type;
} col_def;

#define I32 DQ_TYPE_INT32
#define I64 DQ_TYPE_INT64
#define DEC DQ_TYPE_DECIMAL /* always DECIMAL(15,2) */
#define DATE DQ_TYPE_DATE32
#define STR DQ_TYPE_UTF8

enum { L_ORDERKEY, L_PARTKEY, L_SUPPKEY, L_LINENUMBER, L_QUANTITY,
       L_EXTENDEDPRICE, L_DISCOUNT, L_TAX, L_RETURNFLAG, L_LINESTATUS,
       L_SHIPDATE, L_COMMITDATE, L_RECEIPTDATE, L_SHIPINSTRUCT, L_SHIPMODE,
       L_COMMENT };
static const col_def lineitem_cols[] = {
    {"l_orderkey", I64},   {"l_partkey", I64},       {"l_suppkey", I64},
    {"l_linenumber", I32}, {"l_quantity", DEC},      {"l_extendedprice", DEC},
    {"l_discount", DEC},   {"l_tax", DEC},           {"l_returnflag", STR},
    {"l_linestatus", STR}, {"l_shipdate", DATE},     {"l_commitdate", DATE},
    {"l_receiptdate", DATE}, {"l_shipinstruct", STR}, {"l_shipmode", STR},
    {"l_comment", STR}};

enum { O_ORDERKEY, O_CUSTKEY, O_ORDERSTATUS, O_TOTALPRICE, O_ORDERDATE,
       O_ORDERPRIORITY, O_CLERK, O_SHIPPRIORITY, O_COMMENT };
static const col_def orders_cols[] = {
    {"o_orderkey", I64},      {"o_custkey", I64},   {"o_orderstatus", STR},
    {"o_totalprice", DEC},    {"o_orderdate", DATE}, {"o_orderpriority", STR},
    {"o_clerk", STR},         {"o_shippriority", I32}, {"o_comment", STR}};

enum { C_CUSTKEY, C_NAME, C_ADDRESS, C_NATIONKEY, C_PHONE, C_ACCTBAL,
       C_MKTSEGMENT, C_COMMENT };
static const col_def customer_cols[] = {
    {"c_custkey", I64}, {"c_name", STR},    {"c_address", STR},
    {"c_nationkey", I64}, {"c_phone", STR}, {"c_acctbal", DEC},
    {"c_mktsegment", STR}, {"c_comment", STR}};

enum { P_PARTKEY, P_NAME, P_MFGR, P_BRAND, P_TYPE, P_SIZE, P_CONTAINER,
       P_RETAILPRICE, P_COMMENT };
static const col_def part_cols[] = {
    {"p_partkey", I64}, {"p_name", STR},      {"p_mfgr", STR},
    {"p_brand", STR},   {"p_type", STR},      {"p_size", I32},
    {"p_container", STR}, {"p_retailprice", DEC}, {"p_comment", STR}};

enum { PS_PARTKEY, PS_SUPPKEY, PS_AVAILQTY, PS_SUPPLYCOST, PS_COMMENT };
static const col_def partsupp_cols[] = {
    {"ps_partkey", I64}, {"ps_suppkey", I64}, {"ps_availqty", I32},
    {"ps_supplycost", DEC}, {"ps_comment", STR}};

enum { S_SUPPKEY, S_NAME, S_ADDRESS, S_NATIONKEY, S_PHONE, S_ACCTBAL,
       S_COMMENT };
static const col_def supplier_cols[] = {
    {"s_suppkey", I64},   {"s_name", STR},  {"s_address", STR},
    {"s_nationkey", I64}, {"s_phone", STR}, {"s_acctbal", DEC},
    {"s_comment", STR}};

enum { N_NATIONKEY, N_NAME, N_REGIONKEY, N_COMMENT };
static const col_def nation_cols[] = {{"n_nationkey", I64},
                                      {"n_name", STR},
                                      {"n_regionkey", I64},
                                      {"n_comment", STR}};

enum { R_REGIONKEY, R_NAME, R_COMMENT };
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

/* --- Random streams --------------------------------------------------------
 * Append only (see the top of the file). */
enum stream {
  S_O_NLINES = 1, S_O_DATE, S_O_CUST, S_O_PRIO, S_O_CLERK, S_O_COMMENT,
  S_L_PART, S_L_SUPP, S_L_QTY, S_L_DISC, S_L_TAX, S_L_SHIP, S_L_COMMIT,
  S_L_RECEIPT, S_L_RFLAG, S_L_INSTRUCT, S_L_MODE, S_L_COMMENT,
  S_C_ADDRESS, S_C_NATION, S_C_PHONE, S_C_ACCTBAL, S_C_SEGMENT, S_C_COMMENT,
  S_P_NAME, S_P_MFGR, S_P_BRAND, S_P_TYPE, S_P_SIZE, S_P_CONTAINER,
  S_P_COMMENT,
  S_PS_AVAILQTY, S_PS_COST, S_PS_COMMENT,
  S_S_ADDRESS, S_S_NATION, S_S_PHONE, S_S_ACCTBAL, S_S_COMMENT, S_S_BBB,
  S_S_BBB_POS,
  S_N_COMMENT, S_R_COMMENT,
  S_COUNT
};

/* --- Sizes ---------------------------------------------------------------- */
#define MAX_SCALE 100000.0

typedef struct sizes {
  int64_t cust, orders, part, supp, clerks;
  int64_t n_ps;  /* partsupp rows (suppliers) per part: min(4, supp) */
  int64_t n_bbb; /* suppliers with "Customer ... Complaints" (and as many
                    with "... Recommends") */
} sizes;

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

/* --- Values shared between tables ------------------------------------------
 * Each is the single definition of a value that two tables must agree on. */

/* The spec's sparse keys: the first 8 of every 32. */
static inline int64_t orderkey_of(int64_t order) {
  return (order >> 3) * 32 + (order & 7) + 1;
}

static inline int64_t retail_cents(int64_t partkey) {
  return 90000 + (partkey / 10) % 20001 + 100 * (partkey % 1000);
}

static inline int order_nlines(uint64_t key, int64_t order) {
  return 1 + (int)tpch_below(tpch_rnd(key, (uint64_t)order), 7);
}

static inline int32_t order_date(uint64_t key, int64_t order) {
  return DQ_TPCH_STARTDATE +
         (int32_t)tpch_below(tpch_rnd(key, (uint64_t)order),
                             DQ_TPCH_ENDDATE - 151 - DQ_TPCH_STARTDATE + 1);
}

/* The spec's formula repeats a supplier of a part when some d*step
 * (d = 1..3) is a multiple of S, which happens at small scales (S below
 * ~230) and when S < 4.  (ps_partkey, ps_suppkey) is a key, so a repeated
 * supplier moves on to the next one not yet taken. */
static int64_t supp_slow(int64_t partkey, int64_t i, int64_t S) {
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

/* The i-th supplier (0 <= i < n_ps) of a part, per the spec's
 * PS_SUPPKEY = (ps_partkey + i*(S/4 + (ps_partkey-1)/S)) mod S + 1. */
static inline int64_t supp_of(int64_t partkey, int64_t i, int64_t S) {
  int64_t step = S / 4 + (partkey - 1) / S;
  /* When 3*step < S the four candidates are distinct (the usual case). */
  if (S >= 4 && step >= 1 && 3 * step < S)
    return (partkey + i * step) % S + 1;
  return supp_slow(partkey, i, S);
}

/* An o_custkey: uniform over the customers whose key is not a multiple of 3
 * (the spec leaves a third of the customers without orders). */
static inline int64_t custkey_of(uint64_t r, int64_t n_cust) {
  int64_t with_orders = n_cust - n_cust / 3;
  int64_t k = (int64_t)tpch_below(r, (uint64_t)with_orders);
  return k / 2 * 3 + k % 2 + 1;
}

/* --- Generation state of one call ----------------------------------------- */
typedef struct gen {
  dq_tpch_table table;
  sizes z;
  int64_t start, end; /* units */
  int64_t n_rows;
  uint64_t key[S_COUNT];
  const char *pool; /* the text pool, fetched on first use */
  /* lineitem and orders: per order of the range */
  uint8_t *nlines;
  int32_t *odate;
  /* lineitem: per row, order*8 + line (the row's stream index), and the
   * row's order as an offset into the range */
  uint64_t *lidx;
  uint32_t *lord;
} gen;

static void gen_free(gen *g) {
  free(g->nlines);
  free(g->odate);
  free(g->lidx);
  free(g->lord);
}

static int nomem(const gen *g, dq_error *err) {
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
      return nomem(g, err);
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
      return nomem(g, err);
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
static void *fixed_new(const gen *g, dq_buffer **b, size_t width) {
  *b = dq_buffer_new((size_t)g->n_rows * width);
  return *b != NULL ? (*b)->data : NULL;
}

static int fixed_done(const gen *g, dq_type_id id, dq_buffer *b,
                      dq_array **out, dq_error *err) {
  return dq_array_from_buffers(type_of(id), g->n_rows, 0, NULL, b, NULL, out,
                               err);
}

/* Writers may store up to STRCOL_OVERRUN bytes past the end of a row's
 * value (whole-word copies); the next row overwrites them, and
 * strcol_done() zeroes what the last row left. */
#define STRCOL_OVERRUN 64

/* A UTF8 column under construction.  The values buffer starts at an
 * estimate of the column's size and doubles when a row might not fit, so a
 * row costs one comparison and one memcpy. */
typedef struct strcol {
  dq_buffer *values, *offsets;
  int32_t *off;
  char *p;
  size_t used, cap;
} strcol;

static int strcol_init(const gen *g, strcol *s, size_t avg_len,
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
    return nomem(g, err);
  }
  s->off = (int32_t *)s->offsets->data;
  s->p = (char *)s->values->data;
  s->used = 0;
  return 0;
}

static int strcol_grow(const gen *g, strcol *s, size_t need, int col,
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
    return nomem(g, err);
  s->p = (char *)s->values->data;
  s->cap = cap;
  return 0;
}

/* Makes room for a row of at most `need` bytes. */
#define STRCOL_ROOM(g, s, need, col, err)                                     \
  do {                                                                        \
    if ((s)->used + (need) + STRCOL_OVERRUN > (s)->cap &&                     \
        (rc = strcol_grow((g), (s), (need) + STRCOL_OVERRUN, (col),           \
                          (err))) != 0)                                       \
      goto fail;                                                              \
  } while (0)

static inline void strcol_put(strcol *s, const char *src, size_t len) {
  memcpy(s->p + s->used, src, len);
  s->used += len;
}

static inline void strcol_word(strcol *s, const tpch_word *w) {
  memcpy(s->p + s->used, w->s, TPCH_WORD_MAX);
  s->used += w->len;
}

static inline void strcol_end_row(strcol *s, int64_t row) {
  s->off[row + 1] = (int32_t)s->used;
}

static int strcol_done(const gen *g, strcol *s, dq_array **out,
                       dq_error *err) {
  size_t tail = s->values->capacity - s->used;
  memset(s->p + s->used, 0, tail < STRCOL_OVERRUN ? tail : STRCOL_OVERRUN);
  s->values->size = s->used;
  int rc = dq_array_from_buffers(type_of(STR), g->n_rows, 0, NULL, s->values,
                                 s->offsets, out, err);
  s->values = s->offsets = NULL;
  return rc;
}

static void strcol_drop(strcol *s) {
  dq_buffer_unref(s->values);
  dq_buffer_unref(s->offsets);
  s->values = s->offsets = NULL;
}

/* One-character columns (flags) need no estimate: row r is byte r. */
static char *flags_new(const gen *g, strcol *s, dq_error *err) {
  size_t n = (size_t)g->n_rows;
  s->offsets = dq_buffer_new((n + 1) * sizeof(int32_t));
  s->values = dq_buffer_new(n);
  if (s->offsets == NULL || s->values == NULL) {
    strcol_drop(s);
    nomem(g, err);
    return NULL;
  }
  s->off = (int32_t *)s->offsets->data;
  for (size_t i = 0; i <= n; i++)
    s->off[i] = (int32_t)i;
  s->used = n;
  s->p = (char *)s->values->data;
  return s->p;
}

/* A comment: a cut of [lo, hi] bytes from the text pool.  The length takes
 * r's high bits and the offset its low bits. */
static inline void put_text(strcol *s, const char *pool, uint64_t r,
                            uint32_t lo, uint32_t hi) {
  uint32_t len = lo + (uint32_t)tpch_below(r, hi - lo + 1);
  const char *src = pool + tpch_below((r << 32) | (r >> 32),
                                      TPCH_TEXT_POOL_SIZE);
  char *d = s->p + s->used;
  /* Whole 32-byte chunks (overrun < 32, pool slack >= 256). */
  for (uint32_t i = 0; i < len; i += 32)
    memcpy(d + i, src + i, 32);
  s->used += len;
}

/* The spec's v-string: 10..40 random characters of a 64-letter alphabet;
 * one 64-bit value gives ten 6-bit letters. */
static inline void put_vstring(strcol *s, uint64_t key, uint64_t idx) {
  uint64_t r = tpch_rnd(key, idx * 8);
  uint32_t len = 10 + (uint32_t)tpch_below(r, 31);
  char *d = s->p + s->used;
  for (uint32_t i = 0; i < len; i++) {
    if (i % 10 == 0)
      r = tpch_rnd(key, idx * 8 + 1 + i / 10);
    d[i] = tpch_vstring_alphabet[r & 63];
    r >>= 6;
  }
  s->used += len;
}

/* v in decimal, zero-padded to at least `width` digits. */
static inline void put_padded(strcol *s, uint64_t v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n < width)
    tmp[n++] = '0';
  char *d = s->p + s->used;
  for (int i = 0; i < n; i++)
    d[i] = tmp[n - 1 - i];
  s->used += (size_t)n;
}

/* The spec's phone number (4.2.2.9): "CC-LLL-LLL-LLLL", CC = nation + 10. */
static inline void put_phone(strcol *s, int64_t nation, uint64_t r) {
  char *d = s->p + s->used;
  unsigned cc = (unsigned)nation + 10;
  unsigned a = 100 + (unsigned)tpch_draw(&r, 900);
  unsigned b = 100 + (unsigned)tpch_draw(&r, 900);
  unsigned c = 1000 + (unsigned)tpch_draw(&r, 9000);
  d[0] = (char)('0' + cc / 10);
  d[1] = (char)('0' + cc % 10);
  d[2] = '-';
  d[3] = (char)('0' + a / 100);
  d[4] = (char)('0' + a / 10 % 10);
  d[5] = (char)('0' + a % 10);
  d[6] = '-';
  d[7] = (char)('0' + b / 100);
  d[8] = (char)('0' + b / 10 % 10);
  d[9] = (char)('0' + b % 10);
  d[10] = '-';
  d[11] = (char)('0' + c / 1000);
  d[12] = (char)('0' + c / 100 % 10);
  d[13] = (char)('0' + c / 10 % 10);
  d[14] = (char)('0' + c % 10);
  s->used += 15;
}

static const char *pool_of(gen *g) {
  if (g->pool == NULL)
    g->pool = tpch_text_pool();
  return g->pool;
}

/* The loops below copy stream keys and sizes into locals: the strings are
 * written through char pointers, which may alias anything, so a key read
 * through g would be reloaded on every row. */

/* --- lineitem ------------------------------------------------------------- */
static int gen_lineitem(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows;
  const uint64_t *lidx = g->lidx;
  const uint32_t *lord = g->lord;
  const int32_t *odate = g->odate;
  const int64_t n_part = g->z.part;
  const uint64_t kpart = g->key[S_L_PART];
  const uint64_t kship = g->key[S_L_SHIP];
  const uint64_t kreceipt = g->key[S_L_RECEIPT];
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  /* Values that several columns derive from, by stream index i or row r. */
#define PARTKEY(i)                                                            \
  (1 + (int64_t)tpch_below(tpch_rnd(kpart, (i)), (uint64_t)n_part))
#define SHIPDATE(r)                                                           \
  (odate[lord[r]] + 1 + (int32_t)tpch_below(tpch_rnd(kship, lidx[r]), 121))
#define RECEIPT(ship, i)                                                      \
  ((ship) + 1 + (int32_t)tpch_below(tpch_rnd(kreceipt, (i)), 30))

  switch (col) {
  case L_ORDERKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const int64_t start = g->start;
    for (int64_t r = 0; r < n; r++)
      v[r] = orderkey_of(start + lord[r]);
    return fixed_done(g, I64, b, out, err);
  }
  case L_PARTKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = PARTKEY(lidx[r]);
    return fixed_done(g, I64, b, out, err);
  }
  case L_SUPPKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const uint64_t ksupp = g->key[S_L_SUPP];
    const int64_t S = g->z.supp, n_ps = g->z.n_ps;
    for (int64_t r = 0; r < n; r++) {
      int64_t p = PARTKEY(lidx[r]);
      int64_t i = (int64_t)tpch_below(tpch_rnd(ksupp, lidx[r]), (uint64_t)n_ps);
      v[r] = supp_of(p, i, S);
    }
    return fixed_done(g, I64, b, out, err);
  }
  case L_LINENUMBER: {
    int32_t *v = fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = (int32_t)(lidx[r] & 7) + 1;
    return fixed_done(g, I32, b, out, err);
  }
  case L_QUANTITY:
  case L_DISCOUNT:
  case L_TAX: {
    int64_t *v = fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    /* quantity 1..50 (unscaled: x100), discount 0.00..0.10, tax 0..0.08 */
    uint64_t k = g->key[col == L_QUANTITY ? S_L_QTY
                        : col == L_DISCOUNT ? S_L_DISC : S_L_TAX];
    uint64_t span = col == L_QUANTITY ? 50 : col == L_DISCOUNT ? 11 : 9;
    int64_t base = col == L_QUANTITY ? 1 : 0;
    int64_t mul = col == L_QUANTITY ? 100 : 1;
    for (int64_t r = 0; r < n; r++)
      v[r] = (base + (int64_t)tpch_below(tpch_rnd(k, lidx[r]), span)) * mul;
    return fixed_done(g, DEC, b, out, err);
  }
  case L_EXTENDEDPRICE: {
    int64_t *v = fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t kqty = g->key[S_L_QTY];
    for (int64_t r = 0; r < n; r++) {
      int64_t q = 1 + (int64_t)tpch_below(tpch_rnd(kqty, lidx[r]), 50);
      v[r] = q * retail_cents(PARTKEY(lidx[r]));
    }
    return fixed_done(g, DEC, b, out, err);
  }
  case L_RETURNFLAG: {
    char *v = flags_new(g, &s, err);
    if (v == NULL)
      return DQ_ENOMEM;
    const uint64_t kflag = g->key[S_L_RFLAG];
    for (int64_t r = 0; r < n; r++) {
      int32_t ship = SHIPDATE(r);
      int32_t receipt = RECEIPT(ship, lidx[r]);
      v[r] = receipt > DQ_TPCH_CURRENTDATE ? 'N'
             : (tpch_rnd(kflag, lidx[r]) >> 63) ? 'R' : 'A';
    }
    return strcol_done(g, &s, out, err);
  }
  case L_LINESTATUS: {
    char *v = flags_new(g, &s, err);
    if (v == NULL)
      return DQ_ENOMEM;
    for (int64_t r = 0; r < n; r++)
      v[r] = SHIPDATE(r) > DQ_TPCH_CURRENTDATE ? 'O' : 'F';
    return strcol_done(g, &s, out, err);
  }
  case L_SHIPDATE:
  case L_RECEIPTDATE: {
    int32_t *v = fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    if (col == L_SHIPDATE)
      for (int64_t r = 0; r < n; r++)
        v[r] = SHIPDATE(r);
    else
      for (int64_t r = 0; r < n; r++)
        v[r] = RECEIPT(SHIPDATE(r), lidx[r]);
    return fixed_done(g, DATE, b, out, err);
  }
  case L_COMMITDATE: {
    int32_t *v = fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_L_COMMIT];
    for (int64_t r = 0; r < n; r++)
      v[r] = odate[lord[r]] + 30 +
             (int32_t)tpch_below(tpch_rnd(k, lidx[r]), 61);
    return fixed_done(g, DATE, b, out, err);
  }
  case L_SHIPINSTRUCT:
  case L_SHIPMODE: {
    const tpch_word *words =
        col == L_SHIPINSTRUCT ? tpch_instructions : tpch_modes;
    uint64_t nw = col == L_SHIPINSTRUCT ? 4 : 7;
    uint64_t k = g->key[col == L_SHIPINSTRUCT ? S_L_INSTRUCT : S_L_MODE];
    if ((rc = strcol_init(g, &s, col == L_SHIPINSTRUCT ? 12 : 5, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 17, col, err);
      strcol_word(&s, &words[tpch_below(tpch_rnd(k, lidx[r]), nw)]);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case L_COMMENT: {
    const char *pool = pool_of(g);
    const uint64_t k = g->key[S_L_COMMENT];
    if ((rc = strcol_init(g, &s, 27, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 43, col, err);
      put_text(&s, pool, tpch_rnd(k, lidx[r]), 10, 43);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  }
#undef PARTKEY
#undef SHIPDATE
#undef RECEIPT
  return dq_error_set(err, DQ_EINTERNAL, "lineitem column %d", col);
oom:
  return nomem(g, err);
fail:
  strcol_drop(&s);
  return rc;
}

/* --- orders --------------------------------------------------------------- */
static int gen_orders(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  const uint8_t *nlines = g->nlines;
  const int32_t *odate = g->odate;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  switch (col) {
  case O_ORDERKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = orderkey_of(start + r);
    return fixed_done(g, I64, b, out, err);
  }
  case O_CUSTKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_O_CUST];
    const int64_t n_cust = g->z.cust;
    for (int64_t r = 0; r < n; r++)
      v[r] = custkey_of(tpch_rnd(k, (uint64_t)(start + r)), n_cust);
    return fixed_done(g, I64, b, out, err);
  }
  case O_ORDERSTATUS: {
    /* F when every line has shipped by CURRENTDATE (linestatus F), O when
     * none has, P otherwise: recomputes the lines' ship dates. */
    char *v = flags_new(g, &s, err);
    if (v == NULL)
      return DQ_ENOMEM;
    const uint64_t kship = g->key[S_L_SHIP];
    for (int64_t r = 0; r < n; r++) {
      int open = 0, nl = nlines[r];
      uint64_t base = (uint64_t)(start + r) * 8;
      for (int j = 0; j < nl; j++)
        open += odate[r] + 1 +
                    (int32_t)tpch_below(tpch_rnd(kship, base + (uint64_t)j),
                                        121) >
                DQ_TPCH_CURRENTDATE;
      v[r] = open == 0 ? 'F' : open == nl ? 'O' : 'P';
    }
    return strcol_done(g, &s, out, err);
  }
  case O_TOTALPRICE: {
    /* sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)) over the lines,
     * each line truncated to cents as dbgen does. */
    int64_t *v = fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t kpart = g->key[S_L_PART], kqty = g->key[S_L_QTY],
                   kdisc = g->key[S_L_DISC], ktax = g->key[S_L_TAX];
    const uint64_t n_part = (uint64_t)g->z.part;
    for (int64_t r = 0; r < n; r++) {
      int64_t total = 0;
      uint64_t base = (uint64_t)(start + r) * 8;
      for (int j = 0; j < nlines[r]; j++) {
        uint64_t i = base + (uint64_t)j;
        int64_t p = 1 + (int64_t)tpch_below(tpch_rnd(kpart, i), n_part);
        int64_t q = 1 + (int64_t)tpch_below(tpch_rnd(kqty, i), 50);
        int64_t d = (int64_t)tpch_below(tpch_rnd(kdisc, i), 11);
        int64_t t = (int64_t)tpch_below(tpch_rnd(ktax, i), 9);
        int64_t ext = q * retail_cents(p);
        total += ext * (100 - d) / 100 * (100 + t) / 100;
      }
      v[r] = total;
    }
    return fixed_done(g, DEC, b, out, err);
  }
  case O_ORDERDATE: {
    int32_t *v = fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    memcpy(v, odate, (size_t)n * sizeof *v);
    return fixed_done(g, DATE, b, out, err);
  }
  case O_ORDERPRIORITY: {
    const uint64_t k = g->key[S_O_PRIO];
    if ((rc = strcol_init(g, &s, 8, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 15, col, err);
      strcol_word(&s, &tpch_priorities[tpch_below(
                          tpch_rnd(k, (uint64_t)(start + r)), 5)]);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case O_CLERK: {
    const uint64_t k = g->key[S_O_CLERK];
    const uint64_t clerks = (uint64_t)g->z.clerks;
    if ((rc = strcol_init(g, &s, 15, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 32, col, err);
      strcol_put(&s, "Clerk#", 6);
      put_padded(&s,
                 1 + tpch_below(tpch_rnd(k, (uint64_t)(start + r)), clerks),
                 9);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case O_SHIPPRIORITY: {
    /* Always 0: the buffer is zero-filled. */
    if (fixed_new(g, &b, 4) == NULL)
      goto oom;
    return fixed_done(g, I32, b, out, err);
  }
  case O_COMMENT: {
    const char *pool = pool_of(g);
    const uint64_t k = g->key[S_O_COMMENT];
    if ((rc = strcol_init(g, &s, 49, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 78, col, err);
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), 19, 78);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "orders column %d", col);
oom:
  return nomem(g, err);
fail:
  strcol_drop(&s);
  return rc;
}

/* --- customer and supplier ------------------------------------------------
 * The two tables have the same shape (key, name, address, nation, phone,
 * balance, comment); they differ in streams and a few constants. */
typedef struct person_def {
  const char *name_prefix; /* "Customer#" / "Supplier#" */
  enum stream s_address, s_nation, s_phone, s_acctbal, s_comment;
  uint32_t comment_lo, comment_hi;
} person_def;

static const person_def customer_def = {
    "Customer#", S_C_ADDRESS, S_C_NATION, S_C_PHONE, S_C_ACCTBAL,
    S_C_COMMENT, 29, 116};
static const person_def supplier_def = {
    "Supplier#", S_S_ADDRESS, S_S_NATION, S_S_PHONE, S_S_ACCTBAL,
    S_S_COMMENT, 25, 100};

/* Which suppliers carry Q16's "Customer%Complaints" (1) or
 * "Customer%Recommends" (2) in s_comment: the suppliers are cut into n_bbb
 * equal strata and each stratum has one of each at random places, so the
 * counts are exact and any supplier's answer costs one hash. */
static inline int bbb_kind(uint64_t key, int64_t s, int64_t S, int64_t n) {
  int64_t k = ((s + 1) * n - 1) / S;
  int64_t lo = k * S / n, len = (k + 1) * S / n - lo;
  uint64_t r = tpch_rnd(key, (uint64_t)k);
  int64_t c = (int64_t)tpch_draw(&r, (uint64_t)len);
  if (s - lo == c)
    return 1;
  if (len >= 2 &&
      s - lo == (c + 1 + (int64_t)tpch_draw(&r, (uint64_t)len - 1)) % len)
    return 2;
  return 0;
}

static int gen_person(gen *g, const person_def *d, int col,
                      dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  const bool supp = d == &supplier_def;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  /* Both tables: 0 key, 1 name, 2 address, 3 nation, 4 phone, 5 balance;
   * customer: 6 segment, 7 comment; supplier: 6 comment. */
  int which = col;
  if (supp && col == S_COMMENT)
    which = 7;
  switch (which) {
  case 0: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = start + r + 1;
    return fixed_done(g, I64, b, out, err);
  }
  case 1:
    if ((rc = strcol_init(g, &s, 18, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 32, col, err);
      strcol_put(&s, d->name_prefix, 9);
      put_padded(&s, (uint64_t)(start + r + 1), 9);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  case 2: {
    const uint64_t k = g->key[d->s_address];
    if ((rc = strcol_init(g, &s, 25, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 40, col, err);
      put_vstring(&s, k, (uint64_t)(start + r));
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case 3: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[d->s_nation];
    for (int64_t r = 0; r < n; r++)
      v[r] = (int64_t)tpch_below(tpch_rnd(k, (uint64_t)(start + r)), 25);
    return fixed_done(g, I64, b, out, err);
  }
  case 4: {
    const uint64_t kn = g->key[d->s_nation], kp = g->key[d->s_phone];
    if ((rc = strcol_init(g, &s, 15, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 15, col, err);
      uint64_t i = (uint64_t)(start + r);
      put_phone(&s, (int64_t)tpch_below(tpch_rnd(kn, i), 25),
                tpch_rnd(kp, i));
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case 5: {
    /* -999.99 .. 9999.99 */
    int64_t *v = fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[d->s_acctbal];
    for (int64_t r = 0; r < n; r++)
      v[r] = -99999 + (int64_t)tpch_below(tpch_rnd(k, (uint64_t)(start + r)),
                                          1099999);
    return fixed_done(g, DEC, b, out, err);
  }
  case 6: {
    const uint64_t k = g->key[S_C_SEGMENT];
    if ((rc = strcol_init(g, &s, 9, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 10, col, err);
      strcol_word(&s, &tpch_segments[tpch_below(
                          tpch_rnd(k, (uint64_t)(start + r)), 5)]);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case 7: {
    const char *pool = pool_of(g);
    const uint64_t k = g->key[d->s_comment];
    const uint64_t kbbb = g->key[S_S_BBB], kpos = g->key[S_S_BBB_POS];
    const int64_t S = g->z.supp, n_bbb = g->z.n_bbb;
    const uint32_t lo = d->comment_lo, hi = d->comment_hi;
    if ((rc = strcol_init(g, &s, (lo + hi) / 2, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, hi, col, err);
      size_t at = s.used;
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), lo, hi);
      int kind = supp ? bbb_kind(kbbb, start + r, S, n_bbb) : 0;
      if (kind != 0) {
        /* As dbgen: "Customer " at a random place, then after random
         * noise "Complaints" or "Recommends" (9 + 10 bytes, len >= 25). */
        uint64_t len = s.used - at, x = tpch_rnd(kpos, (uint64_t)(start + r));
        uint64_t noise = tpch_draw(&x, len - 19 + 1);
        uint64_t pos = tpch_draw(&x, len - 19 - noise + 1);
        memcpy(s.p + at + pos, "Customer ", 9);
        memcpy(s.p + at + pos + 9 + noise,
               kind == 1 ? "Complaints" : "Recommends", 10);
      }
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "%s column %d",
                      tables[g->table].name, col);
oom:
  return nomem(g, err);
fail:
  strcol_drop(&s);
  return rc;
}

/* --- part ----------------------------------------------------------------- */
static int gen_part(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  switch (col) {
  case P_PARTKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = start + r + 1;
    return fixed_done(g, I64, b, out, err);
  }
  case P_NAME: {
    /* Five distinct colours, space-separated. */
    const uint64_t k = g->key[S_P_NAME];
    if ((rc = strcol_init(g, &s, 33, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 5 * 11, col, err);
      unsigned pick[5];
      int got = 0;
      for (uint64_t h = 0; got < 5; h++) {
        uint64_t x = tpch_rnd(k, (uint64_t)(start + r) * 16 + h);
        for (int t = 0; t < 5 && got < 5; t++) {
          unsigned c = (unsigned)tpch_draw(&x, 92);
          bool dup = false;
          for (int m = 0; m < got; m++)
            dup |= pick[m] == c;
          if (!dup)
            pick[got++] = c;
        }
      }
      for (int m = 0; m < 5; m++) {
        if (m > 0)
          strcol_put(&s, " ", 1);
        strcol_word(&s, &tpch_colors[pick[m]]);
      }
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case P_MFGR:
  case P_BRAND: {
    /* Manufacturer#M, Brand#MN: the brand's M is the part's manufacturer. */
    const uint64_t km = g->key[S_P_MFGR], kb = g->key[S_P_BRAND];
    if ((rc = strcol_init(g, &s, col == P_MFGR ? 14 : 8, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 14, col, err);
      uint64_t i = (uint64_t)(start + r);
      char m = (char)('1' + tpch_below(tpch_rnd(km, i), 5));
      if (col == P_MFGR) {
        strcol_put(&s, "Manufacturer#", 13);
        strcol_put(&s, &m, 1);
      } else {
        char nn = (char)('1' + tpch_below(tpch_rnd(kb, i), 5));
        strcol_put(&s, "Brand#", 6);
        strcol_put(&s, &m, 1);
        strcol_put(&s, &nn, 1);
      }
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case P_TYPE: {
    const uint64_t k = g->key[S_P_TYPE];
    if ((rc = strcol_init(g, &s, 21, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 32, col, err);
      unsigned t = (unsigned)tpch_below(tpch_rnd(k, (uint64_t)(start + r)),
                                        150);
      strcol_word(&s, &tpch_type_s1[t / 25]);
      strcol_put(&s, " ", 1);
      strcol_word(&s, &tpch_type_s2[t / 5 % 5]);
      strcol_put(&s, " ", 1);
      strcol_word(&s, &tpch_type_s3[t % 5]);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case P_SIZE: {
    int32_t *v = fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_P_SIZE];
    for (int64_t r = 0; r < n; r++)
      v[r] = 1 + (int32_t)tpch_below(tpch_rnd(k, (uint64_t)(start + r)), 50);
    return fixed_done(g, I32, b, out, err);
  }
  case P_CONTAINER: {
    const uint64_t k = g->key[S_P_CONTAINER];
    if ((rc = strcol_init(g, &s, 7, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 16, col, err);
      unsigned c = (unsigned)tpch_below(tpch_rnd(k, (uint64_t)(start + r)),
                                        40);
      strcol_word(&s, &tpch_container_s1[c / 8]);
      strcol_put(&s, " ", 1);
      strcol_word(&s, &tpch_container_s2[c % 8]);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  case P_RETAILPRICE: {
    int64_t *v = fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = retail_cents(start + r + 1);
    return fixed_done(g, DEC, b, out, err);
  }
  case P_COMMENT: {
    const char *pool = pool_of(g);
    const uint64_t k = g->key[S_P_COMMENT];
    if ((rc = strcol_init(g, &s, 14, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 22, col, err);
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), 5, 22);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "part column %d", col);
oom:
  return nomem(g, err);
fail:
  strcol_drop(&s);
  return rc;
}

/* --- partsupp ------------------------------------------------------------- */
static int gen_partsupp(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start, n_ps = g->z.n_ps;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  /* Row r is supplier r % n_ps of part start + r / n_ps; its stream index
   * is part*4 + supplier whatever n_ps is. */
#define PS_INDEX(r)                                                           \
  ((uint64_t)(start + (r) / n_ps) * 4 + (uint64_t)((r) % n_ps))
  switch (col) {
  case PS_PARTKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = start + r / n_ps + 1;
    return fixed_done(g, I64, b, out, err);
  }
  case PS_SUPPKEY: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const int64_t S = g->z.supp;
    for (int64_t r = 0; r < n; r++)
      v[r] = supp_of(start + r / n_ps + 1, r % n_ps, S);
    return fixed_done(g, I64, b, out, err);
  }
  case PS_AVAILQTY: {
    int32_t *v = fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_PS_AVAILQTY];
    for (int64_t r = 0; r < n; r++)
      v[r] = 1 + (int32_t)tpch_below(tpch_rnd(k, PS_INDEX(r)), 9999);
    return fixed_done(g, I32, b, out, err);
  }
  case PS_SUPPLYCOST: {
    /* 1.00 .. 1000.00 */
    int64_t *v = fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_PS_COST];
    for (int64_t r = 0; r < n; r++)
      v[r] = 100 + (int64_t)tpch_below(tpch_rnd(k, PS_INDEX(r)), 99901);
    return fixed_done(g, DEC, b, out, err);
  }
  case PS_COMMENT: {
    const char *pool = pool_of(g);
    const uint64_t k = g->key[S_PS_COMMENT];
    if ((rc = strcol_init(g, &s, 124, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 198, col, err);
      put_text(&s, pool, tpch_rnd(k, PS_INDEX(r)), 49, 198);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  }
#undef PS_INDEX
  return dq_error_set(err, DQ_EINTERNAL, "partsupp column %d", col);
oom:
  return nomem(g, err);
fail:
  strcol_drop(&s);
  return rc;
}

/* --- nation and region ----------------------------------------------------
 * Fixed rows from the spec; only the comments are random. */
static int gen_fixed_table(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  const bool nation = g->table == DQ_TPCH_NATION;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  /* 0 key, 1 name, 2 nation's region key, 3 comment */
  int which = !nation && col == R_COMMENT ? 3 : col;
  switch (which) {
  case 0:
  case 2: {
    int64_t *v = fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = which == 0 ? start + r : tpch_nation_region[start + r];
    return fixed_done(g, I64, b, out, err);
  }
  case 1:
    if ((rc = strcol_init(g, &s, 16, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 16, col, err);
      strcol_word(&s, nation ? &tpch_nations[start + r]
                             : &tpch_regions[start + r]);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  case 3: {
    const char *pool = pool_of(g);
    const uint64_t k = g->key[nation ? S_N_COMMENT : S_R_COMMENT];
    const uint32_t hi = nation ? 114 : 115;
    if ((rc = strcol_init(g, &s, hi, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, hi, col, err);
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), 31, hi);
      strcol_end_row(&s, r);
    }
    return strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "%s column %d",
                      tables[g->table].name, col);
oom:
  return nomem(g, err);
fail:
  strcol_drop(&s);
  return rc;
}

static int gen_column(gen *g, int col, dq_array **out, dq_error *err) {
  switch (g->table) {
  case DQ_TPCH_LINEITEM: return gen_lineitem(g, col, out, err);
  case DQ_TPCH_ORDERS: return gen_orders(g, col, out, err);
  case DQ_TPCH_CUSTOMER: return gen_person(g, &customer_def, col, out, err);
  case DQ_TPCH_SUPPLIER: return gen_person(g, &supplier_def, col, out, err);
  case DQ_TPCH_PART: return gen_part(g, col, out, err);
  case DQ_TPCH_PARTSUPP: return gen_partsupp(g, col, out, err);
  case DQ_TPCH_NATION:
  case DQ_TPCH_REGION: return gen_fixed_table(g, col, out, err);
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
