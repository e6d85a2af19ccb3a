/* test_batch.c — unit tests of the batch module: buffers, schemas, arrays,
 * batches, builders, and the Arrow C Data Interface export/import.
 *
 * Run it under valgrind or ASan too: several tests exist to prove that
 * references and release callbacks balance (no leak, no double release). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arrow/batch_internal.h"

/* --- helpers -------------------------------------------------------------- */

#define assert_err(rc, err, want_code, text)                                   \
  do {                                                                         \
    int rc_ = (rc);                                                            \
    if (rc_ != (want_code) || strstr((err).message, (text)) == NULL)           \
      fail_msg("got %d \"%s\"; want %d with \"%s\"", rc_, (err).message,       \
               (want_code), (text));                                           \
  } while (0)

static const dq_type T_BOOL = {DQ_TYPE_BOOL, 0, 0};
static const dq_type T_I32 = {DQ_TYPE_INT32, 0, 0};
static const dq_type T_I64 = {DQ_TYPE_INT64, 0, 0};
static const dq_type T_F64 = {DQ_TYPE_FLOAT64, 0, 0};
static const dq_type T_UTF8 = {DQ_TYPE_UTF8, 0, 0};
static const dq_type T_DATE = {DQ_TYPE_DATE32, 0, 0};
static const dq_type T_DEC = {DQ_TYPE_DECIMAL, 15, 2};

#define N_ALL 7
static const char *const all_names[N_ALL] = {"b", "i", "l", "g",
                                             "s", "d", "m"};
static const dq_type *const all_types[N_ALL] = {&T_BOOL, &T_I32,  &T_I64, &T_F64,
                                                &T_UTF8, &T_DATE, &T_DEC};

static dq_schema *all_schema(void) {
  dq_type types[N_ALL];
  for (int i = 0; i < N_ALL; i++)
    types[i] = *all_types[i];
  dq_schema *s = NULL;
  dq_error err;
  assert_int_equal(dq_schema_new(N_ALL, all_names, types, NULL, &s, &err), 0);
  return s;
}

static dq_decimal dec(int64_t v) { return dq_decimal_from_i128(v); }

static char str_buf[64];
static const char *row_str(int64_t r) {
  snprintf(str_buf, sizeof str_buf, "row-%lld%s", (long long)r,
           r % 5 == 0 ? "-é" : "");
  return str_buf;
}

/* Appends row r to every column of an all_schema builder; when with_nulls,
 * every third row of each column is null (shifted per column). */
static void append_row(dq_batch_builder *b, int64_t r, bool with_nulls) {
  for (size_t c = 0; c < N_ALL; c++) {
    if (with_nulls && (r + (int64_t)c) % 3 == 0) {
      assert_int_equal(dq_builder_append_null(b, c), 0);
      continue;
    }
    int rc = -99;
    switch (c) {
    case 0: rc = dq_builder_append_bool(b, c, r % 2 == 1); break;
    case 1: rc = dq_builder_append_int32(b, c, (int32_t)(r * 7 - 3)); break;
    case 2: rc = dq_builder_append_int64(b, c, r * 1000000007LL); break;
    case 3: rc = dq_builder_append_float64(b, c, (double)r / 4.0); break;
    case 4: {
      const char *s = row_str(r);
      rc = dq_builder_append_utf8(b, c, s, strlen(s));
      break;
    }
    case 5: rc = dq_builder_append_date32(b, c, (int32_t)(r - 1000)); break;
    case 6: rc = dq_builder_append_decimal(b, c, dec(-r * 12345 + 7)); break;
    }
    assert_int_equal(rc, 0);
  }
}

static void check_row(const dq_batch *bt, int64_t r, int64_t as_row,
                      bool with_nulls) {
  for (size_t c = 0; c < N_ALL; c++) {
    const dq_array *a = dq_batch_column(bt, c);
    bool null = with_nulls && (as_row + (int64_t)c) % 3 == 0;
    assert_int_equal(dq_array_is_null(a, r), null);
    if (null)
      continue;
    int64_t x = as_row;
    switch (c) {
    case 0: assert_int_equal(dq_array_bool(a, r), x % 2 == 1); break;
    case 1: assert_int_equal(dq_array_int32(a, r), x * 7 - 3); break;
    case 2: assert_int_equal(dq_array_int64(a, r), x * 1000000007LL); break;
    case 3: assert_true(dq_array_float64(a, r) == (double)x / 4.0); break;
    case 4: {
      size_t len;
      const char *s = dq_array_utf8(a, r, &len);
      const char *want = row_str(x);
      assert_int_equal(len, strlen(want));
      assert_memory_equal(s, want, len);
      break;
    }
    case 5: assert_int_equal(dq_array_date32(a, r), x - 1000); break;
    case 6: {
      dq_decimal d = dq_array_decimal(a, r);
      assert_true(dq_decimal_to_i128(d) == (dq_i128)(-x * 12345 + 7));
      break;
    }
    }
  }
}

static dq_batch *build_all(int64_t rows, bool with_nulls, int64_t hint) {
  dq_schema *s = all_schema();
  dq_batch_builder *b = NULL;
  dq_error err;
  assert_int_equal(dq_batch_builder_new(s, hint, &b, &err), 0);
  for (int64_t r = 0; r < rows; r++)
    append_row(b, r, with_nulls);
  dq_batch *bt = NULL;
  int rc = dq_batch_builder_finish(b, &bt, &err);
  if (rc != 0)
    fail_msg("finish: %s", err.message);
  dq_batch_builder_free(b);
  dq_schema_unref(s);
  return bt;
}

/* --- buffers -------------------------------------------------------------- */

static int wrap_releases;
static void count_release(void *ctx) {
  (void)ctx;
  wrap_releases++;
}

static void test_buffer_new(void **state) {
  (void)state;
  size_t sizes[] = {0, 1, 63, 64, 65, 1000};
  size_t caps[] = {64, 64, 64, 64, 128, 1024};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    dq_buffer *b = dq_buffer_new(sizes[k]);
    assert_non_null(b);
    assert_int_equal((uintptr_t)b->data % 64, 0);
    assert_int_equal(b->size, sizes[k]);
    assert_int_equal(b->capacity, caps[k]);
    for (size_t i = 0; i < b->capacity; i++)
      assert_int_equal(b->data[i], 0);
    dq_buffer_unref(b);
  }
  assert_null(dq_buffer_new(SIZE_MAX - 10));
  dq_buffer_unref(NULL); /* a no-op */
}

static void test_buffer_refs_and_reserve(void **state) {
  (void)state;
  dq_buffer *b = dq_buffer_new(10);
  memset(b->data, 0xab, 10);
  assert_ptr_equal(dq_buffer_ref(b), b);
  assert_int_equal(atomic_load(&b->refs), 2);
  /* Shared: must not move under another holder. */
  assert_int_equal(dq_buffer_reserve(b, 1000), DQ_EINVAL);
  dq_buffer_unref(b);
  assert_int_equal(atomic_load(&b->refs), 1);
  assert_int_equal(dq_buffer_reserve(b, 50), 0); /* fits already */
  assert_int_equal(b->capacity, 64);
  assert_int_equal(dq_buffer_reserve(b, 65), 0);
  assert_int_equal(b->capacity, 128); /* doubled */
  assert_int_equal(dq_buffer_reserve(b, 1000), 0);
  assert_int_equal(b->capacity, 1024);
  assert_int_equal(b->size, 10); /* reserve leaves size alone */
  assert_int_equal((uintptr_t)b->data % 64, 0);
  for (size_t i = 0; i < 10; i++)
    assert_int_equal(b->data[i], 0xab);
  for (size_t i = 10; i < b->capacity; i++)
    assert_int_equal(b->data[i], 0);
  dq_buffer_unref(b);
}

static void test_buffer_wrap(void **state) {
  (void)state;
  static char mem[32] = "hello";
  wrap_releases = 0;
  dq_buffer *b = dq_buffer_wrap(mem, 5, count_release, NULL);
  assert_non_null(b);
  assert_ptr_equal(b->data, mem);
  assert_int_equal(b->capacity, 0);
  assert_int_equal(dq_buffer_reserve(b, 100), DQ_EINVAL); /* not ours */
  dq_buffer_ref(b);
  dq_buffer_unref(b);
  assert_int_equal(wrap_releases, 0);
  dq_buffer_unref(b);
  assert_int_equal(wrap_releases, 1);
  /* Invalid: bytes without a pointer; release must not run. */
  assert_null(dq_buffer_wrap(NULL, 5, count_release, NULL));
  assert_int_equal(wrap_releases, 1);
  /* No release: memory that outlives the buffer. */
  b = dq_buffer_wrap(mem, 3, NULL, NULL);
  dq_buffer_unref(b);
  b = dq_buffer_wrap(NULL, 0, count_release, NULL);
  dq_buffer_unref(b);
  assert_int_equal(wrap_releases, 2);
}

