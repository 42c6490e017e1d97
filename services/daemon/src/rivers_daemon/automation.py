"""The automation loop: evaluates the location's automation conditions every ``interval``.

Runs only while some asset of the snapshot has an ``automation_condition`` and the
``"automation"`` instigator is running (the default, like Dagster's default automation
sensor; ``rivers`` users stop it through ``SetInstigatorStatus``). Each tick

1. evaluates every condition with one long-lived ``AutomationEvaluator`` (in a thread: it
   reads storage in bulk and computes partition sets);
2. queues the runs it requests through ``launch_requests`` (instigator ``"automation"``,
   type ``AUTOMATION``; tags ``rivers/automation=...``);
3. persists the evaluator's state in KV (``automation/<location_id>``), so a restarted daemon
   neither re-requests everything nor forgets what was newly updated;
4. records a tick: requested partitions, run ids, duration, or the error.

A tick that fails drops the evaluator: the next one starts again from the last persisted
state, so nothing it should request is lost (at worst, a run is requested twice when the
daemon dies between queuing runs and storing the state).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from rivers.automation.evaluation import AutomationEvaluator, AutomationState
from rivers.automation.launch import Launched, launch_requests
from rivers.automation.requests import SensorResult
from rivers.execution.events import ErrorInfo
from rivers.storage.records import InstigatorType, TickRecord, TickStatus
from rivers.telemetry import get_logger
from rivers_daemon.loops import PacedLoop
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.ticks import OpenTick, TickRecorder

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage import Storage
    from rivers_daemon.backfills import Snapshots

__all__ = ["AUTOMATION", "AutomationLoop", "has_conditions", "state_key"]

log = get_logger("rivers.daemon.automation")

#: The instigator name automation ticks are recorded (and started or stopped) under.
AUTOMATION: Final = "automation"
_TYPE: Final = InstigatorType.AUTOMATION


def state_key(location_id: str) -> str:
    """The KV key of a location's persisted automation state."""
    return f"automation/{location_id}"


def has_conditions(snapshot: DefinitionsSnapshot) -> bool:
    """Whether any asset of ``snapshot`` has an automation condition."""
    return any(asset.automation_condition is not None for asset in snapshot.assets)


class AutomationLoop(PacedLoop):
    """Evaluates automation conditions and queues the runs they request.

    Args:
        storage: the shared store.
        location_id: whose assets to evaluate.
        snapshots: the location's current definitions.
        interval: seconds between ticks.
        ticks: where ticks are recorded (default: a recorder of its own).
        metrics: where queued runs are counted (default: a registry of its own).
        on_queued: called after a tick queued runs (wakes the run queue).
        clock: the wall clock (tests pass their own).
    """

    task_name = "rivers-daemon-automation"
    failed_event = "daemon.automation_tick_failed"
    pace_from_start = True
    _log = log

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        snapshots: Snapshots,
        *,
        interval: float = 30.0,
        ticks: TickRecorder | None = None,
        metrics: DaemonMetrics | None = None,
        on_queued: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.snapshots = snapshots
        self.interval = interval
        self.metrics = metrics or (ticks.metrics if ticks is not None else DaemonMetrics())
        self.ticks = ticks or TickRecorder(storage, location_id, self.metrics)
        self.on_queued = on_queued or (lambda: None)
        self.clock = clock
        self.evaluator: AutomationEvaluator | None = None
        super().__init__()

    # --- one tick --------------------------------------------------------------------------

    async def running(self) -> bool:
        """Whether the ``automation`` instigator runs (default: yes, until stopped)."""
        state = await asyncio.to_thread(
            self.storage.get_instigator_state, self.location_id, AUTOMATION
        )
        return state is None or state.status != "STOPPED"

    async def tick(self) -> TickRecord | None:
        """Evaluate, queue and record one tick; ``None`` when automation is off or unused."""
        snapshot = await self.snapshots.current()
        if not has_conditions(snapshot) or not await self.running():
            return None
        now = self.clock()
        tick = await self.ticks.begin(AUTOMATION, _TYPE, timestamp=now)
        try:
            return await self._record(tick, snapshot, now)
        finally:
            tick.discard()  # abandoned without an outcome: no STARTED write afterwards

    async def _record(
        self, tick: OpenTick, snapshot: DefinitionsSnapshot, now: float
    ) -> TickRecord:
        try:
            requested, launched = await asyncio.to_thread(self._evaluate, snapshot, now)
        except Exception as exc:
            self.evaluator = None  # start again from the persisted state
            error = ErrorInfo.from_exception(exc)
            log.warning("daemon.automation_failed", error=f"{type(exc).__name__}: {exc}")
            return await self.ticks.finish(tick, TickStatus.FAILURE, error=error)
        if launched.run_ids:
            self.metrics.runs_queued.labels(str(_TYPE)).inc(len(launched.run_ids))
            self.on_queued()
            return await self.ticks.finish(
                tick, TickStatus.SUCCESS, launched=launched, requested=requested
            )
        reason = "no automation condition is true" if not requested else "nothing new to launch"
        return await self.ticks.finish(
            tick, TickStatus.SKIPPED, launched=launched, skip_reason=reason, requested=requested
        )

    def _evaluate(self, snapshot: DefinitionsSnapshot, now: float) -> tuple[int, Launched]:
        evaluator = self._evaluator_for(snapshot)
        result = evaluator.tick(now)
        launched = Launched()
        if result.run_requests:
            launched = launch_requests(
                self.storage,
                snapshot,
                self.location_id,
                SensorResult(run_requests=tuple(result.run_requests)),
                instigator=AUTOMATION,
                instigator_type=_TYPE,
                now=now,
            )
        self.storage.kv_set(state_key(self.location_id), result.state.to_json())
        log.debug(
            "daemon.automation_tick",
            requested=result.requested,
            runs=len(launched.run_ids),
            seconds=round(result.evaluated_seconds, 4),
        )
        return result.requested, launched

    def _evaluator_for(self, snapshot: DefinitionsSnapshot) -> AutomationEvaluator:
        if self.evaluator is not None:
            self.evaluator.set_snapshot(snapshot)
            return self.evaluator
        self.evaluator = AutomationEvaluator(
            snapshot, self.storage, self.location_id, state=self._stored_state()
        )
        return self.evaluator

    def _stored_state(self) -> AutomationState | None:
        text = self.storage.kv_get(state_key(self.location_id))
        if text is None:
            return None
        try:
            return AutomationState.from_json(text)
        except ValueError as exc:  # written by another version: start afresh
            log.warning("daemon.automation_state_unreadable", error=str(exc))
            return None
