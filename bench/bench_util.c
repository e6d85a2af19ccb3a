/* bench_util.c — the shared pieces of the bench programs: clock, medians,
 * the JSON writer, the machine description, and the three machine
 * baselines (memcpy, loopback TCP, shared-memory ring).
 *
 * The baselines are written the simplest way that reaches the hardware's
 * speed, so that a transport's figure divided by them says how much of
 * the machine the transport leaves on the table.  They are not tuned
 * further (no huge pages, no pinning): the lead runs them on whatever
 * machine the transports run on, with the same defaults.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  /* Nearest rank: the smallest value with at least p% of samples <= it. */
  size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return v[rank - 1];
}

double bench_median(double *v, size_t n) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- memcpy -----------------------------------------------------------------*/

double bench_memcpy_gbps(size_t size, double seconds_per_trial, int reps) {
  char *src = malloc(size), *dst = malloc(size);
  if (src == NULL || dst == NULL) {
    fprintf(stderr, "memcpy baseline: out of memory for %zu bytes\n", size);
    free(src);
    free(dst);
    return -1;
  }
  memset(src, 0x5a, size);
  memset(dst, 0, size); /* fault the pages in before timing */
  double r[64];
  if (reps > 64)
    reps = 64;
  for (int k = 0; k < reps; k++) {
    double t0 = bench_now(), t;
    size_t n = 0;
    do {
      memcpy(dst, src, size);
      /* The copy's result is never read: keep the compiler from dropping it. */
      __asm__ __volatile__("" ::"r"(dst) : "memory");
      n++;
    } while ((t = bench_now() - t0) < seconds_per_trial);
    r[k] = (double)n * (double)size / t / BENCH_GB;
  }
  free(src);
  free(dst);
  return bench_median(r, (size_t)reps);
}

/* --- loopback TCP ---------------------------------------------------------- */

typedef struct tcp_sender {
  int port;
  size_t chunk, total;
  int failed;
} tcp_sender;

static void *tcp_send_main(void *arg) {
  tcp_sender *s = arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)s->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char *buf = malloc(s->chunk);
  if (fd < 0 || buf == NULL ||
      connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    s->failed = 1;
  } else {
    memset(buf, 0x33, s->chunk);
    size_t left = s->total;
    while (left > 0) {
      size_t n = left < s->chunk ? left : s->chunk;
      ssize_t w = write(fd, buf, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        s->failed = 1;
        break;
      }
      left -= (size_t)w;
    }
  }
  free(buf);
  if (fd >= 0)
    close(fd);
  return NULL;
}

static double tcp_trial(size_t chunk, size_t total) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 ||
      listen(ls, 1) < 0 || getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
    fprintf(stderr, "tcp baseline: cannot listen on 127.0.0.1: %s\n",
            strerror(errno));
    if (ls >= 0)
      close(ls);
    return -1;
  }
  tcp_sender s = {ntohs(a.sin_port), chunk, total, 0};
  pthread_t th;
  if (pthread_create(&th, NULL, tcp_send_main, &s) != 0) {
    close(ls);
    return -1;
  }
  int fd = accept(ls, NULL, NULL);
  size_t rbuf_len = 1 << 20;
  char *rbuf = malloc(rbuf_len);
  double t0 = bench_now();
  size_t got = 0;
  while (fd >= 0 && rbuf != NULL && got < total) {
    ssize_t r = read(fd, rbuf, rbuf_len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  double t = bench_now() - t0;
  pthread_join(th, NULL);
  free(rbuf);
  if (fd >= 0)
    close(fd);
  close(ls);
  if (got < total || s.failed) {
    fprintf(stderr, "tcp baseline: the stream ended after %zu of %zu bytes\n",
            got, total);
    return -1;
  }
  return (double)total / t / BENCH_GB;
}

double bench_tcp_gbps(size_t chunk, size_t total, int reps) {
  double r[64];
  int n = 0;
  if (reps > 64)
    reps = 64;
  for (int k = 0; k < reps; k++) {
    double g = tcp_trial(chunk, total);
    if (g > 0)
      r[n++] = g;
  }
  return n ? bench_median(r, (size_t)n) : -1;
}

/* --- shared-memory SPSC ring, two processes -------------------------------- */

#define RING_SLOTS 16

typedef struct ring_hdr {
  /* Separate cache lines: the producer writes head, the consumer tail. */
  _Alignas(64) atomic_size_t head;
  _Alignas(64) atomic_size_t tail;
} ring_hdr;

/* Spins briefly, then yields: on a shared 2-core machine a pure spin would
 * steal the other side's core. */
static void ring_wait(unsigned *spins) {
  if (++*spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#endif
  } else {
    sched_yield();
  }
}

double bench_shm_ring_gbps(size_t slot, size_t total, int reps) {
  size_t n_msgs = total / slot;
  size_t hdr = 4096, len = hdr + RING_SLOTS * slot;
  int fd = memfd_create("dq-bench-ring", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
    fprintf(stderr, "shm baseline: memfd: %s\n", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd); /* the mapping keeps the memory; nothing is left behind */
  char *local = malloc(slot);
  if (map == MAP_FAILED || local == NULL) {
    fprintf(stderr, "shm baseline: mmap: %s\n", strerror(errno));
    free(local);
    return -1;
  }
  memset(map, 0, len);
  memset(local, 0x77, slot);
  ring_hdr *h = (ring_hdr *)map;
  char *slots = map + hdr;
  double r[64];
  int nr = 0;
  if (reps > 64)
    reps = 64;
  for (int k = 0; k < reps; k++) {
    atomic_store(&h->head, 0);
    atomic_store(&h->tail, 0);
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "shm baseline: fork: %s\n", strerror(errno));
      break;
    }
    if (pid == 0) { /* consumer: copy each slot out */
      char *out = malloc(slot);
      if (out == NULL)
        _exit(1);
      memset(out, 0, slot);
      for (size_t i = 0; i < n_msgs; i++) {
        unsigned spins = 0;
        while (atomic_load_explicit(&h->head, memory_order_acquire) == i)
          ring_wait(&spins);
        memcpy(out, slots + (i % RING_SLOTS) * slot, slot);
        __asm__ __volatile__("" ::"r"(out) : "memory");
        atomic_store_explicit(&h->tail, i + 1, memory_order_release);
      }
      _exit(0);
    }
    double t0 = bench_now();
    for (size_t i = 0; i < n_msgs; i++) {
      unsigned spins = 0;
      while (i - atomic_load_explicit(&h->tail, memory_order_acquire) >=
             RING_SLOTS)
        ring_wait(&spins);
      memcpy(slots + (i % RING_SLOTS) * slot, local, slot);
      atomic_store_explicit(&h->head, i + 1, memory_order_release);
    }
    unsigned spins = 0;
    while (atomic_load_explicit(&h->tail, memory_order_acquire) < n_msgs)
      ring_wait(&spins);
    double t = bench_now() - t0;
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      r[nr++] = (double)(n_msgs * slot) / t / BENCH_GB;
  }
  munmap(map, len);
  free(local);
  return nr ? bench_median(r, (size_t)nr) : -1;
}

