/* source_ipc.c — source "ipc": a list of Arrow IPC stream files, read a
 * batch at a time.
 *
 * A stream file cannot be split without reading it, so the unit of work is
 * the file: pipeline p of task t (of N tasks of P pipelines) reads files
 * i with i mod N·P = t·P + p.  Each batch is projected by taking references
 * to the wanted columns: nothing is copied.  The schema is the first
 * file's, read when the plan is built and carried in the plan (a worker
 * decoding it opens nothing); every file is checked against the scan's
 * columns when read, because a worker may see other files than the
 * builder did. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/ipc.h>

#include "arrow/batch_internal.h"
#include "source.pb-c.h"
#include "scan/file_policy.h"
#include "scan/source.h"
#include "scan/source_ipc.h"

typedef struct ipc_state {
  char **paths;
  size_t n_paths;
  dq_schema *schema;
} ipc_state;

static void ipc_free(void *state) {
  ipc_state *s = state;
  if (s == NULL)
    return;
  for (size_t i = 0; s->paths != NULL && i < s->n_paths; i++)
    free(s->paths[i]);
  free(s->paths);
  dq_schema_unref(s->schema);
  free(s);
}

static int ipc_make(const char *const *paths, size_t n_paths,
                    dq_schema *schema, void **out, dq_error *err) {
  *out = NULL;
  if (paths == NULL || n_paths == 0)
    return dq_error_set(err, DQ_EINVAL, "an Arrow IPC scan needs at least "
                        "one file");
  for (size_t i = 0; i < n_paths; i++)
    if (paths[i] == NULL || paths[i][0] == '\0')
      return dq_error_set(err, DQ_EINVAL, "Arrow IPC scan: file %zu has no "
                          "path", i);
  ipc_state *s = calloc(1, sizeof *s);
  if (s == NULL || (s->paths = calloc(n_paths, sizeof *s->paths)) == NULL) {
    free(s);
    return dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
  }
  s->n_paths = n_paths;
  s->schema = dq_schema_ref(schema);
  for (size_t i = 0; i < n_paths; i++)
    if ((s->paths[i] = strdup(paths[i])) == NULL) {
      ipc_free(s);
      return dq_error_set(err, DQ_ENOMEM, "out of memory making a scan");
    }
  *out = s;
  return 0;
}

/* Reads the schema of an Arrow IPC stream file. */
static int file_schema(const char *path, dq_schema **out, dq_error *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return dq_error_set(err, DQ_ENOENT, "cannot open Arrow IPC file %s: %s",
                        path, strerror(errno));
  dq_ipc_reader *r = NULL;
  int rc = dq_ipc_reader_open_file(f, &r, err);
  if (rc == 0)
    *out = dq_schema_ref(dq_ipc_reader_schema(r));
  else
    dq_source_prefix_path(err, rc, path);
  dq_ipc_reader_free(r);
  fclose(f);
  return rc;
}

int dq_source_ipc_new(const char *const *paths, size_t n_paths, void **out,
                      dq_error *err) {
  *out = NULL;
  if (paths == NULL || n_paths == 0 || paths[0] == NULL ||
      paths[0][0] == '\0')
    return ipc_make(paths, n_paths, NULL, out, err);
  dq_schema *schema = NULL;
  int rc = file_schema(paths[0], &schema, err);
  if (rc == 0)
    rc = ipc_make(paths, n_paths, schema, out, err);
  dq_schema_unref(schema);
  return rc;
}

static int ipc_encode(const void *state, uint8_t **buf, size_t *len,
                      dq_error *err) {
  const ipc_state *s = state;
  Dq__V1__ScanIpc m = DQ__V1__SCAN_IPC__INIT;
  m.paths = s->paths;
  m.n_paths = s->n_paths;
  uint8_t *sb = NULL;
  size_t sl = 0;
  int rc = dq_source_schema_encode(s->schema, &sb, &sl, err);
  if (rc != 0)
    return rc;
  m.schema.data = sb;
  m.schema.len = sl;
  *len = dq__v1__scan_ipc__get_packed_size(&m);
  if ((*buf = malloc(*len ? *len : 1)) == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory encoding a scan");
  else
    dq__v1__scan_ipc__pack(&m, *buf);
  free(sb);
  return rc;
}

static int ipc_decode(const uint8_t *buf, size_t len, void **state,
                      dq_error *err) {
  Dq__V1__ScanIpc *m = dq__v1__scan_ipc__unpack(NULL, len, buf);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "an Arrow IPC scan's parameters are "
                        "not a dq.v1.ScanIpc message");
  dq_schema *schema = NULL;
  int rc = dq_source_schema_decode(m->schema.data, m->schema.len, &schema,
                                   err);
  if (rc == 0)
    rc = ipc_make((const char *const *)m->paths, m->n_paths, schema, state,
                  err);
  dq_schema_unref(schema);
  dq__v1__scan_ipc__free_unpacked(m, NULL);
  return rc;
}

static const dq_schema *ipc_schema(const void *state) {
  return ((const ipc_state *)state)->schema;
}

