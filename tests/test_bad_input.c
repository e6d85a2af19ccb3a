/* test_bad_input.c — the parts of the bad-input battery (issue 9, item 5)
 * no other suite had: the IPC stream reader (not only the in-memory
 * decoder) on truncated and oversized frames, and the worker service on
 * malformed SetPlan and ExecuteTask requests arriving through a transport.
 * Which suite covers which bad input is listed in docs/fuzzing.md.
 * The checks for findings F1, F3, F4 and F7 of docs/fuzzing.md guard
 * their fixes. */
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/plan.h>
#include <dq/runtime.h>
#include <dq/transport.h>

#include "host/context.h"
#include "runtime/task_plan.h"


/* --- the IPC stream reader -------------------------------------------------*/

static dq_schema *one_int_schema(void) {
  dq_type t = {DQ_TYPE_INT32, 0, 0};
  const char *name = "x";
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(1, &name, &t, NULL, &s, &err), 0);
  return s;
}

static dq_batch *int_batch(dq_schema *s, int n) {
  dq_batch_builder *b;
  dq_batch *out;
  dq_error err;
  assert_int_equal(dq_batch_builder_new(s, n, &b, &err), 0);
  for (int i = 0; i < n; i++)
    if (i % 3 == 1)
      dq_builder_append_null(b, 0);
    else
      dq_builder_append_int32(b, 0, i);
  assert_int_equal(dq_batch_builder_finish(b, &out, &err), 0);
  dq_batch_builder_free(b);
  return out;
}

/* A valid stream: schema, batches of 5 and 0 rows, EOS.  The caller frees. */
static uint8_t *valid_stream(size_t *len) {
  dq_schema *s = one_int_schema();
  FILE *f = tmpfile();
  assert_non_null(f);
  dq_ipc_writer *w;
  dq_error err;
  assert_int_equal(dq_ipc_writer_open_file(f, s, &w, &err), 0);
  for (int n = 5; n >= 0; n -= 5) {
    dq_batch *b = int_batch(s, n);
    assert_int_equal(dq_ipc_writer_write(w, b, &err), 0);
    dq_batch_unref(b);
  }
  assert_int_equal(dq_ipc_writer_close(w, &err), 0);
  long end = ftell(f);
  assert_true(end > 0);
  *len = (size_t)end;
  uint8_t *buf = malloc(*len);
  rewind(f);
  assert_int_equal(fread(buf, 1, *len, f), *len);
  fclose(f);
  dq_schema_unref(s);
  return buf;
}

/* Reads a whole stream from f: 0 with the batch count at a clean end, or
 * the error code. */
static int read_all(FILE *f, int *batches, dq_error *err) {
  dq_ipc_reader *r;
  *batches = 0;
  int rc = dq_ipc_reader_open_file(f, &r, err);
  if (rc != 0)
    return rc;
  for (;;) {
    dq_batch *b;
    rc = dq_ipc_reader_next(r, &b, err);
    if (rc != 0 || b == NULL)
      break;
    (*batches)++;
    dq_batch_unref(b);
  }
  dq_ipc_reader_free(r);
  return rc;
}

/* Cut anywhere: a cut inside a message is DQ_EPROTO with a sentence; a cut
 * at a message boundary after the schema is a clean end (the format allows
 * end of file in place of the EOS marker). */
