/* test_ipc.c — unit tests of the Arrow IPC codec (include/dq/ipc.h):
 * round trips of every type with nulls, zero-copy lifetimes, the stream
 * reader/writer, and a battery of malformed messages that must each fail
 * with DQ_EPROTO (or DQ_EUNSUPPORTED for valid Arrow dq lacks) without
 * reading out of bounds — run it under ASan or valgrind to prove the latter.
 *
 * Malformed inputs are made by patching a valid message in place: the test
 * walks the message with flatbuf.h's verifier to find the field to corrupt,
 * and copies each variant into an allocation of exactly its size so that a
 * read past the end is caught by the sanitizer rather than hidden by slack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/ipc.h>

#include "arrow/batch_internal.h"
#include "ipc/flatbuf.h"
#include "ipc/ipc_format.h"
#include "ipc_testdata.h"

/* --- helpers -------------------------------------------------------------- */

static dq_batch *must_batch(dq_schema *s, int64_t start, int64_t n) {
  dq_batch *b = td_batch(s, start, n);
  assert_non_null(b);
  return b;
}

static void check_rows(const dq_batch *b, int64_t start, int64_t n) {
  char why[256];
  if (td_check(b, start, n, why, sizeof why) != 0)
    fail_msg("%s", why);
}

/* An encoded batch in a malloc'd 64-aligned block. */
typedef struct enc {
  uint8_t *p;
  size_t len;
} enc;

static enc encode_batch(dq_batch *b) {
  enc e;
  void *p;
  dq_error err = {0};
  int rc = dq_ipc_encode_batch_flat(b, &p, &e.len, &err);
  if (rc != 0)
    fail_msg("encode: %s", err.message);
  e.p = p;
  return e;
}

static enc encode_schema(const dq_schema *s) {
  enc e;
  void *p;
  dq_error err = {0};
  int rc = dq_ipc_encode_schema_flat(s, &p, &e.len, &err);
  if (rc != 0)
    fail_msg("encode: %s", err.message);
  e.p = p;
  return e;
}

/* Decodes a copy of msg[0..len) held in an exact-size allocation. */
static int decode_exact(dq_schema *s, const uint8_t *msg, size_t len,
                        bool zero_copy, dq_batch **out, dq_error *err) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len)
    memcpy(copy, msg, len);
  int rc;
  if (zero_copy) {
    rc = dq_ipc_decode_batch(s, copy, len, free, copy, out, err);
  } else {
    rc = dq_ipc_decode_batch(s, copy, len, NULL, NULL, out, err);
    free(copy);
  }
  return rc;
}

static int decode_schema_exact(const uint8_t *msg, size_t len,
                               dq_schema **out, dq_error *err) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len)
    memcpy(copy, msg, len);
  int rc = dq_ipc_decode_schema(copy, len, out, err);
  free(copy);
  return rc;
}

/* Expects decoding msg to fail with `code` and a non-empty sentence. */
static void expect_fail(dq_schema *s, const uint8_t *msg, size_t len,
                        int code, const char *label) {
  for (int zc = 0; zc < 2; zc++) {
    dq_error err = {0};
    dq_batch *b = NULL;
    int rc = decode_exact(s, msg, len, zc, &b, &err);
    if (rc != code)
      fail_msg("%s (%s): expected %s, got %s: %s", label,
               zc ? "zero-copy" : "copy", dq_strerror(code), dq_strerror(rc),
               err.message);
    assert_null(b);
    assert_true(strlen(err.message) > 10);
    /* DQ_TEST_VERBOSE=1 shows that each case fails for its own reason */
    if (zc == 0 && getenv("DQ_TEST_VERBOSE") != NULL)
      print_message("%-34s %s\n", label, err.message);
  }
}

/* A view of a record batch message, for patching. */
typedef struct view {
  fb_buf fb;
  fb_table msg, rb;
  fb_vec nodes, bufs;
  uint8_t *meta, *body;
  size_t body_len;
} view;

static void view_init(view *v, uint8_t *msg, size_t len) {
  size_t meta_len;
  ipc_meta m;
  assert_int_equal(ipc_parse_prefix(msg, &meta_len, NULL), 0);
  assert_int_equal(ipc_parse_meta(msg + 8, meta_len, &m, NULL), 0);
  v->meta = msg + 8;
  v->fb.data = v->meta;
  v->fb.len = meta_len;
  bool present;
  assert_int_equal(fb_root(&v->fb, "m", &v->msg, NULL), 0);
  assert_int_equal(fb_table_field(&v->msg, MSG_HEADER, "h", &v->rb, &present,
                                  NULL), 0);
  assert_int_equal(fb_vector(&v->rb, RB_NODES, 16, "n", &v->nodes, &present,
                             NULL), 0);
  assert_int_equal(fb_vector(&v->rb, RB_BUFFERS, 16, "b", &v->bufs, &present,
                             NULL), 0);
  v->body = msg + 8 + meta_len;
  v->body_len = (size_t)m.body_len;
  assert_true(8 + meta_len + v->body_len <= len);
}

/* Address of field id of table t (which must be present). */
static uint8_t *field_at(view *v, const fb_table *t, unsigned id) {
  const uint8_t *vt = v->meta + t->vt;
  uint16_t off = (uint16_t)(vt[4 + 2 * id] | vt[5 + 2 * id] << 8);
  assert_true(off != 0);
  return v->meta + t->pos + off;
}

static void put64(uint8_t *p, int64_t x) { memcpy(p, &x, 8); }
static int64_t get64(const uint8_t *p) {
  int64_t x;
  memcpy(&x, p, 8);
  return x;
}
static void put32(uint8_t *p, int32_t x) { memcpy(p, &x, 4); }

