/* check_probe.c — a worker service that records what reaches it, for
 * dq-transport-check.
 *
 * libdq's own worker does not look at everything a transport carries (it
 * ignores SetPlan's config pairs, for one), so a transport that dropped
 * them would pass every check run against a real worker.  The probe is
 * served by the transport under test in place of libdq's worker: it keeps a
 * copy of the SetPlan it receives, answers coord_finish with metrics the
 * checker knows (boundaries included), and counts coord_close calls, so the
 * checker can compare both ends of the wire field by field. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_probe.h"

/* The one task handle the probe hands out: any non-NULL pointer would do. */
static int probe_task_token;

static char *dup_bytes(const void *p, size_t n) {
  char *c = malloc(n + 1);
  if (c != NULL) {
    if (n)
      memcpy(c, p, n);
    c[n] = '\0';
  }
  return c;
}

static void forget_plan(check_probe *pr) {
  free(pr->plan);
  free(pr->target);
  for (size_t i = 0; i < pr->n_config; i++) {
    free(pr->keys[i]);
    free(pr->values[i]);
  }
  free(pr->keys);
  free(pr->values);
  pr->plan = NULL;
  pr->target = NULL;
  pr->keys = pr->values = NULL;
  pr->n_config = 0;
  pr->plan_len = 0;
}

static int probe_info(void *self, dq_worker_info *out, dq_error *err) {
  (void)err;
  check_probe *pr = self;
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "%s", DQ_VERSION_STRING);
  out->protocol_version = DQ_PROTOCOL_VERSION;
  pthread_mutex_lock(&pr->lock);
  snprintf(out->url, sizeof out->url, "%s", pr->url);
  pthread_mutex_unlock(&pr->lock);
  return 0;
}

static int probe_coord_open(void *self, const dq_set_plan *sp,
                            dq_ws_task **out, dq_error *err) {
  check_probe *pr = self;
  pthread_mutex_lock(&pr->lock);
  forget_plan(pr);
  pr->key = sp->key;
  pr->task_count = sp->task_count;
  pr->plan = (uint8_t *)dup_bytes(sp->plan, sp->plan_len);
  pr->plan_len = sp->plan_len;
  pr->target = dup_bytes(sp->target_worker_url ? sp->target_worker_url : "",
                         sp->target_worker_url ? strlen(sp->target_worker_url)
                                               : 0);
  pr->keys = calloc(sp->n_config + 1, sizeof *pr->keys);
  pr->values = calloc(sp->n_config + 1, sizeof *pr->values);
  int ok = pr->plan && pr->target && pr->keys && pr->values;
  for (size_t i = 0; ok && i < sp->n_config; i++) {
    pr->keys[i] = dup_bytes(sp->config[i].key, strlen(sp->config[i].key));
    pr->values[i] =
        dup_bytes(sp->config[i].value, strlen(sp->config[i].value));
    pr->n_config = i + 1;
    ok = pr->keys[i] && pr->values[i];
  }
  pr->n_opened++;
  pthread_mutex_unlock(&pr->lock);
  if (!ok)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  *out = (dq_ws_task *)&probe_task_token;
  return 0;
}

static int probe_work_unit(void *self, dq_ws_task *task, const void *data,
                           size_t len, dq_error *err) {
  (void)self;
  (void)task;
  (void)data;
  (void)len;
  (void)err;
  return 0;
}

static int probe_finish(void *self, dq_ws_task *task, dq_task_metrics *out,
                        dq_error *err) {
  (void)task;
  (void)err;
  check_probe *pr = self;
  pthread_mutex_lock(&pr->lock);
  *out = pr->metrics;
  out->key = pr->key;
  pthread_mutex_unlock(&pr->lock);
  return 0;
}

static void probe_close(void *self, dq_ws_task *task) {
  (void)task;
  check_probe *pr = self;
  pthread_mutex_lock(&pr->lock);
  pr->n_closed++;
  pthread_mutex_unlock(&pr->lock);
}

static int probe_execute(void *self, const dq_execute_task *req,
                         dq_ws_stream **out, dq_error *err) {
  (void)self;
  (void)req;
  (void)out;
  return dq_error_set(err, DQ_EUNSUPPORTED,
                      "dq-transport-check's probe serves no streams");
}

static int probe_next(void *self, dq_ws_stream *s, dq_frame *out,
                      dq_error *err) {
  (void)self;
  (void)s;
  memset(out, 0, sizeof *out);
  return dq_error_set(err, DQ_EINTERNAL, "the probe has no streams");
}

static void probe_stream_void(void *self, dq_ws_stream *s) {
  (void)self;
  (void)s;
}

void check_probe_init(check_probe *pr) {
  memset(pr, 0, sizeof *pr);
  pthread_mutex_init(&pr->lock, NULL);
  /* Values no transport could produce by accident: every field distinct
   * and wider than 32 bits where the field is. */
  static const dq_boundary_metrics b[2] = {
      {1, 1, 0x100000001ull, 2, 3, 4, 5},
      {7, 3, 11, 0x200000013ull, 17, 19, 0x300000023ull}};
  memcpy(pr->boundaries, b, sizeof b);
  pr->metrics.plan_bytes = 0x400000029ull;
  pr->metrics.queued_ns = 31;
  pr->metrics.run_ns = 0x50000002bull;
  pr->metrics.rows_out = 37;
  pr->metrics.batches_out = 41;
  pr->metrics.bytes_out = 0x60000002full;
  pr->metrics.n_boundaries = 2;
  pr->metrics.boundaries = pr->boundaries;
  pr->svc.size = sizeof pr->svc;
  pr->svc.self = pr;
  pr->svc.get_worker_info = probe_info;
  pr->svc.coord_open = probe_coord_open;
  pr->svc.coord_send_work_unit = probe_work_unit;
  pr->svc.coord_finish = probe_finish;
  pr->svc.coord_close = probe_close;
  pr->svc.execute_task = probe_execute;
  pr->svc.stream_next = probe_next;
  pr->svc.stream_cancel = probe_stream_void;
  pr->svc.stream_close = probe_stream_void;
}

void check_probe_free(check_probe *pr) {
  forget_plan(pr);
  pthread_mutex_destroy(&pr->lock);
}

int check_probe_closed(check_probe *pr) {
  pthread_mutex_lock(&pr->lock);
  int n = pr->n_closed;
  pthread_mutex_unlock(&pr->lock);
  return n;
}
