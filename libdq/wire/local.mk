# libdq/wire/ — <dq/wire.h>: the worker protocol's canonical encoding
# (worker.proto through the protobuf-c copy libdq compiles) for every
# message of the transport ABI, and the partition-stream frame codec, so
# each transport that serializes uses the same bytes.  Uses base, arrow
# and ipc.  The .proto files are installed too, so a transport in another
# language speaks the same bytes.
libdq_libdqcore_la_SOURCES += libdq/wire/wire.c
dqinclude_HEADERS += include/dq/wire.h
dist_pkgdata_DATA = proto/worker.proto proto/plan.proto proto/task.proto \
	proto/source.proto

check_PROGRAMS += tests/test_wire
TESTS += tests/test_wire
tests_test_wire_SOURCES = tests/test_wire.c
tests_test_wire_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_wire_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
