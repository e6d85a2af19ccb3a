# libdq/expr/ — scalar expressions: their trees, type rules, and the
# vectorized evaluator over arrays (arithmetic, comparisons, logic, LIKE,
# CASE, CAST, functions).  Uses base and arrow.
libdq_libdqcore_la_SOURCES += \
	libdq/expr/expr.c libdq/expr/expr.h \
	libdq/expr/expr_array.c \
	libdq/expr/expr_eval.c \
	libdq/expr/expr_func.c

check_PROGRAMS += tests/test_expr
TESTS += tests/test_expr
tests_test_expr_SOURCES = tests/test_expr.c
tests_test_expr_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_expr_LDADD = libdq/libdqcore.la $(CMOCKA_LIBS)