/* --- types and schemas ------------------------------------------------------ */

static void test_types(void **state) {
  (void)state;
  char buf[32];
  assert_string_equal(dq_type_format(T_BOOL, buf, sizeof buf), "bool");
  assert_string_equal(dq_type_format(T_I32, buf, sizeof buf), "int32");
  assert_string_equal(dq_type_format(T_I64, buf, sizeof buf), "int64");
  assert_string_equal(dq_type_format(T_F64, buf, sizeof buf), "float64");
  assert_string_equal(dq_type_format(T_UTF8, buf, sizeof buf), "utf8");
  assert_string_equal(dq_type_format(T_DATE, buf, sizeof buf), "date32");
  assert_string_equal(dq_type_format(T_DEC, buf, sizeof buf), "decimal(15,2)");
  dq_type bad = {(dq_type_id)99, 0, 0};
  assert_string_equal(dq_type_format(bad, buf, sizeof buf), "invalid type 99");
  assert_int_equal(dq_type_width(T_BOOL), 0);
  assert_int_equal(dq_type_width(T_I32), 4);
  assert_int_equal(dq_type_width(T_I64), 8);
  assert_int_equal(dq_type_width(T_F64), 8);
  assert_int_equal(dq_type_width(T_UTF8), 0);
  assert_int_equal(dq_type_width(T_DATE), 4);
  /* Precision <= 18: decimal64; more: decimal128. */
  assert_int_equal(dq_type_width(T_DEC), 8);
  assert_int_equal(dq_type_width((dq_type){DQ_TYPE_DECIMAL, 18, 0}), 8);
  assert_int_equal(dq_type_width((dq_type){DQ_TYPE_DECIMAL, 19, 0}), 16);
  assert_int_equal(dq_type_width((dq_type){DQ_TYPE_DECIMAL, 38, 10}), 16);
  assert_int_equal(dq_type_width(bad), 0);
}

static void test_schema(void **state) {
  (void)state;
  const char *names[] = {"id", "price", "name"};
  dq_type types[] = {T_I64, T_DEC, T_UTF8};
  bool nullable[] = {false, true, true};
  types[0].precision = 9; /* ignored outside DECIMAL */
  dq_schema *s = NULL, *s2 = NULL;
  dq_error err;
  assert_int_equal(dq_schema_new(3, names, types, nullable, &s, &err), 0);
  assert_int_equal(dq_schema_n_fields(s), 3);
  assert_string_equal(dq_schema_field_name(s, 1), "price");
  assert_null(dq_schema_field_name(s, 3));
  assert_int_equal(dq_schema_field_type(s, 1).precision, 15);
  assert_int_equal(dq_schema_field_type(s, 1).scale, 2);
  assert_int_equal(dq_schema_field_type(s, 0).precision, 0);
  assert_int_equal(dq_schema_field_type(s, 7).id, 0);
  assert_false(dq_schema_field_nullable(s, 0));
  assert_true(dq_schema_field_nullable(s, 2));
  assert_false(dq_schema_field_nullable(s, 3));
  assert_int_equal(dq_schema_field_index(s, "name"), 2);
  assert_int_equal(dq_schema_field_index(s, "nope"), -1);

  types[0].precision = 0;
  assert_int_equal(dq_schema_new(3, names, types, nullable, &s2, &err), 0);
  assert_true(dq_schema_equal(s, s2));
  dq_schema_unref(s2);
  assert_int_equal(dq_schema_new(3, names, types, NULL, &s2, &err), 0);
  assert_true(dq_schema_field_nullable(s2, 0)); /* NULL: all nullable */
  assert_false(dq_schema_equal(s, s2));
  dq_schema_unref(s2);
  types[1].scale = 3;
  assert_int_equal(dq_schema_new(3, names, types, nullable, &s2, &err), 0);
  assert_false(dq_schema_equal(s, s2));
  dq_schema_unref(s2);
  assert_ptr_equal(dq_schema_ref(s), s);
  dq_schema_unref(s);
  dq_schema_unref(s);
  dq_schema_unref(NULL);

  /* An empty schema is valid. */
  assert_int_equal(dq_schema_new(0, NULL, NULL, NULL, &s, &err), 0);
  assert_int_equal(dq_schema_n_fields(s), 0);
  dq_schema_unref(s);
}

static void test_schema_errors(void **state) {
  (void)state;
  const char *names[] = {"a", "b"};
  dq_schema *s = (dq_schema *)0x1;
  dq_error err;
  dq_type t[2] = {T_I32, {DQ_TYPE_DECIMAL, 0, 0}};
  assert_err(dq_schema_new(2, names, t, NULL, &s, &err), err, DQ_EINVAL,
             "field 1 (\"b\"): decimal precision 0 is outside 1..38");
  assert_null(s);
  t[1].precision = 39;
  assert_err(dq_schema_new(2, names, t, NULL, &s, &err), err, DQ_EINVAL,
             "decimal precision 39 is outside 1..38");
  t[1].precision = 10;
  t[1].scale = 11;
  assert_err(dq_schema_new(2, names, t, NULL, &s, &err), err, DQ_EINVAL,
             "decimal scale 11 is outside 0..10 (the precision)");
  t[1].scale = -1;
  assert_err(dq_schema_new(2, names, t, NULL, &s, &err), err, DQ_EINVAL,
             "decimal scale -1 is outside 0..10");
  t[1] = (dq_type){(dq_type_id)42, 0, 0};
  assert_err(dq_schema_new(2, names, t, NULL, &s, &err), err, DQ_EINVAL,
             "field 1 (\"b\"): unknown type id 42");
  t[1] = (dq_type){DQ_TYPE_DECIMAL, 38, 38};
  assert_int_equal(dq_schema_new(2, names, t, NULL, &s, &err), 0);
  dq_schema_unref(s);
  const char *bad_names[] = {"a", NULL};
  assert_err(dq_schema_new(2, bad_names, t, NULL, &s, &err), err, DQ_EINVAL,
             "field 1 has no name");
  assert_err(dq_schema_new(2, NULL, t, NULL, &s, &err), err, DQ_EINVAL,
             "names and types are required");
  assert_int_equal(dq_schema_new(2, names, t, NULL, NULL, &err), DQ_EINVAL);
  /* err may be NULL. */
  assert_int_equal(dq_schema_new(2, bad_names, t, NULL, &s, NULL), DQ_EINVAL);
}

/* --- arrays --------------------------------------------------------------- */

static dq_buffer *buf_of(const void *p, size_t n) {
  dq_buffer *b = dq_buffer_new(n);
  memcpy(b->data, p, n);
  return b;
}

