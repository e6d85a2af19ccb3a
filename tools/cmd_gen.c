/* cmd_gen.c — `dq gen`: writes TPC-H tables as files, CSV or Arrow IPC
 * (the streaming format, readable by any Arrow implementation).
 *
 *   dq gen [--scale SF] [--seed N] [--tables a,b,...] [--format csv|arrow]
 *          --out DIR
 *
 * The data is the same the built-in queries scan (same scale and seed give
 * the same rows).  CSV follows RFC 4180: a header line, fields quoted when
 * they hold a comma, quote or line break, NULL as an empty field, decimals
 * exactly at their scale, dates as YYYY-MM-DD.
 *
 * Each table is written to a temporary file next to its final name and
 * renamed over it only once every byte is written and flushed: a full
 * disk leaves the previous file (or none), never a truncated one, and the
 * error names the file.  Arguments are checked in full before --out is
 * created. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/tpch.h>

#include "args.h"
#include "commands.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: dq gen [--scale SF] [--seed N] [--tables a,b,...] "
          "[--format csv|arrow] --out DIR\n"
          "Writes TPC-H tables (all eight by default) to DIR/TABLE.csv or "
          "DIR/TABLE.arrow.\n");
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil(int32_t days, int *y, unsigned *m, unsigned *d) {
  long z = (long)days + 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long yy = (long)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

static void put_decimal(FILE *f, dq_decimal v, int scale) {
  __int128 x = (__int128)(((unsigned __int128)(uint64_t)v.hi << 64) | v.lo);
  unsigned __int128 u = x < 0 ? -(unsigned __int128)x : (unsigned __int128)x;
  char digits[64];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u != 0 || n <= scale);
  if (x < 0)
    putc('-', f);
  for (int i = n - 1; i >= 0; i--) {
    putc(digits[i], f);
    if (i == scale && scale > 0)
      putc('.', f);
  }
}

static void put_utf8(FILE *f, const char *s, size_t n) {
  int quote = 0;
  for (size_t i = 0; i < n && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
  if (!quote) {
    fwrite(s, 1, n, f);
    return;
  }
  putc('"', f);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"')
      putc('"', f);
    putc(s[i], f);
  }
  putc('"', f);
}

static void write_csv_batch(FILE *f, const dq_batch *b) {
  size_t nc = dq_batch_n_columns(b);
  for (int64_t r = 0; r < dq_batch_n_rows(b); r++) {
    for (size_t c = 0; c < nc; c++) {
      if (c)
        putc(',', f);
      const dq_array *a = dq_batch_column(b, c);
      if (dq_array_is_null(a, r))
        continue;
      dq_type t = dq_array_type(a);
      switch (t.id) {
      case DQ_TYPE_BOOL: fputs(dq_array_bool(a, r) ? "true" : "false", f); break;
      case DQ_TYPE_INT32: fprintf(f, "%d", dq_array_int32(a, r)); break;
      case DQ_TYPE_INT64: fprintf(f, "%lld", (long long)dq_array_int64(a, r)); break;
      case DQ_TYPE_FLOAT64: fprintf(f, "%.17g", dq_array_float64(a, r)); break;
      case DQ_TYPE_DECIMAL: put_decimal(f, dq_array_decimal(a, r), t.scale); break;
      case DQ_TYPE_DATE32: {
        int y;
        unsigned m, d;
        civil(dq_array_date32(a, r), &y, &m, &d);
        fprintf(f, "%04d-%02u-%02u", y, m, d);
        break;
      }
      case DQ_TYPE_UTF8: {
        size_t n;
        const char *s = dq_array_utf8(a, r, &n);
        put_utf8(f, s, n);
        break;
      }
      }
    }
    putc('\n', f);
  }
}

/* Opens a new temporary file beside path (same directory, so rename is
 * atomic) with the mode a plain fopen would have given. */
