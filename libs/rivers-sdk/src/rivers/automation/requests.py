"""What sensors and schedules ask for: runs, backfills, dynamic partitions, or nothing.

These are plain frozen models: a code server evaluates user code into them and sends them to
the location's daemon (``EvaluateSensor`` / ``EvaluateSchedule``), which queues what they ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rivers.definitions.metadata import normalize_tags
from rivers.partitions import BackfillStrategy, PartitionKey, PartitionKeyRange
from rivers.planning.selection import normalize_selection

__all__ = [
    "AddDynamicPartitionsRequest",
    "BackfillRequest",
    "DeleteDynamicPartitionsRequest",
    "RunRequest",
    "SensorResult",
    "SkipReason",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _selection(value: object) -> tuple[str, ...] | None:
    """A selection in canonical form; assets and jobs' keys become strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return normalize_selection(value)
    if isinstance(value, Iterable):
        return normalize_selection(list(value))
    return normalize_selection([value])


def _tags(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"tags must be a mapping of strings to strings, not {value!r}")
    try:
        return normalize_tags(value)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class RunRequest(BaseModel):
    """A run a sensor or schedule asks for.

    Args:
        selection: what to materialize (keys, assets, ``"group:x"``, ``"+key"`` ...); default
            the sensor's or schedule's target.
        job: a job of the location to run instead of a selection.
        partition: the partition key, for partitioned assets.
        run_config: run config per asset (``{"asset": {"field": value}}``).
        tags: tags of the run.
        run_key: idempotency key: a second request with a key already launched by the same
            sensor or schedule is dropped, even after a daemon restart.

    Example:
        >>> rs.RunRequest(run_key="orders-2024-01-02.csv", tags={"file": "orders-2024-01-02.csv"})
        RunRequest(...)
    """

    model_config = _FROZEN

    selection: tuple[str, ...] | None = None
    job: str | None = None
    partition: str | None = None
    run_config: dict[str, Any] | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    run_key: str | None = None

    def __init__(self, selection: object = None, **data: Any) -> None:
        super().__init__(selection=selection, **data)

    @field_validator("selection", mode="before")
    @classmethod
    def _check_selection(cls, value: object) -> tuple[str, ...] | None:
        return _selection(value)

    @field_validator("partition", mode="before")
    @classmethod
    def _partition(cls, value: object) -> object:
        return str(value) if isinstance(value, PartitionKey) else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> dict[str, str]:
        return _tags(value)


class BackfillRequest(BaseModel):
    """A backfill a sensor asks for, executed like one launched from the UI or API.

    Args:
        selection: the (partitioned) assets to backfill; default the sensor's target.
        partitions: partition keys, or a ``rs.PartitionKeyRange``.
        strategy: how partitions become runs; default the assets' declared strategy.
        tags: tags of the backfill and its runs.
    """

    model_config = _FROZEN

    selection: tuple[str, ...] | None = None
    partitions: tuple[str, ...] | PartitionKeyRange
    strategy: BackfillStrategy | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    def __init__(self, selection: object = None, **data: Any) -> None:
        super().__init__(selection=selection, **data)

    @field_validator("selection", mode="before")
    @classmethod
    def _check_selection(cls, value: object) -> tuple[str, ...] | None:
        return _selection(value)

    @field_validator("partitions", mode="before")
    @classmethod
    def _partitions(cls, value: object) -> object:
        if isinstance(value, PartitionKeyRange):
            return value
        if isinstance(value, str | PartitionKey):
            return (str(value),)
        if isinstance(value, Iterable):
            return tuple(str(v) for v in value)
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> dict[str, str]:
        return _tags(value)


class AddDynamicPartitionsRequest(BaseModel):
    """Add keys to a dynamic partitions definition (``PartitionsDefinition.dynamic(name)``)."""

    model_config = _FROZEN

    partitions_def_name: str
    partition_keys: tuple[str, ...]


class DeleteDynamicPartitionsRequest(BaseModel):
    """Remove keys from a dynamic partitions definition."""

    model_config = _FROZEN

    partitions_def_name: str
    partition_keys: tuple[str, ...]


class SkipReason(BaseModel):
    """Why a tick requested nothing (shown on the tick)."""

    model_config = _FROZEN

    message: str = ""

    def __init__(self, message: str = "", **data: Any) -> None:
        super().__init__(message=message, **data)


class SensorResult(BaseModel):
    """Everything one sensor tick asks for.

    Args:
        run_requests: runs and backfills to launch (``rs.RunRequest`` / ``rs.BackfillRequest``).
        cursor: the new cursor, stored for the next tick (``None``: keep the current one).
        skip_reason: why nothing was requested (ignored when something was).
        dynamic_partitions_requests: keys to add to or delete from dynamic partitions,
            applied before the runs are queued.
    """

    model_config = _FROZEN

    run_requests: tuple[RunRequest | BackfillRequest, ...] = ()
    cursor: str | None = None
    skip_reason: str | None = None
    dynamic_partitions_requests: tuple[
        AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest, ...
    ] = ()

    @field_validator("skip_reason", mode="before")
    @classmethod
    def _skip(cls, value: object) -> object:
        return value.message if isinstance(value, SkipReason) else value

    @field_validator("run_requests", "dynamic_partitions_requests", mode="before")
    @classmethod
    def _sequence(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value
