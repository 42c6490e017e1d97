"""Running backfills inline: one stored backfill, its runs in order, progress as they finish."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rivers.execution.config import validate_run_config
from rivers.execution.events import EventKind
from rivers.execution.result import MaterializeResult
from rivers.execution.run import config_json, execute_inline
from rivers.partitions.spec import selection_to_json
from rivers.planning.backfill import BackfillPlan, plan_backfill
from rivers.storage import BackfillRecord, BackfillState

if TYPE_CHECKING:
    from rivers.definitions.repository import CodeRepository
    from rivers.partitions import BackfillStrategy, PartitionKeys

__all__ = [
    "BACKFILL_TAG",
    "BackfillStatus",
    "execute_backfill",
    "execute_stored_backfill",
    "prepare_backfill",
    "run_backfill",
]

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


def prepare_backfill(
    repo: CodeRepository,
    selection: str | Iterable[object] | None,
    partitions: Any,
    strategy: BackfillStrategy | None,
    *,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    parent_backfill_id: str | None = None,
    status: BackfillState = BackfillState.IN_PROGRESS,
) -> tuple[BackfillRecord, BackfillPlan]:
    """Plan and validate a backfill and store it (``IN_PROGRESS``, or ``REQUESTED`` to queue).

    Raises:
        PartitionError: the assets or partitions cannot be backfilled together.
        RunConfigError: invalid run config (nothing is stored).
    """
    plan = plan_backfill(repo.snapshot, selection, partitions, strategy, storage=repo.storage)
    validate_run_config(repo.assets, plan.plan.asset_keys, config)
    record = BackfillRecord(
        backfill_id=uuid.uuid4().hex[:12],
        location_id=repo.location_id(),
        status=status,
        created_at=time.time(),
        asset_selection=plan.plan.selection,
        partitions=selection_to_json(partitions) or {"all": True},
        strategy=plan.strategy.model_dump(mode="json"),
        tags=dict(tags or {}),
        requested=plan.requested,
        runs_total=len(plan.runs),
        parent_backfill_id=parent_backfill_id,
        config=config_json(config),
    )
    repo.storage.add_backfill(record)
    return record, plan


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
        RunConfigError: invalid run config (checked before anything is stored).
    """
    record, plan = prepare_backfill(
        repo,
        selection,
        partitions,
        strategy,
        tags=tags,
        config=config,
        parent_backfill_id=parent_backfill_id,
    )
    return execute_backfill(repo, record, plan, config=config, on_progress=on_progress)


def execute_stored_backfill(
    repo: CodeRepository,
    backfill_id: str,
    *,
    on_progress: Callable[[BackfillStatus], None] | None = None,
) -> BackfillStatus:
    """Run a stored backfill (requested through the API, or interrupted) to its end.

    The plan is rebuilt from the stored selection, partitions and strategy; runs already
    recorded (an interrupted backfill) are not run again.

    Raises:
        KeyError: no such backfill.
        RiversError: it has already finished.
    """
    from rivers.errors import RiversError
    from rivers.partitions import BackfillStrategy
    from rivers.partitions.spec import selection_from_json

    record = repo.storage.get_backfill(backfill_id)
    if record is None:
        raise KeyError(f"no backfill {backfill_id!r}")
    if record.status.is_finished:
        raise RiversError(f"backfill {backfill_id} already finished ({record.status})")
    partitions = None if record.partitions.get("all") else selection_from_json(record.partitions)
    plan = plan_backfill(
        repo.snapshot,
        list(record.asset_selection),
        partitions,
        BackfillStrategy.model_validate(record.strategy),
        storage=repo.storage,
    )
    record = repo.storage.update_backfill(
        backfill_id, status=BackfillState.IN_PROGRESS, runs_total=len(plan.runs)
    )
    return execute_backfill(
        repo, record, plan, config=record.config, on_progress=on_progress, skip=record.runs_done
    )


def execute_backfill(
    repo: CodeRepository,
    record: BackfillRecord,
    plan: BackfillPlan,
    *,
    config: Mapping[str, Any] | None = None,
    on_progress: Callable[[BackfillStatus], None] | None = None,
    skip: int = 0,
) -> BackfillStatus:
    """Execute a stored backfill's runs in order (after the first ``skip``); final status."""
    storage = repo.storage
    backfill_id = record.backfill_id
    if on_progress is not None:
        on_progress(BackfillStatus(record))
    run_tags = {**record.tags, BACKFILL_TAG: backfill_id}
    state = BackfillState.FAILED
    try:
        for chunk in plan.runs[skip:]:
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
