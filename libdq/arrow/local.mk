# libdq/arrow/ — columnar data in memory: buffers, schemas, arrays, record
# batches, builders, and the Arrow C Data Interface (export/import).
# Uses base only.
libdq_libdqcore_la_SOURCES += \
	libdq/arrow/batch_internal.h \
	libdq/arrow/buffer.c \
	libdq/arrow/schema.c \
	libdq/arrow/array.c \
	libdq/arrow/batch.c \
	libdq/arrow/builder.c \
	libdq/arrow/arrow_c.c \
	libdq/arrow/decimal_width.c libdq/arrow/decimal_width.h

check_PROGRAMS += tests/test_batch
TESTS += tests/test_batch
tests_test_batch_SOURCES = tests/test_batch.c
tests_test_batch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_batch_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
