"""``rivers storage serve`` as a real process: serves, stops cleanly on signals, fails clearly."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rivers.cli import storage as storage_cli
from rivers.storage import Storage
from tests.ports import free_port

# The `rivers` entry point may not list `storage` yet; this is the same command on its own.
SERVE = [sys.executable, "-m", "rivers.cli.storage", "serve"]


def start(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SERVE, "--path", str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_then_stop_on_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    """The command serves the store to Storage.connect and exits 0 on SIGTERM or Ctrl-C."""
    port, password = free_port(), "from-env"
    server = start(tmp_path, "--port", str(port), env={"RIVERS_STORAGE_PASSWORD": password})
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        assert f"ws://127.0.0.1:{port}" in ready, server.stderr and server.stderr.read()
        with Storage.connect(f"ws://127.0.0.1:{port}", password=password) as store:
            store.kv_set("k", "served")
        server.send_signal(stop_signal)
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
        server.wait()
    assert server.returncode == 0, err
    assert "stopped" in out
    with Storage.embedded(tmp_path) as store:  # unlocked, data intact
        assert store.kv_get("k") == "served"


def test_second_owner_exits_2_with_one_line(tmp_path: Path) -> None:
    """Serving a store another process serves exits 2 with a one-line error."""
    first = start(tmp_path, "--port", "0")
    try:
        assert first.stdout is not None
        assert "serving" in first.stdout.readline()
        second = start(tmp_path, "--port", "0")
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith("rivers: error:")
        assert "another process owns this store" in err
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert first.returncode == 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rivers")
    storage_cli.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_bad_settings_exit_2_without_serving(capsys: pytest.CaptureFixture[str]) -> None:
    """An out-of-range port is reported in one line with exit 2, nothing opened."""
    args = parse(["storage", "serve", "--port", "70000", "--path", "/nonexistent/never"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("rivers: error: invalid storage settings: port")
    assert not Path("/nonexistent/never").exists()


def test_storage_without_subcommand_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """`rivers storage` alone prints its usage and exits 2."""
    args = parse(["storage"])
    assert args.func(args) == 2
    assert "usage: rivers storage" in capsys.readouterr().err


def test_serve_flags_default_to_settings() -> None:
    """Unset flags stay None, so RIVERS_STORAGE_* and the defaults apply."""
    args = parse(["storage", "serve"])
    assert (args.path, args.host, args.port, args.user, args.password) == (None,) * 5
    assert args.func is storage_cli.serve
