/* csv.c — CSV scans' work units: cutting files into byte ranges (the
 * coordinator for a task, or a task for itself when no coordinator sent
 * units), encoding them as CsvSplit messages, and picking a pipeline's
 * share.  See csv.h for the assignment rule and op_scan_csv.c for how a
 * range is read (the Hadoop rule: a range owns the records that start in
 * it, so every record is read exactly once however the bytes are cut). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "file_policy.h"
#include "plan.pb-c.h"

static size_t scans_walk(const dq_node *n, const dq_node **out, size_t cap,
                         size_t k) {
  if (n == NULL)
    return k;
  if (n->kind == DQ_NODE_SCAN_CSV) {
    if (k < cap)
      out[k] = n;
    k++;
  }
  for (size_t i = 0; i < dq_node_n_inputs(n); i++)
    k = scans_walk(dq_node_input_at(n, i), out, cap, k);
  return k;
}

size_t dq_csv_scans(const dq_node *n, const dq_node **out, size_t cap) {
  return scans_walk(n, out, cap, 0);
}

int dq_csv_split_files(const dq_node *n, dq_csv_range **out, size_t *n_out,
                       dq_error *err) {
  *out = NULL;
  *n_out = 0;
  int64_t step = n->csv_split_bytes > 0 ? n->csv_split_bytes : 8 << 20;
  size_t count = 0, cap = 0;
  dq_csv_range *r = NULL;
  for (size_t f = 0; f < n->n_paths; f++) {
    struct stat st;
    if (stat(n->paths[f], &st) != 0) {
      free(r);
      return dq_error_set(err, DQ_ENOENT, "cannot open CSV file %s: %s",
                          n->paths[f], strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      free(r);
      return dq_error_set(err, DQ_EINVAL, "CSV file %s is not a regular "
                          "file", n->paths[f]);
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
      r[count].path = n->paths[f];
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

void dq_work_units_free(dq_work_unit *u, size_t n) {
  for (size_t i = 0; u != NULL && i < n; i++)
    free(u[i].data);
  free(u);
}

static int push_unit(dq_work_unit **u, uint32_t **to, size_t *n,
                     size_t *cap, const char *path, int64_t off, int64_t len,
                     uint32_t scan, uint32_t task, dq_error *err) {
  Dq__V1__CsvSplit m = DQ__V1__CSV_SPLIT__INIT;
  m.path = (char *)path;
  m.offset = (uint64_t)off;
  m.length = (uint64_t)len;
  m.scan = scan;
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 8;
    dq_work_unit *g = realloc(*u, c * sizeof *g);
    if (g != NULL)
      *u = g;
    uint32_t *h = g != NULL ? realloc(*to, c * sizeof *h) : NULL;
    if (h != NULL)
      *to = h;
    if (g == NULL || h == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    *cap = c;
  }
  size_t sz = dq__v1__csv_split__get_packed_size(&m);
  uint8_t *buf = malloc(sz ? sz : 1);
  if (buf == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  dq__v1__csv_split__pack(&m, buf);
  (*u)[*n].data = buf;
  (*u)[*n].len = sz;
  (*to)[*n] = task;
  (*n)++;
  return 0;
}

int dq_csv_stage_units(const dq_stage *s, dq_work_unit **out,
                       uint32_t **task_of, size_t *n_out, dq_error *err) {
  *out = NULL;
  *task_of = NULL;
  *n_out = 0;
  const dq_node *scans[DQ_CSV_MAX_SCANS];
  size_t ns = dq_csv_scans(s->root, scans, DQ_CSV_MAX_SCANS);
  if (ns == 0)
    return 0;
  if (ns > DQ_CSV_MAX_SCANS)
    return dq_error_set(err, DQ_EINVAL, "stage %u has %zu CSV scans; at "
                        "most %d are supported", s->id, ns,
                        DQ_CSV_MAX_SCANS);
  uint32_t N = s->task_count ? s->task_count : 1;
  dq_work_unit *u = NULL;
  uint32_t *to = NULL;
  size_t n = 0, cap = 0;
  bool *has = calloc(N, sizeof *has);
  int rc = has == NULL ? dq_error_set(err, DQ_ENOMEM, "out of memory") : 0;
  /* Tasks in order, each with its units in the order it gets them. */
  dq_csv_range *r[DQ_CSV_MAX_SCANS] = {NULL};
  size_t nr[DQ_CSV_MAX_SCANS] = {0};
  for (size_t k = 0; rc == 0 && k < ns; k++)
    rc = dq_csv_split_files(scans[k], &r[k], &nr[k], err);
  for (uint32_t t = 0; rc == 0 && t < N; t++) {
    for (size_t k = 0; rc == 0 && k < ns; k++)
      for (size_t i = t; rc == 0 && i < nr[k]; i += N) {
        rc = push_unit(&u, &to, &n, &cap, r[k][i].path, r[k][i].offset,
                       r[k][i].length, (uint32_t)k, t, err);
        has[t] = true;
      }
    /* An empty share still needs one unit: a task with no unit at all
     * would cut the files itself and read everything. */
    if (rc == 0 && !has[t])
      rc = push_unit(&u, &to, &n, &cap, "", 0, 0, 0, t, err);
  }
  for (size_t k = 0; k < ns; k++)
    free(r[k]);
  free(has);
  if (rc != 0) {
    dq_work_units_free(u, n);
    free(to);
    return rc;
  }
  *out = u;
  *task_of = to;
  *n_out = n;
  return 0;
}

