"""Prometheus metrics of a service, and the gRPC interceptor counting every call."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["GrpcMetricsInterceptor", "ServiceMetrics"]


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
