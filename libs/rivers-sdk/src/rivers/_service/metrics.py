"""Prometheus metrics of a service, the gRPC interceptor counting every call, storage latency.

Storage round trips are timed process-wide (several services may share one process and one
store in ``rivers dev``): :func:`storage_registry` holds that histogram, and every service's
``/metrics`` serves it next to its own registry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["GrpcMetricsInterceptor", "ServiceMetrics", "storage_registry"]

# Embedded round trips take ~0.3 ms, remote ones ~1 ms; prunes and big batches seconds.
_STORAGE_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
_storage_lock = threading.Lock()
_storage: CollectorRegistry | None = None


def storage_registry() -> CollectorRegistry:
    """The process's registry of ``rivers_storage_query_seconds``, observing every query.

    Created (and installed as the storage query observer) on first call; services call it
    when they start, so code outside services (inline materialize) pays nothing.
    """
    global _storage
    with _storage_lock:
        if _storage is None:
            from rivers.storage._connection import set_query_observer

            registry = CollectorRegistry()
            seconds = Histogram(
                "rivers_storage_query_seconds",
                "Storage round trips as callers see them (retries included), by operation "
                "(read: SELECT/RETURN/INFO; write: anything else)",
                ["operation"],
                buckets=_STORAGE_BUCKETS,
                registry=registry,
            )
            read, write = seconds.labels("read"), seconds.labels("write")

            def observe(operation: str, elapsed: float) -> None:
                (read if operation == "read" else write).observe(elapsed)

            set_query_observer(observe)
            _storage = registry
        return _storage


class ServiceMetrics:
    """One registry per service (several services may share a process in ``rivers dev``)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.grpc_requests = Counter(
            "rivers_grpc_requests",
            "gRPC calls served, by method and status code",
            ["service", "method", "code"],
            registry=self.registry,
        )
        self.grpc_seconds = Histogram(
            "rivers_grpc_request_seconds",
            "Latency of gRPC calls served (streams: until the stream ends)",
            ["service", "method"],
            registry=self.registry,
        )
        self.storage_registry = storage_registry()

    def observe(self, method: str, code: str, seconds: float) -> None:
        """Count one finished call."""
        self.grpc_requests.labels(self.service, method, code).inc()
        self.grpc_seconds.labels(self.service, method).observe(seconds)


def _code_of(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    if isinstance(error, grpc.aio.AbortError) or error is None:
        code = context.code()
        if code is None:
            return "OK" if error is None else "UNKNOWN"
        return str(getattr(code, "name", code))
    return "UNKNOWN"


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # untyped base
    """Times and counts every call, unary and streaming alike."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        observe = self.metrics.observe
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                error: BaseException | None = None
                try:
                    return await inner(request, context)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    observe(method, _code_of(context, error), time.perf_counter() - started)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                started = time.perf_counter()
                error: BaseException | None = None
                try:
                    async for item in inner_stream(request, context):
                        yield item
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    observe(method, _code_of(context, error), time.perf_counter() - started)

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming calls are not used by rivers
