# libdq/scan/ — the data sources, each a table of callbacks (source.h)
# registered in source_registry.c: generated TPC-H tables, CSV files with a
# declared schema (the parser, and the byte ranges and work units that
# spread files over tasks), Arrow IPC files.  Uses base, arrow, ipc, expr
# and tpch; plans, the planner, the coordinator and the executor call it,
# never the reverse.
libdq_libdqcore_la_SOURCES += \
	libdq/scan/source.c libdq/scan/source.h \
	libdq/scan/file_policy.c libdq/scan/file_policy.h \
	libdq/scan/source_registry.c \
	libdq/scan/source_tpch.c libdq/scan/source_tpch.h \
	libdq/scan/source_csv.c libdq/scan/source_csv.h \
	libdq/scan/csv_parse.c libdq/scan/csv.h \
	libdq/scan/source_ipc.c libdq/scan/source_ipc.h \
	libdq/scan/source_range.c libdq/scan/source_range.h

# Single-node and on in-process inmem workers (DQ_PLUGIN_PATH comes from
# AM_TESTS_ENVIRONMENT); the data is written by tools/dq gen.
check_PROGRAMS += tests/test_scan_csv
TESTS += tests/test_scan_csv
tests_test_scan_csv_SOURCES = tests/test_scan_csv.c
nodist_tests_test_scan_csv_SOURCES = proto/source.pb-c.c proto/source.pb-c.h
tests_test_scan_csv_CPPFLAGS = $(TEST_CPPFLAGS) $(PROTOBUF_C_CFLAGS) \
	-DDQ_TOOL=\"$(abs_top_builddir)/tools/dq\"
tests_test_scan_csv_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_scan_csv_LDADD = $(SHARED_TEST_LIBS) $(PROTOBUF_C_LIBS)

check_PROGRAMS += tests/test_scan_ipc
TESTS += tests/test_scan_ipc
tests_test_scan_ipc_SOURCES = tests/test_scan_ipc.c
tests_test_scan_ipc_CPPFLAGS = $(TEST_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_test_scan_ipc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_scan_ipc_LDADD = $(SHARED_TEST_LIBS)

# The registry and the range source, end to end.
check_PROGRAMS += tests/test_source
TESTS += tests/test_source
tests_test_source_SOURCES = tests/test_source.c
tests_test_source_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_test_source_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_source_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
