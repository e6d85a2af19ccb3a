# libdq/csv.mk — CSV scans with a declared schema (dq_node_scan_csv): the
# parser (op_scan_csv.c), the byte ranges and work units that spread files
# over tasks (csv.c), and their tests.  Included from libdq/local.mk.
libdq_libdqcore_la_SOURCES += libdq/csv.c libdq/csv.h libdq/op_scan_csv.c

# Single-node and on in-process inmem workers (DQ_PLUGIN_PATH comes from
# AM_TESTS_ENVIRONMENT); the data is written by tools/dq gen.
check_PROGRAMS += tests/test_scan_csv
TESTS += tests/test_scan_csv
tests_test_scan_csv_SOURCES = tests/test_scan_csv.c tests/result_text.c \
	tests/result_text.h
tests_test_scan_csv_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS) \
	-DDQ_TOOL=\"$(abs_top_builddir)/tools/dq\"
tests_test_scan_csv_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_scan_csv_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
