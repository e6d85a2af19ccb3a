/* source_range.h — the range source (source_range.c): the integers of
 * [start, stop) by step as one INT64 column "value". */
#ifndef DQ_SCAN_SOURCE_RANGE_H
#define DQ_SCAN_SOURCE_RANGE_H

#include <stdint.h>

#include "scan/source.h"

extern const dq_source_kind dq_source_range;

/* A state for dq_source_range; DQ_EINVAL for step 0 or more than 2^62
 * values. */
int dq_source_range_new(int64_t start, int64_t stop, int64_t step,
                        void **out, dq_error *err);

#endif /* DQ_SCAN_SOURCE_RANGE_H */
