"""``rivers planner``: its flags, its settings errors, and a real process stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import rivers as rs
from rivers._proto.rivers.v1 import planner_pb2 as pb
from rivers._proto.rivers.v1 import planner_pb2_grpc
from rivers.planning import ExecutionPlan, build_plan
from rivers.storage.host import HostThread, start_in_thread
from rivers_planner.settings import DEFAULT_GRPC_PORT, load_settings
from tests.fixtures.code_locations import basic

RIVERS = [sys.executable, "-m", "rivers"]
PASSWORD = "planner-secret"


def rivers(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RIVERS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_rivers_help_lists_the_planner_command() -> None:
    """`rivers --help` lists `planner`, registered through the rivers.commands entry point."""
    result = rivers("--help")
    assert result.returncode == 0, result.stderr
    assert "planner" in result.stdout


def test_planner_help_shows_its_flags() -> None:
    """`rivers planner --help` documents every flag and the environment variable behind it."""
    result = rivers("planner", "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--storage", "--host", "--grpc-port", "--http-port", "--log-format"):
        assert flag in result.stdout
    assert "RIVERS_STORAGE_URL" in result.stdout
    assert f"default {DEFAULT_GRPC_PORT}" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "problem"),
    [
        (["--grpc-port", "70000"], {}, "grpc_port: Input should be less than or equal to 65535"),
        ([], {"RIVERS_PLAN_CACHE_SIZE": "-1"}, "plan_cache_size: Input should be greater than"),
    ],
    ids=["flag", "env"],
)
def test_invalid_settings_are_one_clear_line(
    args: list[str], env: dict[str, str], problem: str
) -> None:
    """A bad flag or RIVERS_* value exits 2 with one line naming the setting, no traceback."""
    result = rivers("planner", *args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rivers: error: invalid planner settings: ")
    assert problem in lines[0]


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag wins over its RIVERS_* variable; an absent flag leaves the variable in force."""
    monkeypatch.setenv("RIVERS_GRPC_PORT", "7100")
    monkeypatch.setenv("RIVERS_STORAGE_URL", "ws://store:8000")
    settings = load_settings(grpc_port=7200, storage_url=None)
    assert (settings.grpc_port, settings.storage_url) == (7200, "ws://store:8000")
    assert load_settings().grpc_port == 7100


@pytest.fixture
def served_store(tmp_path: Path) -> Iterator[HostThread]:
    """A store served over ws:// from this process, holding the basic location's snapshot."""
    host = start_in_thread(tmp_path / "store", password=PASSWORD)
    try:
        with rs.Storage.connect(host.url, password=PASSWORD) as store:
            location = store.ensure_location("basic")
            store.store_snapshot(location.identity, basic.repo.snapshot)
        yield host
    finally:
        host.stop()


def test_planner_process_serves_then_exits_0_on_sigterm(served_store: HostThread) -> None:
    """`rivers planner` plans from a served store and stops gracefully (exit 0) on SIGTERM."""
    process = subprocess.Popen(
        [*RIVERS, "planner", "--storage", served_store.url, "--grpc-port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RIVERS_STORAGE_PASSWORD": PASSWORD, "RIVERS_LOG_FORMAT": "json"},
    )
    try:
        assert process.stderr is not None
        ready, before = None, []
        for line in process.stderr:
            if '"planner.ready"' in line:
                ready = json.loads(line)
                break
            before.append(line)
        assert ready is not None, f"exit status {process.wait(30)}: {''.join(before)}"
        with grpc.insecure_channel(ready["grpc"]) as channel:
            stub = planner_pb2_grpc.PlannerStub(channel)
            request = pb.PlanRunRequest(
                snapshot_id=basic.repo.snapshot.snapshot_id, selection=["+total"]
            )
            reply = stub.PlanRun(request, timeout=30)
        assert ExecutionPlan.from_proto(reply.plan) == build_plan(basic.repo.snapshot, "+total")
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 0, rest
        assert "service.stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
