"""Starting and serving the gateway: gRPC API, HTTP front, event tail, run monitor.

Shutdown is two-phase (``ServiceRuntime``): first the gateway stops being ready and its watch
streams end cleanly with UNAVAILABLE (clients resume elsewhere from their last sequence
number), then the servers stop, letting unary calls in flight finish within the grace.
"""

from __future__ import annotations

import asyncio

import grpc

from rivers._proto.rivers.v1 import api_pb2_grpc
from rivers._service.runtime import ServiceRuntime
from rivers.errors import RiversError
from rivers.storage import Storage
from rivers.telemetry import configure_logging, get_logger
from rivers_ui.api import SERVICE_NAME, ApiServicer
from rivers_ui.catalog import Catalog
from rivers_ui.http import build_app
from rivers_ui.monitor import RunMonitor
from rivers_ui.planner import PlannerClient
from rivers_ui.pulse import Pulse
from rivers_ui.settings import GatewaySettings
from rivers_ui.state import GatewayState
from rivers_ui.tail import EventTail

__all__ = ["Gateway", "serve", "start"]

log = get_logger("rivers.ui")


class Gateway:
    """A started gateway: where it listens, and how to stop it."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        state: GatewayState,
        monitor: RunMonitor,
        *,
        owned: list[Storage],
    ) -> None:
        self.runtime = runtime
        self.state = state
        self.monitor = monitor
        self._owned = owned
        self._stopped = False

    @property
    def grpc_port(self) -> int:
        """The public gRPC API's port."""
        assert self.runtime.grpc_port is not None  # set by start()
        return self.runtime.grpc_port

    @property
    def http_port(self) -> int | None:
        """The HTTP port (UI, JSON API, /metrics, probes), if HTTP was asked for."""
        return self.runtime.http_port

    async def serve_forever(self) -> None:
        """Serve until SIGTERM/SIGINT (or ``runtime.request_stop()``), then stop gracefully."""
        try:
            await self.runtime.serve_forever()  # shuts the runtime down when it returns
        finally:
            self._stopped = True
            await self._release()

    async def stop(self) -> None:
        """Stop gracefully: not ready, watch streams ended, servers stopped (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            await self.runtime.shutdown()
        finally:
            await self._release()

    async def _release(self) -> None:
        await self.monitor.stop()
        await self.state.tail.close()
        await self.state.planner.close()
        owned, self._owned = self._owned, []
        for storage in owned:
            await asyncio.to_thread(storage.close)

    def __repr__(self) -> str:
        return f"Gateway(grpc={self.grpc_port}, http={self.http_port})"


def _connect(settings: GatewaySettings) -> Storage:
    opened = settings.open()
    assert isinstance(opened, Storage)
    return opened


async def start(settings: GatewaySettings, *, storage: Storage | None = None) -> Gateway:
    """Start the gateway and mark it ready.

    Args:
        settings: ports, the planner's address, the store, timeouts.
        storage: a store to use (the caller keeps owning it); default: connect to
            ``settings.storage_url`` (twice: the event tail polls on its own connection),
            closed when the gateway stops.

    Raises:
        StorageError: the store cannot be reached.
        RiversError: a port cannot be bound.
    """
    owned: list[Storage] = []
    if storage is None:
        storage = _connect(settings)
        owned.append(storage)
        tail_storage = _connect(settings)
        owned.append(tail_storage)
    else:
        tail_storage = storage
    runtime = ServiceRuntime("ui", settings)
    registry = runtime.metrics.registry
    planner: PlannerClient | None = None
    tail: EventTail | None = None
    try:
        for store in {id(s): s for s in (storage, tail_storage)}.values():
            await asyncio.to_thread(store.open)  # fail at start-up, not on the first call
        planner = PlannerClient(settings.planner_address, timeout=settings.planner_timeout)
        tail = EventTail(tail_storage, interval=settings.event_poll_interval, registry=registry)
        await tail.start()
        catalog = Catalog(storage, location_timeout=settings.location_timeout)
        state = GatewayState(settings, storage, catalog, planner, tail)
        monitor = RunMonitor(
            storage,
            older_than=settings.stale_run_timeout,
            interval=settings.monitor_interval,
            registry=registry,
        )

        pulse = Pulse(catalog, tail, interval=settings.pulse_interval)

        def add_servicers(server: grpc.aio.Server) -> None:
            api_pb2_grpc.add_ApiServicer_to_server(ApiServicer(state), server)  # type: ignore[no-untyped-call]  # generated, untyped

        try:
            await runtime.start_grpc(add_servicers, [SERVICE_NAME])
            if settings.http_port is not None:
                await runtime.start_http(build_app(state), port=settings.http_port)
        except (OSError, RuntimeError) as exc:
            raise RiversError(f"the gateway cannot listen on {settings.host}: {exc}") from exc
        runtime.on_drain(pulse.stop)
        runtime.on_drain(tail.close)
        runtime.on_drain(monitor.stop)
        monitor.start()
        pulse.start()
        await runtime.mark_ready()
    except BaseException:
        await runtime.shutdown()
        if tail is not None:
            await tail.close()
        if planner is not None:
            await planner.close()
        for store in owned:
            await asyncio.to_thread(store.close)
        raise
    return Gateway(runtime, state, monitor, owned=owned)


async def serve(settings: GatewaySettings) -> None:
    """``rivers ui``: start, log one ready line, serve until SIGTERM/SIGINT."""
    configure_logging(settings.log_level, style=settings.log_format)
    gateway = await start(settings)
    log.info(
        "ui.ready",
        grpc=f"{settings.host}:{gateway.grpc_port}",
        http=None if gateway.http_port is None else f"http://{settings.host}:{gateway.http_port}",
        planner=settings.planner_address,
        storage=settings.storage_url,
    )
    await gateway.serve_forever()