static uint8_t *node_at(view *v, size_t i) {
  return v->meta + v->nodes.pos + 16 * i;
}
static uint8_t *buf_at(view *v, size_t i) {
  return v->meta + v->bufs.pos + 16 * i;
}

/* Index in the Buffer list of the first buffer of column c of td_schema. */
static size_t td_buf_index(size_t c) {
  size_t k = 0;
  for (size_t i = 0; i < c; i++)
    k += i == 5 ? 3 : 2;
  return k;
}

/* --- round trips ---------------------------------------------------------- */

static void test_schema_roundtrip(void **state) {
  (void)state;
  const char *names[] = {"a", "", "ünï", "d", "e", "f", "g", "h"};
  dq_type types[] = {{DQ_TYPE_BOOL, 0, 0},    {DQ_TYPE_INT32, 0, 0},
                     {DQ_TYPE_INT64, 0, 0},   {DQ_TYPE_FLOAT64, 0, 0},
                     {DQ_TYPE_UTF8, 0, 0},    {DQ_TYPE_DATE32, 0, 0},
                     {DQ_TYPE_DECIMAL, 1, 0}, {DQ_TYPE_DECIMAL, 38, 38}};
  bool nullable[] = {true, false, true, false, true, false, true, false};
  dq_schema *s, *back;
  assert_int_equal(dq_schema_new(8, names, types, nullable, &s, NULL), 0);
  enc e = encode_schema(s);
  assert_int_equal(e.len % 8, 0);
  dq_ipc_info info;
  assert_int_equal(dq_ipc_peek(e.p, e.len, &info, NULL), 0);
  assert_int_equal(info.type, DQ_IPC_SCHEMA);
  assert_int_equal(info.message_len, e.len);
  assert_int_equal(info.body_len, 0);
  dq_error err = {0};
  assert_int_equal(dq_ipc_decode_schema(e.p, e.len, &back, &err), 0);
  assert_true(dq_schema_equal(s, back));
  for (size_t i = 0; i < 8; i++) {
    assert_string_equal(dq_schema_field_name(back, i), names[i]);
    assert_int_equal(dq_schema_field_nullable(back, i), nullable[i]);
    dq_type t = dq_schema_field_type(back, i);
    assert_int_equal(t.id, types[i].id);
    if (t.id == DQ_TYPE_DECIMAL) {
      assert_int_equal(t.precision, types[i].precision);
      assert_int_equal(t.scale, types[i].scale);
    }
  }
  /* a schema message is not a batch */
  expect_fail(s, e.p, e.len, DQ_EPROTO, "schema as batch");
  dq_schema_unref(back);
  dq_schema_unref(s);
  free(e.p);

  /* zero fields */
  assert_int_equal(dq_schema_new(0, NULL, NULL, NULL, &s, NULL), 0);
  e = encode_schema(s);
  assert_int_equal(dq_ipc_decode_schema(e.p, e.len, &back, &err), 0);
  assert_int_equal(dq_schema_n_fields(back), 0);
  dq_schema_unref(back);
  dq_schema_unref(s);
  free(e.p);
}

static void roundtrip(int64_t start, int64_t n) {
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, start, n);
  enc se = encode_schema(s);
  enc be = encode_batch(b);
  dq_schema *s2;
  dq_error err = {0};
  assert_int_equal(dq_ipc_decode_schema(se.p, se.len, &s2, &err), 0);
  assert_true(dq_schema_equal(s, s2));
  dq_ipc_info info;
  assert_int_equal(dq_ipc_peek(be.p, be.len, &info, &err), 0);
  assert_int_equal(info.type, DQ_IPC_RECORD_BATCH);
  assert_int_equal(info.message_len, be.len);
  assert_int_equal((8 + info.metadata_len) % 64, 0);
  assert_int_equal(info.body_len % 64, 0);
  for (int zc = 0; zc < 2; zc++) {
    dq_batch *back = NULL;
    int rc = decode_exact(s2, be.p, be.len, zc, &back, &err);
    if (rc != 0)
      fail_msg("decode %lld rows: %s", (long long)n, err.message);
    check_rows(back, start, n);
    assert_int_equal(dq_batch_n_rows(back), n);
    dq_batch_unref(back);
  }
  /* in place from the aligned block: every buffer is read without a copy */
  dq_batch *zc = NULL;
  uint8_t *block = be.p;
  assert_int_equal(
      dq_ipc_decode_batch(s2, block, be.len, free, block, &zc, &err), 0);
  for (size_t c = 0; c < TD_NCOLS; c++) {
    const dq_array *a = dq_batch_column(zc, c);
    const dq_buffer *bufs[3] = {a->validity, a->values, a->offsets};
    for (int k = 0; k < 3; k++)
      if (bufs[k] != NULL && bufs[k]->size > 0)
        assert_true(bufs[k]->data >= block && bufs[k]->data < block + be.len);
  }
  check_rows(zc, start, n);
  dq_batch_unref(zc); /* frees block */
  dq_batch_unref(b);
  dq_schema_unref(s);
  dq_schema_unref(s2);
  free(se.p);
}

static void test_roundtrip_small(void **state) {
  (void)state;
  roundtrip(0, 0);
  roundtrip(0, 1);
  roundtrip(1, 1);
  roundtrip(2, 1);
  for (int64_t n = 2; n <= 17; n++)
    roundtrip(n * 3, n);
  roundtrip(0, 64);
  roundtrip(5, 65);
  roundtrip(0, 1000);
}

static void test_roundtrip_large(void **state) {
  (void)state;
  roundtrip(123, 200000);
}

/* Zero-copy slices: the body is the batch's own memory, not a copy, and the
 * slices add up to the flat encoding. */
