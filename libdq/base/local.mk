# libdq/base/ — the bottom layer: error values and their sentences, string
# lists, a hash map, the monotonic clock, logging.  Uses nothing of libdq;
# everything may use it.
libdq_libdqcore_la_SOURCES += \
	libdq/base/clock.h libdq/base/internal_export.h \
	libdq/base/error.c \
	libdq/base/hmap.c libdq/base/hmap.h \
	libdq/base/log.c \
	libdq/base/strlist.c libdq/base/strlist.h
