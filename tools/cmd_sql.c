/* cmd_sql.c — `dq sql`: SQL over the catalog's tables.  Statements come
 * from the command line, from -f FILE, or from standard input (a prompt
 * with line editing on a terminal, via libedit); each query is planned by
 * the SQL library (libdq/sql) and run with `dq run`'s machinery
 * (tools/run_plan.h), so workers, transports, --local, --tasks and the
 * result table are the same.  EXPLAIN prints the distributed plan;
 * EXPLAIN ANALYZE runs it and prints per-task metrics.
 *
 * The catalog: the config's [tables] section, then --table NAME=SPEC, then
 * CREATE TABLE in the session; the eight TPC-H tables (tpch:TABLE at
 * --scale) are there by default under their own names unless taken.
 *
 * Exit status: 0 success, 1 a statement failed, 2 a usage error. */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <editline/readline.h>

#include <dq/dq.h>
#include <dq/plan.h>
#include <dq/tpch.h>

#include "commands.h"
#include "run_plan.h"
#include "sql.h"

#define EXIT_USAGE 2
#define MAX_RUN_ARGS 64

typedef struct sql_cli {
  const dq_global_opts *g;
  char *run_argv[MAX_RUN_ARGS + 3]; /* dq run's options, passed through */
  int run_argc;
  int status;
} sql_cli;

typedef struct plan_ref {
  const dq_plan *plan;
} plan_ref;

/* dq run asks for the single-node plan (tasks 0) or a distributed one. */
static int source(void *ctx, uint32_t tasks, dq_plan **out, dq_error *err) {
  const plan_ref *r = ctx;
  dq_distribute_opts o = {sizeof o, tasks ? tasks : 1, 1, 0};
  return dq_plan_distribute(r->plan, &o, out, err);
}

static int on_stmt(void *ctx, dq_sql_kind kind, const dq_plan *plan,
                   const char *message, dq_error *err) {
  (void)err;
  sql_cli *cli = ctx;
  if (kind == DQ_SQL_DONE) {
    printf("%s\n", message);
    fflush(stdout);
    return 0;
  }
  int argc = cli->run_argc;
  char *argv[MAX_RUN_ARGS + 4];
  memcpy(argv, cli->run_argv, (size_t)argc * sizeof *argv);
  if (kind == DQ_SQL_EXPLAIN)
    argv[argc++] = (char *)"--explain";
  else if (kind == DQ_SQL_EXPLAIN_ANALYZE) {
    /* The metrics, not the rows (as PostgreSQL's EXPLAIN ANALYZE). */
    argv[argc++] = (char *)"--analyze";
    argv[argc++] = (char *)"--quiet";
  }
  argv[argc] = NULL;
  plan_ref r = {plan};
  int st = dq_run_plan(argc, argv, cli->g, "sql", source, &r);
  if (st != 0) {
    cli->status = st;
    return DQ_EEXEC; /* dq run printed why */
  }
  return 0;
}

static int exec_text(dq_sql *s, sql_cli *cli, const char *text) {
  dq_error err;
  dq_error_clear(&err);
  cli->status = 0;
  if (dq_sql_exec(s, text, on_stmt, cli, &err) < 0) {
    if (cli->status == 0) {
      fprintf(stderr, "dq sql: %s\n", err.message);
      cli->status = 1;
    }
    return cli->status;
  }
  return 0;
}

static char *read_all(FILE *f) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  for (;;) {
    if (len + 1 >= cap) {
      char *g = realloc(buf, cap * 2);
      if (g == NULL) {
        free(buf);
        return NULL;
      }
      buf = g;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0)
      break;
  }
  buf[len] = '\0';
  return buf;
}

