# libdq/batch.mk — the batch module: buffers, schemas, arrays, batches,
# builders, and the Arrow C Data Interface (export/import).  Included from
# libdq/local.mk; batch_internal.h is listed there.
libdq_libdqcore_la_SOURCES += \
	libdq/buffer.c \
	libdq/schema.c \
	libdq/array.c \
	libdq/batch.c \
	libdq/builder.c \
	libdq/arrow_c.c \
	libdq/decimal_width.c libdq/decimal_width.h

check_PROGRAMS += tests/test_batch
TESTS += tests/test_batch
tests_test_batch_SOURCES = tests/test_batch.c
tests_test_batch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_batch_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
