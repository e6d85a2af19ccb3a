# tests/harness/ — the test harness (harness.h): clusters of workers in
# this process or as `dq worker` processes, results as text, the standard
# boundary plans, /proc usage.  A convenience library linked into each test
# that runs queries; it takes the libdq its test links.  Included from
# tests/local.mk.
check_LTLIBRARIES += tests/harness/libdqtest.la
tests_harness_libdqtest_la_SOURCES = tests/harness/harness.h \
	tests/harness/fail.c tests/harness/cmocka_fail.c \
	tests/harness/cluster.c tests/harness/cluster.h \
	tests/harness/plans.c tests/harness/plans.h \
	tests/harness/result_text.c tests/harness/result_text.h \
	tests/harness/run.c tests/harness/run.h \
	tests/harness/usage.c tests/harness/usage.h \
	tools/worker_procs.c tools/worker_procs.h
tests_harness_libdqtest_la_CPPFLAGS = $(AM_CPPFLAGS) $(HARNESS_CPPFLAGS)
tests_harness_libdqtest_la_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

HARNESS_CPPFLAGS = -I$(top_srcdir)/tests/harness -I$(top_srcdir)/tools
HARNESS = tests/harness/libdqtest.la

# One libdq per process: a test that loads a plugin links the shared
# libdq.la, as the plugins and tools/dq do, so the test and the plugin see
# the same globals (buffer cache, kept tables, plugin registry).  What such
# a test needs beyond the public API is marked DQ_INTERNAL
# (libdq/base/internal_export.h).  A unit test that loads no plugin may
# link the static libdqcore.la instead (its only copy).
SHARED_TEST_LIBS = $(HARNESS) libdq/libdq.la $(CMOCKA_LIBS) $(PTHREAD_LIBS)
CORE_TEST_LIBS = $(HARNESS) libdq/libdqcore.la $(CMOCKA_LIBS)
