# plugins/grpc/ — the network transport module (gRPC C core + protobuf-c),
# built only when configure found gRPC.  It is the only thing that links
# gRPC (tests/linkage.test checks the rest).  It compiles its own copy of
# the worker.proto messages: libdq does not export them.
if HAVE_GRPC
pkglib_LTLIBRARIES += plugins/grpc/grpc.la
plugins_grpc_grpc_la_SOURCES = plugins/grpc/grpc_transport.c \
	plugins/grpc/grpc_client.c plugins/grpc/grpc_server.c \
	plugins/grpc/grpc_frames.c plugins/grpc/grpc_listen.c \
	plugins/grpc/grpc_internal.h
nodist_plugins_grpc_grpc_la_SOURCES = proto/worker.pb-c.c proto/worker.pb-c.h
plugins_grpc_grpc_la_CFLAGS = $(AM_CFLAGS) $(GRPC_CFLAGS) $(PROTOBUF_C_CFLAGS)
plugins_grpc_grpc_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-no-undefined -shared
plugins_grpc_grpc_la_LIBADD = libdq/libdq.la $(GRPC_LIBS) $(PROTOBUF_C_LIBS) \
	$(PTHREAD_LIBS)

# The whole runtime suite over grpc, and the transport's own tests.
TESTS += plugins/grpc/runtime-grpc.test plugins/grpc/test_grpc
check_PROGRAMS += plugins/grpc/test_grpc
plugins_grpc_test_grpc_SOURCES = plugins/grpc/test_grpc.c
plugins_grpc_test_grpc_CPPFLAGS = $(TEST_CPPFLAGS)
plugins_grpc_test_grpc_CFLAGS = $(TEST_CFLAGS)
plugins_grpc_test_grpc_LDADD = $(SHARED_TEST_LIBS)
endif
EXTRA_DIST += plugins/grpc/runtime-grpc.test plugins/grpc/README.md
