"""Sensor loops: every running sensor ticks in its own asyncio task, at its own interval.

A tick asks the code server to evaluate the sensor (``EvaluateSensor``, with the stored cursor
and last tick time), queues what it asks for (``launch_requests``), stores the new cursor and
records the tick: ``SUCCESS``, ``SKIPPED`` with the reason, or ``FAILURE`` with the user's
error. A sensor that hangs only holds its own task (its call ends at the code server's timeout
or the call deadline); one that raises or crashes its worker fails only its own tick.

The :class:`SensorLoops` supervisor reconciles the tasks with the snapshot and the stored
states every ``interval``: sensors added by a reload or switched on get a task, removed or
switched-off ones lose theirs.

A sensor's task is the only writer of its cursor and last tick time (one daemon per
location), so it keeps them in memory rather than reading them before every tick; the
supervisor's read of the stored states brings in a change made from outside (a cursor reset
through storage) when no tick of the sensor was underway during that read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rivers.definitions.snapshot import SensorSnap
from rivers.errors import RiversError
from rivers.execution.events import ErrorInfo
from rivers.storage import Storage
from rivers.storage.records import InstigatorState, InstigatorType, TickStatus
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


@dataclass
class _Memory:
    """What a sensor's task knows of its stored state (it is its only writer)."""

    cursor: str | None = None
    last_tick_time: float | None = None
    #: Bumped when a tick begins and when it ends: odd while one is underway.
    ticks: int = 0

    @classmethod
    def of(cls, state: InstigatorState | None) -> _Memory:
        """The memory of a stored state."""
        return cls(*_stored(state))


def _stored(state: InstigatorState | None) -> tuple[str | None, float | None]:
    return (state.cursor, state.last_tick_time) if state else (None, None)


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
        self._memory: dict[str, _Memory] = {}  # by sensor with a task
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
            started = time.monotonic()
            try:
                await self.reconcile()
            except CodeLocationUnreachable as exc:
                log.warning("daemon.sensors_waiting", error=str(exc))
            except Exception as exc:  # storage hiccup: try again next time
                log.exception("daemon.sensors_failed", error=str(exc))
            # Paced from the start: stops and outside changes are seen every ``interval``.
            await asyncio.sleep(max(started + self.interval - time.monotonic(), 0.0))

    async def reconcile(self) -> None:
        """Start tasks of running sensors, stop those of stopped or removed ones."""
        snapshot = await self.snapshots.current()
        ticks = {name: memory.ticks for name, memory in self._memory.items()}
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
        self._adopt(states, ticks)
        for name in wanted:
            task = self._tasks.get(name)
            if task is None or task.done():
                if name not in self._memory:
                    self._memory[name] = _Memory.of(states.get(name))
                self._tasks[name] = asyncio.create_task(
                    self._run(name), name=f"rivers-daemon-sensor-{name}"
                )
                log.info("daemon.sensor_started", sensor=name)

    def _adopt(self, states: dict[str, InstigatorState], ticks: dict[str, int]) -> None:
        """Take in stored cursors and last tick times changed from outside.

        Only for sensors no tick of which was underway during the read (``ticks``: their
        counts before it), so the stored state holds every write of their task.
        """
        for name, memory in self._memory.items():
            if ticks.get(name) != memory.ticks or memory.ticks % 2:
                continue
            stored = _stored(states.get(name))
            if stored != (memory.cursor, memory.last_tick_time):
                log.info("daemon.sensor_state_changed", sensor=name, cursor=stored[0])
                memory.cursor, memory.last_tick_time = stored

    async def _cancel(self, names: list[str]) -> None:
        await cancel(*[self._tasks.pop(name) for name in names if name in self._tasks])
        for name in names:
            self._memory.pop(name, None)

    async def _run(self, name: str) -> None:
        """Tick ``name`` every ``minimum_interval`` until canceled or no longer running."""
        sensor = self._sensors.get(name)
        memory = self._memory.get(name)
        if sensor is None or memory is None:
            return
        if memory.last_tick_time is not None:
            # After a restart, keep the interval since the previous daemon's last tick.
            await asyncio.sleep(
                max(memory.last_tick_time + sensor.minimum_interval - time.time(), 0.0)
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
        memory = self._memory.get(sensor.name)
        if memory is None:  # no task of its own: start from the stored state
            memory = self._memory[sensor.name] = _Memory.of(
                await asyncio.to_thread(
                    self.storage.get_instigator_state, self.location_id, sensor.name
                )
            )
        memory.ticks += 1
        try:
            tick = await self.ticks.begin(sensor.name, SENSOR)
            try:
                await self._evaluate(sensor, tick, memory)
            except asyncio.CancelledError:
                # Stopped mid-evaluation: close the tick rather than leave it STARTED.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.ticks.close(
                            tick,
                            TickStatus.FAILURE,
                            error=ErrorInfo(
                                error_type="SensorStopped",
                                message="the sensor was stopped during this evaluation",
                            ),
                        ),
                        _CLOSE_TIMEOUT,
                    )
                raise
            finally:
                tick.discard()
        finally:
            memory.ticks += 1

    async def _finish(
        self,
        memory: _Memory,
        tick: OpenTick,
        status: TickStatus,
        *,
        cursor: str | None,
        store_cursor: bool = False,
        **outcome: Any,
    ) -> None:
        """Record the tick (``TickRecorder.finish``) and remember what it stored.

        The cursor moves only from the one the tick started with: one changed from outside
        meanwhile is kept, and the supervisor brings it into memory.
        """
        final = await self.ticks.finish(
            tick,
            status,
            cursor=cursor,
            store_cursor=store_cursor,
            expected_cursor=memory.cursor,
            **outcome,
        )
        memory.last_tick_time = final.timestamp
        if store_cursor:
            memory.cursor = cursor

    async def _evaluate(
        self,
        sensor: SensorSnap,
        tick: OpenTick,
        memory: _Memory,
    ) -> None:
        cursor = memory.cursor
        with self._timed_evaluation():
            try:
                evaluation = await self.client.evaluate_sensor(
                    sensor.name, cursor=cursor, last_tick_time=memory.last_tick_time
                )
            except CodeLocationUnreachable as exc:
                error = ErrorInfo(error_type="CodeLocationUnreachable", message=str(exc))
                await self._finish(memory, tick, TickStatus.FAILURE, error=error, cursor=cursor)
                return
        if evaluation.error is not None or evaluation.result is None:
            await self._finish(
                memory, tick, TickStatus.FAILURE, error=evaluation.error, cursor=cursor
            )
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
            await self._finish(memory, tick, TickStatus.FAILURE, error=error, cursor=cursor)
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
        await self._finish(
            memory,
            tick,
            status,
            launched=launched,
            skip_reason=reason,
            cursor=new_cursor,
            requested=requested,
            store_cursor=result.cursor is not None,
        )
