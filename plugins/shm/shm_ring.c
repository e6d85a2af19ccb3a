/* shm_ring.c — a single-producer single-consumer ring of variable-size
 * records in a memfd shared by two processes.
 *
 * Layout: a 4 KiB header page (positions and wait flags, each on its own
 * cache line), then the data area.  Records start on 64-byte boundaries
 * with a 64-byte header, so an Arrow IPC message written as a payload has
 * 64-byte aligned buffers and the consumer decodes it in place.
 *
 * Space is reclaimed in order: the producer advances its tail over records
 * the consumer has marked freed.  A record the consumer keeps (zero-copy
 * batches held by a hash join's build side) pins everything behind it, so
 * when the ring is full while the consumer is itself waiting for data —
 * pins, not a slow reader — shm_ring_put reports DQ_ETOOBIG and the caller
 * sends that record through the socket in a dedicated segment instead.
 * Progress is thus guaranteed whatever the consumer keeps.  When the
 * consumer has released everything, the producer starts again at the
 * beginning of the data area (if two records fit there), so a consumer
 * that keeps up has every batch copied into the same cache-hot bytes.
 *
 * Wake-ups: each side spins (the consumer for as long as its recent waits
 * took, up to 200 us), then sets its "waiting" flag and
 * blocks in poll() on its eventfd and on the socket; the other side writes
 * the eventfd only when it sees the flag (Dekker-style, with sequentially
 * consistent atomics), so a busy stream makes no system calls for wake-ups,
 * an idle one costs no CPU, and a peer that dies wakes the waiter at once
 * through the socket's hang-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm_internal.h"

#define HDR_PAGE 4096u
#define REC_HDR 64u
#define RING_MAGIC 0x64717368u /* "dqsh" */
#define SPIN 2000
/* The consumer's spin before sleeping adapts between these (ns): see
 * shm_ring_wait. */
#define SPIN_MIN_NS 2000u
#define SPIN_MAX_NS 200000u

typedef struct ring_shared {
  _Atomic uint64_t head; /* producer: bytes published (monotonic) */
  char pad0[56];
  _Atomic uint32_t consumer_waiting;
  _Atomic uint32_t cancelled;
  _Atomic uint64_t read_pos; /* consumer: bytes read (monotonic) */
  char pad1[48];
  _Atomic uint32_t producer_waiting;
  char pad2[60];
  uint32_t magic;
  uint32_t version;
  uint64_t data_size;
} ring_shared;

typedef struct rec_hdr {
  uint64_t size; /* whole record, header included, multiple of 64 */
  uint64_t seq;  /* frame sequence number of the stream */
  uint32_t len;  /* payload bytes */
  uint32_t partition;
  uint8_t kind;
  uint8_t pad[7];
  _Atomic uint32_t freed;
  char pad2[28];
} rec_hdr;

_Static_assert(sizeof(rec_hdr) == REC_HDR, "record header is 64 bytes");
_Static_assert(sizeof(ring_shared) <= HDR_PAGE, "header fits its page");

struct shm_ring {
  atomic_long refs;
  uint8_t *map;
  size_t map_size;
  ring_shared *sh;
  uint8_t *data;
  uint64_t size;
  int memfd, data_efd, space_efd;
  uint64_t tail; /* producer only */
  uint64_t rpos; /* consumer only */
  uint32_t spin_ns; /* consumer only: how long to spin before sleeping */
  uint64_t seq;  /* producer: next sequence number */
};

static uint64_t align64(uint64_t n) { return (n + 63) & ~(uint64_t)63; }

static void efd_signal(int fd) {
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof one);
  (void)n; /* a full counter means a wake-up is already pending */
}

static void efd_drain(int fd) {
  uint64_t v;
  ssize_t n = read(fd, &v, sizeof v);
  (void)n;
}

static int map_ring(shm_ring *r, dq_error *err) {
  struct stat st;
  if (fstat(r->memfd, &st) != 0 || st.st_size < (off_t)(HDR_PAGE + 4096))
    return dq_error_set(err, DQ_EPROTO, "the stream's ring is too small");
  r->map_size = (size_t)st.st_size;
  r->map = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                r->memfd, 0);
  if (r->map == MAP_FAILED) {
    r->map = NULL;
    return dq_error_set(err, DQ_EIO, "cannot map the stream's ring: %s",
                        strerror(errno));
  }
  r->sh = (ring_shared *)r->map;
  r->data = r->map + HDR_PAGE;
  return 0;
}