static void test_array_from_buffers(void **state) {
  (void)state;
  dq_error err;
  dq_array *a = NULL;
  int32_t v[10] = {1, 2, 3, 4};
  uint8_t bits = 0x0b; /* rows 0,1,3 valid; 2 null */

  /* null_count -1: counted from the bitmap. */
  assert_int_equal(dq_array_from_buffers(T_I32, 4, -1, buf_of(&bits, 1),
                                         buf_of(v, 16), NULL, &a, &err), 0);
  assert_int_equal(dq_array_null_count(a), 1);
  assert_true(dq_array_is_null(a, 2));
  assert_int_equal(dq_array_int32(a, 3), 4);
  dq_array_unref(a);

  /* A bitmap with no nulls is dropped. */
  uint8_t all = 0x0f;
  assert_int_equal(dq_array_from_buffers(T_I32, 4, -1, buf_of(&all, 1),
                                         buf_of(v, 16), NULL, &a, &err), 0);
  assert_null(a->validity);
  assert_int_equal(dq_array_null_count(a), 0);
  dq_array_unref(a);

  /* Sizes. */
  assert_err(dq_array_from_buffers(T_I32, 5, 0, NULL, buf_of(v, 16), NULL,
                                   &a, &err), err, DQ_EINVAL,
             "int32 values buffer holds 16 bytes but 5 rows need 20");
  assert_null(a);
  assert_err(dq_array_from_buffers(T_BOOL, 17, 0, NULL, buf_of(v, 2), NULL,
                                   &a, &err), err, DQ_EINVAL,
             "bool values buffer holds 2 bytes but 17 rows need 3");
  assert_err(dq_array_from_buffers(T_I32, 4, 0, NULL, NULL, NULL, &a, &err),
             err, DQ_EINVAL, "int32 array of 4 rows has no values buffer");
  assert_err(dq_array_from_buffers(T_I32, 4, 0, NULL, buf_of(v, 16),
                                   buf_of(v, 16), &a, &err), err, DQ_EINVAL,
             "an offsets buffer was given for a int32 array, which has none");
  assert_err(dq_array_from_buffers(T_I32, -1, 0, NULL, buf_of(v, 16), NULL,
                                   &a, &err), err, DQ_EINVAL,
             "int32 array length -1 is negative");
  assert_err(dq_array_from_buffers(T_I32, 4, 5, NULL, buf_of(v, 16), NULL, &a,
                                   &err), err, DQ_EINVAL,
             "null_count 5 is outside 0..4");
  assert_err(dq_array_from_buffers(T_I32, 4, 2, NULL, buf_of(v, 16), NULL, &a,
                                   &err), err, DQ_EINVAL,
             "int32 array has null_count 2 but no validity bitmap");
  assert_err(dq_array_from_buffers(T_I32, 4, 2, buf_of(&bits, 1),
                                   buf_of(v, 16), NULL, &a, &err), err,
             DQ_EINVAL,
             "int32 array declares null_count 2 but its validity bitmap has 1 "
             "nulls");
  assert_err(dq_array_from_buffers(T_I32, 9, 1, buf_of(&bits, 1),
                                   buf_of(v, 40), NULL, &a, &err), err,
             DQ_EINVAL, "validity bitmap holds 1 bytes but 9 rows need 2");
  dq_type badt = {DQ_TYPE_DECIMAL, 50, 0};
  assert_err(dq_array_from_buffers(badt, 0, 0, NULL, NULL, NULL, &a, &err),
             err, DQ_EINVAL, "decimal precision 50");

  /* Alignment: a wrapped int64 buffer at an odd address. */
  static uint64_t raw[5];
  dq_buffer *odd = dq_buffer_wrap((uint8_t *)raw + 4, 32, NULL, NULL);
  assert_err(dq_array_from_buffers(T_I64, 4, 0, NULL, odd, NULL, &a, &err),
             err, DQ_EINVAL, "int64 values buffer is not 8-byte aligned");

  /* Empty arrays may come without buffers. */
  for (int k = 0; k < N_ALL; k++) {
    assert_int_equal(dq_array_from_buffers(*all_types[k], 0, 0, NULL, NULL,
                                           NULL, &a, &err), 0);
    assert_int_equal(dq_array_length(a), 0);
    assert_non_null(a->values);
    dq_array_unref(a);
  }
}

static void test_array_utf8_offsets(void **state) {
  (void)state;
  dq_error err;
  dq_array *a = NULL;
  const char bytes[] = "abcdef";
  int32_t good[4] = {1, 3, 3, 6}; /* first offset need not be 0 */
  assert_int_equal(dq_array_from_buffers(T_UTF8, 3, 0, NULL, buf_of(bytes, 6),
                                         buf_of(good, 16), &a, &err), 0);
  size_t len;
  const char *s = dq_array_utf8(a, 0, &len);
  assert_int_equal(len, 2);
  assert_memory_equal(s, "bc", 2);
  s = dq_array_utf8(a, 1, &len);
  assert_int_equal(len, 0);
  assert_non_null(s);
  s = dq_array_utf8(a, 2, &len);
  assert_memory_equal(s, "def", 3);
  dq_array_unref(a);

  int32_t decreasing[4] = {0, 3, 2, 6};
  assert_err(dq_array_from_buffers(T_UTF8, 3, 0, NULL, buf_of(bytes, 6),
                                   buf_of(decreasing, 16), &a, &err), err,
             DQ_EINVAL, "utf8 offsets decrease at row 1 (3 then 2)");
  int32_t beyond[4] = {0, 3, 4, 7};
  assert_err(dq_array_from_buffers(T_UTF8, 3, 0, NULL, buf_of(bytes, 6),
                                   buf_of(beyond, 16), &a, &err), err,
             DQ_EINVAL,
             "utf8 offsets end at 7 but the values buffer holds 6 bytes");
  int32_t negative[4] = {-1, 3, 4, 5};
  assert_err(dq_array_from_buffers(T_UTF8, 3, 0, NULL, buf_of(bytes, 6),
                                   buf_of(negative, 16), &a, &err), err,
             DQ_EINVAL, "utf8 offset 0 is negative (-1)");
  assert_err(dq_array_from_buffers(T_UTF8, 3, 0, NULL, buf_of(bytes, 6),
                                   buf_of(good, 12), &a, &err), err,
             DQ_EINVAL, "utf8 offsets buffer holds 12 bytes but 3 rows need 16");
  assert_err(dq_array_from_buffers(T_UTF8, 3, 0, NULL, buf_of(bytes, 6), NULL,
                                   &a, &err), err, DQ_EINVAL,
             "utf8 array of 3 rows has no offsets buffer");
  assert_err(dq_array_from_buffers(T_UTF8, 3, 0, NULL, NULL, buf_of(good, 16),
                                   &a, &err), err, DQ_EINVAL,
             "utf8 array of 3 rows has no values buffer");
  /* All-empty strings need no bytes at all. */
  int32_t zeros[3] = {0, 0, 0};
  assert_int_equal(dq_array_from_buffers(T_UTF8, 2, 0, NULL, NULL,
                                         buf_of(zeros, 12), &a, &err), 0);
  dq_array_unref(a);
}

static void test_array_accessors_wrong_type(void **state) {
  (void)state;
  dq_batch *bt = build_all(3, false, 0);
  const dq_array *b = dq_batch_column(bt, 0);
  const dq_array *i = dq_batch_column(bt, 1);
  const dq_array *s = dq_batch_column(bt, 4);
  assert_int_equal(dq_array_int32(i, 1), 4);
  assert_int_equal(dq_array_int64(i, 1), 0);
  assert_true(dq_array_float64(i, 1) == 0.0);
  assert_int_equal(dq_array_date32(i, 1), 0);
  assert_false(dq_array_bool(i, 1));
  dq_decimal d = dq_array_decimal(i, 1);
  assert_true(d.lo == 0 && d.hi == 0);
  size_t len = 99;
  assert_null(dq_array_utf8(i, 1, &len));
  assert_int_equal(len, 0);
  assert_int_equal(dq_array_int32(b, 1), 0);
  assert_int_equal(dq_array_int32(s, 0), 0);
  /* Out of range and NULL. */
  assert_int_equal(dq_array_int32(i, 3), 0);
  assert_int_equal(dq_array_int32(i, -1), 0);
  assert_null(dq_array_utf8(s, 3, &len));
  assert_false(dq_array_is_null(i, 5));
  assert_int_equal(dq_array_length(NULL), 0);
  assert_int_equal(dq_array_type(NULL).id, 0);
  assert_null(dq_batch_column(bt, N_ALL));
  dq_array_unref(NULL);
  dq_batch_unref(bt);
  dq_batch_unref(NULL);
}

/* --- builders and batches ------------------------------------------------- */

static void test_builder_every_type(void **state) {
  (void)state;
  for (int with_nulls = 0; with_nulls < 2; with_nulls++) {
    dq_batch *bt = build_all(10, with_nulls, 4);
    assert_int_equal(dq_batch_n_rows(bt), 10);
    assert_int_equal(dq_batch_n_columns(bt), N_ALL);
    for (size_t c = 0; c < N_ALL; c++) {
      const dq_array *a = dq_batch_column(bt, c);
      assert_int_equal(dq_array_type(a).id, all_types[c]->id);
      assert_int_equal(dq_array_length(a), 10);
      /* rows r with (r + c) % 3 == 0 among 0..9 */
      int64_t want = 0;
      for (int64_t r = 0; r < 10; r++)
        want += with_nulls && (r + (int64_t)c) % 3 == 0;
      assert_int_equal(dq_array_null_count(a), want);
      assert_true((a->validity != NULL) == (want > 0));
    }
    assert_int_equal(dq_array_type(dq_batch_column(bt, 6)).precision, 15);
    for (int64_t r = 0; r < 10; r++)
      check_row(bt, r, r, with_nulls);
    /* A null utf8 value reads as "". */
    if (with_nulls) {
      size_t len = 9;
      const char *s = dq_array_utf8(dq_batch_column(bt, 4), 2, &len);
      assert_string_equal(s, "");
      assert_int_equal(len, 0);
    }
    dq_batch_unref(bt);
  }
}

