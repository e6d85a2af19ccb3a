# plugins/grpc/ — the network transport module (gRPC C core),
# built only when configure found gRPC.  It is the only thing that links
# gRPC (tests/linkage.test checks the rest).  worker.proto messages and
# partition frames are encoded by libdq (<dq/wire.h>).
if HAVE_GRPC
pkglib_LTLIBRARIES += plugins/grpc/grpc.la
plugins_grpc_grpc_la_SOURCES = plugins/grpc/grpc_transport.c \
	plugins/grpc/grpc_client.c plugins/grpc/grpc_server.c \
	plugins/grpc/grpc_frames.c plugins/grpc/grpc_listen.c \
	plugins/grpc/grpc_internal.h
plugins_grpc_grpc_la_CFLAGS = $(AM_CFLAGS) $(GRPC_CFLAGS)
plugins_grpc_grpc_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-no-undefined -shared
plugins_grpc_grpc_la_LIBADD = libdq/libdq.la $(GRPC_LIBS) $(PTHREAD_LIBS)

# The whole runtime suite over grpc, and the transport's own tests.
TESTS += plugins/grpc/runtime-grpc.test plugins/grpc/test_grpc
check_PROGRAMS += plugins/grpc/test_grpc
plugins_grpc_test_grpc_SOURCES = plugins/grpc/test_grpc.c
plugins_grpc_test_grpc_CPPFLAGS = $(TEST_CPPFLAGS)
plugins_grpc_test_grpc_CFLAGS = $(TEST_CFLAGS)
plugins_grpc_test_grpc_LDADD = $(SHARED_TEST_LIBS)
endif
EXTRA_DIST += plugins/grpc/runtime-grpc.test plugins/grpc/README.md
