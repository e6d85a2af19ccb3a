/* fuzz_plan.c — libFuzzer target for the plan codec (libdq/plan/plan_codec.c):
 * dq_plan_decode and dq_producer_head_decode, both fed the whole input
 * (the corpus holds plans and producer heads alike).
 *
 * Oracles: an accepted plan explains, re-encodes, and its encoding decodes
 * again and re-encodes to the same bytes (the codec is a fixed point after
 * one trip); every stage with an output boundary encodes and decodes
 * alone (what query.c sends each task), and yields a producer head that
 * round-trips.  (A boundary-less stage alone is only valid as a head, so a
 * partial plan holding one that is not the head need not split: see
 * docs/fuzzing.md, finding F2.)
 */
#include <stdlib.h>
#include <string.h>

#include <dq/plan.h>

#include "fuzz.h"
#include "plan/plan_internal.h"

static char explain_buf[1 << 16];

static void check_head_round_trip(const dq_producer_head *h) {
  uint8_t *buf;
  size_t len;
  dq_error err;
  int rc = dq_producer_head_encode(h, &buf, &len, &err);
  fuzz_require(rc == 0, "encoding an accepted producer head: %s",
               err.message);
  dq_producer_head again;
  rc = dq_producer_head_decode(buf, len, &again, &err);
  fuzz_require(rc == 0, "decoding dq's own producer head: %s", err.message);
  fuzz_require(again.kind == h->kind && again.n_keys == h->n_keys &&
                   again.partition_count == h->partition_count &&
                   (h->n_keys == 0 ||
                    memcmp(again.keys, h->keys,
                           h->n_keys * sizeof *h->keys) == 0),
               "producer head changed in a round trip");
  dq_producer_head_clear(&again);
  free(buf);
}

static void check_plan(const dq_plan *p) {
  dq_plan_explain(p, explain_buf, sizeof explain_buf);
  uint8_t *enc1, *enc2;
  size_t len1, len2;
  dq_error err;
  int rc = dq_plan_encode(p, &enc1, &len1, &err);
  fuzz_require(rc == 0, "encoding an accepted plan: %s", err.message);
  dq_plan *again;
  rc = dq_plan_decode(enc1, len1, &again, &err);
  fuzz_require(rc == 0, "decoding dq's own plan encoding: %s", err.message);
  rc = dq_plan_encode(again, &enc2, &len2, &err);
  fuzz_require(rc == 0, "re-encoding: %s", err.message);
  fuzz_require(len1 == len2 && memcmp(enc1, enc2, len1) == 0,
               "a plan's encoding changed in a round trip (%zu vs %zu bytes)",
               len1, len2);
  free(enc1);
  free(enc2);
  dq_plan_free(again);

  for (size_t i = 0; i < p->n_stages; i++) {
    const dq_stage *s = &p->stages[i];
    if (dq_stage_boundary_kind(s) == DQ_BOUNDARY_NONE)
      continue;
    uint8_t *sb;
    size_t sl;
    rc = dq_stage_encode(s, &sb, &sl, &err);
    fuzz_require(rc == 0, "encoding stage %u alone: %s", dq_stage_id(s),
                 err.message);
    dq_plan *one;
    rc = dq_plan_decode(sb, sl, &one, &err);
    fuzz_require(rc == 0, "decoding stage %u alone: %s", dq_stage_id(s),
                 err.message);
    dq_plan_free(one);
    free(sb);
    dq_producer_head h;
    if (dq_stage_producer_head(s, &h, &err) == 0)
      check_head_round_trip(&h); /* keys point into the stage: no clear */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dq_plan *p = NULL;
  dq_error err;
  if (dq_plan_decode(data, size, &p, &err) == 0) {
    fuzz_require(p != NULL, "decode returned 0 without a plan");
    check_plan(p);
    dq_plan_free(p);
  }
  dq_producer_head h;
  if (dq_producer_head_decode(data, size, &h, &err) == 0) {
    check_head_round_trip(&h);
    dq_producer_head_clear(&h);
  }
  return 0;
}
