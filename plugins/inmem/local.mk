# plugins/inmem/ — the in-process transport module.
pkglib_LTLIBRARIES += plugins/inmem/inmem.la
plugins_inmem_inmem_la_SOURCES = plugins/inmem/inmem.c
plugins_inmem_inmem_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-no-undefined -shared
plugins_inmem_inmem_la_LIBADD = libdq/libdq.la $(PTHREAD_LIBS)
