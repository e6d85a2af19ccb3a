/* test_routing.c — the boundary routing formulas for every N_p, N_c, P_c
 * (and P_p) from 1 to 8: each producer partition is read exactly once
 * (shuffle, coalesce), or by every consumer (broadcast); every local
 * partition index is in range; coalesce groups are contiguous and balanced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exchange/routing.h"

#define MAX 8

/* reads[j][g]: how many consumer tasks read partition g of producer j. */
static void count_reads(const dq_routing *r, int reads[MAX][MAX * MAX],
                        int local_hits[MAX][MAX]) {
  memset(reads, 0, sizeof(int) * MAX * MAX * MAX);
  memset(local_hits, 0, sizeof(int) * MAX * MAX);
  for (uint32_t t = 0; t < r->n_consumers; t++) {
    uint32_t first, count, start, end;
    dq_routing_producers(r, t, &first, &count);
    dq_routing_range(r, t, &start, &end);
    assert_true(first + count <= r->n_producers);
    assert_true(start <= end);
    assert_true(end <= r->producer_partitions);
    for (uint32_t j = first; j < first + count; j++)
      for (uint32_t g = start; g < end; g++) {
        reads[j][g]++;
        uint32_t l = dq_routing_local(r, t, j, g);
        if (r->kind == DQ_BOUNDARY_BROADCAST) {
          assert_int_equal(l, DQ_ROUTE_ALL);
        } else {
          assert_true(l < r->consumer_partitions);
          local_hits[t][l]++;
        }
      }
  }
}

static void test_shuffle(void **state) {
  (void)state;
  static int reads[MAX][MAX * MAX], hits[MAX][MAX];
  for (uint32_t np = 1; np <= MAX; np++)
    for (uint32_t nc = 1; nc <= MAX; nc++)
      for (uint32_t pc = 1; pc <= MAX; pc++) {
        dq_routing r = {DQ_BOUNDARY_SHUFFLE, np, pc * nc, nc, pc};
        count_reads(&r, reads, hits);
        for (uint32_t j = 0; j < np; j++)
          for (uint32_t g = 0; g < pc * nc; g++)
            assert_int_equal(reads[j][g], 1);
        /* Every local partition gets exactly one partition per producer. */
        for (uint32_t t = 0; t < nc; t++)
          for (uint32_t l = 0; l < pc; l++)
            assert_int_equal(hits[t][l], (int)np);
      }
}

static void test_coalesce(void **state) {
  (void)state;
  static int reads[MAX][MAX * MAX], hits[MAX][MAX];
  for (uint32_t np = 1; np <= MAX; np++)
    for (uint32_t nc = 1; nc <= MAX; nc++)
      for (uint32_t pc = 1; pc <= MAX; pc++)
        for (uint32_t pp = 1; pp <= 3; pp++) {
          dq_routing r = {DQ_BOUNDARY_COALESCE, np, pp, nc, pc};
          count_reads(&r, reads, hits);
          for (uint32_t j = 0; j < np; j++)
            for (uint32_t g = 0; g < pp; g++)
              assert_int_equal(reads[j][g], 1);
          /* Groups are contiguous, in order, and differ by at most one. */
          uint32_t next = 0, lo = UINT32_MAX, hi = 0;
          for (uint32_t t = 0; t < nc; t++) {
            uint32_t first, count;
            dq_routing_producers(&r, t, &first, &count);
            assert_int_equal(first, next);
            next += count;
            lo = count < lo ? count : lo;
            hi = count > hi ? count : hi;
          }
          assert_int_equal(next, np);
          assert_true(hi - lo <= 1);
        }
}

static void test_broadcast(void **state) {
  (void)state;
  static int reads[MAX][MAX * MAX], hits[MAX][MAX];
  for (uint32_t np = 1; np <= MAX; np++)
    for (uint32_t nc = 1; nc <= MAX; nc++)
      for (uint32_t pc = 1; pc <= MAX; pc++) {
        dq_routing r = {DQ_BOUNDARY_BROADCAST, np, 1, nc, pc};
        count_reads(&r, reads, hits);
        for (uint32_t j = 0; j < np; j++)
          assert_int_equal(reads[j][0], (int)nc);
      }
}

/* The worked example: 5 producers coalesced into 3 consumers. */
static void test_coalesce_example(void **state) {
  (void)state;
  dq_routing r = {DQ_BOUNDARY_COALESCE, 5, 1, 3, 1};
  uint32_t first, count;
  dq_routing_producers(&r, 0, &first, &count);
  assert_int_equal(first, 0);
  assert_int_equal(count, 2);
  dq_routing_producers(&r, 1, &first, &count);
  assert_int_equal(first, 2);
  assert_int_equal(count, 2);
  dq_routing_producers(&r, 2, &first, &count);
  assert_int_equal(first, 4);
  assert_int_equal(count, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shuffle),
      cmocka_unit_test(test_coalesce),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_coalesce_example),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
