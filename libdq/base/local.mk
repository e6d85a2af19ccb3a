# libdq/base/ — the bottom layer: error values and their sentences, string
# lists, a hash map, the monotonic clock, logging, the version.  Uses nothing of libdq;
# everything may use it.
libdq_libdqcore_la_SOURCES += \
	libdq/base/clock.h libdq/base/internal_export.h \
	libdq/base/error.c \
	libdq/base/hmap.c libdq/base/hmap.h \
	libdq/base/log.c \
	libdq/base/strlist.c libdq/base/strlist.h \
	libdq/base/version.c

# dq_version() and the version macros; the exported symbol set and its
# version nodes (libdq/libdq.map).
check_PROGRAMS += tests/test_version
TESTS += tests/test_version tests/symbols.test
EXTRA_DIST += tests/symbols.test
tests_test_version_SOURCES = tests/test_version.c
tests_test_version_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_version_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
