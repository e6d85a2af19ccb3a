# tests/fuzz/local.mk — the libFuzzer targets, their standalone replay
# builds, the seed-corpus generator and the committed corpora.
#
#   ./configure CC=clang --enable-fuzzing   builds tests/fuzz/fuzz_* (make
#       check builds them and replays every seed once: replay.test);
#       scripts/fuzz.sh runs each for a bounded time.
#   make tests/fuzz/replay_NAME   in any configuration: the same target with
#       a plain main (standalone.c) that replays files or stdin, for AFL++
#       (CC=afl-clang-fast) or a corpus replay without libFuzzer.
#   make tests/fuzz/gen_corpus    writes seeds from the real encoders:
#       tests/fuzz/gen_corpus $(srcdir)/tests/fuzz/corpus
#
# The worker target loads inmem from the build tree (FUZZ_PLUGIN_DIR), so
# it runs without DQ_PLUGIN_PATH; it links the shared libdq as inmem does
# (one libdq per process), the other targets the static core.
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS) \
	-DFUZZ_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/inmem\"
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer $(FUZZ_CFLAGS)
REPLAY_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_STANDALONE

FUZZ_EXTRA_PROGS = tests/fuzz/gen_corpus \
	tests/fuzz/replay_ipc tests/fuzz/replay_plan \
	tests/fuzz/replay_task_plan tests/fuzz/replay_config \
	tests/fuzz/replay_worker tests/fuzz/replay_sql
EXTRA_PROGRAMS += $(FUZZ_EXTRA_PROGS)
CLEANFILES += $(FUZZ_EXTRA_PROGS)
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/regress tests/fuzz/dict \
	tests/fuzz/known-issues.supp tests/fuzz/known-leaks.supp \
	tests/fuzz/replay.test

tests_fuzz_gen_corpus_SOURCES = tests/fuzz/gen_corpus.c tests/ipc_testdata.h
tests_fuzz_gen_corpus_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_gen_corpus_LDADD = libdq/libdqcore.la

tests_fuzz_replay_ipc_SOURCES = tests/fuzz/fuzz_ipc.c tests/fuzz/fuzz.h \
	tests/fuzz/standalone.c
tests_fuzz_replay_ipc_CPPFLAGS = $(REPLAY_CPPFLAGS)
tests_fuzz_replay_ipc_LDADD = libdq/libdqcore.la
tests_fuzz_replay_plan_SOURCES = tests/fuzz/fuzz_plan.c tests/fuzz/fuzz.h \
	tests/fuzz/standalone.c
tests_fuzz_replay_plan_CPPFLAGS = $(REPLAY_CPPFLAGS)
tests_fuzz_replay_plan_LDADD = libdq/libdqcore.la
tests_fuzz_replay_task_plan_SOURCES = tests/fuzz/fuzz_task_plan.c \
	tests/fuzz/fuzz.h tests/fuzz/standalone.c
tests_fuzz_replay_task_plan_CPPFLAGS = $(REPLAY_CPPFLAGS)
tests_fuzz_replay_task_plan_LDADD = libdq/libdqcore.la
tests_fuzz_replay_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/fuzz.h \
	tests/fuzz/standalone.c
tests_fuzz_replay_config_CPPFLAGS = $(REPLAY_CPPFLAGS)
tests_fuzz_replay_config_LDADD = libdq/libdqcore.la
tests_fuzz_replay_worker_SOURCES = tests/fuzz/fuzz_worker.c \
	tests/fuzz/fuzz.h tests/fuzz/standalone.c
tests_fuzz_replay_worker_CPPFLAGS = $(REPLAY_CPPFLAGS)
tests_fuzz_replay_worker_LDADD = libdq/libdq.la $(PTHREAD_LIBS)

# The SQL target links the SQL library (libpg_query) as tools/dq does,
# Debian's protobuf-c runtime first (libdq/sql/local.mk).
tests_fuzz_replay_sql_SOURCES = tests/fuzz/fuzz_sql.c tests/fuzz/fuzz.h \
	tests/fuzz/standalone.c
tests_fuzz_replay_sql_CPPFLAGS = $(REPLAY_CPPFLAGS) -I$(top_srcdir)/libdq/sql
tests_fuzz_replay_sql_LDFLAGS = $(AM_LDFLAGS) $(PROTOBUF_C_FIRST)
tests_fuzz_replay_sql_LDADD = libdq/sql/libdqsql.la libdq/libdqcore.la
tests_fuzz_fuzz_sql_SOURCES = tests/fuzz/fuzz_sql.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_sql_CPPFLAGS = $(FUZZ_CPPFLAGS) -I$(top_srcdir)/libdq/sql
tests_fuzz_fuzz_sql_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sql_LDFLAGS = $(FUZZ_LINK_FLAGS) $(PROTOBUF_C_FIRST)
tests_fuzz_fuzz_sql_LDADD = libdq/sql/libdqsql.la libdq/libdqcore.la

if ENABLE_FUZZING
check_PROGRAMS += tests/fuzz/fuzz_ipc tests/fuzz/fuzz_plan \
	tests/fuzz/fuzz_task_plan tests/fuzz/fuzz_config tests/fuzz/fuzz_worker \
	tests/fuzz/fuzz_sql
TESTS += tests/fuzz/replay.test
endif
tests_fuzz_fuzz_ipc_SOURCES = tests/fuzz/fuzz_ipc.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_ipc_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_ipc_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_ipc_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ipc_LDADD = libdq/libdqcore.la
tests_fuzz_fuzz_plan_SOURCES = tests/fuzz/fuzz_plan.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_plan_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_plan_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_plan_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_plan_LDADD = libdq/libdqcore.la
tests_fuzz_fuzz_task_plan_SOURCES = tests/fuzz/fuzz_task_plan.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_task_plan_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_task_plan_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_task_plan_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_task_plan_LDADD = libdq/libdqcore.la
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_config_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_config_LDADD = libdq/libdqcore.la
tests_fuzz_fuzz_worker_SOURCES = tests/fuzz/fuzz_worker.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_worker_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_worker_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_worker_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_worker_LDADD = libdq/libdq.la $(PTHREAD_LIBS)

# The bad-input battery's missing parts (issue 9, item 5): built and run in
# every configuration, not only with --enable-fuzzing.
check_PROGRAMS += tests/test_bad_input
TESTS += tests/test_bad_input
tests_test_bad_input_SOURCES = tests/test_bad_input.c
tests_test_bad_input_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_test_bad_input_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_bad_input_LDADD = $(SHARED_TEST_LIBS)
