/* test_wire.c — unit tests of <dq/wire.h>: every message round-trips
 * field for field; every truncation and every corrupted byte of each
 * encoded message either fails with DQ_EPROTO and a sentence naming the
 * message, or (protobuf cannot tell a message cut at a field boundary from
 * a shorter one) decodes to something that differs from the original;
 * malformed task keys and oversized strings are refused; and partition
 * stream frames survive encoding, splitting and zero-copy decoding, with
 * every release callback run exactly once.  Run under ASan (or valgrind)
 * to prove nothing is read out of bounds and nothing leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/wire.h>

#include "ipc_testdata.h"

static const dq_task_key key1 = {
    {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 3, 7};

/* An exact-size copy, so a read past the end is caught by the sanitizer. */
static uint8_t *exact(const void *p, size_t n) {
  uint8_t *c = malloc(n ? n : 1);
  assert_non_null(c);
  if (n)
    memcpy(c, p, n);
  return c;
}

static void assert_proto_error(int rc, const dq_error *err,
                               const char *needle) {
  assert_int_equal(rc, DQ_EPROTO);
  assert_int_equal(err->code, DQ_EPROTO);
  if (strstr(err->message, needle) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", err->message, needle);
}

/* --- SetPlan ---------------------------------------------------------------*/

static const uint8_t plan_bytes[] = {0x0a, 0x00, 0xff, 0x10, 0x20, 0x7f};
static const dq_kv plan_config[] = {{"batch_size", "8192"},
                                    {"plan_wait_ms", "5000"},
                                    {"empty", ""}};

static dq_set_plan sample_plan(void) {
  dq_set_plan sp = {key1,           4,           plan_bytes,
                    sizeof plan_bytes, "shm:///tmp/w0", plan_config,
                    3};
  return sp;
}

static int set_plan_equal(const dq_set_plan *a, const dq_set_plan *b) {
  if (memcmp(&a->key, &b->key, sizeof a->key) != 0 ||
      a->task_count != b->task_count || a->plan_len != b->plan_len ||
      (a->plan_len && memcmp(a->plan, b->plan, a->plan_len) != 0) ||
      strcmp(a->target_worker_url, b->target_worker_url) != 0 ||
      a->n_config != b->n_config)
    return 0;
  for (size_t i = 0; i < a->n_config; i++)
    if (strcmp(a->config[i].key, b->config[i].key) != 0 ||
        strcmp(a->config[i].value, b->config[i].value) != 0)
      return 0;
  return 1;
}

static void test_set_plan_round_trip(void **state) {
  (void)state;
  dq_set_plan sp = sample_plan();
  void *buf;
  size_t len;
  dq_error err;
  assert_int_equal(dq_wire_encode_set_plan(&sp, &buf, &len, &err), 0);
  dq_set_plan *back;
  assert_int_equal(dq_wire_decode_set_plan(buf, len, &back, &err), 0);
  assert_true(set_plan_equal(&sp, back));
  dq_wire_set_plan_free(back);

  /* No config, no plan bytes, no URL: still a valid message. */
  dq_set_plan empty = {key1, 1, NULL, 0, NULL, NULL, 0};
  void *buf2;
  size_t len2;
  assert_int_equal(dq_wire_encode_set_plan(&empty, &buf2, &len2, &err), 0);
  assert_int_equal(dq_wire_decode_set_plan(buf2, len2, &back, &err), 0);
  assert_int_equal(back->n_config, 0);
  assert_int_equal(back->plan_len, 0);
  assert_string_equal(back->target_worker_url, "");
  dq_wire_set_plan_free(back);
  dq_wire_free(buf2);

  /* Every prefix: an error naming SetPlan, or a message that differs. */
  for (size_t n = 0; n < len; n++) {
    uint8_t *c = exact(buf, n);
    dq_error_clear(&err);
    int rc = dq_wire_decode_set_plan(c, n, &back, &err);
    if (rc < 0) {
      assert_proto_error(rc, &err, "SetPlan");
      assert_null(back);
    } else {
      assert_false(set_plan_equal(&sp, back));
      dq_wire_set_plan_free(back);
    }
    free(c);
  }
  /* Every byte corrupted: refused with DQ_EPROTO, or decoded, never more. */
  for (size_t i = 0; i < len; i++) {
    uint8_t *c = exact(buf, len);
    c[i] ^= 0xff;
    dq_error_clear(&err);
    int rc = dq_wire_decode_set_plan(c, len, &back, &err);
    if (rc < 0)
      assert_proto_error(rc, &err, "SetPlan");
    else
      dq_wire_set_plan_free(back);
    free(c);
  }
  dq_wire_free(buf);

  /* A NULL pointer with a count is the caller's bug: DQ_EINVAL. */
  dq_set_plan bad = sample_plan();
  bad.config = NULL;
  assert_int_equal(dq_wire_encode_set_plan(&bad, &buf, &len, &err),
                   DQ_EINVAL);
  dq_kv nullkv[] = {{"k", NULL}};
  bad = sample_plan();
  bad.config = nullkv;
  bad.n_config = 1;
  assert_int_equal(dq_wire_encode_set_plan(&bad, &buf, &len, &err),
                   DQ_EINVAL);
}

/* --- task keys: one rule for every message ----------------------------------*/

/* field 1 (task_key) = {field 1 (query_id) = 3 bytes} */
static const uint8_t short_key[] = {0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'};
/* field 2 as a varint only: no task key at all */
static const uint8_t no_key[] = {0x10, 0x05};

static void test_malformed_task_keys(void **state) {
  (void)state;
  dq_error err;
  dq_set_plan *sp;
  dq_execute_task *ex;
  dq_task_metrics *tm;
  dq_error carried;

  assert_proto_error(
      dq_wire_decode_set_plan(short_key, sizeof short_key, &sp, &err), &err,
      "3-byte query id");
  assert_proto_error(
      dq_wire_decode_execute_task(short_key, sizeof short_key, &ex, &err),
      &err, "ExecuteTaskRequest");
  assert_proto_error(
      dq_wire_decode_task_metrics(short_key, sizeof short_key, &tm, &err),
      &err, "TaskMetrics message whose task key has a 3-byte query id");
  /* In an Error the task key is field 4 and optional, but never short. */
  const uint8_t err_short_key[] = {0x22, 0x05, 0x0a, 0x03, 'a', 'b', 'c'};
  assert_proto_error(dq_wire_decode_error(err_short_key, sizeof err_short_key,
                                          &carried, &err),
                     &err, "Error message whose task key has a 3-byte");
  assert_proto_error(dq_wire_decode_set_plan(no_key, sizeof no_key, &sp, &err),
                     &err, "without a task key");
  assert_proto_error(
      dq_wire_decode_execute_task(no_key, sizeof no_key, &ex, &err), &err,
      "without a task key");
  assert_proto_error(
      dq_wire_decode_task_metrics(no_key, sizeof no_key, &tm, &err), &err,
      "without a task key");
}

/* --- WorkUnit and CoordinatorMessage -----------------------------------------*/

static void test_coord_messages(void **state) {
  (void)state;
  dq_error err;
  const uint8_t unit[] = {9, 8, 7, 0, 6};
  void *buf, *got;
  size_t len, got_len;
  dq_set_plan *sp;

  assert_int_equal(dq_wire_encode_work_unit(unit, sizeof unit, &buf, &len,
                                            &err), 0);
  assert_int_equal(dq_wire_decode_work_unit(buf, len, &got, &got_len, &err),
                   0);
  assert_int_equal(got_len, sizeof unit);
  assert_memory_equal(got, unit, sizeof unit);
  dq_wire_free(got);
  dq_wire_free(buf);

  /* An empty unit decodes to a non-NULL zero-length buffer. */
  assert_int_equal(dq_wire_encode_work_unit(NULL, 0, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_work_unit(buf, len, &got, &got_len, &err),
                   0);
  assert_non_null(got);
  assert_int_equal(got_len, 0);
  dq_wire_free(got);
  dq_wire_free(buf);

  dq_set_plan p = sample_plan();
  assert_int_equal(dq_wire_encode_coord_set_plan(&p, &buf, &len, &err), 0);
  assert_int_equal(
      dq_wire_decode_coord_message(buf, len, &sp, &got, &got_len, &err), 0);
  assert_non_null(sp);
  assert_null(got);
  assert_true(set_plan_equal(&p, sp));
  dq_wire_set_plan_free(sp);
  for (size_t n = 0; n < len; n++) {
    uint8_t *c = exact(buf, n);
    int rc = dq_wire_decode_coord_message(c, n, &sp, &got, &got_len, &err);
    if (rc < 0) {
      assert_int_equal(rc, DQ_EPROTO);
      assert_null(sp);
      assert_null(got);
    } else {
      assert_true(sp == NULL || !set_plan_equal(&p, sp));
      dq_wire_set_plan_free(sp);
      dq_wire_free(got);
    }
    free(c);
  }
  dq_wire_free(buf);

  assert_int_equal(
      dq_wire_encode_coord_work_unit(unit, sizeof unit, &buf, &len, &err), 0);
  assert_int_equal(
      dq_wire_decode_coord_message(buf, len, &sp, &got, &got_len, &err), 0);
  assert_null(sp);
  assert_int_equal(got_len, sizeof unit);
  assert_memory_equal(got, unit, sizeof unit);
  dq_wire_free(got);
  dq_wire_free(buf);

  /* An empty CoordinatorMessage carries neither. */
  assert_proto_error(
      dq_wire_decode_coord_message("", 0, &sp, &got, &got_len, &err), &err,
      "neither a SetPlan nor a WorkUnit");
  /* A WorkUnit field that is not length-delimited. */
  const uint8_t bad[] = {0x12, 0x05, 0x0a};
  assert_proto_error(dq_wire_decode_coord_message(bad, sizeof bad, &sp, &got,
                                                  &got_len, &err),
                     &err, "malformed CoordinatorMessage");
}

/* --- ExecuteTaskRequest --------------------------------------------------------*/

static void test_execute_task(void **state) {
  (void)state;
  const uint8_t head[] = {1, 2, 3, 0, 0, 4};
  dq_execute_task req = {key1, 8, 16, head, sizeof head};
  void *buf;
  size_t len;
  dq_error err;
  dq_execute_task *back;
  assert_int_equal(dq_wire_encode_execute_task(&req, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_execute_task(buf, len, &back, &err), 0);
  assert_memory_equal(&back->key, &key1, sizeof key1);
  assert_int_equal(back->partition_start, 8);
  assert_int_equal(back->partition_end, 16);
  assert_int_equal(back->producer_head_len, sizeof head);
  assert_memory_equal(back->producer_head, head, sizeof head);
  dq_wire_execute_task_free(back);
  for (size_t n = 0; n < len; n++) {
    uint8_t *c = exact(buf, n);
    int rc = dq_wire_decode_execute_task(c, n, &back, &err);
    if (rc < 0) {
      assert_proto_error(rc, &err, "ExecuteTaskRequest");
    } else {
      assert_true(back->producer_head_len != sizeof head ||
                  back->partition_end != 16 || back->partition_start != 8);
      dq_wire_execute_task_free(back);
    }
    free(c);
  }
  dq_wire_free(buf);
}

/* --- TaskMetrics -----------------------------------------------------------------*/

static void test_task_metrics(void **state) {
  (void)state;
  dq_boundary_metrics b[2] = {{1, 1, 1000, 10, 100, 5555, 4096},
                              {2, 3, UINT64_MAX, 1, 2, 3, 0}};
  dq_task_metrics m = {key1, 321, 11, 22, 33, 44, 55, 2, b};
  void *buf;
  size_t len;
  dq_error err;
  dq_task_metrics *back;
  assert_int_equal(dq_wire_encode_task_metrics(&m, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_task_metrics(buf, len, &back, &err), 0);
  assert_memory_equal(&back->key, &key1, sizeof key1);
  assert_int_equal(back->plan_bytes, 321);
  assert_int_equal(back->queued_ns, 11);
  assert_int_equal(back->run_ns, 22);
  assert_int_equal(back->rows_out, 33);
  assert_int_equal(back->batches_out, 44);
  assert_int_equal(back->bytes_out, 55);
  assert_int_equal(back->n_boundaries, 2);
  assert_memory_equal(back->boundaries, b, sizeof b);
  dq_wire_task_metrics_free(back);
  for (size_t n = 0; n < len; n++) {
    uint8_t *c = exact(buf, n);
    int rc = dq_wire_decode_task_metrics(c, n, &back, &err);
    if (rc < 0) {
      assert_proto_error(rc, &err, "TaskMetrics");
    } else {
      assert_true(back->n_boundaries != 2 ||
                  memcmp(back->boundaries, b, sizeof b) != 0);
      dq_wire_task_metrics_free(back);
    }
    free(c);
  }
  dq_wire_free(buf);

  dq_task_metrics none = {key1, 0, 0, 0, 0, 0, 0, 0, NULL};
  assert_int_equal(dq_wire_encode_task_metrics(&none, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_task_metrics(buf, len, &back, &err), 0);
  assert_int_equal(back->n_boundaries, 0);
  dq_wire_task_metrics_free(back);
  dq_wire_free(buf);
}

/* --- WorkerInfo ---------------------------------------------------------------*/

static void test_worker_info(void **state) {
  (void)state;
  dq_worker_info wi = {"0.1.0", 1, "grpc://127.0.0.1:7000"};
  void *buf;
  size_t len;
  dq_error err;
  dq_worker_info back;
  assert_int_equal(dq_wire_encode_worker_info(&wi, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_worker_info(buf, len, &back, &err), 0);
  assert_string_equal(back.version, "0.1.0");
  assert_string_equal(back.url, "grpc://127.0.0.1:7000");
  assert_int_equal(back.protocol_version, 1);
  dq_wire_free(buf);

  /* A URL of 300 bytes cannot fit dq_worker_info: refused, not cut. */
  uint8_t longurl[3 + 300];
  longurl[0] = 0x1a;
  longurl[1] = 0xac; /* 300 as a varint */
  longurl[2] = 0x02;
  memset(longurl + 3, 'a', 300);
  assert_proto_error(
      dq_wire_decode_worker_info(longurl, sizeof longurl, &back, &err), &err,
      "300-byte URL");
  /* Field 3 declared longer than the bytes there are. */
  assert_proto_error(dq_wire_decode_worker_info(longurl, 100, &back, &err),
                     &err, "malformed WorkerInfo");
}

/* --- Error ----------------------------------------------------------------------*/

static void test_error(void **state) {
  (void)state;
  dq_error e, back, err;
  dq_error_set(&e, DQ_ETIMEDOUT, "the plan did not arrive within %d ms", 50);
  dq_error_set_origin(&e, "tcp://10.0.0.1:9", &key1);
  void *buf;
  size_t len;
  assert_int_equal(dq_wire_encode_error(&e, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_error(buf, len, &back, &err), 0);
  assert_int_equal(back.code, DQ_ETIMEDOUT);
  assert_string_equal(back.message, e.message);
  assert_string_equal(back.worker_url, "tcp://10.0.0.1:9");
  assert_true(back.has_task);
  assert_memory_equal(&back.task, &key1, sizeof key1);
  /* The same struct as both the result and the decoding error. */
  assert_int_equal(dq_wire_decode_error(buf, len, &back, &back), 0);
  assert_int_equal(back.code, DQ_ETIMEDOUT);
  dq_wire_free(buf);

  /* No origin, no task. */
  dq_error_set(&e, DQ_EEXEC, "division by zero");
  assert_int_equal(dq_wire_encode_error(&e, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_error(buf, len, &back, &err), 0);
  assert_false(back.has_task);
  assert_string_equal(back.worker_url, "");
  dq_wire_free(buf);

  /* A code that is no DQ_E* code arrives as DQ_EPROTO, saying which. */
  const uint8_t odd[] = {0x08, 0x07, 0x12, 0x02, 'h', 'i'};
  assert_int_equal(dq_wire_decode_error(odd, sizeof odd, &back, &err), 0);
  assert_int_equal(back.code, DQ_EPROTO);
  assert_non_null(strstr(back.message, "hi (the peer sent error code 7"));
  /* An empty message becomes the code's name, never an empty sentence. */
  dq_error_set(&e, DQ_EUNAVAILABLE, "%s", "");
  assert_int_equal(dq_wire_encode_error(&e, &buf, &len, &err), 0);
  assert_int_equal(dq_wire_decode_error(buf, len, &back, &err), 0);
  assert_int_equal(back.code, DQ_EUNAVAILABLE);
  assert_string_equal(back.message, "DQ_EUNAVAILABLE");
  dq_wire_free(buf);
  /* Bytes that are not an Error. */
  const uint8_t junk[] = {0xff, 0xff, 0xff};
  assert_proto_error(dq_wire_decode_error(junk, sizeof junk, &back, &err),
                     &err, "malformed Error");
}

/* --- frames -----------------------------------------------------------------------*/

typedef struct collected {
  int n;
  uint32_t kind[64];
  uint32_t part[64];
  uint8_t *msg[64];
  size_t len[64];
  int fail_at; /* emit returns an error at this call (-1: never) */
} collected;

static int collect(void *ctx, uint32_t kind, uint32_t partition,
                   dq_ipc_message *m, dq_error *err) {
  collected *c = ctx;
  if (c->n == c->fail_at)
    return dq_error_set(err, DQ_EUNAVAILABLE, "the peer went away");
  assert_true(c->n < 64);
  c->kind[c->n] = kind;
  c->part[c->n] = partition;
  c->msg[c->n] = NULL;
  c->len[c->n] = 0;
  if (m != NULL) {
    size_t n = dq_ipc_message_size(m);
    /* 64-aligned and padded, as a transport receiving it would hold it. */
    c->msg[c->n] = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    assert_non_null(c->msg[c->n]);
    dq_ipc_message_copy(m, c->msg[c->n]);
    c->len[c->n] = n;
  } else {
    assert_true(kind == DQ_FRAME_EOS || kind == DQ_FRAME_END);
  }
  c->n++;
  return 0;
}

static void collected_free(collected *c) {
  for (int i = 0; i < c->n; i++)
    free(c->msg[i]);
  c->n = 0;
}

static dq_frame schema_frame(dq_schema *s) {
  dq_frame f;
  memset(&f, 0, sizeof f);
  f.kind = DQ_FRAME_SCHEMA;
  assert_int_equal(dq_schema_export(s, &f.schema, NULL), 0);
  return f;
}

static dq_frame batch_frame(dq_batch *b, uint32_t partition) {
  dq_frame f;
  memset(&f, 0, sizeof f);
  f.kind = DQ_FRAME_BATCH;
  f.partition = partition;
  assert_int_equal(dq_batch_export(b, &f.array, NULL), 0);
  return f;
}

static int releases;
static void count_release(void *ctx) {
  releases++;
  free(ctx);
}

/* Decodes the collected messages; checks rows [0, rows) in order. */
static void decode_all(collected *c, int64_t rows, int zero_copy) {
  dq_wire_frame_decoder *d;
  dq_error err;
  assert_int_equal(dq_wire_frame_decoder_new(&d, &err), 0);
  int64_t next = 0;
  int frees = 0;
  releases = 0;
  for (int i = 0; i < c->n; i++) {
    dq_frame f;
    if (c->kind[i] == DQ_FRAME_EOS || c->kind[i] == DQ_FRAME_END)
      continue;
    uint8_t *m = c->msg[i];
    int rc;
    if (zero_copy) {
      c->msg[i] = NULL; /* taken over */
      frees++;
      rc = dq_wire_frame_decode(d, c->part[i], m, c->len[i], count_release,
                                m, &f, &err);
    } else {
      rc = dq_wire_frame_decode(d, c->part[i], m, c->len[i], NULL, NULL, &f,
                                &err);
    }
    if (rc != 0)
      fail_msg("decode %d: %s", i, err.message);
    assert_int_equal(f.kind, c->kind[i]);
    if (f.kind == DQ_FRAME_SCHEMA) {
      assert_non_null(dq_wire_frame_decoder_schema(d));
      f.schema.release(&f.schema);
      continue;
    }
    assert_int_equal(f.partition, c->part[i]);
    dq_batch *b;
    assert_int_equal(
        dq_batch_import(&f.array, dq_wire_frame_decoder_schema(d), &b, &err),
        0);
    char why[256];
    int64_t n = dq_batch_n_rows(b);
    if (td_check(b, next, n, why, sizeof why) != 0)
      fail_msg("%s", why);
    next += n;
    dq_batch_unref(b);
  }
  assert_int_equal(next, rows);
  dq_wire_frame_decoder_free(d);
  if (zero_copy)
    assert_int_equal(releases, frees);
}

static void test_frames_round_trip(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = td_batch(s, 0, 1000);
  assert_non_null(b);
  dq_error err;
  for (int split = 0; split < 2; split++) {
    for (int zc = 0; zc < 2; zc++) {
      collected c = {.fail_at = -1};
      dq_wire_frame_encoder *e;
      /* 8 KiB messages split the ~60 KiB batch into several. */
      assert_int_equal(
          dq_wire_frame_encoder_new(split ? 8192 : 0, &e, &err), 0);
      dq_frame f = schema_frame(s);
      assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), 0);
      f = batch_frame(b, 5);
      assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), 0);
      dq_frame eos = {.kind = DQ_FRAME_EOS, .partition = 5};
      assert_int_equal(dq_wire_frame_encode(e, &eos, collect, &c, &err), 0);
      dq_frame end = {.kind = DQ_FRAME_END};
      assert_int_equal(dq_wire_frame_encode(e, &end, collect, &c, &err), 0);
      dq_wire_frame_encoder_free(e);
      assert_int_equal(c.kind[0], DQ_FRAME_SCHEMA);
      assert_int_equal(c.kind[c.n - 2], DQ_FRAME_EOS);
      assert_int_equal(c.part[c.n - 2], 5);
      assert_int_equal(c.kind[c.n - 1], DQ_FRAME_END);
      if (split) {
        assert_true(c.n > 4);
        for (int i = 0; i < c.n; i++)
          assert_true(c.len[i] <= 8192);
      } else {
        assert_int_equal(c.n, 4);
      }
      decode_all(&c, 1000, zc);
      collected_free(&c);
    }
  }
  dq_batch_unref(b);
  dq_schema_unref(s);
}

static void test_frame_encoder_errors(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = td_batch(s, 0, 50);
  dq_error err;
  dq_wire_frame_encoder *e;
  collected c = {.fail_at = -1};

  /* A batch before the schema: refused, and the array is released (ASan
   * reports a leak otherwise). */
  assert_int_equal(dq_wire_frame_encoder_new(0, &e, &err), 0);
  dq_frame f = batch_frame(b, 0);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "before its schema"));
  assert_null(f.array.release);
  /* A second schema. */
  f = schema_frame(s);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), 0);
  f = schema_frame(s);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "second schema"));
  assert_null(f.schema.release);
  /* The emitter's error comes back as it is. */
  c.fail_at = c.n;
  f = batch_frame(b, 0);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err),
                   DQ_EUNAVAILABLE);
  assert_string_equal(err.message, "the peer went away");
  dq_wire_frame_encoder_free(e);
  collected_free(&c);

  /* A limit no single row fits: DQ_ETOOBIG naming the limit. */
  c.fail_at = -1;
  assert_int_equal(dq_wire_frame_encoder_new(300, &e, &err), 0);
  f = schema_frame(s);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), 0);
  f = batch_frame(b, 0);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err),
                   DQ_ETOOBIG);
  assert_non_null(strstr(err.message, "300-byte message limit"));
  dq_wire_frame_encoder_free(e);
  collected_free(&c);
  dq_batch_unref(b);
  dq_schema_unref(s);
}

