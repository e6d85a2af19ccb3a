# libdq/exchange/ — every cross-process contract of a network boundary in
# one place: hash partitioning of a producer's output and the routing
# formulas (which producer partitions a consumer task reads for shuffle,
# coalesce and broadcast).  Uses base, arrow, expr, plan and exec.
libdq_libdqcore_la_SOURCES += \
	libdq/exchange/hash_partition.c \
	libdq/exchange/routing.c libdq/exchange/routing.h
