/* dq.c — the dq command: global options, dispatch to subcommands, and the
 * last word on standard output: whatever a command printed must have
 * reached it, or dq says so and exits non-zero (`dq run > /dev/full` used
 * to exit 0 with the result lost). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <dq/dq.h>

#include "commands.h"

static const struct command {
  const char *name;
  int (*fn)(int argc, char **argv, const dq_global_opts *g);
  const char *summary;
} commands[] = {
    {"run", dq_cmd_run, "run a built-in query distributed over workers"},
    {"sql", dq_cmd_sql, "run SQL over CSV, Arrow and TPC-H tables"},
    {"plugins", dq_cmd_plugins,
     "list transport plugins, their ABI and whether they load"},
    {"worker", dq_cmd_worker, "host a worker until SIGTERM or SIGINT"},
    {"gen", dq_cmd_gen, "write TPC-H tables as CSV or Arrow IPC files"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fprintf(f, "usage: dq [--config FILE] COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\nenvironment: DQ_CONFIG (config file), DQ_TRANSPORT (transport "
          "name),\n  DQ_PLUGIN_PATH (plugin directories searched first)\n"
          "Run 'dq COMMAND --help' for a command's options.\n");
}

/* Flushes and closes stdout; a write that failed now or earlier turns a
 * successful status into 1, with the reason on stderr. */
static int close_stdout(int status) {
  int bad = ferror(stdout);
  errno = 0;
  if (fflush(stdout) != 0)
    bad = 1;
  int e = errno;
  if (fclose(stdout) != 0) {
    bad = 1;
    e = e ? e : errno;
  }
  /* A command that failed has said why; its output was lost either way. */
  if (!bad || status != 0)
    return status;
  if (e != 0)
    fprintf(stderr, "dq: cannot write to standard output: %s\n",
            strerror(e));
  else /* an earlier write failed; its errno is gone */
    fprintf(stderr, "dq: cannot write to standard output: a write failed, "
                    "the output is incomplete\n");
  return 1;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv) { return close_stdout(dispatch(argc, argv)); }

static int dispatch(int argc, char **argv) {
  dq_global_opts g = {0};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      g.config_path = argv[++i];
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      g.config_path = argv[i] + 9;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("dq %s\n", DQ_VERSION_STRING);
      return 0;
    } else {
      fprintf(stderr, "dq: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (i == argc) {
    usage(stderr);
    return 2;
  }
  for (size_t c = 0; c < N_COMMANDS; c++)
    if (strcmp(argv[i], commands[c].name) == 0)
      return commands[c].fn(argc - i, argv + i, &g);
  fprintf(stderr, "dq: unknown command '%s'\n", argv[i]);
  usage(stderr);
  return 2;
}
