"""python_status.py — what a foreign gRPC client sees when a dq worker
refuses a call: the status code (which it can act on) and the dq error in
the `dq-error-bin` trailer (a serialized dq.v1.Error).  Run by
tests/python-status.test with Debian's /usr/bin/python3 and stubs
generated from proto/worker.proto in STUBS; the worker runs with
plan_wait_ms = 200.

  ExecuteTask for a task that never got a plan  FAILED_PRECONDITION, DQ_ETIMEDOUT
  ExecuteTask whose request is not protobuf     INVALID_ARGUMENT, DQ_EPROTO
  CoordinatorChannel whose message is garbage   INVALID_ARGUMENT, DQ_EPROTO
  SetPlan carrying plan bytes that do not decode INVALID_ARGUMENT
  a method dq.v1.Worker does not have           UNIMPLEMENTED
  (with PLAN given) SetPlan + ExecuteTask of a plan scanning PATH as CSV:
  "refused": PATH is outside the worker's data_dirs  PERMISSION_DENIED,
             DQ_EPERM, naming the path and the setting
  "allowed": the same plan on a worker whose data_dirs holds PATH streams
             its lines (so the refusal above is the policy, not the plan)

  flood N WHY: N ExecuteTasks at once for tasks that never get a plan; the
  worker's bound refuses the excess with RESOURCE_EXHAUSTED (DQ_ETOOBIG,
  the message naming WHY, the setting that bounds them) while the others
  wait for their plans; prints how many of each

usage: python_status.py STUBS URL [PLAN HEAD PATH refused|allowed]
       python_status.py STUBS URL flood N WHY
"""
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import worker_pb2  # noqa: E402

URL = sys.argv[2]
DQ_ETIMEDOUT, DQ_EPROTO, DQ_EPERM = -9, -10, -16
failures = []


def dq_error(exc):
    for key, value in exc.trailing_metadata() or ():
        if key == "dq-error-bin":
            e = worker_pb2.Error()
            e.ParseFromString(value)
            return e
    return None


def expect(what, exc, status, code=None, text=None):
    if exc is None:
        failures.append("%s: the call succeeded" % what)
        return
    got = exc.code()
    e = dq_error(exc)
    line = "%s -> %s" % (what, got.name)
    if got != status:
        failures.append("%s, expected %s (%s)" % (line, status.name,
                                                  exc.details()))
        return
    if status != grpc.StatusCode.UNIMPLEMENTED and e is None:
        failures.append("%s: no dq-error-bin trailer" % line)
        return
    if code is not None and e.code != code:
        failures.append("%s: dq code %d, expected %d" % (line, e.code, code))
        return
    if text is not None and text not in e.message:
        failures.append("%s: %r does not say %r" % (line, e.message, text))
        return
    print("ok: %s%s" % (line, (": " + e.message) if e else ""))


def call(fn):
    try:
        for _ in fn():
            pass
    except grpc.RpcError as exc:
        return exc
    return None


def key(task=0):
    return worker_pb2.TaskKey(query_id=bytes(range(16)), stage_id=1,
                              task_number=task)


