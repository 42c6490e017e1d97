"""Records kept in storage: runs, asset records, code locations."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from rivers.definitions.metadata import MetadataValue

__all__ = ["AssetRecord", "LocationRecord", "RunRecord", "RunStatus"]

_FROZEN = ConfigDict(frozen=True, extra="ignore")


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
    """A code location: a display name bound to an immutable identity."""

    model_config = _FROZEN

    identity: str
    name: str
    created_at: float
