"""Records kept in storage: runs, asset records, code locations, backfills, pools, ticks."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from rivers.definitions.metadata import MetadataValue
from rivers.execution.events import ErrorInfo

__all__ = [
    "PRIORITY_TAG",
    "AssetRecord",
    "BackfillRecord",
    "BackfillState",
    "InstigatorState",
    "InstigatorType",
    "LocationRecord",
    "PoolInfo",
    "PoolSlotHolder",
    "RunQueueConfig",
    "RunRecord",
    "RunStatus",
    "TagConcurrencyLimit",
    "TickRecord",
    "TickStatus",
    "priority_from_tags",
]

#: The run tag holding a run's queue priority (an integer; higher is claimed first).
PRIORITY_TAG = "rivers/priority"

_FROZEN = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class RunStatus(StrEnum):
    """Lifecycle of a run."""

    QUEUED = "QUEUED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"

    @property
    def is_finished(self) -> bool:
        """Whether the run has reached a final state."""
        return self in (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED)


class RunRecord(BaseModel):
    """A run as stored: identity, status, timings, tags and what it materializes."""

    model_config = _FROZEN

    run_id: str
    location_id: str
    status: RunStatus
    created_at: float
    start_time: float | None = None
    end_time: float | None = None
    tags: dict[str, str] = {}
    job_name: str | None = None
    selection: tuple[str, ...] = ()
    asset_keys: tuple[str, ...] = ()
    snapshot_id: str | None = None
    failure_reason: str | None = None
    config: dict[str, Any] | None = None
    partitions: dict[str, Any] | None = None
    heartbeat_at: float | None = None
    worker: str | None = None
    run_key: str | None = None
    priority: int = 0

    @model_validator(mode="before")
    @classmethod
    def _priority_from_tag(cls, data: Any) -> Any:
        # A run built with the priority tag and no explicit priority takes the tag's value.
        if isinstance(data, dict) and data.get("priority") is None:
            tagged = priority_from_tags(data.get("tags") or {})
            if tagged is not None:
                data = {**data, "priority": tagged}
            elif "priority" in data:
                data = {k: v for k, v in data.items() if k != "priority"}
        return data

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


def priority_from_tags(tags: dict[str, str]) -> int | None:
    """The integer in a run's ``rivers/priority`` tag, or ``None`` (absent or not an int)."""
    value = tags.get(PRIORITY_TAG) if isinstance(tags, dict) else None
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


class AssetRecord(BaseModel):
    """The latest materialization of one asset (and partition) of a code location."""

    model_config = _FROZEN

    location_id: str
    asset_key: str
    partition_key: str | None = None
    run_id: str
    event_seq: int
    timestamp: float
    data_version: str | None = None
    metadata: dict[str, MetadataValue] = {}


class LocationRecord(BaseModel):
    """A code location: a display name bound to an immutable identity, and where it serves."""

    model_config = _FROZEN

    identity: str
    name: str
    created_at: float
    endpoint: str | None = None
    last_heartbeat: float | None = None
    snapshot_id: str | None = None
    server_id: str | None = None

    def is_available(self, now: float, timeout: float) -> bool:
        """Whether its code server heartbeated within ``timeout`` seconds of ``now``."""
        return self.last_heartbeat is not None and now - self.last_heartbeat <= timeout


class BackfillState(StrEnum):
    """Lifecycle of a backfill."""

    REQUESTED = "REQUESTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_finished(self) -> bool:
        """Whether the backfill has reached a final state."""
        return self in (BackfillState.COMPLETED, BackfillState.FAILED, BackfillState.CANCELED)


class BackfillRecord(BaseModel):
    """A stored backfill: what it covers, how it runs, and how far it got.

    ``partitions`` is the serialised partition selection (the same spec the backfill was
    requested with) and ``strategy`` the serialised backfill strategy, so a backfill can be
    resumed or re-run from storage alone.
    """

    model_config = _FROZEN

    backfill_id: str
    location_id: str
    status: BackfillState
    created_at: float
    end_time: float | None = None
    asset_selection: tuple[str, ...]
    partitions: dict[str, Any]
    strategy: dict[str, Any]
    tags: dict[str, str] = {}
    requested: int
    succeeded: int = 0
    failed: int = 0
    runs_total: int = 0
    runs_done: int = 0
    failed_partitions: dict[str, str] = {}
    run_ids: tuple[str, ...] = ()
    parent_backfill_id: str | None = None
    config: dict[str, Any] | None = None

    @property
    def in_progress(self) -> int:
        """Partitions neither succeeded nor failed yet."""
        return max(self.requested - self.succeeded - self.failed, 0)


