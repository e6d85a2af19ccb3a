/* usage.h — what a process holds, read from /proc: threads, fds (and what
 * they are), resident memory, memfd mappings, gRPC's timer threads, and
 * this process's heap in use (mallinfo2).  For the tests that check that
 * queries leave nothing behind. */
#ifndef DQ_TESTS_HARNESS_USAGE_H
#define DQ_TESTS_HARNESS_USAGE_H

#include <stddef.h>
#include <sys/types.h>

typedef struct dqt_usage {
  long threads, fds, rss_kb;
  long grpc_timers; /* gRPC's timer threads (see below) */
  long anon_kb;     /* RssAnon: the private part of VmRSS */
  long shmem_kb;    /* RssShmem: mapped shared memory (shm's rings) */
  long memfd_maps;  /* mappings of memfds (rings, segments) */
} dqt_usage;

/* The figures of process pid (0: this one). */
dqt_usage dqt_usage_of(pid_t pid);

/* gRPC 1.51's timer manager starts a "grpc_global_timer" thread whenever
 * all of its threads are busy firing timers, and keeps it until
 * grpc_shutdown (src/core/lib/iomgr/timer_manager.cc): a high-water mark,
 * not a per-query cost.  Tests that count threads over gRPC therefore
 * count those apart. */
#define DQT_GRPC_TIMER_PREFIX "grpc_global_tim"
/* Threads of pid (0: this one) whose name starts with prefix. */
long dqt_threads_named(pid_t pid, const char *prefix);
/* The names of pid's threads, "name xcount" each, for a report of what
 * grew. */
void dqt_thread_names(pid_t pid, char *buf, size_t len);

/* This process's threads (less gRPC's timer threads with less_timers) and
 * open fds. */
void dqt_self_counts(int less_timers, long *threads, long *fds);
/* Waits until both stay the same for 200 ms (at most 5 s), and returns
 * them: a baseline taken while detached threads of earlier work are still
 * exiting would be too high. */
void dqt_self_settle(int less_timers, long *threads, long *fds);
/* Waits at most ms until both are at or below the given ones (detached
 * pipeline threads may still be exiting), and returns them then. */
void dqt_self_wait_down(int less_timers, long threads, long fds, int ms,
                        long *t_now, long *f_now);
/* This process's fds that are sockets and pipes: a leaked connection shows
 * up as a socket even while a new child's pipe keeps the total as
 * expected. */
void dqt_self_fd_kinds(long *sockets, long *pipes);

/* Entries in /dev/shm. */
long dqt_dev_shm_entries(void);
/* This process's heap in use (mallinfo2) less the blocks libdq's threads
 * keep for reuse (bounded, freed when their thread exits: allocator state,
 * not something a query left).  Under ASan glibc's mallinfo counts
 * nothing, so this is 0 there. */
size_t dqt_heap_in_use(void);

#endif /* DQ_TESTS_HARNESS_USAGE_H */
