"""Re-executing a finished run: all of it again, or only what did not finish (from failure).

A re-execution is a new ``QUEUED`` run of the same location and snapshot, with the same
partitions, config (the part of it for the re-executed assets) and tags, plus
``rivers/parent_run_id`` (the run re-executed) and ``rivers/root_run_id`` (the first run of
the chain). From failure, it selects the assets the original did not materialize: those of
failed steps and of steps skipped or never reached; an asset counts as done only when it was
materialized for every partition of the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.definitions.keys import key_name
from rivers.execution.events import EventKind
from rivers.planning.targets import queued_run_record
from rivers.storage.records import RunRecord
from rivers_ui.errors import FailedPrecondition
from rivers_ui.runs import check_config, get_run

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog
    from rivers_ui.planner import PlannerClient

__all__ = ["PARENT_RUN_TAG", "ROOT_RUN_TAG", "not_done_assets", "reexecute_run"]

#: The run a re-execution re-executes.
PARENT_RUN_TAG = "rivers/parent_run_id"
#: The first run of a chain of re-executions.
ROOT_RUN_TAG = "rivers/root_run_id"
_PAGE = 1000


def _materialized(storage: Storage, run_id: str) -> dict[str, set[str | None]]:
    """The partition keys (``None``: unpartitioned) each asset was materialized for."""
    done: dict[str, set[str | None]] = {}
    after = 0
    while True:
        events = storage.get_run_events(
            run_id, after_seq=after, limit=_PAGE, kinds=[EventKind.ASSET_MATERIALIZATION]
        )
        for event in events:
            if event.asset_key is not None:
                done.setdefault(event.asset_key, set()).add(event.partition_key)
        if len(events) < _PAGE:
            return done
        after = events[-1].seq or after


def not_done_assets(
    asset_keys: Sequence[str],
    materialized: Mapping[str, set[str | None]],
    partition_keys: Sequence[str] | None,
) -> list[str]:
    """The run's assets (in plan order) not materialized for all of its partitions."""
    wanted = set(partition_keys or ())
    left = []
    for key in asset_keys:
        seen = materialized.get(key, set())
        if None in seen or (seen and wanted <= seen):
            continue
        left.append(key)
    return left


def _config_for(config: Mapping[str, Any] | None, keys: Sequence[str]) -> dict[str, Any] | None:
    """The part of ``config`` naming one of ``keys`` (by key or by name)."""
    if not config:
        return None
    names = set(keys) | {key_name(k) for k in keys}
    kept = {k: v for k, v in config.items() if k in names}
    return kept or None


async def reexecute_run(
    storage: Storage,
    catalog: Catalog,
    planner: PlannerClient,
    run_id: str,
    *,
    from_failure: bool,
) -> RunRecord:
    """Queue a re-execution of the finished run ``run_id``; returns the new run.

    Raises:
        NotFound: no such run.
        FailedPrecondition: the run has not finished, its location or snapshot is gone, or
            (from failure) every asset of the run was materialized.
        InvalidArgument: the planner refused the selection or partitions.
        Unavailable: the planner cannot be reached.
    """
    run = await asyncio.to_thread(get_run, storage, run_id)
    if not run.status.is_finished:
        raise FailedPrecondition(
            f"run {run_id} is {run.status}: only a finished run can be re-executed"
        )
    location = await asyncio.to_thread(storage.get_location, run.location_id)
    if location is None:
        raise FailedPrecondition(f"the code location of run {run_id} is no longer registered")
    snapshot_id = run.snapshot_id
    if snapshot_id is None or await asyncio.to_thread(catalog.snapshot, snapshot_id) is None:
        snapshot_id = (await asyncio.to_thread(catalog.current_snapshot, location)).snapshot_id
    selection = list(run.selection) or list(run.asset_keys)
    if from_failure:
        whole = await planner.plan_run(snapshot_id, list(run.asset_keys), run.partitions)
        done = await asyncio.to_thread(_materialized, storage, run_id)
        selection = not_done_assets(whole.asset_keys, done, whole.partition_keys)
        if not selection:
            raise FailedPrecondition(
                f"run {run_id} materialized all of its assets: nothing to re-execute from failure"
            )
    plan = await planner.plan_run(snapshot_id, selection, run.partitions)
    config = _config_for(run.config, plan.asset_keys)
    snapshot = await asyncio.to_thread(catalog.snapshot, snapshot_id)
    if snapshot is not None:
        check_config(snapshot, plan.asset_keys, config)
    tags = {
        **run.tags,
        PARENT_RUN_TAG: run.run_id,
        ROOT_RUN_TAG: run.tags.get(ROOT_RUN_TAG, run.run_id),
    }
    record = queued_run_record(
        location_id=run.location_id,
        snapshot_id=snapshot_id,
        plan=plan,
        keys=plan.partition_keys,
        partitions=run.partitions,
        config=config,
        tags=tags,
        job_name=run.job_name,
    )
    await asyncio.to_thread(storage.add_run, record)
    return record