class PoolInfo(BaseModel):
    """A concurrency pool: its limits, the slots in use, and who holds or waits for them.

    A manual limit (``rivers pools set``) wins over the code default a repository declares
    (``pool_limits=``); with neither, the pool is unlimited.
    """

    model_config = _FROZEN

    name: str
    manual_limit: int | None = None
    code_limit: int | None = None
    slots_in_use: int = 0
    holders: int = 0
    waiters: int = 0

    @property
    def limit(self) -> int | None:
        """The limit in force, or ``None`` for an unlimited pool."""
        return self.manual_limit if self.manual_limit is not None else self.code_limit

    @property
    def source(self) -> Literal["manual", "code", "default"]:
        """Where the limit comes from; ``default`` means unlimited."""
        if self.manual_limit is not None:
            return "manual"
        return "code" if self.code_limit is not None else "default"


class PoolSlotHolder(BaseModel):
    """Slots of one pool held by one claim (a step of a run), under a renewable lease."""

    model_config = _FROZEN

    claim_id: str
    pool: str
    run_id: str
    step_key: str
    slots: int
    owner: str
    claimed_at: float
    lease_expires_at: float


class TickStatus(StrEnum):
    """Outcome of one evaluation of a schedule, sensor or automation."""

    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    SKIPPED = "SKIPPED"
    FAILURE = "FAILURE"


class InstigatorType(StrEnum):
    """What launches runs on its own: a schedule, a sensor, or automation conditions."""

    SCHEDULE = "SCHEDULE"
    SENSOR = "SENSOR"
    AUTOMATION = "AUTOMATION"


class TickRecord(BaseModel):
    """One evaluation of an instigator: when, its outcome, and what it requested."""

    model_config = _FROZEN

    tick_id: str
    location_id: str
    instigator: str
    type: InstigatorType
    status: TickStatus
    timestamp: float
    scheduled_time: float | None = None
    run_ids: tuple[str, ...] = ()
    backfill_ids: tuple[str, ...] = ()
    run_keys: tuple[str, ...] = ()
    skip_reason: str | None = None
    error: ErrorInfo | None = None
    cursor: str | None = None
    duration_ms: float = 0.0
    requested: int = 0


class InstigatorState(BaseModel):
    """The stored state of a schedule or sensor of a location.

    ``status`` is ``None`` while nobody has started or stopped it: the default from code
    applies.
    """

    model_config = _FROZEN

    location_id: str
    name: str
    type: InstigatorType
    status: Literal["RUNNING", "STOPPED"] | None = None
    cursor: str | None = None
    last_tick_time: float | None = None
    last_tick_status: TickStatus | None = None
    updated_at: float


class TagConcurrencyLimit(BaseModel):
    """At most ``limit`` in-progress runs with a tag (Dagster's tag concurrency limits).

    ``key`` alone limits every run carrying the tag, whatever its value; with ``value``, only
    runs whose tag has that value; with ``per_value``, each distinct value of the tag gets its
    own ``limit``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    key: str
    value: str | None = None
    limit: int
    per_value: bool = False

    @model_validator(mode="after")
    def _check(self) -> TagConcurrencyLimit:
        if not self.key:
            raise ValueError("a tag concurrency limit needs a tag key")
        if self.limit < 0:
            raise ValueError(f"tag {self.key!r}: limit {self.limit} must be >= 0")
        if self.per_value and self.value is not None:
            raise ValueError(f"tag {self.key!r}: per_value limits take no value")
        return self

    def bucket(self, tags: dict[str, str]) -> str | None:
        """The counter a run with ``tags`` counts against, or ``None`` if it is not limited."""
        if self.key not in tags:
            return None
        if self.value is not None and tags[self.key] != self.value:
            return None
        return tags[self.key] if self.per_value else ""


class RunQueueConfig(BaseModel):
    """The global run queue limits, shared by every location's daemon.

    ``max_concurrent_runs`` bounds the in-progress runs (``STARTING``, ``STARTED``,
    ``CANCELING``) of all locations together; ``None`` is unlimited.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    max_concurrent_runs: int | None = None
    tag_concurrency_limits: tuple[TagConcurrencyLimit, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> RunQueueConfig:
        if self.max_concurrent_runs is not None and self.max_concurrent_runs < 0:
            raise ValueError(f"max_concurrent_runs {self.max_concurrent_runs} must be >= 0")
        return self
