/* peer_bench.c — dq against DuckDB, side by side in one run: each built-in
 * TPC-H query on the same tables at the same thread counts, the two
 * engines' runs interleaved (dq, DuckDB, dq, DuckDB, ...) so that the
 * machine's noise hits both, every answer compared.
 *
 * DuckDB is the npm package @duckdb/node-api (pinned in bench/peer/), run
 * by bench/peer/duckdb_peer.mjs in one node process that stays resident:
 * this program talks to it over a pipe, so node's start-up and the pipe
 * are not timed (DuckDB's time is measured inside node, around running the
 * statement and reading its rows).  Its tables are the CSV files of
 * `dq gen --format csv` at the same scale and seed, loaded into DuckDB's
 * memory before any timing; dq's are the same rows generated and kept in
 * memory (dq_tpch_materialize_plan), also before any timing.
 *
 * Same threads:
 *   1 thread   dq_plan_run_local on the single-node plan (what
 *              `dq run --local --materialize` runs) against DuckDB with
 *              `SET threads = 1`;
 *   T threads  T inmem workers in this process running the distributed
 *              plan (T tasks, one partition each: `dq run --workers T`)
 *              against `SET threads = T`.
 *
 * Every run's answer (dq's and DuckDB's) is turned into text and compared
 * row by row: strings exactly, numbers to 1e-9 relative or, when one is a
 * decimal with fewer places, to half a unit of its last place (DuckDB's avg
 * and division are doubles where dq's avg is a decimal at scale 6).  A query
 * whose answers differ is reported and makes the program fail: a time for
 * a wrong answer is never printed.  The DuckDB SQL of each query is
 * bench/peer/queries/QUERY.sql, written from the specification with the
 * validation parameters libdq's built-in plans use.
 *
 *   peer_bench --data DIR --peer-dir DIR --sql-dir DIR [--node PROG]
 *              [--scale S] [--seed N] [--runs N] [--rounds N] [--warmup N]
 *              [--threads 1,2] [--queries q1,q6] [--json FILE]
 *
 * --rounds R repeats the whole set R times (each round every query, in
 * turn) and summarizes each query by the median of the rounds' dq/DuckDB
 * ratios, with their spread.
 *
 * --data holds TABLE.csv for the eight tables (`dq gen --format csv`);
 * --peer-dir holds duckdb_peer.mjs and its node_modules.  `make bench-peer`
 * sets all of that up. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/tpch.h>

#include "bench_util.h"

#define MAX_RUNS 64
#define MAX_THREADS 8
#define MAX_ROUNDS 9

/* --- growable text ------------------------------------------------------------*/

typedef struct text {
  char *s;
  size_t n, cap;
  int64_t rows;
  int oom;
} text;

static void text_put(text *t, const char *s, size_t n) {
  if (t->oom)
    return;
  if (t->n + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->n + n + 1)
      cap *= 2;
    char *p = realloc(t->s, cap);
    if (p == NULL) {
      t->oom = 1;
      return;
    }
    t->s = p;
    t->cap = cap;
  }
  memcpy(t->s + t->n, s, n);
  t->n += n;
  t->s[t->n] = '\0';
}

static void text_str(text *t, const char *s) { text_put(t, s, strlen(s)); }

static void text_clear(text *t) {
  t->n = 0;
  t->rows = 0;
  t->oom = 0;
  if (t->s != NULL)
    t->s[0] = '\0';
}

/* --- dq's answer as text, in duckdb_peer.mjs's format -------------------------*/

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

