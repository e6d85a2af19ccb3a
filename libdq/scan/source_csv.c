/* source_csv.c — source "csv": CSV files with a declared schema.  Its
 * parameters, cutting files into byte ranges (the coordinator, once for
 * every task of a stage, or a task for itself when no coordinator sent
 * units), those ranges as CsvSplit work units, and picking a pipeline's
 * share.  See csv.h for the assignment rule and csv_parse.c for how a
 * range is read (the Hadoop rule: a range owns the records that start in
 * it, so every record is read exactly once however the bytes are cut). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source.pb-c.h"
#include "scan/csv.h"
#include "scan/file_policy.h"
#include "scan/source_csv.h"

static void csv_free(void *state) {
  dq_csv_params *p = state;
  if (p == NULL)
    return;
  for (size_t i = 0; p->paths != NULL && i < p->n_paths; i++)
    free(p->paths[i]);
  free(p->paths);
  dq_schema_unref(p->schema);
  free(p);
}

int dq_source_csv_new(const char *const *paths, size_t n_paths,
                      const dq_schema *schema, const dq_csv_options *opts,
                      void **out, dq_error *err) {
  *out = NULL;
  if (paths == NULL || n_paths == 0)
    return dq_error_set(err, DQ_EINVAL, "a CSV scan needs at least one "
                        "file");
  for (size_t i = 0; i < n_paths; i++)
    if (paths[i] == NULL || paths[i][0] == '\0')
      return dq_error_set(err, DQ_EINVAL, "CSV scan: file %zu has no path",
                          i);
  if (schema == NULL || dq_schema_n_fields(schema) == 0)
    return dq_error_set(err, DQ_EINVAL, "a CSV scan needs a declared schema "
                        "with at least one column");
  dq_csv_options o = {false, 0, 0};
  if (opts != NULL)
    o = *opts;
  /* A pipeline's read buffer holds the longest record: keep it sane. */
  if (o.split_bytes < 0 || o.max_line_bytes < 0 ||
      o.max_line_bytes > ((int64_t)1 << 30))
    return dq_error_set(err, DQ_EINVAL, "CSV scan: split_bytes must not be "
                        "negative and max_line_bytes must be in [0, 1 GiB]");
  dq_csv_params *p = calloc(1, sizeof *p);
  if (p == NULL || (p->paths = calloc(n_paths, sizeof *p->paths)) == NULL) {
    free(p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
  }
  p->n_paths = n_paths;
  p->schema = dq_schema_ref((dq_schema *)schema);
  p->header = o.header;
  p->split_bytes = o.split_bytes ? o.split_bytes : (int64_t)8 << 20;
  p->max_line = o.max_line_bytes ? o.max_line_bytes : (int64_t)1 << 20;
  for (size_t i = 0; i < n_paths; i++)
    if ((p->paths[i] = strdup(paths[i])) == NULL) {
      csv_free(p);
      return dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
    }
  *out = p;
  return 0;
}

static int csv_encode(const void *state, uint8_t **buf, size_t *len,
                      dq_error *err) {
  const dq_csv_params *p = state;
  Dq__V1__ScanCsv m = DQ__V1__SCAN_CSV__INIT;
  m.paths = p->paths;
  m.n_paths = p->n_paths;
  m.header = p->header;
  m.split_bytes = (uint64_t)p->split_bytes;
  m.max_line_bytes = (uint64_t)p->max_line;
  uint8_t *sb = NULL;
  size_t sl = 0;
  int rc = dq_source_schema_encode(p->schema, &sb, &sl, err);
  if (rc != 0)
    return rc;
  m.schema.data = sb;
  m.schema.len = sl;
  *len = dq__v1__scan_csv__get_packed_size(&m);
  if ((*buf = malloc(*len ? *len : 1)) == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory encoding a scan");
  else
    dq__v1__scan_csv__pack(&m, *buf);
  free(sb);
  return rc;
}

static int csv_decode(const uint8_t *buf, size_t len, void **state,
                      dq_error *err) {
  Dq__V1__ScanCsv *m = dq__v1__scan_csv__unpack(NULL, len, buf);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "a CSV scan's parameters are not a "
                        "dq.v1.ScanCsv message");
  int rc = 0;
  dq_schema *schema = NULL;
  if (m->schema.len == 0)
    rc = dq_error_set(err, DQ_EINVAL, "a CSV scan has no schema");
  else if (m->split_bytes > INT64_MAX || m->max_line_bytes > INT64_MAX)
    rc = dq_error_set(err, DQ_EINVAL, "a CSV scan has a split or line size "
                      "out of range");
  else
    rc = dq_source_schema_decode(m->schema.data, m->schema.len, &schema,
                                 err);
  if (rc == 0) {
    dq_csv_options o = {m->header, (int64_t)m->split_bytes,
                        (int64_t)m->max_line_bytes};
    rc = dq_source_csv_new((const char *const *)m->paths, m->n_paths, schema,
                           &o, state, err);
  }
  dq_schema_unref(schema);
  dq__v1__scan_csv__free_unpacked(m, NULL);
  return rc;
}