/* The prompt: lines gather until a ';' ends a statement. */
static int interactive(dq_sql *s, sql_cli *cli) {
  char *pending = NULL;
  size_t plen = 0;
  int last = 0;
  for (;;) {
    char *line = readline(pending ? "   -> " : "dq> ");
    if (line == NULL)
      break;
    if (*line)
      add_history(line);
    size_t n = strlen(line);
    char *g = realloc(pending, plen + n + 2);
    if (g == NULL) {
      free(line);
      break;
    }
    pending = g;
    memcpy(pending + plen, line, n);
    plen += n;
    pending[plen++] = '\n';
    pending[plen] = '\0';
    free(line);
    if (dq_sql_complete(pending)) {
      last = exec_text(s, cli, pending);
      free(pending);
      pending = NULL;
      plen = 0;
    }
  }
  if (pending != NULL) {
    last = exec_text(s, cli, pending);
    free(pending);
  }
  printf("\n");
  return last;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: dq sql [options] [\"SQL; ...\"]\n"
          "Runs SQL statements over CSV, Arrow IPC and TPC-H tables, "
          "distributed over\nworkers like 'dq run'.  Without SQL and -f, "
          "statements are read from standard\ninput (a prompt with line "
          "editing on a terminal).\n\n"
          "options:\n"
          "  -f FILE             run the statements in FILE ('-': standard "
          "input)\n"
          "  --table NAME=SPEC   add a table: csv:GLOB, arrow:GLOB or "
          "tpch:TABLE\n"
          "                      (repeatable; the config's [tables] section "
          "does the same)\n"
          "  --scale SF          scale of tpch:TABLE tables (default: "
          "[tpch] scale, else 1)\n"
          "  --seed N            seed of tpch:TABLE tables (default 0)\n"
          "and every option of 'dq run' but the query: --workers, --worker, "
          "--transport,\n--tasks, --local, --explain, --analyze, --quiet, "
          "--repeat.\n\n"
          "Statements: SELECT, EXPLAIN [ANALYZE] SELECT, CREATE TABLE t "
          "(cols) WITH\n(location = 'GLOB', format = 'csv'), CREATE VIEW, "
          "DROP TABLE/VIEW.  The eight\nTPC-H tables are defined by default "
          "(tpch:TABLE) unless a table takes the name.\nSee dq(1) and "
          "docs/sql.md for the SQL supported.\n");
}

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "dq sql: %s%s%s\nTry 'dq sql --help'.\n", msg,
          arg ? " " : "", arg ? arg : "");
  return EXIT_USAGE;
}

