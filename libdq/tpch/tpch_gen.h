/* tpch_gen.h — what the TPC-H generator's files share: tpch.c (tables,
 * sizes, the generation state, column writers, the public functions) and
 * tpch_tables.c (one generator per table).  The column numbers, the
 * random streams and the values two tables must agree on are defined
 * here once; the per-row writers are inline, as they were when the
 * generator was one file. */
#ifndef DQ_TPCH_GEN_H
#define DQ_TPCH_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arrow/batch_internal.h"
#include "tpch/tpch.h"
#include "tpch/tpch_internal.h"

/* --- Column types and numbers --------------------------------------------- */
#define I32 DQ_TYPE_INT32
#define I64 DQ_TYPE_INT64
#define DEC DQ_TYPE_DECIMAL /* always DECIMAL(15,2) */
#define DATE DQ_TYPE_DATE32
#define STR DQ_TYPE_UTF8

enum { L_ORDERKEY, L_PARTKEY, L_SUPPKEY, L_LINENUMBER, L_QUANTITY,
       L_EXTENDEDPRICE, L_DISCOUNT, L_TAX, L_RETURNFLAG, L_LINESTATUS,
       L_SHIPDATE, L_COMMITDATE, L_RECEIPTDATE, L_SHIPINSTRUCT, L_SHIPMODE,
       L_COMMENT };

enum { O_ORDERKEY, O_CUSTKEY, O_ORDERSTATUS, O_TOTALPRICE, O_ORDERDATE,
       O_ORDERPRIORITY, O_CLERK, O_SHIPPRIORITY, O_COMMENT };

enum { C_CUSTKEY, C_NAME, C_ADDRESS, C_NATIONKEY, C_PHONE, C_ACCTBAL,
       C_MKTSEGMENT, C_COMMENT };

enum { P_PARTKEY, P_NAME, P_MFGR, P_BRAND, P_TYPE, P_SIZE, P_CONTAINER,
       P_RETAILPRICE, P_COMMENT };

enum { PS_PARTKEY, PS_SUPPKEY, PS_AVAILQTY, PS_SUPPLYCOST, PS_COMMENT };

enum { S_SUPPKEY, S_NAME, S_ADDRESS, S_NATIONKEY, S_PHONE, S_ACCTBAL,
       S_COMMENT };

enum { N_NATIONKEY, N_NAME, N_REGIONKEY, N_COMMENT };

enum { R_REGIONKEY, R_NAME, R_COMMENT };

/* --- Random streams --------------------------------------------------------
 * Append only (see the top of tpch.c). */
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
typedef struct sizes {
  int64_t cust, orders, part, supp, clerks;
  int64_t n_ps;  /* partsupp rows (suppliers) per part: min(4, supp) */
  int64_t n_bbb; /* suppliers with "Customer ... Complaints" (and as many
                    with "... Recommends") */
} sizes;

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

/* A supplier of a part when the spec's formula repeats one (tpch.c). */
int64_t tpch_supp_slow(int64_t partkey, int64_t i, int64_t S);

/* The i-th supplier (0 <= i < n_ps) of a part, per the spec's
 * PS_SUPPKEY = (ps_partkey + i*(S/4 + (ps_partkey-1)/S)) mod S + 1. */
static inline int64_t supp_of(int64_t partkey, int64_t i, int64_t S) {
  int64_t step = S / 4 + (partkey - 1) / S;
  /* When 3*step < S the four candidates are distinct (the usual case). */
  if (S >= 4 && step >= 1 && 3 * step < S)
    return (partkey + i * step) % S + 1;
  return tpch_supp_slow(partkey, i, S);
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

/* "out of memory generating TPC-H ..." */
int tpch_nomem(const gen *g, dq_error *err);

/* --- Column writers (tpch.c) ---------------------------------------------- */

/* A zero-filled fixed-width values buffer of n values. */
void *tpch_fixed_new(const gen *g, dq_buffer **b, size_t width);
int tpch_fixed_done(const gen *g, dq_type_id id, dq_buffer *b,
                    dq_array **out, dq_error *err);

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

int tpch_strcol_init(const gen *g, strcol *s, size_t avg_len, dq_error *err);
int tpch_strcol_grow(const gen *g, strcol *s, size_t need, int col,
                     dq_error *err);
int tpch_strcol_done(const gen *g, strcol *s, dq_array **out, dq_error *err);
void tpch_strcol_drop(strcol *s);
/* One-character columns (flags) need no estimate: row r is byte r. */
char *tpch_flags_new(const gen *g, strcol *s, dq_error *err);
/* The text pool, fetched on first use. */
const char *tpch_pool_of(gen *g);

/* Makes room for a row of at most `need` bytes. */
#define STRCOL_ROOM(g, s, need, col, err)                                     \
  do {                                                                        \
    if ((s)->used + (need) + STRCOL_OVERRUN > (s)->cap &&                     \
        (rc = tpch_strcol_grow((g), (s), (need) + STRCOL_OVERRUN, (col),           \
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

/* --- One generator per table (tpch_tables.c) ------------------------------
 * Column `col` of the table for the units of g, as one array. */

/* customer and supplier: the same shape, other streams and constants. */
typedef struct tpch_person_def {
  const char *name_prefix; /* "Customer#" / "Supplier#" */
  enum stream s_address, s_nation, s_phone, s_acctbal, s_comment;
  uint32_t comment_lo, comment_hi;
} tpch_person_def;
extern const tpch_person_def tpch_customer_def, tpch_supplier_def;

int tpch_gen_lineitem(gen *g, int col, dq_array **out, dq_error *err);
int tpch_gen_orders(gen *g, int col, dq_array **out, dq_error *err);
int tpch_gen_person(gen *g, const tpch_person_def *d, int col,
                    dq_array **out, dq_error *err);
int tpch_gen_part(gen *g, int col, dq_array **out, dq_error *err);
int tpch_gen_partsupp(gen *g, int col, dq_array **out, dq_error *err);
int tpch_gen_fixed_table(gen *g, int col, dq_array **out, dq_error *err);

#endif /* DQ_TPCH_GEN_H */