static void test_message_slices(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, 0, 100);
  dq_ipc_message *m;
  assert_int_equal(dq_ipc_encode_batch(b, &m, NULL), 0);
  size_t n;
  const dq_ipc_slice *sl = dq_ipc_message_slices(m, &n);
  size_t total = 0;
  bool found_values = false;
  const dq_array *i32 = dq_batch_column(b, 2);
  for (size_t i = 0; i < n; i++) {
    total += sl[i].len;
    if (sl[i].data == i32->values->data)
      found_values = true;
  }
  assert_true(found_values);
  assert_int_equal(total, dq_ipc_message_size(m));
  /* the message keeps the batch alive on its own */
  dq_batch_unref(b);
  uint8_t *flat = malloc(total);
  dq_ipc_message_copy(m, flat);
  dq_ipc_message *m2 = dq_ipc_message_ref(m);
  dq_ipc_message_unref(m);
  dq_batch *back;
  assert_int_equal(dq_ipc_decode_batch(s, flat, total, NULL, NULL, &back,
                                       NULL), 0);
  check_rows(back, 0, 100);
  dq_batch_unref(back);
  dq_ipc_message_unref(m2);
  free(flat);
  dq_schema_unref(s);
}

static int releases;
static void count_release(void *p) {
  releases++;
  free(p);
}

/* The decoded batch holds the message memory; the memory goes exactly when
 * the last column does, whatever the order. */
static void test_zero_copy_lifetime(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, 10, 50);
  enc e = encode_batch(b);
  dq_batch_unref(b);
  releases = 0;
  dq_batch *zc;
  assert_int_equal(
      dq_ipc_decode_batch(s, e.p, e.len, count_release, e.p, &zc, NULL), 0);
  assert_int_equal(releases, 0);
  dq_array *col = dq_array_ref((dq_array *)dq_batch_column(zc, 5));
  dq_batch_unref(zc);
  assert_int_equal(releases, 0);
  size_t len;
  assert_false(td_null(5, 12));
  const char *v = dq_array_utf8(col, 2, &len); /* row 12 */
  char want[128];
  assert_int_equal(len, td_name(12, want, sizeof want));
  assert_true(len > 0);
  assert_memory_equal(v, want, len);
  dq_array_unref(col);
  assert_int_equal(releases, 1);

  /* the message held by a dq_buffer the caller drops at once */
  b = must_batch(s, 0, 20);
  e = encode_batch(b);
  dq_batch_unref(b);
  dq_buffer *msg = dq_buffer_wrap(e.p, e.len, count_release, e.p);
  releases = 0;
  assert_int_equal(dq_ipc_decode_batch(s, msg->data, msg->size,
                                       (void (*)(void *))dq_buffer_unref,
                                       dq_buffer_ref(msg), &zc, NULL), 0);
  dq_buffer_unref(msg);
  assert_int_equal(releases, 0);
  check_rows(zc, 0, 20);
  dq_batch_unref(zc);
  assert_int_equal(releases, 1);

  /* failure releases too */
  releases = 0;
  uint8_t *junk = calloc(1, 16);
  assert_int_equal(dq_ipc_decode_batch(s, junk, 16, count_release, junk, &zc,
                                       NULL), DQ_EPROTO);
  assert_int_equal(releases, 1);

  /* a misaligned message is copied, not read in place */
  b = must_batch(s, 0, 30);
  e = encode_batch(b);
  dq_batch_unref(b);
  uint8_t *odd = malloc(e.len + 8);
  memcpy(odd + 8, e.p, e.len);
  free(e.p);
  releases = 0;
  assert_int_equal(dq_ipc_decode_batch(s, odd + 8, e.len, count_release, odd,
                                       &zc, NULL), 0);
  assert_int_equal(releases, 1); /* nothing kept a reference */
  check_rows(zc, 0, 30);
  dq_batch_unref(zc);
  dq_schema_unref(s);
}

static void test_eos(void **state) {
  (void)state;
  dq_ipc_info info;
  assert_int_equal(dq_ipc_peek(dq_ipc_eos, 8, &info, NULL), 0);
  assert_int_equal(info.type, DQ_IPC_EOS);
  assert_int_equal(info.message_len, 8);
  dq_schema *s = td_schema();
  expect_fail(s, dq_ipc_eos, 8, DQ_EPROTO, "EOS as batch");
  dq_schema *out;
  dq_error err = {0};
  assert_int_equal(dq_ipc_decode_schema(dq_ipc_eos, 8, &out, &err),
                   DQ_EPROTO);
  dq_schema_unref(s);
}

/* --- streams ------------------------------------------------------------- */

static const int64_t stream_sizes[] = {100, 0, 1, 4096, 33};

static void write_stream(dq_schema *s, int fd, FILE *f) {
  dq_ipc_writer *w;
  dq_error err = {0};
  if (f)
    assert_int_equal(dq_ipc_writer_open_file(f, s, &w, &err), 0);
  else
    assert_int_equal(dq_ipc_writer_open_fd(fd, s, &w, &err), 0);
  int64_t start = 0;
  for (size_t i = 0; i < sizeof stream_sizes / sizeof *stream_sizes; i++) {
    dq_batch *b = must_batch(s, start, stream_sizes[i]);
    assert_int_equal(dq_ipc_writer_write(w, b, &err), 0);
    dq_batch_unref(b);
    start += stream_sizes[i];
  }
  assert_int_equal(dq_ipc_writer_close(w, &err), 0);
}

