# tests/ — cmocka unit tests, the plugin fixtures, header checks; the
# harness the query tests share is tests/harness/ (included below).
#
# Tests load plugins from the build tree only: DQ_PLUGIN_PATH points at it
# and DQ_CONFIG/DQ_TRANSPORT are cleared, so an installed copy is never used.
AM_TESTS_ENVIRONMENT = \
	DQ_PLUGIN_PATH='$(abs_top_builddir)/plugins/inmem:$(abs_top_builddir)/plugins/shm:$(abs_top_builddir)/plugins/grpc'; export DQ_PLUGIN_PATH; \
	DQ_FIXTURE_DIR='$(abs_top_builddir)/tests/fixtures'; export DQ_FIXTURE_DIR; \
	abs_top_builddir='$(abs_top_builddir)'; export abs_top_builddir; \
	abs_top_srcdir='$(abs_top_srcdir)'; export abs_top_srcdir; \
	CC='$(CC)'; export CC; \
	unset DQ_CONFIG DQ_TRANSPORT;

# One fixture module per loader rejection, from one source (fixture.c).
# The stanzas are written out on purpose: automake builds only targets whose
# per-target variables it sees spelled out (no loops, no patterns for
# per-target flags, no default LIBADD for libraries), and a GNU make pattern
# rule calling libtool by hand would lose automake's dependency tracking,
# clean and dist rules and need -Wno-portability.
FIXTURE_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -no-undefined \
	-shared -rpath /nowhere
EXTRA_DIST += tests/fixtures/fixture.c

check_LTLIBRARIES += tests/fixtures/fx_good.la tests/fixtures/fx_nosym.la tests/fixtures/fx_major.la tests/fixtures/fx_minor.la tests/fixtures/fx_short.la tests/fixtures/fx_shortops.la tests/fixtures/fx_noop.la tests/fixtures/fx_name.la tests/fixtures/fx_initfail.la tests/fixtures/fx_undef.la
tests_fixtures_fx_good_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_good_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_good
tests_fixtures_fx_good_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_good_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_nosym_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_nosym_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_nosym -DFX_NOSYM
tests_fixtures_fx_nosym_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_nosym_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_major_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_major_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_major -DFX_MAJOR
tests_fixtures_fx_major_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_major_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_minor_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_minor_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_minor -DFX_MINOR
tests_fixtures_fx_minor_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_minor_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_short_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_short_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_short -DFX_SHORT
tests_fixtures_fx_short_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_short_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_shortops_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_shortops_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_shortops -DFX_SHORTOPS
tests_fixtures_fx_shortops_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_shortops_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_noop_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_noop_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_noop -DFX_NOOP
tests_fixtures_fx_noop_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_noop_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_name_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_name_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_name -DFX_WRONGNAME
tests_fixtures_fx_name_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_name_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_initfail_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_initfail_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_initfail -DFX_INITFAIL
tests_fixtures_fx_initfail_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_fixtures_fx_initfail_la_LIBADD = libdq/libdq.la
tests_fixtures_fx_undef_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_undef_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=fx_undef -DFX_UNDEF
tests_fixtures_fx_undef_la_LDFLAGS = $(FIXTURE_LDFLAGS) -Wl,--allow-shlib-undefined
tests_fixtures_fx_undef_la_LIBADD = libdq/libdq.la

include tests/harness/local.mk

TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TEST_CPPFLAGS = $(AM_CPPFLAGS) $(HARNESS_CPPFLAGS)
# Pure unit tests of libdq internals: no plugin, the static core.
TEST_LIBS = libdq/libdqcore.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/test_config tests/test_loader tests/test_abi \
	tests/test_routing tests/test_runtime tests/test_one_libdq \
	tests/test_tpch_kept_queries
