/* test_abi.c — pins the sizes and offsets of every struct that crosses the
 * transport ABI (x86_64 / LP64 values).  A change here is an ABI change:
 * appending to the ops table is a minor bump, anything else a major one
 * (see <dq/transport.h>).  Update the numbers only together with the
 * version macros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dq/arrow.h>
#include <dq/dq.h>
#include <dq/transport.h>

#define PIN_SIZE(T, n) assert_int_equal(sizeof(T), n)
#define PIN_OFF(T, m, n) assert_int_equal(offsetof(T, m), n)

static void test_versions(void **state) {
  (void)state;
  assert_int_equal(DQ_TRANSPORT_ABI_MAJOR, 1);
  assert_int_equal(DQ_TRANSPORT_ABI_MINOR, 0);
  assert_int_equal(DQ_PROTOCOL_VERSION, 1);
}

static void test_descriptor(void **state) {
  (void)state;
  if (sizeof(void *) != 8)
    skip();
  PIN_OFF(dq_transport_plugin, abi_major, 0);
  PIN_OFF(dq_transport_plugin, abi_minor, 4);
  PIN_OFF(dq_transport_plugin, struct_size, 8);
  PIN_OFF(dq_transport_plugin, name, 16);
  PIN_OFF(dq_transport_plugin, version, 24);
  PIN_OFF(dq_transport_plugin, description, 32);
  PIN_OFF(dq_transport_plugin, ops, 40);
  PIN_SIZE(dq_transport_plugin, 48);
  assert_int_equal(DQ_TRANSPORT_PLUGIN_V1_0_SIZE, 48);
}

static void test_ops(void **state) {
  (void)state;
  if (sizeof(void *) != 8)
    skip();
  static const struct {
    size_t off, want;
  } ops[] = {
      {offsetof(dq_transport_ops, size), 0},
      {offsetof(dq_transport_ops, init), 8},
      {offsetof(dq_transport_ops, fini), 16},
      {offsetof(dq_transport_ops, channel_open), 24},
      {offsetof(dq_transport_ops, channel_close), 32},
      {offsetof(dq_transport_ops, get_worker_info), 40},
      {offsetof(dq_transport_ops, coord_open), 48},
      {offsetof(dq_transport_ops, coord_send_work_unit), 56},
      {offsetof(dq_transport_ops, coord_finish), 64},
      {offsetof(dq_transport_ops, coord_close), 72},
      {offsetof(dq_transport_ops, execute_task), 80},
      {offsetof(dq_transport_ops, stream_next), 88},
      {offsetof(dq_transport_ops, stream_cancel), 96},
      {offsetof(dq_transport_ops, stream_close), 104},
      {offsetof(dq_transport_ops, serve), 112},
      {offsetof(dq_transport_ops, server_url), 120},
      {offsetof(dq_transport_ops, stop), 128},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    assert_int_equal(ops[i].off, ops[i].want);
  PIN_SIZE(dq_transport_ops, 136);
  assert_int_equal(DQ_TRANSPORT_OPS_V1_0_SIZE, 136);
}

static void test_worker_service(void **state) {
  (void)state;
  if (sizeof(void *) != 8)
    skip();
  PIN_OFF(dq_worker_service, size, 0);
  PIN_OFF(dq_worker_service, self, 8);
  PIN_OFF(dq_worker_service, get_worker_info, 16);
  PIN_OFF(dq_worker_service, coord_open, 24);
  PIN_OFF(dq_worker_service, coord_send_work_unit, 32);
  PIN_OFF(dq_worker_service, coord_finish, 40);
  PIN_OFF(dq_worker_service, coord_close, 48);
  PIN_OFF(dq_worker_service, execute_task, 56);
  PIN_OFF(dq_worker_service, stream_next, 64);
  PIN_OFF(dq_worker_service, stream_cancel, 72);
  PIN_OFF(dq_worker_service, stream_close, 80);
  PIN_SIZE(dq_worker_service, 88);
}

static void test_messages(void **state) {
  (void)state;
  if (sizeof(void *) != 8)
    skip();
  PIN_SIZE(dq_task_key, 24);
  PIN_OFF(dq_task_key, stage_id, 16);
  PIN_OFF(dq_task_key, task_number, 20);

  PIN_SIZE(dq_kv, 16);

  PIN_OFF(dq_error, code, 0);
  PIN_OFF(dq_error, has_task, 4);
  PIN_OFF(dq_error, task, 8);
  PIN_OFF(dq_error, worker_url, 32);
  PIN_OFF(dq_error, message, 288);
  PIN_SIZE(dq_error, 800);

  PIN_OFF(dq_set_plan, task_count, 24);
  PIN_OFF(dq_set_plan, plan, 32);
  PIN_OFF(dq_set_plan, plan_len, 40);
  PIN_OFF(dq_set_plan, target_worker_url, 48);
  PIN_OFF(dq_set_plan, config, 56);
  PIN_OFF(dq_set_plan, n_config, 64);
  PIN_SIZE(dq_set_plan, 72);

  PIN_OFF(dq_execute_task, partition_start, 24);
  PIN_OFF(dq_execute_task, partition_end, 28);
  PIN_OFF(dq_execute_task, producer_head, 32);
  PIN_OFF(dq_execute_task, producer_head_len, 40);
  PIN_SIZE(dq_execute_task, 48);

  PIN_SIZE(struct ArrowSchema, 72);
  PIN_SIZE(struct ArrowArray, 80);
  PIN_OFF(dq_frame, kind, 0);
  PIN_OFF(dq_frame, partition, 4);
  PIN_OFF(dq_frame, schema, 8);
  PIN_OFF(dq_frame, array, 80);
  PIN_SIZE(dq_frame, 160);

  PIN_SIZE(dq_boundary_metrics, 48);
  PIN_OFF(dq_task_metrics, plan_bytes, 24);
  PIN_OFF(dq_task_metrics, n_boundaries, 72);
  PIN_OFF(dq_task_metrics, boundaries, 80);
  PIN_SIZE(dq_task_metrics, 88);

  PIN_OFF(dq_worker_info, protocol_version, 64);
  PIN_OFF(dq_worker_info, url, 68);
  PIN_SIZE(dq_worker_info, 324);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_versions),
      cmocka_unit_test(test_descriptor),
      cmocka_unit_test(test_ops),
      cmocka_unit_test(test_worker_service),
      cmocka_unit_test(test_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
