/* interop_stage.c — the C half of tests/python-interop.test.  A client not
 * written in C cannot build dq's plans, so this helper writes one task's
 * SetPlan payload and its producer head to files for it, and afterwards
 * decodes the Arrow IPC stream the client received, so the rows are
 * checked by a second, independent reader.
 *
 *   interop_stage plan DIR    writes DIR/plan.bin (the task plan of stage 1:
 *                             nation's n_nationkey and n_name, 1 task of 2
 *                             partitions, coalesced), DIR/head.bin (its
 *                             producer head) and DIR/expected.txt (the rows
 *                             the single-process run gives, sorted)
 *   interop_stage decode FILE prints the rows of an IPC stream, sorted
 *   interop_stage csv PATH DIR  writes DIR/plan.bin and DIR/head.bin for a
 *                             one-task stage scanning the file PATH as CSV
 *                             lines (one utf8 column), coalesced: what a
 *                             hostile client would deliver to read a file
 *
 * Exit status 0, or 1 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/plan.h>

#include "plan/plan_internal.h"
#include "result_text.h"
#include "runtime/task_plan.h"

static int die(const char *what, const dq_error *err) {
  fprintf(stderr, "interop_stage: %s: %s\n", what,
          err ? err->message : "failed");
  return 1;
}

static int write_file(const char *dir, const char *name, const void *data,
                      size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "interop_stage: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

static int collect(void *ctx, const dq_batch *b, dq_error *err) {
  (void)err;
  result_text_add(ctx, b);
  return 0;
}

static void print_rows(FILE *f, result_text *r) {
  result_text_sort(r);
  for (size_t i = 0; i < r->n; i++)
    fprintf(f, "%s\n", r->rows[i]);
}

static dq_plan *nation_plan(int distributed, dq_error *err) {
  dq_plan_builder *b;
  if (dq_plan_builder_new(&b, err) < 0)
    return NULL;
  const char *cols[] = {"n_nationkey", "n_name"};
  dq_node *scan = dq_node_scan_tpch(b, "nation", 1, 7, cols, 2);
  if (distributed) {
    dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
    uint32_t s1 = dq_plan_stage(b, scan, 1, 2, &coalesce);
    dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  } else {
    dq_plan_stage(b, scan, 1, 1, NULL);
  }
  dq_plan *p = NULL;
  dq_plan_builder_finish(b, &p, err);
  dq_plan_builder_free(b);
  return p;
}

static int cmd_plan(const char *dir) {
  dq_error err;
  dq_plan *p = nation_plan(1, &err), *lp = NULL;
  if (p == NULL)
    return die("plan", &err);
  const dq_stage *s1 = dq_plan_stage_by_id(p, 1);
  uint8_t *plan = NULL, *head = NULL;
  size_t plan_len, head_len;
  dq_producer_head h;
  int status = 1;
  if (dq_task_plan_encode(s1, NULL, 0, &plan, &plan_len, &err) < 0) {
    die("task plan", &err);
    goto done;
  }
  if (dq_stage_producer_head(s1, &h, &err) < 0 ||
      dq_producer_head_encode(&h, &head, &head_len, &err) < 0) {
    die("producer head", &err);
    goto done;
  }
  if ((lp = nation_plan(0, &err)) == NULL) {
    die("local plan", &err);
    goto done;
  }
  result_text want = {0};
  if (dq_plan_run_local(lp, collect, &want, &err) < 0) {
    die("local run", &err);
    result_text_free(&want);
    goto done;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/expected.txt", dir);
  FILE *f = fopen(path, "w");
  if (f != NULL) {
    print_rows(f, &want);
    if (fclose(f) == 0)
      status = 0;
  }
  result_text_free(&want);
  if (status != 0)
    fprintf(stderr, "interop_stage: cannot write %s\n", path);
  else
    status = write_file(dir, "plan.bin", plan, plan_len) ||
             write_file(dir, "head.bin", head, head_len);
done:
  free(plan);
  free(head);
  dq_plan_free(lp);
  dq_plan_free(p);
  return status;
}

static int cmd_decode(const char *file) {
  dq_error err;
  FILE *f = fopen(file, "rb");
  if (f == NULL) {
    fprintf(stderr, "interop_stage: cannot open %s\n", file);
    return 1;
  }
  dq_ipc_reader *r;
  if (dq_ipc_reader_open_file(f, &r, &err) < 0) {
    fclose(f);
    return die(file, &err);
  }
  result_text got = {0};
  int rc;
  dq_batch *b;
  while ((rc = dq_ipc_reader_next(r, &b, &err)) == 0 && b != NULL) {
    result_text_add(&got, b);
    dq_batch_unref(b);
  }
  dq_ipc_reader_free(r);
  fclose(f);
  if (rc < 0) {
    result_text_free(&got);
    return die(file, &err);
  }
  print_rows(stdout, &got);
  result_text_free(&got);
  return fflush(stdout) != 0;
}

static int cmd_csv(const char *file, const char *dir) {
  dq_error err;
  dq_plan_builder *b;
  if (dq_plan_builder_new(&b, &err) < 0)
    return die("builder", &err);
  const char *names[] = {"line"};
  dq_type types[] = {{DQ_TYPE_UTF8, 0, 0}};
  dq_schema *schema = NULL;
  if (dq_schema_new(1, names, types, NULL, &schema, &err) < 0)
    return die("schema", &err);
  dq_node *scan = dq_node_scan_csv(b, 1, &file, schema, false);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, 1, 1, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  dq_plan *p = NULL;
  int rc = dq_plan_builder_finish(b, &p, &err);
  dq_plan_builder_free(b);
  dq_schema_unref(schema);
  if (rc < 0)
    return die("plan", &err);
  uint8_t *plan = NULL, *head = NULL;
  size_t plan_len, head_len;
  dq_producer_head h;
  int status = 1;
  const dq_stage *st = dq_plan_stage_by_id(p, 1);
  if (dq_task_plan_encode(st, NULL, 0, &plan, &plan_len, &err) < 0 ||
      dq_stage_producer_head(st, &h, &err) < 0 ||
      dq_producer_head_encode(&h, &head, &head_len, &err) < 0)
    die("encode", &err);
  else
    status = write_file(dir, "plan.bin", plan, plan_len) ||
             write_file(dir, "head.bin", head, head_len);
  free(plan);
  free(head);
  dq_plan_free(p);
  return status;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "plan") == 0)
    return cmd_plan(argv[2]);
  if (argc == 3 && strcmp(argv[1], "decode") == 0)
    return cmd_decode(argv[2]);
  if (argc == 4 && strcmp(argv[1], "csv") == 0)
    return cmd_csv(argv[2], argv[3]);
  fprintf(stderr, "usage: interop_stage plan DIR | decode FILE\n");
  return 2;
}
