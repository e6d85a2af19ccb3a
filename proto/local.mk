# proto/ — protobuf-c messages, generated at build time into the build tree.
EXTRA_DIST += proto/worker.proto

proto/worker.pb-c.h: proto/worker.pb-c.c
proto/worker.pb-c.c: proto/worker.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto \
		$(srcdir)/proto/worker.proto

BUILT_SOURCES += proto/worker.pb-c.c proto/worker.pb-c.h
CLEANFILES += proto/worker.pb-c.c proto/worker.pb-c.h
