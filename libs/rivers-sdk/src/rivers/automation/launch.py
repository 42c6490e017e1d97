"""Turning what a sensor, schedule or automation tick asks for into queued runs and backfills.

Used by the location's daemon, which never imports user code: every request is planned on the
definitions snapshot. The steps, in order:

1. dynamic partition requests are applied (so runs may target keys added in the same tick);
2. every request is planned and validated; one invalid request fails the whole result, before
   any run or backfill is stored;
3. all runs are queued in one ``storage.add_runs`` call. Run keys are scoped by instigator
   (``"sensor:<name>:<key>"``), and a run whose key its instigator already used is dropped, even
   after a daemon restart (a unique index in storage), or when one result repeats a key;
4. backfills are stored ``REQUESTED`` for the backfill daemon.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rivers.automation.requests import (
    AddDynamicPartitionsRequest,
    BackfillRequest,
    RunRequest,
    SensorResult,
)
from rivers.errors import RiversError, SelectionError
from rivers.partitions.spec import selection_to_json
from rivers.planning.backfill import plan_backfill
from rivers.planning.targets import (
    RunTarget,
    check_config,
    queued_run_record,
    run_partition_keys,
    run_target,
)
from rivers.storage.records import BackfillRecord, BackfillState, RunRecord

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot, JobSnap
    from rivers.storage import Storage

__all__ = ["Launched", "instigator_tag", "launch_requests", "scoped_run_key"]


@dataclass(frozen=True, slots=True)
class Launched:
    """What one result launched.

    Attributes:
        run_ids: the runs queued, in request order.
        backfill_ids: the backfills stored ``REQUESTED``.
        run_keys: the scoped run keys of the queued runs that had one.
        skipped_keys: scoped run keys dropped because they were launched before.
    """

    run_ids: tuple[str, ...] = ()
    backfill_ids: tuple[str, ...] = ()
    run_keys: tuple[str, ...] = ()
    skipped_keys: tuple[str, ...] = ()


def instigator_tag(instigator_type: str, instigator: str) -> dict[str, str]:
    """The tag naming who launched a run: ``{"rivers/sensor": "my_sensor"}``."""
    return {f"rivers/{str(instigator_type).lower()}": instigator}


def scoped_run_key(instigator_type: str, instigator: str, run_key: str) -> str:
    """A run key unique per instigator: ``"sensor:<name>:<key>"``."""
    return f"{str(instigator_type).lower()}:{instigator}:{run_key}"


class _Planner:
    """Plans the requests of one result; targets are shared by requests of one selection."""

    def __init__(
        self,
        storage: Storage,
        snapshot: DefinitionsSnapshot,
        location_id: str,
        *,
        kind: str,
        instigator: str,
        default_selection: tuple[str, ...],
        default_job: str | None,
        now: float,
    ) -> None:
        self.storage = storage
        self.snapshot = snapshot
        self.location_id = location_id
        self.kind = kind
        self.instigator = instigator
        self.who = f"{kind} {instigator!r}"
        self.tags = instigator_tag(kind, instigator)
        self.default_selection = default_selection
        self.default_job = default_job
        self.now = now
        self.jobs = {j.name: j for j in snapshot.jobs}
        self._targets: dict[tuple[str, ...], RunTarget] = {}

    def fail(self, exc: RiversError) -> RiversError:
        """The same kind of error, naming the instigator."""
        return type(exc)(f"{self.who}: {exc}")

    def job(self, name: str) -> JobSnap:
        job = self.jobs.get(name)
        if job is None:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise SelectionError(
                f"{self.who}: the code location has no job {name!r} (jobs: {known})"
            )
        return job

    def target(self, selection: tuple[str, ...]) -> RunTarget:
        target = self._targets.get(selection)
        if target is None:
            target = self._targets[selection] = run_target(self.snapshot, selection)
        return target

    def run(self, request: RunRequest, index: int) -> RunRecord:
        job_name = request.job
        if job_name is None and request.selection is None:
            job_name = self.default_job
        job = self.job(job_name) if job_name is not None else None
        selection = request.selection or (job.selection if job else self.default_selection)
        if not selection:
            raise SelectionError(
                f"{self.who}: run request {index} names no selection or job, and there is no "
                "default target to use"
            )
        try:
            target = self.target(tuple(selection))
            keys = run_partition_keys(target, request.partition, self.storage)
            check_config(self.snapshot, target.plan.asset_keys, request.run_config)
        except RiversError as exc:
            raise self.fail(exc) from None
        tags = {**(job.tags if job else {}), **request.tags, **self.tags}
        key = request.run_key
        return queued_run_record(
            location_id=self.location_id,
            snapshot_id=self.snapshot.snapshot_id,
            plan=target.plan,
            keys=None if keys is None else list(keys),
            partitions=None if request.partition is None else {"key": request.partition},
            config=request.run_config,
            tags=tags,
            job_name=job_name,
            run_key=None if key is None else scoped_run_key(self.kind, self.instigator, key),
            created_at=self.now,
        )

    def backfill(self, request: BackfillRequest) -> BackfillRecord:
        selection = request.selection or self.default_selection
        if not selection:
            raise SelectionError(
                f"{self.who}: a backfill request names no selection, and there is no default "
                "target to use"
            )
        try:
            plan = plan_backfill(
                self.snapshot,
                list(selection),
                request.partitions,
                request.strategy,
                storage=self.storage,
                now=datetime.fromtimestamp(self.now, UTC),
            )
        except RiversError as exc:
            raise self.fail(exc) from None
        return BackfillRecord(
            backfill_id=uuid.uuid4().hex[:12],
            location_id=self.location_id,
            status=BackfillState.REQUESTED,
            created_at=self.now,
            asset_selection=plan.plan.selection,
            partitions=selection_to_json(request.partitions) or {"all": True},
            strategy=plan.strategy.model_dump(mode="json"),
            tags={**request.tags, **self.tags},
            requested=plan.requested,
            runs_total=len(plan.runs),
        )


def launch_requests(
    storage: Storage,
    snapshot: DefinitionsSnapshot,
    location_id: str,
    result: SensorResult,
    *,
    instigator: str,
    instigator_type: str,
    default_selection: tuple[str, ...] = (),
    default_job: str | None = None,
    now: float | None = None,
) -> Launched:
    """Queue the runs and store the backfills ``result`` asks for, on ``snapshot``.

    Args:
        storage: the shared store.
        snapshot: the location's current definitions; requests are planned on it.
        location_id: the location's identity.
        result: what a tick asked for.
        instigator: the sensor's or schedule's name (``"automation"`` for conditions).
        instigator_type: ``SENSOR``, ``SCHEDULE`` or ``AUTOMATION`` (an ``InstigatorType``).
        default_selection: the instigator's target, for requests that name none.
        default_job: the instigator's target job, for requests that name no selection.
        now: the tick's time (creation time of the records; "now" of time partitions).

    Returns:
        The runs queued, backfills stored, and run keys queued or skipped as duplicates.

    Raises:
        SelectionError: a request selects nothing, or names an unknown job.
        PartitionError: a missing, unknown or invalid partition; a backfill of unpartitioned
            or differently partitioned assets.
        DefinitionError: the snapshot's assets form a cycle or miss a dependency.
        RunConfigError: run config for assets that are not selected or take none.
        StorageError: the store failed (runs already queued stay queued: their keys make a
            retry safe).
    """
    stamp = time.time() if now is None else now
    kind = str(instigator_type).lower()
    for change in result.dynamic_partitions_requests:
        if isinstance(change, AddDynamicPartitionsRequest):
            storage.add_dynamic_partitions(change.partitions_def_name, change.partition_keys)
        else:
            storage.delete_dynamic_partitions(change.partitions_def_name, change.partition_keys)
    planner = _Planner(
        storage,
        snapshot,
        location_id,
        kind=kind,
        instigator=instigator,
        default_selection=tuple(default_selection),
        default_job=default_job,
        now=stamp,
    )
    runs: list[RunRecord] = []
    backfills: list[BackfillRecord] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for index, request in enumerate(result.run_requests):
        if isinstance(request, BackfillRequest):
            backfills.append(planner.backfill(request))
            continue
        record = planner.run(request, index)
        if record.run_key is not None:
            if record.run_key in seen:
                skipped.append(record.run_key)
                continue
            seen.add(record.run_key)
        runs.append(record)
    added = storage.add_runs(runs) if runs else []
    added_ids = {r.run_id for r in added}
    skipped += [r.run_key for r in runs if r.run_id not in added_ids and r.run_key is not None]
    for backfill in backfills:
        storage.add_backfill(backfill)
    queued = [r for r in runs if r.run_id in added_ids]
    return Launched(
        run_ids=tuple(r.run_id for r in queued),
        backfill_ids=tuple(b.backfill_id for b in backfills),
        run_keys=tuple(r.run_key for r in queued if r.run_key is not None),
        skipped_keys=tuple(skipped),
    )