TESTS += tests/test_config tests/test_loader tests/test_abi tests/test_routing \
	tests/test_runtime tests/test_one_libdq tests/test_tpch_kept_queries \
	tests/run.test tests/gen.test tests/headers.test tests/linkage.test tests/layering.test
# Public API only: the shared libdq (test_loader loads the fixtures, which
# link it too).
tests_test_config_SOURCES = tests/test_config.c
tests_test_config_CFLAGS = $(TEST_CFLAGS)
tests_test_config_LDADD = $(SHARED_TEST_LIBS)
tests_test_loader_SOURCES = tests/test_loader.c
tests_test_loader_CFLAGS = $(TEST_CFLAGS)
tests_test_loader_LDADD = $(SHARED_TEST_LIBS)
tests_test_abi_SOURCES = tests/test_abi.c
tests_test_abi_CFLAGS = $(TEST_CFLAGS)
tests_test_abi_LDADD = $(SHARED_TEST_LIBS)
tests_test_routing_SOURCES = tests/test_routing.c
tests_test_routing_CFLAGS = $(TEST_CFLAGS)
tests_test_routing_LDADD = $(TEST_LIBS)
# The runtime suite takes its transport from DQ_TEST_TRANSPORT (default
# inmem), so every transport runs it unchanged; with DQ_TEST_WORKERS=process
# its workers are `dq worker` processes (tests/procs.mk).
tests_test_runtime_SOURCES = tests/test_runtime.c
tests_test_runtime_CPPFLAGS = $(TEST_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_test_runtime_CFLAGS = $(TEST_CFLAGS)
tests_test_runtime_LDADD = $(SHARED_TEST_LIBS)
# Built-in queries over TPC-H tables kept in memory, on inmem workers.
tests_test_tpch_kept_queries_SOURCES = tests/test_tpch_kept_queries.c
tests_test_tpch_kept_queries_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_tpch_kept_queries_CFLAGS = $(TEST_CFLAGS)
tests_test_tpch_kept_queries_LDADD = $(SHARED_TEST_LIBS)
# The proof of one libdq: the test and a loaded plugin resolve the same one.
tests_test_one_libdq_SOURCES = tests/test_one_libdq.c
tests_test_one_libdq_CFLAGS = $(TEST_CFLAGS)
tests_test_one_libdq_LDADD = $(SHARED_TEST_LIBS)
EXTRA_DIST += tests/headers.test tests/linkage.test tests/run.test tests/gen.test \
	tests/layering.test

# Worker processes and their tests (tools/worker_procs.c, dq worker).
include tests/procs.mk
include tests/soak.mk

# Hostile and careless input: URLs, config files, output errors, plugin
# permissions, signals.  Each feeds exactly the input it names.
TESTS += tests/urls-config.test tests/output-errors.test tests/signals.test \
	tests/python-status.test tests/listen-auth.test tests/tls-workers.test
EXTRA_DIST += tests/urls-config.test tests/output-errors.test tests/signals.test \
	tests/python-status.test tests/python_status.py tests/listen-auth.test \
	tests/tls-workers.test
check_PROGRAMS += tests/test_hmap
TESTS += tests/test_hmap
tests_test_hmap_SOURCES = tests/test_hmap.c
tests_test_hmap_CFLAGS = $(TEST_CFLAGS)
tests_test_hmap_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/test_endpoint
TESTS += tests/test_endpoint
tests_test_endpoint_SOURCES = tests/test_endpoint.c
tests_test_endpoint_CFLAGS = $(TEST_CFLAGS)
tests_test_endpoint_LDADD = $(TEST_LIBS)
# Result batches kept past dq_context_free over every transport: plugins
# loaded for use stay resident (see <dq/transport.h>).
check_PROGRAMS += tests/test_resident
TESTS += tests/test_resident
tests_test_resident_SOURCES = tests/test_resident.c
tests_test_resident_CFLAGS = $(TEST_CFLAGS)
tests_test_resident_LDADD = $(SHARED_TEST_LIBS)