static void test_stream_truncated_everywhere(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = valid_stream(&len);
  size_t bounds[8], n_bounds = 0;
  for (size_t off = 0; off < len && n_bounds < 8;) {
    dq_ipc_info info;
    dq_error err;
    assert_int_equal(dq_ipc_peek(buf + off, len - off, &info, &err), 0);
    off += info.message_len;
    bounds[n_bounds++] = off;
  }
  assert_int_equal(bounds[n_bounds - 1], len);
  for (size_t cut = 0; cut < len; cut++) {
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, cut, f), cut);
    rewind(f);
    int batches;
    dq_error err;
    dq_error_clear(&err);
    int rc = read_all(f, &batches, &err);
    fclose(f);
    int at_boundary = 0;
    for (size_t i = 0; i < n_bounds; i++)
      at_boundary |= cut == bounds[i];
    if (at_boundary) {
      if (rc != 0)
        fail_msg("cut at boundary %zu: %s", cut, err.message);
    } else if (rc != DQ_EPROTO || err.message[0] == '\0') {
      fail_msg("cut at %zu of %zu: got %s (%s), expected DQ_EPROTO", cut,
               len, dq_strerror(rc), err.message);
    }
  }
  free(buf);
}

/* A frame announcing more metadata than dq accepts is refused from its
 * 8-byte prefix: nothing is allocated or read for it. */
static void test_stream_oversized_metadata(void **state) {
  (void)state;
  static const uint8_t prefix[8] = {0xff, 0xff, 0xff, 0xff,
                                    0x00, 0x00, 0x00, 0x7f}; /* ~2 GiB */
  for (int via_fd = 0; via_fd < 2; via_fd++) {
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(prefix, 1, 8, f), 8);
    fflush(f);
    rewind(f);
    dq_ipc_reader *r = NULL;
    dq_error err;
    int rc = via_fd ? dq_ipc_reader_open_fd(fileno(f), &r, &err)
                    : dq_ipc_reader_open_file(f, &r, &err);
    assert_int_equal(rc, DQ_ETOOBIG);
    assert_null(r);
    assert_non_null(strstr(err.message, "exceeds"));
    fclose(f);
  }
}

/* Finding F1 (docs/fuzzing.md): a record batch whose metadata claims a
 * body of ~128 GiB, followed by a few bytes.  The reader must report the
 * truncation (or refuse the size), not allocate the claimed body first. */
static void test_stream_oversized_body(void **state) {
  (void)state;
  const char *top = getenv("abs_top_srcdir");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fuzz/regress/ipc/"
           "f1-reader-body-alloc-from-header", top ? top : "..");
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open %s", path);
  int batches;
  dq_error err;
  int rc = read_all(f, &batches, &err);
  fclose(f);
  if (rc != DQ_EPROTO && rc != DQ_ETOOBIG)
    fail_msg("got %s (%s), expected DQ_EPROTO or DQ_ETOOBIG",
             dq_strerror(rc), err.message);
}

/* --- the worker service through a transport -------------------------------*/

typedef struct fixture {
  dq_config *cfg;
  dq_context *ctx;
  dq_worker *w;
  const dq_transport_ops *ops;
  dq_channel *ch;
  dq_plan *plan;
  uint8_t *tp; /* stage 1's task plan */
  size_t tp_len;
  uint8_t *head; /* stage 1's producer head */
  size_t head_len;
} fixture;

static int fx_setup_with(void **state, const char *config) {
  fixture *fx = calloc(1, sizeof *fx);
  dq_error err;
  unsetenv("DQ_CONFIG");
  unsetenv("DQ_TRANSPORT");
  if (dq_config_parse(config, "bad_input", &fx->cfg, &err) < 0 ||
      dq_context_new(fx->cfg, &fx->ctx, &err) < 0 ||
      dq_worker_start(fx->ctx, "inmem://", &fx->w, &err) < 0) {
    fprintf(stderr, "setup: %s\n", err.message);
    return -1;
  }
  fx->ops = dq_context_ops(fx->ctx);
  if (fx->ops->channel_open(dq_context_transport(fx->ctx),
                            dq_worker_url(fx->w), &fx->ch, &err) < 0)
    return -1;
  /* stage 1: 2 tasks x 2 partitions of a tiny scan, coalesced */
  dq_plan_builder *b;
  dq_plan_builder_new(&b, &err);
  const char *cols[] = {"n_nationkey"};
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, dq_node_scan_tpch(b, "nation", 1, 7, cols, 1),
                              2, 2, &coalesce);
  dq_plan_stage(b, dq_node_read(b, s1), 1, 1, NULL);
  if (dq_plan_builder_finish(b, &fx->plan, &err) < 0)
    return -1;
  dq_plan_builder_free(b);
  const dq_stage *st = dq_plan_stage_by_id(fx->plan, 1);
  dq_producer_head h;
  if (dq_task_plan_encode(st, NULL, 0, &fx->tp, &fx->tp_len, &err) < 0 ||
      dq_stage_producer_head(st, &h, &err) < 0 ||
      dq_producer_head_encode(&h, &fx->head, &fx->head_len, &err) < 0)
    return -1;
  *state = fx;
  return 0;
}

