/* table.h — prints record batches as an aligned text table, the way `dq run`
 * shows a query result (and its --analyze metrics).
 *
 * Cells are formatted when a batch is added and the batch is not kept, so a
 * table holds only text.  Widths are known only once every row is in, which
 * is why nothing is printed before table_print().  Numbers (integers,
 * floats, decimals) are right-aligned, everything else left-aligned; a
 * decimal prints exactly at its scale, a date as YYYY-MM-DD, a null as
 * "NULL". */
#ifndef DQ_TOOLS_TABLE_H
#define DQ_TOOLS_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <dq/batch.h>

typedef struct table table;

/* A table with the schema's column names and alignment (NULL on ENOMEM). */
table *table_new(const dq_schema *schema);
void table_free(table *t);
/* The text shown for a null in cells added from now on ("NULL" unless
 * changed; s must outlive the table). */
void table_set_null_text(table *t, const char *s);
/* Formats the batch's rows into the table.  The batch must have the
 * table's column count.  DQ_ENOMEM or DQ_EINVAL, with err filled. */
int table_add(table *t, const dq_batch *b, dq_error *err);
/* Header, a rule, then one line per row. */
void table_print(const table *t, FILE *f);

/* Formats value i of a column as table_add() does (NUL-terminated, truncated
 * to len); returns its length before truncation. */
size_t table_format_value(const dq_array *a, int64_t i, char *buf,
                          size_t len);
/* Formats a decimal's unscaled value at a scale: "-12.34" for (-1234, 2). */
void table_format_decimal(dq_decimal v, int scale, char *buf, size_t len);
/* Formats days since 1970-01-01 as YYYY-MM-DD (proleptic Gregorian). */
void table_format_date(int32_t days, char *buf, size_t len);

#endif /* DQ_TOOLS_TABLE_H */
