# libdq/ — the core library.  Every source goes into the convenience library
# libdqcore.la; libdq.la wraps it and exports only the DQ_EXPORT symbols
# (-fvisibility=hidden) plus the few DQ_INTERNAL ones this tree's tests and
# dq-transport-check need (libdq/base/internal_export.h, never installed).
# A test that loads a plugin links libdq.la, as the plugins do, so that its
# process holds one libdq; pure unit tests link libdqcore.la directly.
noinst_LTLIBRARIES = libdq/libdqcore.la
libdq_libdqcore_la_SOURCES =
nodist_libdq_libdqcore_la_SOURCES = proto/worker.pb-c.c proto/worker.pb-c.h \
	proto/task.pb-c.c proto/task.pb-c.h proto/plan.pb-c.c proto/plan.pb-c.h \
	proto/source.pb-c.c proto/source.pb-c.h
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

# One folder per layer, bottom up; each fragment adds its sources to
# libdqcore.la and its unit tests to TESTS.  Which layer may include which
# is written once, in docs/architecture.md, and checked by
# tests/layering.test.
include libdq/base/local.mk
include libdq/arrow/local.mk
include libdq/ipc/local.mk
include libdq/wire/local.mk
include libdq/expr/local.mk
include libdq/tpch/local.mk
include libdq/scan/local.mk
include libdq/plan/local.mk
include libdq/exec/local.mk
include libdq/exchange/local.mk
include libdq/planner/local.mk
include libdq/host/local.mk
include libdq/runtime/local.mk
include libdq/queries/local.mk
