/* dq/arrow.h — the Arrow C Data Interface, as the Arrow specification
 * defines it ("The Arrow C data interface", format.rst, ABI-stable).
 *
 * The structs are copied verbatim from the specification so that any Arrow
 * implementation (arrow-c++, nanoarrow, arrow-rs, ...) can exchange batches
 * with dq without a conversion layer.  The include guard is the one the
 * specification prescribes, so this header coexists with other copies.
 *
 * Ownership rules (from the specification): a producer fills a struct and
 * sets `release`; the consumer owns it and must call `release` exactly once
 * (or move the struct bitwise and mark the source released by setting its
 * `release` to NULL).  A released struct has `release == NULL`.
 */
#ifndef DQ_ARROW_H
#define DQ_ARROW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  /* Array type description */
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;

  /* Release callback */
  void (*release)(struct ArrowSchema*);
  /* Opaque producer-specific data */
  void* private_data;
};

struct ArrowArray {
  /* Array data description */
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;

  /* Release callback */
  void (*release)(struct ArrowArray*);
  /* Opaque producer-specific data */
  void* private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifdef __cplusplus
}
#endif

#endif /* DQ_ARROW_H */
