"""The gateway as a service: the run monitor, the HTTP front, health, reflection, `rivers ui`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from rivers.execution.events import EventKind
from rivers.storage import RunStatus
from rivers.storage.host import start_in_thread
from tests.fixtures.code_locations import basic
from tests.gateway.harness import PASSWORD, ROOT, LoopThread, Stack, wait_until
from tests.ports import free_port

K = EventKind


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local test URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def _json(url: str) -> Any:
    status, body = _get(url)
    assert status == 200, body
    return json.loads(body)


def test_monitor_fails_a_run_whose_worker_stopped(loop: LoopThread, tmp_path: Path) -> None:
    """A running run without heartbeats is failed with a reason and a RUN_FAILURE event."""
    stack = Stack(loop, tmp_path, stale_run_timeout=0.3, monitor_interval=0.1)
    try:
        stack.start_planner()
        stack.start_gateway()
        location = stack.register(basic.repo)
        stale = stack.add_run(location, status=RunStatus.STARTED, heartbeat_at=time.time() - 5)
        alive = stack.add_run(location, status=RunStatus.STARTED, heartbeat_at=time.time() + 60)
        stack.emit(stale, K.RUN_STARTED)
        client = stack.client()
        failed = client.wait_for_run(stale.run_id, timeout=10)
        assert failed.status is RunStatus.FAILURE
        assert failed.failure_reason is not None and "heartbeat" in failed.failure_reason
        events = list(client.watch_run(stale.run_id))
        assert [e.kind for e in events] == [K.RUN_STARTED, K.RUN_FAILURE]
        assert "heartbeat" in events[-1].message
        assert client.get_run(alive.run_id).status is RunStatus.STARTED
    finally:
        stack.close()


def test_json_endpoints(stack: Stack) -> None:
    """The JSON endpoints serve the API's data."""
    location = stack.register(basic.repo)
    run = stack.add_run(location, status=RunStatus.SUCCESS, asset_keys=("numbers",))
    events = stack.emit(run, K.RUN_STARTED, K.LOG, K.RUN_SUCCESS)
    locations = _json(stack.http + "/api/locations")
    assert [(loc["name"], loc["status"]) for loc in locations] == [("basic", "available")]
    assets = _json(stack.http + "/api/assets?location=basic")
    assert {a["asset"]["key"] for a in assets} == {"numbers", "scaled", "total", "report"}
    listed = _json(stack.http + "/api/runs?status=SUCCESS&page_size=5")
    assert [r["run_id"] for r in listed["runs"]] == [run.run_id]
    assert listed["next_page_token"] == ""
    assert _json(stack.http + f"/api/runs/{run.run_id}")["status"] == "SUCCESS"
    after = events[0].seq
    page_of_events = _json(stack.http + f"/api/runs/{run.run_id}/events?after_seq={after}")
    assert [e["kind"] for e in page_of_events["events"]] == ["LOG", "RUN_SUCCESS"]
    assert page_of_events["last_seq"] == events[-1].seq


def test_http_errors_are_json(stack: Stack) -> None:
    """Unknown runs are 404, bad parameters 400, each with an error message and no traceback."""
    status, body = _get(stack.http + "/api/runs/nope")
    assert status == 404
    assert json.loads(body) == {"error": "no run 'nope'"}
    for query in ("/api/runs?status=BOGUS", "/api/runs?page_size=x", "/api/runs?tag=novalue"):
        status, body = _get(stack.http + query)
        assert status == 400, query
        assert "error" in json.loads(body)
        assert "Traceback" not in body


def test_metrics_health_and_reflection(stack: Stack) -> None:
    """/metrics counts API calls and watchers; gRPC health is SERVING; reflection lists the API."""
    stack.client().list_code_locations()
    status, metrics = _get(stack.http + "/metrics")
    assert status == 200
    assert 'method="ListCodeLocations"' in metrics
    assert "rivers_ui_run_watchers" in metrics
    assert _get(stack.http + "/readyz")[0] == 200
    with grpc.insecure_channel(stack.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="rivers.v1.api.Api"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (answer,) = list(reflection.ServerReflectionInfo(iter([request])))
        names = {s.name for s in answer.list_services_response.service}
        assert "rivers.v1.api.Api" in names


def _rivers(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rivers", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_rivers_ui_help_lists_its_flags() -> None:
    """`rivers ui --help` documents every flag and the environment variables behind them."""
    result = _rivers("ui", "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--storage", "--planner", "--host", "--grpc-port", "--http-port", "--log-format"):
        assert flag in result.stdout
    text = " ".join(result.stdout.split())  # argparse wraps lines
    assert "RIVERS_PLANNER_ADDRESS" in text
    assert "default 7000" in text and "default 3000" in text


def test_rivers_ui_invalid_settings_are_one_line() -> None:
    """A bad flag value exits 2 with one line naming the setting."""
    result = _rivers("ui", "--http-port", "70000")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("rivers: error: invalid gateway settings: http_port")
    assert len(result.stderr.strip().splitlines()) == 1


def test_rivers_ui_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """A real `rivers ui` becomes ready, serves, and exits 0 on SIGTERM."""
    grpc_port, http_port = free_port(), free_port()
    with start_in_thread(tmp_path / "store", password=PASSWORD) as host:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rivers",
                "ui",
                "--storage",
                host.url,
                "--planner",
                "127.0.0.1:1",
                "--grpc-port",
                str(grpc_port),
                "--http-port",
                str(http_port),
            ],
            cwd=ROOT,
            env={**os.environ, "RIVERS_STORAGE_PASSWORD": PASSWORD},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{http_port}/readyz"

            def ready() -> bool:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    return _get(url)[0] == 200
                except OSError:
                    return False

            wait_until(ready, timeout=30, what="rivers ui to become ready")
            assert _json(f"http://127.0.0.1:{http_port}/api/locations") == []
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    assert "ui.ready" in stderr
    assert "Traceback" not in stderr
