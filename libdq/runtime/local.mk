# libdq/runtime/ — the distributed runtime: the worker service (tasks,
# their pipelines and producer heads), the coordinator (query.c), the
# boundary readers that pull partitions across the transport, and a task's
# plan on the wire.  Uses every layer below it and host.
libdq_libdqcore_la_SOURCES += \
	libdq/runtime/boundary_reader.c libdq/runtime/boundary_reader.h \
	libdq/runtime/task_plan.c libdq/runtime/task_plan.h \
	libdq/runtime/membership.c libdq/runtime/membership.h \
	libdq/runtime/query.c \
	libdq/runtime/settings.c libdq/runtime/settings.h \
	libdq/runtime/worker.c libdq/runtime/worker_internal.h