static const dq_schema *csv_schema(const void *state) {
  return ((const dq_csv_params *)state)->schema;
}

static void csv_describe(const void *state, char *buf, size_t len) {
  snprintf(buf, len, "CSV file %s", ((const dq_csv_params *)state)->paths[0]);
}

/* The declared columns with their types (a CSV scan reads them all). */
static size_t csv_explain(const void *state, const dq_source_projection *pr,
                          char *buf, size_t len) {
  const dq_csv_params *p = state;
  size_t n = (size_t)snprintf(
      buf, len, "ScanCsv %zu file%s (%s%s)%s split=%" PRId64 " [",
      p->n_paths, p->n_paths == 1 ? "" : "s", p->paths[0],
      p->n_paths > 1 ? ", ..." : "", p->header ? " header" : "",
      p->split_bytes);
  for (size_t i = 0; i < pr->n_columns; i++) {
    char tb[32];
    n += (size_t)snprintf(
        n < len ? buf + n : NULL, n < len ? len - n : 0, "%s%s %s",
        i ? ", " : "", pr->names[i],
        dq_type_format(dq_schema_field_type(pr->schema, i), tb, sizeof tb));
  }
  n += (size_t)snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
                        "]");
  return n;
}

static double csv_row_estimate(const void *state) {
  const dq_csv_params *p = state;
  return dq_source_file_rows(p->paths, p->n_paths);
}

