# libdq/sql/ — the SQL front end (libpg_query parser, catalog, binder,
# planner): a convenience library linked only into tools/dq and the SQL
# tests, never into libdq.so or a plugin (tests/linkage.test checks it).
#
# Link order: libpg_query bundles a protobuf-c runtime (1.4.0) exporting the
# same symbols as Debian's libprotobuf-c (1.4.1).  $(PROTOBUF_C_LIBS) comes
# before $(PG_QUERY_LIBS) in every link of this library, so Debian's runtime
# is the one every caller in the process binds to (tests/test_sql.c checks
# with dladdr, and round-trips a plan through dq's codec beside a parse).
noinst_LTLIBRARIES += libdq/sql/libdqsql.la
libdq_sql_libdqsql_la_SOURCES = \
	libdq/sql/sql.h libdq/sql/sql_internal.h libdq/sql/binder.h \
	libdq/sql/session.c libdq/sql/catalog.c libdq/sql/binder.c \
	libdq/sql/planner.c
libdq_sql_libdqsql_la_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
libdq_sql_libdqsql_la_LIBADD = $(PROTOBUF_C_LIBS) $(PG_QUERY_LIBS) -lm
