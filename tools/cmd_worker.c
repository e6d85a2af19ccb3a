/* cmd_worker.c — `dq worker`: hosts one worker over the configured transport
 * until SIGTERM or SIGINT.  Owns the worker process's contract with whoever
 * started it (an operator, `dq run --workers N`, the test harness):
 *
 *   stdout  exactly one line `listening on URL` (flushed) once it serves,
 *           the URL with the port actually bound; after that, only answers
 *           to SIGUSR1: one line `tasks N` (the tasks it holds), so a parent
 *           or a test can watch a worker it cannot look inside;
 *   stderr  leveled log lines, `dq worker[PID]: LEVEL: message`, filtered
 *           by DQ_LOG (error, warn, info, debug; default warn);
 *   exit    0 after a clean stop on SIGTERM/SIGINT; 1 when it cannot start;
 *           2 on a usage error.
 *
 * Signals are turned into bytes on a self-pipe by a handler that does
 * nothing else; the main thread, which only waits on that pipe, does the
 * real work (dq_worker_stop is far from async-signal-safe).
 *
 * The logger is local until libdq has one (see the report in the issue):
 * libdq itself does not log yet, so only this command's messages use it. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <dq/dq.h>
#include <dq/runtime.h>

#include "commands.h"

#define EXIT_USAGE 2

/* --- Logging --------------------------------------------------------------*/

enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
static const char *const log_names[] = {"error", "warn", "info", "debug"};
static int log_level = LOG_WARN;

static void wlog(int level, const char *fmt, ...) DQ_PRINTF(2, 3);
static void wlog(int level, const char *fmt, ...) {
  if (level > log_level)
    return;
  /* One fprintf per line so lines of concurrent writers do not interleave
   * (stdio locks the stream for each call). */
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "dq worker[%ld]: %s: %s\n", (long)getpid(),
          log_names[level], msg);
}

static void log_init(void) {
  const char *v = getenv("DQ_LOG");
  if (v == NULL || *v == '\0')
    return;
  for (int i = LOG_ERROR; i <= LOG_DEBUG; i++)
    if (strcmp(v, log_names[i]) == 0) {
      log_level = i;
      return;
    }
  wlog(LOG_WARN, "DQ_LOG='%s' is not one of error, warn, info, debug; "
                 "using warn", v);
}

/* --- Signals --------------------------------------------------------------*/

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  /* Non-blocking: if the pipe is full, enough wake-ups are queued. */
  ssize_t ignored = write(sig_pipe[1], &b, 1);
  (void)ignored;
  errno = saved;
}

static int signals_install(void) {
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
      sigaction(SIGUSR1, &sa, NULL) < 0)
    return -1;
  /* A parent that stopped reading our stdout must not kill us with
   * SIGPIPE when we answer SIGUSR1; network transports want it off too. */
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

static void signals_remove(void) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  close(sig_pipe[0]);
  close(sig_pipe[1]);
  sig_pipe[0] = sig_pipe[1] = -1;
}

/* Blocks until a signal arrives; returns its number, or -1. */
static int wait_signal(void) {
  unsigned char b;
  fd_set rd;
  for (;;) {
    ssize_t r = read(sig_pipe[0], &b, 1);
    if (r == 1)
      return b;
    if (r < 0 && errno != EAGAIN && errno != EINTR)
      return -1;
    FD_ZERO(&rd);
    FD_SET(sig_pipe[0], &rd);
    if (select(sig_pipe[0] + 1, &rd, NULL, NULL, NULL) < 0 && errno != EINTR)
      return -1;
  }
}

/* --- The command ----------------------------------------------------------*/