static void read_stream(int fd, FILE *f, dq_schema *want) {
  dq_ipc_reader *r;
  dq_error err = {0};
  int rc = f ? dq_ipc_reader_open_file(f, &r, &err)
             : dq_ipc_reader_open_fd(fd, &r, &err);
  if (rc != 0)
    fail_msg("open: %s", err.message);
  assert_true(dq_schema_equal(dq_ipc_reader_schema(r), want));
  int64_t start = 0;
  for (size_t i = 0; i < sizeof stream_sizes / sizeof *stream_sizes; i++) {
    dq_batch *b;
    if (dq_ipc_reader_next(r, &b, &err) != 0)
      fail_msg("next: %s", err.message);
    assert_non_null(b);
    check_rows(b, start, stream_sizes[i]);
    dq_batch_unref(b);
    start += stream_sizes[i];
  }
  dq_batch *b = (dq_batch *)1;
  assert_int_equal(dq_ipc_reader_next(r, &b, &err), 0);
  assert_null(b);
  assert_int_equal(dq_ipc_reader_next(r, &b, &err), 0);
  assert_null(b);
  dq_ipc_reader_free(r);
}

static void test_stream_file(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  FILE *f = tmpfile();
  assert_non_null(f);
  write_stream(s, -1, f);
  rewind(f);
  read_stream(-1, f, s);
  /* the same bytes through a descriptor */
  rewind(f);
  read_stream(fileno(f), NULL, s);
  fclose(f);
  dq_schema_unref(s);
}

static void test_stream_fd(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  char path[] = "/tmp/dq-test-ipc-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  write_stream(s, fd, NULL);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
  read_stream(fd, NULL, s);

  /* every truncation of the stream: an error or a clean end at a message
   * boundary, never a crash */
  off_t size = lseek(fd, 0, SEEK_END);
  uint8_t *all = malloc((size_t)size);
  assert_int_equal(pread(fd, all, (size_t)size, 0), size);
  close(fd);
  for (off_t cut = 0; cut < size; cut += cut < 2048 ? 1 : 97) {
    FILE *f = tmpfile();
    fwrite(all, 1, (size_t)cut, f);
    rewind(f);
    dq_ipc_reader *r;
    dq_error err = {0};
    int rc = dq_ipc_reader_open_file(f, &r, &err);
    if (rc == 0) {
      dq_batch *b;
      while ((rc = dq_ipc_reader_next(r, &b, &err)) == 0 && b != NULL)
        dq_batch_unref(b);
      dq_ipc_reader_free(r);
    }
    assert_true(rc == 0 || rc == DQ_EPROTO);
    fclose(f);
  }
  free(all);

  /* an empty stream has no schema */
  FILE *f = tmpfile();
  dq_ipc_reader *r;
  dq_error err = {0};
  assert_int_equal(dq_ipc_reader_open_file(f, &r, &err), DQ_EPROTO);
  fclose(f);
  dq_schema_unref(s);
}

static void test_writer_schema_mismatch(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  const char *n[] = {"x"};
  dq_type t[] = {{DQ_TYPE_INT32, 0, 0}};
  dq_schema *other;
  assert_int_equal(dq_schema_new(1, n, t, NULL, &other, NULL), 0);
  FILE *f = tmpfile();
  dq_ipc_writer *w;
  assert_int_equal(dq_ipc_writer_open_file(f, other, &w, NULL), 0);
  dq_batch *b = must_batch(s, 0, 3);
  dq_error err = {0};
  assert_int_equal(dq_ipc_writer_write(w, b, &err), DQ_EINVAL);
  dq_ipc_writer_free(w);
  dq_batch_unref(b);
  fclose(f);
  dq_schema_unref(other);
  dq_schema_unref(s);
}

/* --- malformed input ------------------------------------------------------ */

static void test_truncated_everywhere(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, 0, 20);
  enc be = encode_batch(b);
  enc se = encode_schema(s);
  for (size_t cut = 0; cut < be.len; cut++) {
    char label[64];
    snprintf(label, sizeof label, "batch cut at %zu", cut);
    expect_fail(s, be.p, cut, DQ_EPROTO, label);
  }
  for (size_t cut = 0; cut < se.len; cut++) {
    dq_schema *out = NULL;
    dq_error err = {0};
    int rc = decode_schema_exact(se.p, cut, &out, &err);
    if (rc != DQ_EPROTO)
      fail_msg("schema cut at %zu: got %s", cut, dq_strerror(rc));
    assert_null(out);
  }
  dq_batch_unref(b);
  dq_schema_unref(s);
  free(be.p);
  free(se.p);
}

/* Each case patches a fresh copy of a valid message. */
typedef void (*patch_fn)(view *v, uint8_t *msg, size_t *len);

static void run_patch(patch_fn fn, int code, const char *label) {
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, 0, 20);
  enc e = encode_batch(b);
  view v;
  view_init(&v, e.p, e.len);
  size_t len = e.len;
  fn(&v, e.p, &len);
  expect_fail(s, e.p, len, code, label);
  dq_batch_unref(b);
  dq_schema_unref(s);
  free(e.p);
}

