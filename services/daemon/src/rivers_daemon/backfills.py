"""The backfill loop: requested backfills become queued runs, and their outcomes its progress.

Every ``interval`` the loop

1. claims the location's ``REQUESTED`` backfills (atomically, in storage) and plans each on the
   current definitions snapshot with its stored selection, partitions and strategy;
2. queues their runs in chunks (one ``storage.add_runs`` per chunk), throttled so at most
   ``max_queued`` of its runs wait in the queue. Run ``n`` of backfill ``b`` has the run key
   ``"backfill:b:n"``, so a daemon that restarts mid-backfill never queues a run twice;
3. reads the status of every run of each active backfill in one query, and adds each finished
   run's outcome (succeeded partitions, failed partitions with the reason its events record)
   to the stored backfill, once per run: the counters survive a restart;
4. finishes a backfill ``COMPLETED`` (no failed partition) or ``FAILED`` once every run has
   finished, and honours cancel: a ``CANCELED`` backfill (``storage.cancel_backfill``) queues
   nothing more; its queued runs are canceled and its running ones followed to their end.

Nothing here runs user code: runs are executed by the location's run queue like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rivers.errors import RiversError
from rivers.execution.backfill import BACKFILL_TAG
from rivers.execution.events import EventKind
from rivers.partitions import BackfillStrategy
from rivers.partitions.spec import selection_from_json
from rivers.planning.backfill import BackfillPlan, plan_backfill
from rivers.planning.targets import queued_run_record
from rivers.storage.records import BackfillRecord, BackfillState, RunRecord, RunStatus
from rivers.telemetry import get_logger
from rivers_daemon.loops import PacedLoop

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage import Storage

__all__ = ["BackfillLoop", "backfill_run_key"]

log = get_logger("rivers.daemon.backfills")

_UNFINISHED = (BackfillState.IN_PROGRESS,)
#: Backfills claimed per tick; the rest wait for the next one.
_CLAIM_LIMIT = 16
#: How many of a location's newest backfills a restarted loop looks through to resume.
_RESUME_SCAN = 1000


class Snapshots(Protocol):
    """Where the loop gets the location's current definitions (the daemon's SnapshotSource)."""

    async def current(self) -> DefinitionsSnapshot:
        """The snapshot the code server serves now."""
        ...


def backfill_run_key(backfill_id: str, index: int) -> str:
    """The run key of a backfill's ``index``-th run: queued at most once, ever."""
    return f"backfill:{backfill_id}:{index}"


@dataclass
class _Active:
    """A backfill this loop drives: its plan and how far its runs got."""

    record: BackfillRecord
    plan: BackfillPlan
    snapshot_id: str
    queued: int  # runs of the plan queued so far (the next run's index)
    keys_of: dict[str, Sequence[str]] = field(default_factory=dict)

    @property
    def backfill_id(self) -> str:
        return self.record.backfill_id

    @property
    def all_queued(self) -> bool:
        return self.queued >= len(self.plan.runs)