/* --- JSON ------------------------------------------------------------------ */

int bench_json_open(bench_json *j, const char *path) {
  memset(j, 0, sizeof *j);
  j->first[0] = 1;
  if (path == NULL || *path == '\0')
    return 0;
  j->f = fopen(path, "w");
  if (j->f == NULL) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

void bench_json_close(bench_json *j) {
  if (j->f != NULL) {
    fputc('\n', j->f);
    fclose(j->f);
  }
  j->f = NULL;
}

static void put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void member(bench_json *j, const char *key) {
  if (j->f == NULL)
    return;
  if (!j->first[j->depth])
    fputc(',', j->f);
  j->first[j->depth] = 0;
  if (j->depth > 0) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->f);
  }
  if (key != NULL) {
    put_string(j->f, key);
    fputs(": ", j->f);
  }
}

static void begin(bench_json *j, const char *key, char c) {
  member(j, key);
  if (j->f != NULL)
    fputc(c, j->f);
  if (j->depth < 31)
    j->depth++;
  j->first[j->depth] = 1;
}

static void end(bench_json *j, char c) {
  int empty = j->first[j->depth];
  if (j->depth > 0)
    j->depth--;
  if (j->f == NULL)
    return;
  if (!empty) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->f);
  }
  fputc(c, j->f);
}

void bench_json_begin_object(bench_json *j, const char *key) {
  begin(j, key, '{');
}
void bench_json_end_object(bench_json *j) { end(j, '}'); }
void bench_json_begin_array(bench_json *j, const char *key) {
  begin(j, key, '[');
}
void bench_json_end_array(bench_json *j) { end(j, ']'); }

void bench_json_num(bench_json *j, const char *key, double v) {
  member(j, key);
  if (j->f == NULL)
    return;
  if (v != v || v < -1e300 || v > 1e300)
    fputs("null", j->f); /* JSON has no NaN or infinity */
  else
    fprintf(j->f, "%.6g", v);
}

void bench_json_int(bench_json *j, const char *key, long long v) {
  member(j, key);
  if (j->f != NULL)
    fprintf(j->f, "%lld", v);
}

void bench_json_str(bench_json *j, const char *key, const char *v) {
  member(j, key);
  if (j->f != NULL)
    put_string(j->f, v ? v : "");
}

/* --- machine ---------------------------------------------------------------- */

static void cpu_model(char *buf, size_t len) {
  snprintf(buf, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL)
    return;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
          p++;
        p[strcspn(p, "\n")] = '\0';
        snprintf(buf, len, "%s", p);
      }
      break;
    }
  }
  fclose(f);
}

static long long meminfo_kb(const char *key) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (f == NULL)
    return -1;
  char line[256];
  long long v = -1;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      v = atoll(line + kl + 1);
      break;
    }
  fclose(f);
  return v;
}

void bench_machine(bench_json *j, FILE *out) {
  char model[256];
  cpu_model(model, sizeof model);
  long nproc = sysconf(_SC_NPROCESSORS_ONLN);
  long long mem = meminfo_kb("MemTotal"), avail = meminfo_kb("MemAvailable");
  struct utsname u;
  if (uname(&u) != 0)
    memset(&u, 0, sizeof u);
  double load[3] = {0, 0, 0};
  FILE *lf = fopen("/proc/loadavg", "r");
  if (lf != NULL) {
    if (fscanf(lf, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
      load[0] = load[1] = load[2] = 0;
    fclose(lf);
  }
  bench_json_begin_object(j, "machine");
  bench_json_str(j, "cpu", model);
  bench_json_int(j, "nproc", nproc);
  bench_json_int(j, "mem_total_mib", mem / 1024);
  bench_json_int(j, "mem_available_mib", avail / 1024);
  bench_json_str(j, "kernel", u.release);
  bench_json_num(j, "loadavg_1min", load[0]);
  bench_json_end_object(j);
  if (out != NULL)
    fprintf(out,
            "machine: %s, %ld CPUs, %lld MiB RAM (%lld available), Linux %s, "
            "load average %.2f\n",
            model, nproc, mem / 1024, avail / 1024, u.release, load[0]);
}

const char *bench_opt(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0)
    return NULL;
  if (a[n] == '=')
    return a + n + 1;
  if (a[n] == '\0' && *i + 1 < argc) {
    (*i)++;
    return argv[*i];
  }
  return NULL;
}
