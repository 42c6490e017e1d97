"""Launching, reading, cancelling and retrying backfills.

A launched backfill is validated by the planner and stored ``REQUESTED`` (with the same field
values ``rivers.execution.backfill.prepare_backfill`` stores); its location's daemon claims it
and queues its runs. A retry of the failed partitions is a new backfill of its own, planned
the same way and pointing at its parent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.partitions import BackfillStrategy
from rivers.storage.records import BackfillRecord, BackfillState
from rivers_ui.errors import FailedPrecondition, InvalidArgument, NotFound
from rivers_ui.runs import check_config

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers.storage.records import LocationRecord
    from rivers_ui.catalog import Catalog
    from rivers_ui.planner import PlannerClient

__all__ = ["cancel_backfill", "get_backfill", "launch_backfill", "retry_backfill_failures"]


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
    """Validate a backfill with the planner and store it for its location's daemon.

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
    return await _store(
        storage, catalog, planner, loc, selection, partitions, strategy, config, tags, None
    )


async def _store(
    storage: Storage,
    catalog: Catalog,
    planner: PlannerClient,
    loc: LocationRecord,
    selection: Sequence[str],
    partitions: dict[str, Any] | None,
    strategy: BackfillStrategy | None,
    config: dict[str, Any] | None,
    tags: Mapping[str, str],
    parent: str | None,
) -> BackfillRecord:
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
        parent_backfill_id=parent,
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


def cancel_backfill(storage: Storage, backfill_id: str) -> BackfillRecord:
    """Cancel a backfill, its queued runs, and ask its running runs to stop.

    No more runs are queued for it; running ones stop as after ``CancelRun``. Cancelling a
    canceled backfill again changes nothing.

    Raises:
        NotFound: no such backfill.
        FailedPrecondition: it has already completed or failed.
    """
    get_backfill(storage, backfill_id)  # NotFound, rather than the store's error
    # One transaction: the backfill, its queued runs (CANCELED) and running ones (CANCELING).
    canceled = storage.cancel_backfill(backfill_id)
    if canceled.status is not BackfillState.CANCELED:  # it finished first
        raise FailedPrecondition(
            f"backfill {backfill_id!r} has already finished ({canceled.status.value})"
        )
    return canceled


async def retry_backfill_failures(
    storage: Storage, catalog: Catalog, planner: PlannerClient, backfill_id: str
) -> BackfillRecord:
    """A new ``REQUESTED`` backfill of the partitions that failed in a finished backfill.

    It has the parent's assets, strategy, config and tags, is planned against the location's
    current definitions, and records its parent in ``parent_backfill_id``.

    Raises:
        NotFound: no such backfill, or its code location is gone.
        FailedPrecondition: it has not finished, or no partition of it failed.
        InvalidArgument: the planner refused (the assets or partitions changed since).
        Unavailable: the planner cannot be reached.
    """
    parent = await asyncio.to_thread(get_backfill, storage, backfill_id)
    if not parent.status.is_finished:
        raise FailedPrecondition(
            f"backfill {backfill_id!r} has not finished ({parent.status.value}): "
            "wait for it, or cancel it, before re-running its failures"
        )
    if not parent.failed_partitions:
        raise FailedPrecondition(f"backfill {backfill_id!r} has no failed partitions")
    loc = await asyncio.to_thread(storage.get_location, parent.location_id)
    if loc is None:
        raise NotFound(f"the code location of backfill {backfill_id!r} is no longer registered")
    return await _store(
        storage,
        catalog,
        planner,
        loc,
        parent.asset_selection,
        {"keys": sorted(parent.failed_partitions)},
        BackfillStrategy.model_validate(parent.strategy),
        parent.config,
        parent.tags,
        backfill_id,
    )
