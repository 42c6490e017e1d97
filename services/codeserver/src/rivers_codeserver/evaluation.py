"""Evaluating one sensor or schedule tick in this process, into its gRPC reply.

Used by the evaluation workers (sync sensors, every schedule: :mod:`.evaluation_worker`) and
by the server itself for async sensors, which run on its event loop. What the user's code
raised comes back in the reply's ``error`` with the user's type, message and traceback (the
frames of rivers' own evaluation machinery left out); so does a result that cannot be sent.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rivers._convert.automation import (
    schedule_error_to_proto,
    schedule_result_to_proto,
    sensor_error_to_proto,
    sensor_result_to_proto,
)
from rivers.automation import Schedule, ScheduleContext, Sensor, SensorContext
from rivers.execution.events import ErrorInfo

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import codelocation_pb2 as pb
    from rivers.storage import Storage

__all__ = [
    "EVALUATION_TIMEOUT",
    "WORKER_CRASHED",
    "evaluate_async_sensor",
    "evaluate_schedule",
    "evaluate_sensor",
    "failure",
    "user_error",
]

EVALUATION_TIMEOUT = "EvaluationTimeout"
WORKER_CRASHED = "WorkerCrashed"

# Frames of these directories come before the user's function: left out of tracebacks.
_OURS = (
    str(Path(__file__).resolve().parent),
    str(Path(sys.modules[Sensor.__module__].__file__ or ".").resolve().parent),
    str(Path(asyncio.__file__).resolve().parent),
)


def _internal(tb: TracebackType) -> bool:
    return str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(_OURS)


def user_error(exc: BaseException) -> ErrorInfo:
    """The error as the user should see it: their type, message and frames."""
    skip = 0
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and _internal(tb):
        skip += 1
        tb = tb.tb_next
    return ErrorInfo.from_exception(exc, skip_frames=skip)


def failure(error_type: str, message: str) -> ErrorInfo:
    """An evaluation that failed outside the user's code (timeout, crashed worker)."""
    return ErrorInfo(error_type=error_type, message=message)


def evaluate_sensor(
    sensor: Sensor,
    *,
    cursor: str | None,
    last_tick_time: float | None,
    storage: Storage | None,
) -> pb.EvaluateSensorResponse:
    """Run a sync sensor once here (blocking), with the stored cursor and last tick time."""
    context = SensorContext(
        sensor.name, cursor=cursor, last_tick_time=last_tick_time, storage=storage
    )
    try:
        return sensor_result_to_proto(sensor.evaluate(context))
    except Exception as exc:  # the user's code, or a result that cannot be sent
        return sensor_error_to_proto(user_error(exc))


async def evaluate_async_sensor(
    sensor: Sensor,
    *,
    cursor: str | None,
    last_tick_time: float | None,
    storage: Storage | None,
    timeout: float,
) -> pb.EvaluateSensorResponse:
    """Run an async sensor on the running event loop, for at most ``timeout`` seconds."""
    context = SensorContext(
        sensor.name, cursor=cursor, last_tick_time=last_tick_time, storage=storage
    )
    try:
        result = await asyncio.wait_for(sensor.evaluate_async(context), timeout)
        return sensor_result_to_proto(result)
    except TimeoutError:
        return sensor_error_to_proto(
            failure(
                EVALUATION_TIMEOUT,
                f"sensor {sensor.name!r} did not finish within {timeout:g}s and was cancelled",
            )
        )
    except Exception as exc:
        return sensor_error_to_proto(user_error(exc))


def evaluate_schedule(
    schedule: Schedule, *, scheduled_time: float, storage: Storage | None
) -> pb.EvaluateScheduleResponse:
    """Run a schedule's tick here (blocking); the time is shown in the schedule's zone."""
    when = datetime.fromtimestamp(scheduled_time, UTC).astimezone(ZoneInfo(schedule.timezone))
    context = ScheduleContext(schedule.name, when, storage=storage)
    try:
        return schedule_result_to_proto(schedule.evaluate(context))
    except Exception as exc:
        return schedule_error_to_proto(user_error(exc))