static int fx_setup(void **state) {
  return fx_setup_with(state, "[dq]\ntransport = inmem\n[executor]\n"
                              "plan_wait_ms = 0\n");
}

/* Plans may come late: an ExecuteTask waits up to 20 s for its task's. */
static int fx_setup_wait(void **state) {
  return fx_setup_with(state, "[dq]\ntransport = inmem\n[executor]\n"
                              "plan_wait_ms = 20000\n");
}

static int fx_teardown(void **state) {
  fixture *fx = *state;
  fx->ops->channel_close(fx->ch);
  /* Every refused request left nothing behind on the worker. */
  int left = (int)dq_worker_task_count(fx->w);
  dq_worker_stop(fx->w);
  dq_context_free(fx->ctx);
  dq_config_free(fx->cfg);
  dq_plan_free(fx->plan);
  free(fx->tp);
  free(fx->head);
  free(fx);
  return left == 0 ? 0 : -1;
}

static dq_set_plan set_plan(fixture *fx, const uint8_t *plan, size_t len,
                            uint32_t stage, uint32_t task, uint32_t count) {
  dq_set_plan sp;
  memset(&sp, 0, sizeof sp);
  sp.key.query_id[0] = 0xba;
  sp.key.stage_id = stage;
  sp.key.task_number = task;
  sp.task_count = count;
  sp.plan = plan;
  sp.plan_len = len;
  sp.target_worker_url = dq_worker_url(fx->w);
  return sp;
}

/* The refusal names the worker and the task, and leaves no task behind. */
static void expect_refused(fixture *fx, const dq_set_plan *sp, int code,
                           const char *what, const char *label) {
  dq_coord *c = NULL;
  dq_error err;
  dq_error_clear(&err);
  int rc = fx->ops->coord_open(fx->ch, sp, &c, &err);
  if (rc != code || (what && strstr(err.message, what) == NULL))
    fail_msg("%s: got %s (%s), expected %s", label, dq_strerror(rc),
             err.message, dq_strerror(code));
  assert_null(c);
  assert_string_equal(err.worker_url, dq_worker_url(fx->w));
  assert_true(err.has_task);
  assert_int_equal(err.task.stage_id, sp->key.stage_id);
  assert_int_equal(dq_worker_task_count(fx->w), 0);
}

static void test_setplan_malformed(void **state) {
  fixture *fx = *state;
  static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x00};
  dq_set_plan sp = set_plan(fx, garbage, sizeof garbage, 1, 0, 2);
  expect_refused(fx, &sp, DQ_EPROTO, "task plan", "garbage bytes");
  /* Every truncation of a valid task plan is refused, never half-read. */
  for (size_t cut = 1; cut < fx->tp_len; cut++) {
    char label[64];
    snprintf(label, sizeof label, "task plan cut at %zu", cut);
    sp = set_plan(fx, fx->tp, cut, 1, 0, 2);
    dq_coord *c = NULL;
    dq_error err;
    int rc = fx->ops->coord_open(fx->ch, &sp, &c, &err);
    if (rc == 0) /* a cut at a field boundary may still be a valid plan */
      fx->ops->coord_close(c);
    else
      assert_true(err.message[0] != '\0');
  }
  assert_int_equal(dq_worker_task_count(fx->w), 0);
}

