/* test_shm_ring.c — the shared-memory ring on its own: records in order
 * across wrap-arounds; a producer that waits for a slow reader and loses
 * nothing; a reader that holds records makes the producer fall back
 * (DQ_ETOOBIG) instead of hanging; a drained ring is reused from its
 * start (the copy's destination stays in cache), one that holds records
 * is not; oversize records; a dead peer and a
 * cancel wake the waiting side; malformed rings and records are refused. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm_internal.h"

#define RING (64u << 10)

/* A consumer view of the producer's ring, as the other process has it. */
static shm_ring *attach_copy(int fds[3]) {
  int dup_fds[3] = {dup(fds[0]), dup(fds[1]), dup(fds[2])};
  shm_ring *c;
  dq_error err;
  assert_int_equal(shm_ring_attach(dup_fds, &c, &err), 0);
  return c;
}

/* A producer's ring, the consumer's view of it, and the socket pair the
 * two sides wake each other through: what every test sets up first. */
typedef struct rings {
  shm_ring *p, *c;
  int sv[2];
} rings;

static void rings_open(rings *r) {
  int fds[3];
  dq_error err;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, r->sv), 0);
  assert_int_equal(shm_ring_create(RING, &r->p, fds, &err), 0);
  r->c = attach_copy(fds);
}

/* A socket a test closed itself is -1. */
static void rings_close(rings *r) {
  shm_ring_unref(r->c);
  shm_ring_unref(r->p);
  for (int i = 0; i < 2; i++)
    if (r->sv[i] >= 0)
      close(r->sv[i]);
}

static void fill(uint8_t *buf, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++)
    buf[i] = (uint8_t)(seed * 31 + i);
}

static void check(const uint8_t *buf, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++)
    if (buf[i] != (uint8_t)(seed * 31 + i))
      fail_msg("record %u: byte %zu differs", seed, i);
}

static void test_order_and_wrap(void **state) {
  (void)state;
  rings rg;
  rings_open(&rg);
  dq_error err;
  uint8_t buf[9000];
  /* 2000 records of varying sizes: many times around the ring. */
  for (uint32_t i = 0; i < 2000; i++) {
    size_t n = (i * 977) % sizeof buf;
    fill(buf, n, i);
    shm_slice sl[2] = {{buf, n / 2}, {buf + n / 2, n - n / 2}};
    assert_int_equal(shm_ring_put(rg.p, -1, SHM_REC_BATCH, i, sl, 2, &err), 0);
    shm_rec r;
    assert_int_equal(shm_ring_get(rg.c, &r, &err), 0);
    assert_int_equal(r.kind, SHM_REC_BATCH);
    assert_int_equal(r.partition, i);
    assert_int_equal(r.seq, i);
    assert_int_equal(r.len, n);
    assert_true(r.capacity >= n);
    assert_int_equal((uintptr_t)r.payload % 64, 0); /* read in place */
    check(r.payload, n, i);
    shm_ring_release(rg.c, r.hdr);
    shm_rec none;
    assert_int_equal(shm_ring_get(rg.c, &none, &err), SHM_RING_EMPTY);
  }
  rings_close(&rg);
}

/* A reader that releases every record before the next is written keeps
 * the producer in the first few records of the ring; a record it holds
 * keeps its place and its bytes. */
static void test_drained_ring_restarts(void **state) {
  (void)state;
  rings rg;
  rings_open(&rg);
  dq_error err;
  uint8_t buf[4000];
  const uint8_t *first = NULL;
  for (uint32_t i = 0; i < 200; i++) {
    fill(buf, sizeof buf, i);
    shm_slice sl = {buf, sizeof buf};
    assert_int_equal(shm_ring_put(rg.p, -1, SHM_REC_BATCH, i, &sl, 1, &err), 0);
    shm_rec r;
    assert_int_equal(shm_ring_get(rg.c, &r, &err), 0);
    assert_int_equal(r.seq, i);
    check(r.payload, sizeof buf, i);
    if (first == NULL)
      first = r.payload;
    /* Never past the third record's slot (a record is 4096 + 64 bytes). */
    assert_true(r.payload >= first && r.payload < first + 3 * 4160);
    shm_ring_release(rg.c, r.hdr);
  }
  /* Held records pin their place: what follows goes after them, in
   * order, and nothing is overwritten. */
  shm_rec held[8];
  for (uint32_t i = 0; i < 8; i++) {
    fill(buf, sizeof buf, 1000 + i);
    shm_slice sl = {buf, sizeof buf};
    assert_int_equal(
        shm_ring_put(rg.p, -1, SHM_REC_BATCH, 1000 + i, &sl, 1, &err), 0);
    assert_int_equal(shm_ring_get(rg.c, &held[i], &err), 0);
  }
  for (uint32_t i = 0; i < 8; i++) {
    check(held[i].payload, sizeof buf, 1000 + i);
    shm_ring_release(rg.c, held[i].hdr);
  }
  rings_close(&rg);
}

