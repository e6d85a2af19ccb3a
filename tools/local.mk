# tools/ — the dq command.  It uses libdq's public API only (libdq.la).
bin_PROGRAMS += tools/dq
tools_dq_SOURCES = tools/dq.c tools/commands.h tools/cmd_plugins.c \
	tools/cmd_run.c tools/cmd_worker.c tools/worker_procs.c tools/worker_procs.h \
	tools/table.c tools/table.h
tools_dq_LDADD = libdq/libdq.la $(PTHREAD_LIBS)

