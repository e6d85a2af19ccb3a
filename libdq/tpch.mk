# libdq/tpch.mk — the built-in TPC-H data generator (libdq/tpch*.{c,h}) and
# its unit test.  Included from libdq/local.mk.
libdq_libdqcore_la_SOURCES += libdq/tpch.c libdq/tpch.h \
	libdq/tpch_internal.h libdq/tpch_text.c \
	libdq/tpch_kept.c libdq/tpch_kept.h
check_PROGRAMS += tests/test_tpch
TESTS += tests/test_tpch
tests_test_tpch_SOURCES = tests/test_tpch.c
tests_test_tpch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_tpch_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

# Tables kept in memory: scans read the same rows as generation gives.
check_PROGRAMS += tests/test_tpch_kept
TESTS += tests/test_tpch_kept
tests_test_tpch_kept_SOURCES = tests/test_tpch_kept.c \
	tests/result_text.c tests/result_text.h
tests_test_tpch_kept_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_tpch_kept_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