static void test_builder_empty_and_one_row(void **state) {
  (void)state;
  dq_batch *bt = build_all(0, false, 0);
  assert_int_equal(dq_batch_n_rows(bt), 0);
  for (size_t c = 0; c < N_ALL; c++) {
    assert_int_equal(dq_array_length(dq_batch_column(bt, c)), 0);
    assert_int_equal(dq_array_null_count(dq_batch_column(bt, c)), 0);
  }
  assert_int_equal(dq_batch_byte_size(bt), 4); /* one utf8 offset */
  dq_batch_unref(bt);

  for (int with_nulls = 0; with_nulls < 2; with_nulls++) {
    bt = build_all(1, with_nulls, 0);
    assert_int_equal(dq_batch_n_rows(bt), 1);
    check_row(bt, 0, 0, with_nulls);
    dq_batch_unref(bt);
  }

  /* A batch of a schema with no fields. */
  dq_schema *s;
  dq_batch_builder *b;
  dq_error err;
  assert_int_equal(dq_schema_new(0, NULL, NULL, NULL, &s, &err), 0);
  assert_int_equal(dq_batch_builder_new(s, 0, &b, &err), 0);
  assert_int_equal(dq_batch_builder_finish(b, &bt, &err), 0);
  assert_int_equal(dq_batch_n_rows(bt), 0);
  assert_int_equal(dq_batch_n_columns(bt), 0);
  dq_batch_unref(bt);
  dq_batch_builder_free(b);
  dq_schema_unref(s);
}

static void test_builder_many_rows(void **state) {
  (void)state;
  const int64_t n = 100003;
  /* No hint: everything grows from the first block. */
  dq_batch *bt = build_all(n, true, 0);
  assert_int_equal(dq_batch_n_rows(bt), n);
  for (int64_t r = 0; r < n; r += 997)
    check_row(bt, r, r, true);
  check_row(bt, n - 1, n - 1, true);
  assert_true(dq_batch_byte_size(bt) > (size_t)n * (4 + 8 + 8 + 4 + 16));
  dq_batch_unref(bt);

  /* Nulls that start late: validity is created then, earlier rows valid. */
  dq_schema *s;
  const char *names[] = {"x", "s"};
  dq_type types[] = {T_I64, T_UTF8};
  dq_error err;
  assert_int_equal(dq_schema_new(2, names, types, NULL, &s, &err), 0);
  dq_batch_builder *b;
  assert_int_equal(dq_batch_builder_new(s, 1000000000, &b, &err), 0);
  for (int64_t r = 0; r < 5000; r++) {
    if (r >= 4321 && r % 2 == 1) {
      assert_int_equal(dq_builder_append_null(b, 0), 0);
      assert_int_equal(dq_builder_append_null(b, 1), 0);
    } else {
      assert_int_equal(dq_builder_append_int64(b, 0, r), 0);
      assert_int_equal(dq_builder_append_utf8(b, 1, "xyz", 3), 0);
    }
  }
  assert_int_equal(dq_batch_builder_finish(b, &bt, &err), 0);
  const dq_array *x = dq_batch_column(bt, 0);
  assert_int_equal(dq_array_null_count(x), (4999 - 4321) / 2 + 1);
  for (int64_t r = 0; r < 5000; r++) {
    bool null = r >= 4321 && r % 2 == 1;
    assert_int_equal(dq_array_is_null(x, r), null);
    if (!null)
      assert_int_equal(dq_array_int64(x, r), r);
  }
  dq_batch_unref(bt);

  /* The builder is reusable after finish. */
  assert_int_equal(dq_builder_append_int64(b, 0, 42), 0);
  assert_int_equal(dq_builder_append_utf8(b, 1, "", 0), 0);
  assert_int_equal(dq_batch_builder_finish(b, &bt, &err), 0);
  assert_int_equal(dq_batch_n_rows(bt), 1);
  assert_int_equal(dq_array_int64(dq_batch_column(bt, 0), 0), 42);
  assert_int_equal(dq_array_null_count(dq_batch_column(bt, 0)), 0);
  dq_batch_unref(bt);
  dq_batch_builder_free(b);
  dq_schema_unref(s);
}

static void test_builder_errors(void **state) {
  (void)state;
  const char *names[] = {"n", "s", "m"};
  dq_type types[] = {T_I32, T_UTF8, {DQ_TYPE_DECIMAL, 3, 1}};
  bool nullable[] = {false, true, true};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(3, names, types, nullable, &s, &err), 0);
  dq_batch_builder *b;
  assert_err(dq_batch_builder_new(s, -1, &b, &err), err, DQ_EINVAL,
             "capacity hint cannot be negative");
  assert_int_equal(dq_batch_builder_new(s, 0, &b, &err), 0);

  assert_int_equal(dq_builder_append_int64(b, 0, 1), DQ_EINVAL);
  assert_string_equal(dq_batch_builder_error(b),
                      "cannot append an int64 value to column 0 (\"n\") of "
                      "type int32");
  assert_int_equal(dq_builder_append_utf8(b, 0, "x", 1), DQ_EINVAL);
  assert_int_equal(dq_builder_append_bool(b, 1, true), DQ_EINVAL);
  assert_int_equal(dq_builder_append_float64(b, 1, 1.0), DQ_EINVAL);
  assert_int_equal(dq_builder_append_date32(b, 1, 1), DQ_EINVAL);
  assert_int_equal(dq_builder_append_int32(b, 2, 1), DQ_EINVAL);
  assert_int_equal(dq_builder_append_decimal(b, 0, dec(1)), DQ_EINVAL);
  assert_string_equal(dq_batch_builder_error(b),
                      "cannot append a decimal value to column 0 (\"n\") of "
                      "type int32");
  assert_int_equal(dq_builder_append_int32(b, 3, 1), DQ_EINVAL);
  assert_string_equal(dq_batch_builder_error(b),
                      "column 3 does not exist (the schema has 3)");
  assert_int_equal(dq_builder_append_null(b, 0), DQ_EINVAL);
  assert_string_equal(dq_batch_builder_error(b),
                      "cannot append a null to column 0 (\"n\"), which is not "
                      "nullable");
  assert_int_equal(dq_builder_append_decimal(b, 2, dec(1000)), DQ_EINVAL);
  assert_string_equal(dq_batch_builder_error(b),
                      "value does not fit column 2 (\"m\") of type "
                      "decimal(3,1): more than 3 digits");
  assert_int_equal(dq_builder_append_decimal(b, 2, dec(-1000)), DQ_EINVAL);
  assert_int_equal(dq_builder_append_utf8(b, 1, "a\xff", 2), DQ_EINVAL);
  assert_string_equal(dq_batch_builder_error(b),
                      "value for column 1 (\"s\") is not valid UTF-8 (bad "
                      "byte 0xff at offset 1)");
  assert_int_equal(dq_builder_append_utf8(b, 1, "\xed\xa0\x80", 3), DQ_EINVAL);
  assert_int_equal(dq_builder_append_utf8(b, 1, "\xc0\x80", 2), DQ_EINVAL);
  assert_int_equal(dq_builder_append_utf8(b, 1, NULL, 1), DQ_EINVAL);
  assert_int_equal(dq_builder_append_int32(NULL, 0, 1), DQ_EINVAL);

  /* None of the failures above added a value. */
  dq_batch *bt;
  assert_int_equal(dq_batch_builder_finish(b, &bt, &err), 0);
  assert_int_equal(dq_batch_n_rows(bt), 0);
  dq_batch_unref(bt);

  /* Mismatched column lengths: refused, builder left as it was. */
  assert_int_equal(dq_builder_append_int32(b, 0, 1), 0);
  assert_int_equal(dq_builder_append_int32(b, 0, 2), 0);
  assert_int_equal(dq_builder_append_utf8(b, 1, "\xc3\xa9", 2), 0);
  assert_string_equal(dq_batch_builder_error(b), "");
  assert_int_equal(dq_builder_append_decimal(b, 2, dec(999)), 0);
  assert_int_equal(dq_builder_append_decimal(b, 2, dec(-999)), 0);
  assert_err(dq_batch_builder_finish(b, &bt, &err), err, DQ_EINVAL,
             "column 1 (\"s\") has 1 values but column 0 (\"n\") has 2");
  assert_null(bt);
  assert_int_equal(dq_builder_append_null(b, 1), 0);
  assert_int_equal(dq_batch_builder_finish(b, &bt, &err), 0);
  assert_int_equal(dq_batch_n_rows(bt), 2);
  assert_true(dq_array_is_null(dq_batch_column(bt, 1), 1));
  assert_true(dq_decimal_to_i128(dq_array_decimal(dq_batch_column(bt, 2), 1)) ==
              -999);
  dq_batch_unref(bt);
  dq_batch_builder_free(b);
  dq_batch_builder_free(NULL);
  dq_schema_unref(s);
}

