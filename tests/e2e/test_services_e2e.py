"""The service suite as separate OS processes: storage, planner, code server, gateway.

A run and a backfill launched through the public API (RiversClient) are watched to success;
the code server is then killed with SIGKILL in the middle of a long run: the run is failed with
a clear reason, and restarting the code server alone makes the location available again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import rivers as rs
from rivers.client import RiversClient
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last})")


class Stack:
    """The four services as subprocesses of the test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = {name: free_port() for name in ("storage", "planner", "code", "api", "http")}
        self.env = {
            **os.environ,
            "RIVERS_STORAGE_USER": "root",
            "RIVERS_STORAGE_PASSWORD": "e2e-secret",
            "RIVERS_STALE_RUN_TIMEOUT": "3",
            "RIVERS_RUN_HEARTBEAT": "0.5",
            "RIVERS_TEST_SLOW_SECONDS": "60",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def storage_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports['storage']}"

    def start(self, name: str, *args: str) -> None:
        with (self.tmp / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "rivers", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_code_server(self) -> None:
        self.start(
            "code",
            "serve",
            "-m",
            "tests.fixtures.code_locations.e2e",
            "--storage",
            self.storage_url,
            "--grpc-port",
            str(self.ports["code"]),
        )

    def start_all(self) -> None:
        self.start(
            "storage",
            "storage",
            "serve",
            "--path",
            str(self.tmp / "store"),
            "--port",
            str(self.ports["storage"]),
            "--password",
            "e2e-secret",
        )
        _wait(lambda: self._connects(), 30, "storage")
        self.start(
            "planner",
            "planner",
            "--storage",
            self.storage_url,
            "--grpc-port",
            str(self.ports["planner"]),
        )
        self.start_code_server()
        self.start(
            "ui",
            "ui",
            "--storage",
            self.storage_url,
            "--planner",
            f"127.0.0.1:{self.ports['planner']}",
            "--grpc-port",
            str(self.ports["api"]),
            "--http-port",
            str(self.ports["http"]),
        )

    def _connects(self) -> bool:
        with rs.Storage.connect(self.storage_url, password="e2e-secret") as storage:
            return storage.schema_version() > 0

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )

    def stop(self) -> None:
        for name in ("ui", "code", "planner", "storage"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The four services started as separate processes, stopped (and logged) at the end."""
    stack = Stack(tmp_path)
    stack.start_all()
    try:
        yield stack
    except BaseException:
        sys.stderr.write(stack.logs())
        raise
    finally:
        stack.stop()


def _location_available(client: RiversClient) -> bool:
    return any(loc.status == "available" for loc in client.list_code_locations())


def test_runs_backfills_and_a_code_server_crash(stack: Stack) -> None:
    """Launch and watch a run and a backfill; SIGKILL the code server mid-run; restart it."""
    with RiversClient(f"127.0.0.1:{stack.ports['api']}") as client:
        _wait(lambda: _location_available(client), 60, "the code location")
        run = client.launch_run(["seed", "answer"])
        kinds = [event.kind for event in client.watch_run(run.run_id)]
        assert kinds[0] is rs.EventKind.RUN_STARTED, stack.logs()
        assert kinds[-1] is rs.EventKind.RUN_SUCCESS, stack.logs()
        assert client.get_run(run.run_id).status is rs.RunStatus.SUCCESS

        backfill = client.launch_backfill(["letters"], ["a", "b", "c"])
        done = client.wait_for_backfill(backfill.backfill_id, timeout=120)
        assert (done.requested, done.succeeded, done.failed) == (3, 3, 0), stack.logs()

        long_run = client.launch_run(["slow"])
        for event in client.watch_run(long_run.run_id):
            if event.kind is rs.EventKind.STEP_STARTED:
                break
        code = stack.procs["code"]
        os.killpg(code.pid, signal.SIGKILL)
        code.wait()
        failed = client.wait_for_run(long_run.run_id, timeout=60)
        assert failed.status is rs.RunStatus.FAILURE
        assert failed.failure_reason is not None
        assert "heartbeat" in failed.failure_reason
        # Nothing else was lost: the earlier run and backfill are intact.
        assert client.get_run(run.run_id).status is rs.RunStatus.SUCCESS
        assert client.get_backfill(backfill.backfill_id).succeeded == 3

        stack.start_code_server()
        _wait(lambda: _location_available(client), 60, "the restarted code location")
        again = client.launch_run(["seed"])
        assert client.wait_for_run(again.run_id, timeout=60).status is rs.RunStatus.SUCCESS
