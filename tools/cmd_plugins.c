/* cmd_plugins.c — `dq plugins [--verbose]`: every transport plugin on the
 * search path, with its ABI version, version, path and whether it loads (and
 * why not), in the spirit of fi_info / ompi_info.  Ends with the configured
 * transport, so a misconfiguration is named next to what is available. */
#include <stdio.h>
#include <string.h>

#include <dq/dq.h>

#include "commands.h"

typedef struct list_state {
  int verbose;
  int count;
} list_state;

static int print_one(const dq_plugin_info *info, void *user) {
  list_state *st = user;
  char abi[32] = "-";
  if (info->abi_major || info->abi_minor)
    snprintf(abi, sizeof abi, "%u.%u", info->abi_major, info->abi_minor);
  if (st->count++ == 0)
    printf("%-12s %-5s %-9s %-6s %s\n", "NAME", "ABI", "VERSION", "LOADS",
           "PATH");
  printf("%-12s %-5s %-9s %-6s %s%s\n", info->name, abi,
         info->version[0] ? info->version : "-", info->loads ? "yes" : "no",
         info->path, info->shadowed ? " (shadowed by an earlier directory)" : "");
  if (!info->loads)
    printf("    why: %s\n", info->error.message);
  if (st->verbose && info->description[0])
    printf("    %s\n", info->description);
  return 0;
}

int dq_cmd_plugins(int argc, char **argv, const dq_global_opts *g) {
  list_state st = {0};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
      st.verbose = 1;
    } else if (strcmp(argv[i], "--help") == 0) {
      printf("usage: dq plugins [--verbose]\n"
             "Lists every transport plugin found on the search path.\n");
      return 0;
    } else {
      fprintf(stderr, "dq plugins: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  dq_error err;
  dq_error_clear(&err);
  dq_config *cfg = NULL;
  if (dq_config_load(g->config_path, &cfg, &err) < 0) {
    fprintf(stderr, "dq: %s\n", err.message);
    return 1;
  }
  if (st.verbose) {
    printf("search path (in order):\n");
    for (size_t i = 0; i < dq_config_n_plugin_dirs(cfg); i++)
      printf("  %s\n", dq_config_plugin_dir(cfg, i));
    printf("\n");
  }
  if (dq_plugin_list(cfg, print_one, &st, &err) < 0) {
    fprintf(stderr, "dq: %s\n", err.message);
    dq_config_free(cfg);
    return 1;
  }
  if (st.count == 0)
    printf("no transport plugins found\n");

  /* Load the configured transport as a query would. */
  dq_context *ctx = NULL;
  int status = 0;
  if (dq_context_new(cfg, &ctx, &err) < 0) {
    fprintf(stderr, "\ndq: configured transport '%s' does not load: %s\n",
            dq_config_transport(cfg), err.message);
    status = 1;
  } else {
    printf("\nconfigured transport: %s %s\n", dq_context_transport_name(ctx),
           dq_context_transport_version(ctx));
    dq_context_free(ctx);
  }
  dq_config_free(cfg);
  return status;
}