static void test_batch_new_errors(void **state) {
  (void)state;
  dq_batch *full = build_all(3, true, 0);
  dq_batch *two = build_all(2, false, 0);
  dq_schema *s = (dq_schema *)dq_batch_schema(full);
  dq_array *cols[N_ALL];
  for (size_t c = 0; c < N_ALL; c++)
    cols[c] = (dq_array *)dq_batch_column(full, c);
  dq_batch *bt = NULL;
  dq_error err;
  assert_int_equal(dq_batch_new(s, 3, cols, &bt, &err), 0);
  assert_int_equal(dq_batch_n_rows(bt), 3);
  assert_ptr_equal(dq_batch_column(bt, 2), cols[2]); /* shared, not copied */
  dq_batch_unref(bt);

  cols[1] = (dq_array *)dq_batch_column(full, 2);
  assert_err(dq_batch_new(s, 3, cols, &bt, &err), err, DQ_EINVAL,
             "column 1 (\"i\") is int64 but the schema says int32");
  assert_null(bt);
  cols[1] = (dq_array *)dq_batch_column(two, 1);
  assert_err(dq_batch_new(s, 3, cols, &bt, &err), err, DQ_EINVAL,
             "column 1 (\"i\") has 2 rows but the batch has 3");
  cols[1] = NULL;
  assert_err(dq_batch_new(s, 3, cols, &bt, &err), err, DQ_EINVAL,
             "column 1 (\"i\") is NULL");
  cols[1] = (dq_array *)dq_batch_column(full, 1);
  assert_err(dq_batch_new(s, -1, cols, &bt, &err), err, DQ_EINVAL,
             "negative row count");
  assert_err(dq_batch_new(NULL, 3, cols, &bt, &err), err, DQ_EINVAL,
             "schema is NULL");

  /* Decimal parameters are part of the type. */
  const char *n1[] = {"m"};
  dq_type t1[] = {{DQ_TYPE_DECIMAL, 15, 3}};
  dq_schema *s1;
  assert_int_equal(dq_schema_new(1, n1, t1, NULL, &s1, &err), 0);
  cols[0] = (dq_array *)dq_batch_column(full, 6);
  assert_err(dq_batch_new(s1, 3, cols, &bt, &err), err, DQ_EINVAL,
             "column 0 (\"m\") is decimal(15,2) but the schema says "
             "decimal(15,3)");
  dq_schema_unref(s1);
  /* A nullable column's nulls cannot enter a NOT NULL field. */
  bool nn[] = {false};
  dq_type t2[] = {T_BOOL};
  assert_int_equal(dq_schema_new(1, n1, t2, nn, &s1, &err), 0);
  cols[0] = (dq_array *)dq_batch_column(full, 0);
  assert_err(dq_batch_new(s1, 3, cols, &bt, &err), err, DQ_EINVAL,
             "column 0 (\"m\") is not nullable but has 1 nulls");
  dq_schema_unref(s1);
  dq_batch_unref(two);
  dq_batch_unref(full);
}

static void test_batch_byte_size(void **state) {
  (void)state;
  const char *names[] = {"a", "s"};
  dq_type types[] = {T_I32, T_UTF8};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(2, names, types, NULL, &s, &err), 0);
  dq_batch_builder *b;
  assert_int_equal(dq_batch_builder_new(s, 0, &b, &err), 0);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(dq_builder_append_int32(b, 0, i), 0);
    if (i == 3)
      assert_int_equal(dq_builder_append_null(b, 1), 0);
    else
      assert_int_equal(dq_builder_append_utf8(b, 1, "ab", 2), 0);
  }
  dq_batch *bt;
  assert_int_equal(dq_batch_builder_finish(b, &bt, &err), 0);
  /* 40 (int32) + 44 (11 offsets) + 18 (bytes) + 2 (validity) */
  assert_int_equal(dq_batch_byte_size(bt), 40 + 44 + 18 + 2);
  assert_ptr_equal(dq_batch_ref(bt), bt);
  dq_batch_unref(bt);
  dq_batch_unref(bt);
  dq_batch_builder_free(b);
  dq_schema_unref(s);
}

/* --- Arrow C Data Interface: export and round trip ------------------------- */

static void test_schema_export_import(void **state) {
  (void)state;
  const char *names[] = {"b", "i", "l", "g", "s", "d", "m", "m38"};
  dq_type types[] = {T_BOOL, T_I32, T_I64, T_F64, T_UTF8, T_DATE, T_DEC,
                     {DQ_TYPE_DECIMAL, 38, 10}};
  bool nullable[] = {true, false, true, false, true, false, true, false};
  dq_schema *s, *back;
  dq_error err;
  assert_int_equal(dq_schema_new(8, names, types, nullable, &s, &err), 0);
  struct ArrowSchema as;
  assert_int_equal(dq_schema_export(s, &as, &err), 0);
  assert_string_equal(as.format, "+s");
  assert_int_equal(as.n_children, 8);
  assert_null(as.dictionary);
  const char *formats[] = {"b", "i", "l", "g", "u", "tdD", "d:15,2,64",
                           "d:38,10"};
  for (int i = 0; i < 8; i++) {
    assert_string_equal(as.children[i]->format, formats[i]);
    assert_string_equal(as.children[i]->name, names[i]);
    assert_int_equal(as.children[i]->flags,
                     nullable[i] ? ARROW_FLAG_NULLABLE : 0);
    assert_int_equal(as.children[i]->n_children, 0);
    assert_non_null(as.children[i]->release);
  }
  assert_int_equal(dq_schema_import(&as, &back, &err), 0);
  assert_true(dq_schema_equal(s, back));
  dq_schema_unref(back);

  /* Children are independent: move one out, release one early, release the
   * parent, then the moved one (valgrind/ASan check the frees). */
  struct ArrowSchema moved = *as.children[4];
  as.children[4]->release = NULL;
  as.children[1]->release(as.children[1]);
  assert_null(as.children[1]->release);
  as.release(&as);
  assert_null(as.release);
  assert_string_equal(moved.format, "u");
  assert_string_equal(moved.name, "s");
  moved.release(&moved);
  assert_null(moved.release);
  dq_schema_unref(s);

  /* An empty schema exports as a struct with no children. */
  assert_int_equal(dq_schema_new(0, NULL, NULL, NULL, &s, &err), 0);
  assert_int_equal(dq_schema_export(s, &as, &err), 0);
  assert_int_equal(as.n_children, 0);
  assert_int_equal(dq_schema_import(&as, &back, &err), 0);
  assert_int_equal(dq_schema_n_fields(back), 0);
  dq_schema_unref(back);
  as.release(&as);
  dq_schema_unref(s);
}

static void noop_schema_release(struct ArrowSchema *s) { s->release = NULL; }

static void test_schema_import_errors(void **state) {
  (void)state;
  struct ArrowSchema child = {.format = "i", .name = "x",
                              .flags = ARROW_FLAG_NULLABLE,
                              .release = noop_schema_release};
  struct ArrowSchema *kids[] = {&child};
  struct ArrowSchema root = {.format = "+s", .name = "", .n_children = 1,
                             .children = kids,
                             .release = noop_schema_release};
  dq_schema *s = NULL;
  dq_error err;
  assert_int_equal(dq_schema_import(&root, &s, &err), 0);
  assert_true(dq_schema_field_nullable(s, 0));
  dq_schema_unref(s);

  child.format = "d:15,2,128";
  assert_int_equal(dq_schema_import(&root, &s, &err), 0);
  assert_int_equal(dq_schema_field_type(s, 0).precision, 15);
  dq_schema_unref(s);

  child.format = "U";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EUNSUPPORTED,
             "field 0 (\"x\") has Arrow format \"U\", which dq does not "
             "support");
  assert_null(s);
  child.format = "d:15";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "malformed decimal format \"d:15\"");
  child.format = "d:15,2x";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "malformed decimal format");
  child.format = "d:39,2";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "decimal precision 39 is outside 1..38");
  child.format = "d:5,6";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "decimal scale 6 is outside 0..5");
  child.format = "d:15,2,256";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EUNSUPPORTED,
             "256-bit decimal");
  child.format = "d:15,-2";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EUNSUPPORTED,
             "negative decimal scale");
  child.format = "d:18,2,64";
  assert_int_equal(dq_schema_import(&root, &s, &err), 0);
  assert_int_equal(dq_schema_field_type(s, 0).precision, 18);
  dq_schema_unref(s);
  child.format = "d:19,2,64";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "a 64-bit decimal of precision 19 (format \"d:19,2,64\"); 64 "
             "bits hold at most 18 digits");
  assert_null(s);
  child.format = "d:15,2,32";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EUNSUPPORTED,
             "32-bit decimal");
  child.format = NULL;
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "field 0 (\"x\") has no format string");
  child.format = "i";
  root.format = "i";
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "must be a struct (format \"+s\"), not \"i\"");
  root.format = "+s";
  root.children = NULL;
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "children pointer is NULL");
  root.children = kids;
  kids[0] = NULL;
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "field 0 of the ArrowSchema is NULL");
  kids[0] = &child;
  root.release = NULL;
  assert_err(dq_schema_import(&root, &s, &err), err, DQ_EINVAL,
             "has been released");
}