static void usage(FILE *f) {
  fprintf(f,
          "usage: dq [--config FILE] worker [--listen URL [--advertise URL]] "
          "[--transport NAME]\n"
          "Hosts one worker until SIGTERM or SIGINT.\n\n"
          "  --listen URL      where to serve (default: NAME:// if the "
          "transport takes\n"
          "                    it, else NAME://127.0.0.1:0; a port of 0 "
          "binds a free one)\n"
          "  --advertise URL   the URL to report (the listening line, "
          "GetWorkerInfo,\n"
          "                    errors) instead of the --listen address: "
          "for a worker\n"
          "                    on a wildcard address, reached by a name\n"
          "  --transport NAME  transport plugin, overriding config and "
          "DQ_TRANSPORT\n"
          "                    (default with --listen: the URL's scheme)\n"
          "  --help            this text\n\n"
          "Prints 'listening on URL' on stdout once serving; on SIGUSR1 "
          "prints\n'tasks N', the tasks it holds.  DQ_LOG=error|warn|info|"
          "debug sets how\nmuch it logs on stderr (default warn).\n");
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("dq worker: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nTry 'dq worker --help'.\n", stderr);
  return EXIT_USAGE;
}

static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **value) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

/* Without --listen: NAME:// (runtime.h: an empty address picks a fresh
 * one), and if the transport refuses that as malformed, the loopback with
 * a free port, which is what any host:port transport wants.  Nothing here
 * knows a transport but grpc, known to be of the second kind.  A network
 * transport thus stays on loopback unless told otherwise: serving every
 * interface is a decision for the operator. */
static int start_default(dq_context *ctx, const char *name, dq_worker **w,
                         dq_error *err) {
  char url[128];
  if (strcmp(name, "grpc") != 0) {
    snprintf(url, sizeof url, "%s://", name);
    int rc = dq_worker_start(ctx, url, w, err);
    if (rc != DQ_EINVAL)
      return rc;
    wlog(LOG_DEBUG, "%s refused %s (%s); trying the loopback", name, url,
         err->message);
  }
  snprintf(url, sizeof url, "%s://127.0.0.1:0", name);
  return dq_worker_start(ctx, url, w, err);
}

/* The transport refuses to serve beyond loopback without a token unless
 * [transport.NAME] allow_unauthenticated = true; when that is what let it
 * start, say so in the log, every time. */
static void warn_unauthenticated(const dq_config *cfg, const char *name,
                                 const char *url) {
  size_t n = 0;
  const dq_kv *kv = dq_config_transport_options(cfg, name, &n);
  int allow = 0, token = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(kv[i].key, "allow_unauthenticated") == 0)
      allow = strcmp(kv[i].value, "true") == 0;
    else if (strcmp(kv[i].key, "token") == 0)
      token = 1;
  }
  if (allow && !token)
    wlog(LOG_WARN,
         "serving at %s without authentication ([transport.%s] "
         "allow_unauthenticated = true): anyone who can reach it can run "
         "plans, which read the files under [worker] data_dirs",
         url, name);
}

