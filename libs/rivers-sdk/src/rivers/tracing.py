"""OpenTelemetry tracing over OTLP, switched on by the standard ``OTEL_*`` variables.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, each
rivers process that calls :func:`setup` exports its spans over OTLP — ``http/protobuf`` by
default, ``grpc`` when ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or ``..._TRACES_PROTOCOL``) says so;
the exporter reads the other standard variables itself (headers, timeout, certificates).
``OTEL_SERVICE_NAME`` names the service (default ``rivers-<component>``);
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off.

Without the variable nothing is exported and **nothing of the OpenTelemetry SDK is
imported**: :func:`span` is a shared no-op context manager, :func:`carrier` returns ``{}``.

Trace context crosses processes as W3C ``traceparent``: gRPC calls carry it through the
instrumentation's interceptors (:func:`grpc_server_interceptors`,
:func:`grpc_client_interceptors`), run workers through their environment
(:data:`TRACEPARENT_ENV`, :func:`carrier` / :func:`attached`), so one trace shows
launch → plan → execute.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = [
    "TRACEPARENT_ENV",
    "TRACE_TAG",
    "Leaf",
    "active",
    "add_event",
    "attached",
    "carrier",
    "child_span",
    "enabled",
    "flush",
    "from_environment",
    "grpc_client_interceptors",
    "grpc_server_interceptors",
    "setup",
    "shutdown",
    "span",
]

#: The environment variable a run worker finds its parent's trace context in.
TRACEPARENT_ENV = "TRACEPARENT"
#: The run tag keeping the trace context of the call that queued the run, so the daemon's
#: launch (later, in another process) continues the same trace.
TRACE_TAG = "rivers/traceparent"

_lock = threading.Lock()
_provider: Any = None
_processor: Any = None  # the provider's exporting processor (leaf spans go straight to it)
_scope: Any = None
_tracer: Any = None


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for OTLP trace export."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _protocol() -> str:
    raw = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    return raw.strip().lower()


def setup(component: str) -> bool:
    """Install the OTLP tracer provider for this process (once); returns whether tracing is on.

    Invalid ``OTEL_*`` settings (say a batch size above the queue size) are logged and leave
    tracing off: observability never keeps a service or a run from starting.

    Args:
        component: ``planner``, ``codeserver``, ``daemon``, ``ui``, ``run-worker``, ``cli``...
            (the default service name is ``rivers-<component>``).
    """
    if not enabled():
        return False
    with _lock:
        if _provider is not None:
            return True
        try:
            _install(component)
        except Exception as exc:
            from rivers.telemetry import get_logger

            get_logger("rivers.tracing").error(
                "tracing.setup_failed", error=f"{type(exc).__name__}: {exc}"
            )
            return False
    return True


def _install(component: str) -> None:
    global _provider, _processor, _scope, _tracer
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    if _protocol() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        exporter: Any = GrpcExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        exporter = HttpExporter()
    name = os.environ.get("OTEL_SERVICE_NAME") or f"rivers-{component}"
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    _processor = processor
    _scope = InstrumentationScope("rivers")
    _tracer = trace.get_tracer("rivers")


def active() -> bool:
    """Whether :func:`setup` installed a tracer in this process (spans are recorded)."""
    return _tracer is not None


def shutdown() -> None:
    """Flush and stop the exporter (a no-op when tracing is off)."""
    global _provider, _processor, _tracer
    with _lock:
        provider, _provider, _processor, _tracer = _provider, None, None, None
    if provider is not None:
        provider.shutdown()


def flush(timeout_ms: int = 5000) -> None:
    """Export what is buffered now (a run worker does before it exits)."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span attributes without the ``None`` values (OpenTelemetry rejects them)."""
    return {k: v for k, v in (attributes or {}).items() if v is not None}


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span around the block (current for the block), or nothing when tracing is off.

    Exceptions raised in the block are recorded on the span and re-raised.
    """
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=_attributes(attributes)) as current:
        yield current


class Leaf:
    """A leaf span being recorded (see :func:`child_span`): its start, attributes and events."""

    __slots__ = ("attributes", "error", "events", "name", "parent", "start")

    def __init__(self, name: str, attributes: dict[str, Any], parent: Any) -> None:
        self.name = name
        self.attributes = attributes
        self.parent = parent  # the current context when the leaf started
        self.start = time.time_ns()
        self.events: list[tuple[str, dict[str, Any], int]] = []
        self.error: BaseException | None = None


@contextlib.contextmanager
def child_span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Leaf | None]:
    """A leaf span under the current one, recorded cheaply (e.g. one per executor step).

    Nothing inside may start spans of its own (it is never made current); events go to the
    yielded leaf through :func:`add_event`'s ``span=``. The leaf is handed to the exporter as a
    finished span when the block ends — sampled by the configured sampler like any child —
    which skips most of the SDK's per-span bookkeeping (locks, bounded containers), the
    bulk of tracing's cost on runs of many short steps.
    """
    if _tracer is None:
        yield None
        return
    from opentelemetry import context

    leaf = Leaf(name, _attributes(attributes), None)
    leaf.parent = context.get_current()
    try:
        yield leaf
    except BaseException as exc:
        leaf.error = exc
        raise
    finally:
        _finish(leaf)


def _finish(leaf: Leaf) -> None:
    provider, processor = _provider, _processor
    if provider is None or processor is None:
        return
    from opentelemetry import trace
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.status import Status, StatusCode

    parent = trace.get_current_span(leaf.parent).get_span_context()
    ids = provider.id_generator
    trace_id = parent.trace_id if parent.is_valid else ids.generate_trace_id()
    sampled = provider.sampler.should_sample(
        leaf.parent, trace_id, leaf.name, SpanKind.INTERNAL, leaf.attributes
    )
    if not sampled.decision.is_sampled():
        return
    events = [Event(name, attrs, stamp) for name, attrs, stamp in leaf.events]
    status = Status(StatusCode.UNSET)
    if leaf.error is not None:
        kind = type(leaf.error).__qualname__
        events.append(
            Event(
                "exception",
                {"exception.type": kind, "exception.message": str(leaf.error)},
                time.time_ns(),
            )
        )
        status = Status(StatusCode.ERROR, f"{kind}: {leaf.error}")
    context = SpanContext(
        trace_id,
        ids.generate_span_id(),
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=sampled.trace_state,
    )
    processor.on_end(
        ReadableSpan(
            leaf.name,
            context=context,
            parent=parent if parent.is_valid else None,
            resource=provider.resource,
            attributes=leaf.attributes,
            events=events,
            status=status,
            start_time=leaf.start,
            end_time=time.time_ns(),
            instrumentation_scope=_scope,
        )
    )


def add_event(
    name: str, attributes: Mapping[str, Any] | None = None, *, span: Span | Leaf | None = None
) -> None:
    """Add an event (a pool wait, a retry) to ``span`` or the current span, if tracing is on."""
    if _tracer is None:
        return
    attrs = _attributes(attributes)
    if isinstance(span, Leaf):
        span.events.append((name, attrs, time.time_ns()))
        return
    if span is None:
        from opentelemetry import trace

        span = trace.get_current_span()
    span.add_event(name, attributes=attrs)


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (``{}`` when tracing is off)."""
    if _tracer is None:
        return {}
    from opentelemetry.propagate import inject

    headers: dict[str, str] = {}
    inject(headers)
    return headers


@contextlib.contextmanager
def attached(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Make the trace context in ``headers`` (``traceparent``) current for the block."""
    if _tracer is None or not headers:
        yield
        return
    from opentelemetry import context
    from opentelemetry.propagate import extract

    token = context.attach(extract(dict(headers)))
    try:
        yield
    finally:
        context.detach(token)


def from_environment() -> dict[str, str]:
    """The carrier a parent process left in :data:`TRACEPARENT_ENV` (``{}`` if none)."""
    value = os.environ.get(TRACEPARENT_ENV)
    return {"traceparent": value} if value else {}


def grpc_server_interceptors() -> list[Any]:
    """Interceptors for a ``grpc.aio`` server (``[]`` when tracing is off)."""
    if _tracer is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]  # type: ignore[no-untyped-call]  # untyped library


def grpc_client_interceptors() -> list[Any]:
    """Interceptors for a ``grpc.aio`` channel (``[]`` when tracing is off)."""
    if _tracer is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())  # type: ignore[no-untyped-call]  # untyped library
