/* table.c — the aligned text table `dq run` prints results with: value
 * formatting (exact decimals, dates, shortest round-trip floats) and column
 * layout.  See table.h. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* Longest cell text kept: a decimal(38,s) needs 41 bytes, a date 11; long
 * strings are cut so one wild value cannot make every line kilobytes wide.
 * Cut text ends in "..." so it is never mistaken for the whole value. */
#define CELL_MAX 256

struct table {
  size_t n_cols;
  char **names;
  bool *right;   /* right-align the column (numbers) */
  size_t *width; /* display width, header included */
  char **cells;  /* row-major, n_rows * n_cols */
  int64_t n_rows;
  size_t cap_rows;
  const char *null_text;
};

/* Display width of UTF-8 text: continuation bytes take no column. */
static size_t display_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      w++;
  return w;
}

static bool is_numeric(dq_type t) {
  return t.id == DQ_TYPE_INT32 || t.id == DQ_TYPE_INT64 ||
         t.id == DQ_TYPE_FLOAT64 || t.id == DQ_TYPE_DECIMAL;
}

table *table_new(const dq_schema *schema) {
  table *t = calloc(1, sizeof *t);
  if (t == NULL)
    return NULL;
  t->n_cols = dq_schema_n_fields(schema);
  t->null_text = "NULL";
  size_t n = t->n_cols ? t->n_cols : 1;
  t->names = calloc(n, sizeof *t->names);
  t->right = calloc(n, sizeof *t->right);
  t->width = calloc(n, sizeof *t->width);
  if (t->names == NULL || t->right == NULL || t->width == NULL) {
    table_free(t);
    return NULL;
  }
  for (size_t c = 0; c < t->n_cols; c++) {
    const char *name = dq_schema_field_name(schema, c);
    t->names[c] = strdup(name ? name : "");
    if (t->names[c] == NULL) {
      table_free(t);
      return NULL;
    }
    t->right[c] = is_numeric(dq_schema_field_type(schema, c));
    t->width[c] = display_width(t->names[c]);
  }
  return t;
}

void table_free(table *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < (size_t)t->n_rows * t->n_cols; i++)
    free(t->cells[i]);
  free(t->cells);
  for (size_t c = 0; c < t->n_cols; c++)
    free(t->names ? t->names[c] : NULL);
  free(t->names);
  free(t->right);
  free(t->width);
  free(t);
}

void table_set_null_text(table *t, const char *s) { t->null_text = s; }

void table_format_decimal(dq_decimal v, int scale, char *buf, size_t len) {
  __int128 x = (__int128)(((unsigned __int128)(uint64_t)v.hi << 64) | v.lo);
  bool neg = x < 0;
  /* Negating in unsigned arithmetic keeps the most negative value exact. */
  unsigned __int128 m = neg ? -(unsigned __int128)x : (unsigned __int128)x;
  char digits[48];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(m % 10));
    m /= 10;
  } while (m != 0);
  if (scale < 0)
    scale = 0;
  if (scale > 38)
    scale = 38;
  while (n <= scale) /* at least one digit before the point */
    digits[n++] = '0';
  char out[64];
  size_t o = 0;
  if (neg)
    out[o++] = '-';
  for (int i = n - 1; i >= 0; i--) {
    out[o++] = digits[i];
    if (i == scale && scale > 0)
      out[o++] = '.';
  }
  out[o] = '\0';
  snprintf(buf, len, "%s", out);
}

void table_format_date(int32_t days, char *buf, size_t len) {
  /* civil_from_days (H. Hinnant): exact for every int32 day count. */
  int64_t z = (int64_t)days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    y++;
  snprintf(buf, len, "%04lld-%02lld-%02lld", (long long)y, (long long)m,
           (long long)d);
}

/* The shortest text that reads back as the same double, in fixed notation
 * while that stays short (a table of 1e+06s is hard to read), else %g. */
