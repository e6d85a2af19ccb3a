/* tpch_tables.c — the TPC-H generator's per-table column loops: one
 * function per table (customer and supplier share one), each making one
 * column of the units of a gen as one array (tpch_gen.h; how values are
 * made is at the top of tpch.c). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <dq/tpch.h>

#include "tpch/tpch_gen.h"

/* The loops below copy stream keys and sizes into locals: the strings are
 * written through char pointers, which may alias anything, so a key read
 * through g would be reloaded on every row. */

/* --- lineitem ------------------------------------------------------------- */
int tpch_gen_lineitem(gen *g, int col, dq_array **out, dq_error *err) {
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
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const int64_t start = g->start;
    for (int64_t r = 0; r < n; r++)
      v[r] = orderkey_of(start + lord[r]);
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case L_PARTKEY: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = PARTKEY(lidx[r]);
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case L_SUPPKEY: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const uint64_t ksupp = g->key[S_L_SUPP];
    const int64_t S = g->z.supp, n_ps = g->z.n_ps;
    for (int64_t r = 0; r < n; r++) {
      int64_t p = PARTKEY(lidx[r]);
      int64_t i = (int64_t)tpch_below(tpch_rnd(ksupp, lidx[r]), (uint64_t)n_ps);
      v[r] = supp_of(p, i, S);
    }
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case L_LINENUMBER: {
    int32_t *v = tpch_fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = (int32_t)(lidx[r] & 7) + 1;
    return tpch_fixed_done(g, I32, b, out, err);
  }
  case L_QUANTITY:
  case L_DISCOUNT:
  case L_TAX: {
    int64_t *v = tpch_fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
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
    return tpch_fixed_done(g, DEC, b, out, err);
  }
  case L_EXTENDEDPRICE: {
    int64_t *v = tpch_fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t kqty = g->key[S_L_QTY];
    for (int64_t r = 0; r < n; r++) {
      int64_t q = 1 + (int64_t)tpch_below(tpch_rnd(kqty, lidx[r]), 50);
      v[r] = q * retail_cents(PARTKEY(lidx[r]));
    }
    return tpch_fixed_done(g, DEC, b, out, err);
  }
  case L_RETURNFLAG: {
    char *v = tpch_flags_new(g, &s, err);
    if (v == NULL)
      return DQ_ENOMEM;
    const uint64_t kflag = g->key[S_L_RFLAG];
    for (int64_t r = 0; r < n; r++) {
      int32_t ship = SHIPDATE(r);
      int32_t receipt = RECEIPT(ship, lidx[r]);
      v[r] = receipt > DQ_TPCH_CURRENTDATE ? 'N'
             : (tpch_rnd(kflag, lidx[r]) >> 63) ? 'R' : 'A';
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case L_LINESTATUS: {
    char *v = tpch_flags_new(g, &s, err);
    if (v == NULL)
      return DQ_ENOMEM;
    for (int64_t r = 0; r < n; r++)
      v[r] = SHIPDATE(r) > DQ_TPCH_CURRENTDATE ? 'O' : 'F';
    return tpch_strcol_done(g, &s, out, err);
  }
  case L_SHIPDATE:
  case L_RECEIPTDATE: {
    int32_t *v = tpch_fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    if (col == L_SHIPDATE)
      for (int64_t r = 0; r < n; r++)
        v[r] = SHIPDATE(r);
    else
      for (int64_t r = 0; r < n; r++)
        v[r] = RECEIPT(SHIPDATE(r), lidx[r]);
    return tpch_fixed_done(g, DATE, b, out, err);
  }
  case L_COMMITDATE: {
    int32_t *v = tpch_fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_L_COMMIT];
    for (int64_t r = 0; r < n; r++)
      v[r] = odate[lord[r]] + 30 +
             (int32_t)tpch_below(tpch_rnd(k, lidx[r]), 61);
    return tpch_fixed_done(g, DATE, b, out, err);
  }
  case L_SHIPINSTRUCT:
  case L_SHIPMODE: {
    const tpch_word *words =
        col == L_SHIPINSTRUCT ? tpch_instructions : tpch_modes;
    uint64_t nw = col == L_SHIPINSTRUCT ? 4 : 7;
    uint64_t k = g->key[col == L_SHIPINSTRUCT ? S_L_INSTRUCT : S_L_MODE];
    if ((rc = tpch_strcol_init(g, &s, col == L_SHIPINSTRUCT ? 12 : 5, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 17, col, err);
      strcol_word(&s, &words[tpch_below(tpch_rnd(k, lidx[r]), nw)]);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case L_COMMENT: {
    const char *pool = tpch_pool_of(g);
    const uint64_t k = g->key[S_L_COMMENT];
    if ((rc = tpch_strcol_init(g, &s, 27, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 43, col, err);
      put_text(&s, pool, tpch_rnd(k, lidx[r]), 10, 43);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  }
#undef PARTKEY
#undef SHIPDATE
#undef RECEIPT
  return dq_error_set(err, DQ_EINTERNAL, "lineitem column %d", col);
oom:
  return tpch_nomem(g, err);
fail:
  tpch_strcol_drop(&s);
  return rc;
}

/* --- orders --------------------------------------------------------------- */
int tpch_gen_orders(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  const uint8_t *nlines = g->nlines;
  const int32_t *odate = g->odate;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  switch (col) {
  case O_ORDERKEY: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = orderkey_of(start + r);
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case O_CUSTKEY: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_O_CUST];
    const int64_t n_cust = g->z.cust;
    for (int64_t r = 0; r < n; r++)
      v[r] = custkey_of(tpch_rnd(k, (uint64_t)(start + r)), n_cust);
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case O_ORDERSTATUS: {
    /* F when every line has shipped by CURRENTDATE (linestatus F), O when
     * none has, P otherwise: recomputes the lines' ship dates. */
    char *v = tpch_flags_new(g, &s, err);
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
    return tpch_strcol_done(g, &s, out, err);
  }
  case O_TOTALPRICE: {
    /* sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)) over the lines,
     * each line truncated to cents as dbgen does. */
    int64_t *v = tpch_fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
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
    return tpch_fixed_done(g, DEC, b, out, err);
  }
  case O_ORDERDATE: {
    int32_t *v = tpch_fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    memcpy(v, odate, (size_t)n * sizeof *v);
    return tpch_fixed_done(g, DATE, b, out, err);
  }
  case O_ORDERPRIORITY: {
    const uint64_t k = g->key[S_O_PRIO];
    if ((rc = tpch_strcol_init(g, &s, 8, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 15, col, err);
      strcol_word(&s, &tpch_priorities[tpch_below(
                          tpch_rnd(k, (uint64_t)(start + r)), 5)]);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case O_CLERK: {
    const uint64_t k = g->key[S_O_CLERK];
    const uint64_t clerks = (uint64_t)g->z.clerks;
    if ((rc = tpch_strcol_init(g, &s, 15, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 32, col, err);
      strcol_put(&s, "Clerk#", 6);
      put_padded(&s,
                 1 + tpch_below(tpch_rnd(k, (uint64_t)(start + r)), clerks),
                 9);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case O_SHIPPRIORITY: {
    /* Always 0: the buffer is zero-filled. */
    if (tpch_fixed_new(g, &b, 4) == NULL)
      goto oom;
    return tpch_fixed_done(g, I32, b, out, err);
  }
  case O_COMMENT: {
    const char *pool = tpch_pool_of(g);
    const uint64_t k = g->key[S_O_COMMENT];
    if ((rc = tpch_strcol_init(g, &s, 49, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 78, col, err);
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), 19, 78);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "orders column %d", col);
oom:
  return tpch_nomem(g, err);
fail:
  tpch_strcol_drop(&s);
  return rc;
}

/* --- customer and supplier ------------------------------------------------
 * The two tables have the same shape (key, name, address, nation, phone,
 * balance, comment); they differ in streams and a few constants. */

const tpch_person_def tpch_customer_def = {
    "Customer#", S_C_ADDRESS, S_C_NATION, S_C_PHONE, S_C_ACCTBAL,
    S_C_COMMENT, 29, 116};
const tpch_person_def tpch_supplier_def = {
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

int tpch_gen_person(gen *g, const tpch_person_def *d, int col,
                    dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  const bool supp = d == &tpch_supplier_def;
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
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = start + r + 1;
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case 1:
    if ((rc = tpch_strcol_init(g, &s, 18, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 32, col, err);
      strcol_put(&s, d->name_prefix, 9);
      put_padded(&s, (uint64_t)(start + r + 1), 9);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  case 2: {
    const uint64_t k = g->key[d->s_address];
    if ((rc = tpch_strcol_init(g, &s, 25, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 40, col, err);
      put_vstring(&s, k, (uint64_t)(start + r));
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case 3: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[d->s_nation];
    for (int64_t r = 0; r < n; r++)
      v[r] = (int64_t)tpch_below(tpch_rnd(k, (uint64_t)(start + r)), 25);
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case 4: {
    const uint64_t kn = g->key[d->s_nation], kp = g->key[d->s_phone];
    if ((rc = tpch_strcol_init(g, &s, 15, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 15, col, err);
      uint64_t i = (uint64_t)(start + r);
      put_phone(&s, (int64_t)tpch_below(tpch_rnd(kn, i), 25),
                tpch_rnd(kp, i));
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case 5: {
    /* -999.99 .. 9999.99 */
    int64_t *v = tpch_fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[d->s_acctbal];
    for (int64_t r = 0; r < n; r++)
      v[r] = -99999 + (int64_t)tpch_below(tpch_rnd(k, (uint64_t)(start + r)),
                                          1099999);
    return tpch_fixed_done(g, DEC, b, out, err);
  }
  case 6: {
    const uint64_t k = g->key[S_C_SEGMENT];
    if ((rc = tpch_strcol_init(g, &s, 9, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 10, col, err);
      strcol_word(&s, &tpch_segments[tpch_below(
                          tpch_rnd(k, (uint64_t)(start + r)), 5)]);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  case 7: {
    const char *pool = tpch_pool_of(g);
    const uint64_t k = g->key[d->s_comment];
    const uint64_t kbbb = g->key[S_S_BBB], kpos = g->key[S_S_BBB_POS];
    const int64_t S = g->z.supp, n_bbb = g->z.n_bbb;
    const uint32_t lo = d->comment_lo, hi = d->comment_hi;
    if ((rc = tpch_strcol_init(g, &s, (lo + hi) / 2, err)) != 0)
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
    return tpch_strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "%s column %d",
                      dq_tpch_table_name(g->table), col);
oom:
  return tpch_nomem(g, err);
fail:
  tpch_strcol_drop(&s);
  return rc;
}

/* --- part ----------------------------------------------------------------- */
int tpch_gen_part(gen *g, int col, dq_array **out, dq_error *err) {
  const int64_t n = g->n_rows, start = g->start;
  dq_buffer *b = NULL;
  strcol s = {0};
  int rc = 0;

  switch (col) {
  case P_PARTKEY: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = start + r + 1;
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case P_NAME: {
    /* Five distinct colours, space-separated. */
    const uint64_t k = g->key[S_P_NAME];
    if ((rc = tpch_strcol_init(g, &s, 33, err)) != 0)
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
    return tpch_strcol_done(g, &s, out, err);
  }
  case P_MFGR:
  case P_BRAND: {
    /* Manufacturer#M, Brand#MN: the brand's M is the part's manufacturer. */
    const uint64_t km = g->key[S_P_MFGR], kb = g->key[S_P_BRAND];
    if ((rc = tpch_strcol_init(g, &s, col == P_MFGR ? 14 : 8, err)) != 0)
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
    return tpch_strcol_done(g, &s, out, err);
  }
  case P_TYPE: {
    const uint64_t k = g->key[S_P_TYPE];
    if ((rc = tpch_strcol_init(g, &s, 21, err)) != 0)
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
    return tpch_strcol_done(g, &s, out, err);
  }
  case P_SIZE: {
    int32_t *v = tpch_fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_P_SIZE];
    for (int64_t r = 0; r < n; r++)
      v[r] = 1 + (int32_t)tpch_below(tpch_rnd(k, (uint64_t)(start + r)), 50);
    return tpch_fixed_done(g, I32, b, out, err);
  }
  case P_CONTAINER: {
    const uint64_t k = g->key[S_P_CONTAINER];
    if ((rc = tpch_strcol_init(g, &s, 7, err)) != 0)
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
    return tpch_strcol_done(g, &s, out, err);
  }
  case P_RETAILPRICE: {
    int64_t *v = tpch_fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = retail_cents(start + r + 1);
    return tpch_fixed_done(g, DEC, b, out, err);
  }
  case P_COMMENT: {
    const char *pool = tpch_pool_of(g);
    const uint64_t k = g->key[S_P_COMMENT];
    if ((rc = tpch_strcol_init(g, &s, 14, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 22, col, err);
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), 5, 22);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "part column %d", col);
oom:
  return tpch_nomem(g, err);
fail:
  tpch_strcol_drop(&s);
  return rc;
}

/* --- partsupp ------------------------------------------------------------- */
int tpch_gen_partsupp(gen *g, int col, dq_array **out, dq_error *err) {
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
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = start + r / n_ps + 1;
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case PS_SUPPKEY: {
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    const int64_t S = g->z.supp;
    for (int64_t r = 0; r < n; r++)
      v[r] = supp_of(start + r / n_ps + 1, r % n_ps, S);
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case PS_AVAILQTY: {
    int32_t *v = tpch_fixed_new(g, &b, 4);
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_PS_AVAILQTY];
    for (int64_t r = 0; r < n; r++)
      v[r] = 1 + (int32_t)tpch_below(tpch_rnd(k, PS_INDEX(r)), 9999);
    return tpch_fixed_done(g, I32, b, out, err);
  }
  case PS_SUPPLYCOST: {
    /* 1.00 .. 1000.00 */
    int64_t *v = tpch_fixed_new(g, &b, 8); /* decimal(15,2): decimal64 */
    if (v == NULL)
      goto oom;
    const uint64_t k = g->key[S_PS_COST];
    for (int64_t r = 0; r < n; r++)
      v[r] = 100 + (int64_t)tpch_below(tpch_rnd(k, PS_INDEX(r)), 99901);
    return tpch_fixed_done(g, DEC, b, out, err);
  }
  case PS_COMMENT: {
    const char *pool = tpch_pool_of(g);
    const uint64_t k = g->key[S_PS_COMMENT];
    if ((rc = tpch_strcol_init(g, &s, 124, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 198, col, err);
      put_text(&s, pool, tpch_rnd(k, PS_INDEX(r)), 49, 198);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  }
#undef PS_INDEX
  return dq_error_set(err, DQ_EINTERNAL, "partsupp column %d", col);
oom:
  return tpch_nomem(g, err);
fail:
  tpch_strcol_drop(&s);
  return rc;
}

/* --- nation and region ----------------------------------------------------
 * Fixed rows from the spec; only the comments are random. */
int tpch_gen_fixed_table(gen *g, int col, dq_array **out, dq_error *err) {
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
    int64_t *v = tpch_fixed_new(g, &b, 8);
    if (v == NULL)
      goto oom;
    for (int64_t r = 0; r < n; r++)
      v[r] = which == 0 ? start + r : tpch_nation_region[start + r];
    return tpch_fixed_done(g, I64, b, out, err);
  }
  case 1:
    if ((rc = tpch_strcol_init(g, &s, 16, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, 16, col, err);
      strcol_word(&s, nation ? &tpch_nations[start + r]
                             : &tpch_regions[start + r]);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  case 3: {
    const char *pool = tpch_pool_of(g);
    const uint64_t k = g->key[nation ? S_N_COMMENT : S_R_COMMENT];
    const uint32_t hi = nation ? 114 : 115;
    if ((rc = tpch_strcol_init(g, &s, hi, err)) != 0)
      return rc;
    for (int64_t r = 0; r < n; r++) {
      STRCOL_ROOM(g, &s, hi, col, err);
      put_text(&s, pool, tpch_rnd(k, (uint64_t)(start + r)), 31, hi);
      strcol_end_row(&s, r);
    }
    return tpch_strcol_done(g, &s, out, err);
  }
  }
  return dq_error_set(err, DQ_EINTERNAL, "%s column %d",
                      dq_tpch_table_name(g->table), col);
oom:
  return tpch_nomem(g, err);
fail:
  tpch_strcol_drop(&s);
  return rc;
}