/* Checks the exported struct against the batch, the way a consumer would
 * read it. */
static void check_exported(const struct ArrowArray *aa, const dq_batch *bt) {
  assert_int_equal(aa->length, dq_batch_n_rows(bt));
  assert_int_equal(aa->null_count, 0);
  assert_int_equal(aa->offset, 0);
  assert_int_equal(aa->n_buffers, 1);
  assert_null(aa->buffers[0]);
  assert_int_equal(aa->n_children, (int64_t)dq_batch_n_columns(bt));
  for (size_t c = 0; c < dq_batch_n_columns(bt); c++) {
    const struct ArrowArray *ch = aa->children[c];
    const dq_array *a = dq_batch_column(bt, c);
    assert_int_equal(ch->length, a->length);
    assert_int_equal(ch->null_count, a->null_count);
    assert_int_equal(ch->offset, 0);
    assert_int_equal(ch->n_children, 0);
    assert_int_equal(ch->n_buffers, a->type.id == DQ_TYPE_UTF8 ? 3 : 2);
    /* Zero copy: the struct points at the batch's own buffers. */
    assert_ptr_equal(ch->buffers[0], a->validity ? a->validity->data : NULL);
    if (a->type.id == DQ_TYPE_UTF8) {
      assert_ptr_equal(ch->buffers[1], a->offsets->data);
      assert_ptr_equal(ch->buffers[2], a->values->data);
    } else {
      assert_ptr_equal(ch->buffers[1], a->values->data);
    }
  }
}

static void test_batch_round_trip(void **state) {
  (void)state;
  int64_t sizes[] = {0, 1, 37, 1000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    for (int with_nulls = 0; with_nulls < 2; with_nulls++) {
      int64_t n = sizes[k];
      dq_batch *bt = build_all(n, with_nulls, 0);
      dq_error err;
      struct ArrowSchema as;
      struct ArrowArray aa;
      assert_int_equal(dq_schema_export(dq_batch_schema(bt), &as, &err), 0);
      assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
      check_exported(&aa, bt);
      dq_schema *s2;
      assert_int_equal(dq_schema_import(&as, &s2, &err), 0);
      as.release(&as);
      dq_batch *back;
      int rc = dq_batch_import(&aa, s2, &back, &err);
      if (rc != 0)
        fail_msg("import: %s", err.message);
      assert_null(aa.release); /* moved */
      assert_true(dq_schema_equal(dq_batch_schema(back), dq_batch_schema(bt)));
      assert_int_equal(dq_batch_n_rows(back), n);
      for (size_t c = 0; c < N_ALL; c++) {
        const dq_array *a = dq_batch_column(back, c);
        const dq_array *o = dq_batch_column(bt, c);
        assert_int_equal(a->null_count, o->null_count);
        /* Zero copy both ways (non-empty buffers). */
        if (n > 0) {
          assert_ptr_equal(a->values->data, o->values->data);
          if (o->validity)
            assert_ptr_equal(a->validity->data, o->validity->data);
        }
      }
      assert_int_equal(dq_batch_byte_size(back), dq_batch_byte_size(bt));
      /* Drop the original first: the import must keep the data alive. */
      dq_batch_unref(bt);
      for (int64_t r = 0; r < n; r++)
        check_row(back, r, r, with_nulls);
      dq_batch_unref(back);
      dq_schema_unref(s2);
    }
  }
}

static void test_batch_export_children_independent(void **state) {
  (void)state;
  dq_batch *bt = build_all(50, true, 0);
  dq_schema *s = dq_schema_ref((dq_schema *)dq_batch_schema(bt));
  dq_error err;
  struct ArrowArray aa;
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  dq_batch_unref(bt); /* the export holds what it needs */

  /* Move the utf8 child out, release the int32 child early. */
  struct ArrowArray moved = *aa.children[4];
  aa.children[4]->release = NULL;
  aa.children[1]->release(aa.children[1]);
  assert_null(aa.children[1]->release);
  aa.release(&aa);
  assert_null(aa.release);

  /* The moved child still reads correctly after its parent is gone. */
  const int32_t *off = moved.buffers[1];
  const char *bytes = moved.buffers[2];
  assert_int_equal(moved.length, 50);
  for (int64_t r = 0; r < 50; r++) {
    if ((r + 4) % 3 == 0)
      continue;
    const char *want = row_str(r);
    assert_int_equal(off[r + 1] - off[r], strlen(want));
    assert_memory_equal(bytes + off[r], want, strlen(want));
  }
  moved.release(&moved);
  assert_null(moved.release);

  /* Releasing every child before the parent works too. */
  bt = build_all(5, false, 0);
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  for (int64_t c = 0; c < aa.n_children; c++)
    aa.children[c]->release(aa.children[c]);
  aa.release(&aa);
  dq_batch_unref(bt);

  /* The whole struct may be moved, then imported from its new place. */
  bt = build_all(5, false, 0);
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  struct ArrowArray moved_root = aa;
  aa.release = NULL;
  dq_batch *back;
  assert_int_equal(dq_batch_import(&moved_root, s, &back, &err), 0);
  check_row(back, 4, 4, false);
  dq_batch_unref(back);
  dq_batch_unref(bt);
  dq_schema_unref(s);
}

/* An untouched export of this library is taken back by reference (the same
 * arrays, no checks re-run); any change to it sends it through the full
 * checks, which still catch what they catch. */
static void test_import_own_export(void **state) {
  (void)state;
  dq_error err;
  dq_batch *bt = build_all(100, true, 0);
  dq_schema *s = dq_schema_ref((dq_schema *)dq_batch_schema(bt));
  struct ArrowArray aa;
  dq_batch *back;

  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  assert_int_equal(dq_batch_import(&aa, s, &back, &err), 0);
  assert_null(aa.release);
  for (size_t c = 0; c < N_ALL; c++)
    assert_ptr_equal(dq_batch_column(back, c), dq_batch_column(bt, c));
  dq_batch_unref(back);

  /* Sliced by the consumer (offset 1, one row fewer): a valid import, of
   * the rows it now says, through the checks (new arrays). */
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  aa.length = 99;
  for (int64_t c = 0; c < aa.n_children; c++) {
    aa.children[c]->offset = 1;
    aa.children[c]->length = 99;
    aa.children[c]->null_count = -1;
  }
  if (dq_batch_import(&aa, s, &back, &err) != 0)
    fail_msg("sliced import: %s", err.message);
  assert_true(dq_batch_column(back, 1) != dq_batch_column(bt, 1));
  for (int64_t r = 0; r < 99; r++)
    check_row(back, r, r + 1, true);
  dq_batch_unref(back);

  /* A utf8 child re-pointed at offsets that go backwards: refused. */
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  struct ArrowArray *u = aa.children[4];
  int32_t *bad = malloc((size_t)(u->length + 1) * sizeof *bad);
  assert_non_null(bad);
  memcpy(bad, u->buffers[1], (size_t)(u->length + 1) * sizeof *bad);
  bad[50] = bad[51] + 1;
  ((const void **)u->buffers)[1] = bad;
  assert_true(dq_batch_import(&aa, s, &back, &err) < 0);
  assert_null(back);
  assert_non_null(strstr(err.message, "\"s\""));
  free(bad);

  /* Longer than its columns: refused. */
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  aa.length = 101;
  assert_true(dq_batch_import(&aa, s, &back, &err) < 0);

  dq_batch_unref(bt);
  dq_schema_unref(s);
}

/* --- Arrow C Data Interface: import of foreign arrays ----------------------- */

/* A hand-written producer: children and buffers live in a test struct, and
 * the root's release counts how often it ran. */
static int producer_releases;

static void producer_release_child(struct ArrowArray *a) { a->release = NULL; }

static void producer_release_root(struct ArrowArray *a) {
  for (int64_t i = 0; i < a->n_children; i++)
    if (a->children[i] != NULL && a->children[i]->release != NULL)
      a->children[i]->release(a->children[i]);
  producer_releases++;
  a->release = NULL;
}

typedef struct producer {
  struct ArrowArray root;
  struct ArrowArray kids[8];
  struct ArrowArray *ptrs[8];
  const void *root_buffers[1];
  const void *bufs[8][3];
} producer;

static void producer_init(producer *p, int64_t length, int64_t n_children) {
  memset(p, 0, sizeof *p);
  for (int i = 0; i < 8; i++) {
    p->ptrs[i] = &p->kids[i];
    p->kids[i].buffers = p->bufs[i];
    p->kids[i].release = producer_release_child;
    p->kids[i].length = length;
  }
  p->root = (struct ArrowArray){.length = length, .n_buffers = 1,
                                .n_children = n_children,
                                .buffers = p->root_buffers,
                                .children = p->ptrs,
                                .release = producer_release_root};
}