static void ipc_describe(const void *state, char *buf, size_t len) {
  snprintf(buf, len, "Arrow IPC file %s", ((const ipc_state *)state)->paths[0]);
}

static size_t ipc_explain(const void *state, const dq_source_projection *p,
                          char *buf, size_t len) {
  const ipc_state *s = state;
  size_t n = (size_t)snprintf(buf, len, "ScanIpc %zu file%s (%s%s) [",
                              s->n_paths, s->n_paths == 1 ? "" : "s",
                              s->paths[0], s->n_paths > 1 ? ", ..." : "");
  for (size_t i = 0; i < p->n_columns; i++)
    n += (size_t)snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
                          "%s%s", i ? ", " : "", p->names[i]);
  n += (size_t)snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
                        "]");
  return n;
}

static double ipc_row_estimate(const void *state) {
  const ipc_state *s = state;
  return dq_source_file_rows(s->paths, s->n_paths);
}

typedef struct ipc_reader {
  dq_source_reader r;
  const ipc_state *s;
  const struct dq_file_policy *files; /* NULL: any file */
  dq_source_projection proj;
  size_t next_file; /* index into the state's paths */
  size_t stride;
  FILE *f;
  dq_ipc_reader *ipc;
  const char *path;
} ipc_reader;

static void close_file(ipc_reader *t) {
  dq_ipc_reader_free(t->ipc);
  t->ipc = NULL;
  if (t->f != NULL)
    fclose(t->f);
  t->f = NULL;
}

/* Opens the next file of this pipeline and checks its columns. */
static int open_next(ipc_reader *t, dq_error *err) {
  const dq_source_projection *p = &t->proj;
  t->path = t->s->paths[t->next_file];
  t->next_file += t->stride;
  /* A worker's data_dirs: the resolved path is the one opened. */
  char real[4096];
  int prc = dq_file_policy_check(t->files, t->path, real, sizeof real, err);
  if (prc < 0)
    return prc;
  t->f = fopen(real, "rb");
  if (t->f == NULL)
    return dq_error_set(err, DQ_ENOENT, "cannot open Arrow IPC file %s: %s",
                        t->path, strerror(errno));
  int rc = dq_ipc_reader_open_file(t->f, &t->ipc, err);
  if (rc != 0)
    return dq_source_prefix_path(err, rc, t->path);
  const dq_schema *fs = dq_ipc_reader_schema(t->ipc);
  for (size_t i = 0; i < p->n_columns; i++) {
    size_t idx = (size_t)p->column_idx[i];
    dq_type want = dq_schema_field_type(p->schema, i);
    if (idx >= dq_schema_n_fields(fs) ||
        strcmp(dq_schema_field_name(fs, idx), p->names[i]) != 0 ||
        !dq_type_equal(dq_schema_field_type(fs, idx), want))
      return dq_error_set(err, DQ_EINVAL,
                          "Arrow IPC file %s does not have column \"%s\" "
                          "with the type and position of the first file",
                          t->path, p->names[i]);
  }
  return 0;
}

static int ipc_next(dq_source_reader *r, dq_batch **out, dq_error *err) {
  ipc_reader *t = (ipc_reader *)r;
  *out = NULL;
  for (;;) {
    if (t->ipc == NULL) {
      if (t->next_file >= t->s->n_paths)
        return 0;
      int rc = open_next(t, err);
      if (rc != 0)
        return rc;
    }
    dq_batch *b = NULL;
    int rc = dq_ipc_reader_next(t->ipc, &b, err);
    if (rc != 0)
      return dq_source_prefix_path(err, rc, t->path);
    if (b == NULL) {
      close_file(t);
      continue;
    }
    if (dq_batch_n_rows(b) == 0) {
      dq_batch_unref(b);
      continue;
    }
    return dq_source_project(b, &t->proj, out, err);
  }
}

static void ipc_close(dq_source_reader *r) {
  close_file((ipc_reader *)r);
  free(r);
}

static int ipc_open(const void *state, const dq_source_projection *proj,
                    const dq_source_slice *slice, dq_source_reader **out,
                    dq_error *err) {
  ipc_reader *t = calloc(1, sizeof *t);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  uint32_t pipes = slice->n_partitions ? slice->n_partitions : 1;
  uint32_t tasks = slice->task_count ? slice->task_count : 1;
  t->s = state;
  t->files = slice->files;
  t->proj = *proj;
  t->next_file = (size_t)slice->task_number * pipes + slice->partition;
  t->stride = (size_t)tasks * pipes;
  t->r.next = ipc_next;
  t->r.close = ipc_close;
  *out = &t->r;
  return 0;
}

const dq_source_kind dq_source_ipc = {
    .name = "ipc",
    .encode = ipc_encode,
    .decode = ipc_decode,
    .free = ipc_free,
    .schema = ipc_schema,
    .describe = ipc_describe,
    .explain = ipc_explain,
    .row_estimate = ipc_row_estimate,
    .open = ipc_open,
};
