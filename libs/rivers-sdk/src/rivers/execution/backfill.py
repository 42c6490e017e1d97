"""Running backfills inline: one stored backfill, its runs in order, progress as they finish."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rivers.execution.config import validate_run_config
from rivers.execution.events import EventKind
from rivers.execution.result import MaterializeResult
from rivers.execution.run import execute_inline
from rivers.partitions.spec import selection_to_json
from rivers.planning.backfill import plan_backfill
from rivers.storage import BackfillRecord, BackfillState

if TYPE_CHECKING:
    from rivers.definitions.repository import CodeRepository
    from rivers.partitions import BackfillStrategy, PartitionKeys

__all__ = ["BACKFILL_TAG", "BackfillStatus", "run_backfill"]

#: The run tag naming the backfill a run belongs to.
BACKFILL_TAG = "rivers/backfill"


class BackfillStatus:
    """Where a backfill stands: partition counts, failed partitions and its runs.

    Attributes:
        backfill_id: the stored backfill's id (``repo.get_backfill(backfill_id)``).
        status: ``REQUESTED``, ``IN_PROGRESS``, ``COMPLETED``, ``FAILED`` or ``CANCELED``.
        requested: partitions the backfill covers.
        succeeded: partitions every selected asset materialized.
        failed: partitions some asset failed (raised, or ``mark_partition_failed``).
        in_progress: partitions not finished yet.
        failed_partitions: failed partition keys with their reasons.
        run_ids: the backfill's runs so far.
    """

    __slots__ = ("_record",)

    def __init__(self, record: BackfillRecord) -> None:
        self._record = record

    backfill_id = property(lambda self: self._record.backfill_id)
    status = property(lambda self: self._record.status)
    requested = property(lambda self: self._record.requested)
    succeeded = property(lambda self: self._record.succeeded)
    failed = property(lambda self: self._record.failed)
    in_progress = property(lambda self: self._record.in_progress)
    failed_partitions = property(lambda self: dict(self._record.failed_partitions))
    run_ids = property(lambda self: list(self._record.run_ids))
    runs_total = property(lambda self: self._record.runs_total)
    runs_done = property(lambda self: self._record.runs_done)

    @property
    def record(self) -> BackfillRecord:
        """The stored record behind this status."""
        return self._record

    def __repr__(self) -> str:
        r = self._record
        return (
            f"BackfillStatus({r.backfill_id!r}, {r.status}, requested={r.requested}, "
            f"succeeded={r.succeeded}, failed={r.failed}, in_progress={r.in_progress})"
        )


def _failed_partitions(result: MaterializeResult, chunk: PartitionKeys) -> dict[str, str]:
    failed: dict[str, str] = {}
    for event in result.events:
        if event.kind is EventKind.ASSET_FAILED and event.partition_key is not None:
            failed.setdefault(event.partition_key, f"{event.asset_key}: {event.message}")
    if not result.success and not failed:
        # The run failed without per-partition outcomes (e.g. an input could not load in a
        # step before any partition was attempted): every partition of the run failed.
        reason = result.failures[0].message if result.failures else "run failed"
        failed = dict.fromkeys(chunk, reason)
    return failed


def run_backfill(
    repo: CodeRepository,
    selection: str | Iterable[object] | None,
    partitions: Any,
    strategy: BackfillStrategy | None,
    *,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    on_progress: Callable[[BackfillStatus], None] | None = None,
    parent_backfill_id: str | None = None,
) -> BackfillStatus:
    """Plan, store and run a backfill now, run after run; returns its final status.

    Raises:
        PartitionError: the assets or partitions cannot be backfilled together.
        RunConfigError: invalid run config (checked before the first run).
    """
    storage = repo.storage
    plan = plan_backfill(repo.snapshot, selection, partitions, strategy, storage=storage)
    validate_run_config(repo.assets, plan.plan.asset_keys, config)  # before anything is stored
    backfill_id = uuid.uuid4().hex[:12]
    record = BackfillRecord(
        backfill_id=backfill_id,
        location_id=repo.location_id(),
        status=BackfillState.IN_PROGRESS,
        created_at=time.time(),
        asset_selection=plan.plan.selection,
        partitions=selection_to_json(partitions) or {"all": True},
        strategy=plan.strategy.model_dump(mode="json"),
        tags=dict(tags or {}),
        requested=plan.requested,
        runs_total=len(plan.runs),
        parent_backfill_id=parent_backfill_id,
    )
    storage.add_backfill(record)
    if on_progress is not None:
        on_progress(BackfillStatus(record))
    run_tags = {**(tags or {}), BACKFILL_TAG: backfill_id}
    state = BackfillState.FAILED
    try:
        for chunk in plan.runs:
            result = execute_inline(
                repo,
                selection=plan.plan.selection,
                config=config,
                tags=run_tags,
                partition_keys=chunk,
            )
            failed = _failed_partitions(result, chunk)
            record = storage.record_backfill_run(
                backfill_id,
                run_id=result.run_id,
                succeeded=len(chunk) - len(failed),
                failed_partitions=failed,
            )
            if on_progress is not None:
                on_progress(BackfillStatus(record))
        state = BackfillState.COMPLETED if record.failed == 0 else BackfillState.FAILED
    except KeyboardInterrupt:
        state = BackfillState.CANCELED
        raise
    finally:
        record = storage.update_backfill(backfill_id, status=state, end_time=time.time())
    return BackfillStatus(record)