static void test_frame_decoder_errors(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = td_batch(s, 0, 50);
  dq_error err;
  dq_wire_frame_encoder *e;
  collected c = {.fail_at = -1};
  assert_int_equal(dq_wire_frame_encoder_new(0, &e, &err), 0);
  dq_frame f = schema_frame(s);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), 0);
  f = batch_frame(b, 2);
  assert_int_equal(dq_wire_frame_encode(e, &f, collect, &c, &err), 0);
  dq_wire_frame_encoder_free(e);

  dq_wire_frame_decoder *d;
  assert_int_equal(dq_wire_frame_decoder_new(&d, &err), 0);
  /* A batch before the schema; the lent bytes are given back once. */
  releases = 0;
  uint8_t *copy = exact(c.msg[1], c.len[1]);
  assert_proto_error(dq_wire_frame_decode(d, 2, copy, c.len[1],
                                          count_release, copy, &f, &err),
                     &err, "before its schema");
  assert_int_equal(releases, 1);
  /* The schema, then a second one. */
  assert_int_equal(
      dq_wire_frame_decode(d, 0, c.msg[0], c.len[0], NULL, NULL, &f, &err), 0);
  f.schema.release(&f.schema);
  copy = exact(c.msg[0], c.len[0]);
  assert_proto_error(dq_wire_frame_decode(d, 0, copy, c.len[0],
                                          count_release, copy, &f, &err),
                     &err, "second schema");
  assert_int_equal(releases, 2);
  /* Every truncation of the batch message: a clear error, one release. */
  for (size_t n = 0; n < c.len[1]; n++) {
    copy = exact(c.msg[1], n);
    int before = releases;
    int rc = dq_wire_frame_decode(d, 2, copy, n, count_release, copy, &f,
                                  &err);
    assert_int_equal(rc, DQ_EPROTO);
    assert_true(err.message[0] != '\0');
    assert_int_equal(releases, before + 1);
  }
  /* Corrupt bytes in the metadata: an error, or a valid batch; never more,
   * and the memory always comes back exactly once. */
  for (size_t i = 0; i < 256 && i < c.len[1]; i++) {
    copy = exact(c.msg[1], c.len[1]);
    copy[i] ^= 0x5a;
    int before = releases;
    int rc = dq_wire_frame_decode(d, 2, copy, c.len[1], count_release, copy,
                                  &f, &err);
    if (rc == 0)
      f.array.release(&f.array);
    else
      assert_true(rc == DQ_EPROTO || rc == DQ_EUNSUPPORTED);
    assert_int_equal(releases, before + 1);
  }
  /* An end-of-stream marker is no frame. */
  assert_proto_error(dq_wire_frame_decode(d, 0, dq_ipc_eos, sizeof dq_ipc_eos,
                                          NULL, NULL, &f, &err),
                     &err, "type 0");
  assert_proto_error(
      dq_wire_frame_decode(d, 0, NULL, 0, NULL, NULL, &f, &err), &err,
      "empty");
  dq_wire_frame_decoder_free(d);
  collected_free(&c);
  dq_batch_unref(b);
  dq_schema_unref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_set_plan_round_trip),
      cmocka_unit_test(test_malformed_task_keys),
      cmocka_unit_test(test_coord_messages),
      cmocka_unit_test(test_execute_task),
      cmocka_unit_test(test_task_metrics),
      cmocka_unit_test(test_worker_info),
      cmocka_unit_test(test_error),
      cmocka_unit_test(test_frames_round_trip),
      cmocka_unit_test(test_frame_encoder_errors),
      cmocka_unit_test(test_frame_decoder_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