def main():
    target = URL.split("://", 1)[1]
    with grpc.insecure_channel(target) as ch:
        execute = ch.unary_stream(
            "/dq.v1.Worker/ExecuteTask",
            request_serializer=worker_pb2.ExecuteTaskRequest.SerializeToString,
            response_deserializer=worker_pb2.PartitionFrame.FromString)
        raw_execute = ch.unary_stream("/dq.v1.Worker/ExecuteTask")
        coord = ch.stream_stream(
            "/dq.v1.Worker/CoordinatorChannel",
            request_serializer=worker_pb2.CoordinatorMessage.SerializeToString,
            response_deserializer=worker_pb2.TaskMetrics.FromString)
        raw_coord = ch.stream_stream("/dq.v1.Worker/CoordinatorChannel")
        nope = ch.unary_unary("/dq.v1.Worker/Nope")

        if len(sys.argv) > 3 and sys.argv[3] == "flood":
            flood(execute, int(sys.argv[4]), sys.argv[5])
            report()
            return
        if len(sys.argv) > 3:
            scan(execute, coord, sys.argv[3], sys.argv[4], sys.argv[5],
                 sys.argv[6])
            report()
            return
        req = worker_pb2.ExecuteTaskRequest(task_key=key(), partition_start=0,
                                            partition_end=1)
        expect("ExecuteTask without a plan",
               call(lambda: execute(req, timeout=30)),
               grpc.StatusCode.FAILED_PRECONDITION, DQ_ETIMEDOUT,
               "no plan arrived")
        expect("ExecuteTask with a malformed request",
               call(lambda: raw_execute(b"\xff\xff\xff\xff", timeout=30)),
               grpc.StatusCode.INVALID_ARGUMENT, DQ_EPROTO)
        expect("CoordinatorChannel with a malformed message",
               call(lambda: raw_coord(iter([b"\xff\xff\xff\xff"]),
                                      timeout=30)),
               grpc.StatusCode.INVALID_ARGUMENT, DQ_EPROTO)
        bad_plan = worker_pb2.CoordinatorMessage(set_plan=worker_pb2.SetPlan(
            task_key=key(), task_count=1, plan=b"not a plan"))
        expect("SetPlan with plan bytes that do not decode",
               call(lambda: coord(iter([bad_plan]), timeout=30)),
               grpc.StatusCode.INVALID_ARGUMENT)
        try:
            nope(b"", timeout=30)
            exc = None
        except grpc.RpcError as e:
            exc = e
        expect("an unknown method", exc, grpc.StatusCode.UNIMPLEMENTED)

    report()


def scan(execute, coord, plan_path, head_path, path, mode):
    import queue
    plan_bytes = open(plan_path, "rb").read()
    head = open(head_path, "rb").read()
    sp = worker_pb2.CoordinatorMessage(set_plan=worker_pb2.SetPlan(
        task_key=key(), task_count=1, plan=plan_bytes))
    # The coordinator channel stays open while the task runs: closing it
    # frees the task.
    q = queue.Queue()
    q.put(sp)

    def msgs():
        while True:
            m = q.get()
            if m is None:
                return
            yield m
    chan = coord(msgs(), timeout=60)
    req = worker_pb2.ExecuteTaskRequest(task_key=key(), partition_start=0,
                                        partition_end=1, producer_head=head)
    if mode == "refused":
        exc = call(lambda: execute(req, timeout=30))
        expect("a plan scanning %s" % path, exc,
               grpc.StatusCode.PERMISSION_DENIED, DQ_EPERM, path)
        e = dq_error(exc) if exc else None
        if e is not None and "data_dirs" not in e.message:
            failures.append("the refusal does not name data_dirs: %r"
                            % e.message)
    else:
        frames = 0
        try:
            for f in execute(req, timeout=30):
                frames += 1 if f.WhichOneof("body") == "ipc_message" else 0
        except grpc.RpcError as exc:
            failures.append("allowed scan of %s failed: %s %s"
                            % (path, exc.code().name, exc.details()))
        if frames < 2:  # the schema and at least one batch
            failures.append("allowed scan of %s gave %d IPC messages"
                            % (path, frames))
        else:
            print("ok: %s, inside data_dirs, streams %d IPC messages"
                  % (path, frames))
    q.put(None)
    chan.cancel()


def flood(execute, n, why):
    import threading
    results = []
    lock = threading.Lock()

    def one(i):
        req = worker_pb2.ExecuteTaskRequest(task_key=key(1000 + i),
                                            partition_start=0,
                                            partition_end=1)
        exc = call(lambda: execute(req, timeout=60))
        with lock:
            results.append(exc)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    exhausted = [e for e in results
                 if e is not None and e.code() ==
                 grpc.StatusCode.RESOURCE_EXHAUSTED]
    waited = [e for e in results
              if e is not None and e.code() ==
              grpc.StatusCode.FAILED_PRECONDITION]
    other = [e for e in results if e is None or e not in exhausted + waited]
    print("flood of %d: %d RESOURCE_EXHAUSTED, %d waited for a plan, %d "
          "other" % (n, len(exhausted), len(waited), len(other)))
    if not exhausted:
        failures.append("no call of the flood was refused")
    for e in exhausted:
        d = dq_error(e)
        text = d.message if d is not None else e.details()
        if why not in text:
            failures.append("a refusal does not name %s: %r" % (why, text))
            break
    for e in other:
        failures.append("a flood call ended %s" % (
            "without error" if e is None else e.code().name))
        break


def report():
    if failures:
        for f in failures:
            print("FAIL: " + f)
        sys.exit(1)


main()
