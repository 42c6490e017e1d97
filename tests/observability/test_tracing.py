"""rivers.tracing: not even imported without OTEL_* variables; real OTLP export with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.observability.otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on a loopback port."""
    server = OtlpReceiver()
    yield server
    server.close()


def _python(code: str, *, stderr: bool = False, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + (result.stderr if stderr else "")


def test_without_the_variables_nothing_of_the_sdk_is_imported() -> None:
    """A traced materialize with no OTEL_* variable loads no OpenTelemetry module at all."""
    out = _python(
        "import sys, json, rivers as rs, rivers.tracing as t\n"
        "from tests.fixtures.code_locations import basic\n"
        "assert t.setup('cli') is False\n"
        "with t.span('x') as s: assert s is None\n"
        "assert t.carrier() == {}\n"
        "assert basic.repo.materialize().success\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('opentelemetry'))))\n"
    )
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_spans_nest_and_reach_a_real_receiver_with_the_service_name(
    receiver: OtlpReceiver,
) -> None:
    """Spans are exported over OTLP/HTTP protobuf; parent/child and events survive the trip."""
    _python(
        "import rivers.tracing as t\n"
        "assert t.setup('cli')\n"
        "with t.span('outer', {'rivers.run_id': 'r1'}):\n"
        "    with t.span('inner', {'rivers.asset_key': 'a'}):\n"
        "        t.add_event('pool wait', {'pool': 'warehouse'})\n"
        "t.shutdown()\n",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
    )
    spans = receiver.wait_for(lambda s: len(s) >= 2)
    by_name = {s.name: s for s in spans}
    outer, inner = by_name["outer"], by_name["inner"]
    assert inner.parent_id == outer.span_id and inner.trace_id == outer.trace_id
    assert outer.service == "rivers-cli"
    assert outer.attributes == {"rivers.run_id": "r1"}
    assert inner.events == ("pool wait",)


def test_a_carrier_continues_the_trace_in_another_process(receiver: OtlpReceiver) -> None:
    """The traceparent handed to a child process makes its spans children of the parent's."""
    parent = _python(
        "import json, rivers.tracing as t\n"
        "t.setup('cli')\n"
        "with t.span('launch'):\n"
        "    print(json.dumps(t.carrier()))\n"
        "t.shutdown()\n",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="launcher",
    )
    headers = json.loads(parent.strip().splitlines()[-1])
    assert "traceparent" in headers
    _python(
        "import json, os, rivers.tracing as t\n"
        "t.setup('run-worker')\n"
        "with t.attached(json.loads(os.environ['CARRIER'])):\n"
        "    with t.span('execute'): pass\n"
        "t.shutdown()\n",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        CARRIER=json.dumps(headers),
    )
    spans = receiver.wait_for(lambda s: {x.name for x in s} >= {"launch", "execute"})
    by_name = {s.name: s for s in spans}
    assert by_name["execute"].parent_id == by_name["launch"].span_id
    assert by_name["execute"].trace_id == by_name["launch"].trace_id
    assert (by_name["launch"].service, by_name["execute"].service) == (
        "launcher",
        "rivers-run-worker",
    )


def test_the_switches_follow_the_standard_variables() -> None:
    """Endpoint variables switch it on; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none off."""
    from rivers.tracing import enabled

    url = "http://127.0.0.1:4318"
    assert not enabled({})
    assert enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": url})
    assert enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url + "/v1/traces"})
    assert not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_SDK_DISABLED": "true"})
    assert not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_TRACES_EXPORTER": "none"})


def test_a_run_has_a_span_per_step_and_pool_waits_as_events(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """Inline materialize: one run span, a child per step; a step that waited shows the wait."""
    _python(
        "import rivers.tracing as t\n"
        "from tests.fixtures.code_locations import pooled\n"
        "t.setup('cli')\n"
        "assert pooled.repo.materialize().success\n"
        "t.shutdown()\n",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        RIVERS_TEST_POOL_LOG=str(tmp_path / "pool.log"),
    )
    spans = receiver.wait_for(lambda s: sum(x.name.startswith("rivers.step") for x in s) >= 4)
    (run,) = [s for s in spans if s.name == "rivers.run"]
    steps = [s for s in spans if s.name.startswith("rivers.step")]
    assert sorted(s.attributes["rivers.step_key"] for s in steps) == [
        f"query_{i}" for i in range(4)
    ]
    assert all(s.parent_id == run.span_id and s.trace_id == run.trace_id for s in steps)
    assert {s.attributes["rivers.executor"] for s in steps} == {"worker"}
    # the pool holds 2 slots for 4 steps: at least two waited, and say so on their spans
    assert sum("pool wait" in s.events for s in steps) >= 2


def test_invalid_otel_settings_leave_tracing_off_with_a_clear_log_line(
    receiver: OtlpReceiver,
) -> None:
    """A bad OTEL_BSP_* value is logged as tracing.setup_failed; the materialize still runs."""
    out = _python(
        "import rivers as rs, rivers.tracing as t\n"
        "from rivers.telemetry import configure_logging\n"
        "from tests.fixtures.code_locations import basic\n"
        "configure_logging('INFO', style='json')\n"
        "print('on' if t.setup('cli') else 'off')\n"
        "assert basic.repo.materialize().success\n",
        stderr=True,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_MAX_QUEUE_SIZE="10",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="100",
    )
    assert "off" in out.splitlines()
    assert "tracing.setup_failed" in out and "max_export_batch_size" in out
    assert "Traceback" not in out
