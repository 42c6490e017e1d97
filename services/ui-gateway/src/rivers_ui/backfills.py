"""Launching and reading backfills.

A launched backfill is validated by the planner and stored ``REQUESTED`` (with the same field
values ``rivers.execution.backfill.prepare_backfill`` stores); its location's code server
claims it and executes its runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.partitions import BackfillStrategy
from rivers.storage.records import BackfillRecord, BackfillState
from rivers_ui.errors import InvalidArgument, NotFound
from rivers_ui.runs import check_config

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog
    from rivers_ui.planner import PlannerClient

__all__ = ["get_backfill", "launch_backfill"]


async def launch_backfill(
    storage: Storage,
    catalog: Catalog,
    planner: PlannerClient,
    *,
    location: str | None,
    selection: Sequence[str],
    partitions: dict[str, Any] | None,
    strategy: BackfillStrategy | None,
    config: dict[str, Any] | None,
    tags: Mapping[str, str],
) -> BackfillRecord:
    """Validate a backfill with the planner and store it for its location's code server.

    Args:
        storage: the shared store.
        catalog: locations and snapshots.
        planner: validates the assets, partitions and strategy.
        location: the location's name (optional when only one is registered).
        selection: the assets (one partitions definition); empty: every asset.
        partitions: the partition selection's JSON form; ``None``: every partition.
        strategy: how partitions become runs; ``None``: the assets' own, else one per run.
        config: run config for every run.
        tags: tags of the backfill and its runs.

    Raises:
        NotFound: no such location.
        InvalidArgument: the planner refused the backfill, or config does not fit.
        FailedPrecondition: the location has not published a snapshot.
        Unavailable: the planner cannot be reached.
    """
    loc = await asyncio.to_thread(catalog.location, location)
    snapshot = await asyncio.to_thread(catalog.current_snapshot, loc)
    chosen = partitions if partitions is not None else {"all": True}
    plan = await planner.plan_backfill(snapshot.snapshot_id, list(selection), chosen, strategy)
    check_config(snapshot, plan.asset_keys, config)
    record = BackfillRecord(
        backfill_id=uuid.uuid4().hex[:12],
        location_id=loc.identity,
        status=BackfillState.REQUESTED,
        created_at=time.time(),
        asset_selection=plan.selection,
        partitions=chosen,
        strategy=plan.strategy.model_dump(mode="json"),
        tags=dict(tags),
        requested=plan.requested,
        runs_total=plan.run_count,
        config=config or None,
    )
    await asyncio.to_thread(storage.add_backfill, record)
    return record


def get_backfill(storage: Storage, backfill_id: str) -> BackfillRecord:
    """The stored backfill and its progress.

    Raises:
        NotFound: no such backfill.
    """
    if not backfill_id:
        raise InvalidArgument("backfill_id is required")
    backfill = storage.get_backfill(backfill_id)
    if backfill is None:
        raise NotFound(f"no backfill {backfill_id!r}")
    return backfill
