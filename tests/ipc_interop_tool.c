/* ipc_interop_tool.c — the dq side of the IPC interop test
 * (tests/ipc_interop.test), against apache-arrow in tests/interop/.
 *
 *   ipc_interop_tool write FILE        write the data set of ipc_testdata.h
 *                                      as an Arrow IPC stream; prints its
 *                                      row count
 *   ipc_interop_tool check FILE ROWS   read an IPC stream written by another
 *                                      implementation and check its schema
 *                                      and every value (and that it holds
 *                                      ROWS rows in all)
 * Exit status 0 when all is well, 1 with a line on stderr otherwise.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dq/ipc.h>

#include "ipc_testdata.h"

/* Varied sizes: a bitmap ending mid-byte, an empty batch, a single row. */
static const int64_t sizes[] = {1000, 1, 0, 37, 64};

static int die(const char *what, const dq_error *err) {
  fprintf(stderr, "ipc_interop_tool: %s: %s\n", what,
          err ? err->message : "failed");
  return 1;
}

static int do_write(const char *path) {
  dq_error err = {0};
  dq_schema *s = td_schema();
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (s == NULL || fd < 0)
    return die(path, NULL);
  dq_ipc_writer *w;
  if (dq_ipc_writer_open_fd(fd, s, &w, &err) != 0)
    return die("open", &err);
  int64_t start = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    dq_batch *b = td_batch(s, start, sizes[i]);
    if (b == NULL)
      return die("building a batch", NULL);
    if (dq_ipc_writer_write(w, b, &err) != 0)
      return die("write", &err);
    dq_batch_unref(b);
    start += sizes[i];
  }
  if (dq_ipc_writer_close(w, &err) != 0)
    return die("close", &err);
  close(fd);
  dq_schema_unref(s);
  printf("%lld\n", (long long)start);
  return 0;
}

static int do_check(const char *path, long long rows) {
  dq_error err = {0};
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return die(path, NULL);
  dq_ipc_reader *r;
  if (dq_ipc_reader_open_file(f, &r, &err) != 0)
    return die("open", &err);
  dq_schema *want = td_schema();
  dq_schema *got = dq_ipc_reader_schema(r);
  if (!dq_schema_equal(want, got)) {
    char a[64], b[64];
    for (size_t c = 0; c < dq_schema_n_fields(got); c++)
      fprintf(stderr, "  got field %s %s%s\n", dq_schema_field_name(got, c),
              dq_type_format(dq_schema_field_type(got, c), a, sizeof a),
              dq_schema_field_nullable(got, c) ? "" : " not null");
    for (size_t c = 0; c < TD_NCOLS; c++)
      fprintf(stderr, "  expected %s %s%s\n", td_names[c],
              dq_type_format(dq_schema_field_type(want, c), b, sizeof b),
              dq_schema_field_nullable(want, c) ? "" : " not null");
    return die("check", &(dq_error){.message = "the schema differs"});
  }
  int64_t start = 0;
  int batches = 0;
  for (;;) {
    dq_batch *b;
    if (dq_ipc_reader_next(r, &b, &err) != 0)
      return die("next", &err);
    if (b == NULL)
      break;
    char why[256];
    if (td_check(b, start, dq_batch_n_rows(b), why, sizeof why) != 0) {
      fprintf(stderr, "ipc_interop_tool: batch %d: %s\n", batches, why);
      return 1;
    }
    start += dq_batch_n_rows(b);
    batches++;
    dq_batch_unref(b);
  }
  if (start != rows) {
    fprintf(stderr, "ipc_interop_tool: read %lld rows, expected %lld\n",
            (long long)start, rows);
    return 1;
  }
  printf("dq read and checked %lld rows in %d batches\n", (long long)start,
         batches);
  dq_ipc_reader_free(r);
  dq_schema_unref(want);
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "write") == 0)
    return do_write(argv[2]);
  if (argc == 4 && strcmp(argv[1], "check") == 0)
    return do_check(argv[2], atoll(argv[3]));
  fprintf(stderr, "usage: ipc_interop_tool write FILE | check FILE ROWS\n");
  return 2;
}
