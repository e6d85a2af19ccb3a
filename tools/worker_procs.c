/* worker_procs.c — starting, querying and reaping local worker processes
 * (see worker_procs.h).
 *
 * fork+exec rather than posix_spawn because the child must do two things
 * posix_spawn cannot: PR_SET_PDEATHSIG (a parent killed with SIGKILL must
 * not leave workers behind) and its own process group.  Between fork and
 * exec the child of a multi-threaded parent may only make async-signal-safe
 * calls, so everything it needs (argv, /dev/null) is prepared before fork.
 * Every pipe is O_CLOEXEC so one child never holds another's stdout open,
 * which would hide that child's death from us; and the child closes every
 * descriptor above stderr before exec, so no socket of ours (a transport's
 * connection that was not opened close-on-exec) lives on in a worker and
 * keeps a peer from seeing it close. */
#define _GNU_SOURCE
#include "worker_procs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_PREFIX "listening on "
#define TASKS_PREFIX "tasks "

typedef struct child {
  pid_t pid;
  int out_fd;        /* read end of the child's stdout, -1 once closed */
  char buf[1024];    /* bytes read from it, not yet consumed as lines */
  size_t len;
  char *url;         /* from its listening line */
  int reaped;
  int status;        /* waitpid status once reaped */
  int killed;        /* worker_procs_kill sent it a fatal signal */
} child;

struct worker_procs {
  child *c;
  size_t n;
  const char **urls;
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int worker_procs_new(worker_procs **out, dq_error *err) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : dq_error_set(err, DQ_ENOMEM, "out of memory");
}

size_t worker_procs_count(const worker_procs *wp) { return wp->n; }
const char *worker_procs_url(const worker_procs *wp, size_t i) {
  return i < wp->n ? wp->c[i].url : NULL;
}
const char *const *worker_procs_urls(const worker_procs *wp) {
  return wp->urls;
}
pid_t worker_procs_pid(const worker_procs *wp, size_t i) {
  return i < wp->n ? wp->c[i].pid : -1;
}

const char *worker_procs_self_exe(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  if (n <= 0 || (size_t)n >= len - 1)
    return NULL;
  buf[n] = '\0';
  return buf;
}

static void describe_status(int status, char *buf, size_t len) {
  if (WIFEXITED(status))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else
    snprintf(buf, len, "ended with wait status %#x", (unsigned)status);
}

static int reap(child *c, int flags) {
  if (c->reaped)
    return 1;
  pid_t r;
  do
    r = waitpid(c->pid, &c->status, flags);
  while (r < 0 && errno == EINTR);
  if (r == c->pid || (r < 0 && errno == ECHILD)) {
    c->reaped = 1; /* ECHILD: someone else reaped it; nothing to wait for */
    if (r < 0)
      c->status = 0;
    return 1;
  }
  return 0;
}

