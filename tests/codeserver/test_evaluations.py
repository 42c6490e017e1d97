"""EvaluateSensor / EvaluateSchedule: async sensors on the loop, the rest in evaluation workers."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import grpc
import pytest

import rivers as rs
from rivers._convert.automation import (
    evaluation_error_from_proto,
    schedule_result_from_proto,
    sensor_result_from_proto,
)
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from tests.codeserver.support import SENSORS, Running, wait_for


def _ready(running: Running, workers: int = 2) -> Running:
    pool = running.server.evaluations
    assert pool is not None
    wait_for(lambda: pool.idle == workers, 30, f"{workers} evaluation workers")
    return running


def _sensor(running: Running, name: str, **fields: object) -> pb.EvaluateSensorResponse:
    request = pb.EvaluateSensorRequest(sensor_name=name, **fields)  # type: ignore[arg-type]
    reply: pb.EvaluateSensorResponse = running.stub.EvaluateSensor(request, timeout=60)
    return reply


def _schedule(running: Running, name: str, when: datetime) -> pb.EvaluateScheduleResponse:
    request = pb.EvaluateScheduleRequest(schedule_name=name, scheduled_time=when.timestamp())
    reply: pb.EvaluateScheduleResponse = running.stub.EvaluateSchedule(request, timeout=60)
    return reply


def test_sync_sensor_gets_cursor_and_last_tick_in_a_worker(serve: Callable[..., Running]) -> None:
    """A sync sensor sees the request's cursor and last tick time, runs in another process."""
    running = serve(SENSORS)
    reply = _sensor(running, "counter", cursor="4", last_tick_time=123.0)
    assert evaluation_error_from_proto(reply) is None
    result = sensor_result_from_proto(reply)
    assert result.cursor == "5"
    (request,) = result.run_requests
    assert isinstance(request, rs.RunRequest)
    assert request.run_key == "tick-5"
    assert request.run_config == {"numbers": {}}
    assert request.tags["last"] == "123.0"
    assert request.tags["pid"] != str(os.getpid())
    first = sensor_result_from_proto(_sensor(running, "counter"))
    assert first.cursor == "1" and first.run_requests[0].tags["last"] == "none"


def test_async_sensor_runs_on_the_server_loop(serve: Callable[..., Running]) -> None:
    """An async generator sensor runs in the server process; update_cursor sets the cursor."""
    running = serve(SENSORS)
    result = sensor_result_from_proto(_sensor(running, "async_counter", cursor="5"))
    assert result.cursor == "15"
    (request,) = result.run_requests
    assert isinstance(request, rs.RunRequest)
    assert request.run_key == "async-15"
    assert request.tags["pid"] == str(os.getpid())
    assert result.dynamic_partitions_requests == (
        rs.AddDynamicPartitionsRequest(partitions_def_name="files", partition_keys=("f15",)),
    )


def test_backfill_and_dynamic_partition_requests(serve: Callable[..., Running]) -> None:
    """Backfill requests (a range, keys) and dynamic partition adds/deletes come back intact."""
    running = serve(SENSORS)
    result = sensor_result_from_proto(_sensor(running, "backfiller"))
    assert result.run_requests == (
        rs.BackfillRequest(partitions=rs.PartitionKeyRange.single("2024-01-01", "2024-01-03")),
        rs.BackfillRequest(["daily_events"], partitions=["2024-02-01"], tags={"why": "late"}),
    )
    assert result.dynamic_partitions_requests == (
        rs.AddDynamicPartitionsRequest(partitions_def_name="files", partition_keys=("a", "b")),
        rs.DeleteDynamicPartitionsRequest(partitions_def_name="files", partition_keys=("c",)),
    )


def test_sensor_reads_the_store(serve: Callable[..., Running]) -> None:
    """The worker's context.storage is connected to the location's store."""
    running = serve(SENSORS)
    reply = _sensor(running, "reads_store")
    assert evaluation_error_from_proto(reply) is None
    assert sensor_result_from_proto(reply).skip_reason == "store has 0 runs"


def test_user_errors_come_back_with_the_users_traceback(serve: Callable[..., Running]) -> None:
    """A raising sensor or schedule: its type, message and its own frames, not ours."""
    running = serve(SENSORS)
    error = evaluation_error_from_proto(_sensor(running, "broken"))
    assert error is not None
    assert (error.error_type, error.message) == ("ValueError", "bucket not found: s3://missing")
    assert "in _read_bucket" in error.traceback and "sensors.py" in error.traceback
    assert "rivers_codeserver" not in error.traceback
    assert error.traceback.splitlines()[1].endswith("in broken")
    failed = evaluation_error_from_proto(
        _schedule(running, "failing_schedule", datetime(2024, 1, 1, tzinfo=UTC))
    )
    assert failed is not None
    assert (failed.error_type, failed.message) == ("RuntimeError", "schedule config service down")
    assert "in failing_schedule" in failed.traceback


