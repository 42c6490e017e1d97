"""``rivers serve`` as a real process: start-up errors, graceful SIGTERM, shutdown of runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

import rivers as rs
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc
from rivers.execution.run import prepare_run
from tests.codeserver.support import BASIC, PASSWORD, SLOW, Running, Store, wait_finished, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _serve_command(*args: str) -> list[str]:
    # The very command `rivers serve` runs (the same register()), without the rest of rivers.
    return [sys.executable, "-m", "rivers_codeserver", "serve", *args]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "RIVERS_STORAGE_PASSWORD": PASSWORD, **extra}


def _launch(endpoint: str, run_id: str) -> None:
    with grpc.insecure_channel(endpoint) as channel:
        stub = pb_grpc.CodeLocationStub(channel)
        reply = stub.LaunchRun(pb.LaunchRunRequest(run_id=run_id), timeout=30)
    assert reply.launched, reply.message


def test_import_error_exits_2_with_one_line(tmp_path: Path) -> None:
    """A module that fails to import: exit 2 and one error line naming the module and cause."""
    proc = subprocess.run(
        _serve_command("-m", "tests.fixtures.code_locations.import_error"),
        cwd=ROOT,
        env=_env(RIVERS_STORAGE_URL="ws://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "tests.fixtures.code_locations.import_error" in lines[0]
    assert "RuntimeError: config service unreachable at import time" in lines[0]
    assert "import_error.py" in lines[0]


def test_missing_module_and_bad_identity_exit_2() -> None:
    """No module, or an identity that is not a UUID, is a settings error (exit 2)."""
    missing = subprocess.run(
        _serve_command(), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
    assert "-m MODULE" in missing.stderr
    bad = subprocess.run(
        _serve_command("-m", BASIC, "--identity", "not-a-uuid"),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "not a UUID" in bad.stderr


@pytest.mark.slow
def test_sigterm_lets_a_running_run_finish_and_exits_0(store: Store, tmp_path: Path) -> None:
    """SIGTERM: the server stops claiming, the in-flight run finishes, and the exit is 0."""
    proc = subprocess.Popen(
        _serve_command("-m", SLOW, "--storage", store.url, "--grpc-port", "0", "--no-daemon"),
        cwd=ROOT,
        env=_env(RIVERS_TEST_SLOW_SECONDS="1.5", RIVERS_SHUTDOWN_GRACE="20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        repo = store.repo(SLOW)
        endpoint = wait_for(
            lambda: (loc := store.storage.get_location(repo.location_id())) and loc.endpoint,
            60,
            "the location to register",
        )
        run_id = prepare_run(repo, selection=["nap"], status=rs.RunStatus.QUEUED).record.run_id
        _launch(endpoint, run_id)  # as the daemon would
        wait_for(
            lambda: any(
                e.kind is rs.EventKind.STEP_STARTED for e in store.storage.get_run_events(run_id)
            ),
            30,
            "the step to start",
        )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "rivers serve: slow" in out and "(no daemon)" in out
    record = store.storage.get_run(run_id)
    assert record is not None and record.status is rs.RunStatus.SUCCESS


@pytest.mark.slow
def test_shutdown_cancels_runs_that_outlast_the_grace(
    serve: Callable[..., Running], store: Store
) -> None:
    """Runs still going when the shutdown grace runs out are canceled, not left running."""
    running = serve(SLOW, shutdown_grace=3.0, run_worker_grace=1.0)
    repo = store.repo(SLOW)
    run_id = prepare_run(repo, selection=["nap"], status=rs.RunStatus.QUEUED).record.run_id
    running.launch(run_id)
    wait_for(
        lambda: any(
            e.kind is rs.EventKind.STEP_STARTED for e in store.storage.get_run_events(run_id)
        ),
        30,
        "the step to start",
    )
    started = time.monotonic()
    running.stop()
    assert time.monotonic() - started < 5
    record = wait_finished(store.storage, run_id, timeout=5)
    assert record.status is rs.RunStatus.CANCELED
