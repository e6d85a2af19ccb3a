/* result_text.h — results as canonical text, for comparing a distributed
 * answer with the single-process one: one line per row, values separated by
 * '|', decimals exact, floats with 17 significant digits. */
#ifndef DQ_TESTS_HARNESS_RESULT_TEXT_H
#define DQ_TESTS_HARNESS_RESULT_TEXT_H

#include <stddef.h>

#include <dq/batch.h>

typedef struct result_text {
  char **rows;
  size_t n, cap;
} result_text;

/* Appends every row of b. */
void result_text_add(result_text *r, const dq_batch *b);
/* Sorts the rows (for answers whose order the query does not fix). */
void result_text_sort(result_text *r);
/* 1 when both hold the same rows in the same order; otherwise prints the
 * first difference to stderr and returns 0. */
int result_text_equal(const result_text *a, const result_text *b);
void result_text_free(result_text *r);

#endif /* DQ_TESTS_HARNESS_RESULT_TEXT_H */
