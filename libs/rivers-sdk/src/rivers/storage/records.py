"""Records kept in storage: runs, asset records, code locations, backfills, pools."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rivers.definitions.metadata import MetadataValue

__all__ = [
    "AssetRecord",
    "BackfillRecord",
    "BackfillState",
    "LocationRecord",
    "PoolInfo",
    "PoolSlotHolder",
    "RunRecord",
    "RunStatus",
]

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

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


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
