"""Running a plan inline: the run record, config validation, the executor, the result."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.definitions.metadata import normalize_tags
from rivers.errors import RiversError
from rivers.execution.config import validate_run_config
from rivers.execution.core import RunOutcome
from rivers.execution.eventlog import EventListener, EventLog
from rivers.execution.events import EventKind, RunEvent
from rivers.execution.executor import Executor
from rivers.execution.io import InputContext
from rivers.execution.launch import drive_run
from rivers.execution.partitioned import partition_tags, run_partition_keys
from rivers.execution.result import MaterializeResult
from rivers.execution.runcontext import RunContext
from rivers.planning.plan import build_plan
from rivers.storage import RunRecord, RunStatus
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.definitions.repository import CodeRepository
    from rivers.partitions import PartitionKeys

__all__ = ["execute_inline"]

log = get_logger("rivers.execution")


def execute_inline(
    repo: CodeRepository,
    *,
    selection: str | Iterable[object] | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    executor: Executor | None = None,
    job_name: str | None = None,
    listeners: Sequence[EventListener] = (),
    partition: Any = None,
    partition_keys: PartitionKeys | None = None,
) -> MaterializeResult:
    """Plan, validate and execute a run of ``repo`` in this process.

    ``partition`` (a key, ``rs.PartitionKey``, ``rs.PartitionKeyRange`` or list of keys) or
    already resolved ``partition_keys`` choose the partitions of the run's partitioned assets.

    Raises:
        SelectionError: the selection names nothing.
        PartitionError: partitions are missing, invalid, or the assets' definitions differ.
        RunConfigError: run config does not validate (nothing was run or stored).
        StorageError: the run's events could not be written.
    """
    snapshot = repo.snapshot
    plan = build_plan(snapshot, selection)
    keys = run_partition_keys(repo, plan, partition, partition_keys)
    try:
        run_tags = normalize_tags(tags)
    except TypeError as exc:
        raise RiversError(f"run {exc}") from None
    if keys is not None:
        run_tags.update(partition_tags(keys))
    configs = validate_run_config(repo.assets, plan.asset_keys, config)
    storage = repo.storage
    location_id = repo.location_id()
    run_id = uuid.uuid4().hex
    now = time.time()
    storage.add_run(
        RunRecord(
            run_id=run_id,
            location_id=location_id,
            status=RunStatus.STARTED,
            created_at=now,
            start_time=now,
            tags=run_tags,
            job_name=job_name,
            selection=plan.selection,
            asset_keys=plan.asset_keys,
            snapshot_id=plan.snapshot_id,
        )
    )
    events = EventLog(storage, location_id=location_id, listeners=listeners)
    run = RunContext(
        run_id=run_id,
        location_id=location_id,
        plan=plan,
        assets=repo.assets,
        inputs=repo.resolved_inputs,
        configs=configs,
        default_io=repo.io_handler,
        storage=storage,
        events=events,
        partition_keys=keys,
    )
    bound = log.bind(run_id=run_id, location=repo.name)
    bound.debug("run.started", steps=len(plan.steps))
    events.emit(RunEvent.now(run_id, EventKind.RUN_STARTED, message=f"{len(plan.steps)} steps"))
    status = RunStatus.CANCELED
    reason: str | None = "interrupted"
    try:
        outcome = drive_run(run, executor or repo.executor, events, pool_limits=repo.pool_limits)
        status, kind, reason = _ending(outcome, run)
        events.emit(
            RunEvent.now(
                run_id,
                kind,
                message=reason or "",
                level="INFO" if status is RunStatus.SUCCESS else "ERROR",
            )
        )
    finally:
        try:
            stored = events.close()
        finally:
            storage.update_run(run_id, status=status, end_time=time.time(), failure_reason=reason)
    bound.debug("run.finished", status=str(status))
    return MaterializeResult(
        success=status is RunStatus.SUCCESS,
        run_id=run_id,
        events=stored,
        loader=lambda key: _load_output(repo, run, key),
    )


def _ending(outcome: RunOutcome, run: RunContext) -> tuple[RunStatus, EventKind, str | None]:
    if outcome == "success":
        return RunStatus.SUCCESS, EventKind.RUN_SUCCESS, None
    if outcome == "canceled":
        return RunStatus.CANCELED, EventKind.RUN_CANCELED, "canceled"
    return RunStatus.FAILURE, EventKind.RUN_FAILURE, _failure_reason(run)


def _failure_reason(run: RunContext) -> str:
    shown = ", ".join(run.failed_steps[:5]) + (" ..." if len(run.failed_steps) > 5 else "")
    reason = f"{len(run.failed_steps)} step(s) failed: {shown}"
    if run.skipped_steps:
        reason += f"; {len(run.skipped_steps)} skipped downstream"
    return reason


def _load_output(repo: CodeRepository, run: RunContext, key: str) -> Any:
    asset = repo.asset(key)
    if asset.key not in run.plan.asset_keys:
        raise KeyError(f"asset {asset.key!r} was not part of run {run.run_id}")
    if asset.key not in run.stored_outputs:
        raise LookupError(
            f"asset {asset.key!r} stored no value in run {run.run_id} (it failed, was skipped, "
            "or returned rs.Materialization)"
        )
    handler = run.handler_for(asset.key)

    def load(partition_key: str | None) -> Any:
        context = InputContext(
            asset_key=asset.key,
            downstream_key=asset.key,
            run_id=run.run_id,
            partition_key=partition_key,
        )
        return handler.load_input(context)

    keys = run.keys_of(asset)
    if keys is None:
        return load(None)
    if len(keys) == 1:
        return load(keys[0])
    return {k: load(k) for k in keys}
