/* result_text.c — see result_text.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result_text.h"

static void format_decimal(dq_decimal d, int scale, char *buf, size_t len) {
  __int128 v = (__int128)(((unsigned __int128)(uint64_t)d.hi << 64) | d.lo);
  int neg = v < 0;
  unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
  char digits[64];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u != 0 || n <= scale);
  size_t o = 0;
  if (neg && o + 1 < len)
    buf[o++] = '-';
  for (int i = n - 1; i >= 0 && o + 2 < len; i--) {
    buf[o++] = digits[i];
    if (i == scale && scale > 0)
      buf[o++] = '.';
  }
  buf[o] = '\0';
}

static void format_value(const dq_array *a, int64_t i, char *buf, size_t len) {
  if (dq_array_is_null(a, i)) {
    snprintf(buf, len, "NULL");
    return;
  }
  dq_type t = dq_array_type(a);
  switch (t.id) {
  case DQ_TYPE_BOOL: snprintf(buf, len, "%s", dq_array_bool(a, i) ? "true" : "false"); break;
  case DQ_TYPE_INT32: snprintf(buf, len, "%d", dq_array_int32(a, i)); break;
  case DQ_TYPE_INT64: snprintf(buf, len, "%lld", (long long)dq_array_int64(a, i)); break;
  case DQ_TYPE_FLOAT64: snprintf(buf, len, "%.17g", dq_array_float64(a, i)); break;
  case DQ_TYPE_DATE32: snprintf(buf, len, "d%d", dq_array_date32(a, i)); break;
  case DQ_TYPE_DECIMAL: format_decimal(dq_array_decimal(a, i), t.scale, buf, len); break;
  case DQ_TYPE_UTF8: {
    size_t n;
    const char *s = dq_array_utf8(a, i, &n);
    snprintf(buf, len, "%.*s", (int)n, s);
    break;
  }
  default: snprintf(buf, len, "?"); break;
  }
}

void result_text_add(result_text *r, const dq_batch *b) {
  size_t nc = dq_batch_n_columns(b);
  for (int64_t i = 0; i < dq_batch_n_rows(b); i++) {
    char line[4096] = "";
    size_t o = 0;
    for (size_t c = 0; c < nc; c++) {
      char v[512];
      format_value(dq_batch_column(b, c), i, v, sizeof v);
      o += (size_t)snprintf(line + o, sizeof line - o, "%s%s", c ? "|" : "", v);
      if (o >= sizeof line)
        o = sizeof line - 1;
    }
    if (r->n == r->cap) {
      r->cap = r->cap ? r->cap * 2 : 64;
      r->rows = realloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->n++] = strdup(line);
  }
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void result_text_sort(result_text *r) {
  if (r->n > 1)
    qsort(r->rows, r->n, sizeof *r->rows, cmp);
}

int result_text_equal(const result_text *a, const result_text *b) {
  size_t n = a->n < b->n ? a->n : b->n;
  for (size_t i = 0; i < n; i++)
    if (strcmp(a->rows[i], b->rows[i]) != 0) {
      fprintf(stderr, "row %zu differs:\n  %s\n  %s\n", i, a->rows[i],
              b->rows[i]);
      return 0;
    }
  if (a->n != b->n) {
    fprintf(stderr, "row counts differ: %zu and %zu\n", a->n, b->n);
    return 0;
  }
  return 1;
}

void result_text_free(result_text *r) {
  for (size_t i = 0; i < r->n; i++)
    free(r->rows[i]);
  free(r->rows);
  memset(r, 0, sizeof *r);
}
