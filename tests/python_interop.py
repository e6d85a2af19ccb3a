"""python_interop.py — a dq worker driven by a gRPC client not written in C.

Run by tests/python-interop.test with Debian's /usr/bin/python3 (the
python3-grpcio, python3-protobuf and python3-grpc-tools packages), with the
stubs generated from proto/worker.proto in STUBS.  It speaks
dq.v1.Worker as any client would:

  GetWorkerInfo       version, protocol version 1 and the worker's own URL;
  CoordinatorChannel  SetPlan with the task plan the C helper encoded (kept
                      open while the task runs: closing it frees the task);
  ExecuteTask         both partitions of the task, checking the stream's
                      shape (schema first, batches tagged with a partition
                      of the range, one end_of_partition each, nothing
                      after it) and counting rows from the Arrow IPC
                      metadata itself;
  TaskMetrics         the answer when our side of the channel ends; then
                      we close the channel, which frees the task.

The received messages are written to OUT as an Arrow IPC stream, which the C
helper decodes so the rows are checked by two independent readers.

usage: python_interop.py STUBS URL PLAN HEAD OUT EXPECTED_ROWS
"""
import struct
import sys
import threading

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import worker_pb2  # noqa: E402
import worker_pb2_grpc  # noqa: E402

URL, PLAN, HEAD, OUT = sys.argv[2:6]
EXPECTED_ROWS = int(sys.argv[6])
QUERY_ID = bytes(range(0xA0, 0xB0))
N_PARTITIONS = 2


def fail(msg):
    print("FAIL: python-interop: " + msg)
    sys.exit(1)


def ipc_message(msg):
    """Type and row count of one encapsulated Arrow IPC message, read from
    its flatbuffer by hand (Arrow's Message.fbs), checking its length."""
    if len(msg) < 8 or msg[:4] != b"\xff\xff\xff\xff":
        fail("a frame is not an encapsulated IPC message")
    (meta_len,) = struct.unpack_from("<i", msg, 4)
    fb = msg[8:8 + meta_len]

    def field(table, index):
        (soff,) = struct.unpack_from("<i", fb, table)
        vtable = table - soff
        (vt_size,) = struct.unpack_from("<H", fb, vtable)
        if 4 + 2 * index >= vt_size:
            return None
        (off,) = struct.unpack_from("<H", fb, vtable + 4 + 2 * index)
        return table + off if off else None

    (root,) = struct.unpack_from("<I", fb, 0)
    htype_at, header_at, body_at = field(root, 1), field(root, 2), field(root, 3)
    htype = fb[htype_at] if htype_at is not None else 0
    body_len = struct.unpack_from("<q", fb, body_at)[0] if body_at else 0
    if 8 + meta_len + body_len != len(msg):
        fail("IPC message of %d bytes, its metadata says %d"
             % (len(msg), 8 + meta_len + body_len))
    rows = 0
    if htype == 3 and header_at is not None:  # RecordBatch
        (rel,) = struct.unpack_from("<I", fb, header_at)
        length_at = field(header_at + rel, 0)
        rows = struct.unpack_from("<q", fb, length_at)[0] if length_at else 0
    return htype, rows


def main():
    target = URL.split("://", 1)[1]
    plan = open(PLAN, "rb").read()
    head = open(HEAD, "rb").read()
    with grpc.insecure_channel(target) as channel:
        stub = worker_pb2_grpc.WorkerStub(channel)

        info = stub.GetWorkerInfo(worker_pb2.GetWorkerInfoRequest(),
                                  timeout=10)
        if info.protocol_version != 1 or not info.version or info.url != URL:
            fail("GetWorkerInfo answered %r" % info)
        print("ok: GetWorkerInfo: dq %s, protocol %d, %s"
              % (info.version, info.protocol_version, info.url))

        key = worker_pb2.TaskKey(query_id=QUERY_ID, stage_id=1, task_number=0)
        finished = threading.Event()

        def coordinator_messages():
            yield worker_pb2.CoordinatorMessage(set_plan=worker_pb2.SetPlan(
                task_key=key, task_count=1, plan=plan, target_worker_url=URL))
            finished.wait(60)  # our side stays open while the task runs

        metrics = stub.CoordinatorChannel(coordinator_messages(), timeout=60)

        frames = stub.ExecuteTask(worker_pb2.ExecuteTaskRequest(
            task_key=key, partition_start=0, partition_end=N_PARTITIONS,
            producer_head=head), timeout=60)
        messages, rows, ended, n = [], 0, set(), 0
        for f in frames:
            n += 1
            body = f.WhichOneof("body")
            if body == "end_of_partition":
                if f.partition >= N_PARTITIONS or f.partition in ended:
                    fail("end_of_partition for partition %d twice or out of "
                         "range" % f.partition)
                ended.add(f.partition)
                continue
            if body != "ipc_message":
                fail("frame %d has no body" % n)
            htype, r = ipc_message(f.ipc_message)
            if not messages:
                if htype != 1:
                    fail("the first frame is IPC message type %d, not a "
                         "schema" % htype)
            elif htype != 3:
                fail("frame %d is IPC message type %d, not a record batch"
                     % (n, htype))
            elif f.partition >= N_PARTITIONS or f.partition in ended:
                fail("a batch for partition %d, outside the range or after "
                     "its end" % f.partition)
            messages.append(f.ipc_message)
            rows += r
        if ended != set(range(N_PARTITIONS)):
            fail("partitions ended: %s" % sorted(ended))
        if rows != EXPECTED_ROWS:
            fail("%d rows, expected %d" % (rows, EXPECTED_ROWS))
        print("ok: ExecuteTask: %d frames, %d batches, %d rows, every "
              "partition ended" % (n, len(messages) - 1, rows))
        with open(OUT, "wb") as out:
            for m in messages:
                out.write(m)
            out.write(b"\xff\xff\xff\xff\x00\x00\x00\x00")

        # Half-close: the worker answers with the task's metrics, then the
        # channel stays open until we close it, which frees the task.
        finished.set()
        got = next(metrics)
        metrics.cancel()
        if got.task_key != key:
            fail("CoordinatorChannel answered %r" % got)
        if got.rows_out != EXPECTED_ROWS or got.plan_bytes != len(plan):
            fail("TaskMetrics: rows_out %d, plan_bytes %d (sent %d)"
                 % (got.rows_out, got.plan_bytes, len(plan)))
        print("ok: TaskMetrics: rows_out %d, plan_bytes %d"
              % (got.rows_out, got.plan_bytes))


try:
    main()
except grpc.RpcError as e:
    fail("gRPC error %s: %s" % (e.code(), e.details()))
