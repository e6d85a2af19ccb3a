/* run_plan.h — running a plan the way `dq run` does (workers, transport,
 * --tasks, --local, --explain, --analyze, --quiet, --repeat, Ctrl-C, the
 * result table and timing line), for commands that make their own plans
 * (`dq sql`).  The option handling lives once, in tools/cmd_run.c. */
#ifndef DQ_TOOLS_RUN_PLAN_H
#define DQ_TOOLS_RUN_PLAN_H

#include <stdint.h>

#include <dq/dq.h>
#include <dq/plan.h>

#include "commands.h"

/* Makes the plan to run: the single-node plan when tasks is 0, else the
 * distributed plan with `tasks` tasks per distributed stage. */
typedef int (*run_plan_source)(void *ctx, uint32_t tasks, dq_plan **out,
                               dq_error *err);

/* Parses `dq run`'s options from argv (argv[0] is skipped; no query name)
 * and runs the plan `source` makes, labelled `label`.  Returns the exit
 * status as `dq run` would. */
int dq_run_plan(int argc, char **argv, const dq_global_opts *g,
                const char *label, run_plan_source source, void *ctx);

#endif /* DQ_TOOLS_RUN_PLAN_H */