int dq_cmd_worker(int argc, char **argv, const dq_global_opts *g) {
  const char *listen = NULL, *transport = NULL, *advertise = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int m;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if ((m = opt_value(argc, argv, &i, "--listen", &v)) != 0) {
      if (m < 0 || strstr(v, "://") == NULL)
        return usage_error("--listen needs a URL such as "
                           "grpc://0.0.0.0:7000%s",
                           "");
      listen = v;
    } else if ((m = opt_value(argc, argv, &i, "--advertise", &v)) != 0) {
      if (m < 0 || strstr(v, "://") == NULL)
        return usage_error("--advertise needs a URL such as "
                           "grpc://worker-1.example:7000%s",
                           "");
      advertise = v;
    } else if ((m = opt_value(argc, argv, &i, "--transport", &v)) != 0) {
      if (m < 0 || v[0] == '\0')
        return usage_error("--transport needs a plugin name%s", "");
      transport = v;
    } else {
      return usage_error("unexpected argument '%s'", argv[i]);
    }
  }
  if (advertise != NULL && listen == NULL)
    return usage_error("--advertise stands for a --listen address: give "
                       "both%s",
                       "");
  /* The listen URL names its transport: without --transport that is the
   * one, whatever the config's default. */
  char scheme[64];
  if (listen != NULL) {
    size_t n = (size_t)(strstr(listen, "://") - listen);
    if (n == 0 || n >= sizeof scheme)
      return usage_error("'%s' names no transport before '://'", listen);
    memcpy(scheme, listen, n);
    scheme[n] = '\0';
    if (transport == NULL)
      transport = scheme;
    else if (strcmp(transport, scheme) != 0) {
      fprintf(stderr,
              "dq worker: --transport %s cannot serve at %s\n"
              "Try 'dq worker --help'.\n",
              transport, listen);
      return EXIT_USAGE;
    }
  }
  log_init();
  /* libdq and the plugins log in the same format under the same name. */
  dq_log_set_program("dq worker");

  dq_error err;
  dq_error_clear(&err);
  dq_config *cfg = NULL;
  dq_context *ctx = NULL;
  dq_worker *w = NULL;
  int status = 1;
  char buf[1024];

  if (dq_config_load(g->config_path, &cfg, &err) < 0 ||
      (transport && dq_config_set_transport(cfg, transport, &err) < 0)) {
    wlog(LOG_ERROR, "%s", dq_error_format(&err, buf, sizeof buf));
    goto done;
  }
  const char *name = dq_config_transport(cfg);
  if (strcmp(name, "inmem") == 0) {
    /* Refuse before loading anything: the message is the whole story. */
    wlog(LOG_ERROR,
         "the inmem transport's workers live inside the process that "
         "queries them and cannot be reached from another process; choose "
         "a transport that crosses processes (--transport grpc, or "
         "transport = ... in the config)");
    goto done;
  }
  /* Before any thread exists, so that every thread the transport starts
   * inherits the dispositions. */
  if (signals_install() < 0) {
    wlog(LOG_ERROR, "cannot set up signal handling: %s", strerror(errno));
    goto done;
  }
  if (dq_context_new(cfg, &ctx, &err) < 0) {
    wlog(LOG_ERROR, "%s", dq_error_format(&err, buf, sizeof buf));
    goto done;
  }
  int rc = listen ? dq_worker_start_advertised(ctx, listen, advertise, &w, &err)
                  : start_default(ctx, name, &w, &err);
  if (rc < 0) {
    wlog(LOG_ERROR, "cannot serve at %s: %s",
         listen ? listen : "the default address",
         dq_error_format(&err, buf, sizeof buf));
    /* A --listen URL the transport cannot parse is a usage error, as a
     * malformed argument is everywhere else. */
    if (listen != NULL && rc == DQ_EINVAL)
      status = EXIT_USAGE;
    goto done;
  }
  wlog(LOG_INFO, "transport %s %s, serving at %s",
       dq_context_transport_name(ctx), dq_context_transport_version(ctx),
       dq_worker_url(w));
  warn_unauthenticated(cfg, dq_context_transport_name(ctx), dq_worker_url(w));
  if (printf("listening on %s\n", dq_worker_url(w)) < 0 ||
      fflush(stdout) != 0) {
    /* Whoever started us can no longer learn where we are. */
    wlog(LOG_ERROR, "cannot write the listening line: %s", strerror(errno));
    goto done;
  }
  for (;;) {
    int sig = wait_signal();
    if (sig < 0) {
      wlog(LOG_ERROR, "waiting for signals: %s", strerror(errno));
      goto done;
    }
    if (sig == SIGUSR1) {
      long n = dq_worker_task_count(w);
      wlog(LOG_DEBUG, "SIGUSR1: %ld task%s", n, n == 1 ? "" : "s");
      printf("tasks %ld\n", n);
      fflush(stdout); /* a closed stdout is the asker's problem, not ours */
      continue;
    }
    wlog(LOG_INFO, "%s: stopping; tasks still running fail",
         sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  status = 0;

done:
  dq_worker_stop(w); /* stops accepting, fails in-flight tasks */
  if (w != NULL)
    wlog(LOG_INFO, "stopped");
  dq_context_free(ctx);
  dq_config_free(cfg);
  if (sig_pipe[0] >= 0)
    signals_remove();
  return status;
}
