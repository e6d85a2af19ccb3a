/* membership.h — which workers a query may use: workers recently lost
 * (avoided for [executor] worker_avoid_ms, process-wide) and workers found
 * through [workers] discover = dns:NAME:PORT.  The coordinator (query.c)
 * filters its worker list through here and reports losses here.
 */
#ifndef DQ_RUNTIME_MEMBERSHIP_H
#define DQ_RUNTIME_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>

/* Remembers that url was lost: dq_membership_avoided() says so for ms
 * milliseconds from now (0 forgets nothing and records nothing). */
void dq_membership_avoid(const char *url, int64_t ms);
/* Whether url was lost less than its avoid time ago. */
int dq_membership_avoided(const char *url);

#endif /* DQ_RUNTIME_MEMBERSHIP_H */
