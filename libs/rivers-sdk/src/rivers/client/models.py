"""What the client returns besides the SDK's own records (runs, backfills, events, pools)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from rivers.definitions.snapshot import AssetSnap
from rivers.execution.events import RunEvent
from rivers.storage.records import PoolInfo, PoolSlotHolder

__all__ = ["AssetDetails", "AssetSummary", "CodeLocationInfo", "PoolDetails"]

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
