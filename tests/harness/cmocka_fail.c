/* cmocka_fail.c — the harness's failures as cmocka failures: the running
 * test case fails with the harness's sentence and the suite goes on.  Its
 * own file so that tests without cmocka (soak, fault_kill) never pull in
 * cmocka's symbols from the harness library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

static void fail_case(const char *message) { fail_msg("%s", message); }

void dqt_use_cmocka(void) { dqt_set_fail_hook(fail_case); }
