/* worker_internal.h — what tests may ask a worker beyond the public API. */
#ifndef DQ_WORKER_INTERNAL_H
#define DQ_WORKER_INTERNAL_H

#include <dq/runtime.h>
#include "base/internal_export.h"

/* Task objects still allocated, including ones already out of the table
 * (retired by a TTL while a coordinator handle or a stream still holds
 * them, or finishing their pipelines).  0 when nothing of any query is left. */
DQ_INTERNAL
long dq_worker_live_tasks(const dq_worker *w);

#endif /* DQ_WORKER_INTERNAL_H */
