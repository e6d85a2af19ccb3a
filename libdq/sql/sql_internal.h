/* sql_internal.h — what the parts of the SQL front end share: the catalog's
 * tables and views, the parse-tree handle, the bound expression form (sx)
 * and the binder's context with its error reporting.  Not installed. */
#ifndef DQ_SQL_INTERNAL_H
#define DQ_SQL_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/plan.h>

#include "sql.h"

typedef PgQuery__Node pgnode;

/* --- Catalog ---------------------------------------------------------------*/
typedef enum sql_table_kind {
  SQL_TABLE_TPCH = 1,
  SQL_TABLE_CSV = 2,
  SQL_TABLE_ARROW = 3
} sql_table_kind;

typedef struct sql_table {
  char *name; /* lower case */
  sql_table_kind kind;
  char *tpch_table;       /* TPCH */
  double scale;           /* TPCH */
  uint64_t seed;          /* TPCH */
  char **paths;           /* CSV, ARROW: the files the glob matched */
  size_t n_paths;
  bool header;            /* CSV */
  dq_schema *schema;      /* every column */
  double rows;            /* estimated */
  /* Per column, from a sample: the range of numbers and dates (days), for
   * the selectivity of range conditions; ranged[i] false when unknown. */
  bool *ranged;
  double *lo, *hi;
} sql_table;

/* A view: its query's parse tree, kept with the text it came from. */
typedef struct sql_view {
  char *name;
  char **colnames; /* CREATE VIEW v (a, b): NULL when none */
  size_t n_colnames;
  const pgnode *query;
  const char *src; /* the statement text the locations refer to */
} sql_view;

/* The parse of one dq_sql_exec text, kept as long as a view needs it. */
typedef struct sql_parse {
  char *src;
  PgQuery__ParseResult *tree;
  struct sql_parse *next;
} sql_parse;

struct dq_sql {
  double tpch_scale;
  uint64_t tpch_seed;
  sql_table **tables;
  size_t n_tables;
  sql_view *views;
  size_t n_views;
  sql_parse *parses;
};

sql_table *sql_catalog_find(const dq_sql *s, const char *name);
sql_view *sql_catalog_view(const dq_sql *s, const char *name);
void sql_table_free(sql_table *t);
/* Builds a table from a spec (csv:..., arrow:..., tpch:...) or, for
 * CREATE TABLE, with a declared schema (NULL: inferred). */
int sql_table_make(dq_sql *s, const char *name, const char *kind,
                   const char *location, dq_schema *declared, bool header,
                   sql_table **out, dq_error *err);
int sql_catalog_put(dq_sql *s, sql_table *t, dq_error *err);

/* --- Errors ----------------------------------------------------------------*/
/* Formats "line L, column C: MSG" followed by the source line and a caret
 * under byte offset `loc` of src (loc < 0: MSG alone). */
int sql_error_at(dq_error *err, int code, const char *src, int loc,
                 const char *fmt, ...) DQ_PRINTF(5, 6);
int sql_error_atv(dq_error *err, int code, const char *src, int loc,
                  const char *fmt, va_list ap);
/* The candidate closest to `name` by edit distance, or NULL when none is
 * close enough to be a likely typo. */
const char *sql_closest(const char *name, const char *const *cands, size_t n);

/* dq's type for a PostgreSQL type name (int4, numeric(p,s), date, ...);
 * -1 for a type dq does not have. */
int sql_type_from_name(const PgQuery__TypeName *t, dq_type *out);

/* --- Statements ------------------------------------------------------------*/
/* Plans a SELECT into a single-node plan. */
int sql_plan_select(dq_sql *s, const char *src, const pgnode *select,
                    dq_plan **out, dq_error *err);

#endif /* DQ_SQL_INTERNAL_H */
