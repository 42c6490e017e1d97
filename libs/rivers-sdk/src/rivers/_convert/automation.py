"""Conversions of sensor and schedule evaluations (``EvaluateSensor`` / ``EvaluateSchedule``).

The code server encodes what user code asked for (``rs.SensorResult``) into the replies; the
daemon decodes them. A reply carries either a result or the user's error (``ErrorInfo``):
check :func:`evaluation_error_from_proto` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rivers._convert.common import (
    error_fields,
    error_from_proto,
    json_object_fields,
    json_object_from_proto,
    tags_fields,
)
from rivers._convert.partition_keys import key_range_from_proto, key_range_to_proto
from rivers._convert.partitions import backfill_from_proto, backfill_to_proto
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers.automation.requests import (
    AddDynamicPartitionsRequest,
    BackfillRequest,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    SensorResult,
)
from rivers.execution.events import ErrorInfo
from rivers.partitions import PartitionKeyRange

__all__ = [
    "backfill_request_from_proto",
    "backfill_request_to_proto",
    "dynamic_request_from_proto",
    "dynamic_request_to_proto",
    "evaluation_error_from_proto",
    "run_request_from_proto",
    "run_request_to_proto",
    "schedule_error_to_proto",
    "schedule_result_from_proto",
    "schedule_result_to_proto",
    "sensor_error_to_proto",
    "sensor_result_from_proto",
    "sensor_result_to_proto",
]

DynamicRequest = AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest


def _run_request_fields(request: RunRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "run_key": request.run_key,
        "selection": list(request.selection or ()),
        "job_name": request.job,
        "partition_key": request.partition,
        "tags": tags_fields(request.tags),
    }
    if request.run_config is not None:
        fields["config"] = json_object_fields(request.run_config)
    return fields


def run_request_to_proto(request: RunRequest) -> pb.RunRequestSpec:
    """Encode a run request (an empty selection means the target's default, as ``None``).

    Raises:
        TypeError: the run config is not JSON.
    """
    return pb.RunRequestSpec(**_run_request_fields(request))


def run_request_from_proto(msg: pb.RunRequestSpec) -> RunRequest:
    """Decode a run request."""
    return RunRequest(
        tuple(msg.selection) or None,
        job=msg.job_name if msg.HasField("job_name") else None,
        partition=msg.partition_key if msg.HasField("partition_key") else None,
        run_config=json_object_from_proto(msg.config) if msg.HasField("config") else None,
        tags={t.key: t.value for t in msg.tags},
        run_key=msg.run_key if msg.HasField("run_key") else None,
    )


def _backfill_request_fields(request: BackfillRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "selection": list(request.selection or ()),
        "tags": tags_fields(request.tags),
    }
    if isinstance(request.partitions, PartitionKeyRange):
        fields["range"] = key_range_to_proto(request.partitions)
    else:
        fields["partition_keys"] = list(request.partitions)
    if request.strategy is not None:
        fields["strategy"] = backfill_to_proto(request.strategy)
    return fields


def backfill_request_to_proto(request: BackfillRequest) -> pb.BackfillRequestSpec:
    """Encode a backfill request (keys or a range, and its strategy if it has one)."""
    return pb.BackfillRequestSpec(**_backfill_request_fields(request))


def backfill_request_from_proto(msg: pb.BackfillRequestSpec) -> BackfillRequest:
    """Decode a backfill request."""
    partitions: tuple[str, ...] | PartitionKeyRange = (
        key_range_from_proto(msg.range) if msg.HasField("range") else tuple(msg.partition_keys)
    )
    return BackfillRequest(
        tuple(msg.selection) or None,
        partitions=partitions,
        strategy=backfill_from_proto(msg.strategy) if msg.HasField("strategy") else None,
        tags={t.key: t.value for t in msg.tags},
    )


def dynamic_request_to_proto(request: DynamicRequest) -> pb.DynamicPartitionsRequestSpec:
    """Encode an add or delete of dynamic partition keys (one message per request)."""
    keys = list(request.partition_keys)
    if isinstance(request, DeleteDynamicPartitionsRequest):
        return pb.DynamicPartitionsRequestSpec(
            partitions_def_name=request.partitions_def_name, delete_keys=keys
        )
    return pb.DynamicPartitionsRequestSpec(
        partitions_def_name=request.partitions_def_name, add_keys=keys
    )


def dynamic_request_from_proto(msg: pb.DynamicPartitionsRequestSpec) -> list[DynamicRequest]:
    """Decode one message: its additions, then its deletions (an empty one: an empty add)."""
    out: list[DynamicRequest] = []
    if msg.add_keys or not msg.delete_keys:
        out.append(
            AddDynamicPartitionsRequest(
                partitions_def_name=msg.partitions_def_name, partition_keys=tuple(msg.add_keys)
            )
        )
    if msg.delete_keys:
        out.append(
            DeleteDynamicPartitionsRequest(
                partitions_def_name=msg.partitions_def_name, partition_keys=tuple(msg.delete_keys)
            )
        )
    return out


def sensor_result_to_proto(result: SensorResult) -> pb.EvaluateSensorResponse:
    """Encode what a sensor tick asked for (the order of runs and of backfills is kept).

    Raises:
        TypeError: a run config is not JSON.
    """
    runs = [r for r in result.run_requests if isinstance(r, RunRequest)]
    backfills = [r for r in result.run_requests if isinstance(r, BackfillRequest)]
    return pb.EvaluateSensorResponse(
        run_requests=[_run_request_fields(r) for r in runs],
        backfill_requests=[_backfill_request_fields(r) for r in backfills],
        dynamic_partitions_requests=[
            dynamic_request_to_proto(r) for r in result.dynamic_partitions_requests
        ],
        cursor=result.cursor,
        skip_reason=result.skip_reason,
    )


def _dynamic(messages: Iterable[pb.DynamicPartitionsRequestSpec]) -> tuple[DynamicRequest, ...]:
    return tuple(r for msg in messages for r in dynamic_request_from_proto(msg))


def sensor_result_from_proto(msg: pb.EvaluateSensorResponse) -> SensorResult:
    """Decode a sensor reply's result: run requests first, then backfill requests.

    The reply's ``error`` is not looked at: see :func:`evaluation_error_from_proto`.
    """
    requests: list[RunRequest | BackfillRequest] = [
        run_request_from_proto(r) for r in msg.run_requests
    ]
    requests += [backfill_request_from_proto(b) for b in msg.backfill_requests]
    return SensorResult(
        run_requests=tuple(requests),
        dynamic_partitions_requests=_dynamic(msg.dynamic_partitions_requests),
        cursor=msg.cursor if msg.HasField("cursor") else None,
        skip_reason=msg.skip_reason if msg.HasField("skip_reason") else None,
    )


def schedule_result_to_proto(result: SensorResult) -> pb.EvaluateScheduleResponse:
    """Encode what a schedule tick asked for (run requests and a skip reason only).

    Raises:
        TypeError: a run config is not JSON.
        ValueError: the result asks for a backfill, dynamic partitions or a cursor, which
            schedules cannot.
    """
    if result.dynamic_partitions_requests or result.cursor is not None:
        raise ValueError("a schedule cannot request dynamic partitions or set a cursor")
    if any(isinstance(r, BackfillRequest) for r in result.run_requests):
        raise ValueError("a schedule cannot request a backfill: return rs.RunRequest(s)")
    return pb.EvaluateScheduleResponse(
        run_requests=[
            _run_request_fields(r) for r in result.run_requests if isinstance(r, RunRequest)
        ],
        skip_reason=result.skip_reason,
    )


def schedule_result_from_proto(msg: pb.EvaluateScheduleResponse) -> SensorResult:
    """Decode a schedule reply's result (its ``error`` is not looked at)."""
    return SensorResult(
        run_requests=tuple(run_request_from_proto(r) for r in msg.run_requests),
        skip_reason=msg.skip_reason if msg.HasField("skip_reason") else None,
    )


def sensor_error_to_proto(error: ErrorInfo) -> pb.EvaluateSensorResponse:
    """A sensor reply carrying only the error of a failed evaluation."""
    return pb.EvaluateSensorResponse(error=error_fields(error))


def schedule_error_to_proto(error: ErrorInfo) -> pb.EvaluateScheduleResponse:
    """A schedule reply carrying only the error of a failed evaluation."""
    return pb.EvaluateScheduleResponse(error=error_fields(error))


def evaluation_error_from_proto(
    msg: pb.EvaluateSensorResponse | pb.EvaluateScheduleResponse,
) -> ErrorInfo | None:
    """The reply's error (user code raised, timed out or crashed its worker), or ``None``."""
    return error_from_proto(msg.error) if msg.HasField("error") else None
