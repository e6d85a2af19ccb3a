/* commands.h — the subcommands of dq, one file each (tools/cmd_*.c).  Each
 * takes the arguments after its name (argv[0] is the command name) and the
 * global options, and returns the process exit status. */
#ifndef DQ_TOOLS_COMMANDS_H
#define DQ_TOOLS_COMMANDS_H

typedef struct dq_global_opts {
  const char *config_path; /* --config FILE, or NULL */
} dq_global_opts;

int dq_cmd_gen(int argc, char **argv, const dq_global_opts *g);
int dq_cmd_plugins(int argc, char **argv, const dq_global_opts *g);
int dq_cmd_sql(int argc, char **argv, const dq_global_opts *g);
int dq_cmd_run(int argc, char **argv, const dq_global_opts *g);
int dq_cmd_worker(int argc, char **argv, const dq_global_opts *g);

#endif /* DQ_TOOLS_COMMANDS_H */