def test_schedule_with_callable_partition_and_config(serve: Callable[..., Running]) -> None:
    """Callable partition and run config get the tick's time in the schedule's time zone."""
    running = serve(SENSORS)
    reply = _schedule(running, "daily", datetime(2024, 3, 5, 1, 0, tzinfo=UTC))
    assert evaluation_error_from_proto(reply) is None
    (request,) = schedule_result_from_proto(reply).run_requests
    assert request.partition == "2024-03-05"
    assert request.run_config == {"daily_events": {"hour": 2}}  # 01:00 UTC is 02:00 there


def test_decorated_schedule_function(serve: Callable[..., Running]) -> None:
    """A schedule function's requests, or its skip reason, are returned for the tick."""
    running = serve(SENSORS)
    runs = schedule_result_from_proto(
        _schedule(running, "every_five", datetime(2024, 1, 1, 0, 10, tzinfo=UTC))
    )
    assert [r.run_key for r in runs.run_requests] == ["five-10"]
    assert runs.run_requests[0].tags == {"minute": "10"}
    skipped = schedule_result_from_proto(
        _schedule(running, "every_five", datetime(2024, 1, 1, 0, 15, tzinfo=UTC))
    )
    assert skipped.run_requests == () and skipped.skip_reason == "odd minute 15"


def test_unknown_sensor_or_schedule_is_not_found(serve: Callable[..., Running]) -> None:
    """An unknown name is NOT_FOUND, naming it."""
    running = serve(SENSORS)
    for call, request in (
        (running.stub.EvaluateSensor, pb.EvaluateSensorRequest(sensor_name="nope")),
        (running.stub.EvaluateSchedule, pb.EvaluateScheduleRequest(schedule_name="nope")),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            call(request, timeout=30)
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND
        assert "'nope'" in (raised.value.details() or "")


def test_hanging_sensor_times_out_without_delaying_others(serve: Callable[..., Running]) -> None:
    """A hanging sync sensor fails with EvaluationTimeout; another sensor answers meanwhile."""
    running = _ready(serve(SENSORS, evaluation_timeout=3.0))
    replies: dict[str, pb.EvaluateSensorResponse] = {}
    started = time.monotonic()
    hanging = threading.Thread(target=lambda: replies.update(hang=_sensor(running, "hang")))
    hanging.start()
    time.sleep(0.3)
    before = time.monotonic()
    other = _sensor(running, "counter")
    assert time.monotonic() - before < 1.0  # the other worker answered at once
    assert evaluation_error_from_proto(other) is None
    assert "hang" not in replies
    hanging.join(30)
    elapsed = time.monotonic() - started
    error = evaluation_error_from_proto(replies["hang"])
    assert error is not None and error.error_type == "EvaluationTimeout"
    assert "'hang'" in error.message and "3s" in error.message
    assert 3.0 <= elapsed < 6.0
    metrics = running.server.metrics
    assert metrics.evaluation_worker_restarts.labels("timeout")._value.get() == 1
    assert metrics.evaluations.labels("sensor", "timeout")._value.get() == 1
    _ready(running)  # the killed worker was replaced
    assert evaluation_error_from_proto(_sensor(running, "counter")) is None


def test_hanging_async_sensor_times_out(serve: Callable[..., Running]) -> None:
    """An async sensor that never returns is cancelled after the timeout."""
    running = serve(SENSORS, evaluation_timeout=1.0)
    started = time.monotonic()
    error = evaluation_error_from_proto(_sensor(running, "async_hang"))
    assert error is not None and error.error_type == "EvaluationTimeout"
    assert 1.0 <= time.monotonic() - started < 3.0
    assert sensor_result_from_proto(_sensor(running, "async_counter")).cursor == "10"


def test_crashing_sensor_fails_alone_and_its_worker_is_replaced(
    serve: Callable[..., Running],
) -> None:
    """A sensor killing its worker fails with WorkerCrashed; the next evaluation works."""
    running = _ready(serve(SENSORS))
    error = evaluation_error_from_proto(_sensor(running, "crash"))
    assert error is not None and error.error_type == "WorkerCrashed"
    assert "'crash'" in error.message and "exited with code 3" in error.message
    for cursor in ("1", "2", "3"):  # whichever worker answers, it works
        result = sensor_result_from_proto(_sensor(running, "counter", cursor=cursor))
        assert result.cursor == str(int(cursor) + 1)
    assert running.server.metrics.evaluation_worker_restarts.labels("crash")._value.get() == 1
    _ready(running)


def test_reload_replaces_the_evaluation_workers(serve: Callable[..., Running]) -> None:
    """After a reload (new incarnation) evaluations run in new worker processes."""
    running = _ready(serve(SENSORS, evaluation_workers=1), workers=1)
    before = sensor_result_from_proto(_sensor(running, "counter")).run_requests[0].tags["pid"]
    assert running.loop.run(running.server.reload())
    pool = running.server.evaluations
    assert pool is not None and pool.generation == 1
    after = sensor_result_from_proto(_sensor(running, "counter")).run_requests[0].tags["pid"]
    assert after != before
    wait_for(lambda: pool.workers == 1, 10, "the old worker to be retired")
