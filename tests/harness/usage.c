/* usage.c — a process's threads, fds and memory from /proc (usage.h).
 * Standalone (it needs nothing else of the harness), so that
 * dq-transport-check compiles it too for its nothing-left check. */
#define _GNU_SOURCE
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arrow/batch_internal.h"
#include "usage.h"

static void proc_path(char *buf, size_t len, pid_t pid, const char *what) {
  if (pid == 0)
    snprintf(buf, len, "/proc/self/%s", what);
  else
    snprintf(buf, len, "/proc/%d/%s", (int)pid, what);
}

/* Entries of a directory, without . and .. */
static long entries(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  long n = 0;
  while (d && (e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n;
}

dqt_usage dqt_usage_of(pid_t pid) {
  dqt_usage u = {-1, 0, -1, 0, -1, -1, 0};
  u.grpc_timers = dqt_threads_named(pid, DQT_GRPC_TIMER_PREFIX);
  char path[64], line[256];
  proc_path(path, sizeof path, pid, "status");
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f)) {
    sscanf(line, "Threads: %ld", &u.threads);
    sscanf(line, "VmRSS: %ld", &u.rss_kb);
    sscanf(line, "RssAnon: %ld", &u.anon_kb);
    sscanf(line, "RssShmem: %ld", &u.shmem_kb);
  }
  if (f)
    fclose(f);
  proc_path(path, sizeof path, pid, "maps");
  f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    u.memfd_maps += strstr(line, "/memfd:") != NULL;
  if (f)
    fclose(f);
  proc_path(path, sizeof path, pid, "fd");
  u.fds = entries(path);
  return u;
}

/* Calls fn with the name of each of pid's threads. */
static void each_thread(pid_t pid, void (*fn)(void *, const char *),
                        void *ctx) {
  char dir[64], path[96];
  proc_path(dir, sizeof dir, pid, "task");
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char comm[32] = "?";
    snprintf(path, sizeof path, "%s/%.20s/comm", dir, e->d_name);
    FILE *f = fopen(path, "r");
    if (f && fgets(comm, sizeof comm, f))
      comm[strcspn(comm, "\n")] = '\0';
    if (f)
      fclose(f);
    fn(ctx, comm);
  }
  if (d)
    closedir(d);
}

typedef struct named {
  const char *prefix;
  long n;
} named;

static void count_named(void *ctx, const char *comm) {
  named *nm = ctx;
  nm->n += strncmp(comm, nm->prefix, strlen(nm->prefix)) == 0;
}

long dqt_threads_named(pid_t pid, const char *prefix) {
  named nm = {prefix, 0};
  each_thread(pid, count_named, &nm);
  return nm.n;
}

typedef struct tally {
  char names[64][16];
  int counts[64], n;
} tally;

static void add_name(void *ctx, const char *comm) {
  tally *t = ctx;
  int i = 0;
  while (i < t->n && strcmp(t->names[i], comm) != 0)
    i++;
  if (i == t->n && t->n < 64) {
    snprintf(t->names[t->n], sizeof t->names[t->n], "%s", comm);
    t->counts[t->n++] = 0;
  }
  if (i < t->n)
    t->counts[i]++;
}

void dqt_thread_names(pid_t pid, char *buf, size_t len) {
  tally t;
  t.n = 0;
  each_thread(pid, add_name, &t);
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; i < t.n && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, "%s%s x%d", i ? ", " : "",
                            t.names[i], t.counts[i]);
}

void dqt_self_counts(int less_timers, long *threads, long *fds) {
  dqt_usage u = dqt_usage_of(0);
  *threads = u.threads - (less_timers ? u.grpc_timers : 0);
  *fds = u.fds;
}

void dqt_self_settle(int less_timers, long *threads, long *fds) {
  dqt_self_counts(less_timers, threads, fds);
  for (int same = 0, i = 0; same < 20 && i < 500; i++) {
    usleep(10000);
    long t, f;
    dqt_self_counts(less_timers, &t, &f);
    same = t == *threads && f == *fds ? same + 1 : 0;
    *threads = t;
    *fds = f;
  }
}

void dqt_self_wait_down(int less_timers, long threads, long fds, int ms,
                        long *t_now, long *f_now) {
  dqt_self_counts(less_timers, t_now, f_now);
  for (int i = 0; i < ms / 5 && (*t_now > threads || *f_now > fds); i++) {
    usleep(5000);
    dqt_self_counts(less_timers, t_now, f_now);
  }
}

void dqt_self_fd_kinds(long *sockets, long *pipes) {
  *sockets = *pipes = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  char path[64], target[128];
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/self/fd/%.20s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0)
      continue;
    target[n] = '\0';
    *sockets += strncmp(target, "socket:", 7) == 0;
    *pipes += strncmp(target, "pipe:", 5) == 0;
  }
  if (d)
    closedir(d);
}

long dqt_dev_shm_entries(void) { return entries("/dev/shm"); }

size_t dqt_heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  size_t heap = mi.uordblks + mi.hblkhd, cached = dq_buffer_cached_bytes();
  return heap > cached ? heap - cached : 0;
}