/* Forks and execs one child with stdout on a pipe. */
static int start_child(child *c, char *const argv[], int devnull,
                       dq_error *err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return dq_error_set(err, DQ_EIO, "cannot create a pipe: %s",
                        strerror(errno));
  pid_t parent = getpid();
  long max_fd = sysconf(_SC_OPEN_MAX); /* not async-signal-safe: ask now */
  if (max_fd < 0 || max_fd > 65536)
    max_fd = 65536;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return dq_error_set(err, DQ_EIO, "cannot start %s: fork: %s", argv[0],
                        strerror(e));
  }
  if (pid == 0) {
    /* The child: async-signal-safe calls only until exec. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the parent died before prctl took effect */
      _exit(127);
    if (dup2(p[1], STDOUT_FILENO) < 0 || dup2(devnull, STDIN_FILENO) < 0)
      _exit(127);
    if (close_range(3, ~0U, 0) < 0) /* ENOSYS before Linux 5.9 */
      for (int fd = 3; fd < max_fd; fd++)
        close(fd);
    /* exec keeps the signal mask and ignored signals: the worker must see
     * SIGTERM and SIGINT whatever the parent did with them. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGUSR1, &dfl, NULL);
    execv(argv[0], argv);
    static const char msg[] = "worker_procs: cannot execute the worker\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  close(p[1]);
  memset(c, 0, sizeof *c);
  c->pid = pid;
  c->out_fd = p[0];
  return 0;
}

/* Moves the first complete line out of c->buf into line (NUL-terminated,
 * without the newline).  Returns 1 if there was one. */
static int take_line(child *c, char *line, size_t cap) {
  char *nl = memchr(c->buf, '\n', c->len);
  if (nl == NULL)
    return 0;
  size_t n = (size_t)(nl - c->buf);
  size_t keep = n < cap - 1 ? n : cap - 1;
  memcpy(line, c->buf, keep);
  line[keep] = '\0';
  c->len -= n + 1;
  memmove(c->buf, nl + 1, c->len);
  return 1;
}

/* Reads what is available on c->out_fd.  Returns 1 on data, 0 on EOF, a
 * negative DQ_E* code on error or a full buffer with no line in it. */
static int fill(child *c, dq_error *err) {
  if (c->len == sizeof c->buf)
    return dq_error_set(err, DQ_EPROTO,
                        "worker process %d wrote a line of more than %zu "
                        "bytes on stdout",
                        (int)c->pid, sizeof c->buf);
  ssize_t r;
  do
    r = read(c->out_fd, c->buf + c->len, sizeof c->buf - c->len);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return dq_error_set(err, DQ_EIO, "reading worker process %d: %s",
                        (int)c->pid, strerror(errno));
  c->len += (size_t)r;
  return r > 0;
}

/* Waits for the next line from c within the deadline. */
static int read_line(child *c, long long deadline, char *line, size_t cap,
                     const char *what, dq_error *err) {
  for (;;) {
    if (take_line(c, line, cap))
      return 0;
    long long left = deadline - now_ms();
    if (left <= 0)
      return dq_error_set(err, DQ_ETIMEDOUT,
                          "worker process %d did not print %s in time",
                          (int)c->pid, what);
    struct pollfd pfd = {c->out_fd, POLLIN, 0};
    int pr = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
    if (pr < 0 && errno != EINTR)
      return dq_error_set(err, DQ_EIO, "poll: %s", strerror(errno));
    if (pr <= 0)
      continue;
    int rc = fill(c, err);
    if (rc < 0)
      return rc;
    if (rc == 0) {
      /* EOF: the child closed stdout, almost always by exiting. */
      char how[96] = "closed its stdout";
      for (int i = 0; i < 50 && !reap(c, WNOHANG); i++)
        usleep(10000);
      if (c->reaped)
        describe_status(c->status, how, sizeof how);
      return dq_error_set(err, DQ_EUNAVAILABLE,
                          "worker process %d %s before it printed %s (its "
                          "messages, if any, are above)",
                          (int)c->pid, how, what);
    }
  }
}

static int set_urls(worker_procs *wp, dq_error *err) {
  const char **urls = realloc(wp->urls, (wp->n ? wp->n : 1) * sizeof *urls);
  if (urls == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  wp->urls = urls;
  for (size_t i = 0; i < wp->n; i++)
    urls[i] = wp->c[i].url;
  return 0;
}

/* Stops children [from, wp->n) and forgets them. */
static void stop_range(worker_procs *wp, size_t from, int grace_ms,
                       const char *who, int *bad);

int worker_procs_spawn(worker_procs *wp, char *const argv[], size_t n,
                       int timeout_ms, dq_error *err) {
  child *c = realloc(wp->c, (wp->n + n) * sizeof *c);
  if (c == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  wp->c = c;
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return dq_error_set(err, DQ_EIO, "cannot open /dev/null: %s",
                        strerror(errno));
  size_t first = wp->n;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    rc = start_child(&wp->c[wp->n], argv, devnull, err);
    if (rc == 0)
      wp->n++;
  }
  close(devnull);
  /* They start up in parallel; one deadline for all of them. */
  long long deadline = now_ms() + timeout_ms;
  for (size_t i = first; i < wp->n && rc == 0; i++) {
    child *ch = &wp->c[i];
    char line[sizeof ch->buf];
    rc = read_line(ch, deadline, line, sizeof line, "its listening line",
                   err);
    if (rc == 0 && strncmp(line, LISTEN_PREFIX, strlen(LISTEN_PREFIX)) != 0)
      rc = dq_error_set(err, DQ_EPROTO,
                        "worker process %d printed '%s' where '%sURL' was "
                        "expected",
                        (int)ch->pid, line, LISTEN_PREFIX);
    if (rc == 0 && (ch->url = strdup(line + strlen(LISTEN_PREFIX))) == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  if (rc == 0)
    rc = set_urls(wp, err);
  if (rc < 0) {
    int bad = 0;
    stop_range(wp, first, 2000, NULL, &bad);
    set_urls(wp, err);
  }
  return rc;
}

long worker_procs_task_count(worker_procs *wp, size_t i, int timeout_ms,
                             dq_error *err) {
  if (i >= wp->n)
    return dq_error_set(err, DQ_EINVAL, "no worker process %zu", i);
  child *c = &wp->c[i];
  /* An answer that came after an earlier caller gave up must not be taken
   * for this one: drop every complete line already sent. */
  char line[sizeof c->buf];
  struct pollfd pfd = {c->out_fd, POLLIN, 0};
  while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) && fill(c, err) > 0)
    ;
  while (take_line(c, line, sizeof line))
    ;
  if (kill(c->pid, SIGUSR1) < 0)
    return dq_error_set(err, DQ_EUNAVAILABLE,
                        "cannot signal worker process %d: %s", (int)c->pid,
                        strerror(errno));
  long long deadline = now_ms() + timeout_ms;
  for (;;) {
    int rc = read_line(c, deadline, line, sizeof line, "its task count", err);
    if (rc < 0)
      return rc;
    /* Anything else on stdout is not ours to interpret: skip it. */
    if (strncmp(line, TASKS_PREFIX, strlen(TASKS_PREFIX)) == 0) {
      char *end;
      long v = strtol(line + strlen(TASKS_PREFIX), &end, 10);
      if (end != line + strlen(TASKS_PREFIX) && v >= 0)
        return v;
      return dq_error_set(err, DQ_EPROTO,
                          "worker process %d answered '%s' for its task "
                          "count",
                          (int)c->pid, line);
    }
  }
}

int worker_procs_kill(worker_procs *wp, size_t i, int sig) {
  if (i >= wp->n || wp->c[i].reaped)
    return DQ_EINVAL;
  if (kill(wp->c[i].pid, sig) < 0)
    return DQ_EIO;
  if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT)
    wp->c[i].killed = 1;
  return 0;
}

static void stop_range(worker_procs *wp, size_t from, int grace_ms,
                       const char *who, int *bad) {
  for (size_t i = from; i < wp->n; i++)
    if (!wp->c[i].reaped)
      kill(wp->c[i].pid, SIGTERM);
  long long deadline = now_ms() + grace_ms;
  for (;;) {
    int left = 0;
    for (size_t i = from; i < wp->n; i++)
      left += !reap(&wp->c[i], WNOHANG);
    if (left == 0 || now_ms() >= deadline)
      break;
    usleep(5000);
  }
  for (size_t i = from; i < wp->n; i++) {
    child *c = &wp->c[i];
    int forced = 0;
    if (!c->reaped) {
      kill(c->pid, SIGKILL);
      reap(c, 0);
      forced = 1;
    }
    int clean = WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
    if (!forced && !clean && c->killed)
      clean = 1; /* killed on purpose: its end is not its fault */
    if (!clean || forced) {
      (*bad)++;
      if (who != NULL) {
        char how[96];
        if (forced)
          snprintf(how, sizeof how, "did not stop within %d ms of SIGTERM "
                                    "and was killed",
                   grace_ms);
        else
          describe_status(c->status, how, sizeof how);
        fprintf(stderr, "%s: worker process %d (%s) %s\n", who, (int)c->pid,
                c->url ? c->url : "not listening yet", how);
      }
    }
    if (c->out_fd >= 0)
      close(c->out_fd);
    free(c->url);
  }
  wp->n = from;
}

int worker_procs_stop(worker_procs *wp, int grace_ms, const char *who) {
  if (wp == NULL)
    return 0;
  int bad = 0;
  stop_range(wp, 0, grace_ms, who, &bad);
  free(wp->c);
  free(wp->urls);
  free(wp);
  return bad;
}