static void put_decimal(text *t, dq_decimal v, int scale) {
  __int128 x = (__int128)(((unsigned __int128)(uint64_t)v.hi << 64) | v.lo);
  unsigned __int128 u = x < 0 ? -(unsigned __int128)x : (unsigned __int128)x;
  char digits[64], out[72];
  int n = 0;
  size_t o = 0;
  do {
    digits[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u != 0 || n <= scale);
  if (x < 0)
    out[o++] = '-';
  for (int i = n - 1; i >= 0; i--) {
    out[o++] = digits[i];
    if (i == scale && scale > 0)
      out[o++] = '.';
  }
  text_put(t, out, o);
}

static void put_value(text *t, const dq_array *a, int64_t i) {
  char buf[64];
  if (dq_array_is_null(a, i)) {
    text_str(t, "NULL");
    return;
  }
  dq_type ty = dq_array_type(a);
  switch (ty.id) {
  case DQ_TYPE_BOOL:
    text_str(t, dq_array_bool(a, i) ? "true" : "false");
    break;
  case DQ_TYPE_INT32:
    snprintf(buf, sizeof buf, "%d", dq_array_int32(a, i));
    text_str(t, buf);
    break;
  case DQ_TYPE_INT64:
    snprintf(buf, sizeof buf, "%lld", (long long)dq_array_int64(a, i));
    text_str(t, buf);
    break;
  case DQ_TYPE_FLOAT64:
    snprintf(buf, sizeof buf, "%.17g", dq_array_float64(a, i));
    text_str(t, buf);
    break;
  case DQ_TYPE_DATE32: {
    int y;
    unsigned m, d;
    civil(dq_array_date32(a, i), &y, &m, &d);
    snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
    text_str(t, buf);
    break;
  }
  case DQ_TYPE_DECIMAL:
    put_decimal(t, dq_array_decimal(a, i), ty.scale);
    break;
  case DQ_TYPE_UTF8: {
    size_t n;
    const char *s = dq_array_utf8(a, i, &n);
    for (size_t k = 0; k < n; k++) {
      const char *esc = s[k] == '\t'   ? "\\t"
                        : s[k] == '\n' ? "\\n"
                        : s[k] == '\\' ? "\\\\"
                                       : NULL;
      if (esc != NULL)
        text_str(t, esc);
      else
        text_put(t, &s[k], 1);
    }
    break;
  }
  default:
    text_str(t, "?");
    break;
  }
}

static int add_batch(void *ctx, const dq_batch *b, dq_error *err) {
  text *t = ctx;
  size_t nc = dq_batch_n_columns(b);
  for (int64_t i = 0; i < dq_batch_n_rows(b); i++) {
    for (size_t c = 0; c < nc; c++) {
      if (c > 0)
        text_put(t, "\t", 1);
      put_value(t, dq_batch_column(b, c), i);
    }
    text_put(t, "\n", 1);
  }
  t->rows += dq_batch_n_rows(b);
  return t->oom ? dq_error_set(err, DQ_ENOMEM, "out of memory") : 0;
}

/* --- comparing answers ----------------------------------------------------------*/

static int field_equal(const char *a, size_t na, const char *b, size_t nb) {
  if (na == nb && memcmp(a, b, na) == 0)
    return 1;
  char x[128], y[128];
  if (na == 0 || nb == 0 || na >= sizeof x || nb >= sizeof y)
    return 0;
  memcpy(x, a, na);
  x[na] = '\0';
  memcpy(y, b, nb);
  y[nb] = '\0';
  char *ex, *ey;
  errno = 0;
  double dx = strtod(x, &ex), dy = strtod(y, &ey);
  if (*ex != '\0' || *ey != '\0' || errno != 0)
    return 0;
  double tol = 1e-9 * fmax(fabs(dx), fabs(dy));
  /* A decimal answer (dq's avg is a decimal at scale 6, DuckDB's a double)
   * is the exact value rounded at its scale: half a unit of the shorter
   * side's last place. */
  const char *dot_x = strchr(x, '.'), *dot_y = strchr(y, '.');
  if (dot_x != NULL && dot_y != NULL && strpbrk(x, "eE") == NULL &&
      strpbrk(y, "eE") == NULL) {
    size_t fx = strlen(dot_x + 1), fy = strlen(dot_y + 1);
    tol = fmax(tol, 0.5 * pow(10, -(double)(fx < fy ? fx : fy)) * (1 + 1e-9));
  }
  return fabs(dx - dy) <= tol;
}

/* 1 when the two answers agree; otherwise 0 and the first difference in
 * why[]. */
static int answers_agree(const text *a, const text *b, char *why,
                         size_t why_len) {
  if (a->rows != b->rows) {
    snprintf(why, why_len, "dq gave %lld rows, DuckDB %lld",
             (long long)a->rows, (long long)b->rows);
    return 0;
  }
  const char *p = a->s ? a->s : "", *q = b->s ? b->s : "";
  for (int64_t row = 0; *p || *q; row++) {
    size_t lp = strcspn(p, "\n"), lq = strcspn(q, "\n");
    const char *fp = p, *fq = q;
    int col = 0, ok = 1;
    while (ok) {
      size_t np = strcspn(fp, "\t\n"), nq = strcspn(fq, "\t\n");
      ok = field_equal(fp, np, fq, nq);
      int endp = fp[np] != '\t', endq = fq[nq] != '\t';
      if (ok && endp != endq)
        ok = 0;
      if (!ok || endp)
        break;
      fp += np + 1;
      fq += nq + 1;
      col++;
    }
    if (!ok) {
      snprintf(why, why_len, "row %lld, column %d: dq \"%.*s\", DuckDB \"%.*s\"",
               (long long)row + 1, col + 1, (int)(lp > 300 ? 300 : lp), p,
               (int)(lq > 300 ? 300 : lq), q);
      return 0;
    }
    p += lp + (p[lp] == '\n');
    q += lq + (q[lq] == '\n');
  }
  return 1;
}

/* --- the DuckDB peer --------------------------------------------------------------*/

typedef struct peer {
  pid_t pid;
  int to;     /* its stdin */
  FILE *from; /* its stdout */
} peer;

static int peer_start(peer *p, const char *node, const char *script) {
  int in[2], out[2];
  memset(p, 0, sizeof *p);
  if (pipe(in) != 0 || pipe(out) != 0) {
    fprintf(stderr, "pipe: %s\n", strerror(errno));
    return -1;
  }
  p->pid = fork();
  if (p->pid < 0) {
    fprintf(stderr, "fork: %s\n", strerror(errno));
    return -1;
  }
  if (p->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execlp(node, node, script, (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", node, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->to = in[1];
  p->from = fdopen(out[0], "r");
  return p->from != NULL ? 0 : -1;
}

static void peer_stop(peer *p) {
  if (p->pid <= 0)
    return;
  close(p->to);
  if (p->from != NULL)
    fclose(p->from);
  int st;
  waitpid(p->pid, &st, 0);
  p->pid = 0;
}

static int write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Sends one request; on "ok" fills *seconds and (for a query) the rows as
 * text, else copies the peer's message to why[]. */
static int peer_call(peer *p, const char *op, const char *sql, double *seconds,
                     text *rows, char *why, size_t why_len) {
  char head[64];
  int hn = snprintf(head, sizeof head, "%s %zu\n", op, strlen(sql));
  if (write_all(p->to, head, (size_t)hn) < 0 ||
      write_all(p->to, sql, strlen(sql)) < 0) {
    snprintf(why, why_len, "the DuckDB peer is gone (write failed)");
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, p->from);
  if (n <= 0) {
    free(line);
    snprintf(why, why_len, "the DuckDB peer exited without an answer");
    return -1;
  }
  double s;
  long long nrows;
  if (strncmp(line, "ok ", 3) != 0 ||
      sscanf(line + 3, "%lf %lld", &s, &nrows) != 2) {
    line[strcspn(line, "\n")] = '\0';
    snprintf(why, why_len, "DuckDB: %s",
             strncmp(line, "error ", 6) == 0 ? line + 6 : line);
    free(line);
    return -1;
  }
  *seconds = s;
  if (rows != NULL)
    text_clear(rows);
  for (long long i = 0; i < nrows; i++) {
    n = getline(&line, &cap, p->from);
    if (n <= 0) {
      free(line);
      snprintf(why, why_len, "the DuckDB peer stopped in mid-answer");
      return -1;
    }
    if (rows != NULL)
      text_put(rows, line, (size_t)n);
  }
  if (rows != NULL)
    rows->rows = nrows;
  free(line);
  return 0;
}

/* DuckDB's type for a dq column type of the generator's tables. */
static int duck_type(dq_type t, char *buf, size_t len) {
  switch (t.id) {
  case DQ_TYPE_INT32: snprintf(buf, len, "INTEGER"); return 0;
  case DQ_TYPE_INT64: snprintf(buf, len, "BIGINT"); return 0;
  case DQ_TYPE_DATE32: snprintf(buf, len, "DATE"); return 0;
  case DQ_TYPE_UTF8: snprintf(buf, len, "VARCHAR"); return 0;
  case DQ_TYPE_DECIMAL:
    snprintf(buf, len, "DECIMAL(%d,%d)", t.precision, t.scale);
    return 0;
  default: return -1;
  }
}

/* Each table of the generator: CREATE TABLE with dq's column types, then
 * COPY from DIR/TABLE.csv. */
static int peer_load(peer *p, const char *dir, double *seconds) {
  double t0 = bench_now();
  for (const char *const *tn = dq_tpch_table_names(); *tn != NULL; tn++) {
    char path[4096], why[1024];
    snprintf(path, sizeof path, "%s/%s.csv", dir, *tn);
    struct stat st;
    if (stat(path, &st) != 0) {
      fprintf(stderr, "peer_bench: %s: %s (make it with dq gen --format csv)\n",
              path, strerror(errno));
      return -1;
    }
    if (strchr(path, '\'') != NULL) {
      fprintf(stderr, "peer_bench: a data path with a quote is not supported: "
                      "%s\n", path);
      return -1;
    }
    dq_schema *s;
    dq_error err;
    if (dq_tpch_table_schema(*tn, &s, &err) < 0) {
      fprintf(stderr, "peer_bench: %s\n", err.message);
      return -1;
    }
    text sql = {0};
    text_str(&sql, "CREATE OR REPLACE TABLE ");
    text_str(&sql, *tn);
    text_str(&sql, " (");
    int rc = 0;
    for (size_t i = 0; i < dq_schema_n_fields(s); i++) {
      char ty[64];
      if (duck_type(dq_schema_field_type(s, i), ty, sizeof ty) < 0)
        rc = -1;
      text_str(&sql, i ? ", " : "");
      text_str(&sql, dq_schema_field_name(s, i));
      text_str(&sql, " ");
      text_str(&sql, ty);
      text_str(&sql, dq_schema_field_nullable(s, i) ? "" : " NOT NULL");
    }
    text_str(&sql, ")");
    dq_schema_unref(s);
    double t;
    if (rc < 0 || sql.oom) {
      fprintf(stderr, "peer_bench: %s: a column type DuckDB is not given\n",
              *tn);
      free(sql.s);
      return -1;
    }
    rc = peer_call(p, "exec", sql.s, &t, NULL, why, sizeof why);
    text_clear(&sql);
    text_str(&sql, "COPY ");
    text_str(&sql, *tn);
    text_str(&sql, " FROM '");
    text_str(&sql, path);
    text_str(&sql, "' (HEADER true)");
    if (rc == 0)
      rc = peer_call(p, "exec", sql.s, &t, NULL, why, sizeof why);
    free(sql.s);
    if (rc < 0) {
      fprintf(stderr, "peer_bench: loading %s: %s\n", *tn, why);
      return -1;
    }
  }
  *seconds = bench_now() - t0;
  return 0;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  text t = {0};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    text_put(&t, buf, n);
  fclose(f);
  if (t.oom) {
    free(t.s);
    return NULL;
  }
  return t.s != NULL ? t.s : strdup("");
}

/* --- dq's runs ------------------------------------------------------------------*/

typedef struct dq_side {
  dq_config *cfg;
  dq_context *ctx; /* inmem */
  dq_worker *w[MAX_THREADS];
  const char *urls[MAX_THREADS];
  uint32_t n_workers;
} dq_side;

static int run_dq(dq_side *d, const dq_plan *single, const dq_plan *dist,
                  text *out, dq_error *err) {
  text_clear(out);
  if (dist == NULL)
    return dq_plan_run_local(single, add_batch, out, err);
  dq_query *q;
  int rc = dq_query_start(d->ctx, dist, d->urls, d->n_workers, &q, err);
  if (rc < 0)
    return rc;
  for (;;) {
    dq_batch *b;
    rc = dq_query_next(q, &b, err);
    if (rc < 0 || b == NULL)
      break;
    rc = add_batch(out, b, err);
    dq_batch_unref(b);
    if (rc < 0)
      break;
  }
  dq_query_close(q);
  return rc;
}

static void stop_workers(dq_side *d) {
  for (uint32_t i = 0; i < d->n_workers; i++)
    dq_worker_stop(d->w[i]);
  d->n_workers = 0;
}

static int start_workers(dq_side *d, uint32_t n, dq_error *err) {
  for (uint32_t i = 0; i < n; i++) {
    int rc = dq_worker_start(d->ctx, "inmem://", &d->w[i], err);
    if (rc < 0) {
      stop_workers(d);
      return rc;
    }
    d->urls[i] = dq_worker_url(d->w[i]);
    d->n_workers = i + 1;
  }
  return 0;
}

/* --- main ------------------------------------------------------------------------*/

typedef struct opts {
  const char *data, *peer_dir, *sql_dir, *node, *queries, *json;
  double scale;
  uint64_t seed;
  int runs, warmup, rounds;
  uint32_t threads[MAX_THREADS];
  size_t n_threads;
} opts;

static int in_list(const char *list, const char *name) {
  if (list == NULL)
    return 1;
  size_t nl = strlen(name);
  for (const char *p = list; *p;) {
    size_t l = strcspn(p, ",");
    if (l == nl && strncmp(p, name, nl) == 0)
      return 1;
    p += l + (p[l] == ',');
  }
  return 0;
}

typedef struct figures {
  double min, med, max;
} figures;

static figures summarize(double *v, int n) {
  figures f = {v[0], 0, v[0]};
  for (int i = 1; i < n; i++) {
    f.min = fmin(f.min, v[i]);
    f.max = fmax(f.max, v[i]);
  }
  f.med = bench_median(v, (size_t)n);
  return f;
}

/* ratios[round][q][t]: dq/DuckDB medians, 0 when not measured. */
static double ratios[MAX_ROUNDS][16][MAX_THREADS];

static int bench_one(const opts *o, int round, size_t qi, const char *qname,
                     peer *p, dq_side *d, bench_json *j) {
  char path[4096], why[1024];
  snprintf(path, sizeof path, "%s/%s.sql", o->sql_dir, qname);
  char *sql = read_file(path);
  if (sql == NULL) {
    fprintf(stderr, "peer_bench: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  dq_error err;
  dq_plan *single = NULL;
  int rc = dq_tpch_query_plan(qname, o->scale, o->seed, 0, 0, &single, &err);
  size_t kept = 0;
  if (rc == 0)
    rc = dq_tpch_materialize_plan(single, &kept, &err);
  if (rc < 0) {
    fprintf(stderr, "peer_bench: %s: %s\n", qname, err.message);
    dq_plan_free(single);
    free(sql);
    return -1;
  }
  text a = {0}, b = {0};
  for (size_t ti = 0; rc == 0 && ti < o->n_threads; ti++) {
    uint32_t T = o->threads[ti];
    dq_plan *dist = NULL;
    char set[64];
    double ignored;
    snprintf(set, sizeof set, "SET threads = %u", T);
    if (peer_call(p, "exec", set, &ignored, NULL, why, sizeof why) < 0) {
      fprintf(stderr, "peer_bench: %s\n", why);
      rc = -1;
      break;
    }
    if (T > 1) {
      rc = dq_tpch_query_plan(qname, o->scale, o->seed, T, 1, &dist, &err);
      if (rc == 0)
        rc = start_workers(d, T, &err);
      if (rc < 0) {
        fprintf(stderr, "peer_bench: %s on %u workers: %s\n", qname, T,
                err.message);
        dq_plan_free(dist);
        break;
      }
    }
    double vd[MAX_RUNS], vk[MAX_RUNS];
    for (int k = -o->warmup; rc == 0 && k < o->runs; k++) {
      double t0 = bench_now();
      rc = run_dq(d, single, dist, &a, &err);
      double t_dq = bench_now() - t0;
      if (rc < 0) {
        fprintf(stderr, "peer_bench: %s, dq on %u thread(s): %s\n", qname, T,
                err.message);
        break;
      }
      double t_duck;
      if ((rc = peer_call(p, "query", sql, &t_duck, &b, why, sizeof why)) < 0) {
        fprintf(stderr, "peer_bench: %s on %u thread(s): %s\n", qname, T, why);
        break;
      }
      if (!answers_agree(&a, &b, why, sizeof why)) {
        fprintf(stderr, "peer_bench: %s on %u thread(s): the answers differ: "
                        "%s\n--- dq\n%s--- DuckDB\n%s",
                qname, T, why, a.s ? a.s : "", b.s ? b.s : "");
        rc = -1;
        break;
      }
      if (k >= 0) {
        vd[k] = t_dq;
        vk[k] = t_duck;
      }
    }
    stop_workers(d);
    dq_plan_free(dist);
    if (rc < 0)
      break;
    figures fd = summarize(vd, o->runs), fk = summarize(vk, o->runs);
    ratios[round][qi][ti] = fd.med / fk.med;
    printf("| %s | %u | %.4f / **%.4f** / %.4f | %.4f / **%.4f** / %.4f | "
           "**%.2f** | %lld |\n",
           qname, T, fd.min, fd.med, fd.max, fk.min, fk.med, fk.max,
           ratios[round][qi][ti], (long long)a.rows);
    fflush(stdout);
    bench_json_begin_object(j, NULL);
    bench_json_str(j, "query", qname);
    bench_json_int(j, "threads", T);
    bench_json_num(j, "dq_min_s", fd.min);
    bench_json_num(j, "dq_median_s", fd.med);
    bench_json_num(j, "dq_max_s", fd.max);
    bench_json_num(j, "duckdb_min_s", fk.min);
    bench_json_num(j, "duckdb_median_s", fk.med);
    bench_json_num(j, "duckdb_max_s", fk.max);
    bench_json_int(j, "round", round + 1);
    bench_json_num(j, "ratio", ratios[round][qi][ti]);
    bench_json_int(j, "rows", a.rows);
    bench_json_end_object(j);
  }
  free(a.s);
  free(b.s);
  free(sql);
  dq_plan_free(single);
  return rc;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --data DIR --peer-dir DIR --sql-dir DIR [--node PROG] "
          "[--scale S] [--seed N] [--runs N] [--rounds N] [--warmup N] "
          "[--threads 1,2] "
          "[--queries q1,q6] [--json FILE]\n",
          argv0);
}

int main(int argc, char **argv) {
  opts o = {NULL, NULL, NULL, "node", NULL, NULL, 1.0, 0, 5, 1, 1, {1, 2}, 2};
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = bench_opt(argc, argv, &i, "--data")) != NULL)
      o.data = v;
    else if ((v = bench_opt(argc, argv, &i, "--peer-dir")) != NULL)
      o.peer_dir = v;
    else if ((v = bench_opt(argc, argv, &i, "--sql-dir")) != NULL)
      o.sql_dir = v;
    else if ((v = bench_opt(argc, argv, &i, "--node")) != NULL)
      o.node = v;
    else if ((v = bench_opt(argc, argv, &i, "--queries")) != NULL)
      o.queries = v;
    else if ((v = bench_opt(argc, argv, &i, "--json")) != NULL)
      o.json = v;
    else if ((v = bench_opt(argc, argv, &i, "--scale")) != NULL)
      o.scale = atof(v);
    else if ((v = bench_opt(argc, argv, &i, "--seed")) != NULL)
      o.seed = strtoull(v, NULL, 10);
    else if ((v = bench_opt(argc, argv, &i, "--runs")) != NULL)
      o.runs = atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--warmup")) != NULL)
      o.warmup = atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--rounds")) != NULL)
      o.rounds = atoi(v);
    else if ((v = bench_opt(argc, argv, &i, "--threads")) != NULL) {
      o.n_threads = 0;
      for (const char *p = v; *p;) {
        int t = atoi(p);
        if (t < 1 || t > MAX_THREADS || o.n_threads == MAX_THREADS) {
          fprintf(stderr, "peer_bench: --threads takes counts from 1 to %d\n",
                  MAX_THREADS);
          return 2;
        }
        o.threads[o.n_threads++] = (uint32_t)t;
        p += strcspn(p, ",");
        p += *p == ',';
      }
    } else {
      usage(argv[0]);
      return 2;
    }
  }
  if (o.data == NULL || o.peer_dir == NULL || o.sql_dir == NULL ||
      o.n_threads == 0) {
    usage(argv[0]);
    return 2;
  }
  if (o.runs < 1 || o.runs > MAX_RUNS || o.warmup < 0 || o.scale <= 0 ||
      o.rounds < 1 || o.rounds > MAX_ROUNDS) {
    fprintf(stderr, "peer_bench: --runs takes 1 to %d, --rounds 1 to %d, "
                    "--warmup 0 or more, --scale a positive number\n",
            MAX_RUNS, MAX_ROUNDS);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  dq_side d;
  memset(&d, 0, sizeof d);
  dq_error err;
  if (dq_config_parse("", "peer_bench", &d.cfg, &err) < 0 ||
      dq_config_set_transport(d.cfg, "inmem", &err) < 0 ||
      dq_context_new(d.cfg, &d.ctx, &err) < 0) {
    fprintf(stderr, "peer_bench: the inmem transport: %s\n", err.message);
    return 1;
  }
  char script[4096];
  snprintf(script, sizeof script, "%s/duckdb_peer.mjs", o.peer_dir);
  peer p;
  if (peer_start(&p, o.node, script) < 0)
    return 1;
  double t_load;
  if (peer_load(&p, o.data, &t_load) < 0) {
    peer_stop(&p);
    return 1;
  }
  bench_json j;
  if (bench_json_open(&j, o.json) < 0)
    return 1;
  bench_json_begin_object(&j, NULL);
  bench_json_str(&j, "program", "peer_bench");
  bench_machine(&j, stdout);
  bench_json_num(&j, "scale", o.scale);
  bench_json_int(&j, "runs", o.runs);
  bench_json_int(&j, "rounds", o.rounds);
  bench_json_num(&j, "duckdb_load_s", t_load);
  printf("DuckDB (@duckdb/node-api, resident node process) loaded the eight "
         "tables from %s in %.1f s.\n"
         "TPC-H SF %g, seed %llu; per query and thread count %d runs of each "
         "engine, interleaved, after %d untimed; every answer compared.\n"
         "1 thread: dq_plan_run_local (dq run --local) vs DuckDB threads=1; "
         "T threads: T inmem workers vs DuckDB threads=T.\n\n",
         o.data, t_load, o.scale, (unsigned long long)o.seed, o.runs,
         o.warmup);
  bench_json_begin_array(&j, "queries");
  int failed = 0;
  size_t nq = 0;
  const char *names[16];
  for (const char *const *q = dq_tpch_query_names(); *q != NULL && nq < 16;
       q++)
    if (in_list(o.queries, *q))
      names[nq++] = *q;
  /* Rounds outermost: each is every query once, so a round's ratios come
   * from one stretch of time and the rounds from different ones. */
  for (int r = 0; r < o.rounds; r++) {
    if (o.rounds > 1)
      printf("Round %d of %d.\n\n", r + 1, o.rounds);
    printf("| query | threads | dq s min / median / max | DuckDB s min / "
           "median / max | dq/DuckDB | rows |\n|---|---:|---|---|---:|---:|\n");
    fflush(stdout);
    for (size_t q = 0; q < nq; q++)
      if (bench_one(&o, r, q, names[q], &p, &d, &j) < 0)
        failed = 1;
    printf("\n");
  }
  bench_json_end_array(&j);
  /* The summary: per query and threads the median over the rounds of
   * dq/DuckDB (the rounds' spread in brackets), and the geometric mean of
   * those medians. */
  if (o.rounds > 1)
    printf("dq/DuckDB, median of the %d rounds' medians (their spread):\n\n",
           o.rounds);
  printf("| query |");
  for (size_t t = 0; t < o.n_threads; t++)
    printf(" %u thread%s |", o.threads[t], o.threads[t] > 1 ? "s" : "");
  printf("\n|---|");
  for (size_t t = 0; t < o.n_threads; t++)
    printf("---|");
  printf("\n");
  double med[16][MAX_THREADS];
  for (size_t q = 0; q < nq; q++) {
    printf("| %s |", names[q]);
    for (size_t t = 0; t < o.n_threads; t++) {
      double v[MAX_ROUNDS];
      int ok = 1;
      for (int r = 0; r < o.rounds; r++)
        ok &= (v[r] = ratios[r][q][t]) > 0;
      med[q][t] = 0;
      if (!ok) {
        printf(" failed |");
        continue;
      }
      figures f = summarize(v, o.rounds);
      med[q][t] = f.med;
      if (o.rounds > 1)
        printf(" %.2f (%.2f–%.2f) |", f.med, f.min, f.max);
      else
        printf(" %.2f |", f.med);
    }
    printf("\n");
  }
  printf("| geometric mean |");
  bench_json_begin_array(&j, "geomean");
  for (size_t t = 0; t < o.n_threads; t++) {
    double s = 0;
    int n = 0;
    for (size_t q = 0; q < nq; q++)
      if (med[q][t] > 0) {
        s += log(med[q][t]);
        n++;
      }
    printf(n ? " %.2f |" : " |", exp(s / (n ? n : 1)));
    bench_json_num(&j, NULL, n ? exp(s / n) : 0);
  }
  printf("\n");
  bench_json_end_array(&j);
  bench_json_end_object(&j);
  bench_json_close(&j);
  peer_stop(&p);
  dq_tpch_release(NULL, 0, 0);
  dq_context_free(d.ctx);
  dq_config_free(d.cfg);
  return failed;
}
