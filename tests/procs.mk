# tests/procs.mk — worker processes: tools/worker_procs.c against stand-in
# children, `dq worker` and `dq run --workers N` with processes, the runtime
# suite with `dq worker` processes, a worker killed mid-stream, workers in
# network namespaces, and a Python gRPC client.  Included at the end of
# tests/local.mk.  The scripts source tests/procs_lib.sh.

check_PROGRAMS += tests/test_worker_procs
TESTS += tests/test_worker_procs
tests_test_worker_procs_SOURCES = tests/test_worker_procs.c
tests_test_worker_procs_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_worker_procs_CFLAGS = $(TEST_CFLAGS)
tests_test_worker_procs_LDADD = $(SHARED_TEST_LIBS)

# A worker process killed mid-stream (tests/worker-kill.test runs it).
check_PROGRAMS += tests/test_worker_kill
tests_test_worker_kill_SOURCES = tests/test_worker_kill.c
tests_test_worker_kill_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_worker_kill_CFLAGS = $(TEST_CFLAGS)
tests_test_worker_kill_LDADD = $(SHARED_TEST_LIBS)

# The C half of the Python interop test: encodes a task plan, decodes what
# the Python client received.  No plugin: the static core.
check_PROGRAMS += tests/interop_stage
tests_interop_stage_SOURCES = tests/interop_stage.c
tests_interop_stage_CPPFLAGS = $(TEST_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
tests_interop_stage_LDADD = $(HARNESS) libdq/libdqcore.la

# Each script skips (77) only when its prerequisite is missing: grpc.so not
# built, no Debian python3-grpcio, no permission to create namespaces.
TESTS += tests/run-procs.test tests/runtime-grpc-procs.test \
	tests/runtime-shm-procs.test tests/worker-kill.test \
	tests/coordinator-kill.test tests/discover.test \
	tests/netns.test tests/python-interop.test
EXTRA_DIST += tests/run-procs.test tests/runtime-grpc-procs.test \
	tests/runtime-shm-procs.test tests/worker-kill.test \
	tests/coordinator-kill.test tests/discover.test \
	tests/netns.test tests/python-interop.test tests/python_interop.py \
	tests/procs_lib.sh
