"""A real OTLP/HTTP trace receiver for tests: decodes the protobuf payloads exporters send.

``OtlpReceiver()`` serves ``POST /v1/traces`` (``application/x-protobuf``
``ExportTraceServiceRequest``) on a loopback port in a thread; ``spans()`` returns every span
received so far, flattened with its service name, ids, parent, attributes and events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[str, ...] = ()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    return None if kind is None else getattr(value, kind)


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


class OtlpReceiver:
    """An OTLP/HTTP endpoint on 127.0.0.1 (``endpoint`` is the base URL)."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._payloads: list[bytes] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._received(body)  # decoded when read, as a collector answers at once
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _received(self, body: bytes) -> None:
        with self._lock:
            self._payloads.append(body)

    def _decode(self) -> None:
        with self._lock:
            payloads, self._payloads = self._payloads, []
        for body in payloads:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self._add(request)

    def _add(self, request: ExportTraceServiceRequest) -> None:
        found: list[Span] = []
        for resource_spans in request.resource_spans:
            service = str(_attributes(resource_spans.resource.attributes).get("service.name"))
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    found.append(
                        Span(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=_attributes(span.attributes),
                            events=tuple(e.name for e in span.events),
                        )
                    )
        with self._lock:
            self._spans.extend(found)

    def spans(self) -> list[Span]:
        self._decode()
        with self._lock:
            return list(self._spans)

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[Span]:
        """Wait until ``predicate(spans)`` holds; returns the spans."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = self.spans()
            if predicate(spans):
                return spans
            time.sleep(0.05)
        names = sorted({s.name for s in self.spans()})
        raise AssertionError(f"the receiver did not get the expected spans; got {names}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