/* Finding F3: zero plan bytes (an empty TaskPlan, so an empty stage) make
 * dq_plan_decode compute NULL + 0, which UBSan (clang) reports. */
static void test_setplan_empty(void **state) {
  fixture *fx = *state;
  dq_set_plan sp = set_plan(fx, NULL, 0, 1, 0, 2);
  dq_coord *c = NULL;
  dq_error err;
  assert_true(fx->ops->coord_open(fx->ch, &sp, &c, &err) < 0);
  assert_null(c);
}

static void test_setplan_inconsistent(void **state) {
  fixture *fx = *state;
  dq_set_plan sp = set_plan(fx, fx->tp, fx->tp_len, 2, 0, 2);
  expect_refused(fx, &sp, DQ_EPROTO, "carries the plan of stage 1",
                 "stage id differs");
  sp = set_plan(fx, fx->tp, fx->tp_len, 1, 0, 3);
  expect_refused(fx, &sp, DQ_EPROTO, "the stage has 2 tasks",
                 "task count differs");
  sp = set_plan(fx, fx->tp, fx->tp_len, 1, 2, 2);
  expect_refused(fx, &sp, DQ_EPROTO, "task 2 of 2", "task number too big");
  /* A second plan for a task that has one is refused; the first stays. */
  sp = set_plan(fx, fx->tp, fx->tp_len, 1, 0, 2);
  dq_coord *c;
  dq_error err;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &c, &err), 0);
  dq_coord *again = NULL;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &again, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "already has a plan"));
  assert_null(again);
  assert_int_equal(dq_worker_task_count(fx->w), 1);
  fx->ops->coord_close(c);
  assert_int_equal(dq_worker_task_count(fx->w), 0);
}

static int execute(fixture *fx, uint32_t start, uint32_t end,
                   const uint8_t *head, size_t head_len, dq_error *err) {
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.key.query_id[0] = 0xba;
  req.key.stage_id = 1;
  req.partition_start = start;
  req.partition_end = end;
  req.producer_head = head;
  req.producer_head_len = head_len;
  dq_stream *s = NULL;
  dq_error_clear(err);
  int rc = fx->ops->execute_task(fx->ch, &req, &s, err);
  if (rc == 0) {
    dq_frame f;
    while ((rc = fx->ops->stream_next(s, &f, err)) == 0 &&
           f.kind != DQ_FRAME_END) {
      if (f.kind == DQ_FRAME_SCHEMA)
        f.schema.release(&f.schema);
      else if (f.kind == DQ_FRAME_BATCH)
        f.array.release(&f.array);
    }
    fx->ops->stream_close(s);
  }
  return rc;
}

static void test_execute_malformed(void **state) {
  fixture *fx = *state;
  dq_error err;
  /* No plan for the task (plan_wait_ms = 0): a timeout naming the task. */
  assert_int_equal(execute(fx, 0, 1, fx->head, fx->head_len, &err),
                   DQ_ETIMEDOUT);
  assert_true(err.has_task);
  assert_string_equal(err.worker_url, dq_worker_url(fx->w));

  dq_set_plan sp = set_plan(fx, fx->tp, fx->tp_len, 1, 0, 2);
  dq_coord *c;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &c, &err), 0);
  static const uint8_t junk[] = {0x08, 0x09, 0x10};
  /* A head that is not a ProducerHead, or not this stage's kind, fails
   * the task's start; a later good request must not crash either. */
  assert_true(execute(fx, 0, 1, junk, sizeof junk, &err) < 0);
  assert_true(err.message[0] != '\0');
  fx->ops->coord_close(c);

  /* Ranges outside the task's output, with the right head. */
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &c, &err), 0);
  static const uint32_t ranges[][2] = {{1, 1}, {2, 1}, {0, 3}, {5, 9},
                                       {0, 0xffffffffu}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    int rc = execute(fx, ranges[i][0], ranges[i][1], fx->head, fx->head_len,
                     &err);
    if (rc != DQ_EINVAL || strstr(err.message, "partition range") == NULL)
      fail_msg("range [%u, %u): got %s (%s)", ranges[i][0], ranges[i][1],
               dq_strerror(rc), err.message);
  }
  /* The task still serves a good request, and only with its first head. */
  assert_int_equal(execute(fx, 0, 2, fx->head, fx->head_len, &err), 0);
  uint8_t other[64];
  assert_true(fx->head_len < sizeof other);
  memcpy(other, fx->head, fx->head_len);
  other[fx->head_len] = 0; /* field 0 is invalid: a different byte string */
  assert_int_equal(execute(fx, 0, 1, other, fx->head_len + 1, &err),
                   DQ_EINVAL);
  assert_non_null(strstr(err.message, "differs"));
  fx->ops->coord_close(c);
}

