/* catalog.c — the SQL session's tables: specs (csv:GLOB, arrow:GLOB,
 * tpch:TABLE) from --table, the config's [tables] section and CREATE
 * TABLE; the files a glob matches; CSV schemas inferred from a header and
 * the first rows; row estimates for join ordering (TPC-H sizes, or file
 * bytes over the sampled bytes per row). */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <dq/tpch.h>

#include "sql_internal.h"

/* Rows read to infer a CSV file's column types. */
#define CSV_SAMPLE_ROWS 1000
#define CSV_MAX_COLUMNS 1024

void sql_table_free(sql_table *t) {
  if (t == NULL)
    return;
  free(t->name);
  free(t->tpch_table);
  for (size_t i = 0; i < t->n_paths; i++)
    free(t->paths[i]);
  free(t->paths);
  dq_schema_unref(t->schema);
  free(t->ranged);
  free(t->lo);
  free(t->hi);
  free(t);
}

/* --- Column ranges ------------------------------------------------------------
 * Taken from a sample (a TPC-H table's first units, a CSV file's first
 * rows); they only steer join order, so a sample is enough. */

static int alloc_ranges(sql_table *t, dq_error *err) {
  size_t n = dq_schema_n_fields(t->schema);
  t->ranged = calloc(n + 1, sizeof *t->ranged);
  t->lo = calloc(n + 1, sizeof *t->lo);
  t->hi = calloc(n + 1, sizeof *t->hi);
  if (t->ranged == NULL || t->lo == NULL || t->hi == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  return 0;
}

static void widen(sql_table *t, size_t col, double v) {
  if (!t->ranged[col]) {
    t->ranged[col] = true;
    t->lo[col] = t->hi[col] = v;
  } else if (v < t->lo[col]) {
    t->lo[col] = v;
  } else if (v > t->hi[col]) {
    t->hi[col] = v;
  }
}

static void ranges_from_batch(sql_table *t, const dq_batch *b) {
  for (size_t c = 0; c < dq_batch_n_columns(b); c++) {
    const dq_array *a = dq_batch_column(b, c);
    dq_type ty = dq_array_type(a);
    double scale = 1;
    for (int k = 0; ty.id == DQ_TYPE_DECIMAL && k < ty.scale; k++)
      scale *= 10;
    for (int64_t i = 0; i < dq_array_length(a); i++) {
      if (dq_array_is_null(a, i))
        continue;
      switch (ty.id) {
      case DQ_TYPE_INT32:
        widen(t, c, dq_array_int32(a, i));
        break;
      case DQ_TYPE_INT64:
        widen(t, c, (double)dq_array_int64(a, i));
        break;
      case DQ_TYPE_FLOAT64:
        widen(t, c, dq_array_float64(a, i));
        break;
      case DQ_TYPE_DATE32:
        widen(t, c, dq_array_date32(a, i));
        break;
      case DQ_TYPE_DECIMAL: {
        dq_decimal d = dq_array_decimal(a, i);
        double v = (double)d.hi * 18446744073709551616.0 + (double)d.lo;
        widen(t, c, v / scale);
        break;
      }
      default:
        break;
      }
    }
  }
}

sql_table *sql_catalog_find(const dq_sql *s, const char *name) {
  for (size_t i = 0; i < s->n_tables; i++)
    if (strcasecmp(s->tables[i]->name, name) == 0)
      return s->tables[i];
  return NULL;
}

sql_view *sql_catalog_view(const dq_sql *s, const char *name) {
  for (size_t i = 0; i < s->n_views; i++)
    if (strcasecmp(s->views[i].name, name) == 0)
      return &s->views[i];
  return NULL;
}

int sql_catalog_put(dq_sql *s, sql_table *t, dq_error *err) {
  for (size_t i = 0; i < s->n_tables; i++)
    if (strcasecmp(s->tables[i]->name, t->name) == 0) {
      /* A later definition (--table after [tables]) replaces it. */
      sql_table_free(s->tables[i]);
      s->tables[i] = t;
      return 0;
    }
  if (sql_catalog_view(s, t->name) != NULL)
    return dq_error_set(err, DQ_EINVAL, "a view named \"%s\" already exists",
                        t->name);
  sql_table **grown = realloc(s->tables, (s->n_tables + 1) * sizeof *grown);
  if (grown == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  s->tables = grown;
  s->tables[s->n_tables++] = t;
  return 0;
}

/* --- Files ----------------------------------------------------------------*/

static int expand_glob(sql_table *t, const char *pattern, dq_error *err) {
  glob_t g;
  memset(&g, 0, sizeof g);
  int r = glob(pattern, 0, NULL, &g);
  if (r == GLOB_NOMATCH || (r == 0 && g.gl_pathc == 0)) {
    globfree(&g);
    return dq_error_set(err, DQ_ENOENT, "table %s: no file matches '%s'",
                        t->name, pattern);
  }
  if (r != 0) {
    globfree(&g);
    return dq_error_set(err, DQ_EIO, "table %s: cannot read '%s'", t->name,
                        pattern);
  }
  t->paths = calloc(g.gl_pathc, sizeof *t->paths);
  if (t->paths == NULL) {
    globfree(&g);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < g.gl_pathc; i++) {
    if ((t->paths[i] = strdup(g.gl_pathv[i])) == NULL) {
      globfree(&g);
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    }
    t->n_paths++;
  }
  globfree(&g);
  return 0;
}

static double total_bytes(const sql_table *t) {
  double sum = 0;
  for (size_t i = 0; i < t->n_paths; i++) {
    struct stat st;
    if (stat(t->paths[i], &st) == 0)
      sum += (double)st.st_size;
  }
  return sum;
}

/* --- CSV inference ----------------------------------------------------------
 * Each column starts as "nothing seen" and widens as values arrive:
 * integer -> decimal -> text, date -> text.  Empty fields are NULLs and
 * widen nothing.  Decimals keep the most digits seen on each side. */
enum { CK_NONE, CK_INT, CK_DEC, CK_DATE, CK_TEXT };

typedef struct col_guess {
  int kind;
  int int_digits, scale;
  bool ranged;   /* lo/hi hold numbers (or days for dates) seen */
  double lo, hi;
} col_guess;

static int64_t civil_days(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

static void guess_field(col_guess *g, const char *f, size_t n, bool quoted) {
  if (n == 0 && !quoted)
    return;
  if (g->kind == CK_TEXT)
    return;
  int kind = CK_TEXT, idig = 0, sc = 0;
  if (!quoted) {
    size_t i = 0;
    if (n == 10 && f[4] == '-' && f[7] == '-' && isdigit((unsigned char)f[0]) &&
        isdigit((unsigned char)f[5]) && isdigit((unsigned char)f[8]) &&
        isdigit((unsigned char)f[9])) {
      kind = CK_DATE;
    } else {
      if (f[i] == '-')
        i++;
      size_t d0 = i;
      while (i < n && isdigit((unsigned char)f[i]))
        i++;
      idig = (int)(i - d0);
      if (i == n && idig > 0 && idig <= 18) {
        kind = CK_INT;
      } else if (i < n && f[i] == '.' && idig > 0) {
        size_t s0 = ++i;
        while (i < n && isdigit((unsigned char)f[i]))
          i++;
        sc = (int)(i - s0);
        if (i == n && sc > 0 && idig + sc <= 38)
          kind = CK_DEC;
      }
    }
  }
  if (g->kind == CK_NONE) {
    g->kind = kind;
  } else if (g->kind != kind) {
    if ((g->kind == CK_INT && kind == CK_DEC) ||
        (g->kind == CK_DEC && kind == CK_INT))
      g->kind = CK_DEC;
    else
      g->kind = CK_TEXT;
  }
  if (idig > g->int_digits)
    g->int_digits = idig;
  if (sc > g->scale)
    g->scale = sc;
  if (kind == CK_INT || kind == CK_DEC || kind == CK_DATE) {
    char num[64];
    size_t m = n < sizeof num - 1 ? n : sizeof num - 1;
    memcpy(num, f, m);
    num[m] = '\0';
    double v = kind == CK_DATE ? (double)civil_days(atoi(num), atoi(num + 5),
                                                    atoi(num + 8))
                               : strtod(num, NULL);
    if (!g->ranged || v < g->lo)
      g->lo = v;
    if (!g->ranged || v > g->hi)
      g->hi = v;
    g->ranged = true;
  }
}

/* Splits one record (RFC 4180) from p; returns the position after it.
 * Calls back per field with its unquoted bytes in buf. */
static const char *csv_record(const char *p, const char *end, char **fields,
                              size_t *lens, bool *quoted, size_t *n,
                              size_t cap, char *buf, size_t buf_len) {
  size_t used = 0;
  *n = 0;
  for (;;) {
    bool q = false;
    size_t start = used;
    if (p < end && *p == '"') {
      q = true;
      p++;
      while (p < end) {
        if (*p == '"') {
          if (p + 1 < end && p[1] == '"') {
            if (used < buf_len)
              buf[used++] = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        if (used < buf_len)
          buf[used++] = *p;
        p++;
      }
    }
    while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
      if (used < buf_len)
        buf[used++] = *p;
      p++;
    }
    if (*n < cap) {
      fields[*n] = buf + start;
      lens[*n] = used - start;
      quoted[*n] = q;
      (*n)++;
    }
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    if (p < end && *p == '\r')
      p++;
    if (p < end && *p == '\n')
      p++;
    return p;
  }
}

static int infer_csv(sql_table *t, dq_error *err) {
  const char *path = t->paths[0];
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return dq_error_set(err, DQ_EIO, "table %s: cannot open '%s': %s",
                        t->name, path, strerror(errno));
  size_t cap = 1 << 20;
  char *data = malloc(cap + 1);
  if (data == NULL) {
    fclose(f);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  size_t len = fread(data, 1, cap, f);
  fclose(f);
  data[len] = '\0';
  /* Drop a last, cut record. */
  const char *end = data + len;
  if (len == cap) {
    while (end > data && end[-1] != '\n')
      end--;
  }
  char *fields[CSV_MAX_COLUMNS];
  size_t lens[CSV_MAX_COLUMNS];
  bool quoted[CSV_MAX_COLUMNS];
  char *buf = malloc(cap);
  col_guess *g = calloc(CSV_MAX_COLUMNS, sizeof *g);
  char **names = calloc(CSV_MAX_COLUMNS, sizeof *names);
  int rc = 0;
  size_t n_cols = 0;
  if (buf == NULL || g == NULL || names == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    goto done;
  }
  const char *p = data;
  if (p >= end) {
    rc = dq_error_set(err, DQ_EINVAL,
                      "table %s: '%s' is empty: a CSV table needs a header "
                      "line naming its columns",
                      t->name, path);
    goto done;
  }
  p = csv_record(p, end, fields, lens, quoted, &n_cols, CSV_MAX_COLUMNS, buf,
                 cap);
  for (size_t i = 0; i < n_cols; i++) {
    if (lens[i] == 0) {
      rc = dq_error_set(err, DQ_EINVAL,
                        "table %s: '%s': header field %zu is empty", t->name,
                        path, i + 1);
      goto done;
    }
    names[i] = strndup(fields[i], lens[i]);
    if (names[i] == NULL) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
      goto done;
    }
    for (char *c = names[i]; *c; c++)
      *c = (char)tolower((unsigned char)*c);
  }
  size_t rows = 0;
  const char *body = p;
  while (p < end && rows < CSV_SAMPLE_ROWS) {
    size_t n;
    p = csv_record(p, end, fields, lens, quoted, &n, CSV_MAX_COLUMNS, buf,
                   cap);
    if (n == 1 && lens[0] == 0)
      continue; /* blank line */
    for (size_t i = 0; i < n && i < n_cols; i++)
      guess_field(&g[i], fields[i], lens[i], quoted[i]);
    rows++;
  }
  dq_type types[CSV_MAX_COLUMNS];
  bool nullable[CSV_MAX_COLUMNS];
  for (size_t i = 0; i < n_cols; i++) {
    nullable[i] = true;
    switch (g[i].kind) {
    case CK_INT:
      types[i] = (dq_type){DQ_TYPE_INT64, 0, 0};
      break;
    case CK_DEC: {
      /* TPC-H's decimal(15,2) when the sample fits it, so arithmetic keeps
       * headroom below 38 digits; else the widest. */
      int p15 = g[i].int_digits + g[i].scale <= 13 ? 15 : 38;
      types[i] = (dq_type){DQ_TYPE_DECIMAL, (uint8_t)p15, (int8_t)g[i].scale};
      break;
    }
    case CK_DATE:
      types[i] = (dq_type){DQ_TYPE_DATE32, 0, 0};
      break;
    default:
      types[i] = (dq_type){DQ_TYPE_UTF8, 0, 0};
    }
  }
  rc = dq_schema_new(n_cols, (const char *const *)names, types, nullable,
                     &t->schema, err);
  if (rc == 0 && (rc = alloc_ranges(t, err)) == 0)
    for (size_t i = 0; i < n_cols; i++) {
      /* Dates and numbers only: a column that mixed both is text. */
      t->ranged[i] = g[i].ranged && types[i].id != DQ_TYPE_UTF8;
      t->lo[i] = g[i].lo;
      t->hi[i] = g[i].hi;
    }
  if (rc == 0) {
    double sampled = (double)(p - body);
    double per_row = rows > 0 ? sampled / (double)rows : 100.0;
    t->rows = total_bytes(t) / (per_row > 1 ? per_row : 1);
  }
done:
  for (size_t i = 0; names != NULL && i < n_cols; i++)
    free(names[i]);
  free(names);
  free(g);
  free(buf);
  free(data);
  return rc;
}

/* --- Tables ---------------------------------------------------------------*/

int sql_table_make(dq_sql *s, const char *name, const char *kind,
                   const char *location, dq_schema *declared, bool header,
                   sql_table **out, dq_error *err) {
  *out = NULL;
  sql_table *t = calloc(1, sizeof *t);
  if (t == NULL || (t->name = strdup(name)) == NULL) {
    free(t);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  for (char *c = t->name; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  t->header = header;
  int rc = 0;
  if (strcasecmp(kind, "tpch") == 0) {
    t->kind = SQL_TABLE_TPCH;
    t->scale = s->tpch_scale;
    t->seed = s->tpch_seed;
    if ((t->tpch_table = strdup(location)) == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    else if (dq_tpch_table_rows(location, t->scale) < 0) {
      rc = dq_error_set(err, DQ_ENOENT,
                        "table %s: tpch:%s is not a TPC-H table (known: "
                        "lineitem, orders, customer, part, partsupp, "
                        "supplier, nation, region)",
                        t->name, location);
    } else {
      rc = dq_tpch_table_schema(location, &t->schema, err);
      t->rows = (double)dq_tpch_table_rows(location, t->scale);
      if (rc == 0)
        rc = alloc_ranges(t, err);
      int64_t units = dq_tpch_table_units(location, t->scale);
      dq_batch *sample = NULL;
      if (rc == 0 && units > 0 &&
          dq_tpch_table_generate(location, t->scale, t->seed, 0,
                                 units < 1000 ? units : 1000, &sample,
                                 err) == 0) {
        ranges_from_batch(t, sample);
        dq_batch_unref(sample);
      }
      dq_error_clear(err); /* no sample: no ranges, nothing worse */
    }
  } else if (strcasecmp(kind, "csv") == 0) {
    t->kind = SQL_TABLE_CSV;
    rc = expand_glob(t, location, err);
    if (rc == 0 && declared != NULL) {
      t->schema = dq_schema_ref(declared);
      t->rows = total_bytes(t) / 100.0;
    } else if (rc == 0) {
      if (!header)
        rc = dq_error_set(err, DQ_EINVAL,
                          "table %s: a CSV table without a header line needs "
                          "its columns declared",
                          t->name);
      else
        rc = infer_csv(t, err);
    }
  } else if (strcasecmp(kind, "arrow") == 0) {
    t->kind = SQL_TABLE_ARROW;
    rc = expand_glob(t, location, err);
    if (rc == 0) {
      /* The scan node reads the first file's schema: borrow it. */
      dq_plan_builder *b = NULL;
      rc = dq_plan_builder_new(&b, err);
      if (rc == 0) {
        dq_node *n = dq_node_scan_ipc(b, t->n_paths,
                                      (const char *const *)t->paths, NULL, 0);
        if (n == NULL)
          rc = dq_plan_builder_error(b, err);
        else
          t->schema = dq_schema_ref((dq_schema *)dq_node_schema(n));
        dq_plan_builder_free(b);
      }
      if (rc == 0 && declared != NULL && !dq_schema_equal(declared, t->schema))
        rc = dq_error_set(err, DQ_EINVAL,
                          "table %s: the declared columns differ from those "
                          "of '%s'",
                          t->name, t->paths[0]);
      /* Arrow IPC holds columns packed: ~40 bytes a row is typical. */
      t->rows = total_bytes(t) / 40.0;
    }
  } else {
    rc = dq_error_set(err, DQ_EINVAL,
                      "table %s: unknown format '%s' (known: csv, arrow, "
                      "tpch)",
                      t->name, kind);
  }
  if (rc < 0) {
    sql_table_free(t);
    return rc;
  }
  if (t->rows < 1)
    t->rows = 1;
  *out = t;
  return 0;
}

int dq_sql_add_table(dq_sql *s, const char *name, const char *spec,
                     dq_error *err) {
  const char *colon = strchr(spec, ':');
  if (colon == NULL || colon == spec || colon[1] == '\0')
    return dq_error_set(err, DQ_EINVAL,
                        "table %s: '%s' is not a table spec (expected "
                        "csv:GLOB, arrow:GLOB or tpch:TABLE)",
                        name, spec);
  if (name[0] == '\0')
    return dq_error_set(err, DQ_EINVAL, "a table needs a name");
  for (const char *c = name; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_')
      return dq_error_set(err, DQ_EINVAL,
                          "'%s' is not a table name (letters, digits, '_')",
                          name);
  char kind[16];
  size_t n = (size_t)(colon - spec);
  if (n >= sizeof kind)
    return dq_error_set(err, DQ_EINVAL,
                        "table %s: unknown format in '%s' (known: csv, "
                        "arrow, tpch)",
                        name, spec);
  memcpy(kind, spec, n);
  kind[n] = '\0';
  sql_table *t = NULL;
  int rc = sql_table_make(s, name, kind, colon + 1, NULL, true, &t, err);
  if (rc == 0 && (rc = sql_catalog_put(s, t, err)) < 0)
    sql_table_free(t);
  return rc;
}

int dq_sql_add_table_arg(dq_sql *s, const char *arg, dq_error *err) {
  const char *eq = strchr(arg, '=');
  if (eq == NULL || eq == arg)
    return dq_error_set(err, DQ_EINVAL,
                        "--table takes NAME=SPEC (e.g. "
                        "orders=csv:/data/orders/*.csv), not '%s'",
                        arg);
  char name[128];
  size_t n = (size_t)(eq - arg);
  if (n >= sizeof name)
    return dq_error_set(err, DQ_EINVAL, "table name too long in '%s'", arg);
  memcpy(name, arg, n);
  name[n] = '\0';
  return dq_sql_add_table(s, name, eq + 1, err);
}

int dq_sql_add_config_tables(dq_sql *s, const dq_config *cfg, dq_error *err) {
  if (dq_config_tpch_scale(cfg) > 0)
    s->tpch_scale = dq_config_tpch_scale(cfg);
  for (size_t i = 0; i < dq_config_n_tables(cfg); i++) {
    int rc = dq_sql_add_table(s, dq_config_table_name(cfg, i),
                              dq_config_table_spec(cfg, i), err);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* --- Type names -------------------------------------------------------------*/

static int typmod_int(const PgQuery__TypeName *t, size_t i, int def) {
  if (i >= t->n_typmods)
    return def;
  const PgQuery__Node *m = t->typmods[i];
  if (m->node_case == PG_QUERY__NODE__NODE_A_CONST &&
      m->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
    return m->a_const->ival->ival;
  return -1;
}

/* PostgreSQL's type names (the parser maps INT to pg_catalog.int4, ...). */
int sql_type_from_name(const PgQuery__TypeName *t, dq_type *out) {
  if (t == NULL || t->n_names == 0 || t->n_array_bounds > 0)
    return -1;
  const PgQuery__Node *last = t->names[t->n_names - 1];
  if (last->node_case != PG_QUERY__NODE__NODE_STRING)
    return -1;
  const char *n = last->string->sval;
  if (strcmp(n, "int4") == 0 || strcmp(n, "int2") == 0 ||
      strcmp(n, "integer") == 0)
    *out = (dq_type){DQ_TYPE_INT32, 0, 0};
  else if (strcmp(n, "int8") == 0 || strcmp(n, "bigint") == 0)
    *out = (dq_type){DQ_TYPE_INT64, 0, 0};
  else if (strcmp(n, "float8") == 0 || strcmp(n, "float4") == 0 ||
           strcmp(n, "double") == 0)
    *out = (dq_type){DQ_TYPE_FLOAT64, 0, 0};
  else if (strcmp(n, "bool") == 0 || strcmp(n, "boolean") == 0)
    *out = (dq_type){DQ_TYPE_BOOL, 0, 0};
  else if (strcmp(n, "date") == 0)
    *out = (dq_type){DQ_TYPE_DATE32, 0, 0};
  else if (strcmp(n, "text") == 0 || strcmp(n, "varchar") == 0 ||
           strcmp(n, "bpchar") == 0 || strcmp(n, "char") == 0)
    *out = (dq_type){DQ_TYPE_UTF8, 0, 0};
  else if (strcmp(n, "numeric") == 0 || strcmp(n, "decimal") == 0) {
    int p = typmod_int(t, 0, 38), sc = typmod_int(t, 1, 0);
    if (p < 1 || p > 38 || sc < 0 || sc > p)
      return -1;
    *out = (dq_type){DQ_TYPE_DECIMAL, (uint8_t)p, (int8_t)sc};
  } else
    return -1;
  return 0;
}
