# libdq/exec.mk — plans, expressions, the executor, and TPC-H Q1/Q6.
# Included from libdq/local.mk.

# plan.proto is compiled at build time, like worker.proto (proto/local.mk).
EXTRA_DIST += proto/plan.proto

proto/plan.pb-c.h: proto/plan.pb-c.c
proto/plan.pb-c.c: proto/plan.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto \
		$(srcdir)/proto/plan.proto

nodist_libdq_libdqcore_la_SOURCES += proto/plan.pb-c.c proto/plan.pb-c.h
BUILT_SOURCES += proto/plan.pb-c.c proto/plan.pb-c.h
CLEANFILES += proto/plan.pb-c.c proto/plan.pb-c.h

dqinclude_HEADERS += include/dq/plan.h

libdq_libdqcore_la_SOURCES += \
	libdq/exec.c libdq/exec.h \
	libdq/expr.c libdq/expr.h \
	libdq/expr_array.c \
	libdq/expr_eval.c \
	libdq/expr_func.c \
	libdq/hash_partition.c \
	libdq/op_aggregate.c \
	libdq/op_filter.c \
	libdq/op_join.c libdq/row_key_hash.h \
	libdq/op_limit.c \
	libdq/op_project.c \
	libdq/op_read.c \
	libdq/op_scan_ipc.c \
	libdq/op_scan_tpch.c \
	libdq/op_sort.c \
	libdq/op_topn.c \
	libdq/op_union.c \
	libdq/plan.c libdq/plan_internal.h \
	libdq/plan_codec.c \
	libdq/tpch_queries.c libdq/tpch_queries.h

check_PROGRAMS += tests/test_plan
TESTS += tests/test_plan
tests_test_plan_SOURCES = tests/test_plan.c tests/join_plan.c tests/join_plan.h
tests_test_plan_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_plan_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/test_expr
TESTS += tests/test_expr
tests_test_expr_SOURCES = tests/test_expr.c
tests_test_expr_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_expr_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/test_ops
TESTS += tests/test_ops
tests_test_ops_SOURCES = tests/test_ops.c
tests_test_ops_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_ops_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

# Hash joins on the distributed runtime (inmem workers from the build tree;
# DQ_PLUGIN_PATH comes from AM_TESTS_ENVIRONMENT).
check_PROGRAMS += tests/test_join_dist
TESTS += tests/test_join_dist
tests_test_join_dist_SOURCES = tests/test_join_dist.c tests/result_text.c \
	tests/result_text.h tests/join_plan.c tests/join_plan.h
tests_test_join_dist_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_join_dist_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/test_scan_ipc
TESTS += tests/test_scan_ipc
tests_test_scan_ipc_SOURCES = tests/test_scan_ipc.c tests/result_text.c \
	tests/result_text.h
tests_test_scan_ipc_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_test_scan_ipc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_scan_ipc_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
