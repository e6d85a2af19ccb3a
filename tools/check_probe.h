/* check_probe.h — dq-transport-check's recording worker service (see
 * check_probe.c). */
#ifndef DQ_CHECK_PROBE_H
#define DQ_CHECK_PROBE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/transport.h>

typedef struct check_probe {
  dq_worker_service svc; /* serve this */
  pthread_mutex_t lock;
  char url[256]; /* set by the checker once served (GetWorkerInfo) */
  /* The last SetPlan received, deep-copied. */
  dq_task_key key;
  uint32_t task_count;
  uint8_t *plan;
  size_t plan_len;
  char *target;
  size_t n_config;
  char **keys, **values;
  int n_opened, n_closed; /* coord_open / coord_close calls */
  /* What coord_finish answers (with the SetPlan's key). */
  dq_task_metrics metrics;
  dq_boundary_metrics boundaries[2];
} check_probe;

void check_probe_init(check_probe *pr);
void check_probe_free(check_probe *pr);
/* coord_close calls so far (they may arrive after the client's close
 * returned: the transport delivers them asynchronously). */
int check_probe_closed(check_probe *pr);

#endif /* DQ_CHECK_PROBE_H */
