/* context.h — what libdq's runtime needs from a context: the loaded
 * transport's ops and instance. */
#ifndef DQ_CONTEXT_H
#define DQ_CONTEXT_H

#include <dq/dq.h>
#include <dq/transport.h>
#include "base/internal_export.h"

DQ_INTERNAL
const dq_transport_ops *dq_context_ops(const dq_context *ctx);
DQ_INTERNAL
dq_transport *dq_context_transport(const dq_context *ctx);

#endif /* DQ_CONTEXT_H */