/* Findings F4 and F7: a start that fails part-way (here: a shuffle head
 * for a coalesce stage) must leave a task that later requests and the
 * coordinator can still use: a retry either starts it or repeats the first
 * error, nothing leaks (F4, HEAD), and coord_finish reports metrics rather
 * than reading input readers that were never started (F7, the work tree's
 * "fail the task for good" change). */
static void test_execute_retry_after_failed_start(void **state) {
  fixture *fx = *state;
  dq_error err;
  dq_set_plan sp = set_plan(fx, fx->tp, fx->tp_len, 1, 0, 2);
  dq_coord *c;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &c, &err), 0);
  uint32_t key = 0;
  dq_producer_head wrong = {DQ_BOUNDARY_SHUFFLE, 1, &key, 4};
  uint8_t *hb;
  size_t hl;
  assert_int_equal(dq_producer_head_encode(&wrong, &hb, &hl, &err), 0);
  assert_int_equal(execute(fx, 0, 1, hb, hl, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "boundary kind"));
  int rc = execute(fx, 0, 2, fx->head, fx->head_len, &err);
  if (rc != 0 && rc != DQ_EPROTO)
    fail_msg("retry: got %s (%s)", dq_strerror(rc), err.message);
  dq_task_metrics m;
  assert_int_equal(fx->ops->coord_finish(c, &m, &err), 0);
  free(hb);
  fx->ops->coord_close(c);
}

/* scan -coalesce-> middle stage -coalesce-> head, and the middle stage's
 * input boundary reading stage 1 at producer_url (in->urls is malloc'd:
 * free it with chain_free). */
static dq_plan *chain_plan(const char *producer_url, dq_input_boundary *in) {
  dq_error err;
  dq_plan_builder *b;
  dq_plan *p;
  dq_plan_builder_new(&b, &err);
  const char *cols[] = {"n_nationkey"};
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t id1 = dq_plan_stage(
      b, dq_node_scan_tpch(b, "nation", 1, 7, cols, 1), 1, 1, &coalesce);
  uint32_t id2 = dq_plan_stage(b, dq_node_read(b, id1), 1, 1, &coalesce);
  dq_plan_stage(b, dq_node_read(b, id2), 1, 1, NULL);
  assert_int_equal(dq_plan_builder_finish(b, &p, &err), 0);
  dq_plan_builder_free(b);
  memset(in, 0, sizeof *in);
  dq_producer_head h;
  assert_int_equal(dq_stage_producer_head(dq_plan_stage_by_id(p, 1), &h,
                                          &err), 0);
  assert_int_equal(dq_producer_head_encode(&h, &in->head_bytes, &in->head_len,
                                           &err), 0);
  assert_int_equal(dq_producer_head_decode(in->head_bytes, in->head_len,
                                           &in->head, &err), 0);
  in->producer_stage_id = 1;
  in->producer_task_count = 1;
  in->producer_partitions = 1;
  in->urls = malloc(sizeof *in->urls);
  in->urls[0] = strdup(producer_url);
  return p;
}