int shm_ring_create(size_t data_size, shm_ring **out, int fds[3],
                    dq_error *err) {
  *out = NULL;
  data_size = (size_t)align64(data_size);
  shm_ring *r = calloc(1, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  r->memfd = memfd_create("dq-shm-ring", MFD_CLOEXEC);
  r->data_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->space_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int rc = 0;
  if (r->memfd < 0 || r->data_efd < 0 || r->space_efd < 0)
    rc = dq_error_set(err, DQ_EIO, "cannot create a ring: %s",
                      strerror(errno));
  else if (ftruncate(r->memfd, (off_t)(HDR_PAGE + data_size)) != 0)
    rc = dq_error_set(err, DQ_EIO, "cannot size a %zu-byte ring: %s",
                      data_size, strerror(errno));
  else
    rc = map_ring(r, err);
  if (rc < 0) {
    if (r->memfd >= 0)
      close(r->memfd);
    if (r->data_efd >= 0)
      close(r->data_efd);
    if (r->space_efd >= 0)
      close(r->space_efd);
    free(r);
    return rc;
  }
  r->sh->magic = RING_MAGIC;
  r->sh->version = 1;
  r->sh->data_size = data_size;
  r->size = data_size;
  atomic_init(&r->refs, 1);
  fds[0] = r->memfd;
  fds[1] = r->data_efd;
  fds[2] = r->space_efd;
  *out = r;
  return 0;
}

int shm_ring_attach(const int fds[3], shm_ring **out, dq_error *err) {
  *out = NULL;
  shm_ring *r = calloc(1, sizeof *r);
  if (r == NULL) {
    for (int i = 0; i < 3; i++)
      close(fds[i]);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  r->memfd = fds[0];
  r->data_efd = fds[1];
  r->space_efd = fds[2];
  int rc = map_ring(r, err);
  if (rc == 0 && (r->sh->magic != RING_MAGIC || r->sh->version != 1 ||
                  r->sh->data_size + HDR_PAGE != r->map_size ||
                  r->sh->data_size % 64 != 0))
    rc = dq_error_set(err, DQ_EPROTO,
                      "the worker sent a ring this dq cannot read");
  if (rc < 0) {
    if (r->map)
      munmap(r->map, r->map_size);
    for (int i = 0; i < 3; i++)
      close(fds[i]);
    free(r);
    return rc;
  }
  r->size = r->sh->data_size;
  r->spin_ns = SPIN_MIN_NS;
  atomic_init(&r->refs, 1);
  *out = r;
  return 0;
}

shm_ring *shm_ring_ref(shm_ring *r) {
  atomic_fetch_add(&r->refs, 1);
  return r;
}

void shm_ring_unref(shm_ring *r) {
  if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
    return;
  munmap(r->map, r->map_size);
  close(r->memfd);
  close(r->data_efd);
  close(r->space_efd);
  free(r);
}

/* The consumer waits for data having read all there is: whatever fills
 * the ring, it holds. */
static int stalled(shm_ring *r) {
  return atomic_load(&r->sh->consumer_waiting) &&
         atomic_load(&r->sh->read_pos) == atomic_load(&r->sh->head);
}

/* Advances the producer's tail over records the consumer has freed. */
static void reclaim(shm_ring *r) {
  uint64_t head = atomic_load(&r->sh->head);
  while (r->tail < head) {
    rec_hdr *h = (rec_hdr *)(r->data + r->tail % r->size);
    /* Sequentially consistent, like the release below: with the waiting
     * flags this is a Dekker handshake, and acquire/release alone lets
     * both sides miss each other (a store-load reordering), leaving the
     * producer asleep until the reader drains everything. */
    if (!atomic_load(&h->freed))
      break;
    r->tail += h->size;
  }
}

/* What the socket holds: 1 bytes to read, 0 nothing yet, -1 the peer hung
 * up (poll reports a hang-up as "readable", so peek to tell them apart). */
static int sock_state(int sock) {
  char c;
  ssize_t n = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0)
    return 1;
  if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
    return -1;
  return 0;
}

/* Waits on fd and on the socket.  want_data: bytes arriving on the socket
 * end the wait (a segment for the reader).  A hang-up ends it with
 * DQ_EUNAVAILABLE, unless fd is ready too. */
static int wait_fd(int fd, int sock, int want_data, int timeout_ms,
                   dq_error *err, const char *who) {
  struct pollfd p[2] = {{fd, POLLIN, 0},
                        {sock, (short)((want_data ? POLLIN : 0) | POLLRDHUP), 0}};
  int n;
  do
    n = poll(p, sock >= 0 ? 2 : 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return SHM_WAIT_TIMEOUT;
  int ready = (p[0].revents & POLLIN) != 0;
  if (ready)
    efd_drain(fd);
  if (sock >= 0 && p[1].revents != 0 && !ready) {
    int st = sock_state(sock);
    if (st < 0)
      return dq_error_set(err, DQ_EUNAVAILABLE, "the %s closed the stream",
                          who);
  }
  return 0;
}

int shm_ring_put(shm_ring *r, int sock, uint8_t kind, uint32_t partition,
                 const shm_slice *slices, size_t n, dq_error *err) {
  uint64_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += slices[i].len;
  uint64_t rec = align64(REC_HDR + len);
  if (rec > r->size / 2 || len > UINT32_MAX)
    return DQ_ETOOBIG; /* a dedicated segment carries it */
  for (;;) {
    if (atomic_load(&r->sh->cancelled))
      return dq_error_set(err, DQ_ECANCELED, "the reader cancelled the stream");
    reclaim(r);
    uint64_t head = atomic_load(&r->sh->head);
    uint64_t pos = head % r->size;
    uint64_t skip = pos + rec > r->size ? r->size - pos : 0;
    /* The reader has released everything: start again at the beginning
     * of the data area if two such records fit before the current
     * position.  A reader that keeps up then has the producer copy into
     * the same few cache-hot bytes, batch after batch, rather than sweep
     * the whole ring through the cache (and page-fault all of it in).
     * Two, not one: until the reader has passed the WRAP record, the ring
     * only has room before it, and one record's worth would make the
     * producer wait for the reader at every batch.  A reader that keeps
     * records (tail behind head) sees the ring used in order as before. */
    if (skip == 0 && pos != 0 && r->tail == head && 2 * rec <= pos)
      skip = r->size - pos;
    if (r->size - (head - r->tail) >= skip + rec) {
      if (skip > 0) {
        rec_hdr *w = (rec_hdr *)(r->data + pos);
        memset(w, 0, REC_HDR);
        w->size = skip;
        w->kind = SHM_REC_WRAP;
        head += skip;
        pos = 0;
      }
      rec_hdr *h = (rec_hdr *)(r->data + pos);
      memset(h, 0, REC_HDR);
      h->size = rec;
      h->seq = r->seq++;
      h->len = (uint32_t)len;
      h->partition = partition;
      h->kind = kind;
      uint8_t *p = (uint8_t *)h + REC_HDR;
      for (size_t i = 0; i < n; i++) {
        memcpy(p, slices[i].p, slices[i].len);
        p += slices[i].len;
      }
      atomic_store(&r->sh->head, head + rec); /* publishes, seq_cst */
      if (atomic_load(&r->sh->consumer_waiting))
        efd_signal(r->data_efd);
      return 0;
    }
    /* Full.  A consumer that waits for data after reading everything
     * holds what it read: waiting for it would never end.  (Waiting alone
     * is not enough: it may be asleep with records just published.)
     * Reclaim once more first: its releases happened before it started
     * waiting, and reading the flag made them visible here. */
    if (stalled(r)) {
      reclaim(r);
      if (r->size - (atomic_load(&r->sh->head) - r->tail) >= skip + rec)
        continue;
      return DQ_ETOOBIG;
    }
    for (int i = 0; i < SPIN; i++) {
      reclaim(r);
      if (r->size - (atomic_load(&r->sh->head) - r->tail) >= skip + rec ||
          stalled(r))
        break;
    }
    atomic_store(&r->sh->producer_waiting, 1);
    reclaim(r);
    int ready = r->size - (atomic_load(&r->sh->head) - r->tail) >= skip + rec ||
                stalled(r) || atomic_load(&r->sh->cancelled);
    int rc = ready ? 0 : wait_fd(r->space_efd, sock, 0, -1, err, "reader");
    atomic_store(&r->sh->producer_waiting, 0);
    if (rc < 0)
      return rc;
  }
}

uint64_t shm_ring_next_seq(shm_ring *r) { return r->seq++; }

int shm_ring_get(shm_ring *r, shm_rec *out, dq_error *err) {
  for (;;) {
    uint64_t head = atomic_load(&r->sh->head);
    if (r->rpos < head) {
      uint64_t pos = r->rpos % r->size;
      rec_hdr *h = (rec_hdr *)(r->data + pos);
      /* The producer is another process: check before trusting. */
      if (h->size < REC_HDR || h->size % 64 != 0 || h->size > r->size - pos ||
          h->size > head - r->rpos ||
          (h->kind != SHM_REC_WRAP && h->len > h->size - REC_HDR))
        return dq_error_set(err, DQ_EPROTO,
                            "the worker wrote a malformed ring record");
      if (h->kind == SHM_REC_WRAP) {
        r->rpos += h->size;
        atomic_store(&r->sh->read_pos, r->rpos);
        shm_ring_release(r, h);
        continue;
      }
      out->kind = h->kind;
      out->partition = h->partition;
      out->payload = (const uint8_t *)h + REC_HDR;
      out->len = h->len;
      out->hdr = h;
      out->seq = h->seq;
      out->capacity = h->size - REC_HDR;
      r->rpos += h->size;
      atomic_store(&r->sh->read_pos, r->rpos);
      return 0;
    }
    return SHM_RING_EMPTY;
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spins until the ring has a record (or is cancelled) for at most
 * r->spin_ns from start.  1 if it has. */
static int spin_for_data(shm_ring *r, uint64_t start) {
  for (unsigned i = 1;; i++) {
    if (r->rpos < atomic_load(&r->sh->head) ||
        atomic_load(&r->sh->cancelled))
      return 1;
    if ((i & 63) == 0) {
      if (now_ns() - start >= r->spin_ns)
        return 0;
      /* Another thread waiting for this CPU (a producer, when streams
       * outnumber cores) runs instead of our spinning. */
      if ((i & 511) == 0)
        sched_yield();
    }
    cpu_relax();
  }
}

/* Sizes the next spin from how long this wait took: a producer that
 * publishes a record every few tens of microseconds (a 1 MiB batch is a
 * ~20 us copy) would otherwise find the reader asleep every time, and pay
 * an eventfd write and a wake-up per batch while the reader pays the time
 * to wake.  Waits that end within SPIN_MAX_NS get a spin of twice their
 * length; longer ones (an idle or slow stream, or more streams than
 * cores) fall back to the short spin, costing little CPU. */
static void learn_spin(shm_ring *r, uint64_t start) {
  uint64_t took = now_ns() - start;
  r->spin_ns = took <= SPIN_MAX_NS / 2   ? (uint32_t)(2 * took)
               : took <= SPIN_MAX_NS     ? SPIN_MAX_NS
                                         : SPIN_MIN_NS;
  if (r->spin_ns < SPIN_MIN_NS)
    r->spin_ns = SPIN_MIN_NS;
}

int shm_ring_wait(shm_ring *r, int sock, int timeout_ms, dq_error *err) {
  uint64_t start = now_ns();
  if (spin_for_data(r, start)) {
    learn_spin(r, start);
    return 0;
  }
  /* A segment may be waiting on the socket, or the worker may be gone. */
  int st = sock >= 0 ? sock_state(sock) : 0;
  if (st > 0)
    return 0;
  if (st < 0 && r->rpos >= atomic_load(&r->sh->head))
    return dq_error_set(err, DQ_EUNAVAILABLE, "the worker closed the stream");
  atomic_store(&r->sh->consumer_waiting, 1);
  int rc = 0;
  if (r->rpos >= atomic_load(&r->sh->head) &&
      !atomic_load(&r->sh->cancelled)) {
    /* A producer waiting for space must learn that we hold what it wants. */
    if (atomic_load(&r->sh->producer_waiting))
      efd_signal(r->space_efd);
    rc = wait_fd(r->data_efd, sock, 1, timeout_ms, err, "worker");
    if (rc < 0 && r->rpos < atomic_load(&r->sh->head))
      rc = 0; /* data arrived before the hang-up: read it first */
  }
  atomic_store(&r->sh->consumer_waiting, 0);
  if (rc == 0)
    learn_spin(r, start);
  return rc;
}

void shm_ring_release(shm_ring *r, void *hdr) {
  rec_hdr *h = hdr;
  atomic_store(&h->freed, 1); /* seq_cst: see reclaim() */
  if (atomic_load(&r->sh->producer_waiting))
    efd_signal(r->space_efd);
}

void shm_ring_cancel(shm_ring *r) {
  atomic_store(&r->sh->cancelled, 1);
  efd_signal(r->space_efd);
  efd_signal(r->data_efd);
}

int shm_ring_cancelled(shm_ring *r) { return atomic_load(&r->sh->cancelled); }

void shm_ring_wake_consumer(shm_ring *r) { efd_signal(r->data_efd); }

int shm_segment_create(const shm_slice *slices, size_t n, int *fd,
                       size_t *size, dq_error *err) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += slices[i].len;
  /* Padded so that the last buffer's 64-byte padding lies in the map. */
  size_t cap = (size_t)align64(len ? len : 1);
  int f = memfd_create("dq-shm-segment", MFD_CLOEXEC);
  if (f < 0)
    return dq_error_set(err, DQ_EIO, "cannot create a segment: %s",
                        strerror(errno));
  if (ftruncate(f, (off_t)cap) != 0) {
    close(f);
    return dq_error_set(err, DQ_EIO, "cannot size a %zu-byte segment: %s",
                        cap, strerror(errno));
  }
  uint8_t *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  if (p == MAP_FAILED) {
    close(f);
    return dq_error_set(err, DQ_EIO, "cannot map a segment: %s",
                        strerror(errno));
  }
  uint8_t *q = p;
  for (size_t i = 0; i < n; i++) {
    memcpy(q, slices[i].p, slices[i].len);
    q += slices[i].len;
  }
  munmap(p, cap);
  *fd = f;
  *size = len;
  return 0;
}
