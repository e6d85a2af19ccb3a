/* fuzz_sql.c — libFuzzer target for the SQL front end (libdq/sql: the
 * libpg_query parse, the binder and the planner) on SQL text.
 *
 * The input is the text (cut at its first NUL).  A session knows the eight
 * TPC-H tables (tpch:, tiny scale), so the binder gets past names.
 * Oracles: a rejected text says why (a non-empty message); every accepted
 * query yields a single-node plan that dq_plan_distribute() accepts.
 * Statements are not run: planning is what this target is about.
 */
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>
#include <dq/plan.h>

#include "fuzz.h"
#include "sql.h"

static int on_stmt(void *ctx, dq_sql_kind kind, const dq_plan *plan,
                   const char *message, dq_error *err) {
  (void)ctx;
  if (kind == DQ_SQL_DONE) {
    fuzz_require(message != NULL && message[0] != '\0', "no message");
    return 0;
  }
  fuzz_require(plan != NULL, "a query without a plan");
  dq_plan *d = NULL;
  dq_distribute_opts o = {sizeof o, 2, 1, 0};
  int rc = dq_plan_distribute(plan, &o, &d, err);
  fuzz_require(rc == 0, "an accepted query does not distribute: %s",
               err->message);
  dq_plan_free(d);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024)
    return 0;
  char *text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  dq_sql *s = NULL;
  dq_error err;
  dq_error_clear(&err);
  if (dq_sql_new(&s, &err) == 0) {
    dq_sql_set_tpch(s, 0.001, 0);
    static const char *const tables[] = {"lineitem", "orders", "customer",
                                         "part", "partsupp", "supplier",
                                         "nation", "region"};
    for (size_t i = 0; i < 8; i++) {
      char spec[32];
      strcpy(spec, "tpch:");
      strcat(spec, tables[i]);
      fuzz_require(dq_sql_add_table(s, tables[i], spec, &err) == 0, "%s",
                   err.message);
    }
    int rc = dq_sql_exec(s, text, on_stmt, NULL, &err);
    fuzz_require(rc == 0 || err.message[0] != '\0',
                 "rejected without a message (%d)", rc);
  }
  dq_sql_free(s);
  free(text);
  return 0;
}
