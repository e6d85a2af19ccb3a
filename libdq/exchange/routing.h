/* routing.h — which producer partitions a consumer task reads across a
 * network boundary, and where each lands (DESIGN.md "Execution model").
 *
 * N_p producer tasks with P_p output partitions each (after the producer
 * head: P_p is the shuffle's P_c·N_c, a coalesce producer's own partition
 * count, or 1 for a broadcast cache); N_c consumer tasks with P_c
 * partitions each.  Consumer task t reads:
 *   shuffle    global partitions [P_c·t, P_c·t + P_c) of every producer task;
 *              global partition g lands in local partition g − P_c·t.
 *   coalesce   every partition of the producer tasks [start, start+len),
 *              base = ⌊N_p/N_c⌋, extra = N_p mod N_c, len = base + (t<extra),
 *              start = t·base + min(t, extra); partition r of the i-th task
 *              of its group lands in local partition (i·P_p + r) mod P_c.
 *   broadcast  every partition of every producer task, into every local
 *              partition.
 * One ExecuteTask request per (boundary, producer task) covers the range. */
#ifndef DQ_ROUTING_H
#define DQ_ROUTING_H

#include <stdint.h>

#include <dq/plan.h>

typedef struct dq_routing {
  dq_boundary_kind kind;
  uint32_t n_producers;            /* N_p */
  uint32_t producer_partitions;    /* P_p, as defined above */
  uint32_t n_consumers;            /* N_c */
  uint32_t consumer_partitions;    /* P_c */
} dq_routing;

/* The producer tasks consumer task t reads: [*first, *first + *count). */
void dq_routing_producers(const dq_routing *r, uint32_t t, uint32_t *first,
                          uint32_t *count);
/* The partition range [*start, *end) consumer t asks each of them for. */
void dq_routing_range(const dq_routing *r, uint32_t t, uint32_t *start,
                      uint32_t *end);
/* The local partition of consumer t that global partition g of producer task
 * j lands in; DQ_ROUTE_ALL for a broadcast (every local partition). */
#define DQ_ROUTE_ALL UINT32_MAX
uint32_t dq_routing_local(const dq_routing *r, uint32_t t, uint32_t j,
                          uint32_t g);

#endif /* DQ_ROUTING_H */
