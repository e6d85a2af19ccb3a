# libdq/plan/ — plans: nodes, stages and network boundaries, the builder
# API (include/dq/plan.h), explain text, and the plan codec (plan.proto).
# Uses base, arrow, ipc, expr and scan.
dqinclude_HEADERS += include/dq/plan.h

libdq_libdqcore_la_SOURCES += \
	libdq/plan/plan.c libdq/plan/plan_internal.h \
	libdq/plan/plan_codec.c \
	libdq/plan/plan_scan.c

check_PROGRAMS += tests/test_plan
TESTS += tests/test_plan
tests_test_plan_SOURCES = tests/test_plan.c tests/join_plan.c tests/join_plan.h
tests_test_plan_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_plan_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