static void p_continuation(view *v, uint8_t *m, size_t *len) {
  (void)v; (void)len;
  m[0] = 0xFE;
}
static void p_meta_past_end(view *v, uint8_t *m, size_t *len) {
  (void)v;
  put32(m + 4, (int32_t)(*len - 8 + 1));
}
static void p_meta_huge(view *v, uint8_t *m, size_t *len) {
  (void)v; (void)len;
  put32(m + 4, INT32_MAX);
}
static void p_meta_negative(view *v, uint8_t *m, size_t *len) {
  (void)v; (void)len;
  put32(m + 4, -8);
}
static void p_body_past_end(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  uint8_t *p = field_at(v, &v->msg, MSG_BODY_LENGTH);
  put64(p, get64(p) + 1);
}
static void p_body_negative(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(field_at(v, &v->msg, MSG_BODY_LENGTH), -64);
}
static void p_body_short(view *v, uint8_t *m, size_t *len) {
  /* the message says its body is 64 bytes shorter than the buffers need */
  (void)m;
  uint8_t *p = field_at(v, &v->msg, MSG_BODY_LENGTH);
  put64(p, get64(p) - 64);
  *len -= 64;
}
static void p_buf_offset_past(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, td_buf_index(2) + 1), (int64_t)v->body_len);
}
static void p_buf_length_past(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  uint8_t *bf = buf_at(v, td_buf_index(8) + 1);
  put64(bf + 8, (int64_t)v->body_len - get64(bf) + 1);
}
static void p_buf_offset_negative(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, 1), -16);
}
static void p_buf_length_negative(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, 1) + 8, -1);
}
static void p_buf_offset_huge(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, 3), INT64_MAX - 4);
  put64(buf_at(v, 3) + 8, 64);
}
static void p_node_length_negative(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(node_at(v, 3), -1);
}
static void p_node_length_differs(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(node_at(v, 3), 21);
}
static void p_batch_length_huge(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  int64_t big = INT64_MAX / 2;
  put64(field_at(v, &v->rb, RB_LENGTH), big);
  for (size_t c = 0; c < TD_NCOLS; c++)
    put64(node_at(v, c), big);
}
static void p_batch_length_negative(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(field_at(v, &v->rb, RB_LENGTH), -5);
}
static void p_nulls_negative(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(node_at(v, 2) + 8, -1);
}
static void p_nulls_too_many(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(node_at(v, 2) + 8, 21);
}
static void p_nulls_wrong(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(node_at(v, 2) + 8, get64(node_at(v, 2) + 8) + 1);
}
static void p_nulls_on_non_nullable(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(node_at(v, 0) + 8, 1);
}
static void p_validity_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, td_buf_index(2)) + 8, 2); /* 20 rows need 3 bytes */
}
static void p_values_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, td_buf_index(3) + 1) + 8, 20 * 8 - 1);
}
static void p_bool_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, td_buf_index(1) + 1) + 8, 2);
}
static void p_decimal_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, td_buf_index(8) + 1) + 8, 20 * 16 - 8);
}
static void p_node_count_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta + v->nodes.pos - 4, TD_NCOLS - 1);
}
static void p_node_count_long(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta + v->nodes.pos - 4, TD_NCOLS + 1);
}
static void p_buf_count_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta + v->bufs.pos - 4, (int32_t)v->bufs.n - 1);
}
static void p_buf_count_huge(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta + v->bufs.pos - 4, 0x7FFFFFFF);
}
static uint8_t *utf8_offsets(view *v) {
  return v->body + get64(buf_at(v, td_buf_index(5) + 1));
}
static void p_utf8_decreasing(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  uint8_t *o = utf8_offsets(v);
  int32_t x;
  memcpy(&x, o + 4 * 10, 4);
  put32(o + 4 * 10, x + 1000);
}
static void p_utf8_past_data(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(utf8_offsets(v) + 4 * 20, 1 << 30);
}
static void p_utf8_negative_start(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(utf8_offsets(v), -4);
}
static void p_utf8_offsets_short(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put64(buf_at(v, td_buf_index(5) + 1) + 8, 20 * 4); /* needs 21 * 4 */
}
static void p_root_offset(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta, 0x7FFFFFF0);
}
static void p_root_offset_edge(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta, (int32_t)v->fb.len - 2);
}
static void p_vtable_far(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta + v->msg.pos, INT32_MIN);
}
static void p_vtable_behind(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(v->meta + v->msg.pos, (int32_t)v->msg.pos + 100); /* vt < 0 */
}
static void p_vtable_len_odd(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  v->meta[v->msg.vt] = 0x07;
}
static void p_vtable_len_huge(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  v->meta[v->rb.vt] = 0xFE;
  v->meta[v->rb.vt + 1] = 0xFF;
}
static void p_table_len_huge(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  v->meta[v->rb.vt + 2] = 0xFF;
  v->meta[v->rb.vt + 3] = 0x7F;
}
static void p_field_outside_table(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  /* RecordBatch.length's slot points past the table's declared size */
  uint8_t *slot = v->meta + v->rb.vt + 4 + 2 * RB_LENGTH;
  slot[0] = (uint8_t)v->rb.tb_len;
  slot[1] = (uint8_t)(v->rb.tb_len >> 8);
}
static void p_header_offset(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(field_at(v, &v->msg, MSG_HEADER), 0x40000000);
}
static void p_nodes_offset(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  put32(field_at(v, &v->rb, RB_NODES), -4);
}
static void p_header_type_unknown(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  *field_at(v, &v->msg, MSG_HEADER_TYPE) = 99;
}
static void p_header_type_schema(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  *field_at(v, &v->msg, MSG_HEADER_TYPE) = IPC_HDR_SCHEMA;
}
static void p_header_type_dict(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  *field_at(v, &v->msg, MSG_HEADER_TYPE) = IPC_HDR_DICTIONARY;
}
static void p_version_v3(view *v, uint8_t *m, size_t *len) {
  (void)m; (void)len;
  *field_at(v, &v->msg, MSG_VERSION) = 2;
  *(field_at(v, &v->msg, MSG_VERSION) + 1) = 0;
}

