# proto/ — protobuf-c messages, generated at build time into the build tree.
#   worker.proto  the worker protocol (transports mirror it)
#   task.proto    a task's plan as SetPlan carries it (the runtime's own)
#   plan.proto    an encoded plan (libdq/plan/plan_codec.c)
#   source.proto  data sources' parameters and work units (libdq/scan/)
EXTRA_DIST += proto/worker.proto proto/task.proto proto/plan.proto \
	proto/source.proto

proto/worker.pb-c.h: proto/worker.pb-c.c
proto/worker.pb-c.c: proto/worker.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto \
		$(srcdir)/proto/worker.proto

proto/task.pb-c.h: proto/task.pb-c.c
proto/task.pb-c.c: proto/task.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto \
		$(srcdir)/proto/task.proto

proto/plan.pb-c.h: proto/plan.pb-c.c
proto/plan.pb-c.c: proto/plan.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto \
		$(srcdir)/proto/plan.proto

proto/source.pb-c.h: proto/source.pb-c.c
proto/source.pb-c.c: proto/source.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto \
		$(srcdir)/proto/source.proto

BUILT_SOURCES += proto/worker.pb-c.c proto/worker.pb-c.h \
	proto/task.pb-c.c proto/task.pb-c.h proto/plan.pb-c.c proto/plan.pb-c.h \
	proto/source.pb-c.c proto/source.pb-c.h
CLEANFILES += proto/worker.pb-c.c proto/worker.pb-c.h \
	proto/task.pb-c.c proto/task.pb-c.h proto/plan.pb-c.c proto/plan.pb-c.h \
	proto/source.pb-c.c proto/source.pb-c.h