int dq_cmd_sql(int argc, char **argv, const dq_global_opts *g) {
  sql_cli cli;
  memset(&cli, 0, sizeof cli);
  cli.g = g;
  cli.run_argv[cli.run_argc++] = (char *)"sql";
  const char *file = NULL, *text = NULL;
  const char **tables = calloc((size_t)argc + 1, sizeof *tables);
  size_t n_tables = 0;
  double scale = 0;
  uint64_t seed = 0;
  int status = 0;
  if (tables == NULL)
    return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      free(tables);
      return 0;
    } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
      if (i + 1 >= argc) {
        free(tables);
        return usage_error("-f needs a file", NULL);
      }
      file = argv[++i];
    } else if (strcmp(a, "--table") == 0 || strncmp(a, "--table=", 8) == 0) {
      v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
      if (v == NULL) {
        free(tables);
        return usage_error("--table needs NAME=SPEC", NULL);
      }
      tables[n_tables++] = v;
    } else if (strcmp(a, "--scale") == 0 || strncmp(a, "--scale=", 8) == 0) {
      v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
      char *end;
      errno = 0;
      scale = v ? strtod(v, &end) : 0;
      if (v == NULL || end == v || *end != '\0' || errno != 0 ||
          !isfinite(scale) || scale <= 0 || scale > 100000) {
        free(tables);
        return usage_error("--scale must be a number > 0 and <= 100000, "
                           "not", v ? v : "nothing");
      }
    } else if (strcmp(a, "--seed") == 0 || strncmp(a, "--seed=", 7) == 0) {
      v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
      char *end;
      errno = 0;
      seed = v ? strtoull(v, &end, 10) : 0;
      if (v == NULL || end == v || *end != '\0' || errno != 0 || v[0] == '-') {
        free(tables);
        return usage_error("--seed must be a non-negative integer, not",
                           v ? v : "nothing");
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      /* dq run's options, with their values, pass through. */
      if (cli.run_argc >= MAX_RUN_ARGS) {
        free(tables);
        return usage_error("too many options", NULL);
      }
      cli.run_argv[cli.run_argc++] = argv[i];
      static const char *const with_value[] = {"--workers", "--worker",
                                               "--transport", "--tasks",
                                               "--repeat"};
      for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        if (strcmp(a, with_value[k]) == 0 && i + 1 < argc &&
            cli.run_argc < MAX_RUN_ARGS)
          cli.run_argv[cli.run_argc++] = argv[++i];
    } else if (text == NULL) {
      text = a;
    } else {
      free(tables);
      return usage_error("one SQL argument at a time (quote it); next was",
                         a);
    }
  }
  if (text != NULL && file != NULL) {
    free(tables);
    return usage_error("give SQL or -f FILE, not both", NULL);
  }

  dq_error err;
  dq_error_clear(&err);
  dq_sql *s = NULL;
  dq_config *cfg = NULL;
  if (dq_sql_new(&s, &err) < 0 || dq_config_load(g->config_path, &cfg, &err) < 0 ||
      dq_sql_add_config_tables(s, cfg, &err) < 0) {
    fprintf(stderr, "dq sql: %s\n", err.message);
    status = 1;
    goto done;
  }
  if (scale > 0 || seed > 0) {
    double sc = scale > 0 ? scale
                : dq_config_tpch_scale(cfg) > 0 ? dq_config_tpch_scale(cfg)
                                                : 1.0;
    dq_sql_set_tpch(s, sc, seed);
  }
  for (size_t i = 0; i < n_tables; i++)
    if (dq_sql_add_table_arg(s, tables[i], &err) < 0) {
      fprintf(stderr, "dq sql: %s\n", err.message);
      status = 1;
      goto done;
    }
  /* The TPC-H tables under their own names, where no table takes them.
   * A failure here (none is expected) only leaves that table out. */
  for (const char *const *t = dq_tpch_table_names(); *t != NULL; t++) {
    bool taken = false;
    for (size_t i = 0; i < dq_config_n_tables(cfg); i++)
      taken |= strcasecmp(dq_config_table_name(cfg, i), *t) == 0;
    for (size_t i = 0; i < n_tables; i++)
      taken |= strncasecmp(tables[i], *t, strlen(*t)) == 0 &&
               tables[i][strlen(*t)] == '=';
    if (taken)
      continue;
    char spec[64];
    snprintf(spec, sizeof spec, "tpch:%s", *t);
    dq_error ignored;
    dq_error_clear(&ignored);
    dq_sql_add_table(s, *t, spec, &ignored);
  }

  if (text != NULL) {
    status = exec_text(s, &cli, text);
  } else if (file != NULL && strcmp(file, "-") != 0) {
    FILE *f = fopen(file, "r");
    if (f == NULL) {
      fprintf(stderr, "dq sql: cannot open %s: %s\n", file, strerror(errno));
      status = 1;
      goto done;
    }
    char *all = read_all(f);
    fclose(f);
    if (all == NULL) {
      fprintf(stderr, "dq sql: out of memory reading %s\n", file);
      status = 1;
      goto done;
    }
    status = exec_text(s, &cli, all);
    free(all);
  } else if (file == NULL && isatty(STDIN_FILENO)) {
    status = interactive(s, &cli);
  } else {
    char *all = read_all(stdin);
    if (all == NULL) {
      fprintf(stderr, "dq sql: out of memory reading standard input\n");
      status = 1;
      goto done;
    }
    status = exec_text(s, &cli, all);
    free(all);
  }
done:
  dq_sql_free(s);
  dq_config_free(cfg);
  free(tables);
  return status;
}
