/* test_endpoint.c — libdq/endpoint.c: a worker recognises another name of
 * its own socket (grpc://localhost:P for grpc://127.0.0.1:P, any local
 * address when it listens on 0.0.0.0), so it reads its own tasks without
 * dialling itself, and never mistakes another socket for its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host/endpoint.h"

static void test_same(void **state) {
  (void)state;
  assert_true(dq_endpoint_same("grpc://127.0.0.1:7000",
                               "grpc://localhost:7000"));
  assert_true(dq_endpoint_same("grpc://localhost:7000",
                               "grpc://127.0.0.1:7000"));
  assert_true(dq_endpoint_same("grpc://127.0.0.1:7000",
                               "grpc://127.0.0.1:07000"));
  /* Listening on every interface: any address of this host is us. */
  assert_true(dq_endpoint_same("grpc://0.0.0.0:7000",
                               "grpc://127.0.0.1:7000"));
  assert_true(dq_endpoint_same("grpc://0.0.0.0:7000",
                               "grpc://localhost:7000"));
}

static void test_different(void **state) {
  (void)state;
  /* Another port, another scheme, another host. */
  assert_false(dq_endpoint_same("grpc://127.0.0.1:7000",
                                "grpc://127.0.0.1:7001"));
  assert_false(dq_endpoint_same("grpc://127.0.0.1:7000",
                                "tcp://127.0.0.1:7000"));
  assert_false(dq_endpoint_same("grpc://127.0.0.1:7000",
                                "grpc://127.0.0.2:7000"));
  /* 192.0.2.0/24 is TEST-NET-1: never an address of this host. */
  assert_false(dq_endpoint_same("grpc://0.0.0.0:7000",
                                "grpc://192.0.2.1:7000"));
  /* No port (shm names), malformed, unresolvable: not the same. */
  assert_false(dq_endpoint_same("shm://w1", "shm://w1"));
  assert_false(dq_endpoint_same("grpc://127.0.0.1:7000", "grpc://"));
  assert_false(dq_endpoint_same("grpc://127.0.0.1:7000",
                                "grpc://no-such-host.invalid:7000"));
  /* Port 0 is "pick one", never a socket. */
  assert_false(dq_endpoint_same("grpc://127.0.0.1:0", "grpc://localhost:0"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same),
      cmocka_unit_test(test_different),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
