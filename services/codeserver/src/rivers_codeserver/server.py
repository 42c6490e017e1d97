"""Starting and stopping a code server: ``start(settings)`` for embedding, ``serve`` for the CLI.

Start-up order: load the user's module (a failure stops here, before anything listens),
start gRPC, register the location (snapshot, stale runs, heartbeat with this incarnation's
server id), start HTTP, the evaluation workers, the heartbeat and the reload watcher, then
report ready. ``rivers serve`` (:func:`serve`) then starts the location's daemon in-process,
which claims queued runs and launches them through ``LaunchRun``; ``start`` alone (as
``rivers dev`` uses it) does not. Shutdown is two-phase: the runtime stops being ready, the
daemon stops first, running workers get to finish and are then canceled (see
:meth:`RunWorkers.drain`); then the servers stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import cast

from rivers._service.reload import reload_key
from rivers._service.runtime import ServiceRuntime
from rivers.cli.console import Console
from rivers.cli.loader import LoadError
from rivers.errors import RiversError
from rivers.storage import Storage
from rivers.telemetry import configure_logging, get_logger
from rivers_codeserver.daemon import Daemon, start_daemon
from rivers_codeserver.evaluation_pool import EvaluationPool, EvaluatorCommand
from rivers_codeserver.location import (
    LoadedCode,
    Location,
    current_stamps,
    files_changed,
    load_code,
    reload_code,
)
from rivers_codeserver.metrics import CodeServerMetrics
from rivers_codeserver.runs import RunWorkers, WorkerCommand, worker_env
from rivers_codeserver.servicer import SERVICE_NAME, CodeLocationServicer, Served, add_to_server
from rivers_codeserver.settings import CodeServerSettings

__all__ = ["CodeServer", "CodeServerSettings", "serve", "start"]

log = get_logger("rivers.codeserver")

_RELOAD_POLL = 1.0
_GRPC_STOP_MARGIN = 0.5  # of the shutdown grace, kept for stopping the servers after the drain


class CodeServer:
    """A running code server (returned by :func:`start`); ``await server.stop()`` ends it."""

    def __init__(
        self,
        *,
        settings: CodeServerSettings,
        runtime: ServiceRuntime,
        storage: Storage,
        owns_storage: bool,
        location: Location,
        code: LoadedCode,
        metrics: CodeServerMetrics,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.storage = storage
        self.location = location
        self.code = code
        self.metrics = metrics
        self._owns_storage = owns_storage
        self.workers: RunWorkers | None = None
        self.servicer: CodeLocationServicer | None = None
        self.evaluations: EvaluationPool | None = None
        self.daemon: Daemon | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._shutdown: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port."""
        assert self.runtime.grpc_port is not None
        return self.runtime.grpc_port

    @property
    def http_port(self) -> int | None:
        """The bound HTTP port (metrics and health), if HTTP is on."""
        return self.runtime.http_port

    @property
    def server_id(self) -> str:
        """This incarnation's id (changes on every start and reload)."""
        return self.location.server_id

    # --- background work -------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            try:
                await asyncio.to_thread(self.location.heartbeat)
            except RiversError as exc:
                self.metrics.heartbeat_failures.inc()
                log.warning("codeserver.heartbeat_failed", error=str(exc))

    async def _watch_files(self) -> None:
        seen = dict(self.code.files)
        while True:
            await asyncio.sleep(_RELOAD_POLL)
            if not await asyncio.to_thread(files_changed, seen):
                continue
            await self.reload()
            # A failed reload is retried only once the files change again.
            seen = await asyncio.to_thread(current_stamps, self.code.files)

    async def _watch_reload_requests(self) -> None:
        """Reload when someone asks through the store (``rivers._service.reload``)."""
        key = reload_key(self.location.identity)
        while True:
            await asyncio.sleep(_RELOAD_POLL)
            try:
                request = await asyncio.to_thread(self.storage.kv_get, key)
                if not request:
                    continue
                log.info("codeserver.reload_requested", location=self.location.name)
                await asyncio.to_thread(self.storage.kv_delete, key)
            except RiversError as exc:
                log.warning("codeserver.reload_request_unread", error=str(exc))
                continue
            await self.reload()

    async def reload(self) -> bool:
        """Import the module again and serve it as a new incarnation; False if it failed.

        A failing reload keeps serving the previous definitions and logs the error.
        """
        assert self.workers is not None
        assert self.servicer is not None
        try:
            code = await asyncio.to_thread(reload_code, self.code)
        except LoadError as exc:
            self.metrics.reloads.labels("failed").inc()
            log.error("codeserver.reload_failed", module=self.settings.module, error=str(exc))
            return False
        # Serve the new definitions before the new incarnation id is visible: a client that
        # sees the id change (GetServerId) then always reads the new definitions.
        self.code = code
        self.servicer.served = Served.of(code)
        endpoint = self.location.endpoint or self.settings.endpoint(self.grpc_port)
        stale = await asyncio.to_thread(
            self.location.register, code, endpoint, keep_alive=self.workers.keep_alive
        )
        self.metrics.stale_runs_failed.inc(len(stale))
        self.workers.refresh_spares(code.files)
        if self.evaluations is not None:
            self.evaluations.refresh()
            if _evaluates_in_workers(code):
                self.evaluations.start()
        self.metrics.reloads.labels("ok").inc()
        log.info("codeserver.reloaded", server_id=self.location.server_id)
        return True

    # --- shutdown --------------------------------------------------------------------------

    async def _stop_daemon(self) -> None:
        daemon, self.daemon = self.daemon, None
        if daemon is not None:
            try:
                await daemon.stop()
            except Exception as exc:  # the code server still shuts down
                log.warning("codeserver.daemon_stop_failed", error=str(exc))

    async def _drain(self) -> None:
        # The runtime's first phase: the daemon stops (no more launches or evaluations), then
        # workers get to finish and are canceled. It must end within the runtime's grace,
        # which would otherwise abort the shutdown.
        budget = max(self.runtime.settings.shutdown_grace - _GRPC_STOP_MARGIN, 0.0)
        deadline = time.monotonic() + budget
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(budget):
                await self._stop_daemon()
                if self.workers is not None:
                    await self.workers.drain(max(deadline - time.monotonic(), 0.0))

    async def stop(self) -> None:
        """Shut down gracefully (idempotent): drain, stop the servers, release everything."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self.runtime.shutdown())
        await self._shutdown
        await self.close()

    async def close(self) -> None:
        """Release what :func:`start` acquired (after the runtime has shut down)."""
        if self._closed:
            return
        self._closed = True
        await self._stop_daemon()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.evaluations is not None:
            await self.evaluations.close()
        if self.workers is not None:
            await self.workers.close()
        if self._owns_storage:
            await asyncio.to_thread(self.storage.close)
        log.info("codeserver.stopped", location=self.location.name)

    def __repr__(self) -> str:
        return (
            f"CodeServer({self.location.name!r}, grpc={self.runtime.grpc_port}, "
            f"server_id={self.location.server_id!r})"
        )


async def start(settings: CodeServerSettings, *, storage: Storage | None = None) -> CodeServer:
    """Load the module and start serving it; returns once ready.

    Args:
        settings: what to load and how to serve it.
        storage: an open store to use (default: connect to ``settings.storage_url``). Run
            workers always connect to ``settings.storage_url`` themselves.

    Raises:
        LoadError: the module could not be imported or defines no repository.
        StorageError: the store is unreachable.
    """
    code = load_code(settings.module_name, settings.attribute)
    owns_storage = storage is None
    store = storage if storage is not None else cast(Storage, settings.open())
    runtime = ServiceRuntime("codeserver", settings)
    metrics = CodeServerMetrics(runtime.metrics.registry)
    server: CodeServer | None = None
    try:
        location = await asyncio.to_thread(
            Location,
            store,
            name=settings.location_name or code.repository.name,
            identity=settings.location_identity,
            heartbeat_interval=settings.heartbeat_interval,
        )
        server = CodeServer(
            settings=settings,
            runtime=runtime,
            storage=store,
            owns_storage=owns_storage,
            location=location,
            code=code,
            metrics=metrics,
        )
        await _start_parts(server, settings, code)
    except BaseException:
        if server is not None:
            await server.stop()
        elif owns_storage:
            await asyncio.to_thread(store.close)
        raise
    return server


async def _start_parts(server: CodeServer, settings: CodeServerSettings, code: LoadedCode) -> None:
    store, location, runtime = server.storage, server.location, server.runtime
    env = worker_env(
        os.environ,
        storage_user=settings.storage_user,
        storage_password=settings.storage_password,
        storage_namespace=settings.storage_namespace,
        storage_database=settings.storage_database,
        heartbeat_interval=settings.heartbeat_interval,
        import_root=code.import_root,
    )
    command = WorkerCommand(
        module=settings.module_name,
        attribute=settings.attribute,
        storage_url=settings.storage_url,
        env=env,
    )
    workers = RunWorkers(
        store,
        location_id=location.identity,
        command=command,
        grace=settings.run_worker_grace,
        spares=settings.warm_workers,
        files=code.files,
        metrics=server.metrics,
    )
    server.workers = workers
    evaluations = EvaluationPool(
        EvaluatorCommand(
            module=settings.module_name,
            attribute=settings.attribute,
            storage_url=settings.storage_url,
            env=env,
        ),
        size=settings.evaluation_workers,
        metrics=server.metrics,
    )
    server.evaluations = evaluations
    servicer = CodeLocationServicer(
        served=Served.of(code),
        location=location,
        workers=workers,
        storage=store,
        evaluations=evaluations,
        evaluation_timeout=settings.evaluation_timeout,
        metrics=server.metrics,
    )
    server.servicer = servicer
    port = await runtime.start_grpc(
        lambda grpc_server: add_to_server(servicer, grpc_server), [SERVICE_NAME]
    )
    stale = await asyncio.to_thread(location.register, code, settings.endpoint(port))
    server.metrics.stale_runs_failed.inc(len(stale))
    if settings.http_port is not None:
        await runtime.start_http()
    workers.start()
    if _evaluates_in_workers(code):
        evaluations.start()  # else on the first request
    server._tasks.append(asyncio.create_task(server._heartbeat(), name="rivers-heartbeat"))
    if settings.reload:
        server._tasks.append(asyncio.create_task(server._watch_files(), name="rivers-reload"))
    server._tasks.append(
        asyncio.create_task(server._watch_reload_requests(), name="rivers-reload-requests")
    )
    runtime.on_drain(server._drain)
    await runtime.mark_ready()


def _evaluates_in_workers(code: LoadedCode) -> bool:
    """Whether the code has sensors or schedules that evaluation workers run."""
    repository = code.repository
    return bool(repository.schedules) or any(not s.is_async for s in repository.sensors.values())


async def serve(settings: CodeServerSettings) -> None:
    """Run ``rivers serve`` (with its daemon) until SIGTERM/SIGINT, then shut down gracefully.

    Raises:
        LoadError: the module could not be imported or defines no repository.
        StorageError: the store is unreachable.
    """
    configure_logging(settings.log_level, style=settings.log_format)
    server = await start(settings)
    try:
        if not settings.no_daemon:
            server.daemon = await start_daemon(
                settings,
                location_name=server.location.name,
                location_identity=server.location.identity,
                codeserver_address=settings.local_target(server.grpc_port),
            )
    except BaseException:
        await server.stop()
        raise
    location = server.location
    metrics = "" if server.http_port is None else f", metrics on :{server.http_port}/metrics"
    daemon = "" if server.daemon is not None else " (no daemon)"
    Console().line(
        f"rivers serve: {location.name} ({settings.module}) at {location.endpoint}{metrics}, "
        f"server {location.server_id}{daemon}; Ctrl-C to stop"
    )
    try:
        server._shutdown = asyncio.ensure_future(server.runtime.serve_forever())
        await server._shutdown
    finally:
        await server.close()
