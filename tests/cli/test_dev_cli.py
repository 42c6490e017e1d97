"""``rivers dev``: the whole stack in one process, reloaded on edits, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rivers as rs
from rivers.client import RiversClient
from tests.ports import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

ONE_ASSET = """
import rivers as rs


@rs.Asset
def first() -> int:
    return 1


repo = rs.CodeRepository(name="devloc", assets=[first])
"""

TWO_ASSETS = ONE_ASSET.replace(
    'repo = rs.CodeRepository(name="devloc", assets=[first])',
    """@rs.Asset
def added(first: int) -> int:
    return first + 41


repo = rs.CodeRepository(name="devloc", assets=[first, added])""",
)


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError as exc:  # not listening yet
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last})")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dev_serves_reloads_runs_and_stops_cleanly(tmp_path: Path) -> None:
    """The stack comes up, its daemon runs a queued run, it reloads an edit, Ctrl-C stops all."""
    (tmp_path / "devloc_module.py").write_text(ONE_ASSET)
    http, grpc_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = ["dev", "devloc_module", "--port", str(http), "--grpc-port", str(grpc_port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rivers", *command],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def asset_keys() -> set[str]:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/assets", timeout=2) as r:
                return {entry["asset"]["key"] for entry in json.load(r)}

        assert _wait(asset_keys, 30, "the UI to list the assets") == {"first"}
        with RiversClient(f"127.0.0.1:{grpc_port}") as client:
            run = client.launch_run(["first"])
            assert client.wait_for_run(run.run_id, timeout=30).status is rs.RunStatus.SUCCESS

        time.sleep(0.05)  # a later mtime than the first write on coarse clocks
        (tmp_path / "devloc_module.py").write_text(TWO_ASSETS)
        _wait(lambda: asset_keys() == {"first", "added"}, 30, "the edited module to reload")
        with RiversClient(f"127.0.0.1:{grpc_port}") as client:
            run = client.launch_run(["added"])
            assert client.wait_for_run(run.run_id, timeout=30).status is rs.RunStatus.SUCCESS

        assert (tmp_path / ".rivers" / "storage").is_dir()  # the store lives under .rivers/
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    text = output.decode()
    assert proc.returncode == 0, text
    assert "ready in" in text and "rivers dev: stopped" in text, text
    assert "Traceback" not in text, text
    assert text.count("daemon.started") == 1, text  # exactly one daemon ran the queue
    # nothing of the stack (run workers, warm spares) outlives it
    _wait(lambda: not _group_alive(proc.pid), 10, "every process of the stack to exit")
