# tools/ — the dq command.  It uses libdq's public API only (libdq.la).
bin_PROGRAMS += tools/dq
tools_dq_SOURCES = tools/dq.c tools/commands.h tools/cmd_plugins.c \
	tools/cmd_gen.c tools/cmd_run.c tools/cmd_worker.c tools/worker_procs.c tools/worker_procs.h \
	tools/table.c tools/table.h tools/args.c tools/args.h \
	tools/cmd_sql.c tools/run_plan.h
tools_dq_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/libdq/sql $(LIBEDIT_CFLAGS)
# The SQL library (libpg_query) and line editing are the dq command's own:
# libdq.so and the plugins never link them.  $(PROTOBUF_C_LIBS) first: see
# libdq/sql/local.mk.
tools_dq_LDFLAGS = $(AM_LDFLAGS) $(PROTOBUF_C_FIRST)
tools_dq_LDADD = libdq/libdq.la libdq/sql/libdqsql.la \
	$(LIBEDIT_LIBS) $(PTHREAD_LIBS)

# dq-transport-check: the conformance checker for transport plugins.  It
# links the shared libdq like the plugin it checks (one libdq in the
# process); the few internals it drives the ops with are DQ_INTERNAL
# (libdq/base/internal_export.h).
bin_PROGRAMS += tools/dq-transport-check
tools_dq_transport_check_SOURCES = tools/transport_check.c \
	tools/check_probe.c tools/check_probe.h \
	tests/harness/usage.c tests/harness/usage.h
tools_dq_transport_check_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS) \
	-I$(top_srcdir)/tests/harness
tools_dq_transport_check_LDADD = libdq/libdq.la $(PTHREAD_LIBS)
