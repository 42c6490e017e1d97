"""Services export spans over OTLP, one trace from the public API to the run's steps.

The launch goes gateway (LaunchRun) → planner (PlanRun) → the queued run → the daemon's
launch → the code server (LaunchRun) → the run worker's run and step spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers.client import RiversClient
from tests.browser.support import Dev
from tests.observability.otlp_receiver import OtlpReceiver, Span

pytestmark = pytest.mark.slow

API_LAUNCH = "/rivers.v1.api.Api/LaunchRun"
PLAN = "/rivers.v1.planner.Planner/PlanRun"
EXPECTED = {API_LAUNCH, PLAN, "rivers.launch", "rivers.run", "rivers.step orders"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on a loopback port."""
    server = OtlpReceiver()
    yield server
    server.close()


def _ancestors(span: Span, spans: dict[str, Span]) -> list[str]:
    names = []
    while span.parent_id in spans:
        span = spans[span.parent_id]
        names.append(span.name)
    return names


def test_a_launch_is_one_trace_from_the_api_to_the_steps(
    receiver: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LaunchRun, PlanRun, the queued launch, the run and its steps share one trace."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # export batches quickly
    dev = Dev(tmp_path)
    dev.start()
    try:
        with RiversClient(dev.grpc) as client:
            run = client.launch_run(["orders", "customers"])
            client.wait_for_run(run.run_id, timeout=60)
        spans = receiver.wait_for(lambda found: {s.name for s in found} >= EXPECTED, timeout=30)
    finally:
        dev.stop()
    launch = next(s for s in spans if s.name == API_LAUNCH)
    trace = {s.span_id: s for s in spans if s.trace_id == launch.trace_id}
    by_name = {s.name: s for s in trace.values()}
    assert EXPECTED | {"rivers.step customers"} <= set(by_name), sorted(by_name)
    # the planner's server span descends from the gateway's LaunchRun server span
    assert API_LAUNCH in _ancestors(
        next(s for s in trace.values() if s.name == PLAN and s.parent_id != launch.span_id), trace
    )
    # the run worker's spans continue the same trace, under the daemon's launch
    run_span = by_name["rivers.run"]
    assert run_span.service == "rivers-run-worker"
    assert run_span.attributes["rivers.run_id"] == run.run_id
    assert "rivers.launch" in _ancestors(run_span, trace)
    for step in ("orders", "customers"):
        assert by_name[f"rivers.step {step}"].parent_id == run_span.span_id
    assert by_name["rivers.step orders"].attributes["rivers.step_key"] == "orders"
