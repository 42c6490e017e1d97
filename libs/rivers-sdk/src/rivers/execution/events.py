"""Run events: the append-only record of everything that happens in a run."""

from __future__ import annotations

import time
import traceback
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from rivers.definitions.metadata import MetadataValue

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import events_pb2

__all__ = ["ErrorInfo", "EventKind", "RunEvent"]


class EventKind(StrEnum):
    """What a run event records."""

    RUN_STARTED = "RUN_STARTED"
    RUN_SUCCESS = "RUN_SUCCESS"
    RUN_FAILURE = "RUN_FAILURE"
    RUN_CANCELED = "RUN_CANCELED"
    STEP_STARTED = "STEP_STARTED"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    LOG = "LOG"
    ASSET_FAILED = "ASSET_FAILED"


class ErrorInfo(BaseModel):
    """An error as the user should see it: their exception type, message and traceback."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    error_type: str
    message: str
    traceback: str = ""

    @staticmethod
    def from_exception(exc: BaseException, *, skip_frames: int = 0) -> ErrorInfo:
        """Capture ``exc``, dropping the first ``skip_frames`` frames (rivers' own)."""
        tb = exc.__traceback__
        for _ in range(skip_frames):
            if tb is None or tb.tb_next is None:
                break
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        return ErrorInfo(error_type=type(exc).__qualname__, message=str(exc), traceback=text)


class RunEvent(BaseModel):
    """One event of a run; ``seq`` is assigned by storage when the event is written."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    run_id: str
    kind: EventKind
    timestamp: float
    step_key: str | None = None
    asset_key: str | None = None
    partition_key: str | None = None
    level: str = "INFO"
    message: str = ""
    metadata: dict[str, MetadataValue] = {}
    data_version: str | None = None
    error: ErrorInfo | None = None
    duration_ms: float | None = None
    attempt: int = 0
    seq: int | None = None

    @staticmethod
    def now(run_id: str, kind: EventKind, **fields: object) -> RunEvent:
        """An event stamped with the current time."""
        return RunEvent(run_id=run_id, kind=kind, timestamp=time.time(), **fields)

    def to_proto(self) -> events_pb2.RunEvent:
        """Convert to the wire message."""
        from rivers._convert.events import event_to_proto

        return event_to_proto(self)

    @staticmethod
    def from_proto(msg: events_pb2.RunEvent) -> RunEvent:
        """Build from the wire message."""
        from rivers._convert.events import event_from_proto

        return event_from_proto(msg)
