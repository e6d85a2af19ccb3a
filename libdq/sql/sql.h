/* sql.h — dq's SQL front end: a session (catalog of tables and views) that
 * turns SQL text into dq plans.  Statements are parsed by PostgreSQL's own
 * grammar (libpg_query), bound against the catalog and planned into a
 * single-node dq plan built with the public plan API (<dq/plan.h>); the
 * caller distributes it with dq_plan_distribute() and runs it.
 *
 * This library is linked only into the dq command and the SQL tests, never
 * into libdq.so or a transport plugin (tests/linkage.test checks it), so
 * libpg_query stays out of every process that does not take SQL. */
#ifndef DQ_SQL_H
#define DQ_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>
#include <dq/plan.h>

typedef struct dq_sql dq_sql;

/* A session with an empty catalog; tpch:TABLE tables are generated at scale
 * 1, seed 0 until dq_sql_set_tpch() says otherwise. */
int dq_sql_new(dq_sql **out, dq_error *err);
void dq_sql_free(dq_sql *s);
/* Scale and seed of tpch:TABLE tables added from now on. */
void dq_sql_set_tpch(dq_sql *s, double scale, uint64_t seed);
/* Adds table NAME from SPEC: csv:GLOB (a header line gives the column
 * names, types are inferred from the first rows), arrow:GLOB (Arrow IPC
 * stream files) or tpch:TABLE.  The files are found and sampled now. */
int dq_sql_add_table(dq_sql *s, const char *name, const char *spec,
                     dq_error *err);
/* "NAME=SPEC", as dq sql --table takes it. */
int dq_sql_add_table_arg(dq_sql *s, const char *arg, dq_error *err);
/* Every table of the config's [tables] section, with [tpch] scale. */
int dq_sql_add_config_tables(dq_sql *s, const dq_config *cfg, dq_error *err);

typedef enum dq_sql_kind {
  DQ_SQL_QUERY = 1,           /* run the plan, show its rows */
  DQ_SQL_EXPLAIN = 2,         /* show the plan */
  DQ_SQL_EXPLAIN_ANALYZE = 3, /* run the plan, show its metrics */
  DQ_SQL_DONE = 4             /* a statement the session carried out
                               * (CREATE, DROP): `message` says what */
} dq_sql_kind;

/* Called once per statement in order: `plan` (single-node, borrowed for
 * the call) for the first three kinds, NULL for DQ_SQL_DONE.  Returns 0
 * to go on or a negative DQ_E* code to stop. */
typedef int (*dq_sql_stmt_fn)(void *ctx, dq_sql_kind kind,
                              const dq_plan *plan, const char *message,
                              dq_error *err);

/* Parses `text` (statements separated by ';') and hands each to fn.  Stops
 * at the first error: syntax errors and binding errors give a message with
 * the line, the column and a caret under the offending token. */
int dq_sql_exec(dq_sql *s, const char *text, dq_sql_stmt_fn fn, void *ctx,
                dq_error *err);

/* True when `text` holds at least one complete statement or only
 * whitespace and comments that still need more input (for the prompt:
 * whether a line ended a statement).  Statements end with ';' outside
 * quotes and comments. */
bool dq_sql_complete(const char *text);

#endif /* DQ_SQL_H */
