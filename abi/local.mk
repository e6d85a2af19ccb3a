# abi/ — the ABI baseline of libdq.so as its installed headers declare it
# (abi/libdq.abi, written by libabigail's abidw), and the targets that
# compare the build with it and refresh it.  The policy is docs/abi.md.
#
#   make abi-check   fails when the ABI changed (CI runs it after make)
#   make abi-dump    rewrites the baseline, for a release that adds to the
#                    ABI or starts a new major version
#
# Both need abigail-tools and a build with debug information (the default
# CFLAGS, -g -O2).
EXTRA_DIST += abi/libdq.abi

abi-check: libdq/libdq.la
	$(SHELL) $(top_srcdir)/scripts/abi-check.sh check $(top_builddir) \
		$(top_srcdir)
abi-dump: libdq/libdq.la
	$(SHELL) $(top_srcdir)/scripts/abi-check.sh dump $(top_builddir) \
		$(top_srcdir)
.PHONY: abi-check abi-dump