static void test_malformed(void **state) {
  (void)state;
  struct {
    patch_fn fn;
    int code;
    const char *label;
  } cases[] = {
      {p_continuation, DQ_EPROTO, "bad continuation"},
      {p_meta_past_end, DQ_EPROTO, "metadata length past the end"},
      {p_meta_huge, DQ_EPROTO, "metadata length huge"},
      {p_meta_negative, DQ_EPROTO, "metadata length negative"},
      {p_body_past_end, DQ_EPROTO, "body length past the end"},
      {p_body_negative, DQ_EPROTO, "body length negative"},
      {p_body_short, DQ_EPROTO, "buffers past a shortened body"},
      {p_buf_offset_past, DQ_EPROTO, "buffer offset past the body"},
      {p_buf_length_past, DQ_EPROTO, "buffer length past the body"},
      {p_buf_offset_negative, DQ_EPROTO, "buffer offset negative"},
      {p_buf_length_negative, DQ_EPROTO, "buffer length negative"},
      {p_buf_offset_huge, DQ_EPROTO, "buffer offset near INT64_MAX"},
      {p_node_length_negative, DQ_EPROTO, "node length negative"},
      {p_node_length_differs, DQ_EPROTO, "node length differs from batch"},
      {p_batch_length_huge, DQ_EPROTO, "batch length huge"},
      {p_batch_length_negative, DQ_EPROTO, "batch length negative"},
      {p_nulls_negative, DQ_EPROTO, "null count negative"},
      {p_nulls_too_many, DQ_EPROTO, "null count above length"},
      {p_nulls_wrong, DQ_EPROTO, "null count disagrees with bitmap"},
      {p_nulls_on_non_nullable, DQ_EPROTO, "nulls in a non-nullable field"},
      {p_validity_short, DQ_EPROTO, "validity bitmap too short"},
      {p_values_short, DQ_EPROTO, "int64 values too short"},
      {p_bool_short, DQ_EPROTO, "bool values too short"},
      {p_decimal_short, DQ_EPROTO, "decimal values too short"},
      {p_node_count_short, DQ_EPROTO, "too few nodes"},
      {p_node_count_long, DQ_EPROTO, "too many nodes"},
      {p_buf_count_short, DQ_EPROTO, "too few buffers"},
      {p_buf_count_huge, DQ_EPROTO, "buffer count huge"},
      {p_utf8_decreasing, DQ_EPROTO, "utf8 offsets decreasing"},
      {p_utf8_past_data, DQ_EPROTO, "utf8 offsets past the data"},
      {p_utf8_negative_start, DQ_EPROTO, "utf8 first offset negative"},
      {p_utf8_offsets_short, DQ_EPROTO, "utf8 offsets buffer too short"},
      {p_root_offset, DQ_EPROTO, "root offset huge"},
      {p_root_offset_edge, DQ_EPROTO, "root offset at the last bytes"},
      {p_vtable_far, DQ_EPROTO, "vtable offset INT32_MIN"},
      {p_vtable_behind, DQ_EPROTO, "vtable before the buffer"},
      {p_vtable_len_odd, DQ_EPROTO, "vtable length odd"},
      {p_vtable_len_huge, DQ_EPROTO, "vtable length huge"},
      {p_table_len_huge, DQ_EPROTO, "table length huge"},
      {p_field_outside_table, DQ_EPROTO, "field outside its table"},
      {p_header_offset, DQ_EPROTO, "header offset past the end"},
      {p_nodes_offset, DQ_EPROTO, "nodes offset wraps"},
      {p_header_type_unknown, DQ_EPROTO, "unknown header type"},
      {p_header_type_schema, DQ_EPROTO, "header type says schema"},
      {p_header_type_dict, DQ_EUNSUPPORTED, "dictionary batch"},
      {p_version_v3, DQ_EUNSUPPORTED, "metadata version V3"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    run_patch(cases[i].fn, cases[i].code, cases[i].label);
}

/* A schema that declares one more field than the batch has nodes for. */
static void test_wrong_schema(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, 0, 5);
  enc e = encode_batch(b);
  const char *names[TD_NCOLS + 1];
  dq_type types[TD_NCOLS + 1];
  for (size_t c = 0; c < TD_NCOLS; c++) {
    names[c] = dq_schema_field_name(s, c);
    types[c] = dq_schema_field_type(s, c);
  }
  names[TD_NCOLS] = "extra";
  types[TD_NCOLS] = (dq_type){DQ_TYPE_INT32, 0, 0};
  dq_schema *wide;
  assert_int_equal(dq_schema_new(TD_NCOLS + 1, names, types, NULL, &wide,
                                 NULL), 0);
  expect_fail(wide, e.p, e.len, DQ_EPROTO, "schema with an extra field");
  /* same count, other types: int64 read as utf8 needs 3 buffers */
  types[0] = (dq_type){DQ_TYPE_UTF8, 0, 0};
  dq_schema *other;
  assert_int_equal(dq_schema_new(TD_NCOLS, names, types, NULL, &other, NULL),
                   0);
  expect_fail(other, e.p, e.len, DQ_EPROTO, "schema with other types");
  dq_schema_unref(wide);
  dq_schema_unref(other);
  dq_batch_unref(b);
  dq_schema_unref(s);
  free(e.p);
}

/* Every byte of the metadata, set to a few values: any result but a crash
 * or an out-of-bounds read will do, and a success must still be a batch
 * whose columns are consistent. */
static void test_metadata_bytes_fuzz(void **state) {
  (void)state;
  dq_schema *s = td_schema();
  dq_batch *b = must_batch(s, 0, 20);
  enc e = encode_batch(b);
  enc se = encode_schema(s);
  static const uint8_t vals[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
  size_t meta_len;
  assert_int_equal(ipc_parse_prefix(e.p, &meta_len, NULL), 0);
  uint8_t *m = malloc(e.len);
  for (size_t i = 8; i < 8 + meta_len; i++)
    for (size_t k = 0; k < sizeof vals; k++) {
      memcpy(m, e.p, e.len);
      m[i] = vals[k];
      dq_batch *out = NULL;
      dq_error err = {0};
      int rc = decode_exact(s, m, e.len, k & 1, &out, &err);
      assert_true(rc == 0 || rc == DQ_EPROTO || rc == DQ_EUNSUPPORTED);
      if (rc == 0) {
        for (size_t c = 0; c < TD_NCOLS; c++) {
          const dq_array *a = dq_batch_column(out, c);
          for (int64_t r = 0; r < dq_array_length(a); r++) {
            size_t len;
            if (!dq_array_is_null(a, r) && a->type.id == DQ_TYPE_UTF8)
              (void)dq_array_utf8(a, r, &len);
          }
        }
        dq_batch_unref(out);
      } else {
        assert_true(err.message[0] != 0);
      }
    }
  free(m);
  m = malloc(se.len);
  for (size_t i = 8; i < se.len; i++)
    for (size_t k = 0; k < sizeof vals; k++) {
      memcpy(m, se.p, se.len);
      m[i] = vals[k];
      dq_schema *out = NULL;
      int rc = decode_schema_exact(m, se.len, &out, NULL);
      assert_true(rc == 0 || rc == DQ_EPROTO || rc == DQ_EUNSUPPORTED);
      dq_schema_unref(out);
    }
  free(m);
  dq_batch_unref(b);
  dq_schema_unref(s);
  free(e.p);
  free(se.p);
}

/* --- valid Arrow that dq does not support ---------------------------------
 * Built with the test's own use of the flatbuffer builder. */

/* A schema message with one field whose type is member `tt` with the given
 * scalar fields (id/value pairs, -1 ends), optionally dictionary-encoded. */
static enc hand_schema(uint8_t tt, const int32_t *ifields, bool dict,
                       int16_t endianness, int16_t version) {
  fbb b;
  fbb_init(&b);
  fbb_table_start(&b);
  for (const int32_t *p = ifields; p && p[0] >= 0; p += 2) {
    if (tt == TYPE_FLOATING_POINT || tt == TYPE_DATE)
      fbb_add_i16(&b, (unsigned)p[0], (int16_t)p[1]);
    else if (tt == TYPE_INT && p[0] == INT_IS_SIGNED)
      fbb_add_u8(&b, (unsigned)p[0], (uint8_t)p[1]);
    else
      fbb_add_i32(&b, (unsigned)p[0], p[1]);
  }
  fb_ref type = fbb_table_end(&b);
  fb_ref dict_ref = 0;
  if (dict) {
    fbb_table_start(&b);
    fbb_add_i64(&b, 0, 7);
    dict_ref = fbb_table_end(&b);
  }
  fb_ref name = fbb_string(&b, "col", 3);
  fbb_table_start(&b);
  fbb_add_ref(&b, FIELD_NAME, name);
  fbb_add_ref(&b, FIELD_TYPE, type);
  if (dict)
    fbb_add_ref(&b, FIELD_DICTIONARY, dict_ref);
  fbb_add_u8(&b, FIELD_NULLABLE, 1);
  fbb_add_u8(&b, FIELD_TYPE_TYPE, tt);
  fb_ref field = fbb_table_end(&b);
  fb_ref fields = fbb_ref_vector(&b, &field, 1);
  fbb_table_start(&b);
  fbb_add_ref(&b, SCHEMA_FIELDS, fields);
  fbb_add_i16(&b, SCHEMA_ENDIANNESS, endianness);
  fb_ref schema = fbb_table_end(&b);
  fbb_table_start(&b);
  fbb_add_i64(&b, MSG_BODY_LENGTH, 0);
  fbb_add_ref(&b, MSG_HEADER, schema);
  fbb_add_i16(&b, MSG_VERSION, version);
  fbb_add_u8(&b, MSG_HEADER_TYPE, IPC_HDR_SCHEMA);
  fb_ref root = fbb_table_end(&b);
  const uint8_t *fb;
  size_t fb_len;
  assert_int_equal(fbb_finish(&b, root, &fb, &fb_len), 0);
  enc e;
  size_t meta = fb_len + (8 - fb_len % 8) % 8;
  e.len = 8 + meta;
  e.p = calloc(1, e.len);
  put32(e.p, -1);
  put32(e.p + 4, (int32_t)meta);
  memcpy(e.p + 8, fb, fb_len);
  fbb_free(&b);
  return e;
}

static void expect_schema(enc e, int code, dq_type_id want) {
  dq_schema *s = NULL;
  dq_error err = {0};
  int rc = decode_schema_exact(e.p, e.len, &s, &err);
  if (rc != code)
    fail_msg("expected %s, got %s: %s", dq_strerror(code), dq_strerror(rc),
             err.message);
  if (getenv("DQ_TEST_VERBOSE") != NULL)
    print_message("schema: %s\n", rc ? err.message : "ok");
  if (code == 0) {
    assert_int_equal(dq_schema_field_type(s, 0).id, want);
    dq_schema_unref(s);
  } else {
    assert_true(strlen(err.message) > 10);
  }
  free(e.p);
}

static void test_unsupported(void **state) {
  (void)state;
  const int32_t i32[] = {INT_BIT_WIDTH, 32, INT_IS_SIGNED, 1, -1};
  const int32_t i16[] = {INT_BIT_WIDTH, 16, INT_IS_SIGNED, 1, -1};
  const int32_t u64[] = {INT_BIT_WIDTH, 64, INT_IS_SIGNED, 0, -1};
  const int32_t f32[] = {FP_PRECISION, 1, -1};
  const int32_t ms[] = {DATE_UNIT, DATE_MILLISECOND, -1};
  const int32_t d256[] = {DEC_PRECISION, 10, DEC_SCALE, 2, DEC_BIT_WIDTH, 256,
                          -1};
  const int32_t dneg[] = {DEC_PRECISION, 10, DEC_SCALE, -2, -1};
  const int32_t dok[] = {DEC_PRECISION, 10, DEC_SCALE, 3, -1};
  /* decimal64: precision up to 18; 19 digits do not fit 64 bits */
  const int32_t d64[] = {DEC_PRECISION, 18, DEC_SCALE, 2, DEC_BIT_WIDTH, 64,
                         -1};
  const int32_t d64big[] = {DEC_PRECISION, 19, DEC_SCALE, 2, DEC_BIT_WIDTH,
                            64, -1};
  const int32_t d32[] = {DEC_PRECISION, 9, DEC_SCALE, 2, DEC_BIT_WIDTH, 32,
                         -1};
  /* the hand-built messages themselves decode when the type is supported */
  expect_schema(hand_schema(TYPE_INT, i32, false, 0, IPC_V5), 0,
                DQ_TYPE_INT32);
  expect_schema(hand_schema(TYPE_INT, i32, false, 0, IPC_V4), 0,
                DQ_TYPE_INT32);
  expect_schema(hand_schema(TYPE_DECIMAL, dok, false, 0, IPC_V5), 0,
                DQ_TYPE_DECIMAL);
  expect_schema(hand_schema(TYPE_DECIMAL, d64, false, 0, IPC_V5), 0,
                DQ_TYPE_DECIMAL);
  expect_schema(hand_schema(TYPE_DECIMAL, d64big, false, 0, IPC_V5),
                DQ_EPROTO, 0);
  expect_schema(hand_schema(TYPE_DECIMAL, d32, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  /* Date without a unit is MILLISECOND (the schema default) */
  expect_schema(hand_schema(TYPE_DATE, NULL, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(TYPE_INT, i16, false, 0, IPC_V5), DQ_EUNSUPPORTED,
                0);
  expect_schema(hand_schema(TYPE_INT, u64, false, 0, IPC_V5), DQ_EUNSUPPORTED,
                0);
  expect_schema(hand_schema(TYPE_FLOATING_POINT, f32, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(TYPE_DATE, ms, false, 0, IPC_V5), DQ_EUNSUPPORTED,
                0);
  expect_schema(hand_schema(TYPE_DECIMAL, d256, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(TYPE_DECIMAL, dneg, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(12 /* List */, NULL, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(13 /* Struct_ */, NULL, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(4 /* Binary */, NULL, false, 0, IPC_V5),
                DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(TYPE_INT, i32, true, 0, IPC_V5), DQ_EUNSUPPORTED,
                0);
  expect_schema(hand_schema(TYPE_INT, i32, false, 1, IPC_V5), DQ_EUNSUPPORTED,
                0);
  expect_schema(hand_schema(TYPE_INT, i32, false, 0, 2), DQ_EUNSUPPORTED, 0);
  expect_schema(hand_schema(0 /* NONE */, NULL, false, 0, IPC_V5), DQ_EPROTO,
                0);
}

/* A record batch with a compressed body. */
static void test_compressed(void **state) {
  (void)state;
  const char *n[] = {"x"};
  dq_type t[] = {{DQ_TYPE_INT32, 0, 0}};
  dq_schema *s;
  assert_int_equal(dq_schema_new(1, n, t, NULL, &s, NULL), 0);
  uint8_t node[16] = {0}, bufs[32] = {0};
  fbb b;
  fbb_init(&b);
  fb_ref vn = fbb_struct_vector(&b, node, 1, 16, 8);
  fb_ref vb = fbb_struct_vector(&b, bufs, 2, 16, 8);
  fbb_table_start(&b);
  fbb_add_u8(&b, 0, 1); /* ZSTD */
  fb_ref comp = fbb_table_end(&b);
  fbb_table_start(&b);
  fbb_add_i64(&b, RB_LENGTH, 0);
  fbb_add_ref(&b, RB_NODES, vn);
  fbb_add_ref(&b, RB_BUFFERS, vb);
  fbb_add_ref(&b, RB_COMPRESSION, comp);
  fb_ref rb = fbb_table_end(&b);
  fbb_table_start(&b);
  fbb_add_i64(&b, MSG_BODY_LENGTH, 0);
  fbb_add_ref(&b, MSG_HEADER, rb);
  fbb_add_i16(&b, MSG_VERSION, IPC_V5);
  fbb_add_u8(&b, MSG_HEADER_TYPE, IPC_HDR_RECORD_BATCH);
  fb_ref root = fbb_table_end(&b);
  const uint8_t *fb;
  size_t fb_len;
  assert_int_equal(fbb_finish(&b, root, &fb, &fb_len), 0);
  size_t meta = fb_len + (8 - fb_len % 8) % 8;
  uint8_t *msg = calloc(1, 8 + meta);
  put32(msg, -1);
  put32(msg + 4, (int32_t)meta);
  memcpy(msg + 8, fb, fb_len);
  fbb_free(&b);
  expect_fail(s, msg, 8 + meta, DQ_EUNSUPPORTED, "compressed body");
  free(msg);
  dq_schema_unref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schema_roundtrip),
      cmocka_unit_test(test_roundtrip_small),
      cmocka_unit_test(test_roundtrip_large),
      cmocka_unit_test(test_message_slices),
      cmocka_unit_test(test_zero_copy_lifetime),
      cmocka_unit_test(test_eos),
      cmocka_unit_test(test_stream_file),
      cmocka_unit_test(test_stream_fd),
      cmocka_unit_test(test_writer_schema_mismatch),
      cmocka_unit_test(test_truncated_everywhere),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_wrong_schema),
      cmocka_unit_test(test_metadata_bytes_fuzz),
      cmocka_unit_test(test_unsupported),
      cmocka_unit_test(test_compressed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
