/* dq/runtime.h — running plans: hosting workers and running queries on them.
 *
 * A worker hosts tasks: it receives each task's stage over a coordinator
 * channel, runs it when a consumer first asks for its output, routes the
 * output through the producer head (shuffle, coalesce or broadcast), and
 * serves partition streams.  A query runs a plan: it assigns each stage's
 * tasks to workers round-robin, delivers the task plans, runs the head stage
 * in the calling process, and hands out the head's batches.
 *
 * Both go through the context's transport: with inmem the workers are
 * objects of this process; with a network transport they may be anywhere.
 *
 * Threading: dq_worker_* and dq_query_* calls on different objects may run
 * concurrently.  A query is read by one thread at a time (dq_query_next),
 * but dq_query_cancel may be called from any thread at any time.
 */
#ifndef DQ_RUNTIME_H
#define DQ_RUNTIME_H

#include <stdint.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/plan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Workers ------------------------------------------------------------- */
typedef struct dq_worker dq_worker;

/* Starts a worker served at listen_url over ctx's transport ("inmem://" or
 * a port of 0 picks a fresh address; see dq_worker_url).  ctx must outlive
 * the worker.  Executor settings come from ctx's configuration. */
DQ_EXPORT int dq_worker_start(dq_context *ctx, const char *listen_url,
                              dq_worker **out, dq_error *err);
/* Same, but the worker reports advertise_url (GetWorkerInfo, its errors,
 * dq_worker_url) instead of the address it serves at: for a worker
 * listening on a wildcard address (grpc://0.0.0.0:7000) behind a name
 * coordinators use.  advertise_url must be SCHEME://ADDRESS with
 * listen_url's scheme; NULL is dq_worker_start. */
DQ_EXPORT int dq_worker_start_advertised(dq_context *ctx,
                                         const char *listen_url,
                                         const char *advertise_url,
                                         dq_worker **out, dq_error *err);
/* The URL clients reach the worker at. */
DQ_EXPORT const char *dq_worker_url(const dq_worker *w);
/* Tasks the worker holds for coordinators (running or not): 0 once every
 * query's coordinator channels have closed or its tasks' idle TTL passed. */
DQ_EXPORT long dq_worker_task_count(const dq_worker *w);
/* Stops serving, cancels every task, waits for the worker's threads, frees. */
DQ_EXPORT void dq_worker_stop(dq_worker *w);

/* --- Membership ---------------------------------------------------------- */

/* The worker URLs the configuration names now: [workers] URLs, then every
 * address each `discover = dns:NAME:PORT` resolves to (asked on every
 * call, so call it per query to pick up replacements), as
 * TRANSPORT://ADDRESS:PORT with ctx's transport name; each URL once.
 * *urls is empty (n = 0) when the config names none.  DQ_EUNAVAILABLE when
 * it names only names that resolve to nothing.  Free with
 * dq_workers_free. */
DQ_EXPORT int dq_workers_resolve(dq_context *ctx, char ***urls, size_t *n,
                                 dq_error *err);
DQ_EXPORT void dq_workers_free(char **urls, size_t n);

/* --- Queries ------------------------------------------------------------- */
typedef struct dq_query dq_query;

/* Starts running plan on the workers at the given URLs (at least one).  The
 * plan must outlive the query.  Returns once every task's plan is
 * delivered; results are pulled with dq_query_next. */
DQ_EXPORT int dq_query_start(dq_context *ctx, const dq_plan *plan,
                             const char *const *worker_urls, size_t n_workers,
                             dq_query **out, dq_error *err);
/* The schema of the result batches. */
DQ_EXPORT const dq_schema *dq_query_schema(const dq_query *q);
/* 0 with *out = the next result batch (the caller owns the reference), or 0
 * with *out = NULL at the end.  Errors carry the worker URL and task key
 * where the failure happened. */
