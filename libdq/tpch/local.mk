# libdq/tpch/ — the built-in TPC-H data generator (a pure function of
# table, scale, seed and unit) and the tables kept in memory by
# dq_tpch_materialize.  Uses base and arrow.
libdq_libdqcore_la_SOURCES += libdq/tpch/tpch.c libdq/tpch/tpch.h \
	libdq/tpch/tpch_gen.h libdq/tpch/tpch_tables.c \
	libdq/tpch/tpch_internal.h libdq/tpch/tpch_text.c \
	libdq/tpch/tpch_kept.c libdq/tpch/tpch_kept.h

check_PROGRAMS += tests/test_tpch
TESTS += tests/test_tpch
tests_test_tpch_SOURCES = tests/test_tpch.c
tests_test_tpch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_tpch_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

# Tables kept in memory: scans read the same rows as generation gives.
check_PROGRAMS += tests/test_tpch_kept
TESTS += tests/test_tpch_kept
tests_test_tpch_kept_SOURCES = tests/test_tpch_kept.c
tests_test_tpch_kept_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_tpch_kept_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_tpch_kept_LDADD = $(CORE_TEST_LIBS)
