/* test_version.c — dq_version() and <dq/dq.h>'s version macros agree with
 * each other and with configure.ac's version (PACKAGE_VERSION). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <dq/dq.h>

static void test_version(void **state) {
  (void)state;
  assert_string_equal(dq_version(), PACKAGE_VERSION);
  assert_string_equal(dq_version(), DQ_VERSION_STRING);
  char parts[64];
  snprintf(parts, sizeof parts, "%d.%d.%d", DQ_VERSION_MAJOR,
           DQ_VERSION_MINOR, DQ_VERSION_PATCH);
  assert_string_equal(parts, DQ_VERSION_STRING);
  assert_int_equal(dq_version_number(), DQ_VERSION_NUMBER);
  assert_int_equal(dq_version_number(), DQ_VERSION_MAJOR * 10000 +
                                            DQ_VERSION_MINOR * 100 +
                                            DQ_VERSION_PATCH);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_version)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
