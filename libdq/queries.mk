# libdq/queries.mk — the unit test of the built-in TPC-H queries
# (libdq/tpch_queries.c, which exec.mk compiles into libdqcore.la): each
# query single-node against a reference computed in the test, and
# distributed on in-process workers (inmem from the build tree;
# DQ_PLUGIN_PATH comes from AM_TESTS_ENVIRONMENT) against single-node.
# Included from libdq/local.mk.
check_PROGRAMS += tests/test_tpch_queries
TESTS += tests/test_tpch_queries
tests_test_tpch_queries_SOURCES = tests/test_tpch_queries.c \
	tests/result_text.c tests/result_text.h
tests_test_tpch_queries_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_tpch_queries_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
