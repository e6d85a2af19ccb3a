# libdq/queries/ — the built-in TPC-H queries (dq run tpch:qN), written as
# single-node plans with the public plan API.  Uses base and plan.
libdq_libdqcore_la_SOURCES += libdq/queries/tpch_queries.c \
	libdq/queries/tpch_queries.h

check_PROGRAMS += tests/test_tpch_queries
TESTS += tests/test_tpch_queries
tests_test_tpch_queries_SOURCES = tests/test_tpch_queries.c
tests_test_tpch_queries_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_tpch_queries_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_tpch_queries_LDADD = $(SHARED_TEST_LIBS)
