/* harness.h — the test harness in one include: what every test that runs
 * queries shares (tests/harness/): a cluster of workers in this process or
 * as `dq worker` processes (cluster.h), running a plan and collecting its
 * rows as text (run.h, result_text.h), the standard boundary plans
 * (plans.h), and this process's or a worker's threads, fds and memory
 * (usage.h).  This file owns how the harness reports a failure and the
 * environment every harness-based test reads.
 *
 * The harness links against whichever libdq its test links: the shared
 * libdq.so for a test that loads a plugin (one libdq per process), the
 * static libdqcore for a pure unit test. */
#ifndef DQ_TESTS_HARNESS_H
#define DQ_TESTS_HARNESS_H

#include <stdint.h>

#include <dq/dq.h>

#include "cluster.h"
#include "plans.h"
#include "result_text.h"
#include "run.h"
#include "usage.h"

/* A step the test cannot go on without has failed.  The harness calls the
 * failure hook with the sentence; by default it prints "FAIL: sentence",
 * kills every worker process a cluster still holds (a stopped child would
 * never act on the SIGTERM it gets when we exit), removes the clusters'
 * config files and exits 1.  A cmocka test installs dqt_use_cmocka()
 * instead, which fails the running test case and goes on with the next. */
void dqt_fail(const char *fmt, ...) DQ_PRINTF(1, 2);
void dqt_set_fail_hook(void (*hook)(const char *message));
/* Fails through cmocka's fail_msg (tests/harness/cmocka_fail.c). */
void dqt_use_cmocka(void);
/* The default failure path without the message: workers killed, files
 * removed.  For a test's own fatal path (a watchdog). */
void dqt_abandon(void);

/* $DQ_TEST_TRANSPORT, default "inmem". */
const char *dqt_transport(void);
/* Whether $DQ_TEST_WORKERS is "process": workers as `dq worker`
 * processes instead of objects of this process. */
int dqt_process_mode(void);
/* For a test that kills or stops worker processes: $DQ_TEST_TRANSPORT
 * defaults to grpc; with inmem (threads, no process to kill) it prints a
 * SKIP line and returns 77, the exit status that skips; else 0. */
int dqt_process_transport(void);
/* $name as a number, or dflt when unset or empty. */
long dqt_env_long(const char *name, long dflt);
/* Monotonic seconds. */
double dqt_now_s(void);

#endif /* DQ_TESTS_HARNESS_H */
