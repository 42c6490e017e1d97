"""Sensor loops: every running sensor ticks in its own asyncio task, at its own interval.

A tick asks the code server to evaluate the sensor (``EvaluateSensor``, with the stored cursor
and last tick time), queues what it asks for (``launch_requests``), stores the new cursor and
records the tick: ``SUCCESS``, ``SKIPPED`` with the reason, or ``FAILURE`` with the user's
error. A sensor that hangs only holds its own task (its call ends at the code server's timeout
or the call deadline); one that raises or crashes its worker fails only its own tick.

The :class:`SensorLoops` supervisor reconciles the tasks with the snapshot and the stored
states every ``interval``: sensors added by a reload or switched on get a task, removed or
switched-off ones lose theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from rivers.definitions.snapshot import SensorSnap
from rivers.errors import RiversError
from rivers.execution.events import ErrorInfo
from rivers.storage import Storage
from rivers.storage.records import InstigatorType, TickStatus
from rivers.telemetry import get_logger
from rivers_daemon.codeserver import CodeLocationUnreachable, CodeServerClient
from rivers_daemon.instigators import InstigatorLoop, is_running
from rivers_daemon.loops import cancel
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.snapshots import SnapshotSource
from rivers_daemon.ticks import OpenTick, TickRecorder

__all__ = ["SensorLoops"]

log = get_logger("rivers.daemon.sensors")

SENSOR = InstigatorType.SENSOR
_CLOSE_TIMEOUT = 5.0


class SensorLoops(InstigatorLoop):
    """One task per running sensor of the location, kept in step with the snapshot.

    Takes the arguments of :class:`InstigatorLoop` (sensors are user code, evaluated by the
    client's code server; ``interval`` is between reconciliations of the running sensors).
    """

    instigator_type = SENSOR

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
        self._sensors: dict[str, SensorSnap] = {}  # the running sensors' current definitions
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def running(self) -> list[str]:
        """Names of the sensors that have a task now."""
        return sorted(self._tasks)

    async def start(self) -> None:
        """Start reconciling (and so ticking) in the background."""
        self._supervisor = asyncio.create_task(self._supervise(), name="rivers-daemon-sensors")

    async def stop(self) -> None:
        """Stop every sensor task (an evaluation in flight is abandoned, its tick closed)."""
        await cancel(self._supervisor)
        await self._cancel(list(self._tasks))

    async def _supervise(self) -> None:
        while True:
            try:
                await self.reconcile()
            except CodeLocationUnreachable as exc:
                log.warning("daemon.sensors_waiting", error=str(exc))
            except Exception as exc:  # storage hiccup: try again next time
                log.exception("daemon.sensors_failed", error=str(exc))
            await asyncio.sleep(self.interval)

    async def reconcile(self) -> None:
        """Start tasks of running sensors, stop those of stopped or removed ones."""
        snapshot = await self.snapshots.current()
        states = await self._states()
        wanted = {
            sensor.name: sensor
            for sensor in snapshot.sensors
            if is_running(states.get(sensor.name), sensor.default_status)
        }
        gone = [name for name in self._tasks if name not in wanted]
        if gone:
            log.info("daemon.sensors_stopped", sensors=gone)
            await self._cancel(gone)
        self._sensors = wanted
        for name in wanted:
            task = self._tasks.get(name)
            if task is None or task.done():
                self._tasks[name] = asyncio.create_task(
                    self._run(name), name=f"rivers-daemon-sensor-{name}"
                )
                log.info("daemon.sensor_started", sensor=name)

    async def _cancel(self, names: list[str]) -> None:
        await cancel(*[self._tasks.pop(name) for name in names if name in self._tasks])

    async def _run(self, name: str) -> None:
        """Tick ``name`` every ``minimum_interval`` until canceled or no longer running."""
        sensor = self._sensors.get(name)
        if sensor is None:
            return
        state = await asyncio.to_thread(self.storage.get_instigator_state, self.location_id, name)
        if state is not None and state.last_tick_time is not None:
            # After a restart, keep the interval since the previous daemon's last tick.
            await asyncio.sleep(
                max(state.last_tick_time + sensor.minimum_interval - time.time(), 0.0)
            )
        while True:
            sensor = self._sensors.get(name)
            if sensor is None:
                return
            started = time.monotonic()
            try:
                await self.tick(sensor)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage hiccup: try again next interval
                log.exception("daemon.sensor_tick_failed", sensor=name, error=str(exc))
            await asyncio.sleep(max(started + sensor.minimum_interval - time.monotonic(), 0.0))

    async def tick(self, sensor: SensorSnap) -> None:
        """Evaluate ``sensor`` once, queue what it asks for, record the tick."""
        state = await asyncio.to_thread(
            self.storage.get_instigator_state, self.location_id, sensor.name
        )
        cursor = state.cursor if state else None
        last_tick_time = state.last_tick_time if state else None
        tick = await self.ticks.begin(sensor.name, SENSOR)
        try:
            await self._evaluate(sensor, tick, cursor, last_tick_time)
        except asyncio.CancelledError:
            # Stopped mid-evaluation: close the tick rather than leave it STARTED.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.to_thread(
                        self.storage.update_tick,
                        tick.record.tick_id,
                        status=TickStatus.FAILURE,
                        error=ErrorInfo(
                            error_type="SensorStopped",
                            message="the sensor was stopped during this evaluation",
                        ),
                        duration_ms=tick.elapsed_ms,
                    ),
                    _CLOSE_TIMEOUT,
                )
            raise

    async def _evaluate(
        self,
        sensor: SensorSnap,
        tick: OpenTick,
        cursor: str | None,
        last_tick_time: float | None,
    ) -> None:
        with self._timed_evaluation():
            try:
                evaluation = await self.client.evaluate_sensor(
                    sensor.name, cursor=cursor, last_tick_time=last_tick_time
                )
            except CodeLocationUnreachable as exc:
                error = ErrorInfo(error_type="CodeLocationUnreachable", message=str(exc))
                await self.ticks.finish(tick, TickStatus.FAILURE, error=error, cursor=cursor)
                return
        if evaluation.error is not None or evaluation.result is None:
            await self.ticks.finish(tick, TickStatus.FAILURE, error=evaluation.error, cursor=cursor)
            log.warning(
                "daemon.sensor_failed",
                sensor=sensor.name,
                error=evaluation.error.message if evaluation.error else None,
            )
            return
        result = evaluation.result
        new_cursor = result.cursor if result.cursor is not None else cursor
        snapshot = await self.snapshots.current()
        try:
            launched = await self._launch(snapshot, result, sensor)
        except RiversError as exc:
            # The cursor does not move: the next tick sees the same input again.
            error = ErrorInfo(error_type=type(exc).__name__, message=str(exc))
            await self.ticks.finish(tick, TickStatus.FAILURE, error=error, cursor=cursor)
            log.warning("daemon.sensor_requests_invalid", sensor=sensor.name, error=str(exc))
            return
        requested = len(result.run_requests)
        if launched.run_ids or launched.backfill_ids:
            self._queued(launched)
            status, reason = TickStatus.SUCCESS, None
        elif requested:
            status = TickStatus.SKIPPED
            reason = (
                f"every requested run key was launched before ({', '.join(launched.skipped_keys)})"
            )
        elif result.dynamic_partitions_requests:
            status, reason = TickStatus.SUCCESS, None
        else:
            status = TickStatus.SKIPPED
            reason = result.skip_reason or "the sensor requested nothing"
        await self.ticks.finish(
            tick,
            status,
            launched=launched,
            skip_reason=reason,
            cursor=new_cursor,
            requested=requested,
            store_cursor=result.cursor is not None,
        )
