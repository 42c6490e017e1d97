"""Services export gRPC spans over OTLP, one trace from the public API to the planner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers.client import RiversClient
from tests.browser.support import Dev
from tests.observability.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on a loopback port."""
    server = OtlpReceiver()
    yield server
    server.close()


def test_a_launch_is_one_trace_through_gateway_and_planner(
    receiver: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LaunchRun's server span and the planner's PlanRun spans share one trace, parent-linked."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # export batches quickly
    dev = Dev(tmp_path)
    dev.start()
    try:
        with RiversClient(dev.grpc) as client:
            client.launch_run(["orders"])
        spans = receiver.wait_for(
            lambda found: (
                {s.name for s in found}
                >= {"/rivers.v1.api.Api/LaunchRun", "/rivers.v1.planner.Planner/PlanRun"}
            ),
            timeout=30,
        )
    finally:
        dev.stop()
    launch = next(s for s in spans if s.name == "/rivers.v1.api.Api/LaunchRun")
    plans = [s for s in spans if s.name == "/rivers.v1.planner.Planner/PlanRun"]
    assert all(p.trace_id == launch.trace_id for p in plans)
    ids = {s.span_id: s for s in spans if s.trace_id == launch.trace_id}
    # the planner's server span descends from the gateway's LaunchRun server span
    server_plan = next(p for p in plans if p.parent_id in ids and p.parent_id != launch.span_id)
    chain = server_plan
    while chain.parent_id in ids and chain.span_id != launch.span_id:
        chain = ids[chain.parent_id]
    assert chain.span_id == launch.span_id
