# libdq/sql/ — the SQL front end (libpg_query parser, catalog, binder,
# planner): a convenience library linked only into tools/dq and the SQL
# tests, never into libdq.so or a plugin (tests/linkage.test checks it).
#
# Link order: libpg_query bundles a protobuf-c runtime (1.4.0) exporting the
# same symbols as Debian's libprotobuf-c (1.4.1); whichever comes first in
# the program's NEEDED list serves the whole process.  libtool moves -l
# flags behind the objects (and --as-needed then drops libprotobuf-c), so
# every program that links this library takes $(PROTOBUF_C_FIRST) in its
# LDFLAGS: libprotobuf-c as the first library, inside -Wl (which libtool
# leaves in place) and kept whatever --as-needed says.  Debian's runtime then
# serves libdq's codec and libpg_query alike (tests/test_sql.c checks with
# dladdr, and round-trips a plan through dq's codec beside a parse).
PROTOBUF_C_FIRST = -Wl,--push-state,--no-as-needed,-lprotobuf-c,--pop-state
noinst_LTLIBRARIES += libdq/sql/libdqsql.la
libdq_sql_libdqsql_la_SOURCES = \
	libdq/sql/sql.h libdq/sql/sql_internal.h libdq/sql/binder.h \
	libdq/sql/session.c libdq/sql/catalog.c libdq/sql/binder.c \
	libdq/sql/planner.c
libdq_sql_libdqsql_la_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
libdq_sql_libdqsql_la_LIBADD = $(PROTOBUF_C_LIBS) $(PG_QUERY_LIBS) -lm

check_PROGRAMS += tests/test_sql
TESTS += tests/test_sql tests/sql-tpch.test tests/sql-builtin.test \
	tests/sql-cli.test
EXTRA_DIST += tests/sql-tpch.test tests/sql-builtin.test tests/sql-cli.test tests/sql/tpch tests/sql/extra tests/sql/duckdb/package.json \
	tests/sql/duckdb/package-lock.json tests/sql/duckdb/compare.mjs
tests_test_sql_SOURCES = tests/test_sql.c
tests_test_sql_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/libdq/sql \
	$(PROTOBUF_C_CFLAGS)
tests_test_sql_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_sql_LDFLAGS = $(AM_LDFLAGS) $(PROTOBUF_C_FIRST)
tests_test_sql_LDADD = libdq/sql/libdqsql.la libdq/libdqcore.la \
	$(CMOCKA_LIBS) -ldl

# sql-tpch.test installs @duckdb/node-api under tests/sql-duckdb-node/ in
# the build tree; CLEANFILES takes the directory through `rm -f -r` (as
# for the apache-arrow interop test), so distclean leaves nothing.
CLEANFILES += -r tests/sql-duckdb-node