static void format_float(double v, char *buf, size_t len) {
  if (isnan(v)) {
    snprintf(buf, len, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, len, v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  double a = fabs(v);
  if (a == 0 || (a >= 1e-4 && a < 1e15)) {
    for (int d = 0; d <= 17; d++) {
      snprintf(buf, len, "%.*f", d, v);
      if (strtod(buf, NULL) == v)
        return;
    }
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, len, "%.*g", p, v);
    if (strtod(buf, NULL) == v)
      return;
  }
}

size_t table_format_value(const dq_array *a, int64_t i, char *buf,
                          size_t len) {
  char tmp[CELL_MAX];
  dq_type t = dq_array_type(a);
  if (dq_array_is_null(a, i)) {
    snprintf(tmp, sizeof tmp, "NULL");
  } else {
    switch (t.id) {
    case DQ_TYPE_BOOL:
      snprintf(tmp, sizeof tmp, "%s", dq_array_bool(a, i) ? "true" : "false");
      break;
    case DQ_TYPE_INT32:
      snprintf(tmp, sizeof tmp, "%d", (int)dq_array_int32(a, i));
      break;
    case DQ_TYPE_INT64:
      snprintf(tmp, sizeof tmp, "%lld", (long long)dq_array_int64(a, i));
      break;
    case DQ_TYPE_FLOAT64:
      format_float(dq_array_float64(a, i), tmp, sizeof tmp);
      break;
    case DQ_TYPE_DATE32:
      table_format_date(dq_array_date32(a, i), tmp, sizeof tmp);
      break;
    case DQ_TYPE_DECIMAL:
      table_format_decimal(dq_array_decimal(a, i), t.scale, tmp, sizeof tmp);
      break;
    case DQ_TYPE_UTF8: {
      size_t n = 0;
      const char *s = dq_array_utf8(a, i, &n);
      /* One row per line: control characters would break the layout. */
      size_t keep = n < sizeof tmp - 1 ? n : sizeof tmp - 4;
      for (size_t k = 0; k < keep; k++) {
        unsigned char ch = (unsigned char)s[k];
        tmp[k] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
      }
      if (keep < n) {
        /* Do not cut a UTF-8 sequence in half. */
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
          keep--;
        memcpy(tmp + keep, "...", 4);
      } else {
        tmp[keep] = '\0';
      }
      break;
    }
    default:
      snprintf(tmp, sizeof tmp, "?");
      break;
    }
  }
  return (size_t)snprintf(buf, len, "%s", tmp);
}

int table_add(table *t, const dq_batch *b, dq_error *err) {
  if (dq_batch_n_columns(b) != t->n_cols)
    return dq_error_set(err, DQ_EINVAL,
                        "a result batch has %zu columns, the schema %zu",
                        dq_batch_n_columns(b), t->n_cols);
  int64_t rows = dq_batch_n_rows(b);
  if (rows <= 0)
    return 0;
  size_t need = (size_t)t->n_rows + (size_t)rows;
  if (need > t->cap_rows) {
    size_t cap = t->cap_rows ? t->cap_rows : 64;
    while (cap < need)
      cap *= 2;
    size_t per = t->n_cols ? t->n_cols : 1;
    char **cells = realloc(t->cells, cap * per * sizeof *cells);
    if (cells == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory for the result table");
    t->cells = cells;
    t->cap_rows = cap;
  }
  char buf[CELL_MAX];
  for (int64_t r = 0; r < rows; r++) {
    char **row = t->cells + (size_t)t->n_rows * t->n_cols;
    for (size_t c = 0; c < t->n_cols; c++) {
      const dq_array *col = dq_batch_column(b, c);
      if (dq_array_is_null(col, r))
        snprintf(buf, sizeof buf, "%s", t->null_text);
      else
        table_format_value(col, r, buf, sizeof buf);
      row[c] = strdup(buf);
      if (row[c] == NULL) {
        while (c-- > 0)
          free(row[c]);
        return dq_error_set(err, DQ_ENOMEM,
                            "out of memory for the result table");
      }
      size_t w = display_width(buf);
      if (w > t->width[c])
        t->width[c] = w;
    }
    t->n_rows++;
  }
  return 0;
}

static void put_cell(FILE *f, const char *s, size_t width, bool right,
                     bool last) {
  size_t pad = width - display_width(s);
  if (right)
    fprintf(f, "%*s%s", (int)pad, "", s);
  else if (last) /* no trailing blanks */
    fputs(s, f);
  else
    fprintf(f, "%s%*s", s, (int)pad, "");
}

void table_print(const table *t, FILE *f) {
  const char *sep = "  ";
  for (size_t c = 0; c < t->n_cols; c++) {
    if (c)
      fputs(sep, f);
    put_cell(f, t->names[c], t->width[c], t->right[c], c + 1 == t->n_cols);
  }
  fputc('\n', f);
  for (size_t c = 0; c < t->n_cols; c++) {
    if (c)
      fputs(sep, f);
    for (size_t k = 0; k < t->width[c]; k++)
      fputc('-', f);
  }
  fputc('\n', f);
  for (int64_t r = 0; r < t->n_rows; r++) {
    char *const *row = t->cells + (size_t)r * t->n_cols;
    for (size_t c = 0; c < t->n_cols; c++) {
      if (c)
        fputs(sep, f);
      put_cell(f, row[c], t->width[c], t->right[c], c + 1 == t->n_cols);
    }
    fputc('\n', f);
  }
}