static void chain_free(dq_plan *p, dq_input_boundary *in) {
  free(in->urls[0]);
  free(in->urls);
  in->urls = NULL;
  dq_input_boundary_clear(in);
  dq_plan_free(p);
}

/* F7 with an input: a consumer task whose producer is unreachable fails
 * its start inside dq_reader_start; coord_finish must not touch the
 * reader that does not exist. */
static void test_finish_after_unreachable_producer(void **state) {
  fixture *fx = *state;
  dq_error err;
  /* The middle stage reads its producer at a URL nobody serves. */
  dq_input_boundary in;
  dq_plan *p = chain_plan("inmem://nobody-here", &in);
  uint8_t *tp;
  size_t tp_len;
  assert_int_equal(dq_task_plan_encode(dq_plan_stage_by_id(p, 2), &in, 1, &tp,
                                       &tp_len, &err), 0);
  dq_set_plan sp = set_plan(fx, tp, tp_len, 2, 0, 1);
  dq_coord *c;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &c, &err), 0);
  const dq_stage *mid = dq_plan_stage_by_id(p, 2);
  dq_producer_head mh;
  uint8_t *mhb;
  size_t mhl;
  assert_int_equal(dq_stage_producer_head(mid, &mh, &err), 0);
  assert_int_equal(dq_producer_head_encode(&mh, &mhb, &mhl, &err), 0);
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.key = sp.key;
  req.partition_end = 1;
  req.producer_head = mhb;
  req.producer_head_len = mhl;
  dq_stream *s = NULL;
  assert_true(fx->ops->execute_task(fx->ch, &req, &s, &err) < 0);
  assert_null(s);
  dq_task_metrics m;
  assert_int_equal(fx->ops->coord_finish(c, &m, &err), 0);
  fx->ops->coord_close(c);
  free(mhb);
  free(tp);
  chain_free(p, &in);
}

/* SetPlan's config carries the coordinator's executor settings to the
 * task: batch_rows = 3 gives batches of at most 3 rows whatever the
 * worker's own default; an unknown key or a bad value is refused naming
 * it, and leaves no task behind. */
static void test_setplan_settings(void **state) {
  fixture *fx = *state;
  dq_error err;
  dq_kv kv[] = {{"batch_rows", "3"}};
  dq_set_plan sp = set_plan(fx, fx->tp, fx->tp_len, 1, 0, 2);
  sp.config = kv;
  sp.n_config = 1;
  dq_coord *c;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp, &c, &err), 0);
  dq_execute_task req;
  memset(&req, 0, sizeof req);
  req.key = sp.key;
  req.partition_end = 2;
  req.producer_head = fx->head;
  req.producer_head_len = fx->head_len;
  dq_stream *s = NULL;
  assert_int_equal(fx->ops->execute_task(fx->ch, &req, &s, &err), 0);
  dq_frame f;
  int64_t rows = 0, batches = 0;
  while (fx->ops->stream_next(s, &f, &err) == 0 && f.kind != DQ_FRAME_END) {
    if (f.kind == DQ_FRAME_SCHEMA) {
      f.schema.release(&f.schema);
    } else if (f.kind == DQ_FRAME_BATCH) {
      assert_true(f.array.length <= 3);
      rows += f.array.length;
      batches++;
      f.array.release(&f.array);
    }
  }
  fx->ops->stream_close(s);
  assert_true(rows > 3); /* so the limit was what cut the batches */
  assert_true(batches >= (rows + 2) / 3);
  fx->ops->coord_close(c);

  static const dq_kv bad[][1] = {{{"batch_rows", "0"}},
                                 {{"batch_rows", "12x"}},
                                 {{"batch_rows", "-5"}},
                                 {{"memory_limit", "64"}}};
  static const char *const said[] = {"batch_rows = '0'", "batch_rows = '12x'",
                                     "batch_rows = '-5'", "'memory_limit'"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sp.config = bad[i];
    expect_refused(fx, &sp, DQ_EINVAL, said[i], said[i]);
  }
}

