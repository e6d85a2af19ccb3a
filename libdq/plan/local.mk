# libdq/plan/ — plans: nodes (node*.c; a scan is plan_scan.c, over the
# sources of scan/), stages and network boundaries (stage.c), the builder
# API of include/dq/plan.h (builder.c), explain text (explain.c), and the
# plan codec (plan_codec.c, plan.proto).
# Uses base, arrow, ipc, expr and scan.
dqinclude_HEADERS += include/dq/plan.h

libdq_libdqcore_la_SOURCES += \
	libdq/plan/plan_internal.h \
	libdq/plan/node.c libdq/plan/node_build.h \
	libdq/plan/node_aggregate.c \
	libdq/plan/node_join.c \
	libdq/plan/plan_scan.c \
	libdq/plan/stage.c \
	libdq/plan/builder.c \
	libdq/plan/explain.c \
	libdq/plan/plan_codec.c

check_PROGRAMS += tests/test_plan
TESTS += tests/test_plan
tests_test_plan_SOURCES = tests/test_plan.c tests/join_plan.c tests/join_plan.h
tests_test_plan_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_plan_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
