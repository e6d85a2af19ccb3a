# libdq/planner/ — the distributed planner (dq_plan_distribute): turns a
# single-node plan into stages around network boundaries.  Uses base,
# arrow, expr, scan, plan and exchange.
libdq_libdqcore_la_SOURCES += libdq/planner/planner.c

# Stage shapes chosen, and distributed answers on in-process workers (inmem
# from the build tree; DQ_PLUGIN_PATH comes from AM_TESTS_ENVIRONMENT)
# equal to the single-node ones.
check_PROGRAMS += tests/test_planner
TESTS += tests/test_planner
tests_test_planner_SOURCES = tests/test_planner.c
tests_test_planner_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_planner_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_planner_LDADD = $(SHARED_TEST_LIBS)
