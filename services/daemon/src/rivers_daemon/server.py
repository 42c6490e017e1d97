"""Starting and stopping the daemon: ``start(settings)`` for embedding, ``serve`` for the CLI.

Start-up: open the store, find the location (by identity, else by name), close the ticks a
previous daemon left ``STARTED``, start the gRPC server (health and reflection only; the daemon
serves no API of its own) and HTTP (metrics), then the loops: run queue, schedules, sensors,
backfills, automation, monitor. Shutdown is two-phase: the runtime stops being ready, the loops
stop (launches in flight finish), then the servers stop and the store is released.

``rivers serve`` starts this in the code server's process through the entry point
``rivers.services: daemon``; ``rivers dev`` does the same after its code server.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Protocol

from rivers._service.runtime import ServiceRuntime
from rivers.errors import RiversError
from rivers.storage import Storage
from rivers.telemetry import configure_logging, get_logger
from rivers_daemon.automation import AutomationLoop
from rivers_daemon.backfills import BackfillLoop
from rivers_daemon.codeserver import CodeServerClient
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.monitor import Monitor
from rivers_daemon.queue import RunQueue
from rivers_daemon.schedules import ScheduleLoop
from rivers_daemon.sensors import SensorLoops
from rivers_daemon.settings import DaemonSettings
from rivers_daemon.snapshots import SnapshotSource
from rivers_daemon.ticks import TickRecorder, close_interrupted_ticks

__all__ = ["Daemon", "DaemonSettings", "serve", "start"]

log = get_logger("rivers.daemon")


class Loop(Protocol):
    """What every loop of the daemon offers."""

    async def start(self) -> None:
        """Start in the background."""

    async def stop(self) -> None:
        """Stop (work in flight finishes or is abandoned safely)."""


class Daemon:
    """A running daemon (returned by :func:`start`); ``await daemon.stop()`` ends it."""

    def __init__(
        self,
        *,
        settings: DaemonSettings,
        runtime: ServiceRuntime,
        storage: Storage,
        owns_storage: bool,
        location_id: str,
        location_name: str,
        client: CodeServerClient,
        metrics: DaemonMetrics,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.storage = storage
        self.location_id = location_id
        self.location_name = location_name
        self.client = client
        self.metrics = metrics
        self.daemon_id = f"daemon-{uuid.uuid4().hex[:12]}"
        """This incarnation's id: the claimer recorded on the runs it claims."""
        self.snapshots = SnapshotSource(client, location_id)
        self.ticks = TickRecorder(storage, location_id, metrics)
        self.queue: RunQueue | None = None
        self.schedules: ScheduleLoop | None = None
        self.sensors: SensorLoops | None = None
        self.backfills: Loop | None = None
        self.automation: Loop | None = None
        self.monitor: Monitor | None = None
        self._owns_storage = owns_storage
        self._shutdown: asyncio.Task[None] | None = None
        self._loops_stopped = False
        self._closed = False

    @property
    def grpc_port(self) -> int:
        """The gRPC port of health checks and reflection."""
        assert self.runtime.grpc_port is not None
        return self.runtime.grpc_port

    @property
    def http_port(self) -> int | None:
        """The HTTP port of /metrics, /healthz and /readyz, if HTTP is on."""
        return self.runtime.http_port

    def _loops(self) -> list[Loop]:
        # Stop order: the producers of runs first, the queue (which launches them) last.
        loops: list[Loop | None] = [
            self.schedules,
            self.sensors,
            self.automation,
            self.backfills,
            self.monitor,
            self.queue,
        ]
        return [loop for loop in loops if loop is not None]

    async def _stop_loops(self) -> None:
        if self._loops_stopped:
            return
        self._loops_stopped = True
        for loop in self._loops():
            try:
                await loop.stop()
            except Exception as exc:  # keep stopping the others
                log.warning("daemon.loop_stop_failed", loop=type(loop).__name__, error=str(exc))

    async def stop(self) -> None:
        """Shut down gracefully (idempotent): stop the loops, the servers, release the store."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self.runtime.shutdown())
        with contextlib.suppress(TimeoutError):
            await self._shutdown
        await self.close()

    async def serve_forever(self) -> None:
        """Serve until SIGTERM/SIGINT (or ``runtime.request_stop()``), then stop gracefully."""
        try:
            self._shutdown = asyncio.ensure_future(self.runtime.serve_forever())
            await self._shutdown
        finally:
            await self.close()

    async def close(self) -> None:
        """Release what :func:`start` acquired (after the runtime has shut down)."""
        if self._closed:
            return
        self._closed = True
        await self._stop_loops()
        await self.client.close()
        if self._owns_storage:
            await asyncio.to_thread(self.storage.close)
        log.info("daemon.stopped", location=self.location_name)

    def __repr__(self) -> str:
        return f"Daemon({self.location_name!r}, location_id={self.location_id!r})"


def _find_location(storage: Storage, settings: DaemonSettings) -> tuple[str, str]:
    """The location's ``(identity, name)`` (blocking)."""
    if settings.location_identity is not None:
        record = storage.get_location(settings.location_identity)
        if record is None:
            # Not registered yet: its code server registers it under this identity.
            record = storage.ensure_location(
                settings.location or settings.location_identity, settings.location_identity
            )
        return record.identity, record.name
    assert settings.location is not None  # the settings require a name or an identity
    for record in storage.list_locations():
        if record.name == settings.location:
            return record.identity, record.name
    record = storage.ensure_location(settings.location)
    return record.identity, record.name


