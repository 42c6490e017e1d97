"""Starting and serving the planner: gRPC with health and reflection, metrics, graceful stop."""

from __future__ import annotations

import asyncio

import grpc

from rivers._proto.rivers.v1 import planner_pb2, planner_pb2_grpc
from rivers._service.runtime import ServiceRuntime
from rivers.errors import RiversError
from rivers.storage import Storage
from rivers.telemetry import configure_logging, get_logger
from rivers_planner.metrics import PlannerMetrics
from rivers_planner.planning import Planner
from rivers_planner.servicer import PlannerServicer
from rivers_planner.settings import PlannerSettings

__all__ = ["SERVICE_NAME", "PlannerService", "serve", "start"]

log = get_logger("rivers.planner")

#: The full gRPC service name, as health checks and reflection know it.
SERVICE_NAME: str = planner_pb2.DESCRIPTOR.services_by_name["Planner"].full_name


class PlannerService:
    """A started planner: where it listens, and how to stop it."""

    def __init__(
        self, runtime: ServiceRuntime, planner: Planner, *, owned_storage: Storage | None
    ) -> None:
        self.runtime = runtime
        self.planner = planner
        self._owned_storage = owned_storage
        self._stopped = False

    @property
    def grpc_port(self) -> int:
        """The gRPC port it listens on."""
        assert self.runtime.grpc_port is not None  # set by start()
        return self.runtime.grpc_port

    @property
    def http_port(self) -> int | None:
        """The HTTP port of /metrics, /healthz and /readyz, if HTTP was asked for."""
        return self.runtime.http_port

    async def serve_forever(self) -> None:
        """Serve until SIGTERM/SIGINT (or ``runtime.request_stop()``), then stop gracefully."""
        try:
            await self.runtime.serve_forever()  # shuts the runtime down when it returns
        finally:
            self._stopped = True
            await self._release_storage()

    async def stop(self) -> None:
        """Stop gracefully: NOT_SERVING first, in-flight calls finish, then close (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            await self.runtime.shutdown()
        finally:
            await self._release_storage()

    async def _release_storage(self) -> None:
        storage, self._owned_storage = self._owned_storage, None
        if storage is not None:
            await asyncio.to_thread(storage.close)

    def __repr__(self) -> str:
        return f"PlannerService(grpc={self.grpc_port}, http={self.http_port})"


async def start(settings: PlannerSettings, *, storage: Storage | None = None) -> PlannerService:
    """Start the planner and mark it ready.

    Args:
        settings: where to listen, the store, cache sizes.
        storage: a store to read snapshots from (the caller keeps owning it); default: connect
            to ``settings.storage_url`` (closed when the service stops).

    Raises:
        StorageError: the store cannot be reached.
        RiversError: a port cannot be bound.
    """
    owned = None
    if storage is None:
        opened = settings.open()
        assert isinstance(opened, Storage)
        storage = owned = opened
    runtime = ServiceRuntime("planner", settings)
    try:
        await asyncio.to_thread(storage.open)  # fail at start-up, not on the first call
        planner = Planner(
            storage,
            plan_cache_size=settings.plan_cache_size,
            snapshot_cache_size=settings.snapshot_cache_size,
            metrics=PlannerMetrics(runtime.metrics.registry),
        )

        def add_servicers(server: grpc.aio.Server) -> None:
            add = planner_pb2_grpc.add_PlannerServicer_to_server
            add(PlannerServicer(planner), server)  # type: ignore[no-untyped-call]  # generated, untyped

        try:
            await runtime.start_grpc(add_servicers, [SERVICE_NAME])
            if settings.http_port is not None:
                await runtime.start_http()
        except (OSError, RuntimeError) as exc:
            raise RiversError(f"the planner cannot start its servers: {exc}") from exc
        await runtime.mark_ready()
    except BaseException:
        if runtime.grpc_port is not None:  # the gRPC server runs: stop it
            await runtime.shutdown()
        if owned is not None:
            await asyncio.to_thread(owned.close)
        raise
    return PlannerService(runtime, planner, owned_storage=owned)


async def serve(settings: PlannerSettings) -> None:
    """``rivers planner``: start, log one ready line, serve until SIGTERM/SIGINT."""
    configure_logging(settings.log_level, style=settings.log_format)
    service = await start(settings)
    log.info(
        "planner.ready",
        grpc=f"{settings.host}:{service.grpc_port}",
        http=None if service.http_port is None else f"{settings.host}:{service.http_port}",
        storage=settings.storage_url,
    )
    await service.serve_forever()
