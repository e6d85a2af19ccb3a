/* source_registry.c — the one place a data source kind is registered.
 * The plan decoder finds a scan's kind here by the name on the wire.
 * A new kind is one line in SOURCES: X(name) for dq_source_name. */
#include <string.h>

#include "scan/source.h"

#define SOURCES(X) \
  X(tpch)          \
  X(csv)           \
  X(ipc)           \
  X(range)         \
  /* one line per kind, above this one */

#define DECLARE(n) extern const dq_source_kind dq_source_##n;
SOURCES(DECLARE)
#undef DECLARE

#define ENTRY(n) &dq_source_##n,
static const dq_source_kind *const kinds[] = {SOURCES(ENTRY) NULL};
#undef ENTRY

const dq_source_kind *dq_source_find(const char *name) {
  for (size_t i = 0; name != NULL && kinds[i] != NULL; i++)
    if (strcmp(kinds[i]->name, name) == 0)
      return kinds[i];
  return NULL;
}

const dq_source_kind *const *dq_source_kinds(void) { return kinds; }
