"""The schedule loop: launches each running schedule's due cron ticks.

Every iteration (at the next due tick, at most ``interval`` apart) it reads the location's
snapshot and instigator states and, for each schedule that is running (its stored status,
else its ``default_status``), handles the ticks due since its ``last_tick_time``:

* a schedule seen for the first time (or switched on while this daemon watched) starts from
  now: only future ticks run;
* ticks due within ``grace`` seconds are on time and run; older ones were missed (the daemon
  was down or behind): the newest ``max_catchup_ticks`` of them run, the others are recorded
  as ``SKIPPED`` ticks with the reason;
* each tick's runs get the run key ``schedule:<name>:<scheduled time ISO>``; storage drops a
  key it has seen, so a daemon restarting mid-tick never queues a tick's run twice.

Schedules without user code (``has_function=False``) are built from the snapshot: the fixed
partition key, else for a time-partitioned target the latest partition complete at the tick,
and the static run config. The others are evaluated by the code server (``EvaluateSchedule``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from rivers.automation.cron import cron_ticks as due_ticks
from rivers.automation.cron import next_cron_tick as next_tick
from rivers.automation.launch import Launched
from rivers.automation.requests import RunRequest, SensorResult
from rivers.definitions.snapshot import DefinitionsSnapshot, ScheduleSnap
from rivers.errors import RiversError
from rivers.execution.events import ErrorInfo
from rivers.planning.targets import run_target
from rivers.storage import Storage
from rivers.storage.records import InstigatorState, InstigatorType, TickStatus
from rivers.telemetry import get_logger
from rivers_daemon.codeserver import CodeLocationUnreachable, CodeServerClient
from rivers_daemon.instigators import InstigatorLoop, is_running
from rivers_daemon.loops import cancel
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.snapshots import SnapshotSource
from rivers_daemon.ticks import OpenTick, TickRecorder

__all__ = ["ScheduleLoop", "schedule_run_key"]

log = get_logger("rivers.daemon.schedules")

SCHEDULE = InstigatorType.SCHEDULE
#: Missed ticks beyond catch-up recorded as SKIPPED, at most (the newest), per iteration.
MAX_SKIPPED_RECORDED = 100


def schedule_run_key(scheduled_time: float) -> str:
    """The tick's part of a schedule run key: its time in UTC, ISO 8601.

    ``launch_requests`` scopes it to ``schedule:<name>:<this>``.
    """
    return datetime.fromtimestamp(scheduled_time, UTC).isoformat()


def _latest_partition(snapshot: DefinitionsSnapshot, sched: ScheduleSnap, at: float) -> str | None:
    """The latest partition of a time-partitioned target whose window ended by ``at``."""
    selection = sched.selection
    if not selection and sched.job_name is not None:
        job = next((j for j in snapshot.jobs if j.name == sched.job_name), None)
        selection = job.selection if job is not None else ()
    if not selection:
        return None
    try:
        target = run_target(snapshot, selection)
    except RiversError:
        return None  # launch_requests reports the bad selection on the tick
    if len(target.definitions) != 1 or not target.definitions[0].is_time_window:
        return None
    try:
        return target.definitions[0].key_at(-1, now=datetime.fromtimestamp(at, UTC))
    except RiversError:
        return None  # no complete partition yet: launch_requests says so on the tick


def _keyed(result: SensorResult, scheduled_time: float, tags: dict[str, str]) -> SensorResult:
    """The tick's requests with the schedule's tags and the tick's run keys."""
    base = schedule_run_key(scheduled_time)
    runs = [r for r in result.run_requests if isinstance(r, RunRequest)]
    unkeyed = sum(1 for r in runs if r.run_key is None)
    out: list[RunRequest] = []
    index = 0
    for request in runs:
        key = request.run_key
        if key is None:
            key = base if unkeyed == 1 else f"{base}#{index}"
            index += 1
        out.append(request.model_copy(update={"run_key": key, "tags": {**tags, **request.tags}}))
    return result.model_copy(update={"run_requests": tuple(out)})


