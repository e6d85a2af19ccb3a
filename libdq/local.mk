# libdq/ — the core library.  Every source goes into the convenience library
# libdqcore.la; libdq.la wraps it and exports only the DQ_EXPORT symbols
# (-fvisibility=hidden), while unit tests link libdqcore.la directly so they
# can reach internal functions too.
noinst_LTLIBRARIES = libdq/libdqcore.la
libdq_libdqcore_la_SOURCES = \
	libdq/batch_internal.h \
	libdq/clock.h \
	libdq/config.c \
	libdq/context.c libdq/context.h \
	libdq/dl.c libdq/dl.h \
	libdq/error.c \
	libdq/plugin.c libdq/plugin.h \
	libdq/boundary_reader.c libdq/boundary_reader.h \
	libdq/routing.c libdq/routing.h \
	libdq/task_plan.c libdq/task_plan.h \
	libdq/query.c \
	libdq/worker.c libdq/worker_internal.h \
	libdq/strlist.c libdq/strlist.h
nodist_libdq_libdqcore_la_SOURCES = proto/worker.pb-c.c proto/worker.pb-c.h \
	proto/task.pb-c.c proto/task.pb-c.h
libdq_libdqcore_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-DDQ_PLUGIN_DIR=\"$(pkglibdir)\" $(INIH_CFLAGS) $(PROTOBUF_C_CFLAGS)
libdq_libdqcore_la_LIBADD = $(INIH_LIBS) $(PROTOBUF_C_LIBS) $(LTDL_LIBS) \
	$(PTHREAD_LIBS) -lm

lib_LTLIBRARIES += libdq/libdq.la
libdq_libdq_la_SOURCES =
libdq_libdq_la_LIBADD = libdq/libdqcore.la
libdq_libdq_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(LIBDQ_LT_VERSION) \
	-no-undefined
# Symbol versions (libdq/libdq.map, docs/abi.md) where the linker has them.
if HAVE_VERSION_SCRIPT
libdq_libdq_la_LDFLAGS += -Wl,--version-script=$(srcdir)/libdq/libdq.map
EXTRA_libdq_libdq_la_DEPENDENCIES = libdq/libdq.map
endif
EXTRA_DIST += libdq/libdq.map

pkgconfig_DATA += libdq/libdq.pc
EXTRA_DIST += libdq/libdq.pc.in

# Areas with their own fragment: each adds its sources to libdqcore.la and
# its unit tests to TESTS.
include libdq/batch.mk
include libdq/tpch.mk
include libdq/ipc.mk
include libdq/exec.mk
include libdq/csv.mk
include libdq/queries.mk
include libdq/planner.mk
include libdq/wire.mk
