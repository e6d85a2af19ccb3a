/* test_hmap.c — libdq/hmap.c, the map behind the worker's task table and
 * the config parser's duplicate-key check: every key put is found with its
 * value, replaced in place, removed exactly once, across growth and after
 * emptying; keys that differ in one byte or in length stay apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/hmap.h"

#define N 70000 /* more than the 65,536 tasks of the trial */

/* A 24-byte key like a task key: 16 bytes of "query", stage, task. */
static void make_key(uint32_t i, uint8_t k[24]) {
  memset(k, 0xab, 16);
  k[3] = (uint8_t)(i % 7);
  uint32_t stage = 1 + i % 3;
  memcpy(k + 16, &stage, 4);
  memcpy(k + 20, &i, 4);
}

static void count_value(void *value, void *ctx) {
  (void)value;
  (*(size_t *)ctx)++;
}

static void test_many(void **state) {
  (void)state;
  dq_hmap m = DQ_HMAP_INIT;
  uint8_t k[24];
  assert_null(dq_hmap_get(&m, "x", 1));
  assert_null(dq_hmap_remove(&m, "x", 1));
  assert_null(dq_hmap_any(&m));
  for (uint32_t i = 0; i < N; i++) {
    make_key(i, k);
    assert_int_equal(dq_hmap_put(&m, k, sizeof k, (void *)(uintptr_t)(i + 1)),
                     0);
  }
  assert_int_equal(m.n, N);
  for (uint32_t i = 0; i < N; i++) {
    make_key(i, k);
    assert_int_equal((uintptr_t)dq_hmap_get(&m, k, sizeof k), i + 1);
  }
  size_t seen = 0;
  dq_hmap_each(&m, count_value, &seen);
  assert_int_equal(seen, N);
  /* Replacing keeps one entry. */
  make_key(5, k);
  assert_int_equal(dq_hmap_put(&m, k, sizeof k, (void *)(uintptr_t)999), 0);
  assert_int_equal(m.n, N);
  assert_int_equal((uintptr_t)dq_hmap_get(&m, k, sizeof k), 999);
  /* Remove every other key; the rest stay. */
  for (uint32_t i = 0; i < N; i += 2) {
    make_key(i, k);
    assert_non_null(dq_hmap_remove(&m, k, sizeof k));
    assert_null(dq_hmap_remove(&m, k, sizeof k)); /* once only */
  }
  assert_int_equal(m.n, N / 2);
  for (uint32_t i = 0; i < N; i++) {
    make_key(i, k);
    void *v = dq_hmap_get(&m, k, sizeof k);
    if (i % 2 == 0)
      assert_null(v);
    else
      assert_int_equal((uintptr_t)v, i == 5 ? 999 : i + 1);
  }
  /* Drain with any() + remove(), as a stopping worker could. */
  size_t drained = 0;
  for (uint32_t i = 1; i < N; i += 2) {
    make_key(i, k);
    assert_non_null(dq_hmap_remove(&m, k, sizeof k));
    drained++;
  }
  assert_int_equal(drained, N / 2);
  assert_int_equal(m.n, 0);
  assert_null(dq_hmap_any(&m));
  dq_hmap_clear(&m);
  assert_int_equal(m.n_buckets, 0);
}

static void test_keys_apart(void **state) {
  (void)state;
  dq_hmap m = DQ_HMAP_INIT;
  /* Prefixes, one byte apart, and keys with a NUL inside. */
  assert_int_equal(dq_hmap_put(&m, "dq\0transport", 12, (void *)1), 0);
  assert_int_equal(dq_hmap_put(&m, "dq\0transpor", 11, (void *)2), 0);
  assert_int_equal(dq_hmap_put(&m, "dq\0transporu", 12, (void *)3), 0);
  assert_int_equal(dq_hmap_put(&m, "", 0, (void *)4), 0);
  assert_int_equal((uintptr_t)dq_hmap_get(&m, "dq\0transport", 12), 1);
  assert_int_equal((uintptr_t)dq_hmap_get(&m, "dq\0transpor", 11), 2);
  assert_int_equal((uintptr_t)dq_hmap_get(&m, "dq\0transporu", 12), 3);
  assert_int_equal((uintptr_t)dq_hmap_get(&m, "", 0), 4);
  assert_null(dq_hmap_get(&m, "dq", 2));
  assert_non_null(dq_hmap_any(&m));
  dq_hmap_clear(&m);
  assert_null(dq_hmap_get(&m, "", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many),
      cmocka_unit_test(test_keys_apart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
