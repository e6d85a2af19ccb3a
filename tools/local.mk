# tools/ — the dq command.
bin_PROGRAMS += tools/dq
tools_dq_SOURCES = tools/dq.c tools/commands.h tools/cmd_plugins.c
tools_dq_LDADD = libdq/libdq.la