static FILE *open_temp(const char *path, char *tmp, size_t len,
                       dq_error *err) {
  if (snprintf(tmp, len, "%s.XXXXXX", path) >= (int)len) {
    dq_error_set(err, DQ_EINVAL, "output path too long");
    return NULL;
  }
  int fd = mkstemp(tmp);
  if (fd < 0) {
    dq_error_set(err, DQ_EIO, "cannot create %s: %s", tmp, strerror(errno));
    return NULL;
  }
  mode_t mask = umask(0);
  umask(mask);
  /* mkstemp's 0600 is a safe fallback should fchmod fail. */
  int ignored = fchmod(fd, 0666 & ~mask);
  (void)ignored;
  FILE *f = fdopen(fd, "wb");
  if (f == NULL) {
    dq_error_set(err, DQ_EIO, "cannot create %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
  }
  return f;
}

/* Writes one table; returns 0 or a DQ_E* code (err filled). */
static int gen_table(const char *table, double scale, uint64_t seed,
                     int arrow, const char *dir, dq_error *err) {
  char path[4096], tmp[4096 + 8];
  if (snprintf(path, sizeof path, "%s/%s.%s", dir, table,
               arrow ? "arrow" : "csv") >= (int)sizeof path)
    return dq_error_set(err, DQ_EINVAL, "output path too long");
  dq_schema *schema = NULL;
  int rc = dq_tpch_table_schema(table, &schema, err);
  if (rc < 0)
    return rc;
  FILE *f = open_temp(path, tmp, sizeof tmp, err);
  if (f == NULL) {
    dq_schema_unref(schema);
    return err->code;
  }
  static char buf[1 << 20];
  setvbuf(f, buf, _IOFBF, sizeof buf);
  dq_ipc_writer *w = NULL;
  if (arrow) {
    rc = dq_ipc_writer_open_file(f, schema, &w, err);
  } else {
    for (size_t c = 0; c < dq_schema_n_fields(schema); c++)
      fprintf(f, "%s%s", c ? "," : "", dq_schema_field_name(schema, c));
    putc('\n', f);
  }
  int64_t units = dq_tpch_table_units(table, scale);
  /* ~8192 rows a batch: lineitem and partsupp units yield ~4 rows each. */
  int64_t step = strcmp(table, "lineitem") == 0 ||
                         strcmp(table, "partsupp") == 0
                     ? 2048
                     : 8192;
  int64_t rows = 0;
  for (int64_t u = 0; rc == 0 && u < units; u += step) {
    dq_batch *b = NULL;
    int64_t end = u + step < units ? u + step : units;
    rc = dq_tpch_table_generate(table, scale, seed, u, end, &b, err);
    if (rc < 0)
      break;
    rows += dq_batch_n_rows(b);
    if (arrow) {
      rc = dq_ipc_writer_write(w, b, err);
    } else {
      errno = 0;
      write_csv_batch(f, b);
      /* stdio remembers a failed write: stop at the first, naming why. */
      if (ferror(f))
        rc = dq_error_set(err, DQ_EIO, "writing %s: %s", path,
                          errno ? strerror(errno) : "write failed");
    }
    dq_batch_unref(b);
  }
  if (rc == 0 && arrow) {
    rc = dq_ipc_writer_close(w, err); /* frees w, whatever the result */
    w = NULL;
  }
  dq_ipc_writer_free(w);
  errno = 0;
  if ((fflush(f) != 0 || ferror(f)) && rc == 0)
    rc = dq_error_set(err, DQ_EIO, "writing %s: %s", path,
                      errno ? strerror(errno) : "write failed");
  if (fclose(f) != 0 && rc == 0)
    rc = dq_error_set(err, DQ_EIO, "writing %s: %s", path, strerror(errno));
  if (rc == 0 && rename(tmp, path) != 0)
    rc = dq_error_set(err, DQ_EIO, "cannot rename %s to %s: %s", tmp, path,
                      strerror(errno));
  if (rc < 0) {
    unlink(tmp);
    /* The IPC writer's own message may not say which file it was. */
    if (strstr(err->message, path) == NULL && strstr(err->message, tmp) == NULL) {
      char m[sizeof err->message];
      snprintf(m, sizeof m, "%s", err->message);
      dq_error_set(err, rc, "writing %s: %s", path, m);
    }
  }
  dq_schema_unref(schema);
  if (rc == 0)
    fprintf(stderr, "%-9s %10lld rows -> %s\n", table, (long long)rows, path);
  return rc;
}

int dq_cmd_gen(int argc, char **argv, const dq_global_opts *g) {
  (void)g;
  double scale = 1;
  uint64_t seed = 0;
  const char *tables = NULL, *out = NULL, *format = "csv";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (v == NULL) {
      fprintf(stderr, "dq gen: %s needs a value\n", a);
      return 2;
    }
    if (strcmp(a, "--scale") == 0) {
      scale = strtod(v, NULL);
      if (!dq_args_plain_decimal(v) || !(scale > 0) || scale > 100000) {
        fprintf(stderr, "dq gen: --scale must be a number in (0, 100000], "
                        "not '%s'\n", v);
        return 2;
      }
    } else if (strcmp(a, "--seed") == 0) {
      if (!dq_args_u64(v, UINT64_MAX, &seed)) {
        fprintf(stderr, "dq gen: --seed must be a non-negative integer, not "
                        "'%s'\n", v);
        return 2;
      }
    } else if (strcmp(a, "--tables") == 0) {
      tables = v;
    } else if (strcmp(a, "--format") == 0) {
      format = v;
    } else if (strcmp(a, "--out") == 0) {
      out = v;
    } else {
      fprintf(stderr, "dq gen: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    }
    i++;
  }
  if (strcmp(format, "csv") != 0 && strcmp(format, "arrow") != 0) {
    fprintf(stderr, "dq gen: --format is csv or arrow, not '%s'\n", format);
    return 2;
  }
  if (out == NULL) {
    fprintf(stderr, "dq gen: --out DIR is required\n");
    usage(stderr);
    return 2;
  }
  /* Check every name before creating or writing anything: an empty name
   * (",", "a,,b", a trailing comma) or one given twice is a typo, and an
   * unknown one must not leave an empty --out behind. */
  const char *const *all = dq_tpch_table_names();
  char list[256];
  const char *names[16];
  size_t n = 0;
  if (tables == NULL) {
    for (; all[n] != NULL; n++)
      names[n] = all[n];
  } else {
    if (snprintf(list, sizeof list, "%s", tables) >= (int)sizeof list) {
      fprintf(stderr, "dq gen: --tables '%s' is too long\n", tables);
      return 2;
    }
    for (char *t = list, *next; t != NULL; t = next) {
      next = strchr(t, ',');
      if (next != NULL)
        *next++ = '\0';
      if (*t == '\0') {
        fprintf(stderr, "dq gen: --tables '%s' has an empty table name\n",
                tables);
        return 2;
      }
      if (dq_tpch_table_units(t, scale) < 0) {
        fprintf(stderr, "dq gen: unknown table '%s'; the tables are:", t);
        for (size_t k = 0; all[k]; k++)
          fprintf(stderr, " %s", all[k]);
        fprintf(stderr, "\n");
        return 2;
      }
      for (size_t k = 0; k < n; k++)
        if (strcmp(names[k], t) == 0) {
          fprintf(stderr, "dq gen: --tables names '%s' twice\n", t);
          return 2;
        }
      if (n == sizeof names / sizeof names[0]) {
        fprintf(stderr, "dq gen: --tables names too many tables\n");
        return 2;
      }
      names[n++] = t;
    }
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "dq gen: cannot create %s: %s\n", out, strerror(errno));
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    dq_error err;
    dq_error_clear(&err);
    if (gen_table(names[i], scale, seed, strcmp(format, "arrow") == 0, out,
                  &err) < 0) {
      fprintf(stderr, "dq gen: %s\n", err.message);
      return 1;
    }
  }
  return 0;
}