static void set_child(producer *p, int i, int64_t n_buffers, int64_t offset,
                      int64_t null_count, const void *b0, const void *b1,
                      const void *b2) {
  p->kids[i].n_buffers = n_buffers;
  p->kids[i].offset = offset;
  p->kids[i].null_count = null_count;
  p->bufs[i][0] = b0;
  p->bufs[i][1] = b1;
  p->bufs[i][2] = b2;
}

static dq_schema *schema_of(size_t n, const dq_type *types) {
  static const char *const names[] = {"c0", "c1", "c2", "c3",
                                      "c4", "c5", "c6", "c7"};
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_new(n, names, types, NULL, &s, &err), 0);
  return s;
}

/* A decimal(15,2) arrives as a decimal64 ("d:15,2,64": taken as is) or as
 * a decimal128 ("d:15,2": narrowed to the decimal64 dq stores, each value
 * checked); dq exports it as a decimal64. */
static void test_import_decimal_widths(void **state) {
  (void)state;
  struct ArrowSchema child = {.format = "d:15,2", .name = "price",
                              .flags = ARROW_FLAG_NULLABLE,
                              .release = noop_schema_release};
  struct ArrowSchema *kids[] = {&child};
  struct ArrowSchema root = {.format = "+s", .name = "", .n_children = 1,
                             .children = kids,
                             .release = noop_schema_release};
  int64_t wide[2 * 4] = {12345, 0, -1, -1, INT64_MAX, 0, 0, 0};
  int64_t narrow[4] = {12345, -1, -999999999999999, 7};
  uint8_t valid[1] = {0x07}; /* row 3 null */
  for (int pass = 0; pass < 2; pass++) {
    child.format = pass == 0 ? "d:15,2" : "d:15,2,64";
    dq_schema *s;
    dq_error err;
    assert_int_equal(dq_schema_import(&root, &s, &err), 0);
    assert_int_equal(dq_type_width(dq_schema_field_type(s, 0)), 8);
    producer p;
    producer_init(&p, 4, 1);
    set_child(&p, 0, 2, 0, 1, valid, pass == 0 ? (void *)wide : narrow, NULL);
    dq_batch *b;
    producer_releases = 0;
    int rc = dq_batch_import(&p.root, s, &b, &err);
    if (rc != 0)
      fail_msg("import: %s", err.message);
    const dq_array *a = dq_batch_column(b, 0);
    const int64_t want[3] = {12345, -1,
                             pass == 0 ? INT64_MAX : -999999999999999};
    for (int r = 0; r < 3; r++)
      assert_true(dq_decimal_to_i128(dq_array_decimal(a, r)) == want[r]);
    assert_true(dq_array_is_null(a, 3));
    struct ArrowSchema out;
    assert_int_equal(dq_schema_export(s, &out, &err), 0);
    assert_string_equal(out.children[0]->format, "d:15,2,64");
    out.release(&out);
    dq_batch_unref(b);
    dq_schema_unref(s);
  }
  /* A decimal128 value that does not fit 64 bits is refused, not cut. */
  child.format = "d:15,2";
  dq_schema *s;
  dq_error err;
  assert_int_equal(dq_schema_import(&root, &s, &err), 0);
  wide[2 * 1 + 1] = 1; /* row 1: 2^64 - 1 */
  producer p;
  producer_init(&p, 4, 1);
  set_child(&p, 0, 2, 0, 1, valid, wide, NULL);
  dq_batch *b = NULL;
  assert_int_equal(dq_batch_import(&p.root, s, &b, &err), DQ_EINVAL);
  assert_non_null(strstr(err.message, "row 1 has more digits than its "
                                      "precision"));
  assert_null(b);
  dq_schema_unref(s);
}

