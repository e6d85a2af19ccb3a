/* op_scan_ipc.c — SCAN_IPC: reads this pipeline's share of a list of Arrow
 * IPC stream files, a batch at a time.
 *
 * A stream file cannot be split without reading it, so the unit of work is
 * the file: pipeline p of task t (of N tasks of P pipelines) reads files
 * i with i mod N·P = t·P + p.  Each batch is projected by taking references
 * to the wanted columns: nothing is copied.  Every file is checked against
 * the node's schema (taken from the first file when the plan was built),
 * because a worker may see other files than the coordinator did. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/ipc.h>

#include "batch_internal.h"
#include "exec.h"
#include "file_policy.h"

/* Prefixes err's message with the file it is about (copied first: the
 * message is formatted into the same buffer). */
static int prefix_path(dq_error *err, int rc, const char *path) {
  if (err == NULL)
    return rc;
  char why[sizeof err->message];
  snprintf(why, sizeof why, "%s", err->message);
  return dq_error_set(err, rc, "%s: %s", path, why);
}

typedef struct scan_ipc_op {
  dq_op op;
  size_t next_file; /* index into the node's paths */
  size_t stride;
  FILE *f;
  dq_ipc_reader *r;
  const char *path;
} scan_ipc_op;

static void close_file(scan_ipc_op *s) {
  dq_ipc_reader_free(s->r);
  s->r = NULL;
  if (s->f != NULL)
    fclose(s->f);
  s->f = NULL;
}

/* Opens the next file of this pipeline and checks its columns. */
static int open_next(scan_ipc_op *s, dq_error *err) {
  const dq_node *n = s->op.node;
  s->path = n->paths[s->next_file];
  s->next_file += s->stride;
  /* A worker's data_dirs: the resolved path is the one opened. */
  char real[4096];
  int prc = dq_file_policy_check(s->op.env->files, s->path, real,
                                 sizeof real, err);
  if (prc < 0)
    return prc;
  s->f = fopen(real, "rb");
  if (s->f == NULL)
    return dq_error_set(err, DQ_ENOENT, "cannot open Arrow IPC file %s: %s",
                        s->path, strerror(errno));
  int rc = dq_ipc_reader_open_file(s->f, &s->r, err);
  if (rc != 0)
    return prefix_path(err, rc, s->path);
  const dq_schema *fs = dq_ipc_reader_schema(s->r);
  for (size_t i = 0; i < n->n_columns; i++) {
    size_t idx = (size_t)n->column_idx[i];
    dq_type want = dq_schema_field_type(n->schema, i);
    if (idx >= dq_schema_n_fields(fs) ||
        strcmp(dq_schema_field_name(fs, idx), n->columns[i]) != 0 ||
        !dq_type_equal(dq_schema_field_type(fs, idx), want))
      return dq_error_set(err, DQ_EINVAL,
                          "Arrow IPC file %s does not have column \"%s\" "
                          "with the type and position of the first file",
                          s->path, n->columns[i]);
  }
  return 0;
}

static int scan_next(dq_op *op, dq_batch **out, dq_error *err) {
  scan_ipc_op *s = (scan_ipc_op *)op;
  const dq_node *n = op->node;
  *out = NULL;
  for (;;) {
    if (s->r == NULL) {
      if (s->next_file >= n->n_paths)
        return 0;
      int rc = open_next(s, err);
      if (rc != 0)
        return rc;
    }
    dq_batch *b = NULL;
    int rc = dq_ipc_reader_next(s->r, &b, err);
    if (rc != 0)
      return prefix_path(err, rc, s->path);
    if (b == NULL) {
      close_file(s);
      continue;
    }
    if (b->n_rows == 0) {
      dq_batch_unref(b);
      continue;
    }
    dq_array *cols[256];
    dq_array **cv = n->n_columns <= 256 ? cols
                                        : malloc(n->n_columns * sizeof *cv);
    if (cv == NULL) {
      dq_batch_unref(b);
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n->n_columns; i++)
      cv[i] = b->columns[n->column_idx[i]];
    rc = dq_batch_new(n->schema, b->n_rows, cv, out, err);
    if (cv != cols)
      free(cv);
    dq_batch_unref(b);
    return rc;
  }
}

static void scan_close(dq_op *op) {
  close_file((scan_ipc_op *)op);
  free(op);
}

int dq_op_scan_ipc_open(const dq_node *n, const dq_exec_env *env,
                        uint32_t partition, dq_op **out, dq_error *err) {
  scan_ipc_op *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  uint32_t pipes = env->n_partitions ? env->n_partitions : 1;
  uint32_t tasks = env->task_count ? env->task_count : 1;
  s->next_file = (size_t)env->task_number * pipes + partition;
  s->stride = (size_t)tasks * pipes;
  s->op.next = scan_next;
  s->op.close = scan_close;
  s->op.node = n;
  s->op.env = env;
  s->op.partition = partition;
  *out = &s->op;
  return 0;
}