class ScheduleLoop(InstigatorLoop):
    """Launches the due ticks of the location's running schedules.

    Args:
        storage, location_id, snapshots, client, ticks, metrics, interval, on_queued: as
            :class:`InstigatorLoop` (the client evaluates schedules with user code).
        grace: how late a tick may be and still count as on time rather than missed.
    """

    instigator_type = SCHEDULE

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        snapshots: SnapshotSource,
        client: CodeServerClient,
        ticks: TickRecorder,
        metrics: DaemonMetrics,
        *,
        interval: float = 1.0,
        grace: float | None = None,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(
            storage,
            location_id,
            snapshots,
            client,
            ticks,
            metrics,
            interval=interval,
            on_queued=on_queued,
        )
        self.grace = grace if grace is not None else max(3.0 * interval, 5.0)
        self.iterations = 0
        self._running: dict[str, bool] = {}  # last seen on/off state, by schedule
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="rivers-daemon-schedules")

    async def stop(self) -> None:
        """Stop the loop (a tick being launched is abandoned; its run key keeps it single)."""
        await cancel(self._task)

    async def _loop(self) -> None:
        while True:
            wait = self.interval
            try:
                upcoming = await self.tick()
                if upcoming is not None:
                    wait = min(wait, max(upcoming - time.time(), 0.0) + 0.001)
            except CodeLocationUnreachable as exc:
                log.warning("daemon.schedules_waiting", error=str(exc))
            except Exception as exc:  # storage hiccup: try again next iteration
                log.exception("daemon.schedules_failed", error=str(exc))
            self.iterations += 1
            await asyncio.sleep(wait)

    async def tick(self, now: float | None = None) -> float | None:
        """One iteration; returns when the next tick of a running schedule is due."""
        snapshot = await self.snapshots.current()
        states = await self._states()
        now = time.time() if now is None else now
        upcoming: float | None = None
        for sched in snapshot.schedules:
            state = states.get(sched.name)
            running = is_running(state, sched.default_status)
            was_running = self._running.get(sched.name)
            self._running[sched.name] = running
            if not running:
                continue
            if was_running is False or state is None or state.last_tick_time is None:
                # Switched on (or never ticked): run the ticks from now on only.
                await self._mark(sched.name, now)
            else:
                await self._run_due(snapshot, sched, state, now)
            following = next_tick(sched.cron, sched.timezone, after=now)
            if following is not None and (upcoming is None or following < upcoming):
                upcoming = following
        return upcoming

    async def _mark(self, name: str, moment: float) -> None:
        await asyncio.to_thread(
            self.storage.update_instigator,
            self.location_id,
            name,
            SCHEDULE,
            last_tick_time=moment,
        )

    async def _run_due(
        self,
        snapshot: DefinitionsSnapshot,
        sched: ScheduleSnap,
        state: InstigatorState,
        now: float,
    ) -> None:
        assert state.last_tick_time is not None
        catchup = sched.max_catchup_ticks
        due = due_ticks(
            sched.cron,
            sched.timezone,
            after=state.last_tick_time,
            until=now,
            limit=catchup + MAX_SKIPPED_RECORDED + 1,
        )
        if not due:
            return
        on_time = [t for t in due if now - t <= self.grace]
        missed = [t for t in due if now - t > self.grace]
        caught_up = missed[len(missed) - catchup :] if catchup else []
        skipped = missed[: len(missed) - len(caught_up)]
        if skipped:
            reason = (
                f"missed while the daemon was down or behind; only the newest {catchup} missed "
                "ticks run (max_catchup_ticks)"
            )
            for moment in skipped:
                await self.ticks.skipped(sched.name, SCHEDULE, scheduled_time=moment, reason=reason)
            await self._mark(sched.name, skipped[-1])
            log.warning(
                "daemon.schedule_ticks_skipped",
                schedule=sched.name,
                skipped=len(skipped),
                caught_up=len(caught_up),
            )
        for moment in [*caught_up, *on_time]:
            await self._launch_tick(snapshot, sched, moment)

    async def _launch_tick(
        self, snapshot: DefinitionsSnapshot, sched: ScheduleSnap, moment: float
    ) -> None:
        tick = await self.ticks.begin(sched.name, SCHEDULE, scheduled_time=moment)
        try:
            await self._evaluate_tick(snapshot, sched, moment, tick)
        finally:
            tick.discard()  # abandoned without an outcome: no STARTED write afterwards

    async def _evaluate_tick(
        self, snapshot: DefinitionsSnapshot, sched: ScheduleSnap, moment: float, tick: OpenTick
    ) -> None:
        if sched.has_function:
            with self._timed_evaluation():
                try:
                    evaluation = await self.client.evaluate_schedule(sched.name, moment)
                except CodeLocationUnreachable as exc:
                    # The tick stays due (last_tick_time is not moved): retried once reachable.
                    await self._tick_failed(tick, exc, advance=False)
                    raise
            if evaluation.error is not None or evaluation.result is None:
                await self.ticks.finish(
                    tick, TickStatus.FAILURE, error=evaluation.error, last_tick_time=moment
                )
                log.warning(
                    "daemon.schedule_failed",
                    schedule=sched.name,
                    error=evaluation.error.message if evaluation.error else None,
                )
                return
            result = evaluation.result
        else:
            partition = sched.partition_key or await asyncio.to_thread(
                _latest_partition, snapshot, sched, moment
            )
            result = SensorResult(
                run_requests=(RunRequest(partition=partition, run_config=sched.run_config),)
            )
        if not result.run_requests:
            reason = result.skip_reason or "the schedule requested no run"
            await self.ticks.finish(
                tick, TickStatus.SKIPPED, skip_reason=reason, last_tick_time=moment
            )
            return
        keyed = _keyed(result, moment, dict(sched.tags))
        try:
            launched = await self._launch(snapshot, keyed, sched, now=moment)
        except RiversError as exc:
            await self._tick_failed(tick, exc, advance=True)
            return
        await self._finish_launched(tick, sched.name, moment, launched, len(keyed.run_requests))

    async def _finish_launched(
        self, tick: OpenTick, name: str, moment: float, launched: Launched, requested: int
    ) -> None:
        if launched.run_ids:
            self._queued(launched)
            await self.ticks.finish(
                tick,
                TickStatus.SUCCESS,
                launched=launched,
                requested=requested,
                last_tick_time=moment,
            )
            log.info(
                "daemon.schedule_ticked",
                schedule=name,
                scheduled_time=schedule_run_key(moment),
                runs=list(launched.run_ids),
            )
            return
        await self.ticks.finish(
            tick,
            TickStatus.SKIPPED,
            launched=launched,
            skip_reason="the runs of this tick were launched before (run keys "
            f"{', '.join(launched.skipped_keys)})",
            requested=requested,
            last_tick_time=moment,
        )

    async def _tick_failed(self, tick: OpenTick, exc: Exception, *, advance: bool) -> None:
        """Close ``tick`` as a failure with ``exc``; move the schedule past it if ``advance``."""
        error = ErrorInfo(error_type=type(exc).__name__, message=str(exc))
        if advance:
            await self.ticks.finish(
                tick,
                TickStatus.FAILURE,
                error=error,
                last_tick_time=tick.record.scheduled_time,
            )
        else:
            await self.ticks.close(tick, TickStatus.FAILURE, error=error)
        log.warning("daemon.schedule_tick_failed", schedule=tick.record.instigator, error=str(exc))
