# libdq/host/ — what makes a process a dq host: the config file and its
# precedence rules, contexts, and the transport plugin loader (behind a
# small libltdl shim).  Uses base only.
libdq_libdqcore_la_SOURCES += \
	libdq/host/config.c libdq/host/config.h \
	libdq/host/context.c libdq/host/context.h \
	libdq/host/dl.c libdq/host/dl.h \
	libdq/host/endpoint.c libdq/host/endpoint.h \
	libdq/host/plugin.c libdq/host/plugin.h \
	libdq/host/plugin_trust.c libdq/host/plugin_trust.h
