# libdq/ipc/ — the Arrow IPC codec (include/dq/ipc.h): a hand-written
# flatbuffer layer, the encoder, the decoder and the stream reader/writer,
# with its unit tests and the interop test against apache-arrow (JS).
# Uses base and arrow.
libdq_libdqcore_la_SOURCES += libdq/ipc/flatbuf.c libdq/ipc/flatbuf.h \
	libdq/ipc/ipc_format.h libdq/ipc/ipc_write.c libdq/ipc/ipc_read.c \
	libdq/ipc/ipc_stream.c
dqinclude_HEADERS += include/dq/ipc.h

check_PROGRAMS += tests/test_ipc tests/ipc_interop_tool
TESTS += tests/test_ipc tests/ipc_interop.test
tests_test_ipc_SOURCES = tests/test_ipc.c tests/ipc_testdata.h
tests_test_ipc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_ipc_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
tests_ipc_interop_tool_SOURCES = tests/ipc_interop_tool.c tests/ipc_testdata.h
tests_ipc_interop_tool_LDADD = libdq/libdqcore.la
EXTRA_DIST += tests/ipc_interop.test tests/interop/package.json \
	tests/interop/package-lock.json tests/interop/interop.mjs
# ipc_interop.test installs apache-arrow under tests/interop-node/ in the
# build tree.  CLEANFILES takes the directory through `rm -f -r` so this
# fragment needs no clean-local rule of its own (there can be only one).
CLEANFILES += -r tests/interop-node
