# examples/ — the out-of-tree transport example (examples/transport-tcp) and
# the SDK checks around it.
#
# The example is built twice, on purpose:
#  - by `make check`, as a libtool module of this tree (never installed), so
#    tests/transport-check.test can run the conformance checker and the
#    integration suite over it without an install;
#  - by `make installcheck`, with its own plain Makefile against the
#    INSTALLED dq through pkg-config only — the way a transport author
#    builds it — and then the integration suite of this build tree runs
#    over that copy.  That is the proof that the installed package is a
#    complete SDK.

EXTRA_DIST += examples/transport-tcp/README.md \
	examples/transport-tcp/Makefile \
	examples/transport-tcp/tcp.c \
	tests/transport-check.test

check_LTLIBRARIES += examples/transport-tcp/tcp.la
examples_transport_tcp_tcp_la_SOURCES = examples/transport-tcp/tcp.c
examples_transport_tcp_tcp_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-no-undefined -shared -rpath /nowhere
examples_transport_tcp_tcp_la_LIBADD = libdq/libdq.la $(PTHREAD_LIBS)

TESTS += tests/transport-check.test

# Where installcheck builds the example against the installed prefix: not
# examples/transport-tcp/, whose tcp.la (above) libltdl would prefer.
SDK_CHECK_DIR = examples/sdk-check
CLEANFILES += -r $(SDK_CHECK_DIR)

# installcheck: the installed files an SDK user relies on, then the example
# built with pkg-config against them, then the integration suite and the
# installed conformance checker over it.  DESTDIR installs work too:
# PKG_CONFIG_SYSROOT_DIR moves pkg-config's -I/-L under DESTDIR and
# LD_LIBRARY_PATH lets tcp.so find the libdq there.
installcheck-local:
	@set -e; \
	for f in '$(DESTDIR)$(includedir)/dq/transport.h' \
	  '$(DESTDIR)$(includedir)/dq/wire.h' \
	  '$(DESTDIR)$(pkgdatadir)/worker.proto' \
	  '$(DESTDIR)$(includedir)/dq/ipc.h' \
	  '$(DESTDIR)$(libdir)/pkgconfig/libdq.pc' \
	  '$(DESTDIR)$(bindir)/dq$(EXEEXT)' \
	  '$(DESTDIR)$(bindir)/dq-transport-check$(EXEEXT)' \
	  '$(DESTDIR)$(mandir)/man7/dq-transport.7' \
	  '$(DESTDIR)$(pkglibdir)/inmem.so'; do \
	  test -f "$$f" || { echo "installcheck: $$f is not installed" >&2; exit 1; }; \
	done; \
	ls '$(DESTDIR)$(libdir)'/libdq.so.*.*.* >/dev/null || \
	  { echo "installcheck: no versioned libdq.so in $(DESTDIR)$(libdir)" >&2; exit 1; }
	rm -rf $(SDK_CHECK_DIR) && $(MKDIR_P) $(SDK_CHECK_DIR)
	$(MAKE) $(AM_MAKEFLAGS) tests/test_runtime$(EXEEXT)
	cd $(SDK_CHECK_DIR) && \
	PKG_CONFIG_PATH='$(DESTDIR)$(libdir)/pkgconfig'; export PKG_CONFIG_PATH; \
	if test -n '$(DESTDIR)'; then \
	  PKG_CONFIG_SYSROOT_DIR='$(DESTDIR)'; export PKG_CONFIG_SYSROOT_DIR; fi; \
	plugindir=`$(PKG_CONFIG) --variable=plugindir libdq`; \
	test "$$plugindir" = '$(pkglibdir)' || \
	  { echo "installcheck: libdq.pc says plugindir=$$plugindir, expected $(pkglibdir)" >&2; exit 1; }; \
	$(MAKE) -f '$(abs_top_srcdir)/examples/transport-tcp/Makefile' \
	  PKG_CONFIG='$(PKG_CONFIG)' CC='$(CC)' CFLAGS='-O2 -g -Werror'
	LD_LIBRARY_PATH='$(DESTDIR)$(libdir)'; export LD_LIBRARY_PATH; \
	DQ_PLUGIN_PATH='$(abs_top_builddir)/$(SDK_CHECK_DIR)'; export DQ_PLUGIN_PATH; \
	unset DQ_CONFIG DQ_TRANSPORT; \
	DQ_TEST_TRANSPORT=tcp ./tests/test_runtime$(EXEEXT) && \
	'$(DESTDIR)$(bindir)/dq-transport-check$(EXEEXT)' tcp && \
	DQ_TRANSPORT=tcp '$(DESTDIR)$(bindir)/dq$(EXEEXT)' plugins --verbose