int dq_csv_split_files(const dq_csv_params *p, dq_csv_range **out,
                       size_t *n_out, dq_error *err) {
  *out = NULL;
  *n_out = 0;
  int64_t step = p->split_bytes > 0 ? p->split_bytes : 8 << 20;
  size_t count = 0, cap = 0;
  dq_csv_range *r = NULL;
  for (size_t f = 0; f < p->n_paths; f++) {
    struct stat st;
    if (stat(p->paths[f], &st) != 0) {
      free(r);
      return dq_error_set(err, DQ_ENOENT, "cannot open CSV file %s: %s",
                          p->paths[f], strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      free(r);
      return dq_error_set(err, DQ_EINVAL, "CSV file %s is not a regular "
                          "file", p->paths[f]);
    }
    for (int64_t off = 0; off < (int64_t)st.st_size; off += step) {
      if (count == cap) {
        cap = cap ? cap * 2 : 16;
        dq_csv_range *g = realloc(r, cap * sizeof *g);
        if (g == NULL) {
          free(r);
          return dq_error_set(err, DQ_ENOMEM, "out of memory splitting CSV "
                              "files");
        }
        r = g;
      }
      r[count].path = p->paths[f];
      r[count].offset = off;
      r[count].length =
          (int64_t)st.st_size - off < step ? (int64_t)st.st_size - off : step;
      count++;
    }
  }
  *out = r;
  *n_out = count;
  return 0;
}

static int push_unit(dq_source_units *u, size_t *cap, const dq_csv_range *r,
                     uint32_t task, dq_error *err) {
  Dq__V1__CsvSplit m = DQ__V1__CSV_SPLIT__INIT;
  m.path = (char *)r->path;
  m.offset = (uint64_t)r->offset;
  m.length = (uint64_t)r->length;
  if (u->n == *cap) {
    size_t c = *cap ? *cap * 2 : 8;
    dq_work_unit *g = realloc(u->units, c * sizeof *g);
    if (g != NULL)
      u->units = g;
    uint32_t *h = g != NULL ? realloc(u->task_of, c * sizeof *h) : NULL;
    if (h != NULL)
      u->task_of = h;
    if (g == NULL || h == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    *cap = c;
  }
  size_t sz = dq__v1__csv_split__get_packed_size(&m);
  uint8_t *buf = malloc(sz ? sz : 1);
  if (buf == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  dq__v1__csv_split__pack(&m, buf);
  u->units[u->n].data = buf;
  u->units[u->n].len = sz;
  u->task_of[u->n] = task;
  u->n++;
  return 0;
}

/* The files are cut once, so every task sees the same sizes; range i
 * goes to task i mod N. */
static int csv_work_units(const void *state, uint32_t n_tasks,
                          dq_source_units *out, dq_error *err) {
  *out = (dq_source_units){NULL, NULL, 0};
  dq_csv_range *r;
  size_t nr, cap = 0;
  int rc = dq_csv_split_files(state, &r, &nr, err);
  uint32_t N = n_tasks ? n_tasks : 1;
  for (size_t i = 0; rc == 0 && i < nr; i++)
    rc = push_unit(out, &cap, &r[i], (uint32_t)(i % N), err);
  free(r);
  if (rc != 0) {
    dq_work_units_free(out->units, out->n);
    free(out->task_of);
    *out = (dq_source_units){NULL, NULL, 0};
  }
  return rc;
}

/* The ranges of this pipeline: from the units when the coordinator sent
 * any, else cut here and kept by the rule of csv.h. */
static int pipeline_ranges(const dq_csv_params *p, const dq_source_slice *sl,
                           dq_csv_range **out, size_t *n_out,
                           dq_error *err) {
  *out = NULL;
  *n_out = 0;
  uint32_t P = sl->n_partitions ? sl->n_partitions : 1;
  uint32_t N = sl->task_count ? sl->task_count : 1;
  if (!sl->units_sent) {
    /* No coordinator cut the files: cut them the same way it would, and
     * keep the ranges this pipeline's rule gives.  Not before the file
     * policy allows every file: even a stat tells whether one exists. */
    char real[4096];
    for (size_t f = 0; sl->files != NULL && f < p->n_paths; f++) {
      int prc = dq_file_policy_check(sl->files, p->paths[f], real,
                                     sizeof real, err);
      if (prc < 0)
        return prc;
    }
    dq_csv_range *all;
    size_t na;
    int rc = dq_csv_split_files(p, &all, &na, err);
    if (rc != 0)
      return rc;
    size_t k = 0;
    for (size_t i = 0; i < na; i++)
      if (i % N == sl->task_number && (i / N) % P == sl->partition)
        all[k++] = all[i];
    *out = all;
    *n_out = k;
    return 0;
  }
  dq_csv_range *r = calloc(sl->n_units ? sl->n_units : 1, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = 0;
  size_t k = 0, j = 0;
  for (size_t i = 0; rc == 0 && i < sl->n_units; i++) {
    Dq__V1__CsvSplit *m = dq__v1__csv_split__unpack(
        NULL, sl->units[i].len, sl->units[i].data);
    if (m == NULL) {
      rc = dq_error_set(err, DQ_EPROTO, "work unit %zu is not a CsvSplit",
                        i);
      break;
    }
    if (m->length > 0 && j++ % P == sl->partition) {
      /* A unit may only name one of the scan's own files. */
      const char *path = NULL;
      for (size_t f = 0; f < p->n_paths && path == NULL; f++)
        if (strcmp(p->paths[f], m->path) == 0)
          path = p->paths[f];
      if (path == NULL || m->offset > INT64_MAX ||
          m->length > (uint64_t)INT64_MAX - m->offset)
        rc = dq_error_set(err, DQ_EINVAL, "work unit %zu names a range "
                          "(%s at %llu) the CSV scan does not have", i,
                          m->path, (unsigned long long)m->offset);
      else
        r[k++] = (dq_csv_range){path, (int64_t)m->offset,
                                (int64_t)m->length};
    }
    dq__v1__csv_split__free_unpacked(m, NULL);
  }
  if (rc != 0) {
    free(r);
    return rc;
  }
  *out = r;
  *n_out = k;
  return 0;
}

static int csv_open(const void *state, const dq_source_projection *proj,
                    const dq_source_slice *slice, dq_source_reader **out,
                    dq_error *err) {
  dq_csv_range *r;
  size_t n;
  int rc = pipeline_ranges(state, slice, &r, &n, err);
  if (rc != 0)
    return rc;
  return dq_csv_reader_open(state, slice->files, proj, slice->batch_rows, r,
                            n, out, err);
}

const dq_source_kind dq_source_csv = {
    .name = "csv",
    .encode = csv_encode,
    .decode = csv_decode,
    .free = csv_free,
    .schema = csv_schema,
    .describe = csv_describe,
    .explain = csv_explain,
    .row_estimate = csv_row_estimate,
    .work_units = csv_work_units,
    .open = csv_open,
};
