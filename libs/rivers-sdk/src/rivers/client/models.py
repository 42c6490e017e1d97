"""What the client returns besides the SDK's own records (runs, backfills, events, pools)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from rivers.definitions.snapshot import AssetSnap
from rivers.execution.events import RunEvent
from rivers.storage.records import InstigatorType, PoolInfo, PoolSlotHolder, TickStatus

__all__ = ["AssetDetails", "AssetSummary", "CodeLocationInfo", "InstigatorInfo", "PoolDetails"]

_FROZEN = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class CodeLocationInfo(BaseModel):
    """A registered code location and whether its code server is alive.

    Attributes:
        identity: immutable id (UUID) the location's history is stored under.
        name: display name (``repo = rs.CodeRepository(name=...)``).
        endpoint: gRPC address of its code server, when one has registered.
        last_heartbeat: POSIX seconds of the code server's last heartbeat.
        snapshot_id: id of the definitions snapshot it serves now.
        status: ``"available"`` while the heartbeat is recent, else ``"unavailable"``.
    """

    model_config = _FROZEN

    identity: str
    name: str
    endpoint: str | None = None
    last_heartbeat: float | None = None
    snapshot_id: str | None = None
    status: Literal["available", "unavailable"]

    @property
    def available(self) -> bool:
        """Whether the code server heartbeated recently."""
        return self.status == "available"


class AssetSummary(BaseModel):
    """An asset, the code location defining it, and its latest materialization.

    Attributes:
        location: name of the code location.
        asset: the asset's definition as the location's snapshot describes it.
        last_materialized_at: POSIX seconds of the latest materialization (unpartitioned
            assets only; partitioned ones have one per partition).
        last_run_id: the run of that materialization.
    """

    model_config = _FROZEN

    location: str
    asset: AssetSnap
    last_materialized_at: float | None = None
    last_run_id: str | None = None

    @property
    def key(self) -> str:
        """The asset key."""
        return self.asset.key


class AssetDetails(BaseModel):
    """An asset with its materialization history.

    Attributes:
        summary: the asset and its latest materialization.
        materializations: ``ASSET_MATERIALIZATION`` events, newest first (the latest 100).
    """

    model_config = _FROZEN

    summary: AssetSummary
    materializations: tuple[RunEvent, ...] = ()


class PoolDetails(BaseModel):
    """A concurrency pool and the claims holding its slots.

    Attributes:
        info: limits and usage.
        holders: the claims holding slots, oldest first.
    """

    model_config = _FROZEN

    info: PoolInfo
    holders: tuple[PoolSlotHolder, ...] = ()


class InstigatorInfo(BaseModel):
    """A schedule, a sensor or a location's automation conditions, with its state.

    Attributes:
        location_id: identity of the code location defining it.
        name: the schedule's or sensor's name; ``"automation"`` for the automation conditions.
        type: schedule, sensor or automation.
        running: whether the daemon evaluates it: switched on or off through the API, else
            the default from code (``default_status``; the automation conditions run by
            default).
        cursor: a sensor's cursor after its latest tick.
        last_tick_time: POSIX seconds its latest tick started.
        last_tick_status: how its latest tick ended.
        next_tick_time: while running, a schedule's next cron time or a sensor's earliest
            next evaluation (latest tick + minimum interval; unknown before its first tick).
        cron: a schedule's cron expression.
        minimum_interval: a sensor's minimum seconds between evaluations.
    """

    model_config = _FROZEN

    location_id: str
    name: str
    type: InstigatorType
    running: bool
    cursor: str | None = None
    last_tick_time: float | None = None
    last_tick_status: TickStatus | None = None
    next_tick_time: float | None = None
    cron: str | None = None
    minimum_interval: float | None = None
