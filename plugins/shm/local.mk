# plugins/shm/ — the shared-memory transport module (Linux: memfd, eventfd,
# SCM_RIGHTS, SO_PEERCRED).  Its messages are encoded by libdq
# (<dq/wire.h>).
pkglib_LTLIBRARIES += plugins/shm/shm.la
plugins_shm_shm_la_SOURCES = plugins/shm/shm.c plugins/shm/shm.h \
	plugins/shm/shm_internal.h \
	plugins/shm/shm_ring.c plugins/shm/shm_server.c plugins/shm/shm_wire.c
plugins_shm_shm_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-no-undefined -shared
plugins_shm_shm_la_LIBADD = libdq/libdq.la $(PTHREAD_LIBS)

TESTS += plugins/shm/runtime-shm.test plugins/shm/socket-files.test
EXTRA_DIST += plugins/shm/runtime-shm.test plugins/shm/socket-files.test

# The ring on its own (compiled in: the plugin exports nothing but its
# entry point).
check_PROGRAMS += plugins/shm/test_shm_ring
TESTS += plugins/shm/test_shm_ring
plugins_shm_test_shm_ring_SOURCES = plugins/shm/test_shm_ring.c \
	plugins/shm/shm_ring.c plugins/shm/shm_internal.h
plugins_shm_test_shm_ring_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
plugins_shm_test_shm_ring_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS) \
	$(PTHREAD_LIBS)

# A connection from a uid the worker does not allow (needs root to switch
# uid; skipped otherwise).
check_PROGRAMS += plugins/shm/test_shm_uid
TESTS += plugins/shm/test_shm_uid
plugins_shm_test_shm_uid_SOURCES = plugins/shm/test_shm_uid.c
plugins_shm_test_shm_uid_CPPFLAGS = $(TEST_CPPFLAGS)
plugins_shm_test_shm_uid_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
plugins_shm_test_shm_uid_LDADD = $(SHARED_TEST_LIBS)

# A stream that fails on the worker's side reaches its reader with the real
# error (a fake worker service served by shm.so in-process).
check_PROGRAMS += plugins/shm/test_shm_stream
TESTS += plugins/shm/test_shm_stream
plugins_shm_test_shm_stream_SOURCES = plugins/shm/test_shm_stream.c
plugins_shm_test_shm_stream_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
plugins_shm_test_shm_stream_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
