/* routing.c — the boundary routing formulas; see routing.h. */
#include "exchange/routing.h"

static void coalesce_group(const dq_routing *r, uint32_t t, uint32_t *start,
                           uint32_t *len) {
  uint32_t base = r->n_producers / r->n_consumers;
  uint32_t extra = r->n_producers % r->n_consumers;
  *len = base + (t < extra ? 1 : 0);
  *start = t * base + (t < extra ? t : extra);
}

void dq_routing_producers(const dq_routing *r, uint32_t t, uint32_t *first,
                          uint32_t *count) {
  if (r->kind == DQ_BOUNDARY_COALESCE) {
    coalesce_group(r, t, first, count);
  } else {
    *first = 0;
    *count = r->n_producers;
  }
}

void dq_routing_range(const dq_routing *r, uint32_t t, uint32_t *start,
                      uint32_t *end) {
  if (r->kind == DQ_BOUNDARY_SHUFFLE) {
    *start = r->consumer_partitions * t;
    *end = *start + r->consumer_partitions;
  } else {
    *start = 0;
    *end = r->producer_partitions;
  }
}

uint32_t dq_routing_local(const dq_routing *r, uint32_t t, uint32_t j,
                          uint32_t g) {
  switch (r->kind) {
  case DQ_BOUNDARY_SHUFFLE:
    return g - r->consumer_partitions * t;
  case DQ_BOUNDARY_COALESCE: {
    uint32_t start, len;
    coalesce_group(r, t, &start, &len);
    return ((j - start) * r->producer_partitions + g) %
           r->consumer_partitions;
  }
  default:
    return DQ_ROUTE_ALL;
  }
}