class BackfillLoop(PacedLoop):
    """Turns the location's requested backfills into queued runs and tracks their progress.

    Args:
        storage: the shared store.
        location_id: whose backfills to drive.
        snapshots: the location's current definitions (backfills are planned on them).
        interval: seconds between ticks.
        chunk_size: runs queued per ``add_runs`` call.
        max_queued: at most this many of the loop's runs wait in the queue at once (``None``:
            no limit); more are queued as the queue drains.
        clock: the wall clock (tests pass their own).
    """

    task_name = "rivers-daemon-backfills"
    failed_event = "daemon.backfill_tick_failed"
    _log = log

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        snapshots: Snapshots,
        *,
        interval: float = 1.0,
        chunk_size: int = 500,
        max_queued: int | None = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if max_queued is not None and max_queued < 1:
            raise ValueError(f"max_queued must be at least 1 or None, got {max_queued}")
        self.storage = storage
        self.location_id = location_id
        self.snapshots = snapshots
        self.interval = interval
        self.chunk_size = chunk_size
        self.max_queued = max_queued
        self.clock = clock
        self.ticks = 0
        """Ticks completed so far."""
        self._active: dict[str, _Active] = {}
        self._resumed = False
        super().__init__()

    @property
    def active(self) -> tuple[str, ...]:
        """Ids of the backfills the loop is driving."""
        return tuple(self._active)

    async def tick(self) -> None:
        """One pass: claim, plan, queue, account for finished runs, finish, cancel."""
        snapshot = await self.snapshots.current()
        await asyncio.to_thread(self._tick, snapshot)
        self.ticks += 1

    # --- one tick (in a thread: every step is a blocking storage call) ----------------------

    def _tick(self, snapshot: DefinitionsSnapshot) -> None:
        if not self._resumed:
            self._resume(snapshot)
            self._resumed = True
        for record in self.storage.claim_requested_backfills(self.location_id, limit=_CLAIM_LIMIT):
            self._begin(record, snapshot, queued=0)
        room = None if self.max_queued is None else self.max_queued
        for active in list(self._active.values()):
            statuses = self.storage.get_backfill_run_statuses(active.backfill_id)
            room = self._advance(active, statuses, room)

    def _resume(self, snapshot: DefinitionsSnapshot) -> None:
        """Pick up the backfills a previous daemon of the location left unfinished."""
        backfills = self.storage.get_backfills(location_id=self.location_id, limit=_RESUME_SCAN)
        for record in sorted(backfills, key=lambda b: b.created_at):
            if record.status in _UNFINISHED and record.backfill_id not in self._active:
                queued = len(self.storage.get_backfill_run_statuses(record.backfill_id))
                self._begin(record, snapshot, queued=queued)

    def _begin(self, record: BackfillRecord, snapshot: DefinitionsSnapshot, queued: int) -> None:
        try:
            plan = _plan(record, snapshot, self.storage)
        except RiversError as exc:
            # The definitions changed under a stored backfill (renamed asset, other partitions).
            log.error("daemon.backfill_unplannable", backfill_id=record.backfill_id, error=str(exc))
            self.storage.update_backfill(
                record.backfill_id, status=BackfillState.FAILED, end_time=self.clock()
            )
            return
        if record.runs_total != len(plan.runs):
            record = self.storage.update_backfill(record.backfill_id, runs_total=len(plan.runs))
        self._active[record.backfill_id] = _Active(record, plan, snapshot.snapshot_id, queued)
        log.info(
            "daemon.backfill_started" if queued == 0 else "daemon.backfill_resumed",
            backfill_id=record.backfill_id,
            runs=len(plan.runs),
            partitions=plan.requested,
            queued=queued,
        )

    def _advance(
        self, active: _Active, statuses: Mapping[str, RunStatus], room: int | None
    ) -> int | None:
        """Account for finished runs, queue more (within ``room``), finish or cancel."""
        record = self.storage.get_backfill(active.backfill_id)
        if record is None:  # deleted under us
            del self._active[active.backfill_id]
            return room
        active.record = record
        if record.status is BackfillState.CANCELED:
            self._canceled(active, statuses)
            return room
        if record.status.is_finished:
            del self._active[active.backfill_id]
            return room
        self._account(active, statuses, canceled=False)
        if room is not None:
            room -= sum(1 for s in statuses.values() if s is RunStatus.QUEUED)
        if not active.all_queued and (room is None or room > 0):
            room = self._queue(active, room)
            latest = self.storage.get_backfill(active.backfill_id)
            if latest is not None and latest.status is BackfillState.CANCELED:
                # Canceled while this chunk was being queued: its runs must not start.
                active.record = latest
                self._canceled(active, self.storage.get_backfill_run_statuses(latest.backfill_id))
                return room
        if active.all_queued and active.record.runs_done >= len(active.plan.runs):
            self._finish(active, _final_state(active.record))
        return room

    def _queue(self, active: _Active, room: int | None) -> int | None:
        plan, record = active.plan, active.record
        tags = {**record.tags, BACKFILL_TAG: record.backfill_id}
        while not active.all_queued and (room is None or room > 0):
            size = self.chunk_size if room is None else min(self.chunk_size, room)
            first = active.queued
            chunk = plan.runs[first : first + size]
            now = self.clock()
            runs = []
            for offset, keys in enumerate(chunk):
                run = queued_run_record(
                    location_id=self.location_id,
                    snapshot_id=active.snapshot_id,
                    plan=plan.plan,
                    keys=list(keys),
                    config=record.config,
                    tags=tags,
                    run_key=backfill_run_key(record.backfill_id, first + offset),
                    created_at=now,
                )
                runs.append(run)
            added = self.storage.add_runs(runs)
            for run in added:
                active.keys_of[run.run_id] = list(run.partitions["keys"]) if run.partitions else []
            active.queued = first + len(chunk)
            if room is not None:
                room -= len(added)
            log.debug(
                "daemon.backfill_queued",
                backfill_id=record.backfill_id,
                runs=len(added),
                duplicates=len(runs) - len(added),
                queued=active.queued,
                total=len(plan.runs),
            )
        return room

    def _account(
        self, active: _Active, statuses: Mapping[str, RunStatus], *, canceled: bool
    ) -> None:
        """Add each newly finished run's outcome to the stored backfill (once per run)."""
        counted = set(active.record.run_ids)
        for run_id, status in statuses.items():
            if not status.is_finished or run_id in counted:
                continue
            keys = self._keys(active, run_id)
            failed = self._failed_partitions(run_id, status, keys, canceled=canceled)
            succeeded = 0 if status is RunStatus.CANCELED else len(keys) - len(failed)
            active.record = self.storage.record_backfill_run(
                active.backfill_id,
                run_id=run_id,
                succeeded=max(succeeded, 0),
                failed_partitions=failed,
            )
            active.keys_of.pop(run_id, None)

    def _keys(self, active: _Active, run_id: str) -> Sequence[str]:
        keys = active.keys_of.get(run_id)
        if keys is not None:
            return keys
        run = self.storage.get_run(run_id)  # queued by an earlier incarnation of the loop
        return _run_keys(run)

    def _failed_partitions(
        self, run_id: str, status: RunStatus, keys: Sequence[str], *, canceled: bool
    ) -> dict[str, str]:
        """The run's failed partitions with reasons, as its events record them."""
        if status is RunStatus.CANCELED:
            # Partitions of a run the user canceled failed; those of a canceled backfill did not
            # run at all, which is what CANCELED says.
            return {} if canceled else dict.fromkeys(keys, f"run {run_id} was canceled")
        wanted = set(keys)
        failed: dict[str, str] = {}
        for event in self.storage.get_run_events(run_id, kinds=[EventKind.ASSET_FAILED]):
            key = event.partition_key
            if key is not None and key in wanted:
                failed.setdefault(key, f"{event.asset_key}: {event.message}")
        if status is RunStatus.FAILURE and not failed:
            # The run failed before any partition's outcome (an input could not load, the
            # worker died): every partition of the run failed.
            run = self.storage.get_run(run_id)
            reason = (run.failure_reason if run else None) or f"run {run_id} failed"
            failed = dict.fromkeys(keys, reason)
        return failed

    def _canceled(self, active: _Active, statuses: Mapping[str, RunStatus]) -> None:
        """A canceled backfill: cancel its queued runs, follow its running ones to their end.

        ``storage.cancel_backfill`` cancels the queued runs in the same transaction; runs this
        loop queued in the moment around it are canceled here.
        """
        pending = False
        for run_id, status in statuses.items():
            if status is RunStatus.QUEUED:
                self.storage.update_run(
                    run_id,
                    status=RunStatus.CANCELED,
                    end_time=self.clock(),
                    failure_reason="canceled with its backfill before it started",
                )
            elif not status.is_finished:
                pending = True
        self._account(active, statuses, canceled=True)
        if not pending:
            del self._active[active.backfill_id]
            log.info("daemon.backfill_canceled", backfill_id=active.backfill_id)

    def _finish(self, active: _Active, state: BackfillState) -> None:
        record = self.storage.update_backfill(
            active.backfill_id, status=state, end_time=self.clock()
        )
        del self._active[active.backfill_id]
        log.info(
            "daemon.backfill_finished",
            backfill_id=record.backfill_id,
            status=str(state),
            succeeded=record.succeeded,
            failed=record.failed,
        )


def _plan(record: BackfillRecord, snapshot: DefinitionsSnapshot, storage: Storage) -> BackfillPlan:
    partitions = None if record.partitions.get("all") else selection_from_json(record.partitions)
    strategy = BackfillStrategy.model_validate(record.strategy) if record.strategy else None
    return plan_backfill(
        snapshot, list(record.asset_selection), partitions, strategy, storage=storage
    )


def _run_keys(run: RunRecord | None) -> Sequence[str]:
    if run is None or not run.partitions:
        return []
    keys = run.partitions.get("keys")
    if isinstance(keys, list):
        return [str(k) for k in keys]
    key = run.partitions.get("key")
    return [str(key)] if key is not None else []


def _final_state(record: BackfillRecord) -> BackfillState:
    return BackfillState.COMPLETED if record.failed == 0 else BackfillState.FAILED
