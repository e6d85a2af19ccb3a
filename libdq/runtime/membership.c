/* membership.c — which workers a query may use.
 *
 * A worker the coordinator lost (it died, hung up, or stopped answering
 * within the transport's deadline or keepalive) is avoided by every query
 * of this process for [executor] worker_avoid_ms: a query started right
 * after a loss should not spend its first attempt rediscovering it.  The
 * list is process-wide, not per context, because a dead worker is dead for
 * every context that names it.  It is small (one entry per worker lost
 * recently) and searched linearly; expired entries are reused.
 */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "runtime/membership.h"

#define MAX_AVOIDED 256

typedef struct avoided {
  char url[256];
  uint64_t until_ns; /* 0: a free slot */
} avoided;

static pthread_mutex_t avoid_lock = PTHREAD_MUTEX_INITIALIZER;
static avoided avoid_list[MAX_AVOIDED];

void dq_membership_avoid(const char *url, int64_t ms) {
  if (url == NULL || url[0] == '\0' || ms <= 0)
    return;
  uint64_t now = dq_now_ns();
  uint64_t until = now + (uint64_t)ms * 1000000u;
  pthread_mutex_lock(&avoid_lock);
  avoided *slot = NULL, *oldest = &avoid_list[0];
  for (size_t i = 0; i < MAX_AVOIDED; i++) {
    avoided *a = &avoid_list[i];
    if (a->until_ns != 0 && strcmp(a->url, url) == 0) {
      slot = a;
      break;
    }
    if (slot == NULL && (a->until_ns == 0 || a->until_ns <= now))
      slot = a;
    if (a->until_ns < oldest->until_ns)
      oldest = a;
  }
  if (slot == NULL) /* full of live entries: the one expiring first goes */
    slot = oldest;
  snprintf(slot->url, sizeof slot->url, "%s", url);
  slot->until_ns = until;
  pthread_mutex_unlock(&avoid_lock);
}

int dq_membership_avoided(const char *url) {
  if (url == NULL)
    return 0;
  uint64_t now = dq_now_ns();
  int found = 0;
  pthread_mutex_lock(&avoid_lock);
  for (size_t i = 0; i < MAX_AVOIDED && !found; i++) {
    avoided *a = &avoid_list[i];
    if (a->until_ns > now && strcmp(a->url, url) == 0)
      found = 1;
  }
  pthread_mutex_unlock(&avoid_lock);
  return found;
}