static int scan_number(const dq_node *n, const dq_exec_env *env,
                       uint32_t *out, dq_error *err) {
  const dq_node *scans[DQ_CSV_MAX_SCANS];
  size_t ns = dq_csv_scans(env->root ? env->root : n, scans,
                           DQ_CSV_MAX_SCANS);
  for (size_t k = 0; k < ns && k < DQ_CSV_MAX_SCANS; k++)
    if (scans[k] == n) {
      *out = (uint32_t)k;
      return 0;
    }
  return dq_error_set(err, DQ_EINTERNAL, "a CSV scan is not part of the "
                      "stage it runs in");
}

int dq_csv_pipeline_ranges(const dq_node *n, const dq_exec_env *env,
                           uint32_t partition, dq_csv_range **out,
                           size_t *n_out, dq_error *err) {
  *out = NULL;
  *n_out = 0;
  uint32_t P = env->n_partitions ? env->n_partitions : 1;
  uint32_t N = env->task_count ? env->task_count : 1;
  if (env->n_units == 0) {
    /* No coordinator cut the files: cut them the same way it would, and
     * keep the ranges the rule of csv.h gives this pipeline.  Not before
     * the worker's file policy allows every file: even a stat would tell
     * a client whether a file exists. */
    char real[4096];
    for (size_t f = 0; env->files != NULL && f < n->n_paths; f++) {
      int prc = dq_file_policy_check(env->files, n->paths[f], real,
                                     sizeof real, err);
      if (prc < 0)
        return prc;
    }
    dq_csv_range *all;
    size_t na;
    int rc = dq_csv_split_files(n, &all, &na, err);
    if (rc != 0)
      return rc;
    size_t k = 0;
    for (size_t i = 0; i < na; i++)
      if (i % N == env->task_number && (i / N) % P == partition)
        all[k++] = all[i];
    *out = all;
    *n_out = k;
    return 0;
  }
  uint32_t scan = 0;
  int rc = scan_number(n, env, &scan, err);
  if (rc != 0)
    return rc;
  dq_csv_range *r = calloc(env->n_units, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  size_t k = 0, j = 0;
  for (size_t i = 0; rc == 0 && i < env->n_units; i++) {
    Dq__V1__CsvSplit *m = dq__v1__csv_split__unpack(
        NULL, env->units[i].len, env->units[i].data);
    if (m == NULL) {
      rc = dq_error_set(err, DQ_EPROTO, "work unit %zu is not a CsvSplit",
                        i);
      break;
    }
    if (m->scan == scan && m->length > 0 && j++ % P == partition) {
      /* A unit may only name one of the scan's own files. */
      const char *path = NULL;
      for (size_t f = 0; f < n->n_paths && path == NULL; f++)
        if (strcmp(n->paths[f], m->path) == 0)
          path = n->paths[f];
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
