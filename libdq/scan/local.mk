# libdq/scan/ — the data sources: generated TPC-H tables, CSV files with a
# declared schema (the parser, and the byte ranges and work units that
# spread files over tasks), Arrow IPC files.  Uses base, arrow, ipc, expr
# and tpch; plans and the executor call it, never the reverse.
libdq_libdqcore_la_SOURCES += \
	libdq/scan/csv.c libdq/scan/csv.h \
	libdq/scan/op_scan_csv.c \
	libdq/scan/op_scan_ipc.c \
	libdq/scan/op_scan_tpch.c

# Single-node and on in-process inmem workers (DQ_PLUGIN_PATH comes from
# AM_TESTS_ENVIRONMENT); the data is written by tools/dq gen.
check_PROGRAMS += tests/test_scan_csv
TESTS += tests/test_scan_csv
tests_test_scan_csv_SOURCES = tests/test_scan_csv.c
nodist_tests_test_scan_csv_SOURCES = proto/plan.pb-c.c proto/plan.pb-c.h
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
