"""``rivers daemon`` and its settings: flags over RIVERS_* variables, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rivers.cli.main import main
from rivers_daemon.settings import DaemonSettings, load_settings
from tests.codeserver.support import PASSWORD, Store
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RIVERS_"):
            monkeypatch.delenv(name)


def test_missing_location_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a location (flag or env), the command exits 2 with a single error line."""
    assert main(["daemon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no code location given" in err


def test_bad_value_exits_2_naming_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid value names the setting in the one error line."""
    assert main(["daemon", "--location", "x", "--tick-interval", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tick_interval" in err


def test_settings_read_rivers_env_but_not_the_code_servers_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fields read RIVERS_*; ports RIVERS_DAEMON_*, never the code server's RIVERS_GRPC_PORT."""
    monkeypatch.setenv("RIVERS_LOCATION", "sales")
    monkeypatch.setenv("RIVERS_TICK_INTERVAL", "2.5")
    monkeypatch.setenv("RIVERS_GRPC_PORT", "7002")
    monkeypatch.setenv("RIVERS_DAEMON_HTTP_PORT", "9102")
    settings = DaemonSettings()
    assert (settings.location, settings.tick_interval) == ("sales", 2.5)
    assert (settings.grpc_port, settings.http_port) == (0, 9102)
    assert load_settings(location_name="named", tick_interval=None).location == "named"


@pytest.mark.slow
def test_daemon_command_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`rivers daemon` becomes ready (/readyz 200) and exits 0 on SIGTERM."""
    store = Store(tmp_path / "store")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RIVERS_STORAGE_PASSWORD": PASSWORD}
    command = ["daemon", "--location", "solo", "--storage", store.url]
    command += ["--codeserver", "127.0.0.1:9", "--http-port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rivers", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline and ready is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    ready = json.load(r)
            except OSError:
                time.sleep(0.1)
        assert ready == {"service": "daemon", "ready": True}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            assert b"rivers_daemon_ticks" in r.read()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        store.close()
    assert proc.returncode == 0, output.decode()
    assert b"Traceback" not in output, output.decode()
