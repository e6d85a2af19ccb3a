# tests/ — cmocka unit tests, the plugin fixtures, header checks.
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

TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TEST_LIBS = libdq/libdqcore.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/test_config tests/test_loader tests/test_abi \
	tests/test_routing tests/test_runtime
TESTS += tests/test_config tests/test_loader tests/test_abi tests/test_routing \
	tests/test_runtime tests/run.test tests/gen.test tests/headers.test \
	tests/linkage.test
tests_test_config_SOURCES = tests/test_config.c
tests_test_config_CFLAGS = $(TEST_CFLAGS)
tests_test_config_LDADD = $(TEST_LIBS)
tests_test_loader_SOURCES = tests/test_loader.c
tests_test_loader_CFLAGS = $(TEST_CFLAGS)
tests_test_loader_LDADD = $(TEST_LIBS)
tests_test_routing_SOURCES = tests/test_routing.c
tests_test_routing_CFLAGS = $(TEST_CFLAGS)
tests_test_routing_LDADD = $(TEST_LIBS)
# The runtime suite takes its transport from DQ_TEST_TRANSPORT (default
# inmem), so every transport runs it unchanged.
tests_test_runtime_SOURCES = tests/test_runtime.c tests/result_text.c \
	tests/result_text.h
tests_test_runtime_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_test_runtime_CFLAGS = $(TEST_CFLAGS)
tests_test_runtime_LDADD = $(TEST_LIBS)
tests_test_abi_SOURCES = tests/test_abi.c
tests_test_abi_CFLAGS = $(TEST_CFLAGS)
tests_test_abi_LDADD = $(TEST_LIBS)
EXTRA_DIST += tests/headers.test tests/linkage.test tests/run.test tests/gen.test

# Worker processes and their tests (tools/worker_procs.c, dq worker).
include tests/procs.mk
include tests/soak.mk

# Result batches kept past dq_context_free over every transport: plugins
# loaded for use stay resident (see <dq/transport.h>).
check_PROGRAMS += tests/test_resident
TESTS += tests/test_resident
tests_test_resident_SOURCES = tests/test_resident.c
tests_test_resident_CFLAGS = $(TEST_CFLAGS)
tests_test_resident_LDADD = $(TEST_LIBS)