typedef struct producer {
  shm_ring *r;
  int sock;
  uint32_t n, done;
  int rc;
  dq_error err;
} producer;

static void *produce(void *arg) {
  producer *pr = arg;
  uint8_t buf[10000];
  for (uint32_t i = 0; i < pr->n; i++) {
    fill(buf, sizeof buf, i);
    shm_slice sl = {buf, sizeof buf};
    pr->rc = shm_ring_put(pr->r, pr->sock, SHM_REC_BATCH, i, &sl, 1,
                          &pr->err);
    if (pr->rc != 0)
      return NULL;
    __atomic_store_n(&pr->done, i + 1, __ATOMIC_SEQ_CST);
  }
  return NULL;
}

/* A reader that stops: the producer waits, nothing is lost, it resumes. */
static void test_backpressure(void **state) {
  (void)state;
  rings rg;
  rings_open(&rg);
  dq_error err;
  producer pr = {.r = rg.p, .sock = rg.sv[0], .n = 100};
  pthread_t th;
  pthread_create(&th, NULL, produce, &pr);
  usleep(200000);
  /* 100 records of 10 KB do not fit in 64 KiB: the producer is waiting. */
  uint32_t early = __atomic_load_n(&pr.done, __ATOMIC_SEQ_CST);
  assert_true(early < 10);
  assert_int_equal(pr.rc, 0);
  for (uint32_t i = 0; i < 100; i++) {
    shm_rec r;
    int rc;
    while ((rc = shm_ring_get(rg.c, &r, &err)) == SHM_RING_EMPTY)
      assert_int_equal(shm_ring_wait(rg.c, rg.sv[1], -1, &err), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(r.seq, i);
    check(r.payload, r.len, i);
    shm_ring_release(rg.c, r.hdr);
  }
  pthread_join(th, NULL);
  assert_int_equal(pr.rc, 0);
  assert_int_equal(pr.done, 100);
  rings_close(&rg);
}

typedef struct holder {
  shm_ring *r;
  int sock;
  shm_rec held[64];
  int n;
} holder;

/* Reads everything it can and keeps it, then waits for more. */
static void *hold_all(void *arg) {
  holder *h = arg;
  dq_error err;
  for (;;) {
    int rc = shm_ring_get(h->r, &h->held[h->n], &err);
    if (rc == 0 && h->n < 63) {
      h->n++;
      continue;
    }
    if (shm_ring_wait(h->r, h->sock, -1, &err) < 0 || shm_ring_cancelled(h->r))
      return NULL;
  }
}

/* A reader holding every record (a join's build side) must not hang the
 * producer: once the ring is full and the reader waits, put says
 * DQ_ETOOBIG and the record goes elsewhere. */
static void test_pinned_reader(void **state) {
  (void)state;
  rings rg;
  rings_open(&rg);
  dq_error err;
  holder h = {.r = rg.c, .sock = rg.sv[1]};
  pthread_t th;
  pthread_create(&th, NULL, hold_all, &h);
  alarm(20); /* a hang here is the bug this test is about */
  uint8_t buf[10000];
  int rc = 0, puts = 0;
  for (int i = 0; i < 1000 && rc == 0; i++) {
    shm_slice sl = {buf, sizeof buf};
    rc = shm_ring_put(rg.p, rg.sv[0], SHM_REC_BATCH, 0, &sl, 1, &err);
    puts += rc == 0;
  }
  alarm(0);
  assert_int_equal(rc, DQ_ETOOBIG);
  assert_true(puts >= 5 && puts <= 7); /* 64 KiB of 10 KB records */
  shm_ring_cancel(rg.c);
  pthread_join(th, NULL);
  for (int i = 0; i < h.n; i++)
    shm_ring_release(rg.c, h.held[i].hdr);
  /* Released: the ring takes records again. */
  shm_slice sl = {buf, sizeof buf};
  assert_int_equal(shm_ring_put(rg.p, rg.sv[0], SHM_REC_BATCH, 0, &sl, 1, &err),
                   DQ_ECANCELED); /* ...but this stream was cancelled */
  rings_close(&rg);
}

static void test_oversize(void **state) {
  (void)state;
  shm_ring *p;
  int fds[3];
  dq_error err;
  assert_int_equal(shm_ring_create(RING, &p, fds, &err), 0);
  uint8_t *big = calloc(1, RING / 2);
  shm_slice sl = {big, RING / 2};
  assert_int_equal(shm_ring_put(p, -1, SHM_REC_BATCH, 0, &sl, 1, &err),
                   DQ_ETOOBIG);
  free(big);
  /* A segment carries it instead. */
  uint8_t data[1000];
  fill(data, sizeof data, 7);
  shm_slice one = {data, sizeof data};
  int fd;
  size_t size;
  assert_int_equal(shm_segment_create(&one, 1, &fd, &size, &err), 0);
  assert_int_equal(size, sizeof data);
  uint8_t *m = mmap(NULL, 1024, PROT_READ, MAP_SHARED, fd, 0);
  assert_true(m != MAP_FAILED);
  check(m, sizeof data, 7);
  munmap(m, 1024);
  close(fd);
  shm_ring_unref(p);
}

/* The producer's process dies: the reader's wait returns at once. */
static void test_peer_death(void **state) {
  (void)state;
  rings rg;
  rings_open(&rg);
  dq_error err;
  close(rg.sv[0]); /* what the kernel does when the worker dies */
  rg.sv[0] = -1;
  alarm(10);
  assert_int_equal(shm_ring_wait(rg.c, rg.sv[1], -1, &err), DQ_EUNAVAILABLE);
  alarm(0);
  assert_non_null(strstr(err.message, "closed the stream"));
  rings_close(&rg);
}

static void *cancel_later(void *arg) {
  usleep(100000);
  shm_ring_cancel(arg);
  return NULL;
}

/* A producer waiting for space sees the reader's cancel. */
static void test_cancel_wakes_producer(void **state) {
  (void)state;
  rings rg;
  rings_open(&rg);
  pthread_t th;
  pthread_create(&th, NULL, cancel_later, rg.c);
  producer pr = {.r = rg.p, .sock = rg.sv[0], .n = 100};
  alarm(10);
  produce(&pr);
  alarm(0);
  assert_int_equal(pr.rc, DQ_ECANCELED);
  pthread_join(th, NULL);
  rings_close(&rg);
}

static void test_malformed(void **state) {
  (void)state;
  /* Not a ring at all. */
  int bad[3] = {memfd_create("x", 0), dup(0), dup(0)};
  assert_int_equal(ftruncate(bad[0], 65536), 0);
  shm_ring *c;
  dq_error err;
  assert_int_equal(shm_ring_attach(bad, &c, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "cannot read"));
  /* A record whose size lies. */
  shm_ring *p;
  int fds[3];
  assert_int_equal(shm_ring_create(RING, &p, fds, &err), 0);
  c = attach_copy(fds);
  uint8_t data[100] = {0};
  shm_slice sl = {data, sizeof data};
  assert_int_equal(shm_ring_put(p, -1, SHM_REC_BATCH, 0, &sl, 1, &err), 0);
  uint8_t *m = mmap(NULL, 4096 + RING, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fds[0], 0);
  assert_true(m != MAP_FAILED);
  uint64_t huge = (uint64_t)RING * 4;
  memcpy(m + 4096, &huge, sizeof huge); /* the record's size field */
  shm_rec r;
  assert_int_equal(shm_ring_get(c, &r, &err), DQ_EPROTO);
  assert_non_null(strstr(err.message, "malformed ring record"));
  munmap(m, 4096 + RING);
  shm_ring_unref(c);
  shm_ring_unref(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_and_wrap),
      cmocka_unit_test(test_drained_ring_restarts),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_pinned_reader),
      cmocka_unit_test(test_oversize),
      cmocka_unit_test(test_peer_death),
      cmocka_unit_test(test_cancel_wakes_producer),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
