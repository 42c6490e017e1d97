"""The runtime every service runs in: servers, health, reflection, metrics, graceful stop.

Shutdown on SIGTERM (or SIGINT): first the service stops being *ready* — gRPC health reports
NOT_SERVING and ``/readyz`` fails, so load balancers drain it — and its drain callbacks let
in-flight work finish (up to ``shutdown_grace``); then the servers stop.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rivers import tracing
from rivers._service.metrics import GrpcMetricsInterceptor, ServiceMetrics
from rivers._service.settings import ServiceSettings
from rivers.telemetry import get_logger

__all__ = ["ServiceRuntime"]

log = get_logger("rivers.service")

DrainCallback = Callable[[], Awaitable[None]]


class ServiceRuntime:
    """Hosts one service's servers; ``await runtime.serve_forever()`` until a signal."""

    def __init__(self, name: str, settings: ServiceSettings) -> None:
        self.name = name
        # OTLP export when the OTEL_* variables ask for it (a no-op, importing nothing, else).
        tracing.setup(name)
        self.settings = settings
        self.metrics = ServiceMetrics(name)
        self.ready = False
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self._grpc: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._services: list[str] = []
        self._http: web.AppRunner | None = None
        self._drain: list[DrainCallback] = []
        self._stop = asyncio.Event()

    # --- servers ---------------------------------------------------------------------------

    async def start_grpc(
        self, add_servicers: Callable[[grpc.aio.Server], None], service_names: Sequence[str]
    ) -> int:
        """Start the gRPC server with the service's servicers, health and reflection."""
        # SO_REUSEPORT is on by default in grpc: a second service on the same port would
        # silently share it instead of failing to start.
        server = grpc.aio.server(
            interceptors=[
                GrpcMetricsInterceptor(self.metrics),
                *tracing.grpc_server_interceptors(),
            ],
            options=[("grpc.so_reuseport", 0)],
        )
        add_servicers(server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        self._services = list(service_names)
        reflection.enable_server_reflection(
            [*self._services, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        port = server.add_insecure_port(f"{self.settings.host}:{self.settings.grpc_port}")
        if port == 0:
            raise OSError(f"cannot bind {self.settings.host}:{self.settings.grpc_port}")
        await server.start()
        self._grpc = server
        self.grpc_port = int(port)
        return self.grpc_port

    async def start_http(self, app: web.Application | None = None, port: int | None = None) -> int:
        """Start the HTTP server (``app`` plus /metrics, /healthz, /readyz)."""
        app = app or web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        bind = port if port is not None else (self.settings.http_port or 0)
        site = web.TCPSite(runner, self.settings.host, bind)
        await site.start()
        self._http = runner
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.http_port = int(sockets[0].getsockname()[1]) if sockets else bind
        return self.http_port

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.metrics.registry)
            + generate_latest(self.metrics.storage_registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"service": self.name, "alive": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"service": self.name, "ready": self.ready}, status=200 if self.ready else 503
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def mark_ready(self) -> None:
        """Report SERVING on gRPC health and 200 on /readyz."""
        self.ready = True
        if self._health is not None:
            for name in ["", *self._services]:
                await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def on_drain(self, callback: DrainCallback) -> None:
        """Run ``callback`` when shutdown begins (finish in-flight work, stop loops)."""
        self._drain.append(callback)

    def request_stop(self) -> None:
        """Begin shutdown (what SIGTERM does)."""
        self._stop.set()

    async def serve_forever(self, *, install_signals: bool = True) -> None:
        """Wait for SIGTERM/SIGINT (or :meth:`request_stop`), then shut down gracefully."""
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
        try:
            await self._stop.wait()
        finally:
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            await self.shutdown()

    async def shutdown(self) -> None:
        """Two phases: stop being ready and drain (bounded by the grace), then stop servers."""
        grace = self.settings.shutdown_grace
        self.ready = False
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        log.info("service.draining", service=self.name, grace=grace)
        if self._drain:
            results = await asyncio.wait_for(
                asyncio.gather(*(cb() for cb in self._drain), return_exceptions=True),
                timeout=grace,
            )
            for result in results:
                if isinstance(result, BaseException):
                    log.warning("service.drain_failed", service=self.name, error=str(result))
        if self._grpc is not None:
            await self._grpc.stop(grace)
        if self._http is not None:
            await self._http.cleanup()
        tracing.flush()
        log.info("service.stopped", service=self.name)

    def __repr__(self) -> str:
        return f"ServiceRuntime({self.name!r}, grpc={self.grpc_port}, http={self.http_port})"


def describe(runtime: ServiceRuntime) -> dict[str, Any]:
    """Where the runtime listens (for ready lines and tests)."""
    return {"service": runtime.name, "grpc_port": runtime.grpc_port, "http_port": runtime.http_port}