def _endpoint_resolver(storage: Storage, location_id: str) -> Callable[[], str | None]:
    def resolve() -> str | None:
        record = storage.get_location(location_id)
        return None if record is None else record.endpoint

    return resolve


async def _start_loops(daemon: Daemon) -> None:
    settings, storage, location_id = daemon.settings, daemon.storage, daemon.location_id
    if settings.enable_queue:
        daemon.queue = RunQueue(
            storage,
            location_id,
            daemon.client,
            worker=daemon.daemon_id,
            interval=settings.queue_poll_interval,
            batch_size=settings.queue_batch_size,
            metrics=daemon.metrics,
        )
    wake = daemon.queue.wake if daemon.queue is not None else (lambda: None)
    common = (storage, location_id, daemon.snapshots, daemon.client, daemon.ticks, daemon.metrics)
    if settings.enable_schedules:
        daemon.schedules = ScheduleLoop(*common, interval=settings.tick_interval, on_queued=wake)
    if settings.enable_sensors:
        daemon.sensors = SensorLoops(*common, interval=settings.tick_interval, on_queued=wake)
    if settings.enable_backfills:
        daemon.backfills = BackfillLoop(
            storage,
            location_id,
            daemon.snapshots,
            interval=settings.backfill_interval,
            chunk_size=settings.backfill_chunk_size,
            max_queued=settings.backfill_max_queued,
        )
    if settings.enable_automation:
        daemon.automation = AutomationLoop(
            storage,
            location_id,
            daemon.snapshots,
            interval=settings.automation_interval,
            ticks=daemon.ticks,
            metrics=daemon.metrics,
            on_queued=wake,
        )
    if settings.enable_monitor:
        daemon.monitor = Monitor(
            storage,
            location_id,
            daemon.ticks,
            daemon.metrics,
            stale_run_timeout=settings.stale_run_timeout,
            tick_retention_days=settings.tick_retention_days,
            interval=settings.monitor_interval,
            retention_days=settings.retention_days,
            retention_keep_last=settings.retention_keep_last,
            retention_interval=settings.retention_interval,
            retention_batch_size=settings.retention_batch_size,
            finished_runs_interval=settings.metrics_finished_runs_interval,
        )
    # The queue first, so the first ticks' runs are claimed at once.
    for loop in reversed(daemon._loops()):
        await loop.start()


async def start(settings: DaemonSettings, *, storage: Storage | None = None) -> Daemon:
    """Start the location's daemon and mark it ready.

    Args:
        settings: the location, its code server, intervals and switches.
        storage: an open store to use (the caller keeps owning it); default: connect to
            ``settings.storage_url`` (closed when the daemon stops).

    Raises:
        StorageError: the store cannot be reached.
        RiversError: a port cannot be bound.
    """
    owns = storage is None
    store = storage if storage is not None else settings.open()
    assert isinstance(store, Storage)
    runtime = ServiceRuntime("daemon", settings)
    metrics = DaemonMetrics(runtime.metrics.registry)
    daemon: Daemon | None = None
    try:
        await asyncio.to_thread(store.open)  # fail at start-up, not on the first tick
        location_id, name = await asyncio.to_thread(_find_location, store, settings)
        resolve = _endpoint_resolver(store, location_id)
        client = CodeServerClient(
            settings.codeserver_address,
            resolve=resolve,
            evaluation_timeout=settings.evaluation_timeout,
        )
        daemon = Daemon(
            settings=settings,
            runtime=runtime,
            storage=store,
            owns_storage=owns,
            location_id=location_id,
            location_name=name,
            client=client,
            metrics=metrics,
        )
        await asyncio.to_thread(close_interrupted_ticks, store, location_id)
        try:
            await runtime.start_grpc(lambda server: None, [])
            if settings.http_port is not None:
                await runtime.start_http()
        except (OSError, RuntimeError) as exc:
            raise RiversError(f"the daemon cannot start its servers: {exc}") from exc
        runtime.on_drain(daemon._stop_loops)
        await _start_loops(daemon)
        await runtime.mark_ready()
    except BaseException:
        if daemon is not None:
            await daemon.stop()
        else:
            if runtime.grpc_port is not None:
                await runtime.shutdown()
            if owns:
                await asyncio.to_thread(store.close)
        raise
    log.info(
        "daemon.started",
        location=daemon.location_name,
        location_id=daemon.location_id,
        codeserver=settings.codeserver_address or "(from storage)",
    )
    return daemon


async def serve(settings: DaemonSettings) -> None:
    """``rivers daemon``: start, log one ready line, run until SIGTERM/SIGINT.

    Raises:
        StorageError: the store is unreachable.
        RiversError: a port cannot be bound.
    """
    configure_logging(settings.log_level, style=settings.log_format)
    daemon = await start(settings)
    log.info(
        "daemon.ready",
        location=daemon.location_name,
        grpc=f"{settings.host}:{daemon.grpc_port}",
        http=None if daemon.http_port is None else f"{settings.host}:{daemon.http_port}",
        storage=settings.storage_url,
    )
    await daemon.serve_forever()
