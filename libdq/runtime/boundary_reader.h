/* boundary_reader.h — the consumer side of one network boundary: one
 * ExecuteTask stream per producer task it reads, drained by a thread each
 * into per-partition queues that the consumer's READ pipelines pop.
 *
 * Streams are drained eagerly whatever the consumer polls, so no order of
 * polling partitions can deadlock: frames of partitions nobody is reading
 * yet are buffered (counted in bytes and reported as buffered_peak). */
#ifndef DQ_BOUNDARY_READER_H
#define DQ_BOUNDARY_READER_H

#include <stdint.h>

#include <dq/batch.h>
#include <dq/transport.h>

#include "runtime/task_plan.h"
#include "base/internal_export.h"

/* One open partition stream, from a transport or from a local worker. */
typedef struct dq_source {
  void *s;
  int (*next)(void *s, dq_frame *out, dq_error *err);
  void (*cancel)(void *s); /* thread-safe */
  void (*close)(void *s);
} dq_source;

/* How the reader's owner opens a stream to the worker at url. */
typedef int (*dq_source_open_fn)(void *ctx, const char *url,
                                 const dq_execute_task *req, dq_source *out,
                                 dq_error *err);

/* A source reading ExecuteTask `req` over a transport channel. */
DQ_INTERNAL
int dq_source_open_transport(const dq_transport_ops *ops, dq_channel *ch,
                             const dq_execute_task *req, dq_source *out,
                             dq_error *err);

typedef struct dq_reader dq_reader;

/* Starts reading boundary `in` for consumer task `consumer` of a stage with
 * n_consumers tasks of consumer_partitions partitions each.  `schema` is
 * what the producer must send (borrowed; must outlive the reader). */
DQ_INTERNAL
int dq_reader_start(const dq_input_boundary *in, const dq_schema *schema,
                    const uint8_t query_id[16], uint32_t consumer,
                    uint32_t n_consumers, uint32_t consumer_partitions,
                    dq_source_open_fn open, void *open_ctx, dq_reader **out,
                    dq_error *err);
/* 0 with the next batch of local partition p (caller owns it), or 0 with
 * *out = NULL once every producer stream has ended.  A producer's error is
 * returned as it came (with its worker and task). */
DQ_INTERNAL
int dq_reader_next(dq_reader *r, uint32_t p, dq_batch **out, dq_error *err);
/* Cancels every stream; blocked dq_reader_next calls return DQ_ECANCELED. */
void dq_reader_cancel(dq_reader *r);
/* Cancels if still running, joins the threads, closes the streams. */
DQ_INTERNAL
void dq_reader_free(dq_reader *r);
/* What the reader received so far. */
DQ_INTERNAL
void dq_reader_metrics(dq_reader *r, dq_boundary_metrics *out);

#endif /* DQ_BOUNDARY_READER_H */
