# libdq/wire.mk — <dq/wire.h>: the worker protocol's canonical encoding
# (worker.proto through the protobuf-c copy libdq already compiles) and the
# partition-stream frame codec, with its unit tests.  The .proto files are
# installed too, so a transport in another language speaks the same bytes.
libdq_libdqcore_la_SOURCES += libdq/wire.c libdq/version.c
dqinclude_HEADERS += include/dq/wire.h
dist_pkgdata_DATA = proto/worker.proto proto/plan.proto proto/task.proto

check_PROGRAMS += tests/test_wire
TESTS += tests/test_wire
tests_test_wire_SOURCES = tests/test_wire.c
tests_test_wire_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_wire_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)

# dq_version() and the version macros; the exported symbol set and its
# version nodes (libdq/libdq.map).
check_PROGRAMS += tests/test_version
TESTS += tests/test_version tests/symbols.test
EXTRA_DIST += tests/symbols.test
tests_test_version_SOURCES = tests/test_version.c
tests_test_version_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_version_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