static void test_import_offsets(void **state) {
  (void)state;
  /* Children with their own offsets, under a struct with offset 1, so row r
   * of the batch is element (child offset + 1 + r) of each child. */
  int32_t i32[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  uint8_t bools[2] = {0xaa, 0x55};        /* bit k = k odd (k < 8) */
  uint8_t valid[2] = {0xff ^ 0x20, 0xff}; /* bit 5 null */
  int32_t offs[8] = {0, 1, 3, 6, 10, 15, 21, 28};
  const char *text = "abbcccddddeeeeeffffffggggggg";
  int64_t dec_vals[2 * 8];
  for (int k = 0; k < 8; k++) {
    dec_vals[2 * k] = -k;
    dec_vals[2 * k + 1] = -1; /* sign-extended: the value -k */
  }
  /* decimal(38,2): a decimal128 (decimal(15,2) would be a decimal64). */
  dq_type types[] = {T_I32, T_BOOL, T_UTF8, {DQ_TYPE_DECIMAL, 38, 2}, T_I64};
  dq_schema *s = schema_of(5, types);
  producer p;
  producer_init(&p, 4, 5);
  p.root.offset = 1;
  for (int i = 0; i < 5; i++)
    p.kids[i].length = 6; /* >= struct offset + length (5) */
  /* int32: offset 2 (aligned slice, wrapped), validity bit offset 3
   * (not a multiple of 8: copied). */
  set_child(&p, 0, 2, 2, -1, valid, i32, NULL);
  p.kids[0].length = 8; /* not exact: the producer's count is not reused */
  /* bool: bit offset 2 (+1) = 3: copied. */
  set_child(&p, 1, 2, 2, 0, NULL, bools, NULL);
  /* utf8: offset 1 (+1) = 2: the offsets are sliced, the bytes shared. */
  set_child(&p, 2, 3, 1, 0, NULL, offs, text);
  /* decimal: offset 0 (+1) = 1: 16-byte values from a 16-aligned array. */
  set_child(&p, 3, 2, 0, 0, NULL, dec_vals, NULL);
  /* int64 whose validity offset is byte-aligned: 8 (+1)... use 7 + 1 = 8. */
  static int64_t i64[16];
  for (int k = 0; k < 16; k++)
    i64[k] = 100 + k;
  uint8_t v64[2] = {0x00, 0xfd}; /* bit 9 null */
  set_child(&p, 4, 2, 7, -1, v64, i64, NULL);
  p.kids[4].length = 9;

  dq_error err;
  dq_batch *bt;
  producer_releases = 0;
  int rc = dq_batch_import(&p.root, s, &bt, &err);
  if (rc != 0)
    fail_msg("import: %s", err.message);
  assert_null(p.root.release);
  assert_int_equal(producer_releases, 0); /* still in use */
  assert_int_equal(dq_batch_n_rows(bt), 4);

  const dq_array *a = dq_batch_column(bt, 0);
  /* rows are i32[3..6], valid bits 3..6 of valid[] (bit 5 null) */
  assert_ptr_equal(a->values->data, (uint8_t *)&i32[3]); /* not copied */
  assert_int_equal(dq_array_null_count(a), 1);
  for (int r = 0; r < 4; r++) {
    assert_int_equal(dq_array_is_null(a, r), r == 2);
    if (r != 2)
      assert_int_equal(dq_array_int32(a, r), 3 + r);
  }
  a = dq_batch_column(bt, 1);
  for (int r = 0; r < 4; r++)
    assert_int_equal(dq_array_bool(a, r), (3 + r) % 2 == 1);
  a = dq_batch_column(bt, 2);
  assert_ptr_equal(a->values->data, (const uint8_t *)text); /* shared */
  const char *want[] = {"ccc", "dddd", "eeeee", "ffffff"};
  for (int r = 0; r < 4; r++) {
    size_t len;
    const char *v = dq_array_utf8(a, r, &len);
    assert_int_equal(len, strlen(want[r]));
    assert_memory_equal(v, want[r], len);
  }
  a = dq_batch_column(bt, 3);
  for (int r = 0; r < 4; r++)
    assert_true(dq_decimal_to_i128(dq_array_decimal(a, r)) == -(1 + r));
  a = dq_batch_column(bt, 4);
  assert_ptr_equal(a->validity->data, &v64[1]); /* byte-aligned: wrapped */
  for (int r = 0; r < 4; r++) {
    assert_int_equal(dq_array_is_null(a, r), r == 1);
    if (r != 1)
      assert_int_equal(dq_array_int64(a, r), 108 + r);
  }

  /* Export the imported batch: the utf8 column keeps its non-zero first
   * offset, which Arrow allows. */
  struct ArrowArray aa;
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  assert_int_equal(((const int32_t *)aa.children[2]->buffers[1])[0], 3);
  dq_batch_unref(bt);
  assert_int_equal(producer_releases, 0); /* the export holds the buffers */
  aa.release(&aa);
  assert_int_equal(producer_releases, 1);
  dq_schema_unref(s);
}

static void test_import_misaligned(void **state) {
  (void)state;
  /* An int64 child whose data pointer is 4 bytes off: copied, not refused. */
  static uint64_t storage[6];
  uint8_t *odd = (uint8_t *)storage + 4;
  for (int k = 0; k < 4; k++) {
    int64_t v = 1000 + k;
    memcpy(odd + 8 * k, &v, 8);
  }
  dq_type types[] = {T_I64};
  dq_schema *s = schema_of(1, types);
  producer p;
  producer_init(&p, 4, 1);
  set_child(&p, 0, 2, 0, 0, NULL, odd, NULL);
  dq_batch *bt;
  dq_error err;
  producer_releases = 0;
  assert_int_equal(dq_batch_import(&p.root, s, &bt, &err), 0);
  /* Nothing points into the producer's memory: released at once. */
  assert_int_equal(producer_releases, 1);
  for (int r = 0; r < 4; r++)
    assert_int_equal(dq_array_int64(dq_batch_column(bt, 0), r), 1000 + r);
  dq_batch_unref(bt);
  dq_schema_unref(s);
}

static void test_import_empty(void **state) {
  (void)state;
  /* Zero rows: every buffer pointer may be NULL (Arrow spec). */
  dq_type types[] = {T_I32, T_UTF8, T_BOOL};
  dq_schema *s = schema_of(3, types);
  producer p;
  producer_init(&p, 0, 3);
  set_child(&p, 0, 2, 0, 0, NULL, NULL, NULL);
  set_child(&p, 1, 3, 0, 0, NULL, NULL, NULL);
  set_child(&p, 2, 2, 0, 0, NULL, NULL, NULL);
  dq_batch *bt;
  dq_error err;
  producer_releases = 0;
  assert_int_equal(dq_batch_import(&p.root, s, &bt, &err), 0);
  assert_int_equal(producer_releases, 1);
  assert_int_equal(dq_batch_n_rows(bt), 0);
  /* And it exports again with no NULL data pointers. */
  struct ArrowArray aa;
  assert_int_equal(dq_batch_export(bt, &aa, &err), 0);
  assert_non_null(aa.children[1]->buffers[1]);
  assert_int_equal(((const int32_t *)aa.children[1]->buffers[1])[0], 0);
  assert_non_null(aa.children[1]->buffers[2]);
  aa.release(&aa);
  dq_batch_unref(bt);
  dq_schema_unref(s);
}

/* Imports p (which must fail), checks the error, and that ownership was
 * taken: the caller's struct is marked released and the producer's release
 * ran exactly once. */
static void expect_import_error(producer *p, dq_schema *s, int code,
                                const char *text) {
  dq_batch *bt = (dq_batch *)0x1;
  dq_error err;
  producer_releases = 0;
  assert_err(dq_batch_import(&p->root, s, &bt, &err), err, code, text);
  assert_null(bt);
  assert_null(p->root.release);
  assert_int_equal(producer_releases, 1);
}

static void test_import_malformed(void **state) {
  (void)state;
  int32_t i32[4] = {1, 2, 3, 4};
  int32_t offs[5] = {0, 2, 1, 3, 4};
  int32_t offs_far[5] = {0, 1, 2, 3, 400};
  int32_t offs_neg[5] = {0, 1, 2, 3, -4};
  const char *text = "abcd";
  uint8_t valid = 0x07;
  dq_type types[] = {T_I32, T_UTF8};
  dq_schema *s = schema_of(2, types);
  producer p;
#define RESET()                                                                \
  do {                                                                         \
    producer_init(&p, 4, 2);                                                   \
    set_child(&p, 0, 2, 0, 0, NULL, i32, NULL);                                \
    set_child(&p, 1, 3, 0, 0, NULL, offs_far, text);                           \
    offs_far[4] = 4;                                                           \
  } while (0)

  /* Sanity: the baseline imports. */
  RESET();
  dq_batch *bt;
  dq_error err;
  assert_int_equal(dq_batch_import(&p.root, s, &bt, &err), 0);
  dq_batch_unref(bt);

  RESET();
  p.kids[0].n_buffers = 3;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 0 (\"c0\", int32) has 3 buffers; expected 2");
  RESET();
  p.kids[1].n_buffers = 2;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\", utf8) has 2 buffers; expected 3");
  RESET();
  p.root.n_buffers = 0;
  expect_import_error(&p, s, DQ_EINVAL,
                      "struct array and must have 1 buffer, not 0");
  RESET();
  p.root.n_children = 1;
  expect_import_error(&p, s, DQ_EINVAL,
                      "the ArrowArray has 1 children but the schema has 2 "
                      "fields");
  RESET();
  p.bufs[0][1] = NULL;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 0 (\"c0\", int32): the data buffer (buffer 1) "
                      "is NULL");
  RESET();
  p.bufs[1][2] = NULL;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\", utf8): the data buffer (buffer 2) is "
                      "NULL but the offsets reach 4");
  RESET();
  p.bufs[1][1] = NULL;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\", utf8): the offsets buffer (buffer 1) "
                      "is NULL");
  RESET();
  p.bufs[1][1] = offs;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\", utf8): utf8 offsets decrease at row 1 "
                      "(2 then 1)");
  RESET();
  offs_far[4] = 400;
  p.bufs[1][2] = NULL; /* would read 400 bytes of nothing */
  expect_import_error(&p, s, DQ_EINVAL, "the data buffer (buffer 2) is NULL");
  RESET();
  p.bufs[1][1] = offs_neg;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\", utf8): utf8 offset 4 is negative (-4)");
  RESET();
  p.kids[0].null_count = 1;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 0 (\"c0\", int32): null_count is 1 but the "
                      "validity buffer is NULL");
  RESET();
  p.kids[0].null_count = 2;
  p.bufs[0][0] = &valid;
  expect_import_error(&p, s, DQ_EINVAL,
                      "int32 array declares null_count 2 but its validity "
                      "bitmap has 1 nulls");
  RESET();
  p.kids[0].length = 3;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 0 (\"c0\", int32) has 3 rows, fewer than the "
                      "struct's offset + length (4)");
  RESET();
  p.kids[0].offset = -1;
  expect_import_error(&p, s, DQ_EINVAL, "offset -1");
  RESET();
  p.kids[1].n_children = 1;
  expect_import_error(&p, s, DQ_EINVAL, "has children or a dictionary");
  RESET();
  p.ptrs[1] = NULL;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\"): its ArrowArray child is NULL");
  p.ptrs[1] = &p.kids[1];
  RESET();
  p.kids[1].buffers = NULL;
  expect_import_error(&p, s, DQ_EINVAL,
                      "column 1 (\"c1\", utf8): the buffers pointer is NULL");
  RESET();
  p.root.null_count = 2;
  expect_import_error(&p, s, DQ_EUNSUPPORTED, "cannot have top-level nulls");
  RESET();
  p.root.null_count = -1;
  p.root_buffers[0] = &valid; /* row 3 null */
  expect_import_error(&p, s, DQ_EUNSUPPORTED,
                      "the ArrowArray's struct has 1 null rows");
  RESET();
  p.root.length = -4;
  expect_import_error(&p, s, DQ_EINVAL, "both must be >= 0");
  RESET();
  expect_import_error(&p, NULL, DQ_EINVAL, "schema is NULL");

  /* Not taken: NULL or already released. */
  assert_err(dq_batch_import(NULL, s, &bt, &err), err, DQ_EINVAL,
             "array is NULL");
  RESET();
  p.root.release = NULL;
  assert_err(dq_batch_import(&p.root, s, &bt, &err), err, DQ_EINVAL,
             "the ArrowArray has been released");
  dq_schema_unref(s);
#undef RESET
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buffer_new),
      cmocka_unit_test(test_buffer_refs_and_reserve),
      cmocka_unit_test(test_buffer_wrap),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_schema),
      cmocka_unit_test(test_schema_errors),
      cmocka_unit_test(test_array_from_buffers),
      cmocka_unit_test(test_array_utf8_offsets),
      cmocka_unit_test(test_array_accessors_wrong_type),
      cmocka_unit_test(test_builder_every_type),
      cmocka_unit_test(test_builder_empty_and_one_row),
      cmocka_unit_test(test_builder_many_rows),
      cmocka_unit_test(test_builder_errors),
      cmocka_unit_test(test_batch_new_errors),
      cmocka_unit_test(test_batch_byte_size),
      cmocka_unit_test(test_schema_export_import),
      cmocka_unit_test(test_schema_import_errors),
      cmocka_unit_test(test_batch_round_trip),
      cmocka_unit_test(test_batch_export_children_independent),
      cmocka_unit_test(test_import_own_export),
      cmocka_unit_test(test_import_offsets),
      cmocka_unit_test(test_import_decimal_widths),
      cmocka_unit_test(test_import_misaligned),
      cmocka_unit_test(test_import_empty),
      cmocka_unit_test(test_import_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
