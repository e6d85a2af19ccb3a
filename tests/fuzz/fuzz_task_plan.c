/* fuzz_task_plan.c — libFuzzer target for the task-plan decoder
 * (libdq/runtime/task_plan.c): the bytes a worker receives in SetPlan.
 *
 * Oracles: an accepted task plan has a stage, an input per READ of it with
 * a URL per producer task, finds each input and its READ schema, and
 * re-encodes to bytes that decode again to the same shape.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "runtime/task_plan.h"

static void check_task_plan(const dq_task_plan *tp) {
  fuzz_require(tp->plan != NULL && tp->stage != NULL, "no stage");
  for (size_t i = 0; i < tp->n_inputs; i++) {
    const dq_input_boundary *in = &tp->inputs[i];
    fuzz_require(dq_task_plan_input(tp, in->producer_stage_id) != NULL,
                 "input %zu not found by its stage id", i);
    fuzz_require(dq_stage_read_schema(tp->stage, in->producer_stage_id) !=
                     NULL,
                 "input %zu has no READ in the stage", i);
    fuzz_require(dq_head_partitions(&in->head, in->producer_partitions) > 0,
                 "input %zu has no partitions", i);
    for (uint32_t t = 0; t < in->producer_task_count; t++)
      fuzz_require(in->urls[t] != NULL, "input %zu lacks URL %u", i, t);
  }
  uint8_t *buf;
  size_t len;
  dq_error err;
  int rc = dq_task_plan_encode(tp->stage, tp->inputs, tp->n_inputs, &buf,
                               &len, &err);
  fuzz_require(rc == 0, "re-encoding an accepted task plan: %s", err.message);
  dq_task_plan *again;
  rc = dq_task_plan_decode(buf, len, &again, &err);
  fuzz_require(rc == 0, "decoding dq's own task plan: %s", err.message);
  fuzz_require(again->n_inputs == tp->n_inputs &&
                   dq_stage_id(again->stage) == dq_stage_id(tp->stage) &&
                   dq_stage_task_count(again->stage) ==
                       dq_stage_task_count(tp->stage),
               "task plan changed in a round trip");
  for (size_t i = 0; i < tp->n_inputs; i++)
    fuzz_require(again->inputs[i].head_len == tp->inputs[i].head_len &&
                     memcmp(again->inputs[i].head_bytes,
                            tp->inputs[i].head_bytes,
                            tp->inputs[i].head_len) == 0,
                 "input %zu's producer head changed in a round trip", i);
  dq_task_plan_free(again);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dq_task_plan *tp = NULL;
  dq_error err;
  if (dq_task_plan_decode(data, size, &tp, &err) == 0) {
    fuzz_require(tp != NULL, "decode returned 0 without a task plan");
    check_task_plan(tp);
    dq_task_plan_free(tp);
  } else {
    fuzz_require(err.message[0] != '\0', "an error without a sentence");
  }
  return 0;
}
