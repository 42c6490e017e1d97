"""Running a plan: the run record, config validation, the executor, the result.

A run is *prepared* (planned, validated, recorded) and then *executed*. Inline calls do both
at once; a queued run is prepared by the API (status QUEUED) and executed later by a run
worker of its code location (:func:`execute_stored_run`), which re-plans from its own
definitions and the stored selection, config and partitions.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from rivers import tracing
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
from rivers.execution.runlogs import expand_lines
from rivers.partitions.spec import selection_from_json, selection_to_json
from rivers.planning.plan import ExecutionPlan, build_plan
from rivers.storage import RunRecord, RunStatus
from rivers.telemetry import bind_ids, get_logger

if TYPE_CHECKING:
    from rivers.definitions.repository import CodeRepository
    from rivers.partitions import PartitionKeys

__all__ = ["PreparedRun", "execute_inline", "execute_stored_run", "prepare_run"]

log = get_logger("rivers.execution")

#: How often a run's executing process records that it is alive (``RIVERS_RUN_HEARTBEAT``).
HEARTBEAT_INTERVAL = float(os.environ.get("RIVERS_RUN_HEARTBEAT", "5"))


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A planned, validated run and its stored record."""

    record: RunRecord
    plan: ExecutionPlan
    keys: PartitionKeys | None
    configs: Mapping[str, BaseModel]


def _plan_and_validate(
    repo: CodeRepository,
    selection: str | Iterable[object] | None,
    config: Mapping[str, Any] | None,
    partition: Any,
    partition_keys: PartitionKeys | None,
) -> tuple[ExecutionPlan, PartitionKeys | None, dict[str, BaseModel]]:
    plan = build_plan(repo.snapshot, selection)
    keys = run_partition_keys(repo, plan, partition, partition_keys)
    configs = validate_run_config(repo.assets, plan.asset_keys, config)
    return plan, keys, configs


def prepare_run(
    repo: CodeRepository,
    *,
    selection: str | Iterable[object] | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    job_name: str | None = None,
    partition: Any = None,
    partition_keys: PartitionKeys | None = None,
    status: RunStatus = RunStatus.STARTED,
) -> PreparedRun:
    """Plan and validate a run and store its record (``STARTED``, or ``QUEUED`` for later).

    Raises:
        SelectionError: the selection names nothing.
        PartitionError: partitions are missing, invalid, or the assets' definitions differ.
        RunConfigError: run config does not validate (nothing is stored).
    """
    plan, keys, configs = _plan_and_validate(repo, selection, config, partition, partition_keys)
    try:
        run_tags = normalize_tags(tags)
    except TypeError as exc:
        raise RiversError(f"run {exc}") from None
    if keys is not None:
        run_tags.update(partition_tags(keys))
    now = time.time()
    record = RunRecord(
        run_id=uuid.uuid4().hex,
        location_id=repo.location_id(),
        status=status,
        created_at=now,
        start_time=now if status is RunStatus.STARTED else None,
        tags=run_tags,
        job_name=job_name,
        selection=plan.selection,
        asset_keys=plan.asset_keys,
        snapshot_id=plan.snapshot_id,
        config=config_json(config),
        partitions=selection_to_json(partition) if partition_keys is None else _keys_json(keys),
    )
    repo.storage.add_run(record)
    return PreparedRun(record=record, plan=plan, keys=keys, configs=configs)


def config_json(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Run config as stored: plain JSON per asset (config model instances dumped)."""
    if not config:
        return None
    return {
        key: value.model_dump(mode="json") if isinstance(value, BaseModel) else dict(value)
        for key, value in config.items()
    }


def _keys_json(keys: PartitionKeys | None) -> dict[str, Any] | None:
    return None if keys is None else {"keys": list(keys)}


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
    prepared = prepare_run(
        repo,
        selection=selection,
        config=config,
        tags=tags,
        job_name=job_name,
        partition=partition,
        partition_keys=partition_keys,
    )
    return execute_run(repo, prepared, executor=executor, listeners=listeners)


def execute_stored_run(
    repo: CodeRepository,
    run_id: str,
    *,
    executor: Executor | None = None,
    listeners: Sequence[EventListener] = (),
) -> MaterializeResult:
    """Execute a stored (queued or claimed) run with this process's definitions.

    The run's selection, config and partitions come from its record. A run that no longer
    validates against these definitions (renamed asset, invalid config) is failed with the
    reason, not left queued.

    Raises:
        KeyError: no such run.
        RiversError: the run has already finished.
    """
    storage = repo.storage
    record = storage.get_run(run_id)
    if record is None:
        raise KeyError(f"no run {run_id!r}")
    if record.status.is_finished:
        raise RiversError(f"run {run_id} already finished ({record.status})")
    try:
        plan, keys, configs = _plan_and_validate(
            repo,
            list(record.selection) or None,
            record.config,
            selection_from_json(record.partitions),
            None,
        )
    except RiversError as exc:
        reason = f"the run does not match the location's definitions: {exc}"
        storage.update_run(
            run_id, status=RunStatus.FAILURE, end_time=time.time(), failure_reason=reason
        )
        raise
    record = storage.update_run(run_id, status=RunStatus.STARTED, start_time=time.time())
    prepared = PreparedRun(record=record, plan=plan, keys=keys, configs=configs)
    return execute_run(repo, prepared, executor=executor, listeners=listeners)


class _Heartbeat:
    """Records every few seconds that this process still executes the run."""

    def __init__(self, repo: CodeRepository, run_id: str) -> None:
        self._storage = repo.storage
        self._run_id = run_id
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="rivers-run-heartbeat", daemon=True)

    def _beat(self) -> None:
        while True:
            try:
                self._storage.heartbeat_run(self._run_id, self._worker)
            except Exception as exc:  # a missed beat is retried; the run goes on
                log.warning("run.heartbeat_failed", run_id=self._run_id, error=str(exc))
            if self._stop.wait(HEARTBEAT_INTERVAL):
                return

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def execute_run(
    repo: CodeRepository,
    prepared: PreparedRun,
    *,
    executor: Executor | None = None,
    listeners: Sequence[EventListener] = (),
) -> MaterializeResult:
    """Execute a prepared run to its end; returns its result.

    Raises:
        StorageError: the run's events could not be written.
    """
    storage = repo.storage
    record = prepared.record
    run_id = record.run_id
    events = EventLog(storage, location_id=record.location_id, listeners=listeners)
    run = RunContext(
        run_id=run_id,
        location_id=record.location_id,
        plan=prepared.plan,
        assets=repo.assets,
        inputs=repo.resolved_inputs,
        configs=prepared.configs,
        default_io=repo.io_handler,
        storage=storage,
        events=events,
        partition_keys=prepared.keys,
    )
    bound = log.bind(run_id=run_id, location=repo.name)
    bound.debug("run.started", steps=len(prepared.plan.steps))
    events.emit(
        RunEvent.now(run_id, EventKind.RUN_STARTED, message=f"{len(prepared.plan.steps)} steps")
    )
    status = RunStatus.CANCELED
    reason: str | None = "interrupted"
    try:
        span = tracing.span(
            "rivers.run",
            {
                "rivers.run_id": run_id,
                "rivers.location": repo.name,
                "rivers.steps": len(prepared.plan.steps),
            },
        )
        with _Heartbeat(repo, run_id), bind_ids(run_id=run_id), span:
            outcome = drive_run(
                run, executor or repo.executor, events, pool_limits=repo.pool_limits
            )
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
        # One event per captured line, as listeners saw them (storage keeps them in chunks).
        events=[line for event in stored for line in expand_lines(event)],
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