DQ_EXPORT int dq_query_next(dq_query *q, dq_batch **out, dq_error *err);
/* Cancels the query on every worker; a blocked dq_query_next returns
 * DQ_ECANCELED.  Thread-safe, from any thread, until dq_query_close is
 * called: the caller makes sure a cancel has returned before it closes. */
DQ_EXPORT void dq_query_cancel(dq_query *q);
/* Ends the query.  If it has not run to its end (an early drop, e.g. after
 * a LIMIT was satisfied) every task on every worker is cancelled and freed.
 * The metrics below stay readable until this call. */
DQ_EXPORT void dq_query_close(dq_query *q);

/* Metrics of one task, as its worker reported them at the end of the query
 * (plus what the coordinator measured). */
typedef struct dq_task_info {
  dq_task_key key;
  char worker_url[256];
  uint64_t plan_bytes;     /* size of the task plan sent */
  uint64_t plan_send_ns;   /* time to deliver it (coord_open) */
  uint64_t queued_ns;      /* SetPlan to start, on the worker */
  uint64_t run_ns;         /* start to end of its output, on the worker */
  uint64_t rows_out, batches_out, bytes_out;
  /* What the task read across its input boundary (if it has one). */
  uint64_t in_bytes, in_batches, in_rows, in_wait_ns, in_buffered_peak;
  int has_metrics;         /* 0 when the query ended early or failed */
} dq_task_info;

/* Tasks of the query, in stage order (the head stage, run in the
 * coordinator, is last).  Valid after dq_query_next returned the end. */
DQ_EXPORT size_t dq_query_n_tasks(const dq_query *q);
DQ_EXPORT int dq_query_task_info(const dq_query *q, size_t i,
                                 dq_task_info *out);
/* Which worker each task of each stage runs on, for --explain; the head
 * stage runs in the coordinator ("coordinator"). */
DQ_EXPORT const char *dq_query_task_worker(const dq_query *q,
                                           uint32_t stage_id,
                                           uint32_t task_number);

/* --- Worker loss and attempts ------------------------------------------- *
 *
 * A worker lost while a query runs (an error that means the peer is gone:
 * DQ_EUNAVAILABLE, or DQ_ETIMEDOUT from a deadline or keepalive) before any
 * row reached the caller ends that *attempt*: its tasks are cancelled and
 * closed, and the whole plan runs again on the surviving workers, up to
 * [executor] max_task_attempts runs in all.  Sources are deterministic and
 * nothing of the abandoned attempt was returned, so every row is returned
 * once.  A loss after rows were returned fails the query (a re-run would
 * return them again), unless the head stage is a sort, top-N or aggregate:
 * then the workers had finished before the first row, and a later loss
 * costs only their metrics.  Errors that are not a loss (a malformed plan,
 * an overflow) are never retried.  A lost worker is avoided by the queries
 * of this process for [executor] worker_avoid_ms.  docs/runtime.md. */

/* One worker the query lost. */
typedef struct dq_worker_loss {
  uint32_t attempt;      /* the attempt it was lost in (1 = the first run) */
  int retried;           /* 1: that attempt was abandoned and the plan ran
                            again without the worker; 0: nothing was re-run
                            (it was unreachable before any task went to it,
                            or only its metrics were lost after the answer,
                            or the loss ended the query) */
  char worker_url[256];
  dq_error reason;       /* the error that showed the loss */
  uint64_t at_ns;        /* when, since dq_query_start was called */
} dq_worker_loss;

/* The attempt running (or that produced the answer): 1 unless a worker was
 * lost and the plan ran again.  The tasks of dq_query_task_info are this
 * attempt's, and their keys carry its query id. */
DQ_EXPORT uint32_t dq_query_attempt(const dq_query *q);
/* Workers lost so far, in the order they were lost. */
DQ_EXPORT size_t dq_query_n_losses(const dq_query *q);
DQ_EXPORT int dq_query_loss_info(const dq_query *q, size_t i,
                                 dq_worker_loss *out);

#ifdef __cplusplus
}
#endif

#endif /* DQ_RUNTIME_H */