/* A consumer task opening its input waits for the producer's plan (it
 * has not arrived yet).  Closing the consumer's coordinator channel
 * meanwhile must not wait behind that open: the close returns, the plan
 * that then arrives lets the open finish, and the task, cancelled
 * meanwhile, does not start.  When opens ran under the task's lock, the
 * close waited until the open gave up (plan_wait_ms), so the producer's
 * plan came too late and the start failed with DQ_ETIMEDOUT instead. */
typedef struct blocked_open {
  fixture *fx;
  dq_execute_task req;
  int rc;
  dq_error err;
} blocked_open;

static void *blocked_open_main(void *arg) {
  blocked_open *bo = arg;
  dq_stream *s = NULL;
  bo->rc = bo->fx->ops->execute_task(bo->fx->ch, &bo->req, &s, &bo->err);
  if (bo->rc == 0)
    bo->fx->ops->stream_close(s);
  return NULL;
}

static void test_close_during_blocked_open(void **state) {
  fixture *fx = *state;
  dq_error err;
  /* The middle stage reads stage 1 on this same worker. */
  dq_input_boundary in;
  dq_plan *p = chain_plan(dq_worker_url(fx->w), &in);
  uint8_t *tp2, *tp1;
  size_t tp2_len, tp1_len;
  assert_int_equal(dq_task_plan_encode(dq_plan_stage_by_id(p, 2), &in, 1,
                                       &tp2, &tp2_len, &err), 0);
  assert_int_equal(dq_task_plan_encode(dq_plan_stage_by_id(p, 1), NULL, 0,
                                       &tp1, &tp1_len, &err), 0);
  dq_set_plan sp2 = set_plan(fx, tp2, tp2_len, 2, 0, 1);
  dq_coord *c2, *c1;
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp2, &c2, &err), 0);
  dq_producer_head mh;
  uint8_t *mhb;
  size_t mhl;
  assert_int_equal(dq_stage_producer_head(dq_plan_stage_by_id(p, 2), &mh,
                                          &err), 0);
  assert_int_equal(dq_producer_head_encode(&mh, &mhb, &mhl, &err), 0);
  blocked_open bo = {.fx = fx};
  bo.req.key = sp2.key;
  bo.req.partition_end = 1;
  bo.req.producer_head = mhb;
  bo.req.producer_head_len = mhl;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, blocked_open_main, &bo), 0);
  /* Let the start reach its wait for stage 1's plan (if it has not, the
   * close below comes first and the start is refused: also right). */
  struct timespec pause = {0, 200 * 1000 * 1000};
  nanosleep(&pause, NULL);
  fx->ops->coord_close(c2);
  dq_set_plan sp1 = set_plan(fx, tp1, tp1_len, 1, 0, 1);
  assert_int_equal(fx->ops->coord_open(fx->ch, &sp1, &c1, &err), 0);
  pthread_join(th, NULL);
  if (bo.rc != DQ_ECANCELED)
    fail_msg("the start ended with %s (%s), expected DQ_ECANCELED",
             dq_strerror(bo.rc), bo.err.message);
  fx->ops->coord_close(c1);
  free(mhb);
  free(tp1);
  free(tp2);
  chain_free(p, &in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_truncated_everywhere),
      cmocka_unit_test(test_stream_oversized_metadata),
      cmocka_unit_test(test_stream_oversized_body),
      cmocka_unit_test_setup_teardown(test_setplan_malformed, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_setplan_empty, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_setplan_inconsistent, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_execute_malformed, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_execute_retry_after_failed_start,
                                      fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_setplan_settings, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_close_during_blocked_open,
                                      fx_setup_wait, fx_teardown),
      cmocka_unit_test_setup_teardown(test_finish_after_unreachable_producer,
                                      fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
