# libdq/exec/ — the vectorized executor: pipelines of operators (filter,
# project, hash aggregate, hash join, sort, top-N, limit, union, reads of
# network boundaries) run over record batches.  Uses base, arrow, ipc,
# expr, scan and plan.
libdq_libdqcore_la_SOURCES += \
	libdq/exec/exec.c libdq/exec/exec.h \
	libdq/exec/op_aggregate.c \
	libdq/exec/op_filter.c \
	libdq/exec/op_join.c libdq/exec/row_key_hash.h \
	libdq/exec/op_limit.c \
	libdq/exec/op_project.c \
	libdq/exec/op_read.c \
	libdq/exec/op_scan.c \
	libdq/exec/op_sort.c \
	libdq/exec/op_topn.c \
	libdq/exec/op_union.c

check_PROGRAMS += tests/test_ops
TESTS += tests/test_ops
tests_test_ops_SOURCES = tests/test_ops.c
tests_test_ops_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_ops_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

# Hash joins on the distributed runtime (inmem workers from the build tree;
# DQ_PLUGIN_PATH comes from AM_TESTS_ENVIRONMENT).
check_PROGRAMS += tests/test_join_dist
TESTS += tests/test_join_dist
tests_test_join_dist_SOURCES = tests/test_join_dist.c tests/join_plan.c \
	tests/join_plan.h
tests_test_join_dist_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_join_dist_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_join_dist_LDADD = $(SHARED_TEST_LIBS)
